// Classification as SpamAssassin 4.0's Plugin/Bayes.pm scan() and
// Bayes/CombineChi.pm do it: a probability per known token (Robinson's f(w) for low
// counts), the up to 150 most significant tokens outside the gray band, combined by
// Fisher's chi-square method.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "spam/bayes/bayes.h"

namespace ringmail::spam {
namespace {

// Bayes/CombineChi.pm.
// Robinson's x: "the number used when n [hits] is 0".
constexpr double fw_x_constant = 0.538;
// Robinson's s: the strength of that assumed expectation; low s trusts the data more.
constexpr double fw_s_constant = 0.030;
constexpr double fw_s_dot_x = fw_x_constant * fw_s_constant;
// Tokens within [0.5 - MPS, 0.5 + MPS] are gray and ignored.
constexpr double min_prob_strength = 0.346;
// Plugin/Bayes.pm: only the most significant tokens count.
constexpr size_t n_significant_tokens = 150;

// _compute_prob_for_all_tokens: spamprob = (s/ns) / (s/ns + n/nn), pulled towards x for
// tokens seen in few messages (USE_ROBINSON_FX_EQUATION_FOR_LOW_FREQS).
double token_probability(double s, double n, double ns, double nn) {
  double prob = (s * nn) / (n * ns + s * nn);
  double robn = s + n;
  return (fw_s_dot_x + robn * prob) / (fw_s_constant + robn);
}

// CombineChi.pm chi2q: the probability that a chi-square value x2 with 2*halfv degrees of
// freedom would be at least that large.
double chi2q(double x2, size_t halfv) {
  double m = x2 / 2.0;
  double term = std::exp(-m);
  double sum = term;
  for (size_t i = 1; i < halfv; ++i) {
    term *= m / static_cast<double>(i);
    sum += term;
  }
  return sum < 1.0 ? sum : 1.0;
}

// CombineChi.pm combine(). SA multiplies the probabilities and renormalises with frexp
// to avoid underflow; summing logarithms computes the same value.
double combine(double ns, double nn, const std::vector<double>& probs) {
  double total = ns + nn;
  double log_s = std::log(ns / total);
  double log_h = std::log(nn / total);
  for (double p : probs) {
    log_s += std::log(1.0 - p);
    log_h += std::log(p);
  }
  double s = 1.0 - chi2q(-2.0 * log_s, probs.size());
  double h = 1.0 - chi2q(-2.0 * log_h, probs.size());
  return ((s - h) + 1.0) / 2.0;
}

}  // namespace

std::optional<double> bayes_model::classify(const std::vector<uint64_t>& message_tokens) const {
  if (!ready()) return std::nullopt;
  const double ns = spam_messages;
  const double nn = ham_messages;

  // (strength, probability) of the known tokens outside the gray band. Filtering before
  // taking the top 150 keeps the same set SA keeps (it sorts, cuts, then filters).
  std::vector<std::pair<double, double>> significant;
  significant.reserve(message_tokens.size());
  for (uint64_t token : message_tokens) {
    auto it = tokens.find(token);
    if (it == tokens.end()) continue;
    const token_counts& c = it->second;
    if (c.spam == 0 && c.ham == 0) continue;
    double p = token_probability(c.spam, c.ham, ns, nn);
    double strength = std::abs(p - 0.5);
    if (strength < min_prob_strength) continue;
    significant.emplace_back(strength, p);
  }
  if (significant.empty()) return std::nullopt;
  if (significant.size() > n_significant_tokens) {
    std::nth_element(significant.begin(), significant.begin() + n_significant_tokens, significant.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    significant.resize(n_significant_tokens);
  }
  std::vector<double> probs;
  probs.reserve(significant.size());
  for (const auto& [strength, p] : significant) probs.push_back(p);
  // Floating-point sums depend a little on their order: sort, so the same set of tokens
  // always gives the same score whatever order the caller listed them in.
  std::sort(probs.begin(), probs.end());
  double score = combine(ns, nn, probs);
  return std::clamp(score, 0.0, 1.0);
}

}  // namespace ringmail::spam

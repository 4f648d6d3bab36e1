#include "spam/dmarc/public_suffix.h"

#include <idn2.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::spam::dmarc {
namespace {

struct idn2_deleter {
  void operator()(char* p) const { idn2_free(p); }
};

// The A-label form of a UTF-8 rule name, or "" when libidn2 refuses it.
std::string to_a_labels(const std::string& utf8) {
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(utf8.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<char, idn2_deleter> owned(out);
  if (rc != IDN2_OK || out == nullptr) return {};
  return absl::AsciiStrToLower(out);
}

bool has_8bit(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// The last `n` labels of `name` (n >= 1; n larger than the label count gives the name).
std::string_view last_labels(std::string_view name, size_t n) {
  if (n == 0) return {};
  size_t pos = name.size();
  for (size_t i = 0; i < n; ++i) {
    size_t dot = name.rfind('.', pos == 0 ? 0 : pos - 1);
    if (dot == std::string_view::npos || pos == 0) return name;
    pos = dot;
  }
  return name.substr(pos + 1);
}

size_t label_count(std::string_view name) {
  if (name.empty()) return 0;
  size_t n = 1;
  for (char c : name) n += c == '.';
  return n;
}

}  // namespace

std::string normalize_domain(std::string_view domain) {
  while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  return absl::AsciiStrToLower(std::string(domain));
}

absl::StatusOr<std::shared_ptr<const public_suffix_list>> public_suffix_list::load(std::string_view path,
                                                                                  const load_options& options) {
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in) {
    return absl::NotFoundError(absl::StrCat("public suffix list ", std::string(path),
                                            " cannot be read (Debian package: publicsuffix)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("reading ", std::string(path), " failed"));
  auto list = from_text(text.str(), options);
  if (list->rule_count() == 0) return absl::InvalidArgumentError(absl::StrCat(std::string(path), " holds no rules"));
  return list;
}

std::shared_ptr<const public_suffix_list> public_suffix_list::from_text(std::string_view text,
                                                                        const load_options& options) {
  auto list = std::make_shared<public_suffix_list>();
  bool in_private = false;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.find("===BEGIN PRIVATE DOMAINS===") != std::string_view::npos) in_private = true;
    if (line.find("===END PRIVATE DOMAINS===") != std::string_view::npos) in_private = false;
    // The format: one rule per line, up to the first whitespace; "//" starts a comment.
    size_t ws = line.find_first_of(" \t\r");
    std::string_view rule = line.substr(0, ws);
    if (rule.empty() || rule.substr(0, 2) == "//") continue;
    if (in_private && !options.include_private) continue;
    list->add_rule(rule);
  }
  return list;
}

void public_suffix_list::add_rule(std::string_view rule) {
  uint8_t k = static_cast<uint8_t>(kind::normal);
  if (rule.substr(0, 1) == "!") {
    k = static_cast<uint8_t>(kind::exception);
    rule.remove_prefix(1);
  } else if (rule.substr(0, 2) == "*.") {
    k = static_cast<uint8_t>(kind::wildcard);
    rule.remove_prefix(2);
  }
  std::string name = normalize_domain(rule);
  if (name.empty() || name.find('*') != std::string::npos) return;  // only a leading "*." is defined
  // An exception names a registrable domain under a wildcard ("!www.ck"): one label alone
  // would make a TLD no suffix at all.
  if (k == static_cast<uint8_t>(kind::exception) && name.find('.') == std::string::npos) return;
  if (has_8bit(name)) {
    std::string ace = to_a_labels(name);
    if (!ace.empty()) rules_[ace] |= k;
  }
  rules_[name] |= k;
}

size_t public_suffix_list::suffix_labels(std::string_view name) const {
  size_t labels = label_count(name);
  size_t best = 1;  // the implicit "*" rule
  for (size_t n = 1; n <= labels; ++n) {
    std::string candidate(last_labels(name, n));
    auto it = rules_.find(candidate);
    uint8_t k = it == rules_.end() ? 0 : it->second;
    // An exception rule wins over everything: its parent is the suffix.
    if (k & static_cast<uint8_t>(kind::exception)) return n - 1;
    if (k & static_cast<uint8_t>(kind::normal)) best = n;
    // "*.ck" is stored as "ck": it matches a name of one more label.
    if (n < labels && (k & static_cast<uint8_t>(kind::wildcard))) {
      // An exception one label below still beats the wildcard (checked on the next round).
      std::string below(last_labels(name, n + 1));
      auto ex = rules_.find(below);
      if (ex != rules_.end() && (ex->second & static_cast<uint8_t>(kind::exception))) return n;
      best = std::max(best, n + 1);
    }
  }
  return best;
}

std::string public_suffix_list::public_suffix(std::string_view domain) const {
  std::string name = normalize_domain(domain);
  return std::string(last_labels(name, suffix_labels(name)));
}

std::string public_suffix_list::organizational_domain(std::string_view domain) const {
  std::string name = normalize_domain(domain);
  size_t labels = label_count(name);
  size_t suffix = suffix_labels(name);
  if (suffix + 1 > labels) return name;
  return std::string(last_labels(name, suffix + 1));
}

std::string organizational_domain(const public_suffix_list* list, std::string_view domain) {
  return list == nullptr ? normalize_domain(domain) : list->organizational_domain(domain);
}

}  // namespace ringmail::spam::dmarc

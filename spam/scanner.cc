#include "spam/scanner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "mail/message.h"
#include "mail/message_text.h"
#include "spam/auth/message_auth.h"
#include "spam/evals/evals.h"
#include "spam/evals/received.h"
#include "spam/rules/loader.h"
#include "spam/scan_cache.h"

namespace ringmail::spam {

// check_bayes (ours, it needs the classifier) and every function of the eval registry.
const std::vector<std::string>& supported_eval_functions() {
  static const std::vector<std::string> functions = [] {
    std::vector<std::string> f = {"check_bayes"};
    for (const std::string& name : eval_function_names()) f.push_back(name);
    return f;
  }();
  return functions;
}

// The plugins whose non-eval rules (regexes, metas, mimeheader) we run. Their eval rules
// load only for the functions above; the rest are counted as unsupported. Plugins that
// need the network or other engines (URIDNSBL, DNSEval, Razor2, Pyzor,
// HashBL, ...) are not claimed, so their blocks are skipped and counted. SPF, DKIM and
// DMARC are claimed: the SMTP session does those checks and passes their results in.
const std::vector<std::string>& supported_plugins() {
  static const std::vector<std::string> plugins = {
      "Mail::SpamAssassin::Plugin::ReplaceTags", "Mail::SpamAssassin::Plugin::Bayes",
      "Mail::SpamAssassin::Plugin::Check",       "Mail::SpamAssassin::Plugin::MIMEHeader",
      "Mail::SpamAssassin::Plugin::BodyEval",    "Mail::SpamAssassin::Plugin::HeaderEval",
      "Mail::SpamAssassin::Plugin::MIMEEval",    "Mail::SpamAssassin::Plugin::HTMLEval",
      "Mail::SpamAssassin::Plugin::URIEval",     "Mail::SpamAssassin::Plugin::RelayEval",
      "Mail::SpamAssassin::Plugin::WLBLEval",    "Mail::SpamAssassin::Plugin::URIDetail",
      "Mail::SpamAssassin::Plugin::FreeMail",
      // Their evals read the session's results (message_auth; spam/evals/auth.cc).
      "Mail::SpamAssassin::Plugin::SPF",         "Mail::SpamAssassin::Plugin::DKIM",
      "Mail::SpamAssassin::Plugin::DMARC",
  };
  return plugins;
}

namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Adds the time since the last lap to one stage of the profile (when there is one).
class stage_clock {
 public:
  explicit stage_clock(scan_profile* profile) : profile_(profile), last_(profile ? now_ns() : 0) {}
  void lap(uint64_t scan_profile::*stage) {
    if (!profile_) return;
    const uint64_t now = now_ns();
    profile_->*stage += now - last_;
    last_ = now;
  }

 private:
  scan_profile* profile_;
  uint64_t last_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// SpamAssassin's Bayes plugin, check_bayes($min, $max): hits when min < P <= max, with
// min 0 meaning "from 0 inclusive" (BAYES_00 is 0 .. 0.01).
bool bayes_in_range(double p, const std::vector<std::string>& args) {
  double lo = 0, hi = 1;
  if (args.size() != 2 || !absl::SimpleAtod(args[0], &lo) || !absl::SimpleAtod(args[1], &hi)) return false;
  return (lo == 0 ? p >= 0 : p > lo) && p <= hi;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const spam_engine>> spam_engine::build(const engine_options& options) {
  std::shared_ptr<spam_engine> e(new spam_engine());
  auto start = std::chrono::steady_clock::now();

  // Bayes first: whether it is usable selects the score set, as in SpamAssassin.
  absl::StatusOr<std::unique_ptr<bayes_store>> store = std::unique_ptr<bayes_store>();
  if (options.open_bayes) {
    store = options.open_bayes();
  } else if (!options.bayes_path.empty() && std::filesystem::exists(options.bayes_path)) {
    store = bayes_store::open(options.bayes_path);
  }
  // A store that cannot be opened or read (database down, damaged file) costs the BAYES_xx
  // rules, not the scanner: the rules run without it and the reason is in the stats.
  if (!store.ok()) {
    e->stats_.bayes_error = std::string(store.status().message());
  } else if (*store) {
    auto model = (*store)->load("");
    if (model.ok()) {
      e->bayes_ = std::move(*model);
    } else {
      e->stats_.bayes_error = std::string(model.status().message());
    }
  }
  const bool bayes_ready = e->bayes_ && e->bayes_->ready();
  e->stats_.bayes_ready = bayes_ready;
  if (e->bayes_) {
    e->stats_.bayes_spam = e->bayes_->spam_messages;
    e->stats_.bayes_ham = e->bayes_->ham_messages;
  }

  load_options lo;
  lo.score_set = (bayes_ready ? 2 : 0) + (options.network_tests ? 1 : 0);
  lo.plugins = supported_plugins();
  lo.eval_functions = supported_eval_functions();
  auto rules = load_rules(options.rule_paths, lo);
  if (!rules.ok()) return rules.status();
  e->rules_ = std::move(*rules);
  e->stats_.rules = e->rules_.stats;
  e->stats_.load_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  compiled_rules::compile_options compile_options;
  compile_options.cache_dir = options.compiled_rules_cache;
  auto matcher = compiled_rules::compile(e->rules_, compile_options);
  if (!matcher.ok()) return matcher.status();
  e->matcher_ = std::move(*matcher);
  e->stats_.matcher = e->matcher_->stats();
  e->metas_ = std::make_shared<meta_program>(e->rules_);
  e->stats_.compile_seconds = seconds_since(start);
  e->stats_.metas_dropped = e->metas_->dropped();
  for (uint32_t i = 0; i < e->rules_.rules.size(); ++i) {
    const rule& r = e->rules_.rules[i];
    if (r.kind == rule_kind::meta) ++e->stats_.meta_rules;
    if (r.kind == rule_kind::eval && runs_in_score_set(r)) {
      e->eval_rules_.push_back(i);
      e->eval_functions_.push_back(r.eval_function == "check_bayes" ? nullptr : find_eval(r.eval_function));
      e->reads_auth_ = e->reads_auth_ || evals::reads_message_auth(e->eval_functions_.back());
    }
  }
  e->eval_settings_ = std::make_shared<const eval_settings>(eval_settings::from(e->rules_));
  e->stats_.eval_rules = e->eval_rules_.size();
  return std::shared_ptr<const spam_engine>(std::move(e));
}

std::shared_ptr<const spam_engine> spam_engine::with_bayes(std::shared_ptr<const bayes_model> model) const {
  std::shared_ptr<spam_engine> e(new spam_engine(*this));
  e->bayes_ = std::move(model);
  e->stats_.bayes_ready = e->bayes_ && e->bayes_->ready();
  return e;
}

scan_context::scan_context(std::shared_ptr<const spam_engine> engine)
    : engine_(std::move(engine)), scratch_(engine_->matcher()) {}

scan_context::~scan_context() = default;

void scan_context::set_profile(scan_profile* profile) {
  profile_ = profile;
  scratch_.set_profile(profile ? &profile->match : nullptr);
}

scan_result scan_context::scan(std::string_view message,
                               const std::vector<std::pair<std::string, double>>& extra_hits, scan_state* keep,
                               const message_auth* auth) {
  const spam_engine& e = *engine_;
  const std::vector<rule>& rules = e.rules_.rules;
  scan_result result;
  result.required = e.required_score();
  stage_clock clock(profile_);
  if (profile_) ++profile_->messages;

  message = mail::skip_mbox_separator(message);  // offline scans of mbox-derived files
  const bool own_bayes = e.bayes_ && e.bayes_->ready();
  scan_cache* cache = cache_ != nullptr && cache_->enabled() ? cache_ : nullptr;
  scan_cache::digest message_key{};
  if (cache != nullptr) {
    cache->bind(e.matcher_);
    message_key = cache->message_key(message);
    if (e.reads_auth_ && auth != nullptr && auth->checked) {
      // The same bytes with other SPF/DKIM/DMARC results hit other auth rules: the
      // entry's key is the message's key and the results the evals read.
      std::string keyed(message_key.begin(), message_key.end());
      keyed += evals::auth_fingerprint(*auth);
      message_key = cache->message_key(keyed);
    }
    if (const scan_cache::message_entry* seen = cache->find_message(message_key, own_bayes || keep != nullptr)) {
      // The same bytes as a message scanned before: only what depends on this scan's
      // engine (its Bayes model, hence the check_bayes rules and the metas) is redone.
      result.truncated = seen->truncated;
      if (own_bayes) result.bayes = e.bayes_->classify(seen->tokens);
      hits_.assign(rules.size(), 0);
      for (auto [i, n] : seen->hits) hits_[i] = n;
      if (keep != nullptr) {
        keep->engine = engine_;
        keep->hits = hits_;
        keep->tokens = seen->tokens;
        keep->extra_hits = extra_hits;
        keep->truncated = result.truncated;
      }
      score_hits(e, hits_, extra_hits, result);
      clock.lap(&scan_profile::metas_ns);
      return result;
    }
  }

  mail::message parsed = mail::parse_message(message, charsets_);
  mail::message_text text = mail::render_text(parsed, charsets_);
  result.truncated = text.truncated;
  clock.lap(&scan_profile::parse_ns);

  // Bayes reads the message's own headers (as it learned them), before the relay
  // metadata is added. The tokens are kept for rescoring and for the cache.
  std::vector<uint64_t> tokens;
  const bool want_tokens = own_bayes || keep != nullptr;
  if (want_tokens) {
    tokens = bayes_tokens(text);
    if (own_bayes) result.bayes = e.bayes_->classify(tokens);
  }
  clock.lap(&scan_profile::bayes_ns);

  relay_info relays = parse_relays(text);
  add_relay_headers(relays, text);
  clock.lap(&scan_profile::relays_ns);

  match_rules(text, cache);
  clock.lap(&scan_profile::match_ns);

  eval_cache cache_of_evals;
  const eval_input input{parsed, text, relays, e.rules_, *e.eval_settings_, cache_of_evals, auth};
  for (size_t k = 0; k < e.eval_rules_.size(); ++k) {
    if (eval_function f = e.eval_functions_[k]) {
      const uint32_t i = e.eval_rules_[k];
      hits_[i] = f(input, rules[i].eval_args) ? 1 : 0;
    }
  }
  clock.lap(&scan_profile::evals_ns);
  if (keep != nullptr) {
    keep->engine = engine_;
    keep->hits = hits_;
    keep->tokens = tokens;  // copied: the cache entry takes them too
    keep->extra_hits = extra_hits;
    keep->truncated = result.truncated;
  }
  if (cache != nullptr) {
    scan_cache::message_entry entry;
    for (uint32_t i = 0; i < hits_.size(); ++i) {
      if (hits_[i] != 0) entry.hits.emplace_back(i, hits_[i]);
    }
    entry.tokens = std::move(tokens);
    entry.has_tokens = want_tokens;
    entry.truncated = result.truncated;
    cache->put_message(message_key, std::move(entry));
  }
  score_hits(e, hits_, extra_hits, result);
  clock.lap(&scan_profile::metas_ns);
  return result;
}

scan_result scan_context::rescore_with_bayes(const scan_state& state, const bayes_model* model) {
  const spam_engine& e = state.engine ? *state.engine : *engine_;
  scan_result result;
  result.required = e.required_score();
  result.truncated = state.truncated;
  if (model != nullptr && model->ready()) result.bayes = model->classify(state.tokens);
  hits_ = state.hits;  // the metas write into it; the state stays reusable
  score_hits(e, hits_, state.extra_hits, result);
  return result;
}

void scan_context::score_hits(const spam_engine& e, std::vector<uint32_t>& hits,
                              const std::vector<std::pair<std::string, double>>& extra_hits, scan_result& result) {
  const std::vector<rule>& rules = e.rules_.rules;
  for (size_t k = 0; k < e.eval_rules_.size(); ++k) {
    const uint32_t i = e.eval_rules_[k];
    if (e.eval_functions_[k] == nullptr && rules[i].eval_function == "check_bayes") {
      hits[i] = result.bayes && bayes_in_range(*result.bayes, rules[i].eval_args) ? 1 : 0;
    }
  }
  e.metas().evaluate(hits);

  // SpamAssassin adds each hit rule's score once; sub-rules (__NAME) only feed metas.
  double score = 0;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    if (hits[i] == 0 || rules[i].is_subrule() || rules[i].score == 0) continue;
    score += rules[i].score;
    result.tests.push_back(rules[i].name);
  }
  for (const auto& [name, s] : extra_hits) {
    score += s;
    result.tests.push_back(name);
  }
  std::sort(result.tests.begin(), result.tests.end());
  // SpamAssassin rounds the total to 3 decimals before comparing with required_score.
  result.score = std::round(score * 1000.0) / 1000.0;
}

void scan_context::set_cache(scan_cache* cache) {
  cache_ = cache;
  if (cache_ != nullptr && body_rules_.empty()) body_rules_ = body_target_rules(engine_->rules_);
}

// The regex rules' hits into hits_; with a cache, the body, rawbody and uri rules' hits
// come from it when these targets were seen before, and go into it when not.
//
// The body target's first line (the Subject) is left out of the cache key and matched on
// its own: every body rule's match lies within one line, so the body's counts are the
// first line's plus the rest's, capped at the rule's maxhits. A copy of a campaign with a
// personalised or numbered Subject then reuses the body's hits too.
void scan_context::match_rules(mail::message_text& text, scan_cache* cache) {
  const compiled_rules& matcher = engine_->matcher();
  const size_t rule_count = engine_->rules_.rules.size();
  const size_t first_end = text.body.find('\n');
  if (cache == nullptr || first_end == std::string::npos || first_end + 1 == text.body.size()) {
    // No cache, or a body of one line: nothing to share (and a body "Subject\n" must
    // not be matched as an empty second line).
    matcher.match(text, scratch_, hits_);
    hits_.resize(rule_count, 0);
    return;
  }
  std::string body = std::move(text.body);
  const std::string_view rest(body.data() + first_end + 1, body.size() - first_end - 1);
  const scan_cache::digest key = cache->body_key(rest, text);
  const sparse_hits* seen = cache->find_body(key);
  sparse_hits body_hits;
  const bool miss = seen == nullptr;
  if (!miss) {
    // Only the header, mimeheader and full targets and the first line are scanned: the
    // other body targets are emptied meanwhile (constant-time swaps) and their rules
    // take the cached hits.
    std::string raw_body;
    std::vector<std::string> uris;
    std::swap(text.raw_body, raw_body);
    std::swap(text.uris, uris);
    text.body.assign(body, 0, first_end);
    matcher.match(text, scratch_, hits_);
    std::swap(text.raw_body, raw_body);
    std::swap(text.uris, uris);
    hits_.resize(rule_count, 0);
    for (uint32_t r : body_rules_) {
      if (engine_->rules_.rules[r].target != rule_target::body) hits_[r] = 0;
    }
  } else {
    cache->note_miss();
    text.body.assign(rest);
    matcher.match(text, scratch_, hits_);  // everything, the body without its first line
    hits_.resize(rule_count, 0);
    for (uint32_t r : body_rules_) {
      if (hits_[r] != 0) body_hits.emplace_back(r, hits_[r]);
    }
    text.body.assign(body, 0, first_end);
    matcher.match_body_only(text, scratch_, first_line_hits_);
    for (uint32_t r : body_rules_) {
      if (engine_->rules_.rules[r].target == rule_target::body) hits_[r] = first_line_hits_[r];
      else hits_[r] = 0;
    }
    seen = &body_hits;
  }
  text.body = std::move(body);
  // hits_ holds the first line's counts of the body rules (0 for rawbody and uri rules).
  for (auto [r, n] : *seen) {
    const uint64_t sum = static_cast<uint64_t>(hits_[r]) + n;
    hits_[r] = static_cast<uint32_t>(std::min<uint64_t>(sum, matcher.max_hits(r)));
  }
  if (miss) cache->put_body(key, std::move(body_hits));
}

void scan_context::add_relay_headers(const relay_info& relays, mail::message_text& text) {
  // SA deletes X-Spam-Relays-* headers a message brings and puts its own metadata in
  // their place (Received.pm parse_received_headers).
  static constexpr std::string_view prefix = "X-Spam-Relays-";
  std::erase_if(text.headers, [](const mail::text_header& h) {
    return h.name.size() >= prefix.size() && mail::equals_ignore_case(h.name.substr(0, prefix.size()), prefix);
  });
  relay_values_[0] = relays.trusted_str;
  relay_values_[1] = relays.untrusted_str;
  relay_values_[2] = relays.internal_str;
  relay_values_[3] = relays.external_str;
  static constexpr std::string_view names[4] = {"X-Spam-Relays-Trusted", "X-Spam-Relays-Untrusted",
                                                "X-Spam-Relays-Internal", "X-Spam-Relays-External"};
  for (size_t i = 0; i < 4; ++i) text.headers.push_back({names[i], relay_values_[i], relay_values_[i]});
  text.synthesized_headers = 4;
}

}  // namespace ringmail::spam

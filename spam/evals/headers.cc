// HeaderEval.pm and FreeMail.pm eval functions.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "spam/evals/regex.h"
#include "spam/evals/evals.h"

namespace ringmail::spam {
namespace {

// $pms->get(NAME): the decoded values, each followed by "\n" ("" when absent).
std::string get(const eval_input& in, std::string_view name) { return in.text.header_values(name); }

std::string first_addr(const eval_input& in, std::string_view name) {
  auto a = evals::header_addresses(in.text, name);
  return a.empty() ? std::string() : a[0];
}

std::string lower(std::string s) {
  for (char& c : s) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return s;
}

// ---- dates ---------------------------------------------------------------------------

// _get_date_header_time: the first parseable Resent-Date, else Date.
std::optional<long long> date_header_time(const eval_input& in) {
  for (const char* name : {"Resent-Date", "Date"}) {
    for (const mail::text_header& h : in.text.headers) {
      if (!mail::equals_ignore_case(h.name, name) || h.decoded.empty()) continue;
      if (auto t = evals::parse_rfc822_date(h.decoded)) return t;
    }
  }
  return std::nullopt;
}

// _get_received_header_times (without the fetchmail special case's own time, which only
// _check_date_received uses).
std::vector<long long> received_header_times(const eval_input& in) {
  static const fixed_regex local_first(R"(\bfrom (?:localhost\s|(?:\S+ ){1,2}\S*\b127\.0\.0\.1\b))");
  static const fixed_regex qmail_uid(R"(qmail \d+ invoked by uid \d+)");
  static const fixed_regex fetchmail(R"(\bby localhost with \w+ \(fetchmail-[\d.]+)");
  static const fixed_regex date_re(R"((\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+))");
  std::vector<std::string_view> received;
  for (const mail::text_header& h : in.text.headers) {
    if (!mail::equals_ignore_case(h.name, "Received")) continue;
    std::string_view v = h.decoded;
    if (v.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
    received.push_back(v);
  }
  std::vector<long long> times;
  if (received.empty()) return times;
  size_t start = 0;
  if (local_first.match(received[0]) || qmail_uid.match(received[0])) {
    // a local first hop is skipped only when a fetchmail hop follows it
    if (received.size() > 1 && fetchmail.match(received[1])) start = 2;
  } else if (fetchmail.match(received[0])) {
    start = 1;
  }
  fixed_regex::groups g;
  for (size_t i = start; i < received.size(); ++i) {
    if (!date_re.match(received[i], g)) continue;
    if (auto t = evals::parse_rfc822_date(g.g[1])) times.push_back(*t);
  }
  return times;
}

long long date_diff(const eval_input& in) {
  if (in.cache.date_diff) return *in.cache.date_diff;
  long long diff = 0;
  if (auto date = date_header_time(in)) {
    std::vector<long long> times = received_header_times(in);
    if (!times.empty()) {
      std::vector<long long> diffs;
      for (long long t : times) diffs.push_back(*date - t);
      if (diffs.size() > 1 && diffs.back() == 0) diffs.pop_back();
      std::stable_sort(diffs.begin(), diffs.end(), [](long long a, long long b) { return std::llabs(a) < std::llabs(b); });
      diff = diffs[0];
    }
  }
  in.cache.date_diff = diff;
  return diff;
}

bool check_for_shifted_date(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2) return false;
  long long diff = date_diff(in);
  double v = 0;
  bool lo_ok = args[0] == "undef" || (absl::SimpleAtod(args[0], &v) && diff >= 3600 * v);
  bool hi_ok = args[1] == "undef" || (absl::SimpleAtod(args[1], &v) && diff < 3600 * v);
  return lo_ok && hi_ok;
}

// ---- Message-ID ------------------------------------------------------------------------

bool check_outlook_message_id(const eval_input& in, const std::vector<std::string>&) {
  static const fixed_regex outlook(R"(^<[0-9a-f]{4}([0-9a-f]{8})\$[0-9a-f]{8}\$[0-9a-f]{8}\@)");
  static const fixed_regex rcvd_date(R"((\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+).*?$)");
  // MESSAGEID: X-Message-Id, Resent-Message-Id, X-Original-Message-ID, Message-Id.
  std::string id;
  for (const char* name : {"X-Message-Id", "Resent-Message-Id", "X-Original-Message-ID", "Message-Id"}) {
    std::string v = get(in, name);
    if (!v.empty() && v != "\n") id += v;
  }
  fixed_regex::groups g;
  if (!outlook.match(id, g)) return false;
  long long timetoken = std::strtoll(g.str(1).c_str(), nullptr, 16);
  const double x = 0.0023283064365387, y = 27111902.8329849;
  const long long fudge = 250;
  long long date = evals::parse_rfc822_date(get(in, "Date")).value_or(0);
  long long expected = static_cast<long long>(date * x + y);
  if (std::llabs(timetoken - expected) < fudge) return false;
  std::string rcvd = get(in, "Received");
  long long rtime = 0;
  if (rcvd_date.match(rcvd, g)) rtime = evals::parse_rfc822_date(g.g[1]).value_or(0);
  // (When the regex fails, Perl parses the whole Received text; it has no date of the
  // required shape then, so it gives 0 too.)
  expected = static_cast<long long>(rtime * x + y);
  return std::llabs(timetoken - expected) >= fudge;
}

// ---- From / envelope ----------------------------------------------------------------------

std::string tail_domain(std::string_view addr) {
  // $d = $1 if /\@([^@]*)\z/; $d =~ s/^.+\.([^\.]+\.[^\.]+)$/$1/;
  size_t at = addr.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string d(addr.substr(at + 1));
  size_t last = d.rfind('.');
  if (last != std::string::npos && last > 0) {
    size_t prev = d.rfind('.', last - 1);
    if (prev != std::string::npos && prev > 0 && last > prev + 1 && last + 1 < d.size()) d = d.substr(prev + 1);
  }
  return d;
}

bool check_equal_from_domains(const eval_input& in, const std::vector<std::string>&) {
  std::string from = first_addr(in, "From");
  std::string fromdomain = tail_domain(from);
  if (fromdomain.empty()) return false;
  std::string envfromdomain = tail_domain(evals::envelope_from(in.text, in.relays));
  if (envfromdomain.empty()) return false;
  return lower(fromdomain) != lower(envfromdomain);
}

bool check_for_missing_to_header(const eval_input& in, const std::vector<std::string>&) {
  std::string to = get(in, "To");
  if (to.empty()) to = get(in, "Apparently-To");
  return to.empty();
}

bool subject_is_all_caps(const eval_input& in, const std::vector<std::string>&) {
  static const fixed_regex prefix(R"(^(?:(?:Re|Fwd|Fw|Aw|Antwort|WG|SV|VB|VS|VL):\s*)+)", PCRE2_CASELESS);
  // Constants.pm CHARSETS_LIKELY_TO_FP_AS_CAPS inside =?...?
  static const fixed_regex likely_fp(
      R"(=\?[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|georgianps|pt154|tis)[-_a-z0-9]*\?)",
      PCRE2_CASELESS);
  std::string subject = get(in, "Subject");
  size_t b = subject.find_first_not_of(" \t\r\n\f\v");
  size_t e = subject.find_last_not_of(" \t\r\n\f\v");
  std::string s = b == std::string::npos ? std::string() : subject.substr(b, e - b + 1);
  substitute_first(prefix, s);
  if (s.find_first_of(" \t\n\r\f\v") == std::string::npos) return false;
  if (s.size() < 10) return false;
  std::string letters;
  for (char c : s) {
    if (absl::ascii_isalpha(static_cast<unsigned char>(c))) letters.push_back(c);
  }
  for (const mail::text_header& h : in.text.headers) {
    if (mail::equals_ignore_case(h.name, "Subject") && likely_fp.match(h.raw)) return false;
  }
  if (letters.empty()) return false;
  return std::none_of(letters.begin(), letters.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// $pms->get('NAME:addr') in list context, addresses as written (not lower-cased).
std::vector<std::string> addresses_as_written(const eval_input& in, std::string_view name) {
  std::vector<std::string> out;
  for (const mail::text_header& h : in.text.headers) {
    if (!mail::equals_ignore_case(h.name, name)) continue;
    for (std::string& a : evals::addresses_in(h.decoded, false)) out.push_back(std::move(a));
  }
  return out;
}

// _check_recipients' list: ToCc:addr then Bcc:addr, consecutive duplicates dropped.
std::vector<std::string> recipient_list(const eval_input& in) {
  std::vector<std::string> inputs;
  for (const char* names : {"ToCc", "Bcc"}) {
    if (std::string_view(names) == "ToCc") {
      for (auto& a : addresses_as_written(in, "To")) inputs.push_back(a);
      for (auto& a : addresses_as_written(in, "Cc")) inputs.push_back(a);
    } else {
      for (auto& a : addresses_as_written(in, "Bcc")) inputs.push_back(a);
    }
    if (inputs.size() >= 5) break;
  }
  std::vector<std::string> address;
  std::string previous;
  for (const std::string& current : inputs) {
    if (current.empty() || current == "0") break;  // while (my $current = shift @inputs)
    if (lower(current) != lower(previous)) address.push_back(previous = current);
    if (address.size() == 256) break;
  }
  return address;
}

// HeaderEval sorted_recipients: 7 or more recipients in sorted (byte) order.
bool sorted_recipients(const eval_input& in, const std::vector<std::string>&) {
  std::vector<std::string> address = recipient_list(in);
  return address.size() >= 7 && std::is_sorted(address.begin(), address.end());
}

// _check_recipients' tocc_similar.
double tocc_similar(const eval_input& in) {
  std::vector<std::string> address = recipient_list(in);
  if (address.size() < 5) return 0;
  std::vector<std::string> user, fqhn, host;
  for (const std::string& a : address) {
    user.push_back(a.substr(0, 2));
    size_t at = a.find('@');
    fqhn.push_back(at == std::string::npos ? std::string() : a.substr(at + 1));
    host.push_back(fqhn.back().substr(0, 2));
  }
  long hits = 0, combinations = 0;
  for (size_t i = 0; i < address.size(); ++i) {
    for (size_t j = i + 1; j < address.size(); ++j) {
      if (user[i] == user[j]) ++hits;
      if (host[i] == host[j] && fqhn[i] != fqhn[j]) ++hits;
      ++combinations;
    }
  }
  return static_cast<double>(hits) / combinations;
}

bool similar_recipients(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2) return false;
  double sim = tocc_similar(in), v = 0;
  bool lo_ok = args[0] == "undef" || (absl::SimpleAtod(args[0], &v) && sim >= v);
  bool hi_ok = args[1] == "undef" || (absl::SimpleAtod(args[1], &v) && sim < v);
  return lo_ok && hi_ok;
}

// ---- FreeMail ----------------------------------------------------------------------------

bool freemail_available(const eval_input& in) {
  return !in.settings.freemail_domains.empty() || !in.settings.freemail_wildcards.empty();
}

// Perl's /$re/ with the rule's regex argument (FreeMail compile_regexp, no modifiers).
bool matches_arg(const std::string& email, const std::string& regex) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(), 0, &error, &offset, nullptr);
  if (code == nullptr) return false;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(email.data()), email.size(), 0, 0, md, nullptr);
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  return rc >= 0;
}

std::vector<std::string> header_spec_addresses(const eval_input& in, std::string header) {
  // "Reply-To:addr" and "Reply-To" both mean the addresses here (FreeMail appends :addr).
  size_t colon = header.find(':');
  if (colon != std::string::npos) header.resize(colon);
  if (header == "EnvelopeFrom") {
    std::string e = lower(evals::envelope_from(in.text, in.relays));
    return e.empty() ? std::vector<std::string>{} : std::vector<std::string>{e};
  }
  return evals::header_addresses(in.text, header);
}

bool check_freemail_header(const eval_input& in, const std::vector<std::string>& args) {
  if (!freemail_available(in) || args.empty()) return false;
  for (const std::string& email : header_spec_addresses(in, args[0])) {
    if (!evals::is_freemail(in.settings, email)) continue;
    if (args.size() > 1 && !matches_arg(email, args[1])) continue;
    return true;
  }
  return false;
}

std::vector<std::string> all_from_addrs(const eval_input& in) {
  std::vector<std::string> addrs;
  auto resent = evals::header_addresses(in.text, "Resent-From");
  if (!resent.empty()) {
    addrs.push_back(resent[0]);
  } else {
    for (const char* h : {"From", "Envelope-Sender", "Resent-Sender", "X-Envelope-From"}) {
      for (auto& a : evals::header_addresses(in.text, h)) addrs.push_back(a);
    }
    addrs.push_back(lower(evals::envelope_from(in.text, in.relays)));
  }
  std::vector<std::string> out;
  for (std::string& a : addrs) {
    // tr/././s: squeeze runs of dots
    std::string s;
    for (char c : a) {
      if (c == '.' && !s.empty() && s.back() == '.') continue;
      s.push_back(c);
    }
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

bool check_freemail_from(const eval_input& in, const std::vector<std::string>& args) {
  if (!freemail_available(in)) return false;
  for (const std::string& email : all_from_addrs(in)) {
    if (!evals::is_freemail(in.settings, email)) continue;
    if (!args.empty() && !matches_arg(email, args[0])) continue;
    return true;
  }
  return false;
}

bool check_freemail_replyto(const eval_input& in, const std::vector<std::string>& args) {
  static const fixed_regex skip_envfrom(
      R"((?:^(?:post|host|domain)master|^double-bounce|^(?:sentto|owner|return|(?:gr)?bounced?)-.+|-(?:request|bounces?|admin|owner)|\b(?:do[._-t]?)?no[._-t]?repl(?:y|ies)|.+=.+)\@)",
      PCRE2_CASELESS);
  if (!freemail_available(in)) return false;
  std::string what = args.empty() ? "replyto" : args[0];
  if (what != "replyto" && what != "reply") return false;
  // freemail_skip_bulk_envfrom (default 1): get("EnvelopeFrom") is the raw value.
  std::string envfrom = evals::envelope_from(in.text, in.relays);
  if (!envfrom.empty() && skip_envfrom.match(envfrom)) return false;
  auto from = evals::header_addresses(in.text, "From");
  std::vector<std::string> replyto;
  if (what == "replyto") {
    replyto = evals::header_addresses(in.text, "Reply-To");
  } else {
    // 'reply': Reply-To addresses, else the body's (freemail_max_body_emails) —
    // we look at Reply-To only.
    replyto = evals::header_addresses(in.text, "Reply-To");
  }
  bool from_fm = std::any_of(from.begin(), from.end(), [&](const std::string& a) { return evals::is_freemail(in.settings, a); });
  bool reply_fm = std::any_of(replyto.begin(), replyto.end(), [&](const std::string& a) { return evals::is_freemail(in.settings, a); });
  bool from_not_in_replyto = true;
  for (const std::string& f : from) {
    if (std::find(replyto.begin(), replyto.end(), f) != replyto.end()) from_not_in_replyto = false;
  }
  return from_fm && reply_fm && from_not_in_replyto;
}

// ---- header counts -------------------------------------------------------------------------

bool check_header_count_range(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 3) return false;
  double lo = 0, hi = 0;
  if (!absl::SimpleAtod(args[1], &lo) || !absl::SimpleAtod(args[2], &hi)) return false;
  absl::flat_hash_set<std::string> uniq;
  for (const mail::text_header& h : in.text.headers) {
    if (mail::equals_ignore_case(h.name, args[0])) uniq.insert(h.decoded);
  }
  double n = static_cast<double>(uniq.size());
  return n >= lo && n <= hi;
}

}  // namespace

const std::vector<eval_entry>& header_evals() {
  static const std::vector<eval_entry> entries = {
      {"check_for_shifted_date", check_for_shifted_date},
      {"check_outlook_message_id", check_outlook_message_id},
      {"check_equal_from_domains", check_equal_from_domains},
      {"check_for_missing_to_header", check_for_missing_to_header},
      {"subject_is_all_caps", subject_is_all_caps},
      {"similar_recipients", similar_recipients},
      {"sorted_recipients", sorted_recipients},
      {"check_header_count_range", check_header_count_range},
      {"check_freemail_header", check_freemail_header},
      {"check_freemail_from", check_freemail_from},
      {"check_freemail_replyto", check_freemail_replyto},
  };
  return entries;
}

}  // namespace ringmail::spam

// The eval registry and the helpers the eval files share (addresses, dates, FreeMail).
#include "spam/evals/evals.h"

#include <ctime>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "spam/evals/regex.h"

namespace ringmail::spam {
namespace {

const absl::flat_hash_map<std::string, eval_function>& registry() {
  static const auto* table = [] {
    auto* t = new absl::flat_hash_map<std::string, eval_function>();
    for (const auto* list : {&header_evals(), &relay_evals(), &mime_evals(), &html_evals(), &auth_evals()}) {
      for (const eval_entry& e : *list) (*t)[e.name] = e.function;
    }
    return t;
  }();
  return *table;
}

// Words separated by spaces/tabs (Debian's abseil has its own string_view type, so its
// splitters do not hand out std::string_view).
std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

// FreeMail.pm parse_config: tokens of [a-zA-Z0-9.*?-] only.
bool valid_freemail_token(std::string_view t) {
  for (char c : t) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '*' && c != '?' && c != '-') {
      return false;
    }
  }
  return !t.empty();
}

// A freemail wildcard ('*' = [^.]*, '?' = one character) against a whole domain.
bool wildcard_match(std::string_view pat, std::string_view s) {
  if (pat.empty()) return s.empty();
  if (pat[0] == '*') {
    for (size_t i = 0; i <= s.size(); ++i) {
      if (wildcard_match(pat.substr(1), s.substr(i))) return true;
      if (i < s.size() && s[i] == '.') break;
    }
    return false;
  }
  if (s.empty()) return false;
  if (pat[0] == '?' || pat[0] == s[0]) return wildcard_match(pat.substr(1), s.substr(1));
  return false;
}

}  // namespace

eval_function find_eval(std::string_view name) {
  auto it = registry().find(std::string(name));
  return it == registry().end() ? nullptr : it->second;
}

const std::vector<std::string>& eval_function_names() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>();
    for (const auto& [name, f] : registry()) v->push_back(name);
    return v;
  }();
  return *names;
}

eval_settings eval_settings::from(const rule_set& rules) {
  eval_settings s;
  auto each_token = [&](const char* key, auto&& f) {
    auto it = rules.settings.find(key);
    if (it == rules.settings.end()) return;
    for (const std::string& line : it->second) {
      for (std::string_view t : words(line)) f(t);
    }
  };
  each_token("freemail_domains", [&](std::string_view t) {
    if (!valid_freemail_token(t)) return;
    std::string v = lower(t);
    if (v.find_first_of("*?") != std::string::npos) {
      s.freemail_wildcards.push_back(std::move(v));
    } else {
      s.freemail_domains.insert(std::move(v));
    }
  });
  auto welcome = [&](std::string_view t) { s.freemail_welcomelist.insert(lower(t)); };
  each_token("freemail_welcomelist", welcome);
  each_token("freemail_whitelist", welcome);
  s.auth = make_auth_eval_settings(rules);
  return s;
}

namespace evals {

std::vector<std::string> addresses_in(std::string_view v, bool lower_case) {
  // Split at commas outside quotes, comments and angle brackets; a "group:" prefix and
  // ";" end are dropped; each item gives its angle-addr, else its bare word with '@'.
  std::vector<std::string> out;
  std::string item;
  int paren = 0;
  bool quote = false, angle = false;
  auto flush = [&]() {
    std::string_view it = item;
    std::string addr;
    size_t lt = it.find('<');
    if (lt != std::string_view::npos) {
      size_t gt = it.find('>', lt);
      addr = std::string(it.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1));
    } else {
      // drop comments already removed; a group name "x:" before the address
      size_t colon = it.find(':');
      if (colon != std::string_view::npos && it.find('@') > colon) it.remove_prefix(colon + 1);
      addr = std::string(trim(it));
      size_t sp = addr.find_first_of(" \t");
      if (sp != std::string::npos) {
        // several words: the one with '@'
        for (std::string_view w : words(addr)) {
          if (w.find('@') != std::string_view::npos) {
            addr = std::string(w);
            break;
          }
        }
      }
    }
    addr = std::string(trim(addr));
    while (!addr.empty() && addr.back() == ';') addr.pop_back();
    if (!addr.empty()) out.push_back(lower_case ? lower(addr) : addr);
    item.clear();
  };
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quote) {
      if (c == '\\' && i + 1 < v.size()) {
        ++i;
      } else if (c == '"') {
        quote = false;
      }
      continue;  // display names are not addresses
    }
    if (paren > 0) {
      if (c == '(') ++paren;
      if (c == ')') --paren;
      continue;
    }
    if (c == '"' && !angle) {
      quote = true;
      continue;
    }
    if (c == '(' && !angle) {
      ++paren;
      continue;
    }
    if (c == '<') angle = true;
    if (c == '>') angle = false;
    if ((c == ',' || c == ';') && !angle) {
      flush();
      continue;
    }
    item.push_back(c);
  }
  flush();
  return out;
}

std::vector<std::string> header_addresses(const mail::message_text& text, std::string_view name) {
  std::vector<std::string> out;
  for (const mail::text_header& h : text.headers) {
    if (!mail::equals_ignore_case(h.name, name)) continue;
    for (std::string& a : addresses_in(h.decoded)) out.push_back(std::move(a));
  }
  return out;
}

namespace {
std::string first_address(const mail::message_text& text, std::string_view name, bool* present) {
  for (const mail::text_header& h : text.headers) {
    if (!mail::equals_ignore_case(h.name, name)) continue;
    *present = true;
    auto a = addresses_in(h.decoded, false);
    return a.empty() ? std::string() : a[0];
  }
  *present = false;
  return {};
}
// get("ALL") =~ /^Received:.*?^NAME:/smi: a Received header comes before NAME.
bool received_before(const mail::message_text& text, std::string_view name) {
  bool seen_received = false;
  for (const mail::text_header& h : text.headers) {
    if (mail::equals_ignore_case(h.name, "Received")) seen_received = true;
    else if (seen_received && mail::equals_ignore_case(h.name, name)) return true;
  }
  return false;
}
}  // namespace

std::string envelope_from(const mail::message_text& text, const relay_info& relays) {
  const relay* lasthop = !relays.untrusted.empty() ? &relays.untrusted.front()
                         : !relays.trusted.empty() ? &relays.trusted.back() : nullptr;
  if (lasthop != nullptr && lasthop->has_envfrom) {
    size_t at = lasthop->envfrom.find('@');
    if ((at != std::string::npos && at > 0) || lasthop->envfrom.empty()) return lasthop->envfrom;
  }
  bool present = false;
  std::string x_sender = first_address(text, "X-Sender", &present);
  if (present && x_sender.find('@') != std::string::npos) {
    for (const mail::text_header& h : text.headers) {
      if (mail::equals_ignore_case(h.name, "Received") && h.decoded.find("(fetchmail") != std::string::npos) {
        return {};
      }
    }
  }
  std::string envf = first_address(text, "X-Envelope-From", &present);
  if (present) return received_before(text, "X-Envelope-From") ? std::string() : envf;
  for (const char* name : {"Envelope-Sender", "Return-Path"}) {
    envf = first_address(text, name, &present);
    if (present && !received_before(text, name)) return envf;
  }
  return {};
}

std::optional<long long> parse_rfc822_date(std::string_view date) {
  static const fixed_regex dmy(R"( (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) )", PCRE2_CASELESS);
  static const fixed_regex mdty(R"( (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d+) \d+:\d+:\d+ (\d{4}) )",
                                PCRE2_CASELESS);
  static const fixed_regex dmy2(R"( (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{2,3}) )", PCRE2_CASELESS);
  static const fixed_regex hms(R"( (\d?\d):(\d\d)(:(\d\d))? )");
  static const fixed_regex tz(R"( ([-+]\d{4}) )");
  static const fixed_regex tzname(R"(\b([A-Z]{2,4}(?:-DST)?)\b)");
  static const absl::flat_hash_map<std::string, int> zones = {
      {"UT", 0},      {"UTC", 0},     {"NDT", -230},  {"AST", -400},  {"ADT", -300},  {"NST", -330},
      {"EST", -500},  {"EDT", -400},  {"CST", -600},  {"CDT", -500},  {"MST", -700},  {"MDT", -600},
      {"PST", -800},  {"PDT", -700},  {"HST", -1000}, {"AKST", -900}, {"AKDT", -800}, {"HADT", -900},
      {"HAST", -1000}, {"GMT", 0},    {"BST", 100},   {"IST", 100},   {"WET", 0},     {"WEST", 100},
      {"CET", 100},   {"CEST", 200},  {"EET", 200},   {"EEST", 300},  {"MSK", 300},   {"MSD", 400},
      {"MET", 100},   {"MEZ", 100},   {"MEST", 200},  {"MESZ", 200},  {"BRST", -200}, {"BRT", -300},
      {"AEST", 1000}, {"AEDT", 1100}, {"ACST", 930},  {"ACDT", 1030}, {"AWST", 800},  {"NZST", 1200},
      {"NZDT", 1300}, {"JST", 900},   {"KST", 900},   {"HKT", 800},   {"SGT", 800},   {"PHT", 800},
      {"IDT", 300}};
  static const char* const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
  // $_ = " $date "; s/, */ /gs; s/\s+/ /gs;
  std::string s = " ";
  for (size_t i = 0; i < date.size(); ++i) {
    char c = date[i];
    if (c == ',') {
      s.push_back(' ');
      while (i + 1 < date.size() && date[i + 1] == ' ') ++i;
      continue;
    }
    s.push_back(c);
  }
  s.push_back(' ');
  {
    std::string t;
    bool sp = false;
    for (char c : s) {
      bool is_space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
      if (is_space) {
        if (!sp) t.push_back(' ');
        sp = true;
      } else {
        t.push_back(c);
        sp = false;
      }
    }
    s = std::move(t);
  }
  fixed_regex::groups g;
  long long yyyy = 0, dd = 0, hh = 0, mm = 0, ss = 0, mmm = 0;
  std::string mon;
  size_t year_len = 0;
  auto take = [&](int d, int m, int y) {
    dd = std::stoll(g.str(d).substr(0, 9));
    mon = lower(g.g[m]);
    yyyy = std::stoll(g.str(y).substr(0, 9));
    year_len = g.g[y].size();
    s.replace(g.start, g.end - g.start, " ");
  };
  if (dmy.match(s, g)) {
    take(1, 2, 3);
  } else if (mdty.match(s, g)) {
    take(2, 1, 3);
  } else if (dmy2.match(s, g)) {
    take(1, 2, 3);
  } else {
    return std::nullopt;
  }
  if (year_len == 2 && yyyy < 50) {
    yyyy += 2000;
  } else if (year_len != 4) {
    yyyy += 1900;
  }
  if (hms.match(s, g)) {
    hh = std::stoll(g.str(1));
    mm = std::stoll(g.str(2));
    ss = g.set[4] ? std::stoll(g.str(4)) : 0;
    s.replace(g.start, g.end - g.start, " ");
  }
  int tzoff = 0;
  if (tz.match(s, g)) {
    int v = std::stoi(g.str(1).substr(1));
    tzoff = g.g[1][0] == '-' ? -v : v;
  } else if (tzname.match(s, g)) {
    auto it = zones.find(g.str(1));
    if (it != zones.end()) tzoff = it->second;
  }
  for (int i = 0; i < 12; ++i) {
    if (mon == months[i]) mmm = i + 1;
  }
  if (ss > 59) ss = 59;
  if (mm > 59) mm = 59;
  if (hh > 23) hh = 23;
  int max_dd = 31;
  if (mmm == 4 || mmm == 6 || mmm == 9 || mmm == 11) {
    max_dd = 30;
  } else if (mmm == 2) {
    max_dd = (!(yyyy % 4) && ((yyyy % 100) || !(yyyy % 400))) ? 29 : 28;
  }
  if (dd > max_dd) {
    dd = 1;
    if (++mmm > 12) mmm = 1, ++yyyy;
  }
  if (yyyy > 2037) yyyy = 2037;
  if (yyyy < 1970) yyyy = 1970;
  if (mmm == 0 || dd == 0) return std::nullopt;  // timegm croaks on day/month 0
  std::tm t{};
  t.tm_year = static_cast<int>(yyyy - 1900);
  t.tm_mon = static_cast<int>(mmm - 1);
  t.tm_mday = static_cast<int>(dd);
  t.tm_hour = static_cast<int>(hh);
  t.tm_min = static_cast<int>(mm);
  t.tm_sec = static_cast<int>(ss);
  long long time = timegm(&t);
  long long off = ((std::abs(tzoff) / 100) * 60 + std::abs(tzoff) % 100) * 60;
  if (tzoff < 0) {
    time += off;
  } else if (time < off) {
    time = 0;
  } else {
    time -= off;
  }
  return time;
}

bool is_freemail(const eval_settings& settings, std::string_view email) {
  static const fixed_regex email_welcomelist(
      R"(^(?:abuse|support|sales|info|helpdesk|contact|kontakt|(?:post|host|domain)master|undisclosed.*|request-[a-f0-9]{16}|bounced?-|[a-f0-9]{8}(?:\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})|.+=.+=.+)\@)",
      PCRE2_CASELESS);
  if (email.empty()) return false;
  if (settings.freemail_welcomelist.contains(std::string(email))) return false;
  size_t at = email.rfind('@');
  std::string_view domain = at == std::string_view::npos ? email : email.substr(at + 1);
  if (settings.freemail_welcomelist.contains(std::string(domain))) return false;
  if (email_welcomelist.match(email)) return false;
  if (settings.freemail_domains.contains(std::string(domain))) return true;
  if (at == std::string_view::npos) return false;  // the wildcard regex wants "\@"
  for (const std::string& w : settings.freemail_wildcards) {
    if (wildcard_match(w, domain)) return true;
  }
  return false;
}

}  // namespace evals
}  // namespace ringmail::spam

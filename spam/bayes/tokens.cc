// The Bayes tokenizer: a port of SpamAssassin 4.0's Plugin/Bayes.pm tokenize(),
// _tokenize_line() and _tokenize_headers() with its default token sources (header,
// visible body text, URIs; there is no separate invisible text here and the "mimepart"
// source is off by default in SA too). The SA line numbers refer to
// /usr/share/perl5/Mail/SpamAssassin/Plugin/Bayes.pm of 4.0.1.
//
// Where we depart from SA, the comment says so; the departures are small: SA's Perl
// regexps are simulated by hand (no regex engine on this path), a few of its dead rules
// are left out, and non-ASCII letters count as word characters when decomposing.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "mail/header.h"
#include "runtime/fnv1a.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam {
namespace {

// bayes_max_token_length (SA default 15): longer tokens become "sk:" + 7 characters.
constexpr size_t max_token_length = 15;
// SA stops adding lines of a source once this many tokens came from it.
constexpr size_t max_body_tokens = 50000;
constexpr size_t max_uri_tokens = 10000;
constexpr size_t max_header_tokens = 10000;

// _tokenize_line's $region: 0 headers, 1 body, 2 URIs.
enum class region { header, body, uri };

bool is_ascii_word(unsigned char c) { return absl::ascii_isalnum(c) || c == '_'; }
bool is_ascii_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool is_continuation(unsigned char c) { return c >= 0x80 && c <= 0xBF; }

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && mail::equals_ignore_case(s.substr(0, prefix.size()), prefix);
}
bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && mail::equals_ignore_case(s.substr(s.size() - suffix.size()), suffix);
}
std::string_view strip_spaces(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}
// Calls f(word) for each run of non-space bytes.
template <typename F>
void for_each_word(std::string_view s, F&& f) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_ascii_space(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !is_ascii_space(s[j])) ++j;
    if (j > i) f(s.substr(i, j - i));
    i = j;
  }
}

// Length of the UTF-8 sequence at s[i] if it is one of the shapes SA's tokenizer keeps
// atomic ([\xC0-\xDF][\x80-\xBF], [\xE0-\xEF][\x80-\xBF]{2}, [\xF0-\xF4][\x80-\xBF]{3}),
// else 0.
size_t utf8_sequence_at(std::string_view s, size_t i) {
  unsigned char c = s[i];
  size_t n = 0;
  if (c >= 0xC0 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) n = 3;
  else if (c >= 0xF0 && c <= 0xF4) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if (!is_continuation(s[i + k])) return 0;
  }
  return n;
}

// SA's stop words for "en" (60_bayes_stopwords.cf, bayes_stopword_languages default
// "en"), matched whole and case-insensitively. Sorted for binary search.
constexpr std::array<std::string_view, 71> english_stopwords = {
    "able",    "all",      "already", "and",    "any",         "are",    "because", "both",
    "can",     "come",     "each",    "email",  "even",        "few",    "first",   "for",
    "from",    "give",     "has",     "have",   "http",        "information", "into", "it's",
    "just",    "know",     "like",    "long",   "look",        "made",   "mail",    "mailing",
    "mailto",  "make",     "many",    "more",   "most",        "much",   "need",    "not",
    "now",     "number",   "off",     "one",    "only",        "out",    "own",     "people",
    "place",   "right",    "same",    "see",    "such",        "that",   "the",     "this",
    "through", "time",     "using",   "web",    "where",       "why",    "with",    "without",
    "work",    "world",    "year",    "years",  "you",         "you're", "your"};

// Where each first letter's words start in the sorted list (and end, at the next
// letter's start): a lookup compares against a handful of words (this runs once per body
// token).
static_assert(std::is_sorted(english_stopwords.begin(), english_stopwords.end()));

constexpr std::array<uint8_t, 27> stopword_letter_start = [] {
  std::array<uint8_t, 27> start{};
  size_t w = 0;
  for (int letter = 0; letter < 26; ++letter) {
    while (w < english_stopwords.size() && english_stopwords[w][0] < 'a' + letter) ++w;
    start[letter] = static_cast<uint8_t>(w);
  }
  start[26] = static_cast<uint8_t>(english_stopwords.size());
  return start;
}();

bool is_stopword(std::string_view token) {
  if (token.size() < 3 || token.size() > 11) return false;
  unsigned char first = absl::ascii_tolower(static_cast<unsigned char>(token[0]));
  if (first < 'a' || first > 'z') return false;
  for (size_t w = stopword_letter_start[first - 'a']; w < stopword_letter_start[first - 'a' + 1]; ++w) {
    std::string_view word = english_stopwords[w];
    if (word.size() != token.size()) continue;
    size_t i = 1;
    while (i < word.size() && absl::ascii_tolower(static_cast<unsigned char>(token[i])) == word[i]) ++i;
    if (i == word.size()) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Header pre-chewing (SA _tokenize_headers and the _pre_chew_* helpers).

bool iequals_any(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (mail::equals_ignore_case(name, n)) return true;
  }
  return false;
}

// SA's $IGNORED_HDRS: noise, list and filter annotations, and Subject (it is the first
// line of the body text already) and Date (a cue for the corpus' age, not its class).
bool is_ignored_header(std::string_view name) {
  static constexpr std::string_view exact[] = {
      "sender", "x-sender", "delivered-to", "delivery-date", "envelope-to", "x-envelope-to",
      "x-mime-autoconverted", "x-converted-to-plain-text", "subject", "date", "x-list",
      "mailing-list", "x-mailing-list", "x-unsub", "x-unsubscribe", "x-mailman-version",
      "x-beenthere", "x-loop", "mail-followup-to", "x-egroups-return", "x-egroups-from",
      "x-mdmailing-list", "x-xemacs-list", "x-sympa-to", "resent-from", "resent-to",
      "resent-date", "x-resent-from", "x-resent-to", "x-resent-date", "original-from",
      "original-to", "original-date", "x-original-from", "x-original-to", "x-original-date",
      "x-mailscanner", "x-mailscanner-spamcheck", "x-spam", "x-spam-status", "x-spam-level",
      "x-spam-flag", "x-spam-report", "x-spam-hits", "x-spam-score", "x-spam-checker-version",
      "x-antispam", "x-rbl-warning", "x-mdaemon-deliver-to", "x-virus-scanned",
      "x-mass-check-id", "x-pyzor", "x-filtered-by", "x-scanned-by", "x-scanner",
      "x-ap-spam-score", "x-ap-spam-status", "x-ripe-spam-status", "x-smtpd",
      "spam-apparently-to", "x-spam-apparently-to", "spam", "x-perlmx-spam", "x-bogosity",
      "content-class", "thread-index", "thread-topic", "x-originalarrivaltime", "status",
      "x-status", "x-flags", "x-keywords", "replied", "forwarded", "lines", "content-length",
      "x-uid", "x-uidl", "x-imapbase", "x-vm-bookmark", "x-vm-pop-retrieved",
      "x-vm-imap-retrieved", "x-vm-labels", "x-vm-last-modified", "x-vm-summary-format",
      "x-vm-vheader", "x-vm-message-order", "x-gnus-mail-source", "xref"};
  for (std::string_view e : exact) {
    if (mail::equals_ignore_case(name, e)) return true;
  }
  std::string_view list = name;
  if (istarts_with(list, "x-")) list.remove_prefix(2);
  if (istarts_with(list, "list-") &&
      iequals_any(list.substr(5), {"archive", "help", "id", "owner", "post", "subscribe", "unsubscribe", "host",
                                   "manager", "admin", "comment", "name", "url"})) {
    return true;
  }
  if (istarts_with(name, "x-spamcop-") && name.size() > 10) return true;
  if (istarts_with(name, "x-bugzilla-") && name.size() > 11) return true;
  // X-DCC-\S{2,25}-Metrics
  if (name.size() >= 6 + 2 + 8 && istarts_with(name, "x-dcc-") && iends_with(name, "-metrics") &&
      name.size() <= 6 + 25 + 8) {
    return true;
  }
  // X-VM-v\d-Data
  if (name.size() == 12 && istarts_with(name, "x-vm-v") && absl::ascii_isdigit(name[6]) &&
      mail::equals_ignore_case(name.substr(7), "-data")) {
    return true;
  }
  return false;
}

// SA's $MARK_PRESENCE_ONLY_HDRS: signatures and keys make one hapax per message.
bool is_presence_only_header(std::string_view name) {
  if (iequals_any(name, {"x-face", "dkim-signature", "domainkey-signature", "x-google-dkim-signature",
                         "arc-message-signature", "arc-seal", "autocrypt"})) {
    return true;
  }
  // X-(?:Gnu-?PG|PGP|GPG)(?:-Key)?-Fingerprint
  if (name.size() < 2 + 3 + 12 || !istarts_with(name, "x-") || !iends_with(name, "-fingerprint")) return false;
  std::string_view mid = name.substr(2, name.size() - 2 - 12);
  if (iends_with(mid, "-key")) mid.remove_suffix(4);
  return iequals_any(mid, {"gnupg", "gnu-pg", "pgp", "gpg"});
}

// SA's %HEADER_NAME_COMPRESSION (case-sensitive, as in SA).
std::string_view compressed_header_name(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> table[] = {
      {"Message-Id", "*m"},      {"Message-ID", "*M"},          {"Received", "*r"},
      {"User-Agent", "*u"},      {"References", "*f"},          {"In-Reply-To", "*i"},
      {"From", "*F"},            {"Reply-To", "*R"},            {"Return-Path", "*p"},
      {"Return-path", "*rp"},    {"X-Mailer", "*x"},            {"X-Authentication-Warning", "*a"},
      {"Organization", "*o"},    {"Organisation", "*o"},        {"Content-Type", "*ct"},
      {"Content-Disposition", "*cd"}, {"Content-Transfer-Encoding", "*ce"}};
  for (const auto& [from, to] : table) {
    if (name == from) return to;
  }
  return name;
}

// SA's Util::parse_header_addresses, reduced to what the tokenizer uses: the display
// name (phrase) and the address of each mailbox. Comments are dropped (Email::Address::XS
// reports them apart from the phrase, and SA ignores them), group names too.
struct parsed_address {
  std::string phrase;
  std::string address;
};

std::vector<parsed_address> parse_addresses(std::string_view value) {
  std::vector<parsed_address> out;
  std::string outside, angle;
  bool in_quote = false, in_angle = false, saw_angle = false;
  int comment_depth = 0;
  auto finish = [&] {
    parsed_address a;
    if (saw_angle) {
      a.address = std::string(strip_spaces(angle));
      // Collapse the phrase's whitespace; SA splits it on /\s+/ anyway.
      a.phrase = std::string(strip_spaces(outside));
    } else {
      for (char c : outside) {
        if (!is_ascii_space(c)) a.address.push_back(c);
      }
    }
    if (!a.address.empty() || !a.phrase.empty()) out.push_back(std::move(a));
    outside.clear();
    angle.clear();
    saw_angle = false;
    in_angle = false;
  };
  for (size_t i = 0; i < value.size() && out.size() < 1000; ++i) {
    char c = value[i];
    if (comment_depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++comment_depth;
      else if (c == ')') --comment_depth;
      continue;
    }
    if (in_quote) {
      if (c == '\\' && i + 1 < value.size()) {
        (in_angle ? angle : outside).push_back(value[++i]);
      } else if (c == '"') {
        in_quote = false;
      } else {
        (in_angle ? angle : outside).push_back(c);
      }
      continue;
    }
    switch (c) {
      case '"': in_quote = true; break;
      case '(': ++comment_depth; outside.push_back(' '); break;
      case '<':
        in_angle = true;
        saw_angle = true;
        angle.clear();
        break;
      case '>': in_angle = false; break;
      case ',':
        if (in_angle) angle.push_back(c);
        else finish();
        break;
      case ':':
        // "group: a@b, c@d;" — drop the group's name.
        if (in_angle) angle.push_back(c);
        else outside.clear();
        break;
      case ';':
        if (in_angle) angle.push_back(c);
        else finish();
        break;
      default: (in_angle ? angle : outside).push_back(c);
    }
  }
  finish();
  return out;
}

// SA _tokenize_mail_addrs: "U*local", "D*domain" and "D*" for each parent domain.
void append_mail_addr_tokens(std::string_view addr, std::string& out) {
  // /(.+)\@(.+)$/: the last '@' with something on both sides.
  size_t at = std::string_view::npos;
  for (size_t i = addr.size() >= 2 ? addr.size() - 2 : 0; i >= 1 && i < addr.size(); --i) {
    if (addr[i] == '@') {
      at = i;
      break;
    }
  }
  if (at == std::string_view::npos) return;
  out.append(" U*").append(addr.substr(0, at));
  std::string_view domain = addr.substr(at + 1);
  out.append(" D*").append(domain);
  // while (s/^[^\.]+\.(.+)$/$1/) { push "D*".$1 }
  while (true) {
    size_t dot = domain.find('.');
    if (dot == 0 || dot == std::string_view::npos || dot + 1 >= domain.size()) break;
    domain.remove_prefix(dot + 1);
    out.append(" D*").append(domain);
  }
}

// SA _pre_chew_addr_header.
std::string chew_address_header(std::string_view value) {
  std::string out;
  for (const parsed_address& a : parse_addresses(value)) {
    if (!a.phrase.empty()) {
      for_each_word(a.phrase, [&out](std::string_view word) { out.append(" N*").append(word); });  // Bug 6319
    }
    if (!a.address.empty()) append_mail_addr_tokens(a.address, out);
  }
  return out;
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

size_t count_while(std::string_view s, size_t i, bool (*pred)(char), size_t max) {
  size_t n = 0;
  while (i + n < s.size() && n < max && pred(s[i + n])) ++n;
  return n;
}

// `s` starts with `shape`, where in the shape 'd' stands for a digit, '1' for [01],
// '2' for [0-2], '3' for [0-3], '5' for [0-5], and any other byte for itself.
bool matches_shape(std::string_view s, std::string_view shape) {
  if (s.size() < shape.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    char c = s[i];
    switch (shape[i]) {
      case 'd': if (!is_digit(c)) return false; break;
      case '1': if (c < '0' || c > '1') return false; break;
      case '2': if (c < '0' || c > '2') return false; break;
      case '3': if (c < '0' || c > '3') return false; break;
      case '5': if (c < '0' || c > '5') return false; break;
      default: if (c != shape[i]) return false;
    }
  }
  return true;
}

// SA _pre_chew_message_id: Outlook Express, Exim and Sendmail ids reduced to their
// informative parts, then everything but [_A-Za-z0-9] becomes a space.
std::string chew_message_id(std::string_view value) {
  std::string v;
  size_t run_end = 0;
  size_t run_last_close = std::string_view::npos;
  // Outlook Express: <([0-9a-f]{4})[0-9a-f]{8}\$([0-9a-f]{4})[0-9a-f]{4}\$([0-9a-f]{8})\@(\S+)>
  //   -> " OEA$1 OEB$2 OEC$3 $4 "
  for (size_t i = 0; i < value.size();) {
    auto try_oe = [&]() -> size_t {
      size_t p = i;
      if (value[p] != '<') return 0;
      ++p;
      if (count_while(value, p, is_lower_hex, 12) != 12 || p + 12 >= value.size() || value[p + 12] != '$') return 0;
      size_t a = p;
      p += 13;
      if (count_while(value, p, is_lower_hex, 8) != 8 || p + 8 >= value.size() || value[p + 8] != '$') return 0;
      size_t b = p;
      p += 9;
      if (count_while(value, p, is_lower_hex, 8) != 8 || p + 8 >= value.size() || value[p + 8] != '@') return 0;
      size_t c = p;
      p += 9;
      // (\S+)> backs off to the last '>' of the run of non-space bytes. Remembered per
      // run, so a header of many '<' in one run is not scanned once per '<'.
      if (p >= run_end) {
        run_end = p;
        while (run_end < value.size() && !is_ascii_space(value[run_end])) ++run_end;
        run_last_close = value.substr(0, run_end).rfind('>');
      }
      size_t close = run_last_close;
      if (close == std::string_view::npos || close <= p) return 0;
      v.append(" OEA").append(value.substr(a, 4));
      v.append(" OEB").append(value.substr(b, 4));
      v.append(" OEC").append(value.substr(c, 8));
      v.append(" ").append(value.substr(p, close - p)).append(" ");
      return close + 1 - i;
    };
    if (size_t n = try_oe(); n > 0) {
      i += n;
    } else {
      v.push_back(value[i++]);
    }
  }
  // Exim: <[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]\@ removed (the first one).
  auto is_alnum = [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); };
  for (size_t i = 0; i + 19 <= v.size(); ++i) {
    std::string_view s(v.data() + i, 19);
    bool ok = s[0] == '<' && s[8] == '-' && s[15] == '-' && s[16] == '0' && s[18] == '@' && is_alnum(s[17]);
    for (size_t k = 1; ok && k < 8; ++k) ok = is_alnum(s[k]);
    for (size_t k = 9; ok && k < 15; ++k) ok = is_alnum(s[k]);
    if (ok) {
      v.erase(i, 19);
      break;
    }
  }
  // Sendmail: <20\d\d[01]\d[0123]\d[012]\d[012345]\d[012345]\d\.[A-F0-9]{10,12}\@ removed
  // (copied rather than erased in place: a header of many such ids stays linear).
  std::string w;
  w.reserve(v.size());
  for (size_t i = 0; i < v.size();) {
    std::string_view rest(v.data() + i, v.size() - i);
    if (matches_shape(rest, "<20dd1d3d2d5d5d.")) {
      // '@' is not a hex digit, so [A-F0-9]{10,12}\@ can only end right after the run.
      size_t hex = count_while(rest, 16, is_upper_hex, 13);
      if (hex >= 10 && hex <= 12 && 16 + hex < rest.size() && rest[16 + hex] == '@') {
        i += 16 + hex + 1;
        continue;
      }
    }
    w.push_back(v[i++]);
  }
  v.swap(w);
  for (char& c : v) {
    if (!is_ascii_word(static_cast<unsigned char>(c))) c = ' ';
  }
  return v;
}

// SA _pre_chew_content_type: the boundary's shape is kept (hex digits -> 'H', separator
// runs as tokens of their own); "text" and "charset" are gray and dropped.
std::string chew_content_type(std::string_view value) {
  std::string v;
  std::string boundary;
  bool found = false;
  // s/boundary=[\"\'](.*?)[\"\']/ /ig
  for (size_t i = 0; i < value.size();) {
    if (i + 10 < value.size() && istarts_with(value.substr(i), "boundary=") &&
        (value[i + 9] == '"' || value[i + 9] == '\'')) {
      size_t end = value.find_first_of("\"'", i + 10);
      if (end != std::string_view::npos) {
        boundary.assign(value.substr(i + 10, end - i - 10));
        found = true;
        v.push_back(' ');
        i = end + 1;
        continue;
      }
    }
    v.push_back(value[i++]);
  }
  if (found) {
    std::string shaped;
    for (size_t i = 0; i < boundary.size();) {
      char c = boundary[i];
      if (c == '-' || c == '_' || c == '.' || c == '=') {
        size_t j = i;
        while (j < boundary.size() && std::string_view("-_.=").find(boundary[j]) != std::string_view::npos) ++j;
        shaped.push_back(' ');
        shaped.append(boundary, i, j - i);
        shaped.push_back(' ');
        i = j;
        continue;
      }
      shaped.push_back(absl::ascii_isxdigit(static_cast<unsigned char>(c)) ? 'H' : c);
      ++i;
    }
    v += shaped;
  }
  // s/\b(?:text|charset)\b/ /g
  std::string out;
  for (size_t i = 0; i < v.size();) {
    bool left = i == 0 || !is_ascii_word(v[i - 1]);
    if (left) {
      size_t n = 0;
      if (v.compare(i, 4, "text") == 0) n = 4;
      else if (v.compare(i, 7, "charset") == 0) n = 7;
      if (n > 0 && (i + n == v.size() || !is_ascii_word(v[i + n]))) {
        out.push_back(' ');
        i += n;
        continue;
      }
    }
    out.push_back(v[i++]);
  }
  return out;
}

// The RFC 822 date of a Received line, as SA's pattern in _pre_chew_received:
// (?:(?:Mon|...|Sun),\s)?[0-3\s]?[0-9]\s(?:Jan|...|Dec)\s(?:19|20)?[0-9]{2}\s
// [0-2][0-9](?:\:[0-5][0-9]){1,2}\s(?:\s*\(|\)|\s*(?:[+-][0-9]{4})|\s*(?:UT|[A-Z]{2,3}T))*
// Returns the match length at `i`, or 0.
size_t match_received_date(std::string_view s, size_t i) {
  auto space = [&](size_t p) { return p < s.size() && is_ascii_space(s[p]); };
  auto digit = [&](size_t p) { return p < s.size() && is_digit(s[p]); };
  auto in = [&](size_t p, char lo, char hi) { return p < s.size() && s[p] >= lo && s[p] <= hi; };
  auto one_of3 = [&](size_t p, std::initializer_list<std::string_view> words) {
    for (std::string_view w : words) {
      if (s.substr(p, 3) == w) return true;
    }
    return false;
  };
  // From the day of month on; returns the end or npos.
  auto rest = [&](size_t p) -> size_t {
    // [0-3\s]?[0-9]\s — with and without the optional character.
    size_t q = std::string_view::npos;
    if ((in(p, '0', '3') || space(p)) && digit(p + 1) && space(p + 2)) q = p + 3;
    else if (digit(p) && space(p + 1)) q = p + 2;
    if (q == std::string_view::npos) return q;
    if (!one_of3(q, {"Jan", "Feb", "Mar", "May", "Apr", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}) ||
        !space(q + 3)) {
      return std::string_view::npos;
    }
    q += 4;
    // (?:19|20)?[0-9]{2}\s
    size_t y = std::string_view::npos;
    if ((s.substr(q, 2) == "19" || s.substr(q, 2) == "20") && digit(q + 2) && digit(q + 3) && space(q + 4)) y = q + 5;
    else if (digit(q) && digit(q + 1) && space(q + 2)) y = q + 3;
    if (y == std::string_view::npos) return y;
    // [0-2][0-9](?:\:[0-5][0-9]){1,2}\s
    if (!in(y, '0', '2') || !digit(y + 1)) return std::string_view::npos;
    size_t t = y + 2;
    auto minsec = [&](size_t p) { return p < s.size() && s[p] == ':' && in(p + 1, '0', '5') && digit(p + 2); };
    if (!minsec(t)) return std::string_view::npos;
    if (minsec(t + 3) && space(t + 6)) t += 7;
    else if (space(t + 3)) t += 4;
    else return std::string_view::npos;
    // The zone tail, greedily.
    while (t < s.size()) {
      size_t w = t;
      while (space(w)) ++w;
      if (w < s.size() && s[w] == '(') t = w + 1;
      else if (s[t] == ')') t += 1;
      else if (w < s.size() && (s[w] == '+' || s[w] == '-') && digit(w + 1) && digit(w + 2) && digit(w + 3) &&
               digit(w + 4))
        t = w + 5;
      else if (s.substr(w, 2) == "UT") t = w + 2;
      else if (in(w, 'A', 'Z') && in(w + 1, 'A', 'Z') && in(w + 2, 'A', 'Z') && w + 3 < s.size() && s[w + 3] == 'T')
        t = w + 4;
      else if (in(w, 'A', 'Z') && in(w + 1, 'A', 'Z') && w + 2 < s.size() && s[w + 2] == 'T')
        t = w + 3;
      else break;
    }
    return t;
  };
  // Cheap rejection first: this runs at every byte of a Received value.
  char c0 = s[i];
  if (!is_digit(c0) && !is_ascii_space(c0) && c0 != 'M' && c0 != 'T' && c0 != 'W' && c0 != 'F' && c0 != 'S') return 0;
  if (one_of3(i, {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}) && i + 4 < s.size() && s[i + 3] == ',' &&
      space(i + 4)) {
    if (size_t end = rest(i + 5); end != std::string_view::npos) return end - i;
  }
  if (size_t end = rest(i); end != std::string_view::npos) return end - i;
  return 0;
}

// SA _pre_chew_received: mail server ids and dates removed, IPv4 addresses as their /24
// plus "ip*a.b.c.d", and the gray words with/from/for/SMTP/ESMTP dropped.
// Departures: SA's two Sendmail "with (E)SMTP id ..." rules and its Exim id rule are
// left out — the general "id <7-20 alnum>" rule, applied first, already removes what they
// would (and the words "with"/"SMTP" go with the gray words).
std::string chew_received(std::string_view value) {
  // s/\bid\s[a-zA-Z0-9]{7,20}\b/ /gs
  std::string a;
  for (size_t i = 0; i < value.size();) {
    if (value[i] == 'i' && i + 2 < value.size() && value[i + 1] == 'd' && is_ascii_space(value[i + 2]) &&
        (i == 0 || !is_ascii_word(value[i - 1]))) {
      size_t n = 0;
      while (i + 3 + n < value.size() && absl::ascii_isalnum(static_cast<unsigned char>(value[i + 3 + n]))) ++n;
      bool boundary = i + 3 + n == value.size() || !is_ascii_word(value[i + 3 + n]);
      if (n >= 7 && n <= 20 && boundary) {
        a.push_back(' ');
        i += 3 + n;
        continue;
      }
    }
    a.push_back(value[i++]);
  }
  // Dates removed.
  std::string b;
  for (size_t i = 0; i < a.size();) {
    if (size_t n = match_received_date(a, i); n > 0) {
      i += n;
      continue;
    }
    b.push_back(a[i++]);
  }
  // \b(\d{1,3}\.)(\d{1,3}\.)(\d{1,3})(\.\d{1,3})\b -> "$1$2$3 ip*$1$2$3$4 ". (SA means
  // to keep 10/8 and 192.168/16 whole, but compares "$2" with its dot against "10": the
  // test never holds, so every address becomes its /24.)
  std::string c;
  for (size_t i = 0; i < b.size();) {
    if (is_digit(b[i]) && (i == 0 || !is_ascii_word(b[i - 1]))) {
      size_t p = i;
      size_t octet_end[4];
      bool ok = true;
      for (int k = 0; k < 4 && ok; ++k) {
        size_t n = count_while(b, p, is_digit, 4);
        if (n < 1 || n > 3) ok = false;
        p += n;
        octet_end[k] = p;
        if (ok && k < 3) {
          if (p < b.size() && b[p] == '.') ++p;
          else ok = false;
        }
      }
      if (ok && (p == b.size() || !is_ascii_word(b[p]))) {
        std::string_view net(b.data() + i, octet_end[2] - i);
        std::string_view full(b.data() + i, p - i);
        c.append(net).append(" ip*").append(full).append(" ");
        i = p;
        continue;
      }
    }
    c.push_back(b[i++]);
  }
  // s/\b(?:with|from|for|SMTP|ESMTP)\b/ /g
  std::string out;
  for (size_t i = 0; i < c.size();) {
    if (i == 0 || !is_ascii_word(c[i - 1])) {
      size_t n = 0;
      for (std::string_view w : {"with", "from", "for", "SMTP", "ESMTP"}) {
        if (c.compare(i, w.size(), w) == 0 && (i + w.size() == c.size() || !is_ascii_word(c[i + w.size()]))) {
          n = w.size();
          break;
        }
      }
      if (n > 0) {
        out.push_back(' ');
        i += n;
        continue;
      }
    }
    out.push_back(c[i++]);
  }
  return out;
}

bool is_message_id_header(std::string_view name) {
  return iequals_any(name, {"message-id", "x-message-id", "resent-message-id"});
}

bool is_address_header(std::string_view name) {
  std::string_view n = name;
  if (istarts_with(n, "x-")) n.remove_prefix(2);
  else if (istarts_with(n, "resent-")) n.remove_prefix(7);
  return iequals_any(n, {"return-path", "from", "to", "cc", "reply-to", "errors-to", "mail-followup-to", "sender"});
}

// ---------------------------------------------------------------------------------------
// _tokenize_line.

// [A-Za-z0-9,@*!_'"\$. -]: the ASCII bytes a token may contain.
constexpr std::array<bool, 128> kept_ascii = [] {
  std::array<bool, 128> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (char c : std::string_view(",@*!_'\"$. -")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// Emits tokens as text through `sink(std::string_view)`; the view is only valid during
// the call.
template <typename Sink>
class line_tokenizer {
 public:
  explicit line_tokenizer(Sink& sink) : sink_(sink) {}

  // Returns the number of tokens emitted (duplicates included, as SA counts them).
  size_t tokenize(std::string_view line, std::string_view prefix, region where) {
    emitted_ = 0;
    map_characters(line);
    split_runs(mapped_, '.', 3, 6);
    split_runs(mapped_, '-', 2, 6);
    if (where != region::header) lower_title_case(mapped_);
    std::string_view rest(mapped_);
    while (!rest.empty()) {
      size_t start = rest.find_first_not_of(' ');
      if (start == std::string_view::npos) break;
      size_t end = rest.find(' ', start);
      if (end == std::string_view::npos) end = rest.size();
      token(rest.substr(start, end - start), prefix, where);
      rest.remove_prefix(end);
    }
    return emitted_;
  }

 private:
  // s{ ( [A-Za-z0-9,@*!_'"\$. -]+ | UTF-8 sequence | [\xA1-\xFF] ) | . }{ $1 or ' ' }
  // (Bug 7130: UTF-8 characters stay whole). Departure: U+00A0 (NO-BREAK SPACE, what
  // &nbsp; renders to) becomes a space; SA's comment asks "should we also turn NBSP into
  // space?" and rendered HTML is full of them.
  void map_characters(std::string_view in) {
    mapped_.clear();
    mapped_.reserve(in.size());
    for (size_t i = 0; i < in.size();) {
      unsigned char c = in[i];
      if (c < 0x80) {
        mapped_.push_back(kept_ascii[c] ? static_cast<char>(c) : ' ');
        ++i;
        continue;
      }
      if (size_t n = utf8_sequence_at(in, i); n > 0) {
        if (n == 2 && c == 0xC2 && static_cast<unsigned char>(in[i + 1]) == 0xA0) mapped_.push_back(' ');
        else mapped_.append(in.substr(i, n));
        i += n;
        continue;
      }
      mapped_.push_back(c >= 0xA1 ? static_cast<char>(c) : ' ');
      ++i;
    }
  }

  // s/(\w)(\.{3,6})(\w)/$1 $2 $3/gs and the same for '-' {2,6}: "..." and "--" between
  // words are formatting, not part of the words; the run stays as a token of its own.
  // Like Perl's /g, a match consumes the word character after the run.
  void split_runs(std::string& s, char sep, size_t min, size_t max) {
    if (s.find(sep) == std::string::npos) return;
    work_.clear();
    size_t consumed = 0;  // the next match's (\w) may not start before this
    for (size_t i = 0; i < s.size();) {
      if (s[i] == sep && i > 0 && i - 1 >= consumed && is_ascii_word(s[i - 1])) {
        size_t j = i;
        while (j < s.size() && s[j] == sep) ++j;
        size_t n = j - i;
        if (n >= min && n <= max && j < s.size() && is_ascii_word(s[j])) {
          work_.push_back(' ');
          work_.append(s, i, n);
          work_.push_back(' ');
          work_.push_back(s[j]);
          i = j + 1;
          consumed = i;
          continue;
        }
        work_.append(s, i, n);
        i = j;
        continue;
      }
      work_.push_back(s[i++]);
    }
    s.swap(work_);
  }

  // IGNORE_TITLE_CASE: s/(?:^|\.\s+)([A-Z])([^A-Z]+)(?:\s|$)/ ' '.(lc $1).$2.' ' /ge —
  // a capital letter that starts the line or a sentence is lower-cased, so a word at the
  // start of a sentence is the same token as elsewhere. Simulated as Perl runs it: the
  // greedy [^A-Z]+ backs off to the last whitespace before the next capital, and the
  // match (with its ". ") is consumed.
  void lower_title_case(std::string& s) {
    // The end of [^A-Z]+ for a capital at s[c] (the match continues with \s or $), or
    // npos when there is none.
    auto title_word_end = [&s](size_t c) -> size_t {
      if (c >= s.size() || !is_upper(s[c])) return std::string::npos;
      size_t e = c + 1;
      while (e < s.size() && !is_upper(s[e])) ++e;
      if (e == s.size() && e > c + 1) return e;
      for (size_t t = e; t > c + 2; --t) {
        if (s[t - 1] == ' ') return t - 1;
      }
      return std::string::npos;
    };
    work_.clear();
    size_t copied = 0;
    for (size_t pos = 0; pos < s.size();) {
      size_t c = std::string::npos;
      size_t k = std::string::npos;
      if (pos == 0) {
        c = 0;
        k = title_word_end(c);
      }
      if (k == std::string::npos && s[pos] == '.' && pos + 1 < s.size() && s[pos + 1] == ' ') {
        c = pos + 1;
        while (c < s.size() && s[c] == ' ') ++c;
        k = title_word_end(c);
      }
      if (k == std::string::npos) {
        ++pos;
        continue;
      }
      work_.append(s, copied, pos - copied);
      work_.push_back(' ');
      work_.push_back(static_cast<char>(s[c] - 'A' + 'a'));
      work_.append(s, c + 1, k - c - 1);
      work_.push_back(' ');
      pos = k == s.size() ? k : k + 1;
      copied = pos;
    }
    if (copied == 0) return;
    work_.append(s, copied, std::string::npos);
    s.swap(work_);
  }

  void emit(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
    scratch_.assign(a);
    scratch_.append(b);
    scratch_.append(c);
    if (scratch_.empty()) return;
    ++emitted_;
    sink_(std::string_view(scratch_));
  }

  static bool keep_when_decomposing(unsigned char c) {
    // [\w:\*]; departure: bytes of non-ASCII (UTF-8) letters are kept too, where SA's
    // byte-mode \w would strip them ("café!" -> "café", not "caf").
    return is_ascii_word(c) || c == ':' || c == '*' || c >= 0x80;
  }

  void token(std::string_view tok, std::string_view prefix, region where) {
    // Trim non-alphanumerics at both ends: s/^[-'"\.,]+//; s/[-'"\.,]+$//.
    auto trim = [](char c) { return c == '-' || c == '\'' || c == '"' || c == '.' || c == ','; };
    while (!tok.empty() && trim(tok.front())) tok.remove_prefix(1);
    while (!tok.empty() && trim(tok.back())) tok.remove_suffix(1);
    // "*do* keep 3-byte tokens; there's some solid signs in there"
    if (tok.size() < 3) return;
    if (is_stopword(tok)) return;

    if (where != region::header) {
      size_t at = tok.find('@', 1);
      if (at != std::string_view::npos && at + 1 < tok.size()) {
        // CHEW_BODY_MAILADDRS
        addr_.clear();
        append_mail_addr_tokens(tok, addr_);
        for_each_word(addr_, [this](std::string_view t) { emit(t); });
      } else if (has_domain_shape(tok)) {
        // CHEW_BODY_URIS: "UD:" + the token and each parent domain.
        emit("UD:", tok);
        std::string_view bit = tok;
        while (true) {
          size_t dot = bit.find('.');
          if (dot == 0 || dot == std::string_view::npos || dot + 1 >= bit.size()) break;
          bit.remove_prefix(dot + 1);
          emit("UD:", bit);
        }
      }
    }

    std::string_view t = tok;
    // Overlong tokens (but not "HTo:D*net"-style ones with '*').
    if (tok.size() > max_token_length && tok.find('*') == std::string_view::npos) {
      if (has_two_continuations(tok)) {
        // Bug 7135: the 3- and 4-byte UTF-8 characters of a long non-Latin token, each a
        // token "u8:<char>".
        size_t found = 0;
        for (size_t i = 0; i < tok.size();) {
          unsigned char c = tok[i];
          size_t n = 0;
          if (c >= 0xE0 && c <= 0xEF && i + 3 <= tok.size() && is_continuation(tok[i + 1]) &&
              is_continuation(tok[i + 2]))
            n = 3;
          else if (c >= 0xF0 && c <= 0xF4 && i + 4 <= tok.size() && is_continuation(tok[i + 1]) &&
                   is_continuation(tok[i + 2]) && is_continuation(tok[i + 3]))
            n = 4;
          if (n > 0) {
            emit(prefix, "u8:", tok.substr(i, n));
            ++found;
            i += n;
          } else {
            ++i;
          }
        }
        if (found > 0) return;
      }
      if (where != region::uri) {
        // Spambayes' trick: keep 7 characters, "sk:" for "skip" (Bug 7141: characters,
        // not bytes, when followed by at least two more bytes).
        size_t end = 0;
        for (int k = 0; k < 7 && end < tok.size(); ++k) {
          size_t n = utf8_sequence_at(tok, end);
          end += n > 0 ? n : 1;
        }
        if (tok.size() >= end + 2) {
          long_.assign("sk:");
          long_.append(tok.substr(0, end));
          t = long_;
        }
      }
    }

    if (where != region::header) {
      // DECOMPOSE_BODY_TOKENS: "Foo!" also as "Foo", "foo!" and "foo".
      bool has_other = std::any_of(t.begin(), t.end(), [](char c) { return !keep_when_decomposing(c); });
      if (has_other) emit(prefix, stripped(t));
      if (std::any_of(t.begin(), t.end(), [](char c) { return is_upper(c); })) {
        lower_.assign(t);
        for (char& c : lower_) c = absl::ascii_tolower(static_cast<unsigned char>(c));
        emit(prefix, lower_);
        if (has_other) emit(prefix, stripped(lower_));
      }
    }
    emit(prefix, t);
  }

  // /\S\.[a-z]/i
  static bool has_domain_shape(std::string_view tok) {
    for (size_t i = 1; i + 1 < tok.size(); ++i) {
      if (tok[i] == '.' && tok[i - 1] != ' ' && absl::ascii_isalpha(static_cast<unsigned char>(tok[i + 1]))) {
        return true;
      }
    }
    return false;
  }

  static bool has_two_continuations(std::string_view tok) {
    for (size_t i = 0; i + 1 < tok.size(); ++i) {
      if (is_continuation(tok[i]) && is_continuation(tok[i + 1])) return true;
    }
    return false;
  }

  std::string_view stripped(std::string_view t) {
    strip_.clear();
    for (char c : t) {
      if (keep_when_decomposing(c)) strip_.push_back(c);
    }
    return strip_;
  }

  Sink& sink_;
  size_t emitted_ = 0;
  std::string mapped_, work_, scratch_, addr_, long_, lower_, strip_;
};

// ---------------------------------------------------------------------------------------
// tokenize().

template <typename Sink>
void tokenize_headers(const mail::message_text& text, line_tokenizer<Sink>& lines) {
  // Compressed header name -> the values, joined by spaces.
  absl::flat_hash_map<std::string, std::string> parsed;
  auto add = [&](std::string_view name, std::string_view value) {
    auto [it, inserted] = parsed.try_emplace(std::string(name));
    if (!inserted) it->second.push_back(' ');
    it->second.append(value);
  };

  // Only the last two Received fields — the first hops, "usually a good source of
  // spamware tokens and HELO names" — are used. Departure: SA also tokenizes its relay
  // metadata (X-Spam-Relays-Untrusted/-External, every parsed hop, as "H*RU:" and
  // "Hx-spam-relays-external:"). An approximation of it made the SpamAssassin public
  // corpus results worse (spam-2 at p>0.99: 46.6% -> 40.7%, no ham gain), so it is left
  // out.
  std::vector<const mail::text_header*> received;
  std::vector<const mail::text_header*> fields;
  for (const mail::text_header& h : text.headers) {
    if (mail::equals_ignore_case(h.name, "received")) {
      received.push_back(&h);
      continue;
    }
    if (is_ignored_header(h.name)) continue;
    fields.push_back(&h);
  }
  if (!received.empty()) fields.push_back(received[received.size() - 1]);
  if (received.size() >= 2) fields.push_back(received[received.size() - 2]);

  std::string value;
  for (const mail::text_header* h : fields) {
    std::string_view name = h->name;
    if (strip_spaces(h->decoded).empty()) continue;
    if (is_message_id_header(name)) {
      value = chew_message_id(h->decoded);
    } else if (is_address_header(name)) {
      value = chew_address_header(h->decoded);
    } else if (name == "Received") {
      value = chew_received(h->decoded);
    } else if (name == "Content-Type") {
      value = chew_content_type(h->decoded);
    } else if (name == "MIME-Version") {
      value = h->decoded;
      if (size_t p = value.find("1.0"); p != std::string::npos) value.erase(p, 3);  // totally innocuous
    } else if (is_presence_only_header(name)) {
      value = "1";
    } else {
      value = h->decoded;
    }
    // MAP_HEADERS_MID / _FROMTOCC / _USERAGENT: the same tokens again under a shared
    // name, so a sign learned in one of these headers counts in its siblings.
    if (iequals_any(name, {"in-reply-to", "references", "message-id"})) add("*MI", value);
    if (iequals_any(name, {"from", "to", "cc"})) add("*Ad", value);
    if (iequals_any(name, {"x-mailer", "user-agent"})) add("*UA", value);
    add(compressed_header_name(name), value);
  }

  size_t count = 0;
  std::string prefix;
  for (const auto& [name, v] : parsed) {
    prefix.assign("H").append(name).append(":");
    count += lines.tokenize(v, prefix, region::header);
    if (count >= max_header_tokens) break;
  }
}

template <typename Sink>
void tokenize_message(const mail::message_text& text, Sink& sink) {
  line_tokenizer<Sink> lines(sink);
  // Visible body text, one paragraph per line (the Subject is its first line).
  size_t count = 0;
  std::string_view body = text.body;
  while (!body.empty() && count < max_body_tokens) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    count += lines.tokenize(line, "", region::body);
    if (nl == std::string_view::npos) break;
    body.remove_prefix(nl + 1);
  }
  count = 0;
  for (const std::string& uri : text.uris) {
    count += lines.tokenize(uri, "", region::uri);
    if (count >= max_uri_tokens) break;
  }
  tokenize_headers(text, lines);
}

}  // namespace

uint64_t bayes_token_hash(std::string_view token) { return fnv1a64(token); }

std::vector<uint64_t> bayes_tokens(const mail::message_text& text) {
  std::vector<uint64_t> out;
  out.reserve(1024);
  auto sink = [&out](std::string_view token) { out.push_back(bayes_token_hash(token)); };
  tokenize_message(text, sink);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> bayes_token_strings(const mail::message_text& text) {
  absl::flat_hash_set<std::string> seen;
  std::vector<std::string> out;
  auto sink = [&](std::string_view token) {
    if (seen.insert(std::string(token)).second) out.emplace_back(token);
  };
  tokenize_message(text, sink);
  return out;
}

}  // namespace ringmail::spam

#include "delivery/relay/smtp_reply.h"

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mail/header.h"

namespace ringmail::relay {
namespace {

using mail::equals_ignore_case;

// Reads 1-3 digits at the start of `s`; advances it. nullopt if none or more than three.
std::optional<int> take_number(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[n]))) ++n;
  if (n == 0 || n > 3) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + (s[i] - '0');
  s.remove_prefix(n);
  return v;
}

// The next space-separated word of `s`; advances past it and the spaces after it.
std::string_view next_word(std::string_view& s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  size_t end = s.find(' ');
  std::string_view word = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return word;
}

void add_auth_mechanisms(extensions& e, std::string_view params) {
  while (!params.empty()) {
    std::string mech(next_word(params));
    if (mech.empty()) break;
    absl::AsciiStrToUpper(&mech);
    if (!e.offers_auth(mech)) e.auth.push_back(std::move(mech));
  }
}

}  // namespace

std::optional<reply_line> parse_reply_line(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with("\n")) {
    line.remove_suffix(1);
  }
  if (line.size() < 3) return std::nullopt;
  if (line[0] < '2' || line[0] > '5' || !absl::ascii_isdigit(static_cast<unsigned char>(line[1])) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(line[2]))) {
    return std::nullopt;
  }
  reply_line r;
  r.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (line.size() == 3) {
    r.last = true;
    return r;
  }
  if (line[3] != ' ' && line[3] != '-') return std::nullopt;
  r.last = line[3] == ' ';
  r.text = line.substr(4);
  return r;
}

std::string enhanced_status::str() const {
  if (!present()) return "";
  return absl::StrCat(klass, ".", subject, ".", detail);
}

std::optional<enhanced_status> parse_enhanced_status(std::string_view text) {
  enhanced_status e;
  auto klass = take_number(text);
  if (!klass || (*klass != 2 && *klass != 4 && *klass != 5) || text.empty() || text.front() != '.') {
    return std::nullopt;
  }
  text.remove_prefix(1);
  auto subject = take_number(text);
  if (!subject || text.empty() || text.front() != '.') return std::nullopt;
  text.remove_prefix(1);
  auto detail = take_number(text);
  if (!detail || (!text.empty() && text.front() != ' ')) return std::nullopt;
  e.klass = *klass;
  e.subject = *subject;
  e.detail = *detail;
  return e;
}

std::string smtp_reply::describe() const {
  std::string out = absl::StrCat(code);
  size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view part = std::string_view(text).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    out.append(first ? " " : " / ");
    out.append(part);
    first = false;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

reply_assembler::status reply_assembler::add(std::string_view line) {
  if (done_) {
    reply_ = smtp_reply{};
    lines_ = 0;
    done_ = false;
  }
  std::string_view bare = line;
  if (bare.ends_with("\n")) bare.remove_suffix(1);
  if (bare.ends_with("\r")) bare.remove_suffix(1);
  if (lines_ == kMaxReplyLines || bare.size() > kMaxReplyLine) return status::error;
  std::optional<reply_line> parsed = parse_reply_line(line);
  // Every line of a reply carries the same code (RFC 5321 section 4.2.1).
  if (!parsed || (lines_ > 0 && parsed->code != reply_.code)) return status::error;
  if (lines_ == 0) {
    reply_.code = parsed->code;
    if (auto e = parse_enhanced_status(parsed->text); e && e->klass == parsed->code / 100) reply_.enhanced = *e;
  } else {
    reply_.text.push_back('\n');
  }
  reply_.text.append(parsed->text);
  ++lines_;
  if (!parsed->last) return status::need_more;
  done_ = true;
  return status::complete;
}

bool extensions::offers_auth(std::string_view mechanism) const {
  for (const std::string& m : auth) {
    if (equals_ignore_case(m, mechanism)) return true;
  }
  return false;
}

extensions parse_extensions(const smtp_reply& ehlo) {
  extensions e;
  size_t pos = ehlo.text.find('\n');  // the first line is the greeting, not an extension
  while (pos != std::string::npos) {
    ++pos;
    size_t nl = ehlo.text.find('\n', pos);
    std::string_view params = std::string_view(ehlo.text).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (params.ends_with('\r')) params.remove_suffix(1);
    pos = nl;
    std::string_view keyword = next_word(params);
    if (equals_ignore_case(keyword, "PIPELINING")) {
      e.pipelining = true;
    } else if (equals_ignore_case(keyword, "STARTTLS")) {
      e.starttls = true;
    } else if (equals_ignore_case(keyword, "8BITMIME")) {
      e.eight_bit_mime = true;
    } else if (equals_ignore_case(keyword, "SIZE")) {
      // RFC 1870 section 4: "SIZE" [SP number]; 0 or no number means no fixed limit.
      e.size = true;
      std::string_view number = next_word(params);
      uint64_t limit = 0;
      auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), limit);
      if (ec == std::errc() && end == number.data() + number.size()) e.size_limit = limit;
    } else if (equals_ignore_case(keyword, "SMTPUTF8")) {
      e.smtputf8 = true;
    } else if (equals_ignore_case(keyword, "ENHANCEDSTATUSCODES")) {
      e.enhanced_status_codes = true;
    } else if (equals_ignore_case(keyword, "CHUNKING")) {
      e.chunking = true;
    } else if (equals_ignore_case(keyword, "DSN")) {
      e.dsn = true;
    } else if (equals_ignore_case(keyword, "AUTH")) {
      add_auth_mechanisms(e, params);
    } else if (keyword.size() > 5 && equals_ignore_case(keyword.substr(0, 5), "AUTH=")) {
      add_auth_mechanisms(e, keyword.substr(5));
      add_auth_mechanisms(e, params);
    }
  }
  return e;
}

outcome outcome_of(int code) {
  if (code >= 200 && code < 400) return outcome::ok;
  if (code >= 400 && code < 500) return outcome::temp_fail;
  if (code >= 500 && code < 600) return outcome::perm_fail;
  return outcome::error;
}

disposition classify(int code) {
  if (code >= 200 && code < 300) return disposition::delivered;
  if (code >= 500 && code < 600) return disposition::bounced;
  return disposition::deferred;
}

const char* disposition_name(disposition d) {
  switch (d) {
    case disposition::delivered: return "delivered";
    case disposition::deferred: return "deferred";
    case disposition::bounced: return "bounced";
  }
  return "?";
}

}  // namespace ringmail::relay

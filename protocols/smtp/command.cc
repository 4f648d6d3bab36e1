// Verb table and MAIL/RCPT/BDAT argument parsers; see command.h.
//
// The address grammar is RFC 5321 section 4.1.2 as extended by RFC 6531 section 3.3
// (UTF8-non-ascii in atext, qtextSMTP and sub-domains). Parsing follows the grammar
// byte by byte rather than searching for '>' or ' ', so nothing a client puts between
// the brackets (quotes, spaces, ';', '>') can end the path early or be mistaken for a
// parameter.
#include "protocols/smtp/command.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace ringmail::smtp {

namespace {

constexpr std::array<command_info, 15> table{{
    {verb::ehlo, "EHLO", allowed_before_tls | ends_pipeline_group},
    {verb::helo, "HELO", allowed_before_tls | ends_pipeline_group},
    {verb::mail, "MAIL", needs_helo},
    {verb::rcpt, "RCPT", needs_helo},
    {verb::data, "DATA", needs_helo | ends_pipeline_group},
    {verb::bdat, "BDAT", needs_helo},
    {verb::rset, "RSET", allowed_before_tls},
    {verb::noop, "NOOP", allowed_before_tls | ends_pipeline_group},
    {verb::quit, "QUIT", allowed_before_tls | ends_pipeline_group},
    {verb::vrfy, "VRFY", ends_pipeline_group},
    {verb::help, "HELP", 0},
    {verb::starttls, "STARTTLS", allowed_before_tls | ends_pipeline_group | needs_helo},
    {verb::auth, "AUTH", ends_pipeline_group | needs_helo},
    {verb::lhlo, "LHLO", allowed_before_tls | ends_pipeline_group},
    {verb::unknown, "", 0},
}};
static_assert(table.size() == size_t(verb::unknown) + 1);

// What each role adds to a verb's flags: one table per role, in enum order, so a rule
// reads like Postfix's smtpd_cmd_table plus its per-service master.cf overrides.
using role_table = std::array<uint32_t, size_t(verb::unknown) + 1>;
//                                ehlo  helo  mail  rcpt  data  bdat  rset noop quit  vrfy  help  starttls  auth  lhlo  unknown
constexpr uint32_t T = needs_tls, A = needs_auth, X = not_in_role;
constexpr uint32_t auth_once = refused_after_auth;
// AUTH only with --smtp_mx_auth, and then only inside TLS (PLAIN and LOGIN are cleartext).
constexpr role_table mx_rules{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, needs_mx_auth | T | auth_once, X, 0};
// RFC 6409 4.3 / RFC 3207 4: before TLS only the commands flagged allowed_before_tls.
constexpr role_table submission_rules{0, 0, T | A, T | A, T | A, T | A, 0, 0, 0, T, T, 0, T | auth_once, X, 0};
// RFC 8314: TLS from the first byte, so needs_tls always holds; nothing to STARTTLS.
constexpr role_table submissions_rules{0, 0, T | A, T | A, T | A, T | A, 0, 0, 0, T, T, X, T | auth_once, X, 0};
constexpr role_table lmtp_rules{X, X, 0, 0, 0, 0, 0, 0, 0, 0, 0, X, X, 0, 0};
static_assert(table[size_t(verb::auth)].v == verb::auth && table[size_t(verb::lhlo)].v == verb::lhlo);

// RFC 5321 section 4.5.3.1.3: a reverse- or forward-path is at most 256 octets,
// including the angle brackets and any source route. Longer ones may be refused ("501
// Path too long", section 4.5.3.1); the bound also caps what a transaction stores per
// recipient. The 64-octet local-part limit (4.5.3.1.1) is not enforced: SRS and VERP
// senders exceed it in the wild, and section 4.5.3.1 asks for no limits where possible.
constexpr size_t max_path_octets = 256;
// RFC 1870 (size-value = 1*20DIGIT) and, by the same reasoning, RFC 3030 section 2's
// chunk-size: 20 digits hold every uint64_t; more is never a meaningful size.
constexpr size_t max_size_digits = 20;

reply_error syntax_error(const char* text) { return {501, "5.5.4", text}; }
reply_error too_big() {  // RFC 1870's reply / RFC 3463 X.3.4
  return {552, "5.3.4", "message size exceeds fixed maximum message size"};
}

char upper(char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool alnum(char c) { return alpha(c) || digit(c); }

// Any C0 control or DEL anywhere (CR, LF, NUL, TAB, ESC ...): none is legal in a
// command argument, and none may reach a log line or the directory.
bool has_control(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  return false;
}

// Well-formed UTF-8 (RFC 3629 section 4): no overlongs, surrogates or values past
// U+10FFFF.
bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((b(k) & 0xC0) != 0x80) return false;
    }
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F) ||
        (c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) {
      return false;
    }
    i += n;
  }
  return true;
}

// A read position in an argument that has no NUL (has_control ran first), so peek()
// can use '\0' for "at the end".
struct cursor {
  std::string_view s;
  size_t i = 0;

  bool at_end() const { return i >= s.size(); }
  char peek() const { return at_end() ? '\0' : s[i]; }
  bool eat(char c) {
    if (at_end() || s[i] != c) return false;
    ++i;
    return true;
  }
};

// atext (RFC 5322 section 3.2.3) plus UTF8-non-ascii (RFC 6531 section 3.3).
bool atext(char c) {
  return alnum(c) || non_ascii(c) || (c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c));
}

// Dot-string = Atom *("." Atom)
bool dot_string(cursor& c) {
  do {
    size_t start = c.i;
    while (atext(c.peek())) ++c.i;
    if (c.i == start) return false;
  } while (c.eat('.'));
  return true;
}

// Quoted-string = DQUOTE *QcontentSMTP DQUOTE; qtextSMTP is %d32-33 / %d35-91 /
// %d93-126 (plus UTF8-non-ascii); quoted-pairSMTP is "\" followed by %d32-126.
bool quoted_string(cursor& c) {
  if (!c.eat('"')) return false;
  for (;;) {
    char ch = c.peek();
    if (c.at_end()) return false;
    ++c.i;
    if (ch == '"') return true;
    if (ch == '\\') {
      char q = c.peek();
      if (c.at_end() || q < 32 || q > 126) return false;
      ++c.i;
    }
  }
}

// sub-domain = Let-dig [Ldh-str], where a U-label's UTF-8 counts as letters; IDNA
// validity of U-labels is the directory's business.
bool sub_domain(cursor& c) {
  auto let_dig = [](char ch) { return alnum(ch) || non_ascii(ch); };
  if (!let_dig(c.peek())) return false;
  char last = c.peek();
  while (let_dig(c.peek()) || c.peek() == '-') last = c.s[c.i++];
  return last != '-';
}

bool domain(cursor& c) {
  do {
    if (!sub_domain(c)) return false;
  } while (c.eat('.'));
  return true;
}

// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal ) "]". General
// address literals need a Standardized-tag and IANA has registered none but IPv6, so
// they are refused.
bool address_literal(cursor& c) {
  if (!c.eat('[')) return false;
  size_t close = c.s.find(']', c.i);
  if (close == std::string_view::npos) return false;
  std::string_view text = c.s.substr(c.i, close - c.i);
  c.i = close + 1;
  unsigned char addr[16];
  if (istarts_with(text, "IPv6:")) {
    return inet_pton(AF_INET6, std::string(text.substr(5)).c_str(), addr) == 1;
  }
  return inet_pton(AF_INET, std::string(text).c_str(), addr) == 1;
}

// Mailbox = Local-part "@" ( Domain / address-literal )
bool mailbox(cursor& c) {
  if (!(c.peek() == '"' ? quoted_string(c) : dot_string(c))) return false;
  if (!c.eat('@')) return false;
  return c.peek() == '[' ? address_literal(c) : domain(c);
}

// A-d-l = At-domain *( "," At-domain ) ":" - parsed and thrown away, as RFC 5321
// section 4.1.1.3 and appendix C tell servers to ignore source routes.
bool source_route(cursor& c) {
  do {
    if (!c.eat('@') || !domain(c)) return false;
  } while (c.eat(','));
  return c.eat(':');
}

enum class path_kind { reverse, forward };

struct path_errors {
  const char* usage;     // 501: the argument is not even shaped like "<...>"
  const char* enhanced;  // 553 for a bad address: X.1.7 sender, X.1.3 recipient
  const char* bad_address;
};

constexpr path_errors mail_errors{"syntax: MAIL FROM:<address> [parameters]", "5.1.7",
                                  "bad sender address syntax"};
constexpr path_errors rcpt_errors{"syntax: RCPT TO:<address> [parameters]", "5.1.3",
                                  "bad recipient address syntax"};

// Reverse-path / Forward-path, leaving the cursor after '>'. Returns the mailbox with
// any source route removed.
result<std::string> path(cursor& c, path_kind kind, const path_errors& e) {
  const size_t start = c.i;
  if (!c.eat('<')) return syntax_error(e.usage);
  auto bad = [&] { return reply_error{553, e.enhanced, e.bad_address}; };
  std::string_view mbox;
  if (kind == path_kind::reverse && c.eat('>')) {
    // The null reverse-path of bounces (RFC 5321 section 4.5.5).
  } else if (kind == path_kind::forward && istarts_with(c.s.substr(c.i), "Postmaster>")) {
    mbox = c.s.substr(c.i, 10);  // RFC 5321 section 4.1.1.3: "<Postmaster>" sans domain
    c.i += 11;
  } else {
    if (c.peek() == '@' && !source_route(c)) return bad();
    const size_t m = c.i;
    if (!mailbox(c)) return bad();
    mbox = c.s.substr(m, c.i - m);
    if (!c.eat('>')) return bad();
  }
  if (c.i - start > max_path_octets) {
    return reply_error{501, e.enhanced, "path too long"};
  }
  return std::string(mbox);
}

struct esmtp_param {
  std::string keyword;  // upper-cased
  bool has_value;
  std::string_view value;
};

// One esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 section 4.1.2):
// keyword (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), value 1*(%d33-60 / %d62-126).
std::optional<esmtp_param> param(std::string_view token) {
  size_t eq = token.find('=');
  std::string_view key = token.substr(0, eq);
  if (key.empty() || !alnum(key[0])) return std::nullopt;
  esmtp_param p{"", eq != std::string_view::npos, ""};
  for (char ch : key) {
    if (!alnum(ch) && ch != '-') return std::nullopt;
    p.keyword += upper(ch);
  }
  if (p.has_value) {
    p.value = token.substr(eq + 1);
    if (p.value.empty()) return std::nullopt;
  }
  for (char ch : p.value) {
    auto u = static_cast<unsigned char>(ch);
    if (u < 33 || u > 126 || ch == '=') return std::nullopt;
  }
  return p;
}

// xtext (RFC 3461 section 4, used by AUTH= per RFC 4954 section 5): "+" must be
// followed by two upper-case hex digits.
bool xtext(std::string_view v) {
  auto hex = [](char ch) { return digit(ch) || (ch >= 'A' && ch <= 'F'); };
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '+') continue;
    if (i + 2 >= v.size() || !hex(v[i + 1]) || !hex(v[i + 2])) return false;
    i += 2;
  }
  return true;
}

// 1*20DIGIT into a uint64_t: 501 for bad syntax, 552 for a value past 2^64-1.
result<uint64_t> decimal(std::string_view v, const char* syntax_text) {
  if (v.empty() || v.size() > max_size_digits) return syntax_error(syntax_text);
  uint64_t n = 0;
  for (char ch : v) {
    if (!digit(ch)) return syntax_error(syntax_text);
    if (__builtin_mul_overflow(n, 10u, &n) || __builtin_add_overflow(n, ch - '0', &n)) {
      return too_big();
    }
  }
  return n;
}

// Splits "[SP param *(SP param)]" after the path: one SP exactly, no trailing SP.
// Calls on_param(upper_keyword, has_value, value) for each; stops at its first error.
template <class F>
std::optional<reply_error> params(cursor& c, F&& on_param) {
  if (c.at_end()) return std::nullopt;
  if (!c.eat(' ')) return syntax_error("syntax: expected SP after the address");
  std::string_view rest = c.s.substr(c.i);
  std::vector<std::string> seen;
  for (;;) {
    size_t sp = rest.find(' ');
    std::string_view token = rest.substr(0, sp);
    std::optional<esmtp_param> p = param(token);
    if (!p) return syntax_error("bad parameter syntax");
    for (const std::string& s : seen) {
      if (s == p->keyword) return syntax_error("duplicate parameter");
    }
    if (auto err = on_param(p->keyword, p->has_value, p->value)) return err;
    seen.push_back(std::move(p->keyword));
    if (sp == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(sp + 1);
  }
}

reply_error unknown_param() {  // RFC 5321 section 4.1.1.11 / 4.2.2 code 555
  return {555, "5.5.4", "unsupported parameter"};
}

// RFC 6531 section 3.4: UTF-8 in a path only in an SMTPUTF8 transaction.
std::optional<reply_error> check_utf8(std::string_view p, bool smtputf8,
                                      const path_errors& e) {
  bool ascii = true;
  for (char ch : p) ascii = ascii && !non_ascii(ch);
  if (ascii) return std::nullopt;
  if (!smtputf8) return reply_error{553, "5.6.7", "non-ASCII address needs SMTPUTF8"};
  if (!valid_utf8(p)) return reply_error{553, e.enhanced, "malformed UTF-8 in address"};
  return std::nullopt;
}

// "FROM:" / "TO:" and the optional spaces Postfix tolerates after the colon.
bool prefix(cursor& c, std::string_view word) {
  if (!istarts_with(c.s, word)) return false;
  c.i = word.size();
  while (c.eat(' ')) {
  }
  return true;
}

}  // namespace

std::span<const command_info> command_table() { return table; }

const command_info& info(verb v) { return table[size_t(v)]; }

uint32_t role_flags(session_role role, verb v) {
  const role_table* rules = &mx_rules;
  switch (role) {
    case session_role::mx: rules = &mx_rules; break;
    case session_role::submission: rules = &submission_rules; break;
    case session_role::submissions: rules = &submissions_rules; break;
    case session_role::lmtp: rules = &lmtp_rules; break;
  }
  return info(v).flags | (*rules)[size_t(v)];
}

std::optional<reply_error> check_command(session_role role, verb v, const command_state& st) {
  const uint32_t f = role_flags(role, v);
  const bool lmtp = role == session_role::lmtp;
  if (f & not_in_role) {
    if (v == verb::ehlo || v == verb::helo) return reply_error{500, "5.5.1", "This is LMTP: use LHLO"};
    if (v == verb::lhlo) return reply_error{500, "5.5.1", "Command unrecognized: LHLO is LMTP"};
    if (v == verb::auth) return reply_error{502, "5.5.1", "AUTH is not available on this port"};
    return reply_error{502, "5.5.1", std::string(info(v).name) + " not available"};
  }
  if ((f & needs_mx_auth) && !st.mx_auth) {
    return reply_error{502, "5.5.1", "AUTH is not available on this port"};
  }
  if ((f & needs_helo) && !st.helo) {
    return reply_error{503, "5.5.1", lmtp ? "Error: send LHLO first" : "Error: send HELO/EHLO first"};
  }
  if ((f & needs_tls) && !st.tls) {
    // RFC 4954 section 6: 538 tells the client its mechanism needs encryption; for other
    // commands RFC 3207 section 4's 530.
    if (v == verb::auth) return reply_error{538, "5.7.11", "Encryption required for requested authentication mechanism"};
    return reply_error{530, "5.7.0", "Must issue a STARTTLS command first"};
  }
  if ((f & refused_after_auth) && st.authenticated) {
    return reply_error{503, "5.5.1", "Error: already authenticated"};
  }
  if ((f & needs_auth) && !st.authenticated) {
    return reply_error{530, "5.7.0", "Authentication required"};
  }
  return std::nullopt;
}

command parse_command(std::string_view line) {
  size_t sp = line.find(' ');
  std::string_view name = line.substr(0, sp);
  std::string_view arg = sp == std::string_view::npos ? "" : line.substr(sp + 1);
  for (const command_info& ci : table) {
    if (ci.v != verb::unknown && iequals(name, ci.name)) return {ci.v, arg};
  }
  return {verb::unknown, arg};
}

result<mail_from> parse_mail_from(std::string_view arg) {
  if (has_control(arg)) return syntax_error("control character in argument");
  cursor c{arg};
  if (!prefix(c, "FROM:")) return syntax_error(mail_errors.usage);
  auto p = path(c, path_kind::reverse, mail_errors);
  if (!p) return p.error();
  mail_from m;
  m.reverse_path = std::move(*p);
  auto err = params(c, [&](const std::string& key, bool has_value,
                           std::string_view value) -> std::optional<reply_error> {
    if (key == "SIZE") {
      auto n = decimal(has_value ? value : "", "SIZE needs a value of 1 to 20 digits");
      if (!n) return n.error();
      m.size = *n;
    } else if (key == "BODY") {
      if (iequals(value, "7BIT")) {
        m.body = body_type::seven_bit;
      } else if (iequals(value, "8BITMIME")) {
        m.body = body_type::eight_bit_mime;
      } else if (iequals(value, "BINARYMIME")) {
        m.body = body_type::binary_mime;
      } else {
        return syntax_error("BODY must be 7BIT, 8BITMIME or BINARYMIME");
      }
    } else if (key == "SMTPUTF8") {
      if (has_value) return syntax_error("SMTPUTF8 takes no value");
      m.smtputf8 = true;
    } else if (key == "AUTH") {
      if (!has_value || !xtext(value)) return syntax_error("AUTH needs an xtext value");
      m.other_params.emplace_back(key, value);
    } else {
      return unknown_param();
    }
    return std::nullopt;
  });
  if (err) return *err;
  if (auto e = check_utf8(m.reverse_path, m.smtputf8, mail_errors)) return *e;
  return m;
}

result<rcpt_to> parse_rcpt_to(std::string_view arg, bool smtputf8) {
  if (has_control(arg)) return syntax_error("control character in argument");
  cursor c{arg};
  if (!prefix(c, "TO:")) return syntax_error(rcpt_errors.usage);
  auto p = path(c, path_kind::forward, rcpt_errors);
  if (!p) return p.error();
  rcpt_to r;
  r.forward_path = std::move(*p);
  auto err = params(c, [](const std::string&, bool, std::string_view) {
    return std::optional<reply_error>(unknown_param());
  });
  if (err) return *err;
  if (auto e = check_utf8(r.forward_path, smtputf8, rcpt_errors)) return *e;
  return r;
}

result<bdat> parse_bdat(std::string_view arg) {
  constexpr const char* usage = "syntax: BDAT size [LAST]";
  if (has_control(arg)) return syntax_error("control character in argument");
  size_t sp = arg.find(' ');
  auto n = decimal(arg.substr(0, sp), usage);
  if (!n) return n.error();
  bdat b;
  b.size = *n;
  if (sp != std::string_view::npos) {
    if (!iequals(arg.substr(sp + 1), "LAST")) return syntax_error(usage);
    b.last = true;
  }
  return b;
}

}  // namespace ringmail::smtp

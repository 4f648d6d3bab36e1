// parse_imap_url(); see imap_url.h for what is accepted and refused.
//
// RFC 5092 section 11 (the parts we take):
//   imapurl        = "imap://" iserver ipath-query
//   iserver        = [iuserinfo "@"] host [":" port]
//   iuserinfo      = enc-user [iauth] / [enc-user] iauth ; iauth = ";AUTH=" ( "*" / enc-auth-type )
//   iabsolute-path = "/" [ icommand ]          ; icommand = imessagelist / imessagepart [iurlauth]
//   irelative-path = imessagelist / imsg-or-part
//   imessagepart   = imailbox-ref iuid [isection] [ipartial]
//   imailbox-ref   = enc-mailbox [uidvalidity] ; uidvalidity = ";UIDVALIDITY=" nz-number
//   iuid           = "/" iuid-only             ; iuid-only = ";UID=" nz-number
//   isection       = "/" isection-only         ; isection-only = ";SECTION=" enc-section
//   ipartial       = "/" ipartial-only         ; ipartial-only = ";PARTIAL=" partial-range
//   partial-range  = number ["." nz-number]
//   bchar = achar / ":" / "@" / "/" ; achar = uchar / "&" / "=" ; uchar = unreserved /
//           sub-delims-sh / pct-encoded ; sub-delims-sh = "!" / "$" / "'" / "(" / ")" /
//           "*" / "+" / ","
// Parameter names are matched case-insensitively (as Dovecot's imap-url.c does).
//
// Departure: a relative path that starts with a mailbox name ("Drafts;UID=3", resolved
// against the base's hierarchy by RFC 3986 section 5.2) is refused; clients send the
// iabsolute-path form ("/Drafts;UID=3") or ";UID=3".
#include "protocols/imap/imap_url.h"

#include <string>

#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap {

namespace {

constexpr size_t kMaxUrl = 8 * 1024;

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bchar, with "%" taken as the start of a pct-encoded triple (checked by pct_decode).
bool is_bchar(char c) {
  if (is_alnum(c)) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                           // unreserved
    case '!': case '$': case '\'': case '(': case ')': case '*': case '+': case ',':
    case '%': case '&': case '=': case ':': case '@': case '/':
      return true;
    default:
      return false;
  }
}

// Decodes %XX escapes of a run of bchars; false on a bad escape, a non-bchar or a NUL.
bool pct_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (!is_bchar(c)) return false;
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int h = hex_value(in[i + 1]);
    int l = hex_value(in[i + 2]);
    if (h < 0 || l < 0) return false;
    char d = static_cast<char>(h * 16 + l);
    if (d == '\0') return false;
    out.push_back(d);
    i += 2;
  }
  return true;
}

bool parse_u32(std::string_view s, uint32_t& out, bool nonzero) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xffffffffull || (nonzero && v == 0)) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && detail::iequals(s.substr(0, prefix.size()), prefix);
}

imap_url_result fail(const char* why) {
  imap_url_result r;
  r.error = why;
  return r;
}

// iserver: [enc-user [";AUTH=" type] "@"] host [":" port]
bool parse_server(std::string_view s, imap_url& u) {
  size_t at = s.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view info = s.substr(0, at);
    s.remove_prefix(at + 1);
    size_t semi = info.find(';');
    if (semi != std::string_view::npos) {
      std::string_view auth = info.substr(semi);
      if (!iequals_prefix(auth, ";AUTH=")) return false;
      auth.remove_prefix(6);
      if (auth.empty() || auth.find(';') != std::string_view::npos) return false;
      if (auth != "*" && !pct_decode(auth, u.auth)) return false;
      if (auth == "*") u.auth = "*";
      info = info.substr(0, semi);
    }
    if (info.find('@') != std::string_view::npos || !pct_decode(info, u.user)) return false;
    if (u.user.empty() && u.auth.empty()) return false;
  }
  std::string_view host = s;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view rest = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !parse_u32(rest.substr(1), u.port, true) || u.port > 65535) return false;
    }
    for (char c : host.substr(1, host.size() - 2)) {
      if (!is_alnum(c) && c != ':' && c != '.') return false;
    }
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      if (!parse_u32(host.substr(colon + 1), u.port, true) || u.port > 65535) return false;
      host = host.substr(0, colon);
    }
    if (host.empty()) return false;
    for (char c : host) {
      if (!is_alnum(c) && c != '-' && c != '.' && c != '_') return false;
    }
  }
  u.host.assign(host);
  for (char& c : u.host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return true;
}

}  // namespace

std::optional<section_spec> parse_section_text(std::string_view text) {
  // The FETCH grammar is the section-spec grammar: run it on " BODY.PEEK[text]". Bytes that
  // could end the brackets or open a literal are refused first, so the text cannot reach
  // beyond the section (a literal needs CRLF, refused here).
  if (text.empty() || text.size() > 4096) return std::nullopt;
  for (char c : text) {
    if (c == '[' || c == ']' || c == '\r' || c == '\n' || c == '\0' || c == '{' || c == '<') {
      return std::nullopt;
    }
  }
  std::string args = " BODY.PEEK[";
  args.append(text).append("]");
  detail::cursor c(args, parse_options{});
  command cmd;
  if (!detail::parse_fetch_args(c, cmd) || !c.ok() || cmd.fetch.size() != 1 ||
      cmd.fetch[0].k != fetch_item::kind::body_section || cmd.fetch[0].partial_origin) {
    return std::nullopt;
  }
  section_spec s = cmd.fetch[0].section;
  if (s.fields.size() > 100) return std::nullopt;
  return s;
}

imap_url_result parse_imap_url(std::string_view s) {
  if (s.empty()) return fail("Empty URL");
  if (s.size() > kMaxUrl) return fail("URL too long");
  imap_url u;
  std::string_view path;  // what follows the server part: "/..." or ";..."
  if (iequals_prefix(s, "imap://")) {
    s.remove_prefix(7);
    size_t slash = s.find('/');
    if (slash == std::string_view::npos) return fail("URL names no message");
    if (!parse_server(s.substr(0, slash), u)) return fail("Invalid server in URL");
    u.absolute = true;
    path = s.substr(slash);
  } else if (s.substr(0, 2) == "//") {
    return fail("Network-path URLs are not supported");
  } else if (s.front() == '/' || s.front() == ';') {
    path = s;
  } else {
    return fail("Relative mailbox paths are not supported");
  }
  if (path.find('?') != std::string_view::npos) return fail("Search URLs are not supported");
  if (path.front() == '/') {
    path.remove_prefix(1);
    size_t semi = path.find(';');
    std::string_view raw = path.substr(0, semi);
    if (semi == std::string_view::npos) return fail("URL names no message");
    path.remove_prefix(semi);
    // "/INBOX/;UID=1": the "/" before ";UID" separates; "/INBOX;UIDVALIDITY=1/;UID=1": none.
    const bool uidvalidity_next = iequals_prefix(path, ";UIDVALIDITY=");
    if (!uidvalidity_next) {
      if (raw.empty() || raw.back() != '/') return fail("Invalid URL");
      raw.remove_suffix(1);
    } else if (!raw.empty() && raw.back() == '/') {
      return fail("Invalid URL");  // ";UIDVALIDITY" follows the name directly
    }
    std::string box;
    if (raw.empty() || !pct_decode(raw, box)) return fail("Invalid mailbox in URL");
    u.mailbox = std::move(box);
  }
  // The parameters, in the grammar's order, each but the last ending in "/".
  enum { k_uidvalidity, k_uid, k_section, k_partial };
  int next_allowed = u.mailbox ? 0 : 1;  // no UIDVALIDITY without a mailbox
  while (!path.empty()) {
    if (path.front() != ';') return fail("Invalid URL");
    size_t end = path.find(';', 1);
    std::string_view param = path.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
    const bool more = !path.empty();
    if (more) {
      if (param.empty() || param.back() != '/') return fail("Invalid URL");
      param.remove_suffix(1);
    }
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) return fail("Invalid URL parameter");
    std::string_view name = param.substr(0, eq);
    std::string_view value = param.substr(eq + 1);
    int which = -1;
    if (detail::iequals(name, "UIDVALIDITY")) which = k_uidvalidity;
    else if (detail::iequals(name, "UID")) which = k_uid;
    else if (detail::iequals(name, "SECTION")) which = k_section;
    else if (detail::iequals(name, "PARTIAL")) which = k_partial;
    else if (detail::iequals(name, "EXPIRE") || detail::iequals(name, "URLAUTH") ||
             detail::iequals(name, "AUTH")) {
      return fail("URLAUTH URLs are not supported");
    } else {
      return fail("Unknown URL parameter");
    }
    if (which < next_allowed) return fail("URL parameters out of order");
    // UIDVALIDITY must be followed by UID (imessagepart), and UID comes before the rest.
    if (which > k_uid && u.uid == 0) return fail("URL names no message");
    next_allowed = which + 1;
    switch (which) {
      case k_uidvalidity:
        if (!parse_u32(value, u.uid_validity, true)) return fail("Invalid UIDVALIDITY in URL");
        break;
      case k_uid:
        if (!parse_u32(value, u.uid, true)) return fail("Invalid UID in URL");
        break;
      case k_section: {
        std::string text;
        if (!pct_decode(value, text)) return fail("Invalid section in URL");
        std::optional<section_spec> spec = parse_section_text(text);
        if (!spec) return fail("Invalid section in URL");
        u.section = std::move(spec);
        u.section_text = std::move(text);
        break;
      }
      case k_partial: {
        size_t dot = value.find('.');
        uint32_t origin = 0, length = 0;
        if (!parse_u32(value.substr(0, dot), origin, false)) return fail("Invalid PARTIAL in URL");
        u.partial_origin = origin;
        if (dot != std::string_view::npos) {
          if (!parse_u32(value.substr(dot + 1), length, true)) return fail("Invalid PARTIAL in URL");
          u.partial_length = length;
        }
        break;
      }
    }
  }
  if (u.uid == 0) return fail("URL names no message");
  imap_url_result r;
  r.url = std::move(u);
  return r;
}

}  // namespace ringmail::imap

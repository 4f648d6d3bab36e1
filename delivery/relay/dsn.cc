#include "delivery/relay/dsn.h"

#include <algorithm>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "delivery/relay/smtp_reply.h"
#include "mail/date.h"
#include "mail/header.h"
#include "runtime/fnv1a.h"

namespace ringmail::relay {
namespace {

constexpr char kCrlf[] = "\r\n";
// Postfix's bounce_print_wrap: LENGTH 79, INDENT 4. We keep lines under 78 (RFC 5322
// 2.1.1's SHOULD) and cut a word that alone would pass the 998-octet MUST.
constexpr size_t kWrapColumns = 78;
constexpr size_t kWrapIndent = 4;
constexpr size_t kMaxWordBytes = 900;
// The boundary before its collision suffix: RFC 2046 5.1.1 allows 70 characters, and the
// suffix ("." and 8 hex digits) takes 9.
constexpr size_t kBoundaryBaseBytes = 60;
constexpr size_t kBoundarySuffixBytes = 9;

std::string compact_date(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

bool is_printable_ascii(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

// Remote text made safe for one logical line: every run of control octets (CR, LF, TAB,
// NUL, ...) and spaces becomes one space, 8-bit octets '?' (Postfix's bounce_log_read
// masks the same way); leading and trailing space dropped.
std::string clean_text(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool space = false;
  for (unsigned char c : in) {
    if (c <= 0x20 || c == 0x7f) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c >= 0x80 ? '?' : static_cast<char>(c);
  }
  return out;
}

// A host name from our configuration or a remote reply: [A-Za-z0-9.-_:[]] kept (an
// address literal "[192.0.2.1]" stays readable), anything else '-'.
std::string clean_host(std::string_view in) {
  std::string out;
  for (unsigned char c : in.substr(0, 255)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
    out += ok ? static_cast<char>(c) : '-';
  }
  return out.empty() ? "localhost" : out;
}

// Appends `text` (one line, already clean: no control octets) wrapped at spaces into lines
// of at most kWrapColumns, continuation lines indented by kWrapIndent spaces, each line
// ending in CRLF. In a header field the indented lines are folding (RFC 5322 2.2.3).
void append_wrapped(std::string& out, std::string_view text) {
  size_t column = 0;
  bool first_word = true;
  while (!text.empty()) {
    size_t sp = text.find(' ');
    std::string_view word = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view{} : text.substr(sp + 1);
    if (word.empty()) continue;
    while (!word.empty()) {
      std::string_view piece = word.substr(0, kMaxWordBytes);
      word.remove_prefix(piece.size());
      if (!first_word && column + 1 + piece.size() > kWrapColumns) {
        out += kCrlf;
        out.append(kWrapIndent, ' ');
        column = kWrapIndent;
      } else if (!first_word) {
        out += ' ';
        ++column;
      }
      out += piece;
      column += piece.size();
      first_word = false;
    }
  }
  out += kCrlf;
}

// Decodes one UTF-8 sequence at `s` (not empty); an invalid one is U+FFFD for one octet.
char32_t next_code_point(std::string_view& s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t len = 0;
  char32_t cp = 0;
  if (b0 < 0x80) { len = 1; cp = b0; }
  else if (b0 >= 0xc2 && b0 <= 0xdf) { len = 2; cp = b0 & 0x1f; }
  else if (b0 >= 0xe0 && b0 <= 0xef) { len = 3; cp = b0 & 0x0f; }
  else if (b0 >= 0xf0 && b0 <= 0xf4) { len = 4; cp = b0 & 0x07; }
  bool ok = len != 0 && s.size() >= len;
  for (size_t i = 1; ok && i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    ok = (b & 0xc0) == 0x80;
    cp = (cp << 6) | (b & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not characters.
  if (ok && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
             (cp >= 0xd800 && cp <= 0xdfff))) {
    ok = false;
  }
  if (!ok) {
    s.remove_prefix(1);
    return 0xfffd;
  }
  s.remove_prefix(len);
  return cp;
}

// An address as a DSN field value: "rfc822; a@b" for printable ASCII, otherwise RFC 6533's
// "utf-8; " utf-8-addr-xtext, where every octet outside QCHAR ('+', '=', '\', space,
// controls, non-ASCII) is written "\x{HEX}" of its code point. Either way one line of
// printable ASCII.
struct typed_address {
  const char* type;
  std::string text;
};

typed_address dsn_address(std::string_view addr) {
  if (!addr.empty() && std::all_of(addr.begin(), addr.end(), [](char c) { return is_printable_ascii(c); })) {
    return {"rfc822", std::string(addr)};
  }
  typed_address out{"utf-8", {}};
  std::string_view rest = addr.substr(0, 1024);
  while (!rest.empty()) {
    const char32_t cp = next_code_point(rest);
    if (cp >= 0x21 && cp <= 0x7e && cp != '+' && cp != '=' && cp != '\\') {
      out.text += static_cast<char>(cp);
    } else {
      absl::StrAppendFormat(&out.text, "\\x{%X}", static_cast<uint32_t>(cp));
    }
  }
  return out;
}

// RFC 5322 3.2.3 atext.
bool is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_dot_atom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!is_atext(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

// The sender as the To: field's addr-spec: the local part quoted when it is not a
// dot-atom (RFC 5322 3.4.1), control octets masked (wants_dsn refuses such senders; this
// is the second wall). 8-bit octets stay: an SMTPUTF8 sender gets an RFC 6532 header.
std::string to_field(std::string_view sender) {
  std::string masked;
  for (unsigned char c : sender.substr(0, 1024)) masked += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  const size_t at = masked.rfind('@');
  std::string_view local = std::string_view(masked).substr(0, at);
  std::string_view domain = at == std::string::npos ? std::string_view{} : std::string_view(masked).substr(at);
  if (is_dot_atom(local)) return masked;
  std::string q = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  q += '"';
  q.append(domain);
  return q;
}

// The original's header section: up to its first empty line, line ends made CRLF (a bare
// CR inside a line becomes a space), cut at the last whole line within
// kMaxReturnedHeaderBytes.
std::string returned_headers(std::string_view original) {
  std::string out;
  size_t pos = 0;
  while (pos < original.size()) {
    size_t nl = original.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? original.size() : nl;
    std::string_view line = original.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header section
    if (out.size() + line.size() + 2 > kMaxReturnedHeaderBytes) break;
    for (char c : line) out += c == '\r' ? ' ' : c;
    out += kCrlf;
    pos = end + 1;
  }
  return out;
}

bool has_8bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// The recipient's status, or the kind's default when it is missing or of the wrong class.
std::string status_of(const dsn_recipient& r, dsn_kind kind) {
  const int want = kind == dsn_kind::failure ? 5 : 4;
  auto st = parse_enhanced_status(r.status);
  if (st && st->klass == want && st->str() == r.status) return r.status;
  return want == 5 ? "5.0.0" : "4.0.0";
}

std::string duration_text(int64_t seconds, const char* unit, int64_t unit_seconds) {
  const int64_t n = std::max<int64_t>(seconds / unit_seconds, 0);
  return absl::StrCat(n, " ", unit, "(s)");
}

std::string notification_text(const dsn_request& rq, const std::string& host) {
  std::string t = absl::StrCat("This is the mail system at host ", host, ".", kCrlf, kCrlf);
  if (rq.kind == dsn_kind::failure) {
    t += "I'm sorry to have to inform you that your message could not\r\n"
         "be delivered to one or more recipients. Its headers are attached below.\r\n";
  } else {
    t += "####################################################################\r\n"
         "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
         "####################################################################\r\n\r\n";
    const int64_t waited = rq.now - rq.arrival;
    t += "Your message could not be delivered for more than ";
    t += waited >= 3600 ? duration_text(waited, "hour", 3600) : duration_text(waited, "minute", 60);
    t += ".\r\n";
    if (rq.retry_until > rq.arrival) {
      const int64_t life = rq.retry_until - rq.arrival;
      t += "It will be retried until it is ";
      t += life >= 86400 ? duration_text(life, "day", 86400) : duration_text(life, "hour", 3600);
      t += " old.\r\n";
    }
  }
  t += "\r\nFor further assistance, please send mail to postmaster.\r\n\r\n"
       "If you do so, please include this problem report. You can\r\n"
       "delete your own text from the attached returned message.\r\n\r\n"
       "                   The mail system\r\n";
  for (const dsn_recipient& r : rq.recipients) {
    std::string line = absl::StrCat("<", dsn_address(r.address).text, ">");
    if (!r.original.empty() && !mail::equals_ignore_case(r.original, r.address)) {
      absl::StrAppend(&line, " (expanded from <", dsn_address(r.original).text, ">)");
    }
    line += ": ";
    if (!r.remote_mta.empty()) absl::StrAppend(&line, "host ", clean_host(r.remote_mta), " said: ");
    line += clean_text(r.diagnostic);
    t += kCrlf;
    append_wrapped(t, line);
  }
  return t;
}

std::string delivery_status(const dsn_request& rq, const std::string& host, const std::string& queue_id) {
  std::string s = absl::StrCat("Reporting-MTA: dns; ", host, kCrlf);
  absl::StrAppend(&s, "X-Ringmail-Queue-ID: ", queue_id, kCrlf);
  if (!rq.sender.empty()) {
    typed_address from = dsn_address(rq.sender);
    append_wrapped(s, absl::StrCat("X-Ringmail-Sender: ", from.type, "; ", from.text));
  }
  if (rq.arrival > 0) absl::StrAppend(&s, "Arrival-Date: ", mail::format_message_date(rq.arrival), kCrlf);
  for (const dsn_recipient& r : rq.recipients) {
    s += kCrlf;  // RFC 3464 2.1: each group of per-recipient fields follows an empty line
    typed_address final_rcpt = dsn_address(r.address);
    append_wrapped(s, absl::StrCat("Final-Recipient: ", final_rcpt.type, "; ", final_rcpt.text));
    if (!r.original.empty()) {
      typed_address orig = dsn_address(r.original);
      append_wrapped(s, absl::StrCat("Original-Recipient: ", orig.type, "; ", orig.text));
    }
    absl::StrAppend(&s, "Action: ", rq.kind == dsn_kind::failure ? "failed" : "delayed", kCrlf);
    absl::StrAppend(&s, "Status: ", status_of(r, rq.kind), kCrlf);
    if (!r.remote_mta.empty()) append_wrapped(s, absl::StrCat("Remote-MTA: dns; ", clean_host(r.remote_mta)));
    const std::string diagnostic = clean_text(r.diagnostic);
    if (!diagnostic.empty()) {
      // RFC 3464 2.3.6: "smtp" when the text is an SMTP reply; our own reason otherwise
      // (Postfix: "X-Postfix; <reason>").
      append_wrapped(s, absl::StrCat("Diagnostic-Code: ", r.remote_mta.empty() ? "X-Ringmail" : "smtp", "; ",
                                     diagnostic));
    }
    if (r.last_attempt > 0) absl::StrAppend(&s, "Last-Attempt-Date: ", mail::format_message_date(r.last_attempt), kCrlf);
    if (rq.kind == dsn_kind::delay && rq.retry_until > 0) {
      absl::StrAppend(&s, "Will-Retry-Until: ", mail::format_message_date(rq.retry_until), kCrlf);
    }
  }
  return s;
}

// RFC 2046 5.1.1: the boundary must occur in none of the parts. `base` is tried first; if
// it occurs anywhere, base + "." + 8 hex digits, with the first number that follows no
// occurrence of base. Linear in the content: each occurrence rules out one number, so
// one of the first (occurrences + 1) numbers is free.
std::string pick_boundary(const std::string& base, std::initializer_list<std::string_view> contents) {
  std::vector<std::string> taken;
  for (std::string_view c : contents) {
    for (size_t at = c.find(base); at != std::string_view::npos; at = c.find(base, at + 1)) {
      taken.emplace_back(c.substr(at + base.size(), kBoundarySuffixBytes));
    }
  }
  if (taken.empty()) return base;
  std::sort(taken.begin(), taken.end());
  for (uint32_t i = 0;; ++i) {
    std::string suffix = absl::StrFormat(".%08x", i);
    if (!std::binary_search(taken.begin(), taken.end(), suffix)) return base + suffix;
  }
}

}  // namespace

std::string build_dsn(const dsn_request& rq) {
  const std::string host = clean_host(rq.reporting_mta);
  std::string queue_id;
  for (unsigned char c : rq.queue_id.substr(0, 64)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    queue_id += ok ? static_cast<char>(c) : '-';
  }
  if (queue_id.empty()) queue_id = "unknown";

  const std::string text = notification_text(rq, host);
  const std::string status = delivery_status(rq, host, queue_id);
  const std::string headers = returned_headers(rq.original);
  const bool eight_bit = has_8bit(headers);

  // Postfix: "<queue id>.<time>/<myhostname>". '/' is not a token character, so the
  // parameter is quoted below.
  std::string base = absl::StrCat(queue_id, ".", rq.now, "/", host);
  if (base.size() > kBoundaryBaseBytes) base.resize(kBoundaryBaseBytes);
  const std::string boundary = pick_boundary(base, {text, status, headers});

  uint64_t h = fnv1a64(rq.kind == dsn_kind::failure ? "failure" : "delay");
  for (const dsn_recipient& r : rq.recipients) h = fnv1a64(r.address, fnv1a64("\n", h));

  std::string m;
  m.reserve(text.size() + status.size() + headers.size() + 1024);
  absl::StrAppend(&m, "Date: ", mail::format_message_date(rq.now), kCrlf);
  absl::StrAppend(&m, "Message-ID: <", compact_date(rq.now), ".", queue_id, ".", absl::Hex(h, absl::kZeroPad16), "@",
                  host, ">", kCrlf);
  absl::StrAppend(&m, "From: Mail Delivery System <MAILER-DAEMON@", host, ">", kCrlf);
  absl::StrAppend(&m, "Subject: ",
                  rq.kind == dsn_kind::failure ? "Undelivered Mail Returned to Sender"
                                               : "Delayed Mail (still being retried)",
                  kCrlf);
  append_wrapped(m, absl::StrCat("To: ", to_field(rq.sender)));
  absl::StrAppend(&m, "Auto-Submitted: auto-replied", kCrlf);
  absl::StrAppend(&m, "MIME-Version: 1.0", kCrlf);
  absl::StrAppend(&m, "Content-Type: multipart/report; report-type=delivery-status;", kCrlf, "\tboundary=\"",
                  boundary, "\"", kCrlf);
  absl::StrAppend(&m, "Content-Transfer-Encoding: ", eight_bit ? "8bit" : "7bit", kCrlf);
  absl::StrAppend(&m, kCrlf, "This is a MIME-encapsulated message.", kCrlf);

  absl::StrAppend(&m, kCrlf, "--", boundary, kCrlf);
  absl::StrAppend(&m, "Content-Description: Notification", kCrlf);
  absl::StrAppend(&m, "Content-Type: text/plain; charset=us-ascii", kCrlf, kCrlf);
  m += text;

  absl::StrAppend(&m, kCrlf, "--", boundary, kCrlf);
  absl::StrAppend(&m, "Content-Description: Delivery report", kCrlf);
  absl::StrAppend(&m, "Content-Type: message/delivery-status", kCrlf, kCrlf);
  m += status;

  absl::StrAppend(&m, kCrlf, "--", boundary, kCrlf);
  absl::StrAppend(&m, "Content-Description: Undelivered Message Headers", kCrlf);
  absl::StrAppend(&m, "Content-Type: text/rfc822-headers", kCrlf);
  if (eight_bit) absl::StrAppend(&m, "Content-Transfer-Encoding: 8bit", kCrlf);
  m += kCrlf;
  m += headers;

  absl::StrAppend(&m, kCrlf, "--", boundary, "--", kCrlf);
  return m;
}

bool wants_dsn(std::string_view reverse_path) {
  if (reverse_path.empty()) return false;
  for (unsigned char c : reverse_path) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  const size_t at = reverse_path.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == reverse_path.size()) return false;
  return !mail::equals_ignore_case(reverse_path.substr(0, at), "MAILER-DAEMON");
}

}  // namespace ringmail::relay

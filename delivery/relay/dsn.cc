#include "delivery/relay/dsn.h"

#include <algorithm>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "delivery/relay/notice_format.h"
#include "delivery/relay/smtp_reply.h"
#include "mail/date.h"
#include "mail/header.h"
#include "runtime/fnv1a.h"

namespace ringmail::relay {
namespace {

constexpr char kCrlf[] = "\r\n";
// The boundary before its collision suffix (pick_boundary, notice_format.h): RFC 2046
// 5.1.1 allows 70 characters, and the suffix ("." and 8 hex digits) takes 9.
constexpr size_t kBoundaryBaseBytes = 60;

std::string compact_date(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
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
    std::string line = absl::StrCat("<", notice_address(r.address).text, ">");
    if (!r.original.empty() && !mail::equals_ignore_case(r.original, r.address)) {
      absl::StrAppend(&line, " (expanded from <", notice_address(r.original).text, ">)");
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
    typed_address from = notice_address(rq.sender);
    append_wrapped(s, absl::StrCat("X-Ringmail-Sender: ", from.type, "; ", from.text));
  }
  if (rq.arrival > 0) absl::StrAppend(&s, "Arrival-Date: ", mail::format_message_date(rq.arrival), kCrlf);
  for (const dsn_recipient& r : rq.recipients) {
    s += kCrlf;  // RFC 3464 2.1: each group of per-recipient fields follows an empty line
    typed_address final_rcpt = notice_address(r.address);
    append_wrapped(s, absl::StrCat("Final-Recipient: ", final_rcpt.type, "; ", final_rcpt.text));
    if (!r.original.empty()) {
      typed_address orig = notice_address(r.original);
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

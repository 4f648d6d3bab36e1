#include "delivery/sieve/vacation.h"

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "delivery/relay/notice_format.h"
#include "delivery/sieve/address_part.h"
#include "mail/date.h"
#include "mail/message.h"
#include "mail/rfc2047.h"

namespace ringmail::sieve {
namespace {

constexpr char kCrlf[] = "\r\n";

// RFC 2369 and RFC 2919: the headers a list manager adds (Pigeonhole's _list_headers).
constexpr std::array<std::string_view, 7> kListHeaders = {
    "List-Id", "List-Owner", "List-Subscribe", "List-Post", "List-Unsubscribe", "List-Help", "List-Archive"};
// RFC 5230 4.5: where the user's own address must appear.
constexpr std::array<std::string_view, 6> kRecipientHeaders = {"To",        "Cc",        "Bcc",
                                                                "Resent-To", "Resent-Cc", "Resent-Bcc"};

// Debian's abseil has its own string_view type, so absl::StartsWithIgnoreCase does not
// take std::string_view (mail/header.h says the same of EqualsIgnoreCase).
bool starts_with_ignore_case(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && mail::equals_ignore_case(s.substr(0, prefix.size()), prefix);
}
bool ends_with_ignore_case(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && mail::equals_ignore_case(s.substr(s.size() - suffix.size()), suffix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// The keyword of an Auto-Submitted: or Precedence: value: up to ';', '(' or white
// space (RFC 3834 5: auto-submitted-field = "Auto-Submitted:" [CFWS] auto-submitted
// *(CFWS ";" ...)).
std::string keyword_of(std::string_view raw) {
  const std::string value = mail::unfold(raw);
  std::string_view v = trim(value);
  const size_t end = v.find_first_of("; \t(");
  return std::string(v.substr(0, end));
}

bool has_value(const mail::header_block& header, std::string_view name,
               std::initializer_list<std::string_view> keywords, bool negate) {
  for (const mail::header_field* f : header.find_all(name)) {
    const std::string k = keyword_of(f->value);
    bool listed = false;
    for (std::string_view want : keywords) listed = listed || mail::equals_ignore_case(k, want);
    if (listed != negate) return true;
  }
  return false;
}

bool same_address(std::string_view a, std::string_view b) {
  return !a.empty() && mail::equals_ignore_case(a, b);
}

// "local@domain" of every readable address in the header's To/Cc/... fields.
std::vector<std::string> addressed_to(const mail::header_block& header) {
  std::vector<std::string> out;
  for (std::string_view name : kRecipientHeaders) {
    for (const mail::header_field* f : header.find_all(name)) {
      for (const matching::parsed_address& a : matching::parse_address_list(f->value)) {
        if (a.valid) out.push_back(absl::StrCat(a.local_part, "@", a.domain));
      }
    }
  }
  return out;
}

bool is_atext_phrase(std::string_view s) {
  for (unsigned char c : s) {
    const bool ok = absl::ascii_isalnum(c) || c == ' ' || c >= 0x80 ||
                    std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// A display name for From: (RFC 5322 3.4 phrase): encoded words when not ASCII, else an
// atom sequence as is, else a quoted string.
std::string display_phrase(std::string_view name) {
  const std::string text = header_text(name, 128);
  if (text.empty()) return {};
  const std::string encoded = mail::encode_header_words(text);
  if (encoded != text || is_atext_phrase(text)) return encoded;
  std::string q = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  q += '"';
  return q;
}

// The From: value: the script's :from when it reads as an address, else <reply_from>.
std::string from_value(const action& v, std::string_view reply_from) {
  if (v.from && !v.from->empty()) {
    for (const matching::parsed_address& a : matching::parse_address_list(*v.from)) {
      if (!a.valid) continue;
      const std::string addr = relay::to_field(absl::StrCat(a.local_part, "@", a.domain));
      const std::string phrase = display_phrase(a.display_name);
      return phrase.empty() ? absl::StrCat("<", addr, ">") : absl::StrCat(phrase, " <", addr, ">");
    }
  }
  return absl::StrCat("<", relay::to_field(reply_from), ">");
}

std::string subject_of(const vacation_reply_request& rq) {
  const action& v = *rq.vacation;
  if (v.subject && !header_text(*v.subject).empty()) return *v.subject;
  if (rq.original != nullptr) {
    if (const mail::header_field* f = rq.original->find("Subject")) {
      std::string decoded;
      if (rq.charsets != nullptr) {
        decoded = mail::decode_header_words(mail::unfold(f->value), *rq.charsets);
      } else {
        decoded = mail::unfold(f->value);
      }
      if (!header_text(decoded).empty()) return absl::StrCat("Auto: ", decoded);
    }
  }
  return "Automated reply";
}

// The :mime entity: its Content-* fields (folded lines kept, CRLF) and its body.
struct mime_entity {
  std::string fields;
  std::string body;
};

std::string crlf_lines(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' || in[i] == '\n') {
      if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
      out += kCrlf;
    } else {
      out += in[i];
    }
  }
  return out;
}

// RFC 5322 2.1.1: lines of at most 998 octets. The entity's body is sent as the script
// wrote it (its transfer encoding is the script's); a longer line is broken, which an
// SMTP server would otherwise do or refuse (Pigeonhole passes it on as is).
std::string break_long_lines(const std::string& body) {
  constexpr size_t kMaxLine = 998;
  std::string out;
  size_t column = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n') {
      out += kCrlf;
      ++i;
      column = 0;
      continue;
    }
    if (column == kMaxLine) {
      out += kCrlf;
      column = 0;
    }
    out += body[i];
    ++column;
  }
  return out;
}

mime_entity parse_mime_entity(std::string_view reason) {
  const std::string text = crlf_lines(reason);
  const mail::header_block block = mail::parse_header_block(text);
  mime_entity e;
  bool has_type = false;
  for (const mail::header_field& f : block.fields) {
    if (!starts_with_ignore_case(f.name, "Content-")) continue;
    // Each field rebuilt from its name and unfolded value (a folded line of the entity
    // cannot carry a field of its own: controls are spaces after header_text).
    const std::string value = header_text(mail::unfold(f.value), 8 * 1024);
    std::string name;
    for (unsigned char c : f.name) {
      if (c > 0x20 && c < 0x7f && c != ':') name += static_cast<char>(c);
    }
    if (name.empty() || value.empty()) continue;
    has_type = has_type || mail::equals_ignore_case(name, "Content-Type");
    relay::append_wrapped(e.fields, absl::StrCat(name, ": ", value));
  }
  if (!has_type) e.fields.insert(0, "Content-Type: text/plain; charset=us-ascii\r\n");
  if (block.has_body_separator) {
    e.body = text.substr(std::min(block.body_offset, text.size()));
  } else if (block.fields.empty()) {
    e.body = text;  // no header at all: the whole reason is the body
  }
  if (e.body.size() < 2 || e.body.compare(e.body.size() - 2, 2, kCrlf) != 0) e.body += kCrlf;
  e.body = break_long_lines(e.body);
  return e;
}

}  // namespace

std::string_view verdict_name(vacation_verdict verdict) {
  switch (verdict) {
    case vacation_verdict::reply: return "reply";
    case vacation_verdict::null_sender: return "null-sender";
    case vacation_verdict::own_address: return "own-address";
    case vacation_verdict::mailing_list: return "mailing-list";
    case vacation_verdict::auto_submitted: return "auto-submitted";
    case vacation_verdict::precedence: return "precedence";
    case vacation_verdict::system_sender: return "system-sender";
    case vacation_verdict::not_addressed: return "not-addressed";
    case vacation_verdict::invalid_sender: return "invalid-sender";
  }
  return "unknown";
}

bool is_system_address(std::string_view address) {
  const size_t at = address.rfind('@');
  const std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  return mail::equals_ignore_case(local, "MAILER-DAEMON") || mail::equals_ignore_case(local, "LISTSERV") ||
         mail::equals_ignore_case(local, "majordomo") || starts_with_ignore_case(local, "owner-") ||
         ends_with_ignore_case(local, "-request");
}

vacation_decision decide_vacation(const action& vacation, const vacation_input& in) {
  vacation_decision d;
  const std::string_view sender = trim(in.sender);
  if (sender.empty() || sender == "<>") {
    d.verdict = vacation_verdict::null_sender;
    return d;
  }
  const size_t at = sender.rfind('@');
  bool controls = false;
  for (unsigned char c : sender) controls = controls || c < 0x20 || c == 0x7f;
  if (controls || at == std::string_view::npos || at == 0 || at + 1 == sender.size()) {
    d.verdict = vacation_verdict::invalid_sender;
    return d;
  }
  // The user's addresses, in the order From: prefers them (Pigeonhole: the recipient
  // first, then :addresses).
  std::vector<std::string_view> mine;
  if (!in.recipient.empty()) mine.push_back(in.recipient);
  for (const std::string& a : in.user_addresses) mine.push_back(a);
  for (const std::string& a : vacation.addresses) mine.push_back(a);
  for (std::string_view m : mine) {
    if (same_address(sender, m)) {
      d.verdict = vacation_verdict::own_address;
      return d;
    }
  }
  static const mail::header_block kEmpty;
  const mail::header_block& header = in.header != nullptr ? *in.header : kEmpty;
  for (std::string_view name : kListHeaders) {
    if (header.find(name) != nullptr) {
      d.verdict = vacation_verdict::mailing_list;
      return d;
    }
  }
  if (has_value(header, "Auto-Submitted", {"no"}, /*negate=*/true)) {
    d.verdict = vacation_verdict::auto_submitted;
    return d;
  }
  if (has_value(header, "Precedence", {"bulk", "list", "junk"}, /*negate=*/false)) {
    d.verdict = vacation_verdict::precedence;
    return d;
  }
  if (is_system_address(sender)) {
    d.verdict = vacation_verdict::system_sender;
    return d;
  }
  const std::vector<std::string> to = addressed_to(header);
  for (std::string_view m : mine) {
    for (const std::string& t : to) {
      if (same_address(t, m)) {
        d.reply_from = std::string(m);
        return d;
      }
    }
  }
  d.verdict = vacation_verdict::not_addressed;
  return d;
}

std::string vacation_handle(const action& vacation) {
  if (vacation.handle) return *vacation.handle;
  // Each piece length-prefixed so "a" + "bc" and "ab" + "c" differ.
  std::string h = "<default>";
  auto piece = [&h](std::string_view tag, std::string_view s) {
    h.append(tag);
    absl::StrAppend(&h, s.size(), ":");
    h.append(s);
  };
  piece(":subject", vacation.subject.value_or(""));
  piece(":from", vacation.from.value_or(""));
  piece(vacation.mime ? ":mime" : ":text", "");
  piece(":reason", vacation.reason);
  return h;
}

outgoing_message build_vacation_reply(const vacation_reply_request& rq) {
  static const action kNone;
  const action& v = rq.vacation != nullptr ? *rq.vacation : kNone;
  outgoing_message out;
  out.envelope_from = "";  // RFC 5230 5.1
  out.envelope_to = std::string(trim(rq.sender));

  std::vector<std::string> ids;
  std::vector<std::string> refs;
  if (rq.original != nullptr) {
    if (const mail::header_field* f = rq.original->find("Message-ID")) ids = message_ids(f->value);  // the first is the id
    if (const mail::header_field* f = rq.original->find("References")) {
      refs = message_ids(f->value, kMaxReferences - 1);
    } else if (const mail::header_field* f = rq.original->find("In-Reply-To")) {
      refs = message_ids(f->value);
      if (refs.size() > 1) refs.resize(1);  // RFC 5322 3.6.4: no References, one In-Reply-To id
    }
  }
  if (!ids.empty()) refs.push_back(ids.front());

  std::string& m = out.bytes;
  absl::StrAppend(&m, "Date: ", mail::format_message_date(rq.now), kCrlf);
  absl::StrAppend(&m, "Message-ID: ",
                  new_message_id(rq.now, "vacation", rq.host,
                                 {out.envelope_to, rq.reply_from, ids.empty() ? "" : ids.front()}),
                  kCrlf);
  relay::append_wrapped(m, absl::StrCat("From: ", from_value(v, rq.reply_from)));
  relay::append_wrapped(m, absl::StrCat("To: <", relay::to_field(out.envelope_to), ">"));
  append_text_field(m, "Subject", subject_of(rq));
  if (!ids.empty()) absl::StrAppend(&m, "In-Reply-To: ", ids.front(), kCrlf);
  if (!refs.empty()) {
    std::string line = "References:";
    for (const std::string& r : refs) absl::StrAppend(&line, " ", r);
    relay::append_wrapped(m, line);
  }
  absl::StrAppend(&m, "Auto-Submitted: auto-replied (vacation)", kCrlf);
  absl::StrAppend(&m, "Precedence: bulk", kCrlf);
  absl::StrAppend(&m, "MIME-Version: 1.0", kCrlf);
  if (v.mime) {
    mime_entity e = parse_mime_entity(v.reason);
    absl::StrAppend(&m, e.fields, kCrlf, e.body);
  } else {
    encoded_body body = encode_text_body(v.reason);
    absl::StrAppend(&m, "Content-Type: text/plain; charset=utf-8", kCrlf);
    absl::StrAppend(&m, "Content-Transfer-Encoding: ", body.transfer_encoding, kCrlf, kCrlf, body.bytes);
  }
  return out;
}

}  // namespace ringmail::sieve

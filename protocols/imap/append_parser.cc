// APPEND's messages (RFC 3501 6.3.11, RFC 4466 section 2.3 append-message, RFC 3502
// MULTIAPPEND, RFC 4469 CATENATE, RFC 6855 section 4 UTF8 data, RFC 3516 literal8):
//
//   append          = "APPEND" SP mailbox 1*append-message
//   append-message  = append-opts SP append-data
//   append-opts     = [SP flag-list] [SP date-time]
//   append-data     = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")"
//                   / utf8-literal
//   cat-part        = "TEXT" SP (literal / literal8) / "URL" SP astring / utf8-literal
//   utf8-literal    = "UTF8" SP "(" literal8 ")"
//
// Limits: at most kMaxMessages messages and kMaxParts cat-parts in one command (each costs
// a struct however small its literal; the command's bytes are bounded by the reader).
// Whether UTF8 data is allowed (only after ENABLE UTF8=ACCEPT) is the session's question:
// the parser marks it.
#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap::detail {

namespace {

constexpr size_t kMaxMessages = 10'000;
constexpr size_t kMaxParts = 10'000;

// "UTF8" already taken: SP "(" literal8 ")".
bool utf8_literal(cursor& c, std::string& out) {
  if (!c.sp() || !c.expect('(')) return false;
  if (c.peek() != '~') return c.fail("UTF8 data must be a literal8");
  bool binary = false;
  if (!c.literal(out, true, &binary)) return false;
  return c.expect(')');
}

bool catenate(cursor& c, append_message& m, size_t& parts) {
  if (!c.sp() || !c.expect('(')) return false;
  do {
    if (++parts > kMaxParts) return c.fail("Too many CATENATE parts");
    catenate_part p;
    if (c.take_word("TEXT")) {
      bool binary = false;
      if (!c.sp() || !c.literal(p.text, true, &binary)) return false;
    } else if (c.take_word("URL")) {
      p.url = true;
      if (!c.sp() || !c.astring(p.text)) return false;
    } else if (c.take_word("UTF8")) {
      p.utf8 = true;
      if (!utf8_literal(c, p.text)) return false;
    } else {
      return c.fail("Expected TEXT, URL or UTF8 in CATENATE");
    }
    m.parts.push_back(std::move(p));
  } while (c.take(' '));
  return c.expect(')');
}

}  // namespace

bool parse_append_messages(cursor& c, command& cmd) {
  size_t parts = 0;
  do {
    if (cmd.append.size() >= kMaxMessages) return c.fail("Too many messages in one APPEND");
    if (!c.sp()) return false;
    append_message m;
    if (c.peek() == '(') {
      if (!c.flag_list(m.flags) || !c.sp()) return false;
    }
    if (c.peek() == '"') {
      int64_t t = 0;
      if (!c.date_time(t) || !c.sp()) return false;
      m.internal_date = t;
    }
    if (c.take_word("CATENATE")) {
      m.catenate = true;
      if (!catenate(c, m, parts)) return false;
    } else if (c.take_word("UTF8")) {
      m.utf8 = true;
      m.binary = true;
      if (!utf8_literal(c, m.message)) return false;
    } else if (!c.literal(m.message, true, &m.binary)) {
      return false;
    }
    cmd.append.push_back(std::move(m));
  } while (!c.eof());
  return c.end();
}

}  // namespace ringmail::imap::detail

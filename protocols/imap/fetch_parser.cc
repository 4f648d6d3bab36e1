// FETCH data items (RFC 9051 section 6.4.5 and 9, RFC 3516 BINARY, RFC 7162 MODSEQ and
// CHANGEDSINCE):
//
//   fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
//           "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
//   fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".SIZE" /
//           ".TEXT"] / "BODY" ["STRUCTURE"] / "UID" / "BODY" section [partial] /
//           "BODY.PEEK" section [partial] / "BINARY" [".PEEK"] section-binary [partial] /
//           "BINARY.SIZE" section-binary / "MODSEQ"
//   section = "[" [section-spec] "]" ; section-binary = "[" [section-part] "]"
//   section-spec = section-msgtext / (section-part ["." section-text])
//   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
//   section-text = section-msgtext / "MIME" ; partial = "<" number "." nz-number ">"
//   fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
// The macros stand alone (not inside the parenthesised list), as the grammar says.
// The only modifier understood is CHANGEDSINCE (kept in command::changed_since).
#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap::detail {

namespace {

using fk = fetch_item::kind;
using sk = section_spec::kind;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool header_list(cursor& c, std::vector<std::string>& fields) {
  if (!c.sp() || !c.expect('(')) return false;
  do {
    std::string f;
    if (!c.astring(f)) return false;
    fields.push_back(upper(f));
  } while (c.take(' '));
  return c.expect(')');
}

// section-msgtext / "MIME" after "[" or after "part.".
bool section_text(cursor& c, section_spec& s, bool after_part) {
  std::string name = upper(c.word());
  if (name == "HEADER") {
    s.k = sk::header;
  } else if (name == "TEXT") {
    s.k = sk::text;
  } else if (name == "MIME" && after_part) {
    s.k = sk::mime;
  } else if (name == "HEADER.FIELDS" || name == "HEADER.FIELDS.NOT") {
    s.k = name == "HEADER.FIELDS" ? sk::header_fields : sk::header_fields_not;
    return header_list(c, s.fields);
  } else {
    return c.fail("Invalid body section");
  }
  return true;
}

bool section(cursor& c, section_spec& s, bool binary) {
  if (!c.expect('[')) return false;
  if (c.take(']')) return true;
  if (is_digit(c.peek())) {
    do {
      if (!is_digit(c.peek())) {
        if (binary) return c.fail("Invalid binary section");
        if (!section_text(c, s, true)) return false;
        break;
      }
      uint32_t n = 0;
      if (!c.nz_number(n)) return false;
      s.part.push_back(n);
    } while (c.take('.'));
  } else if (binary || !section_text(c, s, false)) {
    return c.fail("Invalid body section");
  }
  return c.expect(']');
}

bool partial(cursor& c, fetch_item& item) {
  if (!c.take('<')) return c.ok();
  uint32_t origin = 0, length = 0;
  if (!c.number(origin) || !c.expect('.') || !c.nz_number(length) || !c.expect('>')) {
    return false;
  }
  item.partial_origin = origin;
  item.partial_length = length;
  return true;
}

// OBJECTID (RFC 8474 section 7): "EMAILID" / "THREADID"; SAVEDATE (RFC 8514): "SAVEDATE";
// PREVIEW (RFC 8970 section 7): "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"],
// preview-mod = "LAZY" (an unknown one after LAZY is a BAD; a list that does not start
// with LAZY is left to be read as the FETCH modifiers).
bool object_att(cursor& c, const std::string& name, fetch_item& item) {
  item.k = name == "EMAILID" ? fk::email_id : name == "THREADID" ? fk::thread_id
         : name == "SAVEDATE" ? fk::save_date : fk::preview;
  if (item.k != fk::preview) return c.ok();
  // " (LAZY" follows, or nothing of ours: "FETCH 1 PREVIEW (CHANGEDSINCE 5)" has the
  // fetch modifiers there, so look before consuming.
  const size_t b = c.pos();
  if (!c.take(' ') || !c.take('(') || !c.take_word("LAZY")) {
    c.seek(b);
    return c.ok();
  }
  item.lazy = true;
  while (c.take(' ')) {
    if (!c.take_word("LAZY")) return c.fail("Unknown PREVIEW modifier");
  }
  return c.expect(')');
}

bool fetch_att(cursor& c, std::vector<fetch_item>& out) {
  std::string name = upper(c.word());
  fetch_item item;
  if (name == "ENVELOPE") {
    item.k = fk::envelope;
  } else if (name == "FLAGS") {
    item.k = fk::flags;
  } else if (name == "INTERNALDATE") {
    item.k = fk::internal_date;
  } else if (name == "RFC822") {
    item.k = fk::rfc822;
  } else if (name == "RFC822.HEADER") {
    item.k = fk::rfc822_header;
    item.peek = true;
  } else if (name == "RFC822.SIZE") {
    item.k = fk::rfc822_size;
  } else if (name == "RFC822.TEXT") {
    item.k = fk::rfc822_text;
  } else if (name == "BODYSTRUCTURE") {
    item.k = fk::body_structure;
  } else if (name == "UID") {
    item.k = fk::uid;
  } else if (name == "MODSEQ") {
    item.k = fk::modseq;
  } else if (name == "EMAILID" || name == "THREADID" || name == "SAVEDATE" || name == "PREVIEW") {
    if (!object_att(c, name, item)) return false;  // RFC 8474, 8514, 8970
  } else if (name == "BODY" && c.peek() != '[') {
    item.k = fk::body;
  } else if (name == "BODY" || name == "BODY.PEEK") {
    item.k = fk::body_section;
    item.peek = name == "BODY.PEEK";
    if (!section(c, item.section, false) || !partial(c, item)) return false;
  } else if (name == "BINARY" || name == "BINARY.PEEK") {
    item.k = fk::binary_section;
    item.peek = name == "BINARY.PEEK";
    if (!section(c, item.section, true) || !partial(c, item)) return false;
  } else if (name == "BINARY.SIZE") {
    item.k = fk::binary_size;
    if (!section(c, item.section, true)) return false;
  } else {
    return c.fail("Invalid FETCH data item");
  }
  out.push_back(std::move(item));
  return c.ok();
}

// RFC 9051 6.4.5: ALL = (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE), FAST = the first
// three, FULL = ALL + BODY.
void expand_macro(std::string_view name, command& cmd) {
  auto add = [&](fk k) {
    fetch_item item;
    item.k = k;
    cmd.fetch.push_back(std::move(item));
  };
  for (fk k : {fk::flags, fk::internal_date, fk::rfc822_size}) add(k);
  if (name != "FAST") add(fk::envelope);
  if (name == "FULL") add(fk::body);
  cmd.fetch_macro = true;
}

bool modifiers(cursor& c, command& cmd) {
  if (!c.expect('(')) return false;
  do {
    if (c.take_word("VANISHED")) {  // RFC 7162 3.2.6 (QRESYNC)
      cmd.fetch_vanished = true;
      continue;
    }
    if (!c.take_word("CHANGEDSINCE")) return c.fail("Unknown FETCH modifier");
    uint64_t n = 0;
    if (!c.sp() || !c.number64(n)) return false;
    cmd.changed_since = n;
  } while (c.take(' '));
  return c.expect(')');
}

}  // namespace

bool parse_fetch_args(cursor& c, command& cmd) {
  if (!c.sp()) return false;
  if (c.take('(')) {
    do {
      if (!fetch_att(c, cmd.fetch)) return false;
    } while (c.take(' '));
    if (!c.expect(')')) return false;
  } else {
    size_t b = c.pos();
    std::string name = upper(c.word());
    if (name == "ALL" || name == "FAST" || name == "FULL") {
      expand_macro(name, cmd);
    } else {
      c.seek(b);
      if (!fetch_att(c, cmd.fetch)) return false;
    }
  }
  if (c.take(' ') && !modifiers(c, cmd)) return false;
  // RFC 7162 3.2.6: VANISHED only in UID FETCH, and only with CHANGEDSINCE.
  if (cmd.fetch_vanished && (!cmd.uid || !cmd.changed_since)) return c.fail("VANISHED needs UID FETCH and CHANGEDSINCE");
  return c.end();
}

}  // namespace ringmail::imap::detail

// GETMETADATA and SETMETADATA arguments (RFC 5464 section 5):
//
//   getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries
//   getmetadata-options = "(" getmetadata-option *(SP getmetadata-option) ")"
//   getmetadata-option = "MAXSIZE" SP number / "DEPTH" SP ("0" / "1" / "infinity")
//   entries = entry / "(" entry *(SP entry) ")"      entry = astring
//   setmetadata = "SETMETADATA" SP mailbox SP "(" entry-value *(SP entry-value) ")"
//   entry-value = entry SP value                     value = nstring / literal8
//
// Departure, as Dovecot and Cyrus: the options are also accepted AFTER the mailbox
// ("GETMETADATA mbox (MAXSIZE 1024) entries"), the order RFC 5464's own examples in
// section 4.2 use. Entry names must be valid (metadata_format.h); an invalid one is a BAD
// here rather than a NO, since it is a syntax rule of section 3.2.
#include "delivery/mailstore/metadata_format.h"
#include "protocols/imap/metadata_notify_parser.h"

namespace ringmail::imap::detail {

namespace {

bool options(cursor& c, metadata_args& m) {
  if (!c.expect('(')) return false;
  do {
    std::string name = upper(c.word());
    if (name == "MAXSIZE") {
      uint32_t n = 0;
      if (!c.sp() || !c.number(n)) return false;
      m.maxsize = n;
    } else if (name == "DEPTH") {
      if (!c.sp()) return false;
      std::string d = upper(c.word());
      if (d == "0") m.depth = 0;
      else if (d == "1") m.depth = 1;
      else if (d == "INFINITY") m.depth = -1;
      else return c.fail("Invalid DEPTH");
    } else {
      return c.fail("Unknown GETMETADATA option");
    }
  } while (c.take(' '));
  return c.expect(')');
}

bool entry(cursor& c, std::string& out) {
  if (!c.astring(out)) return false;
  if (!mailstore::valid_metadata_name(out)) return c.fail("Invalid metadata entry name");
  return true;
}

bool entries(cursor& c, std::vector<std::string>& out) {
  if (!c.take('(')) {
    out.emplace_back();
    return entry(c, out.back());
  }
  do {
    out.emplace_back();
    if (!entry(c, out.back())) return false;
  } while (c.take(' '));
  return c.expect(')');
}

}  // namespace

bool parse_getmetadata_args(cursor& c, command& cmd) {
  if (!c.sp()) return false;
  if (c.peek() == '(') {
    if (!options(c, cmd.metadata) || !c.sp()) return false;
  }
  if (!c.mailbox(cmd.mailbox) || !c.sp()) return false;
  // "mbox (MAXSIZE ..) entries": an option name cannot be an entry (entries begin
  // with '/'), so one word decides.
  if (c.peek() == '(') {
    const size_t at = c.pos();
    c.take('(');
    const std::string word = upper(c.word());
    c.seek(at);
    if (word == "MAXSIZE" || word == "DEPTH") {
      if (!options(c, cmd.metadata) || !c.sp()) return false;
    }
  }
  return entries(c, cmd.metadata.entries) && c.end();
}

bool parse_setmetadata_args(cursor& c, command& cmd) {
  if (!c.sp() || !c.mailbox(cmd.mailbox) || !c.sp() || !c.expect('(')) return false;
  do {
    std::string name;
    if (!entry(c, name) || !c.sp()) return false;
    std::optional<std::string> value;
    if (c.peek() == '~') {
      std::string v;
      bool binary = false;
      if (!c.literal(v, true, &binary)) return false;
      value = std::move(v);
    } else if (!c.nstring(value)) {
      return false;
    }
    cmd.metadata.values.emplace_back(std::move(name), std::move(value));
  } while (c.take(' '));
  return c.expect(')') && c.end();
}

}  // namespace ringmail::imap::detail

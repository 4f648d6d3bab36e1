// libFuzzer target for the SMTP command layer (protocols/smtp): command_reader splits
// the input into lines, and every line goes through parse_command and - whatever its
// verb, to reach deep into them - parse_mail_from, parse_rcpt_to and parse_bdat on its
// argument. Build: see fuzz/README.md and scripts/fuzz.sh.
//
// Input: byte 0 holds flags, byte 1 a line limit, the rest is the client stream.
//   flag bit 0: allow_bare_lf (normalize mode)
//   flag bit 1: use 3 + byte 1 as max_line, to reach the line limit cheaply
// Invariants (any break aborts): the stream gives the same lines, errors and leftover
// fed at once and fed one byte at a time; lines hold no CR, LF or NUL and respect the
// limit; replies are well-formed and never quote client bytes; an accepted path parses
// again to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/smtp/command.h"
#include "protocols/smtp/command_reader.h"

namespace {

using namespace ringmail::smtp;

void check(bool ok) {
  if (!ok) abort();
}

bool printable_ascii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

bool has_control(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  return false;
}

void check_error(const reply_error& e) {
  check(e.code == 501 || e.code == 552 || e.code == 553 || e.code == 555);
  std::string_view enh = e.enhanced;
  check(enh.size() == 5 && enh[0] == '5' && enh[1] == '.' && enh[3] == '.');
  check(!e.text.empty() && printable_ascii(e.text));
}

void check_path(std::string_view path, bool smtputf8) {
  check(path.size() <= 254 && !has_control(path));
  bool ascii = true;
  for (char c : path) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  check(ascii || smtputf8);
}

void parse_arguments(std::string_view arg) {
  result<mail_from> m = parse_mail_from(arg);
  if (!m) {
    check_error(m.error());
  } else {
    check_path(m->reverse_path, m->smtputf8);
    std::string again = "FROM:<" + m->reverse_path + ">";
    if (m->smtputf8) again += " SMTPUTF8";
    result<mail_from> m2 = parse_mail_from(again);
    check(m2.ok() && m2->reverse_path == m->reverse_path);
  }
  for (bool utf8 : {false, true}) {
    result<rcpt_to> r = parse_rcpt_to(arg, utf8);
    if (!r) {
      check_error(r.error());
      continue;
    }
    check(!r->forward_path.empty() && r->params.empty());
    check_path(r->forward_path, utf8);
    result<rcpt_to> r2 = parse_rcpt_to("TO:<" + r->forward_path + ">", utf8);
    check(r2.ok() && r2->forward_path == r->forward_path);
  }
  result<bdat> b = parse_bdat(arg);
  if (!b) {
    check_error(b.error());
  } else {
    check(std::to_string(b->size).size() <= arg.size());
  }
}

// Lines and errors as "L..." / "E..." plus the leftover, feeding `piece` bytes at a
// time (0: all at once).
std::vector<std::string> split(std::string_view input, command_reader::limits l,
                               size_t piece) {
  command_reader reader(l);
  std::vector<std::string> events;
  std::string buf;
  auto drain = [&] {
    for (;;) {
      command_reader::result r = reader.next(buf);
      check(r.consumed <= buf.size());
      if (r.k == command_reader::result::kind::line) {
        check(r.consumed > 0 && r.line.size() + 2 <= l.max_line);
        check(r.line.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
        events.push_back("L" + std::string(r.line));
      } else if (r.k == command_reader::result::kind::error) {
        check(r.consumed > 0 && r.code == 500 && printable_ascii(r.error));
        events.push_back("E" + r.error);
      }
      buf.erase(0, r.consumed);
      if (r.k == command_reader::result::kind::need_more) return;
    }
  };
  if (piece == 0) {
    buf = input;
    drain();
  } else {
    for (size_t pos = 0; pos < input.size(); pos += piece) {
      buf.append(input.substr(pos, piece));
      drain();
    }
  }
  check(buf.size() < l.max_line);  // never more than one unfinished line is held
  events.push_back("rest" + buf);
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  command_reader::limits l;
  l.allow_bare_lf = data[0] & 1;
  if (data[0] & 2) l.max_line = 3 + data[1];
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::vector<std::string> whole = split(input, l, 0);
  check(split(input, l, 1) == whole);
  for (const std::string& e : whole) {
    if (e[0] != 'L') continue;
    std::string_view line = std::string_view(e).substr(1);
    command c = parse_command(line);
    std::string_view name = info(c.v).name;
    check(c.v == verb::unknown || line.size() >= name.size());
    parse_arguments(c.argument);
  }
  // The raw stream as one argument too: controls, long paths, everything.
  parse_arguments(input);
  return 0;
}

// libFuzzer target for the IMAP command layer (protocols/imap): command_reader frames
// the input into commands (literals included) and every framed command goes through
// parse_command. Build: see fuzz/README.md and scripts/fuzz.sh.
//
// Input: byte 0 holds flags, the rest is the client stream.
//   bit 0: LITERAL+ (any non-synchronizing literal size)
//   bit 1: small limits (as before login: short lines, 64-byte literals)
//   bit 2: parse with UTF-8 allowed in quoted strings (IMAP4rev2)
//   bit 3: frame with next_line() (AUTHENTICATE/IDLE mode) instead of next()
// Invariants (any break aborts): the stream gives the same commands, continuations,
// errors and leftover fed whole and fed one byte at a time; consumption never exceeds the
// input; commands and lines respect the limits; error texts are short printable fixed
// strings; a parsed sequence set resolves sorted, unique and in range, and agrees with
// contains(); parsing is deterministic.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/command.h"
#include "protocols/imap/command_reader.h"
#include "protocols/imap/qresync_parser.h"

namespace {

using namespace ringmail::imap;
using rk = command_reader::result::kind;

void check(bool ok) {
  if (!ok) abort();
}

void check_message(const std::string& m) {
  check(!m.empty() && m.size() <= 64);
  for (char c : m) check(c >= 0x20 && c <= 0x7e);
}

void check_set(const sequence_set& s) {
  for (uint32_t largest : {0u, 1u, 7u, 50u}) {
    std::vector<uint32_t> r = s.resolve(largest);
    check(std::is_sorted(r.begin(), r.end()));
    check(std::adjacent_find(r.begin(), r.end()) == r.end());
    for (uint32_t n = 1; n <= largest; ++n) {
      check(std::binary_search(r.begin(), r.end(), n) == s.contains(n, largest));
    }
    if (!r.empty()) check(r.back() <= largest);
  }
  (void)s.exceeds(4294967295u);
}

void check_key(const search_key& k) {
  if (k.k == search_key::kind::seq_set || k.k == search_key::kind::uid) check_set(k.set);
  for (const search_key& c : k.children) check_key(c);
}

void parse(std::string_view bytes, bool utf8) {
  parse_options o{.utf8 = utf8};
  parse_result r = parse_command(bytes, o);
  parse_result again = parse_command(bytes, o);
  check(r.cmd.has_value() == again.cmd.has_value());
  if (!r.cmd) {
    check_message(r.error.message);
    check(r.error.tag == again.error.tag && r.error.message == again.error.message);
    return;
  }
  check(!r.cmd->tag.empty() && r.cmd->tag == again.cmd->tag);
  check_set(r.cmd->set);
  check_key(r.cmd->search);
  // RFC 7162 (qresync_parser.h): no "*" or "$" in the QRESYNC sets, a mod-sequence in
  // 1..2^63-1, sequence match data of equal count; VANISHED only in UID FETCH CHANGEDSINCE.
  if (const auto& q = r.cmd->qresync) {
    check(q->uid_validity != 0 && q->modseq != 0 && q->modseq < (uint64_t{1} << 63));
    check(q->match_seqs.has_value() == q->match_uids.has_value());
    for (const auto* s : {&q->known_uids, &q->match_seqs, &q->match_uids}) {
      if (!*s) continue;
      check(!(*s)->saved && !(*s)->ranges.empty());
      for (const seq_range& x : (*s)->ranges) check(x.first != seq_range::star && x.last != seq_range::star);
      check_set(**s);
    }
    if (q->match_seqs) check(detail::count_as_written(*q->match_seqs) == detail::count_as_written(*q->match_uids));
  }
  if (r.cmd->fetch_vanished) check(r.cmd->uid && r.cmd->changed_since.has_value());
}

struct event {
  rk k;
  std::string text;
  bool operator==(const event&) const = default;
};

std::vector<event> frame(std::string_view input, command_reader::limits l, bool line_mode,
                         bool whole) {
  command_reader reader(l);
  std::string buf;
  std::vector<event> out;
  bool closed = false;
  auto drain = [&] {
    while (!closed) {
      command_reader::result r = line_mode ? reader.next_line(buf) : reader.next(buf);
      check(r.consumed <= buf.size());
      if (r.k == rk::command) {
        check(r.bytes.data() >= buf.data() && r.bytes.size() < r.consumed + 1);
        check(r.bytes.size() <= l.max_command);
        out.push_back({r.k, std::string(r.bytes)});
      } else if (r.k == rk::error) {
        check_message(r.message);
        out.push_back({r.k, r.tag + "|" + r.message + (r.close ? "|c" : "")});
        closed = r.close;
      } else if (r.k == rk::continue_literal) {
        check(!line_mode);
        out.push_back({r.k, ""});
      }
      buf.erase(0, r.consumed);
      if (r.k == rk::need_more) return;
    }
  };
  if (whole) {
    buf = input;
    drain();
  } else {
    for (size_t i = 0; i < input.size() && !closed; ++i) {
      buf.push_back(input[i]);
      drain();
    }
  }
  if (!closed) out.push_back({rk::need_more, buf});
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  command_reader::limits l;
  l.literal_plus = (flags & 1) != 0;
  if (flags & 2) {
    l.max_line = 40;
    l.max_literal = 64;
    l.max_nonsync_literal = 32;
    l.max_command = 200;
  }
  const bool utf8 = (flags & 4) != 0;
  const bool line_mode = (flags & 8) != 0;
  std::vector<event> whole = frame(input, l, line_mode, true);
  std::vector<event> bytes = frame(input, l, line_mode, false);
  check(whole == bytes);
  for (const event& e : whole) {
    if (e.k == rk::command && !line_mode) parse(e.text, utf8);
  }
  // The parser alone on the raw input too: it must never trust the framing.
  parse(input, utf8);
  return 0;
}

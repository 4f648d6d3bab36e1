// libFuzzer target for ManageSieve's command reader (protocols/managesieve/command.h): the
// input is a client stream, read command after command as the session reads it (next(),
// or next_response() when the first byte is odd, as during AUTHENTICATE), with small
// limits so the limit paths are reached. Build: see fuzz/README.md and scripts/fuzz.sh.
//
// Invariants (any break aborts): a command or recoverable error consumes at least one
// byte and no more than it was given; a fatal error consumes nothing; the stream read in
// growing prefixes gives the same results as read whole; a command's name is upper case
// and it has at most max_arguments arguments; every argument written back by
// append_string reads back as the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/managesieve/command.h"

namespace {

using namespace ringmail::managesieve;
using kind = command_reader::result::kind;

void check(bool ok) {
  if (!ok) abort();
}

bool same(const command_reader::result& a, const command_reader::result& b) {
  if (a.k != b.k || a.consumed != b.consumed || a.close != b.close || a.message != b.message) return false;
  if (a.cmd.name != b.cmd.name || a.cmd.args.size() != b.cmd.args.size()) return false;
  for (size_t i = 0; i < a.cmd.args.size(); ++i) {
    if (a.cmd.args[i].value != b.cmd.args[i].value || a.cmd.args[i].k != b.cmd.args[i].k) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool responses = (data[0] & 1) != 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  parser_limits limits;
  limits.max_line = 64;
  limits.max_literal = 48;
  limits.max_command = 80;
  limits.max_arguments = 3;
  command_reader reader(limits);
  auto next = [&](std::string_view in) { return responses ? reader.next_response(in) : reader.next(in); };
  for (int rounds = 0; !input.empty() && rounds < 256; ++rounds) {
    command_reader::result whole = next(input);
    // Growing prefixes: need_more until the same answer as the whole.
    for (size_t n = 1; n < input.size(); n += 1 + n / 8) {
      command_reader::result part = next(input.substr(0, n));
      if (part.k == kind::need_more) continue;
      check(same(part, whole) || (part.close && whole.close));
      break;
    }
    if (whole.k == kind::need_more) break;
    if (whole.k == kind::error && whole.close) {
      check(whole.consumed == 0);
      break;
    }
    check(whole.consumed > 0 && whole.consumed <= input.size());
    if (whole.k == kind::command) {
      check(whole.cmd.args.size() <= limits.max_arguments + (responses ? 1 : 0));
      for (char c : whole.cmd.name) check(!(c >= 'a' && c <= 'z'));
      for (const argument& a : whole.cmd.args) {
        std::string line = "X ";
        append_string(line, a.value);
        line += "\r\n";
        command_reader::result back = command_reader().next(line);
        check(back.k == kind::command && back.cmd.args.size() == 1 && back.cmd.args[0].value == a.value);
      }
    }
    input.remove_prefix(whole.consumed);
  }
  return 0;
}

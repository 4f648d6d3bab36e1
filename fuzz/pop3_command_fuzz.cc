// libFuzzer target for POP3's pure parts (protocols/pop3): the input is a client stream
// split into command lines as the session splits them (at LF, at most 255 octets); every
// line goes through parse_command and its arguments through parse_message_number and
// parse_line_count, and DELE/RSET/LIST/UIDL drive a maildrop of 16 messages. (RETR/TOP's
// transfer encoder is mail/dot_stuffing in keep mode: fuzz/dot_stuffing_fuzz.cc.) Build:
// see fuzz/README.md and scripts/fuzz.sh.
//
// Invariants (any break aborts): an accepted message number is 1..2^32-1 and prints back
// to the argument without its leading zeros; the maildrop's count and octets equal a
// recount of its marks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/pop3/command.h"
#include "protocols/pop3/maildrop.h"

namespace {

using namespace ringmail::pop3;

void check(bool ok) {
  if (!ok) abort();
}

std::string strip_zeros(std::string_view s) {
  size_t i = 0;
  while (i + 1 < s.size() && s[i] == '0') ++i;
  return std::string(s.substr(i));
}

void check_number(std::string_view arg) {
  auto n = parse_message_number(arg);
  if (!n) return;
  check(*n >= 1);
  check(std::to_string(*n) == strip_zeros(arg));
}

void check_maildrop(const maildrop& d) {
  uint32_t count = 0;
  uint64_t octets = 0;
  for (uint32_t i = 1; i <= d.size(); ++i) {
    if (!d.at(i).deleted) {
      ++count;
      octets += d.at(i).size;
    }
  }
  check(count == d.count() && octets == d.octets());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // Byte 0 once chose the transfer encoder's piece size; it stays skipped so the corpus and
  // the regressions keep their meaning.
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::vector<maildrop_message> messages(16);
  for (uint32_t i = 0; i < messages.size(); ++i) {
    messages[i].uid = i * 3 + 1;
    messages[i].size = 100 + i;
  }
  maildrop drop(7, std::move(messages));
  std::string_view rest = input;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.size() + 1 > kMaxCommandLine) continue;  // the session answers "too long"
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    command c = parse_command(line);
    check(c.keyword.size() <= line.size());
    for (auto a : c.args) {
      check(!a.empty() && a.find(' ') == std::string_view::npos);
      check_number(a);
      auto lines = parse_line_count(a);
      if (lines && a.size() < 10) check(std::to_string(*lines) == strip_zeros(a));
    }
    if (c.args.size() == 1 && (c.v == verb::dele || c.v == verb::list || c.v == verb::uidl)) {
      auto n = parse_message_number(c.args[0]);
      if (n && drop.find(*n) == maildrop::lookup::ok) {
        if (c.v == verb::dele) drop.dele(*n);
        if (c.v == verb::uidl) check(drop.uidl(*n).size() == 16);
      }
    }
    if (c.v == verb::rset) drop.rset();
    check_maildrop(drop);
  }
  return 0;
}

// libFuzzer target for Sieve's per-user memory (delivery/sieve/sieve_memory.h): the file
// reader on arbitrary bytes, and memories built by operations the input chooses. Build:
// see fuzz/README.md; sources: delivery/sieve/sieve_memory.cc, -lcrypto, absl.
//
// Byte 0: bit 0 picks a tiny max_entries (1..8, from bits 1-3) so eviction is reached;
// bit 4 drops the vacation floor (RFC 6131 periods under a day). Then the input is read
// twice:
//   - as a file: parse() never fails, holds at most max_entries, and what it read (when
//     not damaged) serializes to a file that parses back, undamaged, to the same bytes,
//     within the file-size bound;
//   - as operations (remember_vacation, track_duplicate with or without :last, expire,
//     with times that only move forward): what was just recorded is remembered (an entry
//     is never evicted by its own insertion), a duplicate with period 0 only if it was
//     already (a vacation of period 0 records nothing), the size
//     stays within max_entries, and after expire(now) the memory's file parses back at
//     `now` to the same file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "delivery/sieve/sieve_memory.h"

using ringmail::sieve::kFileHeaderBytes;
using ringmail::sieve::kMaxLineBytes;
using ringmail::sieve::memory_limits;
using ringmail::sieve::sieve_memory;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr int64_t kStart = 1796630400;

struct reader {
  std::string_view in;
  uint8_t byte() {
    if (in.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    return b;
  }
  std::string_view text() {
    const size_t n = std::min<size_t>(byte() % 16, in.size());
    std::string_view t = in.substr(0, n);
    in.remove_prefix(n);
    return t;
  }
};

void check_file_round_trip(const sieve_memory& m, int64_t now, const memory_limits& limits) {
  const std::string file = m.serialize();
  check(file.size() <= kFileHeaderBytes + limits.max_entries * kMaxLineBytes);
  bool damaged = true;
  sieve_memory back = sieve_memory::parse(file, now, limits, &damaged);
  check(!damaged);
  check(back.size() == m.size());
  check(back.serialize() == file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  memory_limits limits;
  if (mode & 1) limits.max_entries = 1 + ((mode >> 1) & 7);
  if (mode & 16) limits.min_vacation_seconds = 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  // The input as a file.
  bool damaged = false;
  sieve_memory parsed = sieve_memory::parse(input, kStart, limits, &damaged);
  check(parsed.size() <= limits.max_entries);
  if (damaged) check(parsed.size() == 0);
  if (!damaged) check_file_round_trip(parsed, kStart, limits);

  // The input as operations.
  sieve_memory m(limits);
  reader r{input};
  int64_t now = kStart;
  for (int steps = 0; steps < 256 && !r.in.empty(); ++steps) {
    const uint8_t op = r.byte();
    now += op >> 4 == 15 ? 86400 * (r.byte() % 8) : (op >> 4);
    switch (op & 3) {
      case 0: {
        const std::string sender(r.text());
        const std::string handle(r.text());
        const uint64_t seconds = static_cast<uint64_t>(r.byte()) * (op & 4 ? 86400 : 1);
        m.remember_vacation(sender, handle, now, seconds);
        if (m.vacation_period(seconds) > 0) check(m.vacation_replied(sender, handle, now));
        break;
      }
      case 1: {
        const std::string id(r.text());
        const uint64_t seconds = static_cast<uint64_t>(r.byte()) * (op & 4 ? 3600 : 1);
        const bool seen_before = m.duplicate_seen(id, now);
        m.track_duplicate(id, now, seconds, (op & 8) != 0);
        check(m.duplicate_seen(id, now) == (seen_before || seconds > 0));
        break;
      }
      case 2:
        m.expire(now);
        break;
      default: {
        const std::string id(r.text());
        (void)m.duplicate_seen(id, now);  // queries never change anything
        break;
      }
    }
    check(m.size() <= limits.max_entries);
  }
  m.expire(now);
  check_file_round_trip(m, now, limits);
  return 0;
}

// RFC 9051 section 9 sequence sets: parsing and resolving against a mailbox.
//
//   sequence-set = (seq-number / seq-range) ["," sequence-set] / "$"   (RFC 5182)
//   seq-range = seq-number ":" seq-number ; seq-number = nz-number / "*"
//   nz-number = digit-nz *DIGIT ; 1 .. 4294967295
// "0", a leading zero and anything above 4294967295 are syntax errors. "$" stands alone.
// Resolving works on ranges, never on the numbers they cover, so "1:4294967295" and a
// set of 100,000 ranges cost O(ranges log ranges + result).
#include <algorithm>
#include <utility>
#include <vector>

#include "protocols/imap/command.h"
#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap {

namespace {

// The ranges with "*" replaced by `largest`, each as (low, high) with low <= high.
std::pair<uint32_t, uint32_t> bounds(const seq_range& r, uint32_t largest) {
  uint32_t a = r.first == seq_range::star ? largest : r.first;
  uint32_t b = r.last == seq_range::star ? largest : r.last;
  return a <= b ? std::pair{a, b} : std::pair{b, a};
}

}  // namespace

std::vector<uint32_t> sequence_set::resolve(uint32_t largest) const {
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  spans.reserve(ranges.size());
  for (const seq_range& r : ranges) {
    auto [lo, hi] = bounds(r, largest);
    if (lo == 0 || lo > largest) continue;  // 0: "*" in an empty mailbox
    spans.emplace_back(lo, std::min(hi, largest));
  }
  std::sort(spans.begin(), spans.end());
  std::vector<uint32_t> out;
  uint64_t next = 1;  // the smallest number not yet emitted
  for (auto [lo, hi] : spans) {
    for (uint64_t n = std::max<uint64_t>(lo, next); n <= hi; ++n) {
      out.push_back(static_cast<uint32_t>(n));
    }
    next = std::max<uint64_t>(next, uint64_t{hi} + 1);
  }
  return out;
}

bool sequence_set::exceeds(uint32_t largest) const {
  for (const seq_range& r : ranges) {
    auto [lo, hi] = bounds(r, largest);
    if (hi > largest) return true;
  }
  return false;
}

bool sequence_set::contains(uint32_t n, uint32_t largest) const {
  for (const seq_range& r : ranges) {
    auto [lo, hi] = bounds(r, largest);
    if (n != 0 && lo <= n && n <= hi) return true;
  }
  return false;
}

namespace detail {

namespace {

bool seq_number(cursor& c, uint32_t& out) {
  if (c.take('*')) {
    out = seq_range::star;
    return true;
  }
  if (c.peek() < '0' || c.peek() > '9') {
    return c.fail(c.eof() ? "Missing argument" : "Invalid sequence set");
  }
  return c.nz_number(out);
}

}  // namespace

bool parse_sequence_set(cursor& c, sequence_set& out) {
  out = {};
  if (c.take('$')) {
    out.saved = true;
    return true;
  }
  do {
    seq_range r;
    if (!seq_number(c, r.first)) return false;
    r.last = r.first;
    if (c.take(':') && !seq_number(c, r.last)) return false;
    out.ranges.push_back(r);
  } while (c.take(','));
  return c.ok();
}

}  // namespace detail

}  // namespace ringmail::imap

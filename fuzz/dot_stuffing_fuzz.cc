// libFuzzer target for the one dot-stuffing encoder (mail/dot_stuffing.h), the SMTP DATA
// payload (bare_cr::line_break) and POP3 RETR/TOP (bare_cr::keep). Byte 0 picks the mode
// and TOP's line count (none, 0..4); byte 1 seeds the piece sizes; the rest is the message.
// Build: see fuzz/README.md and scripts/fuzz.sh.
//
// Invariants (any break aborts):
//   - chunking-invariance: the output is the same fed whole, in pieces of sizes taken
//     from byte 1 (empty pieces included), and byte by byte; done() agrees too;
//   - every LF of the output follows a CR (line_break: every CR is followed by LF too,
//     no bare CR goes out), and the payload ends in ".\r\n" after a line end;
//   - no line starts with a single '.': every line starting with '.' is stuffed;
//   - un-stuffed, the output is the input with line ends normalized (line_break: CR, LF,
//     CRLF -> CRLF; keep: an LF not after a CR -> CRLF) plus the line end an unended
//     last line gets; in keep mode its size is therefore the index's vsize plus that
//     line end. With a TOP count it is a prefix of that, ending at a line end, and
//     done() says whether it was cut.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "mail/dot_stuffing.h"

namespace {

using namespace ringmail::mail;

void check(bool ok) {
  if (!ok) std::abort();
}

struct run_result {
  std::string out;
  bool done = false;
};

// piece_seed 0: whole; otherwise pieces of 0..7 bytes from a small LCG; -1: byte by byte.
run_result run(std::string_view in, dot_stuffing_options o, int piece_seed) {
  dot_stuffer s(o);
  run_result r;
  if (piece_seed == 0) {
    s.append(in, r.out);
  } else if (piece_seed < 0) {
    for (char c : in) s.append(std::string_view(&c, 1), r.out);
  } else {
    uint32_t x = static_cast<uint32_t>(piece_seed);
    for (size_t at = 0; at < in.size();) {
      x = x * 1103515245u + 12345u;
      size_t n = std::min<size_t>((x >> 16) % 8, in.size() - at);
      s.append(in.substr(at, n), r.out);
      at += n;
    }
  }
  r.done = s.done();
  s.finish(r.out);
  return r;
}

// The input with its line ends normalized as the mode says, plus the line end an
// unended last line gets.
std::string normalized(std::string_view in, bare_cr mode) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (mode == bare_cr::line_break && (in[i] == '\r' || in[i] == '\n')) {
      out.append("\r\n");
      if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else if (mode == bare_cr::keep && in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
      out.append("\r\n");
    } else {
      out.push_back(in[i]);
    }
  }
  if (!out.empty() && out.back() != '\n') out.append(out.back() == '\r' ? "\n" : "\r\n");
  return out;
}

// The output without its terminator and without the stuffed dots; aborts on a line that
// starts with a single '.'.
std::string unstuff(std::string_view payload) {
  check(payload.ends_with(".\r\n"));
  payload.remove_suffix(3);
  check(payload.empty() || payload.ends_with("\r\n"));
  std::string out;
  bool line_start = true;
  for (size_t i = 0; i < payload.size(); ++i) {
    if (line_start && payload[i] == '.') {
      check(i + 1 < payload.size() && payload[i + 1] == '.');
      ++i;  // drop the added dot, keep the original one
    }
    out.push_back(payload[i]);
    line_start = payload[i] == '\n';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bare_cr mode = data[0] & 1 ? bare_cr::keep : bare_cr::line_break;
  const unsigned top_pick = (data[0] >> 1) % 6;
  const std::optional<uint32_t> top = top_pick == 0 ? std::nullopt : std::optional<uint32_t>(top_pick - 1);
  const int seed = 1 + data[1];
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  const dot_stuffing_options o{.cr = mode, .body_lines = top};

  const run_result whole = run(in, o, 0);
  const run_result pieces = run(in, o, seed);
  const run_result bytes = run(in, o, -1);
  check(pieces.out == whole.out && pieces.done == whole.done);
  check(bytes.out == whole.out && bytes.done == whole.done);
  check(dot_stuff(in, o) == whole.out);

  const std::string& out = whole.out;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\n') check(i > 0 && out[i - 1] == '\r');
    if (mode == bare_cr::line_break && out[i] == '\r') check(i + 1 < out.size() && out[i + 1] == '\n');
  }

  const std::string kept = unstuff(out);
  const std::string full = normalized(in, mode);
  if (!top) {
    check(kept == full);
    check(!whole.done);
    if (mode == bare_cr::keep) {
      // vsize as the mail store counts it: every LF not after a CR is one octet more.
      uint64_t vsize = in.size();
      for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) ++vsize;
      }
      if (!in.empty() && in.back() != '\n') vsize += in.back() == '\r' ? 1 : 2;
      check(kept.size() == vsize);
    }
  } else {
    check(full.starts_with(kept));
    check(kept.empty() || kept.ends_with("\n"));
    // Not done: nothing was cut (a TOP that never reached its last line end sends all).
    if (!whole.done) check(kept == full);
  }
  return 0;
}

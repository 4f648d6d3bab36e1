// libFuzzer target for the SMTP content readers (protocols/smtp): data_reader (DATA,
// dot-unstuffing, <CRLF>.<CRLF>) and bdat_reader (BDAT chunks). Build: see
// fuzz/README.md and scripts/fuzz.sh.
//
// Input: byte 0 holds flags, byte 1 the size limit, bytes 2..9 the split plan, the rest
// is the client stream.
//   flag bit 0: allow_bare_lf (normalize mode)
//   flag bit 1: BDAT with BODY=BINARYMIME
//   byte 1:     max_size = 4 * byte 1, or no limit for 255
//   bytes 2..9: feed piece sizes (byte % 32, 0 meaning 1), cycled; for BDAT also the
//               chunk sizes (byte % 64), cycled, with the rest as the LAST chunk
// Invariants (any break aborts): feeding in fuzzer-chosen pieces gives the same verdict,
// consumption and output as feeding whole; DATA ends exactly after the first
// "\r\n.\r\n" of "\r\n" + stream; an accepted message has no bare CR, bare LF or NUL,
// fits the limit, and dot-stuffed again reads back to itself; BDAT consumes exactly
// each chunk and passes content through unchanged unless it normalized a bare LF.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/smtp/data_reader.h"

namespace {

using namespace ringmail::smtp;
using kind = data_reader::result::kind;

void check(bool ok) {
  if (!ok) abort();
}

struct plan {
  const uint8_t* bytes;  // 8 bytes
  size_t piece(size_t k) const {
    size_t p = bytes[k % 8] % 32;
    return p == 0 ? 1 : p;
  }
  size_t chunk(size_t k) const { return bytes[k % 8] % 64; }
};

struct outcome {
  kind k;
  size_t consumed;
  std::string out;
  int code;
  bool operator==(const outcome&) const = default;
};

outcome run_data(std::string_view input, data_reader::limits l, const plan* p) {
  data_reader reader(l);
  std::string out;
  size_t consumed = 0;
  data_reader::result r;
  for (size_t k = 0;; ++k) {
    std::string_view part = input.substr(consumed, p ? p->piece(k) : input.size());
    r = reader.feed(part, out);
    check(r.consumed <= part.size());
    check(r.k != kind::need_more || r.consumed == part.size());
    consumed += r.consumed;
    if (r.k != kind::need_more || consumed == input.size()) break;
  }
  return {r.k, consumed, out, r.code};
}

bool clean_lines(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\0') return false;
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  }
  return true;
}

// RFC 5321 section 4.5.2 transparency, as a relay would send the message on.
std::string dot_stuff(std::string_view message) {
  std::string s;
  bool line_start = true;
  for (char c : message) {
    if (line_start && c == '.') s += '.';
    s += c;
    line_start = c == '\n';
  }
  return s + ".\r\n";
}

void fuzz_data(std::string_view input, data_reader::limits l, const plan& p) {
  outcome whole = run_data(input, l, nullptr);
  check(run_data(input, l, &p) == whole);
  size_t end = ("\r\n" + std::string(input)).find("\r\n.\r\n");
  if (end == std::string::npos) {
    check(whole.k == kind::need_more && whole.consumed == input.size());
    return;
  }
  check(whole.k != kind::need_more && whole.consumed == end + 3);
  if (whole.k == kind::error) {
    check(whole.code == 550 || whole.code == 552);
    return;
  }
  check(whole.out.size() <= l.max_size && clean_lines(whole.out));
  check(whole.out.empty() || whole.out.ends_with("\r\n"));
  std::string again = dot_stuff(whole.out);
  outcome back = run_data(again, {.max_size = UINT64_MAX}, nullptr);
  check(back.k == kind::done && back.consumed == again.size() && back.out == whole.out);
}

// Per chunk: verdict code (0 for done); then the output.
std::vector<std::string> run_bdat(std::string_view input, bdat_reader::limits l,
                                  const plan& p, bool in_pieces) {
  bdat_reader reader(l);
  std::string out;
  std::vector<std::string> events;
  size_t pos = 0, k = 0, piece = 0;
  do {
    size_t n = std::min(p.chunk(k), input.size() - pos);
    bool last = ++k == 16 || pos + n == input.size();  // at most 16 chunks
    if (last) n = input.size() - pos;
    reader.begin_chunk(n, last);
    const size_t end = pos + n;
    bdat_reader::result r;
    do {
      std::string_view part = input.substr(pos, in_pieces ? p.piece(piece++) : input.size());
      r = reader.feed(part, out);
      pos += r.consumed;
    } while (r.k == kind::need_more);
    check(pos == end);
    check(r.k == kind::done || r.code == 550 || r.code == 552);
    events.push_back(std::to_string(r.code));
    if (last) break;
  } while (true);
  check(reader.feed(input, out).consumed == 0);
  events.push_back(out);
  return events;
}

void fuzz_bdat(std::string_view input, bdat_reader::limits l, const plan& p) {
  std::vector<std::string> whole = run_bdat(input, l, p, false);
  check(run_bdat(input, l, p, true) == whole);
  if (whole[whole.size() - 2] != "0") return;  // the message was refused
  const std::string& out = whole.back();
  check(out.size() <= l.max_size);
  if (l.binary || !l.allow_bare_lf) {
    check(out == input);
  }
  if (!l.binary) check(clean_lines(out));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 10) return 0;
  const bool allow_bare_lf = data[0] & 1;
  const bool binary = data[0] & 2;
  const uint64_t max_size = data[1] == 255 ? UINT64_MAX : 4u * data[1];
  const plan p{data + 2};
  std::string_view input(reinterpret_cast<const char*>(data) + 10, size - 10);
  fuzz_data(input, {.max_size = max_size, .allow_bare_lf = allow_bare_lf}, p);
  fuzz_bdat(input, {.max_size = max_size, .allow_bare_lf = allow_bare_lf, .binary = binary}, p);
  return 0;
}

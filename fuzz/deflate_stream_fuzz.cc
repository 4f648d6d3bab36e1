// runtime/deflate_stream.h on arbitrary input: the inflater fed the bytes as a peer's
// compressed stream, whole and split at fuzzer-chosen points into fuzzer-chosen output
// chunks, must produce the same plaintext and the same verdict either way, never more
// than each call's room, and agree with zlib used directly; and whatever plaintext comes
// out, our deflater's sync-flushed output must inflate back to it.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/deflate_stream.h"

namespace {

using ringmail::deflate::inflater;

constexpr size_t kMaxPlain = 1 << 20;  // stop at 1 MiB of plaintext (bombs)

struct outcome {
  std::string plain;
  inflater::status last = inflater::status::need_input;
};

outcome run(std::string_view input, size_t split, size_t chunk) {
  outcome o;
  inflater inf;
  std::string buf(chunk, '\0');
  size_t fed = 0;
  while (true) {
    const size_t n = std::min(split, input.size() - fed);
    if (n > 0) inf.feed(std::span<const char>(input.data() + fed, n));
    fed += n;
    for (;;) {
      auto r = inf.inflate(std::span<char>(buf.data(), buf.size()));
      if (r.bytes > buf.size()) std::abort();
      if (r.st == inflater::status::ok) {
        if (r.bytes == 0) std::abort();  // ok means progress
        o.plain.append(buf.data(), r.bytes);
        if (o.plain.size() >= kMaxPlain) {
          o.plain.resize(kMaxPlain);
          o.last = inflater::status::ok;
          return o;
        }
        continue;
      }
      o.last = r.st;
      break;
    }
    if (o.last == inflater::status::error || o.last == inflater::status::end) return o;
    if (fed == input.size()) return o;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t split = 1 + data[0] % 64;
  const size_t chunk = 1 + data[1] * 17;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  outcome whole = run(input, input.size() + 1, 65536);
  outcome pieces = run(input, split, chunk);
  // The same plaintext (up to the cap) whatever the feeding pattern; an error is an error.
  const size_t common = std::min(whole.plain.size(), pieces.plain.size());
  if (whole.plain.compare(0, common, pieces.plain, 0, common) != 0) std::abort();
  if (whole.plain.size() < kMaxPlain && pieces.plain.size() < kMaxPlain) {
    if (whole.plain != pieces.plain) std::abort();
    if ((whole.last == inflater::status::error) != (pieces.last == inflater::status::error)) std::abort();
  }

  // zlib used directly agrees on what a valid prefix decodes to.
  if (whole.last != inflater::status::error && whole.plain.size() < kMaxPlain) {
    z_stream z{};
    inflateInit2(&z, -15);
    std::string out(whole.plain.size() + 1024, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    z.avail_in = static_cast<uInt>(input.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    ::inflate(&z, Z_SYNC_FLUSH);
    out.resize(out.size() - z.avail_out);
    inflateEnd(&z);
    if (out != whole.plain) std::abort();
  }

  // Our deflater round-trips whatever came out, in two sync-flushed batches.
  ringmail::deflate::deflater def({.level = 1 + data[0] % 9, .mem_level = 1 + data[1] % 9});
  std::string wire;
  const std::string& p = whole.plain;
  if (!def.deflate(std::string_view(p).substr(0, p.size() / 2), wire)) std::abort();
  if (!def.deflate(std::string_view(p).substr(p.size() / 2), wire)) std::abort();
  inflater back;
  back.feed(wire);
  std::string again;
  std::string buf(4096, '\0');
  for (;;) {
    auto r = back.inflate(std::span<char>(buf.data(), buf.size()));
    if (r.st != inflater::status::ok) {
      if (r.st == inflater::status::error) std::abort();
      break;
    }
    again.append(buf.data(), r.bytes);
  }
  if (again != p) std::abort();
  return 0;
}

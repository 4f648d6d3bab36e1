// delivery/fts/text_index.h: the full-text index file reader on arbitrary bytes. Half the
// inputs are used raw (the magic, length and CRC checks); the other half become a payload
// behind a valid header and CRC, so the decoders past the checksum (presence list, gram
// records, posting lists) see hostile bytes too. An index that parses must serialize to
// bytes that parse to the same index, and answer queries with ascending present UIDs
// that are a superset of what the same postings decode to; compacted() (a copy) must
// serialize as compact() in place.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "delivery/fts/text_index.h"

namespace {

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string framed(std::string_view payload, uint32_t present, uint32_t grams) {
  std::string out("RMFTS1\n\0", 8);
  put_le(out, 9, 4);
  put_le(out, present, 4);
  put_le(out, grams, 4);
  put_le(out, payload.size(), 8);
  out.append(payload);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size()));
  put_le(out, crc, 4);
  return out;
}

void check(std::string_view bytes) {
  auto idx = ringmail::fts::text_index::parse(bytes);
  if (!idx.ok()) return;
  const std::string again = idx->serialize();
  auto back = ringmail::fts::text_index::parse(again);
  if (!back.ok() || back->serialize() != again || back->present() != idx->present()) abort();
  const std::string_view needles[] = {"abc", "\x01\x02\x03\x04", "ab", bytes.substr(0, 5)};
  for (std::string_view needle : needles) {
    auto c = idx->query(needle);
    for (size_t i = 0; i < c.uids.size(); ++i) {
      if (!idx->contains(c.uids[i])) abort();
      if (i > 0 && c.uids[i - 1] >= c.uids[i]) abort();
    }
  }
  // It keeps working as an index: add, remove, compact, round trip.
  std::vector<uint32_t> g;
  ringmail::fts::add_grams("abcd", g);
  const bool had = idx->contains(4000000000u);
  idx->add(4000000000u, g);
  const uint32_t gone[] = {1, 2, 3};
  idx->remove(gone);
  // The compacted copy a save builds off the owner shard equals compacting in place.
  const ringmail::fts::text_index copy = idx->compacted();
  idx->compact();
  if (copy.serialize() != idx->serialize()) abort();
  if (!ringmail::fts::text_index::parse(idx->serialize()).ok()) abort();
  auto hits = idx->query("abcd");
  if (!had && (hits.uids.empty() || hits.uids.back() != 4000000000u)) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    check(in);
  } else {
    // Counts from the next bytes, small, so they often agree with the payload.
    const uint32_t present = in.empty() ? 0 : static_cast<uint8_t>(in[0]) % 8;
    const uint32_t grams = in.size() < 2 ? 0 : static_cast<uint8_t>(in[1]) % 8;
    check(framed(in.substr(std::min<size_t>(in.size(), 2)), present, grams));
  }
  return 0;
}

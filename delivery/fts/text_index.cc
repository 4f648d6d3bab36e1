#include "delivery/fts/text_index.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <iterator>

namespace ringmail::fts {

namespace {

constexpr char kMagic[8] = {'R', 'M', 'F', 'T', 'S', '1', '\n', '\0'};
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 4 + 8;

uint32_t gram_at(std::string_view s, size_t i) {
  return (uint32_t{static_cast<unsigned char>(s[i])} << 16) |
         (uint32_t{static_cast<unsigned char>(s[i + 1])} << 8) | static_cast<unsigned char>(s[i + 2]);
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint of at most 64 bits from s at *pos; false when truncated or too long.
bool get_varint(std::string_view s, size_t* pos, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= s.size()) return false;
    const auto b = static_cast<unsigned char>(s[(*pos)++]);
    r |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(s[at + i])} << (8 * i);
  return v;
}

uint32_t crc_of(std::string_view s) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib's length is a uInt: feed it in pieces so a > 4 GiB buffer is not truncated.
  while (!s.empty()) {
    const size_t n = std::min<size_t>(s.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(n));
    s.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

// Intersects sorted `a` with sorted `b` into `a`.
void intersect(std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<uint32_t> out;
  out.reserve(std::min(a.size(), b.size()));
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  a = std::move(out);
}

}  // namespace

void add_grams(std::string_view folded, std::vector<uint32_t>& grams) {
  if (folded.size() < kGramBytes) return;
  const size_t had = grams.size();
  grams.reserve(had + folded.size() - 2);
  for (size_t i = 0; i + kGramBytes <= folded.size(); ++i) grams.push_back(gram_at(folded, i));
  std::sort(grams.begin() + static_cast<ptrdiff_t>(had), grams.end());
  grams.erase(std::unique(grams.begin() + static_cast<ptrdiff_t>(had), grams.end()), grams.end());
  if (had != 0) {
    std::inplace_merge(grams.begin(), grams.begin() + static_cast<ptrdiff_t>(had), grams.end());
    grams.erase(std::unique(grams.begin(), grams.end()), grams.end());
  }
}

bool text_index::contains(uint32_t uid) const {
  return std::binary_search(present_.begin(), present_.end(), uid);
}

void text_index::append(posting& p, uint32_t uid) {
  put_varint(p.bytes, uid - p.last);
  p.last = uid;
  ++p.count;
}

std::vector<uint32_t> text_index::decode(const posting& p) {
  std::vector<uint32_t> out;
  out.reserve(p.count);
  size_t pos = 0;
  uint64_t uid = 0;
  while (pos < p.bytes.size()) {
    uint64_t d = 0;
    if (!get_varint(p.bytes, &pos, &d)) break;  // parse() validated: cannot happen
    uid += d;
    out.push_back(static_cast<uint32_t>(uid));
  }
  return out;
}

// A UID below a list's last one (an old message indexed after newer ones): re-encode.
void text_index::insert_slow(posting& p, uint32_t uid) {
  std::vector<uint32_t> uids = decode(p);
  auto it = std::lower_bound(uids.begin(), uids.end(), uid);
  if (it != uids.end() && *it == uid) return;
  uids.insert(it, uid);
  p = posting{};
  for (uint32_t u : uids) append(p, u);
}

void text_index::add(uint32_t uid, std::span<const uint32_t> grams) {
  if (uid == 0) return;
  auto at = std::lower_bound(present_.begin(), present_.end(), uid);
  if (at != present_.end() && *at == uid) return;
  present_.insert(at, uid);
  for (uint32_t g : grams) {
    posting& p = postings_[g];
    if (p.count == 0 || uid > p.last) {
      append(p, uid);
    } else if (uid != p.last) {
      insert_slow(p, uid);
    }
  }
}

void text_index::remove(std::span<const uint32_t> uids) {
  for (uint32_t u : uids) {
    auto at = std::lower_bound(present_.begin(), present_.end(), u);
    if (at != present_.end() && *at == u) {
      present_.erase(at);
      ++removed_;
    }
  }
}

size_t text_index::retain(std::span<const uint32_t> live) {
  std::vector<uint32_t> kept;
  kept.reserve(std::min(present_.size(), live.size()));
  std::set_intersection(present_.begin(), present_.end(), live.begin(), live.end(), std::back_inserter(kept));
  const size_t gone = present_.size() - kept.size();
  present_ = std::move(kept);
  removed_ += gone;
  return gone;
}

void text_index::compact() {
  if (removed_ == 0) return;
  for (auto it = postings_.begin(); it != postings_.end();) {
    std::vector<uint32_t> uids = decode(it->second);
    intersect(uids, present_);
    if (uids.empty()) {
      postings_.erase(it++);
      continue;
    }
    posting p;
    for (uint32_t u : uids) append(p, u);
    p.bytes.shrink_to_fit();
    it->second = std::move(p);
    ++it;
  }
  removed_ = 0;
}

text_index text_index::compacted() const {
  text_index out(uid_validity_);
  out.present_ = present_;
  out.postings_.reserve(postings_.size());
  for (const auto& [g, p] : postings_) {
    if (removed_ == 0) {
      out.postings_.emplace(g, p);
      continue;
    }
    std::vector<uint32_t> uids = decode(p);
    intersect(uids, present_);
    if (uids.empty()) continue;
    posting q;
    for (uint32_t u : uids) append(q, u);
    q.bytes.shrink_to_fit();
    out.postings_.emplace(g, std::move(q));
  }
  return out;
}

text_index::candidates text_index::query(std::string_view needle) const {
  candidates r;
  if (needle.size() < kGramBytes) {
    r.all = true;
    r.uids = present_;
    return r;
  }
  std::vector<uint32_t> grams;
  add_grams(needle, grams);
  std::vector<const posting*> lists;
  for (uint32_t g : grams) {
    auto it = postings_.find(g);
    if (it == postings_.end()) return r;  // a trigram no message has: no candidate
    lists.push_back(&it->second);
  }
  std::sort(lists.begin(), lists.end(), [](const posting* a, const posting* b) { return a->count < b->count; });
  if (lists.size() > kMaxQueryGrams) lists.resize(kMaxQueryGrams);
  r.uids = decode(*lists[0]);
  for (size_t i = 1; i < lists.size() && !r.uids.empty(); ++i) intersect(r.uids, decode(*lists[i]));
  // Postings may still name removed UIDs (until compact(), or in a file saved before
  // one): only present messages are candidates.
  std::erase_if(r.uids, [this](uint32_t u) { return !contains(u); });
  return r;
}

std::string text_index::serialize() const {
  std::string payload;
  uint32_t prev = 0;
  for (uint32_t u : present_) {
    put_varint(payload, u - prev);
    prev = u;
  }
  // Grams in ascending order, so the same index always makes the same bytes.
  std::vector<uint32_t> keys;
  keys.reserve(postings_.size());
  for (const auto& [g, p] : postings_) keys.push_back(g);
  std::sort(keys.begin(), keys.end());
  for (uint32_t g : keys) {
    const posting& p = postings_.at(g);
    put_varint(payload, g);
    put_varint(payload, p.count);
    put_varint(payload, p.last);
    put_varint(payload, p.bytes.size());
    payload += p.bytes;
  }
  std::string out(kMagic, sizeof kMagic);
  put_le(out, uid_validity_, 4);
  put_le(out, present_.size(), 4);
  put_le(out, keys.size(), 4);
  put_le(out, payload.size(), 8);
  out += payload;
  put_le(out, crc_of(out), 4);
  return out;
}

absl::StatusOr<text_index> text_index::parse(std::string_view s) {
  auto bad = [](std::string_view why) { return absl::DataLossError(std::string("fts index: ") + std::string(why)); };
  if (s.size() < kHeaderBytes + 4) return bad("short file");
  if (std::memcmp(s.data(), kMagic, sizeof kMagic) != 0) return bad("bad magic");
  const uint64_t payload_len = get_le(s, 20, 8);
  if (payload_len != s.size() - kHeaderBytes - 4) return bad("length mismatch (torn write)");
  if (get_le(s, s.size() - 4, 4) != crc_of(s.substr(0, s.size() - 4))) return bad("checksum mismatch");
  text_index idx(static_cast<uint32_t>(get_le(s, 8, 4)));
  const uint64_t n_present = get_le(s, 12, 4);
  const uint64_t n_grams = get_le(s, 16, 4);
  const std::string_view payload = s.substr(kHeaderBytes, payload_len);
  // Each entry takes at least one byte: counts larger than the payload are lies.
  if (n_present > payload.size() || n_grams > payload.size()) return bad("counts exceed payload");
  size_t pos = 0;
  uint64_t uid = 0;
  idx.present_.reserve(n_present);
  for (uint64_t i = 0; i < n_present; ++i) {
    uint64_t d = 0;
    if (!get_varint(payload, &pos, &d)) return bad("truncated presence list");
    if (d == 0 || d > UINT32_MAX - uid) return bad("presence list not ascending");
    uid += d;
    idx.present_.push_back(static_cast<uint32_t>(uid));
  }
  idx.postings_.reserve(n_grams);
  uint64_t prev_gram = 0;
  for (uint64_t i = 0; i < n_grams; ++i) {
    uint64_t g = 0, count = 0, last = 0, len = 0;
    if (!get_varint(payload, &pos, &g) || !get_varint(payload, &pos, &count) ||
        !get_varint(payload, &pos, &last) || !get_varint(payload, &pos, &len)) {
      return bad("truncated gram");
    }
    if (g >= (1u << 24) || (i > 0 && g <= prev_gram)) return bad("grams not ascending");
    prev_gram = g;
    if (count == 0 || len > payload.size() - pos || count > len) return bad("bad posting length");
    posting p;
    p.bytes.assign(payload.substr(pos, len));
    pos += len;
    // Every UID in the list must decode, ascend strictly, and end at `last`.
    size_t ppos = 0;
    uint64_t u = 0, n = 0;
    while (ppos < p.bytes.size()) {
      uint64_t d = 0;
      if (!get_varint(p.bytes, &ppos, &d)) return bad("truncated posting");
      if (d == 0 || d > UINT32_MAX - u) return bad("posting not ascending");
      u += d;
      ++n;
    }
    if (n != count || u != last) return bad("posting count or last mismatch");
    p.count = static_cast<uint32_t>(count);
    p.last = static_cast<uint32_t>(last);
    idx.postings_.emplace(static_cast<uint32_t>(g), std::move(p));
  }
  if (pos != payload.size()) return bad("trailing bytes");
  return idx;
}

size_t text_index::memory_bytes() const {
  size_t n = present_.capacity() * sizeof(uint32_t);
  n += postings_.capacity() * (sizeof(uint32_t) + sizeof(posting) + 1);
  for (const auto& [g, p] : postings_) {
    if (p.bytes.capacity() > 15) n += p.bytes.capacity() + 1;  // beyond the SSO buffer
  }
  return n;
}

}  // namespace ringmail::fts

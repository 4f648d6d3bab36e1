#include "delivery/sieve/sieve_memory.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::sieve {
namespace {

constexpr std::string_view kMagic = "ringmail-sieve-memory 1";

// The vacation key's text: the sender lower-cased (ASCII; addresses compare
// case-insensitively, vacation.h), NUL, the handle.
std::string vacation_key_text(std::string_view sender, std::string_view handle) {
  std::string s(sender);
  for (char& c : s) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  s += '\0';
  s.append(handle);
  return s;
}

int64_t add_seconds(int64_t now, uint64_t seconds) {
  const uint64_t room = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - std::max<int64_t>(now, 0));
  return now + static_cast<int64_t>(std::min(seconds, room));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not what we write: a damaged file
}

// Splits one line at single spaces into exactly `n` fields.
bool split_fields(std::string_view line, std::string_view* fields, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const size_t sp = line.find(' ');
    if (i + 1 < n) {
      if (sp == std::string_view::npos || sp == 0) return false;
      fields[i] = line.substr(0, sp);
      line.remove_prefix(sp + 1);
    } else {
      if (sp != std::string_view::npos || line.empty()) return false;
      fields[i] = line;
    }
  }
  return true;
}

// A decimal (a time or the count) with no sign, no leading zeros beyond "0" and at most 19 digits: what we write.
bool parse_time(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return false;
  // 19 digits can pass INT64_MAX: accumulate unsigned and check.
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  out = static_cast<int64_t>(v);
  return true;
}

}  // namespace

size_t sieve_memory::key_hash::operator()(const key_t& k) const {
  size_t h;
  std::memcpy(&h, k.data(), sizeof h);  // a SHA-256 prefix is already uniform
  return h;
}

sieve_memory::key_t sieve_memory::make_key(char kind, std::string_view text) {
  key_t key{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, &kind, 1) == 1 && EVP_DigestUpdate(ctx, text.data(), text.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, key.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || len != key.size()) std::abort();  // SHA-256 is always there: a broken libcrypto
  return key;
}

bool sieve_memory::live(const key_t& key, int64_t now) const {
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.expires > now;
}

void sieve_memory::put(const key_t& key, const entry& e, int64_t now) {
  auto it = entries_.find(key);
  if (it == entries_.end() && entries_.size() >= limits_.max_entries) {
    expire(now);
    while (!entries_.empty() && entries_.size() >= limits_.max_entries) {
      // The oldest write goes (ties: the smaller key, so the choice is reproducible).
      auto oldest = entries_.begin();
      for (auto i = entries_.begin(); i != entries_.end(); ++i) {
        if (i->second.written < oldest->second.written ||
            (i->second.written == oldest->second.written && i->first < oldest->first)) {
          oldest = i;
        }
      }
      entries_.erase(oldest);
    }
    if (limits_.max_entries == 0) return;
  }
  entries_[key] = e;
  changed_ = true;
}

uint64_t sieve_memory::vacation_period(uint64_t seconds) const {
  if (seconds == 0) return 0;
  return std::clamp(seconds, limits_.min_vacation_seconds,
                    std::max(limits_.min_vacation_seconds, limits_.max_vacation_seconds));
}

bool sieve_memory::vacation_replied(std::string_view sender, std::string_view handle, int64_t now) const {
  return live(make_key('v', vacation_key_text(sender, handle)), now);
}

void sieve_memory::remember_vacation(std::string_view sender, std::string_view handle, int64_t now,
                                     uint64_t seconds) {
  const uint64_t period = vacation_period(seconds);
  if (period == 0) return;
  put(make_key('v', vacation_key_text(sender, handle)),
      entry{'v', add_seconds(now, period), now}, now);
}

bool sieve_memory::duplicate_seen(std::string_view id, int64_t now) const { return live(make_key('d', id), now); }

void sieve_memory::track_duplicate(std::string_view id, int64_t now, uint64_t seconds, bool last) {
  const uint64_t period = std::min(seconds, limits_.max_duplicate_seconds);
  if (period == 0) return;
  const key_t key = make_key('d', id);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.expires > now && !last) return;  // counted from the first sighting
  put(key, entry{'d', add_seconds(now, period), now}, now);
}

void sieve_memory::expire(int64_t now) {
  const size_t before = entries_.size();
  absl::erase_if(entries_, [now](const auto& kv) { return kv.second.expires <= now; });
  changed_ = changed_ || entries_.size() != before;
}

std::string sieve_memory::serialize() const {
  std::vector<std::pair<key_t, entry>> sorted(entries_.begin(), entries_.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second.written != b.second.written ? a.second.written < b.second.written : a.first < b.first;
  });
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kFileHeaderBytes + sorted.size() * kMaxLineBytes);
  out.append(kMagic);
  out += '\n';
  for (const auto& [key, e] : sorted) {
    out += e.kind;
    out += ' ';
    for (unsigned char b : key) {
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
    absl::StrAppend(&out, " ", std::max<int64_t>(e.expires, 0), " ", std::max<int64_t>(e.written, 0), "\n");
  }
  absl::StrAppend(&out, "end ", sorted.size(), "\n");
  return out;
}

sieve_memory sieve_memory::parse(std::string_view bytes, int64_t now, const memory_limits& limits, bool* damaged) {
  sieve_memory empty(limits);
  sieve_memory m(limits);
  auto fail = [&]() {
    if (damaged != nullptr) *damaged = true;
    return std::move(empty);
  };
  if (damaged != nullptr) *damaged = false;
  if (bytes.empty()) return m;  // no file yet
  // The largest file we could have written under these limits (a file from larger
  // limits is cut by eviction below, but one past even that is not ours).
  const size_t max_bytes = kFileHeaderBytes + (limits.max_entries + 1) * kMaxLineBytes * 2;
  if (bytes.size() > max_bytes || bytes.back() != '\n') return fail();
  bytes.remove_suffix(1);
  size_t pos = 0;
  auto next_line = [&](std::string_view& line) {
    if (pos > bytes.size()) return false;
    const size_t nl = bytes.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? bytes.size() : nl;
    line = bytes.substr(pos, end - pos);
    pos = end + 1;
    return true;
  };
  std::string_view line;
  if (!next_line(line) || line != kMagic) return fail();
  size_t count = 0;
  bool ended = false;
  while (next_line(line)) {
    if (ended) return fail();  // nothing after "end"
    std::string_view f[4];
    if (line.size() > 4 && line.substr(0, 4) == "end ") {
      int64_t n = 0;
      if (!parse_time(line.substr(4), n) || static_cast<uint64_t>(n) != count) return fail();
      ended = true;
      continue;
    }
    if (!split_fields(line, f, 4) || f[0].size() != 1 || (f[0][0] != 'v' && f[0][0] != 'd') || f[1].size() != 64) {
      return fail();
    }
    key_t key{};
    for (size_t i = 0; i < key.size(); ++i) {
      const int hi = hex_value(f[1][2 * i]);
      const int lo = hex_value(f[1][2 * i + 1]);
      if (hi < 0 || lo < 0) return fail();
      key[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    entry e{f[0][0], 0, 0};
    if (!parse_time(f[2], e.expires) || !parse_time(f[3], e.written)) return fail();
    ++count;
    if (e.expires <= now) continue;
    const uint64_t longest = e.kind == 'v' ? std::max(limits.min_vacation_seconds, limits.max_vacation_seconds)
                                           : limits.max_duplicate_seconds;
    e.expires = std::min(e.expires, add_seconds(now, longest));
    e.written = std::min(e.written, now);
    m.put(key, e, now);
  }
  if (!ended) return fail();
  m.changed_ = false;
  return m;
}

}  // namespace ringmail::sieve

// key_cache: parsed DKIM public keys by key record text, one per shard (issue 16).
//
// Why: OpenSSL 3 decodes an RSA SubjectPublicKeyInfo through its provider decoder
// framework (d2i_PUBKEY), ~86 µs for a 2048-bit key — most of an RSA verification
// (bench/RESULTS.md, "DKIM signing and verification"). A receiver sees the same few
// senders' keys again and again; rspamd keeps parsed keys for the same reason.
//
// Keyed by the whole TXT record text, so nothing here expires by time: the DNS cache
// decides how long a record is believed, and a rotated or revoked key is a different
// text (a miss). The text includes t= and every other tag, so a hit gives exactly what
// parse_key_record would. key_limits are checked again on every hit (a key parsed under
// looser limits is refused as parse_key_record would refuse it). Refused records are not
// kept: refusing is cheap (the size checks come before any DER is parsed).
//
// Bounded: `capacity` entries, least recently used evicted first. A record is at most
// max_key_record_bytes (8 KiB), so the text held is at most capacity x 8 KiB (8 MiB at
// the default; ~0.4 MiB for 1,000 RSA-2048 records, ~400 bytes each).
//
// One thread only (a shard's): no lock; hits only splice a list node, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "spam/dkim/key_record.h"

namespace ringmail::spam::dkim {

class key_cache {
 public:
  static constexpr size_t default_capacity = 1000;

  // capacity 0: nothing is kept (every get parses).
  explicit key_cache(size_t capacity = default_capacity) : capacity_(capacity) {}
  key_cache(const key_cache&) = delete;
  key_cache& operator=(const key_cache&) = delete;

  // The record `txt` parsed under `limits`: the object kept from an earlier get of the
  // same text (no parse), else parse_key_record's result, kept when it parsed.
  absl::StatusOr<std::shared_ptr<const key_record>> get(std::string_view txt, const key_limits& limits);

  size_t size() const { return order_.size(); }
  size_t capacity() const { return capacity_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct entry {
    std::string text;
    std::shared_ptr<const key_record> key;
  };
  size_t capacity_;
  std::list<entry> order_;  // most recently used first; nodes never move in memory
  // Views of order_'s texts (stable in their list nodes): one copy of each text, and
  // lookups by string_view without building a std::string.
  std::unordered_map<std::string_view, std::list<entry>::iterator> index_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace ringmail::spam::dkim

// sieve_memory: what Sieve remembers for one user between deliveries --
//   - the vacation replies sent (RFC 5230 4.2: "... MUST NOT send more than one response
//     to the same sender within :days days"; RFC 6131 :seconds), keyed by the sender and
//     the handle (vacation.h's vacation_handle), until the period ends;
//   - the duplicate ids seen (RFC 7352: the "duplicate" test), keyed by the id the
//     interpreter gives (the handle and the header value or :uniqueid), until :seconds
//     after the first sighting, or after the latest one with :last (RFC 7352 3.3).
// Keys are stored as SHA-256 (OpenSSL) of a kind byte and the key text: senders and
// message ids are personal data and have no length bound; 32 octets are enough to tell
// them apart and say nothing.
//
// Periods (Pigeonhole 0.5's settings and RFC 6131): a vacation period of 0 seconds
// (":seconds 0") means "always reply", so nothing is remembered; other periods are
// clamped to [min_vacation_seconds, max_vacation_seconds] (Pigeonhole's
// sieve_vacation_min_period = 1d; RFC 5230 4.1: the minimum :days "SHOULD be 1"; RFC 6131
// allows a lower one, so min is a setting). Departure: Pigeonhole's
// sieve_vacation_max_period defaults to 0, no upper limit (and the interpreter passes
// periods on unbounded, as Pigeonhole); we cap at one year (RFC 5230 4.1 lets a site
// impose a maximum), so an entry, and a damaged expiry, cannot live on for ever.
// Duplicate periods are clamped to max_duplicate_seconds (Pigeonhole's
// sieve_duplicate_max_period = 7d); 0 records nothing.
//
// Bounds: at most max_entries entries (the oldest write evicted first, expired ones
// before anything), so a flood of distinct senders costs a fixed amount of memory and
// file; the file is at most kFileHeaderBytes + max_entries * kMaxLineBytes.
//
// The file: <home>/.ringmail.sieve-memory (kMemoryFileName), one per user, in the home
// directory that holds the maildir and Pigeonhole's sieve/ (script_store.h). Pigeonhole
// keeps its duplicate database in ~/.dovecot.lda-dupes, a binary file we neither read
// nor write, and lists only *.sieve in sieve/; a dot-file of our own name in the home is
// seen by neither. Text, one entry a line, so an operator can read it:
//   ringmail-sieve-memory 1
//   v <64 hex: key> <expires: unix seconds> <written: unix seconds>
//   d <64 hex: key> <expires> <written>
//   end <entry count>
// A file that does not parse (damaged, cut short by a crash, a different version, too
// large) is treated as empty: forgetting means at most one extra vacation reply or one
// extra delivery of a duplicate, never a failed delivery. Entries already expired are
// dropped on reading; an expiry further in the future than the longest period allows is
// cut to it, so a damaged value cannot pin an entry forever.
//
// Pure: no I/O, no clock (every call takes `now`), not thread-safe (one user's memory is
// used on that user's owner shard, script_store.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace ringmail::sieve {

inline constexpr std::string_view kMemoryFileName = ".ringmail.sieve-memory";
// "v " + 64 + " " + 20 + " " + 20 + "\n"
inline constexpr size_t kMaxLineBytes = 2 + 64 + 1 + 20 + 1 + 20 + 1;
inline constexpr size_t kFileHeaderBytes = 64;

struct memory_limits {
  size_t max_entries = 4096;                        // ~450 KiB of file at most
  uint64_t min_vacation_seconds = 86400;            // Pigeonhole's sieve_vacation_min_period
  uint64_t max_vacation_seconds = 365 * 86400;      // ours; Pigeonhole has none by default
  uint64_t max_duplicate_seconds = 7 * 86400;       // ... sieve_duplicate_max_period
};

class sieve_memory {
 public:
  explicit sieve_memory(const memory_limits& limits = {}) : limits_(limits) {}

  // ---- vacation (RFC 5230 4.2) ----
  // True while a reply to `sender` (compared case-insensitively) under `handle` is
  // remembered.
  bool vacation_replied(std::string_view sender, std::string_view handle, int64_t now) const;
  // Records a reply sent at `now` for `seconds` (clamped as above; 0 records nothing).
  void remember_vacation(std::string_view sender, std::string_view handle, int64_t now, uint64_t seconds);
  // The period remember_vacation() would use for `seconds`.
  uint64_t vacation_period(uint64_t seconds) const;

  // ---- duplicate (RFC 7352) ----
  // True while `id` is remembered (the test's answer).
  bool duplicate_seen(std::string_view id, int64_t now) const;
  // Records `id` after a delivery: a new or expired id for `seconds` from now; a live
  // one keeps its expiry, or with `last` (:last) gets now + seconds.
  void track_duplicate(std::string_view id, int64_t now, uint64_t seconds, bool last);

  // Drops expired entries.
  void expire(int64_t now);
  size_t size() const { return entries_.size(); }
  bool changed() const { return changed_; }  // since construction / parse
  const memory_limits& limits() const { return limits_; }

  // The file's bytes (entries ordered by write time, then key, so equal memories give
  // equal files).
  std::string serialize() const;
  // Reads a file (see above); never fails: anything unreadable yields an empty memory.
  // `damaged` (optional) tells the caller to log it.
  static sieve_memory parse(std::string_view bytes, int64_t now, const memory_limits& limits = {},
                            bool* damaged = nullptr);

 private:
  using key_t = std::array<unsigned char, 32>;
  struct key_hash {
    size_t operator()(const key_t& k) const;
  };
  struct entry {
    char kind = 'v';  // 'v' vacation, 'd' duplicate
    int64_t expires = 0;
    int64_t written = 0;
  };

  static key_t make_key(char kind, std::string_view text);
  void put(const key_t& key, const entry& e, int64_t now);
  bool live(const key_t& key, int64_t now) const;

  memory_limits limits_;
  absl::flat_hash_map<key_t, entry, key_hash> entries_;
  bool changed_ = false;
};

}  // namespace ringmail::sieve

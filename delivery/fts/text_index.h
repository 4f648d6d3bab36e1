// text_index: the full-text index of one folder, a candidate filter for IMAP SEARCH
// BODY/TEXT (issue 11). Pure: no files, no runtime; the owner shard keeps one per folder
// (user_text_index, text_index_store.h) and the IMAP session feeds it (imap/fts_search.h).
//
// WHAT IT ANSWERS. RFC 9051 6.4.4: "a message matches the key if the string is a
// substring of the associated text". Substring, not word: "arn" must find "warning". So
// the index is of byte TRIGRAMS of the case-folded text SEARCH looks in (the same strings
// search.cc matches: every part's "Name: value" header lines, and the decoded bodies of
// the text/* and message/* parts). A needle of 3 or more folded bytes can occur in a
// message only if every one of its trigrams does, so
//     candidates(needle) = messages holding all of the needle's trigrams
// is a SUPERSET of the messages that match. The caller verifies each candidate with the
// linear scan's matcher (search_matches), so results are exactly the scan's; a needle
// shorter than a trigram gets no filter (every message is a candidate).
//
// Departures from what an FTS engine does, and why:
//   - No words, stemming or language: those answer "word" queries, which IMAP's
//     substring rule does not ask; a word index would miss "arn" in "warning".
//   - HTML is indexed as the decoded HTML source, tags included, not as rendered text:
//     search.cc matches the source (as Dovecot does without FTS), and the index must hold
//     every trigram the matcher can find. Rendered text would only add candidates the
//     verification then rejects.
//   - Attachments' file names are indexed because they are in the part's header lines
//     (Content-Disposition/Content-Type), which TEXT searches; attachments' bodies that are
//     not text/* or message/* are not, as the matcher does not search them.
//
// SHAPE. One posting list per trigram (a 24-bit key): ascending UIDs, delta-varint
// encoded, appended in place while UIDs come in ascending (they do: UIDs only grow). A
// sorted list of the UIDs indexed (the PRESENCE list) says which messages the postings
// cover; a message not in it is unknown (the caller indexes it or treats it as a
// candidate). Removing a message removes it from the presence list at once; its
// postings are dropped by the next compact() (queries filter by presence meanwhile).
//
// ON DISK (serialize/parse), little-endian:
//   "RMFTS1\n\0"  magic and format version
//   u32 uid_validity       the folder's; another value means a stale index
//   u32 presence count, u32 gram count, u64 payload length
//   payload: presence UIDs as delta varints; then per gram: varint gram, varint count,
//            varint last uid, varint byte length, the posting bytes
//   u32 CRC-32 (zlib) of everything before it
// parse() checks the magic, every length, every varint, that each posting decodes to
// `count` strictly ascending UIDs ending at `last`, and the CRC: a torn or garbled file
// is an error, and the caller starts an empty index (rebuilt lazily), never a wrong one.
//
// Memory: about one byte per (message, distinct trigram) pair for dense lists plus ~64
// bytes per distinct trigram; memory_bytes() reports it.
//
// Threading: none; one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace ringmail::fts {

inline constexpr size_t kGramBytes = 3;
// Needle trigrams looked up per query: the rarest ones. Intersecting more lists would
// only narrow a candidate set the matcher verifies anyway, at the cost of decoding dense
// lists (" th" is in nearly every message).
inline constexpr size_t kMaxQueryGrams = 6;
// A file larger than this is not read (a corrupt length must not make us allocate it).
inline constexpr uint64_t kMaxIndexFileBytes = uint64_t{4} << 30;

// The distinct trigrams of `folded`, ascending, merged into `grams` (which may already
// hold another string's grams of the same message; the result stays sorted and unique).
void add_grams(std::string_view folded, std::vector<uint32_t>& grams);

class text_index {
 public:
  text_index() = default;
  explicit text_index(uint32_t uid_validity) : uid_validity_(uid_validity) {}

  uint32_t uid_validity() const { return uid_validity_; }
  size_t size() const { return present_.size(); }
  bool contains(uint32_t uid) const;
  const std::vector<uint32_t>& present() const { return present_; }

  // Indexes message `uid` with its sorted, unique trigrams (add_grams). A UID already
  // present is left alone (two sessions may index the same message at once).
  void add(uint32_t uid, std::span<const uint32_t> grams);
  // Forgets `uids` (expunged). Their postings stay until compact().
  void remove(std::span<const uint32_t> uids);
  // Keeps only the UIDs in `live` (sorted): what a folder's current UID list prunes.
  // Returns how many were removed.
  size_t retain(std::span<const uint32_t> live);
  // Rewrites the posting lists without the removed UIDs.
  void compact();
  // The same index compacted, as a new object: reads this one only (const), so it can run
  // off the owner shard while the owner keeps querying this one (text_index_store.h).
  text_index compacted() const;
  size_t removed_since_compact() const { return removed_; }

  // UIDs (ascending, all present) that may contain the folded needle; nullopt-like
  // `all` = true when the needle is too short to filter (every present UID may).
  struct candidates {
    bool all = false;
    std::vector<uint32_t> uids;
  };
  candidates query(std::string_view folded_needle) const;

  std::string serialize() const;
  static absl::StatusOr<text_index> parse(std::string_view bytes);

  size_t memory_bytes() const;
  size_t gram_count() const { return postings_.size(); }

 private:
  struct posting {
    std::string bytes;  // delta varints; the first delta is from 0
    uint32_t last = 0;
    uint32_t count = 0;
  };
  static void append(posting& p, uint32_t uid);
  static std::vector<uint32_t> decode(const posting& p);
  static void insert_slow(posting& p, uint32_t uid);

  uint32_t uid_validity_ = 0;
  std::vector<uint32_t> present_;  // ascending
  absl::flat_hash_map<uint32_t, posting> postings_;
  size_t removed_ = 0;  // UIDs removed from present_ whose postings remain
};

}  // namespace ringmail::fts

// folder_index: what the mail store knows about one folder, in memory, and the bytes that
// make it durable (a write-ahead log of changes plus checkpoints; index_file.h does the
// I/O). Pure: no files, no runtime, so it is tested on its own and fuzzed.
//
// What a folder holds (RFC 9051 2.3.1, RFC 7162 3.1):
//   UIDVALIDITY  fixed for the life of the folder's UIDs; a new value tells clients to
//                forget their cache (only when the UIDs could not be kept).
//   UIDNEXT      the UID the next message gets. UIDs are strictly ascending and never
//                reused: uid_next only grows, and it is logged with every message.
//   HIGHESTMODSEQ the modseq of the latest change; each change (new message, flag or
//                keyword change, expunge) takes highest_modseq + 1, so modseqs strictly
//                rise in the order the owner applied the changes.
//   per message  UID, the Maildir file's base name (the part before ":2,"), whether it is
//                still in new/, flags and keywords, its modseq, size on disk, RFC822.SIZE
//                (CRLF size), INTERNALDATE, and an opaque cache blob for parsed facts
//                (envelope, body structure, header offsets) the IMAP server fills later.
//   keywords     the folder's keyword names; a message's keyword mask bit i means
//                keyword i. Letters a-z of Dovecot's dovecot-keywords are bits 0-25.
//   expunged     (uid, modseq) of expunged messages, for QRESYNC's VANISHED (RFC 7162
//                3.2.10): kept until the next checkpoint, bounded by kMaxExpungedKept.
//
// THE LOG. Every change is one record: u32 payload length, u32 CRC-32 of the payload, the
// payload (u8 type, u64 sequence number, fields; integers little-endian). Sequence numbers
// are consecutive. Replay applies records in order and stops at the first record that is
// short, fails its CRC, or does not continue the sequence: that is where a crash cut the
// log (a torn tail), and nothing after it was ever acknowledged (the writer acknowledges
// only after an fdatasync that covers a record and everything before it).
//
// THE CHECKPOINT is the whole folder state at some sequence number S: a header (with the
// folder's totals and a CRC-32 of its own, so STATUS can read just the first bytes), the
// records, a CRC-32 over everything. Load = checkpoint, then the log's records after S.
//
// Threading: plain data, owned by the mailbox owner's shard.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::mailstore {

// Limits (mail/limits.h style: each names the attack it stops).
inline constexpr size_t kMaxKeywords = 32;            // keyword mask is 32 bits; Dovecot
                                                      // names 26 in file names
inline constexpr size_t kMaxKeywordLength = 128;      // a client inventing huge atoms
inline constexpr size_t kMaxBaseNameLength = 255;     // NAME_MAX: a file name
inline constexpr size_t kMaxCacheBlob = 1 << 20;      // parsed facts per message
inline constexpr size_t kMaxExpungedKept = 100'000;   // VANISHED history per folder
inline constexpr uint32_t kMaxRecordPayload = 2 << 20;  // a log record larger is damage

struct message_entry {
  uint32_t uid = 0;
  std::string base;        // Maildir file name without the ":2,<info>" part
  bool in_new = false;     // file is in new/ (named `base`), else cur/ (base + info)
  bool new_info = false;   // in new/ AND named base + ":2,<info>": Dovecot renames a file
                           // in place in new/ when flags change before any session moved
                           // it to cur/ (even to "base:2," once the flags are removed)
  uint8_t flags = 0;       // message_flag bits (maildir_filename.h)
  uint32_t keywords = 0;   // bit i: keyword i of the folder
  std::string other_flags; // info letters we do not map (kept across renames)
  uint64_t modseq = 0;
  uint64_t size = 0;       // bytes on disk
  uint64_t vsize = 0;      // RFC822.SIZE: bytes with CRLF line ends
  int64_t internal_date = 0;  // seconds since the epoch
  std::string cache;       // parsed facts, opaque here

  bool operator==(const message_entry&) const = default;
};

struct folder_state {
  uint32_t uid_validity = 0;
  uint32_t uid_next = 1;
  uint64_t highest_modseq = 1;  // RFC 7162: a folder that supports modseqs starts > 0
  std::string mailbox_guid;     // 32 hex digits: Dovecot's uidlist G field, OBJECTID's MAILBOXID
  // dovecot-uidlist as this index last wrote it holds every UID below this (0: unknown,
  // rewrite it before appending to it).
  uint32_t dovecot_uidlist_next = 0;
  std::vector<std::string> keywords;
  std::vector<message_entry> messages;  // ascending UID
  std::vector<std::pair<uint32_t, uint64_t>> expunged;  // (uid, modseq), ascending modseq
  // The new/ and cur/ modification times when the checkpoint was written (ns since the
  // epoch; 0: unknown). If both still match at open, nobody changed the files behind our
  // back and no directory listing is needed.
  int64_t new_mtime_ns = 0;
  int64_t cur_mtime_ns = 0;

  bool operator==(const folder_state&) const = default;

  // Binary search by UID; nullptr if absent.
  message_entry* find(uint32_t uid);
  const message_entry* find(uint32_t uid) const;
  uint64_t total_vsize() const;
  uint64_t total_size() const;
  size_t unseen() const;
};

// One change, as the owner applies and logs it.
struct change {
  enum kind : uint8_t {
    append = 1,      // a new message: `message` (its uid must be >= uid_next)
    set_flags = 2,   // uid's flags/keywords/in_new/other_flags become `message`'s
    expunge = 3,     // uid is gone
    add_keyword = 4, // keyword name appended to the folder's list
    set_header = 5,  // uid_validity and uid_next (a rebuild or a resync with uidlist)
    set_cache = 6,   // uid's cache blob
  };
  kind k = append;
  message_entry message;    // append, set_flags (uid + flag fields), set_cache (uid + cache)
  uint32_t uid = 0;         // expunge
  uint64_t modseq = 0;      // expunge, set_flags, append
  std::string keyword;      // add_keyword
  uint32_t uid_validity = 0, uid_next = 0;  // set_header
};

// Applies `c` to `s` (no validation beyond what keeps `s` consistent: appends must
// ascend, unknown UIDs are ignored). Keeps highest_modseq = max(modseq seen).
void apply(folder_state& s, const change& c);

// Log records.
std::string encode_record(uint64_t seq, const change& c);
struct decoded_record {
  uint64_t seq = 0;
  change c;
  size_t length = 0;  // bytes the record takes in the log
};
// The record at the start of `in`, or nullopt if it is short, corrupt, or unknown (the
// torn tail of a log).
std::optional<decoded_record> decode_record(std::string_view in);

// Replays `log` over `s`: records with seq <= after_seq are skipped (already in the
// checkpoint), the rest must continue the sequence. Returns the log's valid length
// (where the next record goes) and sets *last_seq.
size_t replay(folder_state& s, std::string_view log, uint64_t after_seq, uint64_t* last_seq);

// Checkpoints.
std::string encode_checkpoint(const folder_state& s, uint64_t seq);
struct decoded_checkpoint {
  folder_state state;
  uint64_t seq = 0;
};
// InvalidArgument/DataLoss on anything malformed: a damaged index is rebuilt, never trusted.
absl::StatusOr<decoded_checkpoint> decode_checkpoint(std::string_view in);

// The checkpoint's header alone (it is in the first kCheckpointSummaryBytes): what IMAP
// STATUS needs of a folder that is not open, without reading its records.
inline constexpr size_t kCheckpointSummaryBytes = 4096;
struct checkpoint_summary {
  uint64_t seq = 0;
  uint32_t uid_validity = 0;
  uint32_t uid_next = 0;
  uint64_t highest_modseq = 0;
  int64_t new_mtime_ns = 0;
  int64_t cur_mtime_ns = 0;
  uint32_t messages = 0;
  uint32_t unseen = 0;
  uint64_t vsize = 0;
  uint64_t size = 0;
  std::string mailbox_guid;  // IMAP STATUS MAILBOXID (RFC 8474)
};
absl::StatusOr<checkpoint_summary> decode_checkpoint_summary(std::string_view prefix);

}  // namespace ringmail::mailstore

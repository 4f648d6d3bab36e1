// queue_format: the two files of one queued message in the outbound queue (issue 13 "The
// queue"; DESIGN.md "The queue is a spool directory of fsynced files"). Pure functions over
// strings, no runtime: queue_store.h does the durable I/O, the fuzz target
// fuzz/queue_state_fuzz.cc drives the decoders on hostile bytes.
//
// Postfix keeps a queue file as a sequence of typed records (record type byte, length,
// payload: src/global/record.c) and marks each recipient done in place in the file
// (rec_type REC_TYPE_DONE). We keep the same information in two files per message, ours:
//
//   <id>.msg    written once at enqueue and never changed: the envelope (arrival time,
//               reverse path, recipients) and the message bytes
//   <id>.state  the current per-recipient states, replaced whole (tmp -> fsync -> rename)
//               by each update; absent until the first update, which means "every
//               recipient pending", so an enqueue costs one file and one rename
//
// FORMAT (both files, version 1). Lines end in LF; every value that may hold arbitrary
// octets is length-prefixed, so nothing is escaped and nothing can be mistaken for framing:
//
//   "ringmail-queue-msg 1\n"   or   "ringmail-queue-state 1\n"
//   "id " <queue id> "\n"                       [0-9A-Za-z.-], 1..64 octets
//   "arrival " <unix seconds> "\n"
//   "from " <length> "\n" <reverse path> "\n"   "" for a bounce (null reverse path)
//   "rcpts " <count> "\n"                       1..kMaxQueueRecipients
//   per recipient:
//     <status> SP <attempts> SP <next attempt> SP <address length> SP <detail length>
//     SP <text length> "\n" <address> <detail> <text> "\n"
//       status is pending | deferred | delivered | bounced; text is the last error of a
//       deferred recipient or the reason of a bounced one ("" otherwise)
//   .msg only: "body " <length> "\n" <message bytes> "\n"
//   "end " <CRC-32 (zlib) of every byte before "end", 8 lower-case hex digits> "\n"
//
// Numbers are decimal without sign or leading zeros (so a file has exactly one encoding
// and decode(encode(x)) == x, encode(decode(b)) == b). The trailer makes a torn write (a
// crash on a file system that reorders data and rename, a disk that lies) or a corrupted
// byte fail the file as a whole instead of yielding some recipients: decode refuses every
// strict prefix of a valid file, any trailing bytes, and any checksum mismatch. Counts and
// lengths are checked against the limits and the bytes remaining BEFORE anything is
// allocated, so a hostile "rcpts 4294967295" costs nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::queue {

// Recipients per message. RFC 5321 4.5.3.1.8 asks servers to accept at least 100 per
// transaction; ours accept up to this many, and a file claiming more is refused before
// any allocation (a damaged count must not make recovery allocate gigabytes).
inline constexpr size_t kMaxQueueRecipients = 1000;
// An address (RFC 5321 4.5.3.1.3: path <= 256 octets) or a +detail; generous, for
// SMTPUTF8 addresses.
inline constexpr size_t kMaxQueueAddressBytes = 1024;
// Error text of a deferred or bounced recipient (a remote reply, possibly multi-line).
inline constexpr size_t kMaxQueueTextBytes = 4096;
inline constexpr size_t kMaxQueueIdBytes = 64;

enum class rcpt_status : uint8_t { pending, deferred, delivered, bounced };

std::string_view status_name(rcpt_status s);
// delivered and bounced are final: nothing more will be tried for the recipient.
inline bool is_final(rcpt_status s) { return s == rcpt_status::delivered || s == rcpt_status::bounced; }

struct recipient_state {
  std::string address;  // local@domain as the sink got it
  std::string detail;   // the +detail it was addressed with, "" if none
  rcpt_status status = rcpt_status::pending;
  uint32_t attempts = 0;      // delivery attempts made so far
  int64_t next_attempt = 0;   // unix seconds; meaningful for deferred only (0 otherwise)
  std::string text;           // deferred: last error; bounced: the reason; else ""

  bool operator==(const recipient_state&) const = default;
};

// The envelope of one queued message with the current state of each recipient.
struct queue_record {
  std::string id;
  int64_t arrival = 0;  // unix seconds
  std::string reverse_path;
  std::vector<recipient_state> recipients;

  bool all_final() const;
  bool operator==(const queue_record&) const = default;
};

// A queue id is 1..kMaxQueueIdBytes of [0-9A-Za-z.-] and does not start with '.': safe
// as a file name and in a log line.
bool valid_queue_id(std::string_view id);

// Whether two records describe the same message: id, arrival, reverse path and the
// recipients' addresses and details, in order (their states may differ). A .state file is
// used only if it has the envelope of its .msg file.
bool same_envelope(const queue_record& a, const queue_record& b);

// The .state file. The record must be valid (see validate_record).
std::string encode_state(const queue_record& record);
// DataLoss for anything that is not exactly one valid state file.
absl::StatusOr<queue_record> decode_state(std::string_view file);

// The .msg file: the record as enqueued and the message bytes.
std::string encode_message_file(const queue_record& record, std::string_view message);
// The file in three parts, for writing a large message straight from the caller's memory
// (the message given as pieces that follow each other, e.g. trace header lines, then the
// message as received): head + pieces... + tail == encode_message_file(r, concatenation).
std::string message_file_head(const queue_record& record, uint64_t message_size);
std::string message_file_tail(std::string_view head, std::span<const std::string_view> pieces);

struct message_file {
  queue_record record;
  std::string_view message;  // a view into the decoded bytes
};
// DataLoss for anything that is not exactly one valid message file.
absl::StatusOr<message_file> decode_message_file(std::string_view file);

// InvalidArgument unless the record can be encoded: valid id, arrival >= 0, 1..max
// recipients, sizes within the limits, and the state fields consistent (pending and
// delivered recipients carry no next attempt; pending ones no text).
absl::Status validate_record(const queue_record& record);

}  // namespace ringmail::queue

// queue_control_protocol: the line protocol between `ringmail-admin queue ...` and the
// running server's control socket <data_dir>/queue/control.sock (queue_control.h). Pure
// functions over strings, no runtime: the server and the client each do their own I/O;
// the fuzz target fuzz/queue_control_fuzz.cc drives both parsers on hostile bytes.
//
// What it mirrors: Postfix's postqueue -p (list), postcat -q (show), postqueue -f / -i
// (flush, flush ID), postsuper -d / -h / -H with an id or ALL (delete, hold, release).
// Postfix talks to its queue manager through a fifo and edits the queue files itself;
// ours asks the shard that owns each queue file, so the server stays the only writer.
//
// REQUEST: one line, "<verb>[ <argument>]" ending in LF (a CR before it is allowed):
//   list | show <id> | flush | flush <id> | delete <id>|ALL | hold <id>|ALL | release <id>|ALL
// verbs in lower case, exactly one space, ids as queue_format.h's valid_queue_id, ALL in
// upper case as Postfix writes it. A connection may send several requests, one at a time.
//
// REPLY: zero or more items, then exactly one terminator item. Every item starts with a
// line; values that may hold arbitrary octets are length-prefixed (as in queue_format.h),
// so nothing is escaped and a message body cannot be mistaken for framing:
//   "message " <shard> SP <size> SP <held 0|1> SP <length> "\n" <.state bytes> "\n"
//       one queued message: the shard that owns it, its size in bytes, whether it is held,
//       and its envelope and recipient states as a .state file (queue_format.h: strict,
//       with its CRC), so the client decodes it with the same code the store trusts
//   "text " <length> "\n" <bytes> "\n"          the message itself (show)
//   "done " <id> "\n"                           an id the request acted on
//   "ok\n"                                      terminator: the request succeeded
//   "error " <text> "\n"                        terminator: it failed; text is one line
//                                               of printable ASCII ("no such queue id ...")
// Numbers are decimal, no sign, no leading zeros.
//
// LIMITS (each bounds what a hostile or broken peer can make the other side buffer):
// request and item lines kMaxControlLine, a .state kMaxControlStateBytes (a record at
// queue_format.h's limits stays below it), a message kMaxControlTextBytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "delivery/queue/queue_format.h"

namespace ringmail::queue {

inline constexpr size_t kMaxControlLine = 256;
// 1000 recipients x (1024 + 1024 + 4096 octets + numbers) is about 6.2 MB.
inline constexpr size_t kMaxControlStateBytes = 16u << 20;
inline constexpr uint64_t kMaxControlTextBytes = 1ull << 30;
inline constexpr unsigned kMaxControlShard = 4095;

enum class control_verb : uint8_t { list, show, flush, remove, hold, release };
std::string_view control_verb_name(control_verb v);  // "list", ..., "delete" for remove

struct control_request {
  control_verb verb = control_verb::list;
  std::string id;    // show, flush <id>, and the others unless `all`
  bool all = false;  // delete|hold|release ALL

  bool operator==(const control_request&) const = default;
};

// One request line, with or without its line end. InvalidArgument with a text fit for the
// "error" reply ("unknown command", "usage: hold <queue id>|ALL", ...).
absl::StatusOr<control_request> parse_control_request(std::string_view line);
// The line for a request (ending in "\n"). The request must be valid.
std::string format_control_request(const control_request& request);

// One queued message as listed: what `queue list` prints a block for.
struct control_message {
  unsigned shard = 0;
  uint64_t size = 0;
  bool held = false;
  queue_record record;
  std::string problem;  // offline reading only (never on the wire): why it is damaged

  bool operator==(const control_message&) const = default;
};

// Which shard owns a queue id ("<hex time>-<shard>-<hex counter>", queue_store's new_id);
// nullopt for an id of another shape.
std::optional<unsigned> shard_of_queue_id(std::string_view id);

// Encoders for the server. The record must be valid (validate_record).
std::string encode_message_item(const control_message& m);
std::string encode_text_item(std::string_view text);
std::string encode_done_item(std::string_view id);
std::string encode_ok_item();
// Control characters and bytes >= 0x80 in `text` become '?', and it is cut to fit a line.
std::string encode_error_item(std::string_view text);

enum class reply_kind : uint8_t { message, text, done, ok, error };

struct reply_item {
  reply_kind kind = reply_kind::ok;
  control_message message;  // message
  std::string text;         // text: the bytes; done: the id; error: the text
};

// The client's incremental reader: append() what arrives, then next() until it returns
// nullopt (more bytes needed). An error status means the stream is not this protocol
// (or exceeds a limit): the connection is useless after it. Bytes after a terminator stay
// buffered for the next reply.
class control_reply_reader {
 public:
  void append(std::string_view bytes) { buffer_.append(bytes); }
  absl::StatusOr<std::optional<reply_item>> next();
  size_t buffered() const { return buffer_.size() - pos_; }

 private:
  std::string buffer_;
  size_t pos_ = 0;
};

}  // namespace ringmail::queue

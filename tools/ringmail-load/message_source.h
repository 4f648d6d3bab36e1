// message_source: the messages the load generator sends, prepared once at start-up in
// their on-the-wire form (RFC 5321 section 4.5.2: CRLF line endings, dot-stuffed) so the
// hot path only copies bytes.
//
// Two kinds:
//   - generated: RFC 5322 headers (From, To, Subject, Date, Message-ID) and a body of
//     exactly the requested size, printable ASCII in lines of at most 78 characters;
//   - files: every regular file under a directory (e.g. the SpamAssassin public corpus),
//     with an mbox "From " envelope line dropped, line endings normalised to CRLF, and
//     any Message-ID field renamed to X-Original-Message-ID, because we add our own.
//
// Every message carries a Message-ID unique to this run, so a ledger of acknowledged
// messages can be checked against what the server stored. Pure: no sockets, no runtime.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::load {

// Normalises bare LF and bare CR to CRLF, makes sure the text ends with CRLF (unless it is
// empty) and doubles a leading "." on every line (RFC 5321 section 4.5.2).
std::string to_wire(std::string_view text);

// Prepares one file's contents for sending as a message (see the header comment).
std::string prepare_file_message(std::string_view raw);

// Printable body text of exactly `size` bytes: lines of at most 78 characters ending in
// CRLF, none starting with ".", so the text is already in wire form. Deterministic in seed.
std::string generate_body(size_t size, uint64_t seed);


// What the session needs to know about one message besides its bytes.
struct message_info {
  bool eight_bit = false;  // has bytes >= 0x80: send BODY=8BITMIME (RFC 6152) if offered
};

class message_source {
 public:
  // Generated messages with bodies of `body_size` bytes; a few distinct bodies are made
  // up front and used in turn, so messages differ without per-message generation cost.
  static message_source generated(size_t body_size, uint64_t seed);
  // Every regular file under `dir` (recursively), in a seed-dependent order. Fails if the
  // directory cannot be walked or holds no files.
  static absl::StatusOr<message_source> from_directory(const std::string& dir, uint64_t seed);

  bool is_generated() const { return generated_; }
  size_t distinct() const { return items_.size(); }
  uint64_t total_bytes() const;

  // Appends message number `index`, ready for the DATA phase (headers and body, wire form,
  // ending with CRLF but without the terminating "."), to `out`.
  //   message_id: "<...>"; recipients: for the To field of generated messages;
  //   date: a mail::format_message_date() string.
  message_info render(uint64_t index, std::string_view message_id, std::string_view from,
                      std::span<const std::string> recipients, std::string_view date,
                      std::string& out) const;

 private:
  struct item {
    std::string wire;
    bool eight_bit = false;
  };
  bool generated_ = false;
  std::vector<item> items_;
};

}  // namespace ringmail::load

// outgoing_message: what Sieve sends on its own (a vacation reply, RFC 5230 5; a reject
// notice, RFC 5429 2.1) and the pieces both are written with. Pure: no runtime, no clock
// (the caller passes the time); the delivery glue hands the result to the queue.
//
// Everything a script gives (:subject, :from, the reason) and everything taken from the
// original (its Subject:, Message-ID:, References:) is someone else's text. None of it
// may add a header field or a MIME part: header texts lose their control octets (CR, LF,
// TAB, NUL become spaces, as Pigeonhole's str_sanitize does), are cut at 256 octets
// (Pigeonhole's limit for a subject), RFC 2047-encoded when not ASCII
// (mail::encode_header_words) and folded (relay::append_wrapped, notice_format.h);
// message ids are taken only as "<" id-chars ">" tokens; body texts get CRLF line ends
// and a transfer encoding that keeps every line within RFC 5322's 998 octets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::sieve {

// A message to queue: the envelope and the bytes (header, empty line, body; CRLF).
struct outgoing_message {
  std::string envelope_from;  // "" for the null reverse-path <>
  std::string envelope_to;
  std::string bytes;
};

// Pigeonhole's str_sanitize(subject, 256).
inline constexpr size_t kMaxHeaderTextBytes = 256;
// References: ids carried over from the original (RFC 5322 3.6.4 lets us trim the middle;
// we keep the first and the latest ones), so a hostile References: costs a few lines.
inline constexpr size_t kMaxReferences = 20;

// One line of UTF-8 for a header field: control octets and runs of white space become
// one space, leading/trailing space removed, invalid UTF-8 repaired, cut at `max_bytes`
// at a character boundary.
std::string header_text(std::string_view text, size_t max_bytes = kMaxHeaderTextBytes);

// Appends "<name>: <value>" CRLF with `value` made safe as above, RFC 2047-encoded when
// not ASCII, and folded at 78 columns.
void append_text_field(std::string& out, std::string_view name, std::string_view value);

// A body text (UTF-8, any line ends) ready for a text/plain part: CRLF line ends (a bare
// CR is a line end too), then "7bit" when ASCII, "8bit" when not (Pigeonhole's choice:
// utf-8 8bit), and "base64" (76-column lines) when a line would pass 998 octets or the
// text holds a NUL. `bytes` ends in CRLF.
struct encoded_body {
  std::string transfer_encoding;
  std::string bytes;
};
encoded_body encode_text_body(std::string_view utf8);

// The message ids ("<left@right>", RFC 5322 3.6.4, read leniently: any printable ASCII
// but '<', '>' and white space inside the brackets) of a Message-ID:, In-Reply-To: or
// References: value, in order; at most `max` (the first one and the latest max-1).
std::vector<std::string> message_ids(std::string_view value, size_t max = kMaxReferences);

// A fresh Message-ID for a notice: "<YYYYmmddHHMMSS.<16 hex>.<kind>@<host>>", the hex
// from FNV-1a 64 (runtime/fnv1a.h) over `seeds` (the sender, the recipient, the original's
// id...), so two notices of one second to different people differ.
std::string new_message_id(int64_t now, std::string_view kind, std::string_view host,
                           const std::vector<std::string_view>& seeds);

}  // namespace ringmail::sieve

// Limits of the message model against the known parser-DoS inputs. Each one is a named
// constant with its reason, so the IMAP server and the spam scanner cut in the same place.
// A limit that is hit never makes parsing fail: the rest is kept as opaque bytes and the
// message is marked `truncated` (a verdict is still possible, and nothing is lost: the
// stored message is always the original bytes).
#pragma once

#include <cstddef>

namespace ringmail::mail {

// Nested multiparts / message/rfc822: each level costs a stack of boundaries. Thunderbird
// and Dovecot (mail_max_mime_parts_depth... "message_max_mime_depth" = 100) stop far below
// anything real mail needs; real mail rarely nests deeper than 5.
inline constexpr size_t max_mime_depth = 32;
// Parts per message: a 10,000-part message is an attack on the per-part work (decoding,
// charset conversion, rendering). Dovecot caps at 10000; we scan the first 1000 and keep
// the rest opaque.
inline constexpr size_t max_mime_parts = 1000;
// Header fields per header block: Postfix's header_size_limit is 102400 bytes; a block of
// 100k one-byte fields is the quadratic-lookup attack.
inline constexpr size_t max_header_fields = 1000;
// One (folded) header field: Postfix's header_size_limit.
inline constexpr size_t max_header_field_bytes = 100 * 1024;
// Whole header block (all fields).
inline constexpr size_t max_header_block_bytes = 1024 * 1024;
// Parameters in one Content-Type/Content-Disposition (RFC 2231 continuations multiply them).
inline constexpr size_t max_parameters = 64;
// RFC 2231 continuation segments for one parameter (name*0 .. name*N).
inline constexpr size_t max_parameter_segments = 64;
// Addresses parsed from one address header (To: with 100k recipients).
inline constexpr size_t max_addresses = 1000;
// Encoded words decoded in one header value (each costs a charset conversion).
inline constexpr size_t max_encoded_words = 256;
// Decoded text kept per part for scanning/search: SpamAssassin's body_part_scan_size is
// 50,000; we keep more, since our scan is cheap, but a 50 MB text part is not read whole.
inline constexpr size_t max_text_part_bytes = 1024 * 1024;
// Rendered text of the whole message for scanning.
inline constexpr size_t max_rendered_text_bytes = 4 * 1024 * 1024;
// URIs extracted per message.
inline constexpr size_t max_uris = 1000;
// Bytes of one line considered when looking for MIME boundaries (RFC 2046: boundary lines
// are at most 70 + 4 characters; longer lines cannot be boundaries and are not scanned).
inline constexpr size_t max_boundary_line_bytes = 998;

}  // namespace ringmail::mail

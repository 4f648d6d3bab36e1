// The MIME tree of one message (RFC 2045-2049): nested multiparts, message/rfc822, each
// part a zero-copy view over the message bytes. Pure: no sockets, no runtime; the IMAP
// server reuses it for BODYSTRUCTURE and partial fetches, the spam scanner for its text.
// Parsing never fails; limits.h bounds the work and marks the message `truncated`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mail/charset.h"
#include "mail/content_type.h"
#include "mail/header.h"

namespace ringmail::mail {

inline constexpr uint32_t no_part = static_cast<uint32_t>(-1);

struct mime_part {
  std::string_view bytes;    // the whole part: its header block and its body
  header_block headers;      // views into `bytes`' buffer
  std::string_view body;     // encoded body (after the empty line), without the CRLF that
                             // belongs to the next boundary line
  content_type type;
  std::string transfer_encoding;  // lower-cased: "7bit", "base64", "quoted-printable", ...
  std::string disposition;        // lower-cased "inline"/"attachment"/"" 
  std::string filename;           // from Content-Disposition filename or Content-Type name
  uint32_t parent = no_part;
  std::vector<uint32_t> children;  // multipart children, or the one message/rfc822 root
  uint32_t depth = 0;              // root is 0
  bool is_attachment() const { return disposition == "attachment" || !filename.empty(); }
};

struct message {
  std::string_view bytes;
  std::vector<mime_part> parts;  // pre-order; parts[0] is the message itself
  bool truncated = false;        // a limit of limits.h was hit somewhere
  size_t missing_boundaries = 0; // multiparts whose closing boundary never came
  const header_block& headers() const { return parts[0].headers; }
};

// Drops a leading mbox "From " separator line, which is not part of the message (files
// cut from mbox archives, like the SpamAssassin corpus, start with one).
std::string_view skip_mbox_separator(std::string_view bytes);

// Which lines end a part. RFC 2046 5.1.1 gives the grammar (delimiter, optional "--",
// transport padding, CRLF) and then tells implementors that "an exact match of the entire
// candidate line is not required; it is sufficient that the boundary appear in its
// entirety following the CRLF".
enum class boundary_rule {
  // SpamAssassin (Message.pm _parse_multipart: /^--\Q$boundary\E(--)?\s*$/): only
  // whitespace may follow; "--b--</html>" is body text. The spam scanner's rule, so its
  // text and tokens stay those of SpamAssassin.
  spamassassin,
  // The implementors' note, as Dovecot (message-parser.c boundary_find) and Thunderbird
  // read it: a line that starts with "--" and the boundary is a boundary whatever follows
  // ("--" right after it makes it the close delimiter). Where several open multiparts'
  // boundaries are prefixes of the line, the longest wins (an exact match at once,
  // innermost first), so "--b" does not end a part whose child uses "bAA". The IMAP
  // server's rule: BODYSTRUCTURE and part numbers agree with what clients compute.
  rfc2046,
};

struct parse_options {
  boundary_rule boundaries = boundary_rule::spamassassin;
};

// `bytes` must outlive the result. `charsets` decodes RFC 2231/2047 parameter values.
message parse_message(std::string_view bytes, charset_converter& charsets,
                      const parse_options& options = {});

// The transfer-decoded body of a part (base64/quoted-printable; others as is), at most
// `max_bytes`. `stats` reports broken encodings.
struct decode_stats;
std::string decode_body(const mime_part& part, size_t max_bytes, decode_stats* stats = nullptr);

// A header field's value unfolded and RFC 2047-decoded to UTF-8.
std::string decoded_value(const header_field& field, charset_converter& charsets);

}  // namespace ringmail::mail

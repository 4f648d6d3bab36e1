// smtp_reply: the client side's pure SMTP reply parser, shared by the relay and by
// ringmail-load. No sockets, no runtime: lines in, replies and the EHLO keyword table out.
//
// RFC 5321 section 4.2: a reply is one or more lines "ddd-text" ending with "ddd text"
// (or a bare "ddd"); every line carries the same code. RFC 2034 / RFC 3463: when the
// server offers ENHANCEDSTATUSCODES each line's text starts with "class.subject.detail".
// RFC 5321 section 4.1.1.1: each line of the EHLO reply after the first names one
// extension keyword with optional parameters, compared without regard to case.
//
// Departures:
// - Reply lines may end in a bare LF as well as CRLF (servers that do so are still
//   understood; we never send one).
// - The enhanced code is taken from the first line whenever it looks like one whose class
//   matches the reply's first digit, even without ENHANCEDSTATUSCODES: some servers send
//   them without announcing it, and a mismatching class is ignored, so nothing is misread.
// - "AUTH=PLAIN LOGIN" (the pre-RFC 4954 spelling some servers still send beside AUTH) is
//   read as AUTH.
//
// Limits (each stops a runaway or hostile server from holding client memory): a reply
// line longer than kMaxReplyLine or a reply of more than kMaxReplyLines lines is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::relay {

// RFC 5321 section 4.5.3.1.5 allows 512 octets per reply line; servers that send more get
// some slack before the reply counts as malformed.
inline constexpr size_t kMaxReplyLine = 4096;
// A reply with more lines than this is malformed (a runaway server).
inline constexpr size_t kMaxReplyLines = 200;

// One line of a reply: "250-text" is followed by more lines, "250 text" or a bare "250"
// ends the reply. `line` may end in CRLF or LF.
struct reply_line {
  int code = 0;
  bool last = false;
  std::string_view text;  // after the code and separator, without the line ending
};
std::optional<reply_line> parse_reply_line(std::string_view line);

// RFC 3463 status code "class.subject.detail"; class 0 means none was given.
struct enhanced_status {
  int klass = 0;  // 2, 4 or 5
  int subject = 0;
  int detail = 0;
  bool present() const { return klass != 0; }
  std::string str() const;  // "5.1.1", or "" when absent
  friend bool operator==(const enhanced_status&, const enhanced_status&) = default;
};
// The enhanced code at the start of `text` (followed by a space or the end), if any.
// RFC 3463 section 2: class 2, 4 or 5; subject 0-999; detail 0-999.
std::optional<enhanced_status> parse_enhanced_status(std::string_view text);

struct smtp_reply {
  int code = 0;              // 0: no reply (the connection broke, or none was needed)
  enhanced_status enhanced;  // from the first line, when its class matches the code
  std::string text;          // every line's text, joined by '\n' (enhanced codes kept)
  // "550 5.1.1 no such user", continuation lines joined by " / ", for reports.
  std::string describe() const;
};

// Assembles a reply from its lines, as they are read one at a time.
class reply_assembler {
 public:
  enum class status { need_more, complete, error };
  // Feeds one line (with or without its line ending). After `complete`, reply() holds the
  // reply until the next add() starts a new one; after `error` the stream is unusable.
  status add(std::string_view line);
  const smtp_reply& reply() const { return reply_; }
  smtp_reply take() { return std::move(reply_); }

 private:
  smtp_reply reply_;
  size_t lines_ = 0;
  bool done_ = false;
};

// What the server offered in its EHLO/LHLO reply.
struct extensions {
  bool pipelining = false;             // RFC 2920
  bool starttls = false;               // RFC 3207
  bool eight_bit_mime = false;         // RFC 6152
  bool size = false;                   // RFC 1870
  uint64_t size_limit = 0;             // SIZE's parameter; 0: no fixed limit announced
  bool smtputf8 = false;               // RFC 6531
  bool enhanced_status_codes = false;  // RFC 2034
  bool chunking = false;               // RFC 3030
  bool dsn = false;                    // RFC 3461
  std::vector<std::string> auth;       // RFC 4954 mechanisms, upper case, in offered order
  // Whether `mechanism` (any case) was offered after AUTH.
  bool offers_auth(std::string_view mechanism) const;
};
extensions parse_extensions(const smtp_reply& ehlo);

enum class outcome { ok, temp_fail, perm_fail, error };
// 2xx/3xx ok, 4xx temporary, 5xx permanent; anything else is a protocol error.
outcome outcome_of(int code);

// What the relay does with a recipient after an attempt (issue 13): 2xx delivered, 4xx or
// connection trouble (no reply, code 0, or anything unparseable) deferred, 5xx bounced.
enum class disposition { delivered, deferred, bounced };
disposition classify(int code);
inline disposition classify(const smtp_reply& r) { return classify(r.code); }
const char* disposition_name(disposition d);

}  // namespace ringmail::relay

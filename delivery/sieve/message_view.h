// message_view: the message as a Sieve script sees it while it runs (RFC 5228 2.4.2.x,
// 5.x; RFC 5173 body; RFC 5260 date; RFC 5293 editheader). Built once per delivery from
// the bytes the mailbox would store (the receiving session's trace lines, then the
// message as received); the interpreter (interpreter.h) asks it for header values,
// addresses, the body under a transform and the size, and edits its header through
// addheader/deleteheader, so later tests see the edited header (RFC 5293 section 5) and
// the stored copy carries it.
//
// Header values handed to tests are unfolded and, for `header`/`address`/`date`
// display names, RFC 2047-decoded to UTF-8 through mail/rfc2047.h and mail/charset.h, as
// RFC 5228 2.7.2 asks ("comparisons are performed on ... decoded" values). Header names
// compare case-insensitively (mail::equals_ignore_case). Field order is the message's;
// :index counts from the first field of that name, :last from the last (RFC 5260 6).
// Departure: unfolding is Dovecot's (what Pigeonhole's tests see): a line break and the
// one WSP after it become one space, where RFC 5322 2.2.3 keeps that WSP as written (a
// folded TAB stays a TAB); values are then trimmed (RFC 5228 2.4.2.2's leading and
// trailing white space).
//
// Body (RFC 5173 5): :raw is the body after the header, undecoded; :content lists the
// matching parts in message order, leaves transfer-decoded (text/* also converted to
// UTF-8 from its charset), a matched multipart its own prologue and (when there is one)
// its epilogue as two entries, never its children's text (5.2),
// a matched message/rfc822 the header of the enclosed message (whose body is a part of
// its own); :text is every text/* part (and application/xhtml+xml), HTML rendered to
// text by mail/html_text.h. MIME boundaries are read as RFC 2046's implementors' note
// says (mail::boundary_rule::rfc2046, as Dovecot does). As Pigeonhole: an empty body
// gives no :raw entry and a part whose header never ended no entry at all, so they
// match nothing, not even :contains "". Departure: HTML is rendered by mail/html_text.h
// (whitespace collapsed, blocks end lines), where Dovecot's mail-html2text puts a space
// at each tag and keeps the text's own spacing ("Link</a> &amp; more" is "Link & more"
// here, "Link  & more" there). Also departures, both checked against sieve-test: a text
// part in an unknown charset is read as mail/charset.h reads it (Windows-1252 when it is
// not UTF-8), where Dovecot leaves the bytes; a part of a multipart/digest without
// Content-Type is message/rfc822 (RFC 2046 5.1.5), which Pigeonhole's body test takes
// for text/plain.
//
// Editheader (RFC 5293): tests see an added value with its leading white space (trailing
// removed), as Pigeonhole does. An added value that is not printable ASCII, or holds "=?",
// is written as RFC 2047 "B" encoded words in UTF-8 (section 4; mail::encode_header_words,
// one word a line), an ASCII one folded at white space within 78 characters a line where
// its words allow; line breaks inside a value become folds.
// Received and Auto-Submitted are never deleted (RFC 5293 7, as Pigeonhole). The stored
// header keeps every original byte not deleted: malformed lines travel with the field
// before them, and the fields past mail/limits.h's max_header_fields (which tests do not
// see, nor can delete) are written back as they came. Line ends become CRLF.
//
// Pure: no I/O, no runtime. Limits: the body transforms decode at most
// `max_body_bytes` in total per call (Pigeonhole's body test reads the whole message; we
// bound it); header tests see the first mail::max_header_fields fields.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "mail/charset.h"
#include "mail/message.h"

namespace ringmail::sieve {

// RFC 5173 section 4/5.
enum class body_transform { raw, content, text };

struct message_view_limits {
  size_t max_body_bytes = 1024 * 1024;  // decoded text handed to one body test
  size_t max_added_headers = 100;       // addheader per delivery (RFC 5293 allows a limit)
};

class message_view {
 public:
  // `bytes` must outlive the view. `charsets` is the shard's converter (used for RFC 2047
  // and body charsets); it must outlive the view too.
  message_view(std::string_view bytes, mail::charset_converter& charsets,
               const message_view_limits& limits = {});

  // Values of every field named `name` (case-insensitive), in message order, unfolded,
  // leading/trailing white space removed; RFC 2047-decoded when `decode`. Sees the
  // header after addheader/deleteheader.
  std::vector<std::string> header_values(std::string_view name, bool decode = true) const;
  bool has_header(std::string_view name) const;

  // RFC 5173: the body under `transform`. For :content, `content_types` as in the RFC
  // ("" matches every part, "text" a top type, "text/html" a full type); the texts of
  // the matching parts (decoded from their transfer encoding and converted to UTF-8 for
  // text/*), one entry per part. :raw is one entry (the undecoded body); :text is one
  // entry per text part, HTML reduced to text.
  std::vector<std::string> body(body_transform transform,
                                const std::vector<std::string>& content_types = {}) const;

  // RFC 5228 5.9: the message's size in octets (as stored: trace lines included,
  // after header edits).
  size_t size() const;

  // ---- editheader (RFC 5293) ----
  // addheader: `last` appends after the last field, else inserts before the first.
  // Returns false (nothing done) past max_added_headers or when `name` is not an RFC 5322
  // field name (the checker refuses constant ones; variables can make any).
  bool add_header(std::string_view name, std::string_view value, bool last);
  // deleteheader: removes the fields named `name` whose (decoded) value `keep_if` says
  // to delete; `index` (1-based, 0 = every occurrence) counts from the first or, with
  // `from_last`, from the last field of that name. Returns the number deleted.
  // `should_delete(value)` is called with each candidate's decoded value (a deleteheader
  // without value patterns passes one that always says yes). Received and
  // Auto-Submitted: always 0.
  size_t delete_header(std::string_view name, size_t index, bool from_last,
                       absl::FunctionRef<bool(std::string_view value)> should_delete);
  bool header_edited() const { return edited_; }
  // The header block as it now stands, CRLF-terminated lines, without the empty line:
  // what the stored copy gets instead of the original header when header_edited().
  std::string header_block() const;
  // The body as received (after the empty line).
  std::string_view body_bytes() const;

 private:
  struct field {
    std::string name;
    std::string raw_value;  // as written (folding kept), after "name:" and its WSP
    std::string text;       // the field's lines as header_block() writes them (CRLF)
    bool added = false;     // by addheader: tests see its leading WSP (as Pigeonhole)
  };
  std::string value_of(const field& f, bool decode) const;
  std::string multipart_outside(const mail::mime_part& part, std::string& epilogue) const;
  size_t header_size() const;

  std::string_view bytes_;
  mail::charset_converter& charsets_;
  message_view_limits limits_;
  mail::message parsed_;  // the MIME tree of the message as received (body tests)
  size_t body_offset_ = 0;
  std::string prefix_;         // lines before the first field (malformed), CRLF
  std::vector<field> fields_;  // the current header, in order
  std::string tail_;           // header lines past mail/limits.h's cut, kept opaque
  size_t added_ = 0;
  bool edited_ = false;
};

}  // namespace ringmail::sieve

// IMAP SEARCH evaluation (RFC 9051 6.4.4): does one message match a parsed search_key?
// Pure: the session hands in the index entry (flags, keywords, sizes, dates) and, only
// when search_needs_content() says so, the parsed message; nothing here reads files.
//
// RFC 9051 6.4.4: "In all search keys that use strings, a message matches the key if the
// string is a substring of the associated text. The matching SHOULD ignore the case of
// characters." What "the associated text" is, here, as Dovecot 2.3 has it (our SEARCH
// results are compared with Dovecot's on the same Maildir):
//   SUBJECT/HEADER/FROM/TO/CC/BCC: each instance of the top-level header field, unfolded
//     and RFC 2047-decoded to UTF-8 (mail::decoded_value); a match within any instance.
//     Addresses are matched as that decoded text; Dovecot first re-writes the address
//     list (message_address_write), so it drops quotes a display name does not need:
//     FROM "\"Foo" matches `"Foo Bar" <a@b>` here and not there. An empty string in any
//     header key (SUBJECT "", HEADER X-Spam "") matches when the field exists at all,
//     as in Dovecot; BODY "" and TEXT "" match every message.
//   BODY: the body of every text/* and message/* leaf part (as Dovecot's message-search.c,
//     whose content_type_text skips other types and multipart preambles/epilogues),
//     transfer-decoded (base64/quoted-printable) and converted to UTF-8 from the part's
//     charset (none: US-ASCII, invalid bytes replaced). text/html is searched as decoded
//     HTML source, tags included, as Dovecot does (it renders HTML only for FTS).
//   TEXT: every part's header fields as "Name: decoded value" lines (so "subject: hi"
//     matches, as in Dovecot, which streams name, ": ", value, CRLF), and BODY. Here a
//     match never runs from a part's headers into its body; Dovecot's can (its search
//     restarts at each part, not between a part's header and body): a rare difference.
// Case-insensitivity is mail::fold_case (mail/casefold.h): ASCII, Latin-1, Latin
// Extended-A, Greek, Cyrillic; not yet i;unicode-casemap (issue 11).
//
// Dates (RFC 9051: "disregarding time and timezone"):
//   BEFORE/ON/SINCE compare the INTERNALDATE's calendar day in the server's zone
//     (search_context::tz_offset_seconds; Dovecot uses the process's localtime; our
//     shards run in UTC, so 0 is that default).
//   SENTBEFORE/SENTON/SENTSINCE compare the first Date: header's calendar day in the zone
//     it was written in (mail/date.h). A message without a parseable Date: counts as sent
//     1970-01-01 (Dovecot's index_mail_get_date: "0 = not found / invalid"), so it matches
//     SENTBEFORE of any later day and no SENTSINCE. (Falling back to INTERNALDATE is what
//     RFC 5256 asks of SORT, not of SEARCH; Dovecot does not do it for SEARCH.)
// Sizes: LARGER/SMALLER compare RFC822.SIZE (message_entry::vsize), strictly.
// \Recent: IMAP4rev2 removed it and we do not track it. RECENT and NEW (= RECENT UNSEEN)
//   match no message; OLD (= NOT RECENT) matches every message.
// KEYWORD k: the folder's keyword names are compared ASCII case-insensitively (flag
//   names are atoms; Dovecot looks keywords up case-insensitively); a keyword the folder
//   does not know matches nothing, and UNKEYWORD of it everything.
// Sequence sets: "*" is max_seq / max_uid; "$" (RFC 5182 SEARCHRES) is the saved list of
//   UIDs, for a message-number set and a UID set alike ("$" always names messages by UID).
// MODSEQ n (RFC 7162): message_entry::modseq >= n.
// EMAILID/THREADID id (RFC 8474): exact match with search_message::email_id/thread_id,
//   which the session fills (object_id.h) when search_needs_object_ids(); none matches "".
// SAVEDBEFORE/SAVEDON/SAVEDSINCE (RFC 8514): as BEFORE/ON/SINCE on the save date
//   (object_id.h save_date_of: the Maildir base name's time, message_entry::base; the
//   session sets `base` when search_needs_save_date()). SAVEDATESUPPORTED: every message
//   (every folder has save dates).
// OLDER n / YOUNGER n (RFC 5032 WITHIN): INTERNALDATE <= now - n / >= now - n, in
//   seconds, search_context::now (both include the boundary second, as Dovecot).
//
// Cost: search_matches() evaluates flag, set, date and size keys before content keys at
// each AND/OR level and stops at the first decision, so a SEARCH whose keys are all
// index facts never reads `parsed` (10,000 messages cost 10,000 entry lookups). Content
// is decoded once per message per search_text_cache, and only the parts a key needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "delivery/mailstore/folder_index.h"
#include "mail/charset.h"
#include "mail/message.h"
#include "protocols/imap/command.h"

namespace ringmail::imap {

// Decoded text kept per message for a search: a 50 MB text attachment is searched in
// its first max_search_text_bytes (the limit stops one SEARCH TEXT from holding a
// message's whole decoded size in memory per shard).
inline constexpr size_t max_search_text_bytes = 16 * 1024 * 1024;

struct search_message {
  uint32_t seq = 0;                                 // message sequence number
  const mailstore::message_entry* entry = nullptr;  // uid, flags, keywords, vsize, dates
  const mail::message* parsed = nullptr;            // set when search_needs_content();
                                                    // bytes with CRLF or LF line ends
  std::string_view email_id, thread_id;             // RFC 8474; set when
                                                    // search_needs_object_ids()
};

struct search_context {
  uint32_t max_seq = 0, max_uid = 0;                     // what "*" stands for
  const std::vector<std::string>* keywords = nullptr;    // folder keywords, bit i = name i
  const std::vector<uint32_t>* saved_uids = nullptr;     // SEARCHRES "$", ascending UIDs;
                                                         // null = empty
  mail::charset_converter* charsets = nullptr;           // needed for content keys
  int64_t tz_offset_seconds = 0;                         // server zone for BEFORE/ON/SINCE
  int64_t now = 0;                                       // seconds since the epoch (OLDER/YOUNGER)
};

// Whether any key in the tree needs the message's content (header, body, text and
// sent-date keys, at any depth): the session parses the message only then.
bool search_needs_content(const search_key& k);
// Whether any key is EMAILID/THREADID (the ids come from the fetch cache or the file) or
// SAVED* (the message's base name is needed).
bool search_needs_object_ids(const search_key& k);
bool search_needs_save_date(const search_key& k);

// The decoded, case-folded text of one message, computed lazily and reused across the
// keys of one SEARCH. It notices by itself when it is handed another message (by UID,
// sequence number and the parsed message's bytes), so one cache can serve a whole
// SEARCH loop; it holds at most one message's text.
class search_text_cache {
 public:
  search_text_cache() = default;
  search_text_cache(const search_text_cache&) = delete;
  search_text_cache& operator=(const search_text_cache&) = delete;

 private:
  friend class search_evaluator;
  struct header_text {
    bool decoded = false;
    std::string folded;  // the decoded value, case-folded (once `decoded`)
  };
  // Identity of the message the cached text belongs to.
  uint32_t uid_ = 0, seq_ = 0;
  const void* bytes_ = nullptr;
  size_t size_ = 0;
  bool valid_ = false;
  std::vector<header_text> headers_;         // top-level fields, by index, decoded lazily
  std::optional<std::string> body_;          // folded BODY text
  std::optional<std::string> text_headers_;  // folded "Name: value\n" of every part (TEXT)
  std::optional<int64_t> sent_day_;          // SENT* day number
};

// Whether message `m` matches `k`. `m.parsed` and ctx.charsets must be set when
// search_needs_content(k); otherwise they are never read (a content key evaluated
// without them does not match: a message the session could not read matches no text).
bool search_matches(const search_key& k, const search_message& m, const search_context& ctx);
// The same with decoded text reused between calls (several string keys, or several
// SEARCH passes over one message, decode once).
bool search_matches(const search_key& k, const search_message& m, const search_context& ctx,
                    search_text_cache& cache);

// Full-text index (issue 11, imap/fts_search.h): the folded texts BODY and TEXT look in,
// built exactly as search_matches() builds them (every part's "Name: value" header lines;
// the BODY text), so every substring the matcher can find is in one of them. Both empty
// when the message has no content (m.parsed or ctx.charsets unset, no parts).
struct search_texts {
  std::string headers, body;
};
search_texts search_texts_of(const search_message& m, const search_context& ctx);

}  // namespace ringmail::imap

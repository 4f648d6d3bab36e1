// One IMAP command as the client sent it (RFC 9051 section 9 grammar, RFC 3501 for the
// forms IMAP4rev1 clients still send), parsed into plain values. Pure: no sockets, no
// mail store. command_reader.h frames a command (its line and literals) out of the byte
// stream; parse_command() below turns those bytes into a `command`; the session (glue)
// runs it.
//
// One flat struct rather than a variant per command: each command fills the fields its
// grammar has and leaves the rest at their defaults, which keeps the session's dispatch
// a plain switch. Strings are owned copies (astrings, quoted strings and literals alike,
// unescaped), so the command outlives the input buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::imap {

// ---- sequence sets (RFC 9051 section 9: sequence-set, seq-number, "$") ------------------

// One range a:b of a sequence set. `star` stands for "*" (the largest number in use);
// a:b and b:a are the same range (section 9: "the server should interpret it as 4:2").
struct seq_range {
  static constexpr uint32_t star = 0;  // 0 is not a valid seq-number, so it can mean "*"
  uint32_t first = 0;
  uint32_t last = 0;
  bool operator==(const seq_range&) const = default;
};

struct sequence_set {
  std::vector<seq_range> ranges;  // as written; empty only when `saved`
  bool saved = false;             // "$": the SEARCHRES saved result (RFC 5182)
  bool operator==(const sequence_set&) const = default;

  // The numbers the set names among 1..largest ("*" = largest), ascending, each once.
  // Numbers above `largest` are dropped (RFC 9051 6.4.8: UID sets may name absent UIDs;
  // the session refuses sequence numbers above EXISTS itself). A set of 4294967295 ranges
  // costs O(ranges log ranges + result), never O(2^32).
  std::vector<uint32_t> resolve(uint32_t largest) const;
  // True if any number in the set (with "*" = largest) is above `largest` (message
  // sequence sets must not name messages that do not exist: BAD/NO in the session).
  bool exceeds(uint32_t largest) const;
  // Whether `n` is in the set ("*" = largest). O(ranges): for SEARCH keys, callers with
  // many messages resolve() once instead.
  bool contains(uint32_t n, uint32_t largest) const;
};

// ---- FETCH (RFC 9051 section 6.4.5, RFC 3516 BINARY) ------------------------------------

// A body section: "1.2.HEADER.FIELDS (From To)" -> part {1,2}, header_fields, {"FROM","TO"}.
struct section_spec {
  enum class kind {
    whole,              // BODY[] or BODY[1.2]: the whole message / the part's body
    header,             // HEADER
    header_fields,      // HEADER.FIELDS (..)
    header_fields_not,  // HEADER.FIELDS.NOT (..)
    text,               // TEXT
    mime,               // MIME (only after a part number)
  };
  std::vector<uint32_t> part;       // empty: the message itself; numbers are >= 1
  kind k = kind::whole;
  std::vector<std::string> fields;  // header_fields(_not): field names, upper-cased
  bool operator==(const section_spec&) const = default;
};

struct fetch_item {
  enum class kind {
    uid, flags, internal_date, rfc822_size, envelope,
    body_structure,  // BODYSTRUCTURE (extensible)
    body,            // BODY without a section: the non-extensible BODYSTRUCTURE
    rfc822,          // = BODY[] (sets \Seen)
    rfc822_header,   // = BODY.PEEK[HEADER]
    rfc822_text,     // = BODY[TEXT] (sets \Seen)
    body_section,    // BODY[...] / BODY.PEEK[...]
    binary_section,  // BINARY[...] / BINARY.PEEK[...] (RFC 3516; part numbers only)
    binary_size,     // BINARY.SIZE[...]
    modseq,          // MODSEQ (RFC 7162; parsed so CONDSTORE can follow)
    // OBJECTID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970): object_id.h, preview.h
    email_id, thread_id, save_date, preview,
  };
  kind k = kind::uid;
  bool peek = false;  // .PEEK: does not set \Seen
  bool lazy = false;  // PREVIEW (LAZY), RFC 8970: NIL rather than read the file
  section_spec section;
  // <origin.length> (RFC 9051: "BODY[]<0.2048>"); nullopt: the whole section.
  std::optional<uint32_t> partial_origin;
  uint32_t partial_length = 0;
  bool operator==(const fetch_item&) const = default;
};

// ---- SEARCH (RFC 9051 section 6.4.4) ----------------------------------------------------

struct search_key {
  enum class kind {
    all, and_,  // and_: `children` all match (a parenthesised list, or the top level)
    or_, not_,  // or_: two children; not_: one
    seq_set,    // a sequence-set as a key (`set`)
    uid,        // UID sequence-set (`set`)
    // flags
    answered, deleted, draft, flagged, seen, recent, new_, old,
    unanswered, undeleted, undraft, unflagged, unseen,
    keyword, unkeyword,  // `text` = the keyword
    // strings (RFC 9051: case-insensitive substring of the decoded text)
    bcc, body, cc, from, subject, text, to,
    header,  // `field` (upper-cased) and `text` (may be empty: the field exists)
    // dates: `date` is days since 1970-01-01 (date without time, RFC 9051 "date")
    before, on, since,              // INTERNALDATE, date part
    sent_before, sent_on, sent_since,  // Date: header, date part
    // sizes: `number`
    larger, smaller,
    modseq,  // MODSEQ n (RFC 7162; `number`)
    // OBJECTID (RFC 8474): `text`; SAVEDATE (RFC 8514): `date` / none; WITHIN (RFC 5032):
    // OLDER/YOUNGER n seconds (`number`)
    email_id, thread_id,
    saved_before, saved_on, saved_since, save_date_supported,
    older, younger,
  };
  kind k = kind::all;
  std::string text;
  std::string field;
  int64_t date = 0;
  uint64_t number = 0;
  sequence_set set;
  std::vector<search_key> children;
  bool operator==(const search_key&) const = default;
};

// RFC 9051 6.4.4.1 / RFC 4731 ESEARCH RETURN options.
struct search_return {
  bool min = false, max = false, all = false, count = false, save = false;
  bool any() const { return min || max || all || count || save; }
  bool operator==(const search_return&) const = default;
};

// ---- LIST (RFC 9051 6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS) ---------------

struct list_options {
  // selection options
  bool subscribed = false, remote = false, recursive_match = false, special_use = false;
  // return options
  bool return_subscribed = false, return_children = false, return_special_use = false;
  std::vector<std::string> return_status;  // STATUS (..) items, upper-cased
  bool extended = false;  // the command used any LIST-EXTENDED syntax (answer in kind)
  bool operator==(const list_options&) const = default;
};

// ---- the command ------------------------------------------------------------------------

enum class command_name {
  capability, noop, logout, starttls, authenticate, login, enable, select, examine,
  create, delete_, rename, subscribe, unsubscribe, list, lsub, namespace_, status,
  append, idle, check, close, unselect, expunge, search, fetch, store, copy, move, id,
  getmetadata, setmetadata, notify,  // METADATA (RFC 5464), NOTIFY (RFC 5465)
  sort, thread,  // RFC 5256 (sort_parser.cc, sort_commands.cc)
  compress,  // COMPRESS=DEFLATE (RFC 4978; compress_command.cc): the algorithm in `atoms`
  getquota, getquotaroot, setquota,  // QUOTA (RFC 9208; quota_commands.cc): see quota_root
};

// ---- CONDSTORE / QRESYNC (RFC 7162) -----------------------------------------------------

// SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids] [(seq-match uid-match)])).
// The sets are kept as written (ranges), never expanded: "1:4294967295" is one range.
struct qresync_param {
  uint32_t uid_validity = 0;
  uint64_t modseq = 0;
  std::optional<sequence_set> known_uids;
  // Message sequence match data: message numbers and the UIDs the client has for them,
  // pairwise (section 3.2.5.2); both or neither.
  std::optional<sequence_set> match_seqs;
  std::optional<sequence_set> match_uids;
  bool operator==(const qresync_param&) const = default;
};

// ---- CATENATE / UTF8=ACCEPT (RFC 4469, RFC 6855) -----------------------------------------

// One cat-part of APPEND .. CATENATE (..): "TEXT" literal, "URL" astring, or (RFC 6855
// section 4) "UTF8" "(" literal8 ")".
struct catenate_part {
  bool url = false;   // true: `text` is the URL (imap_url.h); false: the bytes
  bool utf8 = false;  // the UTF8 (~{n}) form
  std::string text;
  bool operator==(const catenate_part&) const = default;
};

// ---- SORT and THREAD (RFC 5256, RFC 5957 SORT=DISPLAY, RFC 5267 ESORT) ------------------

// One sort-key of SORT (sort-criterion = ["REVERSE" SP] sort-key).
struct sort_criterion {
  enum class kind { arrival, cc, date, from, size, subject, to, display_from, display_to };
  kind k = kind::arrival;
  bool reverse = false;
  bool operator==(const sort_criterion&) const = default;
};

// THREAD algorithms (RFC 5256 section 3; REFS: draft-ietf-morg-inthread, as Dovecot).
enum class thread_algorithm { ordered_subject, references, refs };

// ---- METADATA / NOTIFY (RFC 5464, RFC 5465) ----------------------------------------------

// GETMETADATA [(options)] mailbox entries / SETMETADATA mailbox (entry value ...).
struct metadata_args {
  std::vector<std::string> entries;  // GETMETADATA: names as written (valid, checked)
  std::vector<std::pair<std::string, std::optional<std::string>>> values;  // SETMETADATA; nullopt: NIL
  std::optional<uint32_t> maxsize;   // MAXSIZE n
  int depth = 0;                     // DEPTH 0 / 1 / infinity (-1)
  bool operator==(const metadata_args&) const = default;
};

// One event-group of NOTIFY SET: "(" filter-mailboxes SP events ")".
struct notify_group {
  enum class filter { selected, selected_delayed, inboxes, personal, subscribed, subtree, mailboxes };
  filter f = filter::selected;
  std::vector<std::string> mailboxes;  // subtree / mailboxes, as written
  // Events (RFC 5465 section 5); `none`: the group's events were NONE.
  enum event : uint16_t {
    message_new = 1, message_expunge = 2, flag_change = 4, annotation_change = 8,
    mailbox_name = 16, subscription_change = 32, mailbox_metadata_change = 64,
    server_metadata_change = 128,
  };
  uint16_t events = 0;
  bool none = false;
  std::vector<fetch_item> fetch;             // MessageNew (fetch-att ...)
  std::vector<std::string> unknown_events;   // event-ext names we do not know (NO [BADEVENT])
  bool operator==(const notify_group&) const = default;
};

struct notify_args {
  bool none = false;    // NOTIFY NONE
  bool status = false;  // NOTIFY SET STATUS
  std::vector<notify_group> groups;
  bool operator==(const notify_args&) const = default;
};

struct append_message {
  std::vector<std::string> flags;  // as written, e.g. "\\Seen", "$Forwarded"
  std::optional<int64_t> internal_date;  // seconds since the epoch (the zone applied)
  std::string message;             // the literal's bytes
  bool binary = false;             // literal8 "~{n}" (RFC 3516)
  // RFC 6855 section 4: append-data "UTF8" SP "(" literal8 ")" (the session refuses it
  // with BAD unless UTF8=ACCEPT is enabled).
  bool utf8 = false;
  // RFC 4469: CATENATE (..) instead of a literal; `message` is then empty until the
  // session resolves the parts.
  bool catenate = false;
  std::vector<catenate_part> parts;
  bool operator==(const append_message&) const = default;
};

struct command {
  std::string tag;
  command_name name = command_name::noop;
  bool uid = false;  // "UID FETCH" etc.; for EXPUNGE: UID EXPUNGE with `set`

  // mailbox names as the client sent them (astring, unescaped; modified UTF-7 or UTF-8,
  // the session decides): SELECT/EXAMINE/CREATE/DELETE/SUBSCRIBE/UNSUBSCRIBE/STATUS/
  // APPEND/COPY/MOVE destination → mailbox; RENAME → mailbox, new_name; LIST/LSUB →
  // reference, patterns (several with LIST-EXTENDED "( pat1 pat2 )").
  std::string mailbox;
  std::string new_name;
  std::string reference;
  std::vector<std::string> patterns;
  list_options list;

  // LOGIN user password; AUTHENTICATE mechanism [initial-response]
  std::string user;
  std::string password;  // wiped by the session after use
  std::string mechanism;
  std::optional<std::string> initial_response;  // "=" kept as "=" (sasl::server wants it)

  // ENABLE caps, STATUS items, CREATE/SELECT parameters: upper-cased atoms
  std::vector<std::string> atoms;
  // CREATE (USE (\Sent \Archive)): the special-use attributes as written (RFC 6154 3)
  std::vector<std::string> special_use;

  // FETCH/STORE/COPY/MOVE/SEARCH/UID EXPUNGE
  sequence_set set;
  std::vector<fetch_item> fetch;
  bool fetch_macro = false;  // ALL/FAST/FULL were expanded into `fetch`
  std::optional<uint64_t> changed_since;  // FETCH modifier (CHANGEDSINCE n), RFC 7162
  // RFC 7162 QRESYNC: UID FETCH modifier VANISHED (only with CHANGEDSINCE, UID FETCH);
  // SELECT/EXAMINE (QRESYNC (..)) parameter ("QRESYNC" is also in `atoms`).
  bool fetch_vanished = false;
  std::optional<qresync_param> qresync;

  // STORE set [+|-]FLAGS[.SILENT] (flags)
  enum class store_mode { replace, add, remove } store = store_mode::replace;
  bool silent = false;
  std::vector<std::string> flags;
  std::optional<uint64_t> unchanged_since;  // (UNCHANGEDSINCE n), RFC 7162

  // SEARCH [RETURN (..)] [CHARSET x] keys; `search` is an and_ of the top-level keys
  search_key search;
  search_return search_ret;
  bool esearch = false;   // RETURN was given: answer with ESEARCH (RFC 4731)
  std::string charset;    // upper-cased; empty if not given
  // SORT [RETURN (..)] (criteria) charset keys: the criteria in order (RETURN, the charset
  // and the keys go to search_ret/esearch, charset and search); THREAD alg charset keys.
  std::vector<sort_criterion> sort;
  thread_algorithm thread = thread_algorithm::references;

  // APPEND: one message, or several (MULTIAPPEND, RFC 3502), in order
  std::vector<append_message> append;

  // GETMETADATA / SETMETADATA (RFC 5464); NOTIFY (RFC 5465)
  metadata_args metadata;
  notify_args notify;

  // ID ( "key" "value" ... ) or NIL
  std::vector<std::pair<std::string, std::optional<std::string>>> id_params;

  // QUOTA (RFC 9208): GETQUOTA / SETQUOTA quota-root (GETQUOTAROOT uses `mailbox`);
  // SETQUOTA's (resource limit) pairs, names upper-cased.
  std::string quota_root;
  std::vector<std::pair<std::string, uint64_t>> quota_limits;
};

struct parse_error {
  std::string tag;      // the tag if one could be read ("*" otherwise: answer untagged BAD)
  std::string message;  // fixed text for "tag BAD <message>", never echoing client bytes
                        // beyond a short command name
};

struct parse_options {
  // IMAP4rev2 / UTF8=ACCEPT: quoted strings may carry UTF-8 (RFC 9051 4.3); rev1: 7-bit.
  bool utf8 = false;
};

// Parses one complete command as command_reader framed it: the command line(s) WITHOUT
// the final CRLF, with every literal's "{n}\r\n" (or "{n+}", "~{n}") header and bytes in
// place, exactly as received. Returns the command, or the tag and a reason for BAD.
// Depth of nesting (search keys, parenthesised lists) is bounded (100) so that 100,000
// '(' costs a BAD, not the stack.
struct parse_result {
  std::optional<command> cmd;
  parse_error error;  // when !cmd
};
parse_result parse_command(std::string_view bytes, const parse_options& options = {});

// RFC 9051 date-time "dd-Mon-yyyy hh:mm:ss +zzzz" -> seconds since the epoch (UTC).
std::optional<int64_t> parse_date_time(std::string_view s);
// RFC 9051 date "d-Mon-yyyy" / "dd-Mon-yyyy" -> days since 1970-01-01.
std::optional<int64_t> parse_date(std::string_view s);

}  // namespace ringmail::imap

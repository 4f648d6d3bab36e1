// Object identifiers (RFC 8474 OBJECTID) and the save date (RFC 8514 SAVEDATE) of the
// mail store's folders and messages. Pure: bytes and names in, ids out; no files, no
// runtime, so the rules below are tested on their own and JMAP (issue 12) computes the
// same ids from the same inputs.
//
// RFC 8474 section 4: "objectid = 1*255(ALPHA / DIGIT / "_" / "-")" — the JMAP Id
// syntax, so one id serves both protocols. The rules, and why:
//
//   MAILBOXID  the folder's mailbox GUID (folder_state::mailbox_guid: 32 hex digits),
//              which lives in the folder's own index (ringmail-index header) and
//              dovecot-uidlist ("G" field). RFC 8474 5.1: it "MUST NOT change if the
//              mailbox is renamed" — the index moves with the folder's directory on
//              RENAME; DELETE removes the directory, so a CREATE of the same name gets a
//              fresh GUID. It is Dovecot's own MAILBOXID for a folder Dovecot numbered
//              first (we adopt its uidlist GUID), so both servers name a folder alike.
//
//   EMAILID    "M" + the first 24 hex digits (96 bits) of the SHA-256 of the message as
//              IMAP serves it (BODY[], CRLF line ends: render's to_crlf of the file).
//              RFC 8474 5.1: "the EMAILID ... MUST be the same if the message is copied
//              or moved" — a COPY hard-links the same bytes, so the hash is the same with
//              nothing to carry; and the id never changes, because Maildir files are
//              immutable once named. RFC 8474 allows identical messages to share an
//              EMAILID (a message delivered twice to one user is one email to JMAP too).
//              96 bits: no accidental collision among the 2^40 messages of any store.
//              Computed on first use and kept in the message's fetch cache blob
//              (fetch_cache.h), so it costs one read of the file, once.
//
//   THREADID   "T" + the first 24 hex digits of the SHA-256 of the thread root's
//              Message-ID: the first msg-id of References (RFC 5322 3.6.4: References
//              starts with the thread's first message), else of In-Reply-To, else the
//              message's own Message-ID. A message with none of them is a thread of its
//              own: THREADID is "T" + its EMAILID's digits. Every message of a thread
//              names the same root, so all get the same THREADID from their own headers,
//              with no lookup of other messages (RFC 8474 5.2 lets the server choose how
//              it groups; the id is stable because headers are immutable). Departure: no
//              subject-based grouping (RFC 5256 THREAD=REFERENCES does that); a reply
//              whose client dropped the References root starts a new thread.
//
//   SAVEDATE   the time the file got its name in this folder: the leading seconds of
//              the Maildir base name ("<time>.<unique>.<host>", written by the store at
//              delivery, APPEND and COPY/MOVE, which all name a fresh file). File
//              ctime would be wrong: a flag change renames the file and resets it. A base
//              name without a leading time (written by some other tool) falls back to
//              INTERNALDATE, so SAVEDATE is never NIL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mail/header.h"

namespace ringmail::imap {

// RFC 8474 objectid syntax: 1-255 of ALPHA / DIGIT / "_" / "-".
bool valid_object_id(std::string_view id);

// MAILBOXID of a folder from its mailbox GUID; "" when the GUID is not a valid objectid
// (a damaged or foreign uidlist): callers then leave MAILBOXID out.
std::string mailbox_id(std::string_view mailbox_guid);

// EMAILID of a message from its bytes with CRLF line ends (see above).
std::string email_id(std::string_view crlf_bytes);

// The thread root's msg-id (without angle brackets or whitespace) from the message's
// top-level header fields: References' first, In-Reply-To's first, own Message-ID;
// "" when none has a msg-id.
std::string thread_root_message_id(const mail::header_block& headers);

// THREADID from the root's msg-id, or (root empty) from the message's EMAILID.
std::string thread_id(std::string_view root_message_id, std::string_view email_id);

// Seconds since the epoch at the start of a Maildir base name ("1700000000.M1P2.host"),
// or `fallback` when the name does not start with a plausible time.
int64_t save_date_of(std::string_view maildir_base, int64_t fallback);

}  // namespace ringmail::imap

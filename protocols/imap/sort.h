// SORT (RFC 5256 section 3 "SORT command", RFC 5957 SORT=DISPLAY): the sort values of one
// message and the order of a set of messages. Pure: the session hands in each message's
// top-level header block and index facts (sort_commands.cc); nothing here reads files.
//
// RFC 5256 section 3, per key, and where we stand:
//   ARRIVAL  "Internal date and time of the message" (INTERNALDATE).
//   CC/FROM/TO  "[IMAP] addr-mailbox of the first "cc"/"From"/"To" address": the local
//            part of the first address of the first such field, parsed as ENVELOPE
//            parses it (message_render.h first_address), then case-mapped (base_subject.h
//            sort_casemap). No field or no address: the empty string (sorts first).
//   DATE     "Sent date and time ... If the sent date cannot be determined (a Date: line
//            is missing or cannot be parsed), the INTERNALDATE for that message is used."
//            Compared as instants (the zone applied, mail/date.h).
//   SIZE     RFC822.SIZE.
//   SUBJECT  the base subject (base_subject.h), compared byte-wise after the case map.
//   DISPLAYFROM/DISPLAYTO (RFC 5957 section 4): the first address's display name,
//            RFC 2047-decoded; if it has none (or it decodes to ""), "mailbox@domain"
//            (or the mailbox alone) — what Dovecot does in place of RFC 5957's
//            "the addr-mailbox ... followed by @ and addr-host".
//   REVERSE  reverses the next key only.
// "If two or more messages exactly match according to the sorting criteria, these
//  messages are sorted according to the order in which they appear in the mailbox" —
// the sequence number breaks every tie (never reversed).
//
// Strings are compared as bytes of their case-mapped UTF-8 (i;unicode-casemap is an
// equality comparator; its ordering is "octet ordering of the mapped strings" as in
// Dovecot). See base_subject.h for how our case map departs from RFC 5051.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mail/charset.h"
#include "protocols/imap/command.h"

namespace ringmail::imap {

// Which header-derived values a SORT or THREAD needs (bits), so each is computed once
// and only when asked.
enum sort_need : uint32_t {
  need_date = 1u << 0,      // sent_date
  need_subject = 1u << 1,   // subject, reply_or_forward
  need_from = 1u << 2,
  need_to = 1u << 3,
  need_cc = 1u << 4,
  need_display_from = 1u << 5,
  need_display_to = 1u << 6,
  need_threading = 1u << 7,  // message_id, references
};

// What SORT and THREAD know of one message.
struct sort_facts {
  uint32_t seq = 0;
  uint32_t uid = 0;
  int64_t internal_date = 0;  // ARRIVAL, and DATE's fallback
  uint64_t size = 0;          // RFC822.SIZE
  int64_t sent_date = 0;      // DATE: the Date: field or else internal_date
  std::string subject;        // base subject (case-mapped)
  bool reply_or_forward = false;
  std::string from, to, cc;   // addr-mailbox of the first address (case-mapped)
  std::string display_from, display_to;  // case-mapped
  // Threading (thread.h): the Message-ID without "<>" ("" if none or invalid) and the
  // references, oldest first: the References field's valid ids, or when it has none, the
  // first valid id of In-Reply-To.
  std::string message_id;
  std::vector<std::string> references;
};

// Which values `criteria` need.
uint32_t sort_needs(std::span<const sort_criterion> criteria);

// Fills the header-derived values `needs` asks for from a message's top-level header
// block (CRLF or LF line ends). seq, uid, internal_date and size are the caller's;
// set internal_date before calling (DATE falls back to it).
void fill_sort_facts(std::string_view header_block, uint32_t needs, mail::charset_converter& charsets,
                     sort_facts& out);

// The msg-ids of a Message-ID / References / In-Reply-To value, in order, without "<>",
// as Dovecot's message_id_get_next() reads them (sort.cc): "<" ... ">" holding an "@",
// whitespace inside dropped; ids with quotes, comments or domain literals tokenized; one
// that does not parse is skipped; at most `limit`.
std::vector<std::string> parse_msg_ids(std::string_view value, size_t limit);

// Precomputed orders of string keys (sort_cache.h): ranks[k][i] is message i's rank by
// the string key of kind k (equal strings, equal ranks); an empty vector means "compare
// the strings". Comparing two ranks is what comparing the strings would say.
using sort_ranks = std::array<std::vector<uint32_t>, 9>;

// Indices into `messages` (given in ascending sequence numbers) in the order `criteria`
// say, ties in mailbox order.
// With `ranks`, a string key that has them is compared by rank (its string need not be
// filled in).
std::vector<uint32_t> sort_order(std::span<const sort_facts> messages, std::span<const sort_criterion> criteria,
                                 const sort_ranks* ranks = nullptr);

// The string a string key (CC, FROM, SUBJECT, TO, DISPLAYFROM, DISPLAYTO) compares; null
// for the others.
const std::string* sort_string(const sort_facts& f, sort_criterion::kind k);

}  // namespace ringmail::imap

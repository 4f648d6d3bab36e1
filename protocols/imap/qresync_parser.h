// The QRESYNC parameter of SELECT/EXAMINE (RFC 7162 section 3.2.5, grammar in section 7):
//
//   select-param =/ "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
//                   [SP seq-match-data] ")"
//   seq-match-data = "(" known-sequence-set SP known-uid-set ")"
//   known-uids, known-sequence-set, known-uid-set = sequence-set ;; "*" is not allowed
//   mod-sequence-value = 1*DIGIT ;; 1 <= n <= 9,223,372,036,854,775,807
//
// Departures: none. "*" and "$" in the sets are BAD, as is a mod-sequence of 0 or at or
// above 2^63, and message sequence match data whose two sets name a different count of
// numbers (section 3.2.5.2 pairs them one to one; counted per range, never expanded, so
// "1:4294967295" costs nothing). Internal to protocols/imap (command_parser.cc).
#pragma once

#include "protocols/imap/command.h"
#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap::detail {

// Reads "(" ... ")" of the QRESYNC parameter (the cursor is at the "(").
bool parse_qresync_param(cursor& c, qresync_param& out);

// How many numbers `set` names as written, duplicates counted (a:b = |b-a|+1); the set
// must not hold "*".
uint64_t count_as_written(const sequence_set& set);

}  // namespace ringmail::imap::detail

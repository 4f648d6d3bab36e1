// The base subject of RFC 5256 section 2.1, for SORT SUBJECT and THREAD (ORDEREDSUBJECT,
// REFERENCES step 5). Pure.
//
// RFC 5256 2.1 (abridged):
//   (1) Convert any RFC 2047 encoded-words in the subject to [UTF-8] ... Convert all tabs
//       and continuations to space. Convert all multiple spaces to a single space.
//   (2) Remove all trailing text of the subject that matches the subj-trailer ABNF;
//       repeat until no more matches are possible.
//   (3) Remove all prefix text of the subject that matches the subj-leader ABNF.
//   (4) If there is prefix text of the subject that matches the subj-blob ABNF, and
//       removing that prefix leaves a non-empty subj-base, then remove the prefix text.
//   (5) Repeat (3) and (4) until no matches remain.
//   (6) If the resulting text begins with the subj-fwd-hdr ABNF and ends with the
//       subj-fwd-trl ABNF, remove the subj-fwd-hdr and subj-fwd-trl and repeat from (2).
//   (7) The resulting text is the "base subject".
//     subj-trailer = "(fwd)" / WSP          subj-fwd-hdr = "[fwd:"   subj-fwd-trl = "]"
//     subj-leader  = (*subj-blob subj-refwd) / WSP
//     subj-refwd   = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
//     subj-blob    = "[" *BLOBCHAR "]" *WSP     BLOBCHAR = any CHAR except "[" and "]"
// Section 2.1 also says the comparison is i;unicode-casemap (RFC 5051). As Dovecot
// (imap-base-subject.c), the text is case-mapped FIRST, so "RE:", "Re:" and "rE:" are all
// leaders, and the result is the mapped form, ready for a byte comparison.
//
// Departures, all shared with Dovecot 2.3 (our SORT/THREAD answers are compared with it):
//   - whitespace is SP, TAB, CR and LF; leading space is removed by (3) whatever follows;
//   - the case map is mail::fold_case (a subset of Unicode simple folding, casefold.h)
//     followed by ASCII upper-casing, so ASCII text maps exactly as Dovecot's titlecase
//     map does (and sorts in the same byte order: "_" after "Z"); letters outside
//     casefold.h's ranges are compared as written, and there is no decomposition (RFC
//     5051 asks for NFKD): "é" and "e\u0301" differ here and not in Dovecot.
// Cost: linear in the subject plus the blob runs scanned (a failed leader scan over a run
// of blobs is remembered, so "[a][a]...[a]x" is not quadratic); loops only, no recursion.
#pragma once

#include <string>
#include <string_view>

#include "mail/charset.h"

namespace ringmail::imap {

struct base_subject_result {
  std::string subject;             // case-mapped UTF-8
  bool reply_or_forward = false;   // a subj-refwd, "(fwd)" or "[fwd: ]" was removed
                                   // (REFERENCES step 5 asks)
};

// The base subject of a raw (possibly folded, RFC 2047-encoded) Subject: value.
base_subject_result base_subject(std::string_view raw_value, mail::charset_converter& charsets);
// Steps (2)-(7) on text that is already decoded UTF-8 (tests, and callers that decoded).
base_subject_result base_subject_of_text(std::string_view utf8);

// The i;unicode-casemap form used for SORT's string keys (see above): fold, then ASCII
// upper case.
std::string sort_casemap(std::string_view utf8);

}  // namespace ringmail::imap

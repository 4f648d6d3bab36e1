// Dovecot's `dovecot-keywords` (src/lib-storage/index/maildir/maildir-keywords.c): the
// names of the keywords that Maildir file names carry as the info letters 'a'..'z'
// (maildir_filename.h). One line per keyword, "<index> <name>\n", index 0 = 'a'; at most
// 26 (MAILDIR_MAX_KEYWORDS). Written by Dovecot 2.3 in index order, e.g. "0 $Junk\n1 foo\n"
// (sample in tests/delivery/data/dovecot). Dovecot writes it under a dotlock
// (`dovecot-keywords.lock`) and replaces the file by renaming the lock over it.
//
// Departure: Dovecot skips lines it cannot use; we refuse the file instead (so a store
// never assigns a letter that a damaged file might already use), except that indexes
// >= 26 are ignored, as Dovecot ignores them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::mailstore {

inline constexpr size_t max_maildir_keywords = 26;

// RFC 9051 section 9: flag-keyword = "$MDNSent" / "$Forwarded" / "$Junk" / "$NotJunk" /
// "$Phishing" / atom; atom = 1*ATOM-CHAR, ATOM-CHAR = any CHAR (0x01-0x7f) except
// atom-specials: "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
bool is_valid_keyword(std::string_view name);

// Position = index; unused indexes are empty strings; the vector is as long as the
// highest index + 1. InvalidArgument on a line that is not "<index> <keyword>", a
// duplicate index or name, or a name that is not a valid keyword.
absl::StatusOr<std::vector<std::string>> parse_keywords(std::string_view text);

// "<index> <name>\n" for each non-empty name, in index order. Names beyond index 25 are
// not written (they cannot be stored in a file name).
std::string format_keywords(const std::vector<std::string>& keywords);

}  // namespace ringmail::mailstore

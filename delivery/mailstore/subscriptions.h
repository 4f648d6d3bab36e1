// Dovecot's `subscriptions` file in a Maildir++ root (Dovecot 2.3,
// src/lib-storage/list/subscription-file.c), the IMAP SUBSCRIBE list (RFC 9051 6.3.7).
//
// Version 2, what Dovecot 2.3.19 writes (sample in tests/delivery/data/dovecot):
//   "V\t2\n\n" then one line per name: the hierarchy levels joined by '\t', each level
//   tab-escaped (str_append_tabescaped: 0x01 -> "\x01" "1", '\t' -> "\x01" "t",
//   '\r' -> "\x01" "r", '\n' -> "\x01" "n") and in the storage's encoding, which for
//   Maildir++ is modified UTF-7 ("Entw&APw-rfe"). So "a/b" is "a\tb".
// Older form (no header): one name per line, levels joined by the list's hierarchy
// separator, which for Maildir++ is '.' ("a.b").
// Dovecot writes it under the dotlock `subscriptions.lock` (120 s timeout, stale after
// 30 s without change): the new content goes into the lock file, which is then renamed
// over `subscriptions` (file_dotlock_replace).
//
// Names here are IMAP names: UTF-8 with '/' between levels; "INBOX" in any case is
// written "INBOX" (Dovecot does the same). Subscriptions may name folders that do not
// exist (RFC 9051 6.3.7), so names are not checked against folder_name.h's rules beyond
// what the encoding needs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::mailstore {

struct parsed_subscriptions {
  int version = 2;                 // 2, or 1 for the header-less form
  std::vector<std::string> names;  // UTF-8, '/' between levels, in file order
  size_t skipped = 0;              // lines that did not decode (bad mUTF-7 or escape)
};

// Never fails as a whole: a damaged line is counted in `skipped`, not fatal, so one bad
// name does not unsubscribe everything. Empty lines are ignored.
parsed_subscriptions parse_subscriptions(std::string_view text);

// The version 2 file. InvalidArgument if a name is empty, has an empty level, contains
// NUL, or is not valid UTF-8.
absl::StatusOr<std::string> format_subscriptions(const std::vector<std::string>& names);

}  // namespace ringmail::mailstore

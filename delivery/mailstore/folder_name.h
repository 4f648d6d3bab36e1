// IMAP folder names <-> Maildir++ directory names, as Dovecot 2.3 stores them with
// `namespace inbox { separator = / }` and the default Maildir++ layout (the layout of an
// ISPmail /var/vmail, DESIGN.md "Data and durability").
//
// Maildir++ (www.courier-mta.org/imap/README.maildirquota.html): "folders are
// subdirectories of the main Maildir whose names begin with a period ... The period is
// also used as the hierarchy separator": IMAP "a/b" is the directory ".a.b". Dovecot
// stores each level in IMAP modified UTF-7 (RFC 3501 5.1.3), so "Entwürfe" is
// ".Entw&APw-rfe". INBOX is the Maildir itself.
//
// What Dovecot 2.3.19 does, checked with doveadm (samples in tests/delivery/data/dovecot):
//   - "x.y" is refused: "Character not allowed in mailbox name: '.'" (without the
//     listescape plugin '.' cannot be stored, it is the on-disk separator). We refuse it.
//   - "~root" is refused: "Invalid mailbox name: Begins with '~'". We refuse it.
//   - "INBOX/child" is allowed and stored as ".INBOX.child". We allow it too, and write
//     the INBOX level as "INBOX" whatever its case (INBOX is case-insensitive, RFC 3501 5.1).
//   - "tmp" is allowed and stored as ".tmp": the leading '.' keeps every folder apart from
//     the Maildir's own cur/ new/ tmp/, so there is no clash. We allow tmp, cur and new
//     for the same reason (refusing them would hide such folders of a migrated user).
// In addition, as defence in depth for a name that becomes a path component: empty names
// and empty levels ("a//b", "/x", "x/"), levels "." and "..", NUL and control characters
// (< 0x20, 0x7f), invalid UTF-8, and results longer than NAME_MAX (255 bytes) are refused.
// Every accepted name maps to exactly one path component that starts with '.', is not "."
// or "..", and contains no '/', so no folder name can leave the Maildir.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringmail::mailstore {

// Longest directory name (NAME_MAX on Linux file systems).
inline constexpr size_t max_folder_dir_bytes = 255;

// "INBOX" (any case) -> "" (the Maildir itself); "Sent" -> ".Sent"; "a/b" -> ".a.b";
// "Entwürfe" -> ".Entw&APw-rfe"; "inbox/x" -> ".INBOX.x". InvalidArgument (with the
// reason) for the names listed above.
absl::StatusOr<std::string> folder_to_dir(std::string_view utf8_name);

// The inverse: ".a.b" -> "a/b" (levels mUTF-7 decoded); "" -> "INBOX". InvalidArgument for
// names that are not a Maildir++ folder (no leading '.', ".", "..", empty levels, non
// canonical mUTF-7) or whose decoded name folder_to_dir() would refuse, so that
// dir_to_folder(d) succeeds exactly when folder_to_dir of its result gives back d.
absl::StatusOr<std::string> dir_to_folder(std::string_view dir_name);

}  // namespace ringmail::mailstore

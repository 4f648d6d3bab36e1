// IMAP METADATA (RFC 5464) entries: the names a client may use and the file one mailbox's
// (or the server's) entries are kept in. Pure functions over strings, no runtime; the
// durable read and write are metadata_store.h's.
//
// ENTRY NAMES. RFC 5464 section 3.2: "Entry names MUST NOT contain asterisk ("*") or
// percent ("%") characters and MUST NOT contain non-ASCII characters or characters with
// ASCII code less than 0x19 [sic]. Entry names are case-insensitive. ... The entry names
// MUST NOT contain two consecutive "/" characters and MUST NOT end with a "/" character."
// Section 3.1: every name is under "/private" (per user) or "/shared" (per mailbox); we
// refuse names outside those two trees, and the bare "/private" and "/shared" themselves
// (no entry can be stored there), as Dovecot 2.3 does ("Entry name must begin with
// /private or /shared"). Departures: 0x7f (DEL) is refused as well, and names are limited
// to kMaxMetadataNameBytes so a name can never dominate the file. Names are stored
// lower-cased: "case-insensitive" then costs nothing at lookup.
//
// THE FILE (ours; Dovecot keeps these in a dict, which we do not share):
//   "ringmail-metadata 1\n"
//   per entry, sorted by name: <name> SP <value length> "\n" <value bytes> "\n"
//   "end" SP <entries> SP <FNV-1a 64 of every byte before "end", 16 hex digits> "\n"
// Values are octets (RFC 5464 allows literal8 values), so they are length-prefixed, not
// escaped. The trailer makes a torn or corrupted file (a crash on a file system that
// reorders data and rename, a disk that lies, a hand edit) fail as a whole rather than
// yield some entries silently: parse_metadata refuses any strict prefix of a valid file
// and any file whose checksum does not match. /private and /shared live in the one file
// as separate names; with no other users there is nothing else to keep them apart for.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::mailstore {

inline constexpr size_t kMaxMetadataNameBytes = 1024;
// Largest value (RFC 5464 4.3: larger values get NO [METADATA MAXSIZE n]).
inline constexpr size_t kMaxMetadataValueBytes = 64 * 1024;
// Entries per mailbox (and for the server), /private and /shared together
// (RFC 5464 4.3: NO [METADATA TOOMANY]).
inline constexpr size_t kMaxMetadataEntries = 256;

// name (lower-cased) -> value
using metadata_entries = std::map<std::string, std::string, std::less<>>;

// RFC 5464 section 3.2 plus the /private, /shared rule above.
bool valid_metadata_name(std::string_view name);
// Lower-cased (the entry's stored form); the name must be valid.
std::string canonical_metadata_name(std::string_view name);

std::string format_metadata(const metadata_entries& entries);
// DataLoss for a torn, truncated or corrupted file; an empty string is an empty set.
absl::StatusOr<metadata_entries> parse_metadata(std::string_view file);

// Applies SETMETADATA's changes (value or nullopt = remove) to `entries`, all or nothing
// (RFC 5464 4.3: "the server MUST NOT make any changes" if any one fails).
// InvalidArgument for an invalid name; OutOfRange for a value above `max_value`;
// ResourceExhausted when the result would hold more than `max_entries`.
struct metadata_change {
  std::string name;
  std::optional<std::string> value;
  bool operator==(const metadata_change&) const = default;
};
absl::Status apply_metadata_changes(metadata_entries& entries, const std::vector<metadata_change>& changes,
                                    size_t max_value = kMaxMetadataValueBytes,
                                    size_t max_entries = kMaxMetadataEntries);

}  // namespace ringmail::mailstore

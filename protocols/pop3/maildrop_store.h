// The mail store's side of a POP3 session: each function hops to the user's OWNER shard
// (mailstore::with_mailbox, or on_shard for the lock), does its work on INBOX there and
// hops back. Internal to protocols/pop3.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protocols/pop3/maildrop.h"
#include "protocols/pop3/session.h"

namespace ringmail::pop3 {

// INBOX as it is now, numbered in UID order (RFC 1939 section 4: the maildrop at login).
task<absl::StatusOr<maildrop>> load_maildrop(const mailstore::store_set& stores, std::string user);

// Where message `uid` of INBOX is now ("" when it is gone): an IMAP session's flag
// change renames the file (Maildir keeps flags in the name).
task<std::string> current_path(const mailstore::store_set& stores, std::string user, uint32_t uid);

// The UPDATE state: expunges `deleted`, then adds \Seen to `seen` (both INBOX UIDs; UIDs
// already gone are skipped). Returns once both are durable.
task<absl::Status> apply_update(const mailstore::store_set& stores, std::string user, std::vector<uint32_t> deleted,
                                std::vector<uint32_t> seen);

// The maildrop lock (session.h): true when taken; false when another POP3 session holds it.
task<bool> lock_maildrop(shard_context& shard, std::string user);
task<void> unlock_maildrop(shard_context& shard, std::string user);

}  // namespace ringmail::pop3

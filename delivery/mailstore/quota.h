// Mailbox usage for quota checks (RCPT time: 452 4.2.2 when a mailbox is full).
//
// The size of every message is in its Maildir file name (",S=<bytes>", Dovecot's and
// Courier's convention), so usage is a directory listing, not a stat per file. Listing is
// blocking (io_uring has no getdents): run maildir_usage on the offload pool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::mailstore {

// Bytes used by all messages in cur/ and new/ of the Maildir and its .Folders. Files
// without ",S=" are stat'ed. A missing Maildir uses 0 bytes.
uint64_t maildir_usage(const std::string& maildir);

// The ",S=<n>" size in a Maildir file name, or -1.
int64_t size_from_name(std::string_view name);

}  // namespace ringmail::mailstore

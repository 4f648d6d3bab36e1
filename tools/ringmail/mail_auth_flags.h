// The mail-authentication flags of `ringmail serve` (issue 16): SPF/DKIM/DMARC/ARC checks of
// mail received on the SMTP port, DKIM signing of submitted mail, ARC sealing of forwarded
// mail (protocols/smtp/mail_auth.h). Reads the public suffix list and the DKIM keys under
// <data_dir>/dkim (blocking: at start-up, before the shards serve).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "protocols/smtp/mail_auth.h"

namespace ringmail::tools {

// Errors name the flag or the file and stop the server from starting.
absl::StatusOr<std::shared_ptr<const smtp::mail_auth_settings>> mail_auth_settings_from_flags(
    const std::string& hostname, const std::string& data_dir);

// --mail_auth: are mail received on the SMTP port's SPF/DKIM/DMARC/ARC checked?
bool mail_auth_checks_from_flags();

// --mail_auth_dns_cache_entries: the per-shard DNS cache's bound.
size_t mail_auth_dns_cache_entries_from_flags();

}  // namespace ringmail::tools

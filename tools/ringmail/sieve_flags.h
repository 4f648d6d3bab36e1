// The Sieve flags of `ringmail serve` (issue 14): where `include :global` looks and the
// per-user limits of the script store (delivery/sieve/script_store.h), which ManageSieve
// enforces on upload (RFC 5804 QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE) and delivery on hand-made
// scripts. Pigeonhole's setting names are given in each flag's help.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "delivery/sieve/script_store.h"
#include "delivery/sieve/sieve_delivery.h"

namespace ringmail::tools {

struct sieve_store_settings {
  std::string global_dir;  // "" : no global scripts
  sieve::script_limits limits;
};

// Errors name the flag ("--sieve_max_scripts: ...") and stop the server from starting.
absl::StatusOr<sieve_store_settings> sieve_store_settings_from_flags();

// Sieve at delivery (delivery/sieve/sieve_delivery.h): --sieve, --sieve_before,
// --sieve_after and the run limits. nullopt with --sieve=false (the local sink then files
// by the scanner's verdict alone). The built-in sieve_after (spam -> Junk) is left out
// when `junk_folder` is false (--spam_junk_folder=false: spam stays in INBOX, marked).
absl::StatusOr<std::optional<sieve::sieve_delivery_options>> sieve_delivery_settings_from_flags(
    const std::string& hostname, bool junk_folder);

}  // namespace ringmail::tools

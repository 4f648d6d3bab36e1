#include "tools/ringmail/sieve_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, sieve_global_dir, "",
          "Directory of the scripts `include :global \"NAME\"` finds as NAME.sieve (Pigeonhole: "
          "sieve_global); empty = none");
ABSL_FLAG(uint64_t, sieve_max_scripts, 32,
          "Scripts a user may keep (Pigeonhole: sieve_quota_max_scripts; ManageSieve QUOTA/MAXSCRIPTS)");
ABSL_FLAG(uint64_t, sieve_max_script_size, 128 * 1024,
          "Bytes of one script (Pigeonhole: sieve_max_script_size); larger ones are refused on "
          "upload and fail to compile at delivery");
ABSL_FLAG(uint64_t, sieve_max_user_bytes, 1024 * 1024,
          "Bytes of all of a user's scripts together (Pigeonhole: sieve_quota_max_storage)");

namespace ringmail::tools {

absl::StatusOr<sieve_store_settings> sieve_store_settings_from_flags() {
  sieve_store_settings out;
  out.global_dir = absl::GetFlag(FLAGS_sieve_global_dir);
  while (out.global_dir.size() > 1 && out.global_dir.back() == '/') out.global_dir.pop_back();
  out.limits.max_scripts = absl::GetFlag(FLAGS_sieve_max_scripts);
  out.limits.max_script_bytes = absl::GetFlag(FLAGS_sieve_max_script_size);
  out.limits.max_total_bytes = absl::GetFlag(FLAGS_sieve_max_user_bytes);
  if (out.limits.max_scripts == 0) return absl::InvalidArgumentError("--sieve_max_scripts: must be at least 1");
  if (out.limits.max_script_bytes == 0) {
    return absl::InvalidArgumentError("--sieve_max_script_size: must be at least 1");
  }
  if (out.limits.max_total_bytes < out.limits.max_script_bytes) {
    return absl::InvalidArgumentError("--sieve_max_user_bytes: must be at least --sieve_max_script_size");
  }
  return out;
}

}  // namespace ringmail::tools

// The spam-scanner flags `ringmail serve` and `ringmail-admin spam` share: where the rules
// and the Bayes store are, and the verdict thresholds.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spam/bayes/bayes.h"

#include "spam/greylist.h"
#include "spam/scanner.h"
#include "spam/verdict.h"

namespace ringmail::tools {

// Rule paths from --spam_rules, without the ones that do not exist (a machine without
// Debian's spamassassin package runs ringmail's own rules only); each missing path is
// reported in `missing`.
spam::engine_options spam_engine_options_from_flags(const std::string& data_dir, std::vector<std::string>* missing);
spam::verdict_policy spam_policy_from_flags();
// --spam_scan_cache_bytes: the bound of each scanning thread's spam::scan_cache; 0 = off.
size_t spam_scan_cache_bytes_from_flags();
// The greylist's timing (--greylist_delay); the other limits keep postgrey's defaults.
spam::greylist_options greylist_options_from_flags();
// Where Bayes tokens are kept: --bayes_db (SQLite) when given, else the MariaDB database
// of --directory=mariadb://…, else <data_dir>/bayes.sqlite. For messages.
std::string bayes_location_from_flags(const std::string& data_dir);
// Opens that store (creating its tables), with the expiry of --bayes_auto_expire and
// --bayes_expiry_max_db_size. With `only_if_present`, a SQLite file that does
// not exist yet gives nullptr instead of being created (nothing learned yet). Blocking.
absl::StatusOr<std::unique_ptr<spam::bayes_store>> open_bayes_store_from_flags(const std::string& data_dir,
                                                                              bool only_if_present);

}  // namespace ringmail::tools

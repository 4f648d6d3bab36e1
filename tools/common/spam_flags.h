// The spam-scanner flags `ringmail serve` and `ringmail-admin spam` share: where the rules
// and the Bayes store are, and the verdict thresholds.
#pragma once

#include <string>
#include <vector>

#include "spam/scanner.h"
#include "spam/verdict.h"

namespace ringmail::tools {

// Rule paths from --spam_rules, without the ones that do not exist (a machine without
// Debian's spamassassin package runs ringmail's own rules only); each missing path is
// reported in `missing`.
spam::engine_options spam_engine_options_from_flags(const std::string& data_dir, std::vector<std::string>* missing);
spam::verdict_policy spam_policy_from_flags();
std::string bayes_path_from_flags(const std::string& data_dir);

}  // namespace ringmail::tools

// `ringmail-admin spam scan --profile`: where the scanner's time went, per stage, per
// Hyperscan scan target and per PCRE2 rule — the figures to look at before tuning rules
// (as rspamd's per-symbol timings or SpamAssassin's rule timing debug output).
#pragma once

#include <cstdio>
#include <vector>

#include "spam/scanner.h"

namespace ringmail::tools {

// Sums per-thread profiles into one.
void merge_scan_profile(const spam::scan_profile& from, spam::scan_profile& into);

// Prints stage costs, the `top` most expensive scan targets and PCRE2 rules, in
// microseconds per scanned message.
void print_scan_profile(const spam::scan_profile& profile, const spam::spam_engine& engine, size_t top,
                        std::FILE* out);

}  // namespace ringmail::tools

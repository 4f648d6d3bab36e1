#include "spam/verdict.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ringmail::spam {

bool wants_greylist(const scan_result& result, const verdict_policy& policy) {
  return policy.greylist && result.score >= policy.greylist_score && result.score < policy.reject_score;
}

spam_action decide(const scan_result& result, const verdict_policy& policy, bool triplet_known) {
  if (result.score >= policy.reject_score) return spam_action::reject;
  if (wants_greylist(result, policy) && !triplet_known) return spam_action::greylist;
  if (result.score >= policy.junk_score && policy.junk_folder) return spam_action::junk;
  return spam_action::inbox;
}

namespace {

// Appends `word` to a header being built, folding before it when the line would pass 78
// columns (RFC 5322 2.1.1), as SpamAssassin folds its tests= list.
void append_folded(std::string& out, size_t& column, std::string_view word, std::string_view separator) {
  if (column + separator.size() + word.size() > 78) {
    if (separator == ",") out += ',';  // the list goes on after the fold
    out += "\r\n\t";
    column = 8;
  } else {
    out += separator;
    column += separator.size();
  }
  out += word;
  column += word.size();
}

}  // namespace

std::string spam_header_lines(const scan_result& result) {
  const bool spam = result.score >= result.required;
  std::string score = absl::StrFormat("%.1f", result.score);
  std::string out;
  if (spam) out += "X-Spam-Flag: YES\r\n";
  std::string status = absl::StrCat("X-Spam-Status: ", spam ? "Yes" : "No", ", score=", score,
                                    absl::StrFormat(" required=%.1f", result.required), " tests=");
  size_t column = status.size();
  out += status;
  if (result.tests.empty()) {
    out += "none";
  } else {
    for (size_t i = 0; i < result.tests.size(); ++i) append_folded(out, column, result.tests[i], i == 0 ? "" : ",");
  }
  if (result.bayes) append_folded(out, column, absl::StrFormat("bayes=%.4f", *result.bayes), " ");
  if (result.truncated) append_folded(out, column, "truncated=yes", " ");
  out += "\r\n";
  absl::StrAppend(&out, "X-Spam-Score: ", score, "\r\n");
  return out;
}

std::string skipped_header_lines(std::string_view reason) {
  return absl::StrCat("X-Spam-Status: No, skipped=", std::string(reason), "\r\n");
}

}  // namespace ringmail::spam

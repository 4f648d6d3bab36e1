// The IMAP session's use of the full-text index (fts_search.cc): constants only; the
// work is imap_session::fts_filter (session_impl.h), the plan is fts_plan.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringmail::imap {

// Messages read and decoded per hop to the owner while a search indexes old mail: the
// owner's work per hop (posting appends for ~100 messages) stays well under a
// millisecond, and the session's memory for a batch under a few MB.
inline constexpr size_t kIndexBatch = 128;

class mailbox_view;

// The candidates (ascending UIDs, from fts_filter) that `view` still shows: returns their
// UIDs and sets `seqs` to their sequence numbers, in the same order. Candidates the view
// does not show (delivered after it last looked, or expunged) are left out.
std::vector<uint32_t> fts_in_view(const std::vector<uint32_t>& candidates, const mailbox_view& view,
                                  std::vector<uint32_t>& seqs);

}  // namespace ringmail::imap

// The IMAP session's use of the full-text index (fts_search.cc): constants only; the
// work is imap_session::fts_filter (session_impl.h), the plan is fts_plan.h.
#pragma once

#include <cstddef>

namespace ringmail::imap {

// Messages read and decoded per hop to the owner while a search indexes old mail: the
// owner's work per hop (posting appends for ~100 messages) stays well under a
// millisecond, and the session's memory for a batch under a few MB.
inline constexpr size_t kIndexBatch = 128;

}  // namespace ringmail::imap

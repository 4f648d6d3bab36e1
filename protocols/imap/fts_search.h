// The IMAP session's use of the full-text index (fts_search.cc): the batch size, the
// helpers on_search and on_append call; the work is imap_session::fts_filter and
// fts_index_new (session_impl.h), the plan is fts_plan.h.
//
// WHEN MESSAGES ARE INDEXED: by the first SEARCH BODY/TEXT that finds them missing, and at
// APPEND (one message; not MULTIAPPEND) when the folder's index is already in memory.
// Not at COPY/MOVE (the session does not hold the bytes; the next search indexes the
// copies) nor at SMTP/LMTP delivery (its receive path is a headline benchmark).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringmail::imap {

// Messages read and decoded per hop to the owner while a search indexes old mail: the
// owner's work per hop (posting appends for ~100 messages) stays well under a
// millisecond, and the session's memory for a batch under a few MB.
inline constexpr size_t kIndexBatch = 128;

class mailbox_view;

// A message just stored by this session (APPEND) whose folder's full-text index is in
// memory on the owner: the session indexes it at once (imap_session::fts_index_new), so
// the next SEARCH BODY/TEXT does not have to. Built on the owner by fts_new_message.
struct fts_new_message {
  std::string dir;
  uint32_t uid_validity = 0;
  std::string guid;
  uint32_t uid = 0;
  std::string path;
  uint64_t vsize = 0;
};

// The candidates (ascending UIDs, from fts_filter) that `view` still shows: returns their
// UIDs and sets `seqs` to their sequence numbers, in the same order. Candidates the view
// does not show (delivered after it last looked, or expunged) are left out.
std::vector<uint32_t> fts_in_view(const std::vector<uint32_t>& candidates, const mailbox_view& view,
                                  std::vector<uint32_t>& seqs);

}  // namespace ringmail::imap

namespace ringmail::mailstore {
class mailbox;
class open_folder;
}  // namespace ringmail::mailstore

namespace ringmail::imap {

// On the owner, right after `uid` was stored in `folder`: what the session needs to index
// it, or nullopt when the folder's index is not in memory (nothing to keep up to date:
// loading a large index for one message would cost more than the next search indexing it).
std::optional<fts_new_message> fts_new_message_of(mailstore::mailbox& box, const mailstore::open_folder& folder,
                                                  uint32_t uid);

}  // namespace ringmail::imap

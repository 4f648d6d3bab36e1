// CONDSTORE and QRESYNC (RFC 7162): the arithmetic of a resync, pure over the folder's
// state so the owner shard runs it in one hop and the tests run it alone.
//
// What the store keeps (folder_index.h): a modseq per message, HIGHESTMODSEQ, and the
// (uid, modseq) of expunged messages, the oldest dropped past kMaxExpungedKept. So a
// VANISHED (EARLIER) answer is exact when every expunge after the client's mod-sequence
// is still in the history; when some may have been dropped (the history is full and its
// oldest entry is newer than the client's mod-sequence), when the client's mod-sequence
// is older than anything this index numbered (an index rebuilt over kept UIDs starts its
// modseqs above all earlier ones: expunges from before it are not in its history), or
// the client names a mod-sequence this folder never reached, we answer as RFC 7162
// 3.2.5.2 allows a server that keeps no such history: every UID of the client's known
// range (1:UIDNEXT-1 when it sent none) that is not in the folder now, narrowed by the
// message sequence match data when the client sent some.
//
//   RFC 7162 3.2.5.2: "If a pair matches, then the client knows of any expunges up to,
//   and including, the message, and thus will not include that range in the VANISHED
//   response". We walk the pairs in order and stop at the first that does not match (or
//   does not ascend): the UID of the last match bounds the answer from below.
//
// Sets are handled as ranges, never expanded: a known-uids of 1:4294967295 costs one
// range, and an answer is built from the gaps between present UIDs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "delivery/mailstore/folder_index.h"
#include "protocols/imap/command.h"
#include "protocols/imap/mailbox_view.h"

namespace ringmail::imap {

// An inclusive range of UIDs [first, second].
using uid_span = std::pair<uint32_t, uint32_t>;

// The set's ranges ascending, merged, "*" replaced by `star` (a range that needs "*" is
// dropped when `star` is 0, as in an empty folder). "$" names nothing here.
std::vector<uid_span> normalize_set(const sequence_set& set, uint32_t star);
// "1:3,5" for the spans (ascending, disjoint); "" if none.
std::string format_spans(const std::vector<uid_span>& spans);
bool spans_contain(const std::vector<uid_span>& spans, uint32_t n);

// RFC 7162 3.2.5.2 message sequence match data against the folder's messages (ascending
// UID, numbered from 1): the UID of the last pair that matches before the first that
// does not, 0 if none does. Stops at most after messages.size() pairs.
uint32_t matched_up_to(const sequence_set& seqs, const sequence_set& uids,
                       std::span<const mailstore::message_entry> messages);

// Whether the expunge history holds every expunge with a modseq above `since`.
bool expunge_history_covers(const mailstore::folder_state& st, uint64_t since);

// The UIDs of `known` (ascending spans) that were expunged after `since`: from the
// history when it covers `since`, else every known UID above `known_above` and below
// UIDNEXT that is not in the folder (see the header comment).
std::vector<uid_span> vanished_since(const mailstore::folder_state& st, uint64_t since,
                                     const std::vector<uid_span>& known, uint32_t known_above);

struct qresync_result {
  bool applies = false;               // UIDVALIDITY matched: the lines below are due
  std::vector<uid_span> vanished;     // * VANISHED (EARLIER) ...
  std::vector<view_message> changed;  // * n FETCH (UID FLAGS MODSEQ), modseq > the client's
};
// SELECT/EXAMINE (QRESYNC (...)) against the folder as SELECT snapshots it.
qresync_result compute_qresync(const mailstore::folder_state& st, const qresync_param& q);

// UID FETCH set (...) (CHANGEDSINCE since VANISHED): the expunged UIDs of `set`
// ("*" = the largest UID ever given out).
std::vector<uid_span> fetch_vanished(const mailstore::folder_state& st, const sequence_set& set, uint64_t since);

// Whether a search program has a MODSEQ key (its result then carries (MODSEQ n)).
bool search_uses_modseq(const search_key& k);

}  // namespace ringmail::imap

// SEARCH BODY/TEXT through the full-text index (issue 11): the session's side.
//
// The index of each folder lives on the user's owner shard (mailbox::text_index(),
// delivery/fts/text_index_store.h). A SEARCH whose key tree can be filtered (fts_plan.h):
//   1. asks the owner, in one hop, which of the view's messages the index does not cover
//      yet (old mail, deliveries and APPENDs since the last search, COPY/MOVE targets),
//      pruning the UIDs the folder no longer has (expunged since). When it covers them
//      all, the same hop answers the needles (3.): a warm search is ONE trip;
//   2. otherwise reads and decodes the missing ones here, on the session's shard, in
//      batches of kIndexBatch: each message's folded texts (search_texts_of, the very
//      strings the matcher searches) become trigram sets, and one hop per batch adds them
//      on the owner. Every read is an io_uring wait, so the shard serves its other
//      sessions between messages; the owner does only the posting-list appends (and,
//      after kSaveAfterAdded new entries, writes the file: serialized on the offload
//      pool, text_index_store.h);
//   3. asks the owner for each needle's candidates, and returns the tree's candidates;
//      messages the index still does not cover (unreadable files, adds waiting for a
//      save to end) are added to every needle's candidates, so they are scanned as before.
// on_search then fetches the facts of the candidates only and evaluates search_matches()
// on them.
//
// The warm path's fixed costs, and how they are kept off it (100,000 messages):
//   - Pruning builds the folder's UID list and intersects: done only when the folder's
//     (uid_next, message count) differs from the last prune's. An expunge lowers the
//     count and an append raises uid_next, so equal pairs mean the same UID set (UIDs are
//     never reused); flag changes, the common event, do not prune again.
//   - "Which of the view's UIDs are missing": after a prune, the index's UIDs are a subset
//     of the folder's; equal counts make them the folder's, so nothing is missing and
//     the 100,000 lookups are skipped.
#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "delivery/fts/text_index.h"
#include "delivery/fts/text_index_store.h"
#include "protocols/imap/fts_plan.h"
#include "protocols/imap/fts_search.h"
#include "protocols/imap/mailbox_view.h"
#include "protocols/imap/search.h"
#include "protocols/imap/session_impl.h"
#include "runtime/log.h"

namespace ringmail::imap {

namespace {

using by_needle_map = absl::flat_hash_map<std::string, std::vector<uint32_t>>;

// Each needle's candidates: the index's, plus `uncovered` (ascending) for every needle.
by_needle_map answer_needles(const fts::text_index& index, const std::vector<std::string>& needles,
                             const std::vector<uint32_t>& uncovered) {
  by_needle_map r;
  for (const std::string& n : needles) {
    fts::text_index::candidates c = index.query(n);
    if (uncovered.empty()) {
      r.emplace(n, std::move(c.uids));
      continue;
    }
    std::vector<uint32_t> all;
    std::set_union(c.uids.begin(), c.uids.end(), uncovered.begin(), uncovered.end(), std::back_inserter(all));
    r.emplace(n, std::move(all));
  }
  return r;
}

// The view's UIDs the index has no postings for (pending adds included): candidates.
std::vector<uint32_t> uncovered_of(const fts::text_index& index, const std::vector<uint32_t>& uids) {
  std::vector<uint32_t> out;
  for (uint32_t u : uids) {
    if (!index.contains(u)) out.push_back(u);
  }
  return out;
}

// On the owner: writes the folder's index file when enough changed (text_index_store.h;
// serialized on the offload pool, so the owner serves others while the search waits).
task<void> save_if_due(mailstore::mailbox& box, const std::string& dir) {
  absl::Status saved = co_await box.text_index().save(dir);
  if (!saved.ok()) log::info("imap_fts_not_saved", {{"dir", dir}, {"reason", saved.ToString()}});
}

}  // namespace

std::optional<fts_new_message> fts_new_message_of(mailstore::mailbox& box, const mailstore::open_folder& folder,
                                                  uint32_t uid) {
  const mailstore::folder_state& state = folder.state();
  if (!box.text_index().loaded(folder.dir(), state.uid_validity, state.mailbox_guid)) return std::nullopt;
  const auto* m = state.find(uid);
  if (m == nullptr) return std::nullopt;
  fts_new_message r;
  r.dir = folder.dir();
  r.uid_validity = state.uid_validity;
  r.guid = state.mailbox_guid;
  r.uid = uid;
  r.path = folder.path_of(*m);
  r.vsize = m->vsize;
  return r;
}

std::vector<uint32_t> fts_in_view(const std::vector<uint32_t>& candidates, const mailbox_view& view,
                                  std::vector<uint32_t>& seqs) {
  std::vector<uint32_t> uids;
  seqs.clear();
  uids.reserve(candidates.size());
  seqs.reserve(candidates.size());
  for (uint32_t u : candidates) {
    if (const uint32_t s = view.seq_of(u); s != 0) {
      uids.push_back(u);
      seqs.push_back(s);
    }
  }
  return uids;
}

task<std::optional<std::vector<uint32_t>>> imap_session::fts_filter(const search_key& key,
                                                                    const std::vector<uint32_t>& uids) {
  std::vector<std::string> needles = fts_needles(key);
  if (needles.empty() || !config_.fts) co_return std::nullopt;
  const std::string name = selected_->name;

  // 1. What the index lacks (with the files to read; UIDs the folder no longer has are
  // not asked for: on_search skips them), or, when it lacks nothing, the answer.
  struct coverage {
    std::vector<message_facts> missing;  // uid, path, vsize
    std::string dir;
    uint32_t uid_validity = 0;
    std::string guid;
    std::optional<by_needle_map> answered;  // everything was covered: the needles' candidates
  };
  auto ask = [name, uids, needles](mailstore::mailbox& box) -> task<absl::StatusOr<coverage>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    const mailstore::folder_state& state = (*f)->state();
    coverage r;
    r.dir = (*f)->dir();
    r.uid_validity = state.uid_validity;
    r.guid = state.mailbox_guid;
    auto e = co_await box.text_index().folder(r.dir, r.uid_validity, r.guid);
    // Messages expunged since the index saw them (entries dropped lazily, here), when the
    // folder's UID set may have changed since the last prune (see the top).
    const bool same_uids = e->pruned_uid_next == state.uid_next && e->pruned_count == state.messages.size();
    if (!same_uids) {
      std::vector<uint32_t> live;
      live.reserve(state.messages.size());
      for (const auto& m : state.messages) live.push_back(m.uid);
      if (e->prune(live)) {  // refused while a save reads the index: the next search prunes
        e->pruned_uid_next = state.uid_next;
        e->pruned_count = state.messages.size();
      }
    }
    const bool pruned = e->pruned_uid_next == state.uid_next && e->pruned_count == state.messages.size();
    if (pruned && e->pending_uids.empty() && e->index.size() == state.messages.size()) {
      r.answered = answer_needles(e->index, needles, {});
      co_await save_if_due(box, r.dir);
      co_return r;
    }
    for (uint32_t u : uids) {
      if (e->known(u)) continue;
      const auto* m = state.find(u);
      if (m == nullptr) continue;
      message_facts mf;
      mf.uid = u;
      mf.vsize = m->vsize;
      mf.path = (*f)->path_of(*m);
      mf.found = true;
      r.missing.push_back(std::move(mf));
    }
    if (r.missing.empty()) {
      r.answered = answer_needles(e->index, needles, uncovered_of(e->index, uids));
      co_await save_if_due(box, r.dir);
    }
    co_return r;
  };
  auto hop = on_mailbox(std::move(ask));
  absl::StatusOr<coverage> cov = co_await std::move(hop);
  if (!cov.ok()) co_return std::nullopt;
  if (cov->answered) co_return fts_candidates(key, *cov->answered);

  // 2. Index them, kIndexBatch at a time.
  size_t indexed = 0;
  for (size_t at = 0; at < cov->missing.size(); at += kIndexBatch) {
    std::vector<std::pair<uint32_t, std::vector<uint32_t>>> batch;
    const size_t end = std::min(cov->missing.size(), at + kIndexBatch);
    for (size_t i = at; i < end; ++i) {
      const message_facts& m = cov->missing[i];
      std::optional<loaded_message> msg = co_await load(m);
      if (!msg) continue;  // gone: not indexed, so it stays a candidate
      batch.emplace_back(m.uid, fts_grams_of(m.uid, *msg));
    }
    indexed += batch.size();
    auto add = [dir = cov->dir, v = cov->uid_validity, guid = cov->guid, batch = std::move(batch)](
                   mailstore::mailbox& box) -> task<absl::Status> {
      auto e = co_await box.text_index().folder(dir, v, guid);
      for (const auto& [uid, grams] : batch) e->add(uid, grams);  // copied: the hop's lambda is const
      co_return absl::OkStatus();
    };
    auto add_hop = on_mailbox(std::move(add));
    absl::Status st = co_await std::move(add_hop);
    if (!st.ok()) co_return std::nullopt;
  }
  log::debug("imap_fts_indexed", {{"sid", sid_}, {"folder", name}, {"messages", std::to_string(indexed)}});

  // 3. The needles' candidates (and the file written if enough is new).
  auto query = [dir = cov->dir, v = cov->uid_validity, guid = cov->guid, needles,
                uids](mailstore::mailbox& box) -> task<absl::StatusOr<by_needle_map>> {
    auto e = co_await box.text_index().folder(dir, v, guid);
    by_needle_map r = answer_needles(e->index, needles, uncovered_of(e->index, uids));
    co_await save_if_due(box, dir);
    co_return r;
  };
  auto query_hop = on_mailbox(std::move(query));
  absl::StatusOr<by_needle_map> got = co_await std::move(query_hop);
  if (!got.ok()) co_return std::nullopt;
  co_return fts_candidates(key, *got);
}

std::vector<uint32_t> imap_session::fts_grams_of(uint32_t uid, loaded_message& msg) {
  search_context ctx;
  ctx.charsets = shard_.charsets;
  mailstore::message_entry e;
  e.uid = uid;
  search_message sm;
  sm.seq = 1;  // unused: the texts do not depend on it
  sm.entry = &e;
  sm.parsed = &msg.parsed(*shard_.charsets);
  search_texts t = search_texts_of(sm, ctx);
  std::vector<uint32_t> grams;
  fts::add_grams(t.headers, grams);
  fts::add_grams(t.body, grams);
  return grams;
}

task<void> imap_session::fts_index_new(fts_new_message n) {
  // Read back from its file, as a search's indexing does (the same bytes the matcher
  // will see; the page cache still holds them).
  message_facts m;
  m.uid = n.uid;
  m.path = n.path;
  m.vsize = n.vsize;
  m.found = true;
  std::optional<loaded_message> msg = co_await load(m);
  if (!msg) co_return;  // gone already: nothing to index
  auto add = [dir = std::move(n.dir), v = n.uid_validity, guid = std::move(n.guid), uid = n.uid,
              grams = fts_grams_of(n.uid, *msg)](mailstore::mailbox& box) -> task<absl::Status> {
    // Only while still in memory: a forgotten index is rebuilt lazily as before.
    if (auto e = box.text_index().loaded(dir, v, guid)) e->add(uid, grams);
    co_return absl::OkStatus();
  };
  auto hop = on_mailbox(std::move(add));
  absl::Status st = co_await std::move(hop);
  if (!st.ok()) log::debug("imap_fts_not_indexed", {{"sid", sid_}, {"reason", st.ToString()}});
}

}  // namespace ringmail::imap

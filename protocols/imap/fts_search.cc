// SEARCH BODY/TEXT through the full-text index (issue 11): the session's side.
//
// The index of each folder lives on the user's owner shard (mailbox::text_index(),
// delivery/fts/text_index_store.h). A SEARCH whose key tree can be filtered (fts_plan.h):
//   1. asks the owner, in one hop, which of the view's messages the index does not cover
//      yet (old mail, deliveries and APPENDs since the last search, COPY/MOVE targets),
//      pruning the UIDs the folder no longer has (expunged since);
//   2. reads and decodes those here, on the session's shard, in batches of
//      kIndexBatch: each message's folded texts (search_texts_of, the very strings the
//      matcher searches) become trigram sets, and one hop per batch adds them on the
//      owner. Every read is an io_uring wait, so the shard serves its other sessions
//      between messages; the owner does only the posting-list appends (and, after
//      kSaveAfterAdded new entries, writes the file);
//   3. asks the owner for each needle's candidates (one hop), and returns the tree's
//      candidates; messages the index still does not cover (unreadable files) are added
//      to every needle's candidates, so they are scanned as before.
// on_search then evaluates search_matches() only on the candidates.
#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "delivery/fts/text_index.h"
#include "delivery/fts/text_index_store.h"
#include "protocols/imap/fts_plan.h"
#include "protocols/imap/fts_search.h"
#include "protocols/imap/search.h"
#include "protocols/imap/session_impl.h"
#include "runtime/log.h"

namespace ringmail::imap {

task<std::optional<std::vector<uint32_t>>> imap_session::fts_filter(const search_key& key,
                                                                    const std::vector<uint32_t>& uids) {
  std::vector<std::string> needles = fts_needles(key);
  if (needles.empty() || !config_.fts) co_return std::nullopt;
  const std::string name = selected_->name;

  // 1. What the index lacks (with the files to read; UIDs the folder no longer has are
  // not asked for: on_search skips them).
  struct coverage {
    std::vector<message_facts> missing;  // uid, path, vsize
    std::string dir;
    uint32_t uid_validity = 0;
    std::string guid;
  };
  auto ask = [name, uids](mailstore::mailbox& box) -> task<absl::StatusOr<coverage>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    coverage r;
    r.dir = (*f)->dir();
    r.uid_validity = (*f)->state().uid_validity;
    r.guid = (*f)->state().mailbox_guid;
    auto e = co_await box.text_index().folder(r.dir, r.uid_validity, r.guid);
    // Messages expunged since the index saw them (entries dropped lazily, here).
    if (e->index.size() != 0) {
      std::vector<uint32_t> live;
      live.reserve((*f)->state().messages.size());
      for (const auto& m : (*f)->state().messages) live.push_back(m.uid);
      e->prune(live);  // skipped while a save reads the index: the next search prunes
    }
    for (uint32_t u : uids) {
      if (e->known(u)) continue;
      const auto* m = (*f)->state().find(u);
      if (m == nullptr) continue;
      message_facts mf;
      mf.uid = u;
      mf.vsize = m->vsize;
      mf.path = (*f)->path_of(*m);
      mf.found = true;
      r.missing.push_back(std::move(mf));
    }
    co_return r;
  };
  auto hop = on_mailbox(std::move(ask));
  absl::StatusOr<coverage> cov = co_await std::move(hop);
  if (!cov.ok()) co_return std::nullopt;

  // 2. Index them, kIndexBatch at a time.
  if (!cov->missing.empty()) {
    search_context ctx;
    ctx.charsets = shard_.charsets;
    size_t indexed = 0;
    for (size_t at = 0; at < cov->missing.size(); at += kIndexBatch) {
      std::vector<std::pair<uint32_t, std::vector<uint32_t>>> batch;
      const size_t end = std::min(cov->missing.size(), at + kIndexBatch);
      for (size_t i = at; i < end; ++i) {
        const message_facts& m = cov->missing[i];
        std::optional<loaded_message> msg = co_await load(m);
        if (!msg) continue;  // gone: not indexed, so it stays a candidate
        mailstore::message_entry e;
        e.uid = m.uid;
        search_message sm;
        sm.seq = 1;  // unused: the texts do not depend on it
        sm.entry = &e;
        sm.parsed = &msg->parsed(*shard_.charsets);
        search_texts t = search_texts_of(sm, ctx);
        std::vector<uint32_t> grams;
        fts::add_grams(t.headers, grams);
        fts::add_grams(t.body, grams);
        batch.emplace_back(m.uid, std::move(grams));
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
  }

  // 3. The needles' candidates (and the file written if enough is new).
  struct answer {
    absl::flat_hash_map<std::string, std::vector<uint32_t>> by_needle;
  };
  auto query = [dir = cov->dir, v = cov->uid_validity, guid = cov->guid, needles, uids](
                   mailstore::mailbox& box) -> task<absl::StatusOr<answer>> {
    auto e = co_await box.text_index().folder(dir, v, guid);
    std::vector<uint32_t> uncovered;
    for (uint32_t u : uids) {
      if (!e->index.contains(u)) uncovered.push_back(u);
    }
    answer r;
    for (const std::string& n : needles) {
      fts::text_index::candidates c = e->index.query(n);
      std::vector<uint32_t> all;
      std::set_union(c.uids.begin(), c.uids.end(), uncovered.begin(), uncovered.end(), std::back_inserter(all));
      r.by_needle.emplace(n, std::move(all));
    }
    absl::Status saved = co_await box.text_index().save(dir);
    if (!saved.ok()) log::info("imap_fts_not_saved", {{"dir", dir}, {"reason", saved.ToString()}});
    co_return r;
  };
  auto query_hop = on_mailbox(std::move(query));
  absl::StatusOr<answer> got = co_await std::move(query_hop);
  if (!got.ok()) co_return std::nullopt;
  co_return fts_candidates(key, got->by_needle);
}

}  // namespace ringmail::imap

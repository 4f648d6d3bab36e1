// The session's SORT and THREAD (RFC 5256; SORT=DISPLAY RFC 5957; ESORT RFC 5267):
// SEARCH's evaluation picks the messages, sort.h orders them, thread.h threads them.
//
// Facts come as SEARCH's do: one hop to the owner for the index entries (flags, sizes,
// dates, file names); then each message's sort values from the shard's sort_cache
// (sort_cache.h: every value of a message, so a warm SORT or THREAD of 100,000 messages
// reads and parses nothing), and on a miss from its top-level header block (the shard's
// header_cache, else the file). ARRIVAL and SIZE need no header at all. When the
// criteria are decided by sequence numbers and UIDs alone (ALL, sets) and the cache holds
// every message of the view, there is no hop at all (from_cache): the cache keeps each
// UID's INTERNALDATE and size beside its header values. Then a one-key SORT is a filter
// of the cache's precomputed order of that key (presorted_order, O(n)); a THREAD threads
// over the cached values in place (thread_message) and keeps its response per folder
// while the candidates stay the same (sort_cache thread_memo). Keys that need
// the body (BODY, TEXT) read the file, as SEARCH does without its full-text index.
// WITHIN and SAVED* keys work as in SEARCH; OBJECTID's EMAILID/THREADID keys are not
// evaluated here (they match nothing in SORT/THREAD): a later change can share SEARCH's
// code for them.
#include <algorithm>
#include <ctime>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "protocols/imap/header_cache.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/number_set.h"
#include "protocols/imap/object_fetch.h"
#include "protocols/imap/search.h"
#include "protocols/imap/session_impl.h"
#include "protocols/imap/sort.h"
#include "protocols/imap/sort_cache.h"
#include "protocols/imap/thread.h"
#include "mail/limits.h"
#include "runtime/file.h"
#include "runtime/log.h"

namespace ringmail::imap {

namespace {

bool needs_body(const search_key& k) {
  if (k.k == search_key::kind::body || k.k == search_key::kind::text) return true;
  return std::any_of(k.children.begin(), k.children.end(), needs_body);
}

// Up to and including the empty line that ends the header (CRLF bytes).
std::string_view header_part(std::string_view bytes) {
  if (bytes.substr(0, 2) == "\r\n") return bytes.substr(0, 2);
  const size_t end = bytes.find("\r\n\r\n");
  return end == std::string_view::npos ? bytes : bytes.substr(0, end + 4);
}

// Where the header block of `bytes` ends (after its empty line), CRLF or bare LF; npos
// when no empty line is there yet.
size_t header_end(std::string_view bytes) {
  if (bytes.substr(0, 1) == "\n") return 1;
  if (bytes.substr(0, 2) == "\r\n") return 2;
  for (size_t p = bytes.find('\n'); p != std::string_view::npos; p = bytes.find('\n', p + 1)) {
    if (p + 1 < bytes.size() && bytes[p + 1] == '\n') return p + 2;
    if (p + 2 < bytes.size() && bytes[p + 1] == '\r' && bytes[p + 2] == '\n') return p + 3;
  }
  return std::string_view::npos;
}

// The header block of the file at `path` as stored (LF or CRLF), reading only as far as
// its end: 16 KiB first, then 64 KiB at a time up to mail::max_header_block_bytes (a
// message's body is never read, nor converted to CRLF, for SORT values).
task<std::optional<std::string>> read_header_block(std::string path) {
  auto f = co_await file::open(path, O_RDONLY);
  if (!f.ok()) co_return std::nullopt;
  std::string out;
  size_t chunk = 16 * 1024;
  size_t end = std::string_view::npos;
  while (end == std::string_view::npos && out.size() < mail::max_header_block_bytes) {
    const size_t have = out.size();
    out.resize(have + chunk);
    auto n = co_await f->read_at(std::span<char>(out.data() + have, chunk), have);
    if (!n.ok()) {
      co_await f->close();
      co_return std::nullopt;
    }
    out.resize(have + *n);
    end = header_end(out);
    if (*n < chunk) break;  // the end of the file
    chunk = 64 * 1024;
  }
  co_await f->close();
  if (end != std::string_view::npos) out.resize(end);
  co_return out;
}

// Copies the values `needs` asks for from a cached entry (all of them are there).
void copy_values(const sort_facts& from, uint32_t needs, sort_facts& to) {
  to.sent_date = from.sent_date;
  if (needs & need_subject) {
    to.subject = from.subject;
    to.reply_or_forward = from.reply_or_forward;
  }
  if (needs & need_from) to.from = from.from;
  if (needs & need_to) to.to = from.to;
  if (needs & need_cc) to.cc = from.cc;
  if (needs & need_display_from) to.display_from = from.display_from;
  if (needs & need_display_to) to.display_to = from.display_to;
  if (needs & need_threading) {
    to.message_id = from.message_id;
    to.references = from.references;
  }
}

constexpr uint32_t kAllNeeds = need_date | need_subject | need_from | need_to | need_cc | need_display_from |
                               need_display_to | need_threading;

// Keys that the sequence number and UID decide alone (ALL, sequence and UID sets, and
// their AND/OR/NOT): the session's view answers them, no index entry is needed.
bool view_only(const search_key& k) {
  switch (k.k) {
    case search_key::kind::all:
    case search_key::kind::and_:
    case search_key::kind::or_:
    case search_key::kind::not_:
    case search_key::kind::seq_set:
    case search_key::kind::uid:
      return std::all_of(k.children.begin(), k.children.end(), view_only);
    default:
      return false;
  }
}

// The warm path with no owner hop: the candidates of `program` (view_only) taken from the
// session's view (sequence number -> UID) and their values from the shard's sort cache,
// which also holds each UID's INTERNALDATE and RFC822.SIZE (fixed for a UID, like the
// header values). nullopt when a message of the view has no cached values: the caller
// goes to the owner as before. A message another session expunged and this one has not
// been told of yet is sorted, as it is still in this session's view (RFC 9051 7.5.1: the
// sequence numbers are the session's).
std::optional<std::vector<sort_facts>> from_cache(const mailbox_view& view, const sort_cache::folder_values& values,
                                                  const search_key& program, search_context& ctx, uint32_t needs,
                                                  bool skip_strings) {
  const uint32_t exists = view.exists();
  const bool everything = program.k == search_key::kind::all ||
                          (program.k == search_key::kind::and_ && program.children.size() == 1 &&
                           program.children[0].k == search_key::kind::all);
  search_text_cache cache;
  mailstore::message_entry e;
  std::vector<sort_facts> out;
  out.reserve(exists);
  const uint32_t copy = skip_strings ? needs & (need_date | need_threading) : needs;
  for (uint32_t seq = 1; seq <= exists; ++seq) {
    const uint32_t uid = view.uid_at(seq);
    const sort_facts* hit = sort_cache::find(values, uid);
    int64_t internal_date = 0;
    uint64_t size = 0;
    if (hit != nullptr) {
      internal_date = hit->internal_date;
      size = hit->size;
    } else if (auto it = needs == 0 ? values.index_facts.find(uid) : values.index_facts.end();
               it != values.index_facts.end()) {
      std::tie(internal_date, size) = it->second;
    } else {
      return std::nullopt;
    }
    if (!everything) {
      e.uid = uid;
      e.internal_date = internal_date;
      e.vsize = size;
      e.size = size;
      search_message sm;
      sm.seq = seq;
      sm.entry = &e;
      if (!search_matches(program, sm, ctx, cache)) continue;
    }
    sort_facts& f = out.emplace_back();
    f.seq = seq;
    f.uid = uid;
    f.internal_date = internal_date;
    f.size = size;
    f.sent_date = internal_date;
    if (copy != 0) copy_values(*hit, copy, f);
  }
  return out;
}

// from_cache without the values: the (sequence number, UID) of each candidate, nullopt
// when a message of the view has no cached values (or, with `needs` 0, no cached index
// facts either). Touches only the cache's UID slots, never a value: view_only criteria
// need nothing but the numbers.
std::optional<std::vector<std::pair<uint32_t, uint32_t>>> cached_candidates(const mailbox_view& view,
                                                                             const sort_cache::folder_values& values,
                                                                             const search_key& program,
                                                                             search_context& ctx, uint32_t needs) {
  const uint32_t exists = view.exists();
  const bool everything = program.k == search_key::kind::all ||
                          (program.k == search_key::kind::and_ && program.children.size() == 1 &&
                           program.children[0].k == search_key::kind::all);
  search_text_cache cache;
  mailstore::message_entry e;
  std::vector<std::pair<uint32_t, uint32_t>> out;
  out.reserve(exists);
  for (uint32_t seq = 1; seq <= exists; ++seq) {
    const uint32_t uid = view.uid_at(seq);
    if (!values.by_uid.contains(uid) && (needs != 0 || !values.index_facts.contains(uid))) return std::nullopt;
    if (!everything) {
      e.uid = uid;
      search_message sm;
      sm.seq = seq;
      sm.entry = &e;
      if (!search_matches(program, sm, ctx, cache)) continue;
    }
    out.emplace_back(seq, uid);
  }
  return out;
}

// What search_matches needs for view_only criteria.
search_context view_context(const mailbox_view& view, const std::vector<uint32_t>& saved,
                            mail::charset_converter* charsets) {
  search_context ctx;
  ctx.max_seq = view.exists();
  ctx.max_uid = view.max_uid();
  ctx.keywords = &view.keywords();
  ctx.saved_uids = &saved;
  ctx.charsets = charsets;
  ctx.now = std::time(nullptr);
  return ctx;
}

// A one-key SORT of `candidates` ((seq, UID), ascending sequence numbers) as a filter
// of the folder's precomputed order of that key (sort_cache::order): indices into
// `candidates` in sort order, ties in sequence order, as sort_order would give them.
// nullopt if the order lacks a candidate (it cannot, from_cache found each one's values).
std::optional<std::vector<uint32_t>> presorted_order(std::span<const std::pair<uint32_t, uint32_t>> candidates,
                                                     sort_cache& cache, sort_cache::folder_values& values,
                                                     const sort_criterion& key) {
  const std::vector<uint32_t>& uids = cache.order(values, key.k, key.reverse);
  const uint32_t max_uid = candidates.empty() ? 0 : candidates.back().second;
  // UID -> index + 1 into the candidates: an array while UIDs are dense enough, else a map.
  std::vector<uint32_t> dense;
  absl::flat_hash_map<uint32_t, uint32_t> sparse;
  const bool use_dense = max_uid <= 4 * candidates.size() + 1024;
  if (use_dense) {
    dense.assign(max_uid + 1, 0);
  } else {
    sparse.reserve(candidates.size());
  }
  for (uint32_t i = 0; i < candidates.size(); ++i) {
    if (use_dense) {
      dense[candidates[i].second] = i + 1;
    } else {
      sparse.emplace(candidates[i].second, i + 1);
    }
  }
  std::vector<uint32_t> order;
  order.reserve(candidates.size());
  for (uint32_t uid : uids) {
    uint32_t at = 0;
    if (use_dense) {
      at = uid <= max_uid ? dense[uid] : 0;
    } else if (auto it = sparse.find(uid); it != sparse.end()) {
      at = it->second;
    }
    if (at != 0) order.push_back(at - 1);
  }
  if (order.size() != candidates.size()) return std::nullopt;
  return order;
}

}  // namespace

task<std::optional<std::vector<sort_facts>>> imap_session::sort_candidates(const command& c, uint32_t needs,
                                                                           bool skip_strings) {
  // RFC 5256 section 3: "the server MUST support ... US-ASCII and UTF-8"; others: NO
  // [BADCHARSET] as SEARCH.
  if (c.charset != "UTF-8" && c.charset != "US-ASCII") {
    no(c, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
    co_return std::nullopt;
  }
  if (shard_.sorts != nullptr && view_only(c.search)) {
    // Warm and decided by the view: no hop to the owner (from_cache).
    search_context ctx = view_context(selected_->view, saved_uids_, shard_.charsets);
    const sort_cache::folder_values& values =
        shard_.sorts->folder(absl::StrCat(user_, "\n", selected_->name), selected_->uid_validity);
    if (auto warm = from_cache(selected_->view, values, c.search, ctx, needs, skip_strings)) co_return std::move(*warm);
  }
  const uint32_t exists = selected_->view.exists();
  const bool content = search_needs_content(c.search);
  const bool body = content && needs_body(c.search);
  // SAVEDBEFORE/SAVEDON/SAVEDSINCE (RFC 8514) need each message's base name.
  const bool save_date = search_needs_save_date(c.search);
  // EMAILID/THREADID criteria (RFC 8474) need each message's ids, as SEARCH does.
  const bool want_ids = search_needs_object_ids(c.search);
  const search_key ids_prefilter = index_fact_keys(c.search);  // object_fetch.h
  // The shard's values of this folder, when they can serve (a content key reads the
  // files anyway). Other sessions of the shard run at each co_await and may drop this
  // folder's values (sort_cache evicts the least recently used folder), so the pointer
  // is taken again after every co_await.
  const std::string folder_key = absl::StrCat(user_, "\n", selected_->name);
  const uint32_t uid_validity = selected_->uid_validity;
  const bool use_cache = shard_.sorts != nullptr && !content && needs != 0;
  sort_cache::folder_values* cached = use_cache ? &shard_.sorts->folder(folder_key, uid_validity) : nullptr;
  auto refresh = [&] {
    if (use_cache) cached = &shard_.sorts->folder(folder_key, uid_validity);
  };
  // File names are copied from the owner only for the messages whose values (or content)
  // must be read: none for a warm SORT.
  std::vector<uint32_t> uids(exists);
  std::vector<bool> want_file(exists, false);
  for (uint32_t i = 0; i < exists; ++i) {
    uids[i] = selected_->view.uid_at(i + 1);
    want_file[i] = content || (needs != 0 && (cached == nullptr || sort_cache::find(*cached, uids[i]) == nullptr));
  }
  // Full-text index (fts_search.cc), as SEARCH: messages it rules out for BODY/TEXT are
  // neither read nor sorted.
  std::optional<std::vector<uint32_t>> fts = co_await fts_filter(c.search, uids);
  refresh();
  if (fts) {
    for (uint32_t i = 0; i < exists; ++i) {
      if (!std::binary_search(fts->begin(), fts->end(), uids[i])) want_file[i] = false;
    }
  }
  struct facts_reply {
    std::vector<message_facts> facts;
    std::vector<std::string> bases;
    std::vector<std::string> keywords;
  };
  auto get = [name = selected_->name, uids = std::move(uids), want_file = std::move(want_file), save_date, want_ids](
                 mailstore::mailbox& box) -> task<absl::StatusOr<facts_reply>> {
    auto f = co_await box.folder(name);
    if (!f.ok()) co_return f.status();
    facts_reply r;
    r.facts.resize(uids.size());
    r.bases.resize(uids.size());
    for (size_t i = 0; i < uids.size(); ++i) {
      message_facts& mf = r.facts[i];
      mf.uid = uids[i];
      const auto* m = (*f)->state().find(uids[i]);
      if (m == nullptr) continue;
      mf.found = true;
      mf.flags = m->flags;
      mf.keywords = m->keywords;
      mf.modseq = m->modseq;
      mf.vsize = m->vsize;
      mf.internal_date = m->internal_date;
      if (want_file[i]) {
        mf.path = (*f)->path_of(*m);
        r.bases[i] = m->base;
      } else if (save_date) {
        r.bases[i] = m->base;
      }
      if (want_ids) mf.cache = m->cache;
    }
    r.keywords = (*f)->state().keywords;
    co_return r;
  };
  auto hop = on_mailbox(std::move(get));
  absl::StatusOr<facts_reply> got = co_await std::move(hop);
  refresh();
  if (!got.ok()) {
    no(c, "[SERVERBUG] Cannot read the mailbox");
    co_return std::nullopt;
  }
  if (shard_.sorts != nullptr && needs == 0 && !content) {
    // ARRIVAL/SIZE: keep what the hop brought, so the next one needs no hop (from_cache).
    sort_cache::folder_values& fv = shard_.sorts->folder(folder_key, uid_validity);
    for (const message_facts& m : got->facts) {
      if (m.found) shard_.sorts->put_index_facts(fv, m.uid, m.internal_date, m.vsize);
    }
  }
  header_cache& headers = *shard_.headers;
  const std::string key_prefix = absl::StrCat(user_, "\n", selected_->name, "\n");
  search_context ctx;
  ctx.max_seq = exists;
  ctx.max_uid = selected_->view.max_uid();
  ctx.keywords = &got->keywords;
  ctx.saved_uids = &saved_uids_;
  ctx.charsets = shard_.charsets;
  ctx.now = std::time(nullptr);  // WITHIN (RFC 5032)
  search_text_cache cache;
  std::vector<std::pair<uint32_t, std::string>> new_caches;  // OBJECTID ids computed here
  std::vector<sort_facts> out;
  out.reserve(exists);
  for (size_t i = 0; i < got->facts.size(); ++i) {
    message_facts& m = got->facts[i];
    if (!m.found) continue;
    if (fts && !std::binary_search(fts->begin(), fts->end(), m.uid)) continue;
    m.seq = static_cast<uint32_t>(i + 1);
    mailstore::message_entry e;
    e.uid = m.uid;
    e.flags = m.flags;
    e.keywords = m.keywords;
    e.modseq = m.modseq;
    e.vsize = m.vsize;
    e.size = m.vsize;
    e.internal_date = m.internal_date;
    if (save_date) e.base = got->bases[i];
    search_message sm;
    sm.seq = m.seq;
    sm.entry = &e;
    std::pair<std::string, std::string> ids;  // outlives sm, which views it
    if (want_ids) {
      // Index facts that rule the message out first: no file read for its ids.
      if (!search_matches(ids_prefilter, sm, ctx)) continue;
      ids = co_await object_ids_of(m, &new_caches);
      refresh();
      sm.email_id = ids.first;
      sm.thread_id = ids.second;
    }
    const sort_facts* hit = cached != nullptr ? sort_cache::find(*cached, m.uid) : nullptr;
    if (m.path.empty() && needs != 0 && hit == nullptr) {
      // Values dropped since the hop (another session's folder pushed them out): read
      // the file after all.
      m.path = co_await current_path(m.uid);
      refresh();
      if (m.path.empty()) continue;  // expunged meanwhile
    }
    const bool file = !m.path.empty();
    if (!file) {
      // Values cached (or not needed: ARRIVAL, SIZE) and no content key.
      if (!search_matches(c.search, sm, ctx, cache)) continue;
      sort_facts& f = out.emplace_back();
      f.seq = m.seq;
      f.uid = m.uid;
      f.internal_date = m.internal_date;
      f.size = m.vsize;
      f.sent_date = m.internal_date;
      if (hit != nullptr) {
        if (!skip_strings) {
          copy_values(*hit, needs, f);
        } else if (needs & (need_date | need_threading)) {
          copy_values(*hit, needs & (need_date | need_threading), f);
        }
      }
      continue;
    }
    std::optional<loaded_message> msg;
    if (body) {
      msg = co_await load(m);
      refresh();
      if (!msg) continue;
    } else {
      std::string key = got->bases[i].empty() ? std::string() : absl::StrCat(key_prefix, got->bases[i]);
      if (const std::string* kept = key.empty() ? nullptr : headers.find(key)) {
        msg.emplace();
        msg->bytes = *kept;
      } else {
        // The header block only, as stored; a flag change by another session renames
        // the file: ask the owner where it is now, a few times (as load()).
        std::optional<std::string> h = co_await read_header_block(m.path);
        for (int attempt = 0; !h && attempt < 3; ++attempt) {
          std::string now = co_await current_path(m.uid);
          if (now.empty()) break;
          h = co_await read_header_block(std::move(now));
        }
        refresh();
        if (!h) continue;
        msg.emplace();
        // With the sort cache the header block is not kept twice; the header cache
        // holds CRLF blocks (SEARCH parses them as loaded messages).
        if (cached == nullptr && !key.empty()) {
          msg->bytes = to_crlf(*h);
          headers.put(std::move(key), msg->bytes);
        } else {
          msg->bytes = std::move(*h);
        }
      }
    }
    if (content) sm.parsed = &msg->parsed(*shard_.charsets);
    if (!search_matches(c.search, sm, ctx, cache)) continue;
    sort_facts& f = out.emplace_back();
    f.seq = m.seq;
    f.uid = m.uid;
    f.internal_date = m.internal_date;
    f.size = m.vsize;
    if (cached != nullptr) {
      // Every value, once, for the cache: the next SORT by any key or THREAD is warm.
      fill_sort_facts(body ? header_part(msg->bytes) : std::string_view(msg->bytes), kAllNeeds, *shard_.charsets, f);
      shard_.sorts->put(*cached, m.uid, f);
    } else {
      fill_sort_facts(body ? header_part(msg->bytes) : std::string_view(msg->bytes), needs, *shard_.charsets, f);
    }
  }
  if (!new_caches.empty()) {  // EMAILID/THREADID computed for the criteria: keep them
    auto keep = [name = selected_->name, blobs = std::move(new_caches)](mailstore::mailbox& box) -> task<absl::Status> {
      co_return co_await box.set_cache(name, blobs);
    };
    auto keep_hop = on_mailbox(std::move(keep));
    absl::Status st = co_await std::move(keep_hop);
    if (!st.ok()) log::debug("imap_cache_not_kept", {{"sid", sid_}, {"reason", st.ToString()}});
  }
  co_return out;
}

task<void> imap_session::on_sort(const command& c) {
  const uint32_t needs = sort_needs(c.sort);
  std::optional<std::vector<sort_facts>> facts;
  std::vector<std::pair<uint32_t, uint32_t>> cand;  // (seq, UID) of each message sorted
  std::vector<uint32_t> order;                       // indices into cand
  bool warm = false;
  if (c.sort.size() == 1 && shard_.sorts != nullptr && view_only(c.search) &&
      (c.charset == "UTF-8" || c.charset == "US-ASCII")) {
    // Warm, one key, decided by the view: a filter of the cache's order of the key.
    search_context ctx = view_context(selected_->view, saved_uids_, shard_.charsets);
    sort_cache::folder_values& values =
        shard_.sorts->folder(absl::StrCat(user_, "\n", selected_->name), selected_->uid_validity);
    if (auto light = cached_candidates(selected_->view, values, c.search, ctx, needs)) {
      if (auto o = presorted_order(*light, *shard_.sorts, values, c.sort.front())) {
        cand = std::move(*light);
        order = std::move(*o);
        warm = true;
      }
    }
  }
  if (!warm) {
    const bool strings = std::any_of(c.sort.begin(), c.sort.end(),
                                     [](const sort_criterion& k) { return sort_string(sort_facts(), k.k) != nullptr; });
    const bool by_rank = strings && shard_.sorts != nullptr && !search_needs_content(c.search);
    facts = co_await sort_candidates(c, needs, by_rank);
    if (!facts) co_return;
    // Warm: the string keys compare by the cache's ranks (every message's values are in the
    // cache once sort_candidates returns, unless the cache was full: then the strings).
    sort_ranks ranks;
    bool ranked = by_rank;
    if (by_rank) {
      sort_cache::folder_values& f =
          shard_.sorts->folder(absl::StrCat(user_, "\n", selected_->name), selected_->uid_validity);
      for (const sort_criterion& k : c.sort) {
        if (!ranked || sort_string(sort_facts(), k.k) == nullptr) continue;
        std::vector<uint32_t>& r = ranks[static_cast<size_t>(k.k)];
        if (!r.empty()) continue;
        const auto& by_uid = sort_cache::ranks(f, k.k);
        r.reserve(facts->size());
        for (const sort_facts& m : *facts) {
          auto it = by_uid.find(m.uid);
          if (it == by_uid.end()) {
            ranked = false;
            break;
          }
          r.push_back(it->second);
        }
      }
      if (!ranked) {
        facts = co_await sort_candidates(c, needs, false);
        if (!facts) co_return;
      }
    }
    order = sort_order(*facts, c.sort, ranked ? &ranks : nullptr);
    cand.reserve(facts->size());
    for (const sort_facts& f : *facts) cand.emplace_back(f.seq, f.uid);
  }
  std::vector<uint32_t> hits;
  hits.reserve(order.size());
  for (uint32_t i : order) hits.push_back(c.uid ? cand[i].second : cand[i].first);
  const search_return& ret = c.search_ret;
  if (ret.save) {
    // RFC 5182 2.4: the saved result is a set (ascending UIDs); with MIN or MAX alone,
    // only those.
    std::vector<uint32_t> keep;
    if ((ret.min || ret.max) && !ret.all && !ret.count) {
      if (!order.empty()) {
        if (ret.min) keep.push_back(cand[order.front()].second);
        if (ret.max) keep.push_back(cand[order.back()].second);
      }
    } else {
      for (const auto& m : cand) keep.push_back(m.second);
    }
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    saved_uids_ = std::move(keep);
  }
  if (c.esearch) {
    // RFC 5267 3.2: ESORT answers ESEARCH; MIN/MAX are the first/last message in sort
    // order, ALL lists them in sort order (ranges only over ascending runs).
    const bool only_save = ret.save && !ret.min && !ret.max && !ret.all && !ret.count;
    if (!only_save) {
      std::string line = "ESEARCH (TAG ";
      append_string(line, c.tag);
      line += ")";
      if (c.uid) line += " UID";
      if (!hits.empty()) {
        if (ret.min) absl::StrAppend(&line, " MIN ", hits.front());
        if (ret.max) absl::StrAppend(&line, " MAX ", hits.back());
        if (ret.all) absl::StrAppend(&line, " ALL ", format_number_set(hits));
      }
      if (ret.count) absl::StrAppend(&line, " COUNT ", hits.size());
      untagged(line);
    }
  } else {
    std::string line = "SORT";
    line.reserve(hits.size() * 7 + 4);
    for (uint32_t n : hits) absl::StrAppend(&line, " ", n);
    untagged(line);
  }
  ok(c, "Sort completed");
}

task<void> imap_session::on_thread(const command& c) {
  // Warm and decided by the view: the candidates without their values first (no copy),
  // and when they are the last THREAD's, its response (sort_cache thread_memo).
  const bool memo = shard_.sorts != nullptr && view_only(c.search) && (c.charset == "UTF-8" || c.charset == "US-ASCII");
  std::vector<std::pair<uint32_t, uint32_t>> candidates;
  std::optional<std::string> warm_data;
  if (memo) {
    search_context ctx = view_context(selected_->view, saved_uids_, shard_.charsets);
    const sort_cache::folder_values& values =
        shard_.sorts->folder(absl::StrCat(user_, "\n", selected_->name), selected_->uid_validity);
    // need_date: every value of the view must be cached (not only index_facts).
    if (auto light = cached_candidates(selected_->view, values, c.search, ctx, need_date)) {
      candidates = std::move(*light);
      const auto& m = values.thread;
      if (m.valid && m.alg == c.thread && m.uid == c.uid && m.candidates == candidates) {
        untagged(m.response.empty() ? std::string("THREAD") : absl::StrCat("THREAD ", m.response));
        ok(c, "Thread completed");
        co_return;
      }
      // Threaded over the cache's values in place (no co_await: they stay put).
      std::vector<thread_message> refs;
      refs.reserve(candidates.size());
      for (const auto& [seq, uid] : candidates) refs.push_back({seq, uid, sort_cache::find(values, uid)});
      warm_data = thread_response(refs, c.thread, c.uid);
    }
  }
  std::string data;
  if (warm_data) {
    data = std::move(*warm_data);
  } else {
    std::optional<std::vector<sort_facts>> facts = co_await sort_candidates(c, thread_needs(c.thread));
    if (!facts) co_return;
    data = thread_response(*facts, c.thread, c.uid);
  }
  if (warm_data && !candidates.empty()) {
    // Keep the answer for these candidates.
    sort_cache::folder_values::thread_memo m;
    m.alg = c.thread;
    m.uid = c.uid;
    m.candidates = std::move(candidates);
    m.response = data;
    shard_.sorts->put_thread(shard_.sorts->folder(absl::StrCat(user_, "\n", selected_->name), selected_->uid_validity),
                             std::move(m));
  }
  untagged(data.empty() ? std::string("THREAD") : absl::StrCat("THREAD ", data));
  ok(c, "Thread completed");
}

}  // namespace ringmail::imap

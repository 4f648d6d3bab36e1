#include "protocols/imap/condstore.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ringmail::imap {

namespace {

// Yields the numbers of a set's ranges in the order written (a:b ascending within a
// range), one at a time: never a vector of them.
class set_walker {
 public:
  explicit set_walker(const sequence_set& s) : ranges_(s.ranges) {}
  bool next(uint32_t& out) {
    while (cur_ > hi_) {
      if (i_ >= ranges_.size()) return false;
      const seq_range& r = ranges_[i_++];
      cur_ = std::min(r.first, r.last);
      hi_ = std::max(r.first, r.last);
    }
    out = static_cast<uint32_t>(cur_++);
    return true;
  }

 private:
  const std::vector<seq_range>& ranges_;
  size_t i_ = 0;
  uint64_t cur_ = 1, hi_ = 0;
};

void add_span(std::vector<uid_span>& out, uint32_t lo, uint32_t hi) {
  if (!out.empty() && uint64_t{out.back().second} + 1 >= lo) {
    out.back().second = std::max(out.back().second, hi);
  } else {
    out.emplace_back(lo, hi);
  }
}

}  // namespace

std::vector<uid_span> normalize_set(const sequence_set& set, uint32_t star) {
  std::vector<uid_span> spans;
  spans.reserve(set.ranges.size());
  for (const seq_range& r : set.ranges) {
    const uint32_t a = r.first == seq_range::star ? star : r.first;
    const uint32_t b = r.last == seq_range::star ? star : r.last;
    const uint32_t lo = std::min(a, b), hi = std::max(a, b);
    if (lo == 0) continue;
    spans.emplace_back(lo, hi);
  }
  std::sort(spans.begin(), spans.end());
  std::vector<uid_span> out;
  for (const auto& [lo, hi] : spans) add_span(out, lo, hi);
  return out;
}

std::string format_spans(const std::vector<uid_span>& spans) {
  std::string out;
  for (const auto& [lo, hi] : spans) {
    if (!out.empty()) out += ',';
    if (lo == hi) {
      absl::StrAppend(&out, lo);
    } else {
      absl::StrAppend(&out, lo, ":", hi);
    }
  }
  return out;
}

bool spans_contain(const std::vector<uid_span>& spans, uint32_t n) {
  auto it = std::upper_bound(spans.begin(), spans.end(), n,
                             [](uint32_t v, const uid_span& s) { return v < s.first; });
  if (it == spans.begin()) return false;
  --it;
  return n >= it->first && n <= it->second;
}

uint32_t matched_up_to(const sequence_set& seqs, const sequence_set& uids,
                       std::span<const mailstore::message_entry> messages) {
  set_walker ws(seqs), wu(uids);
  uint32_t last = 0, prev_seq = 0;
  // Sequence numbers must ascend and stay within the folder, so this ends within
  // messages.size() + 1 steps whatever the sets say.
  for (;;) {
    uint32_t s = 0, u = 0;
    if (!ws.next(s) || !wu.next(u)) break;
    if (s <= prev_seq || s > messages.size() || messages[s - 1].uid != u) break;
    prev_seq = s;
    last = u;
  }
  return last;
}

bool expunge_history_covers(const mailstore::folder_state& st, uint64_t since) {
  // A mod-sequence above ours comes from another index of this folder (rebuilt since,
  // or another server's): nothing we kept can be trusted to cover it.
  if (since > st.highest_modseq) return false;
  // Where this index's history begins: every modseq it gave out is at least the oldest
  // one it still holds. An index rebuilt over kept UIDs (mailbox.cc: Dovecot's
  // dovecot-uidlist, or a lost index of ours) starts its modseqs above any from before
  // and gives every message it found that first modseq, so expunges from before it are
  // below that floor and unknown here; a client whose mod-sequence is older than the
  // floor gets the answer from the gaps.
  uint64_t floor = st.highest_modseq;
  for (const auto& m : st.messages) floor = std::min(floor, m.modseq);
  if (!st.expunged.empty()) floor = std::min(floor, st.expunged.front().second);
  if (since + 1 < floor) return false;
  if (st.expunged.size() < mailstore::kMaxExpungedKept) return true;
  // Full: older entries may have been dropped, all with modseqs up to the oldest kept.
  return since >= st.expunged.front().second;
}

std::vector<uid_span> vanished_since(const mailstore::folder_state& st, uint64_t since,
                                     const std::vector<uid_span>& known, uint32_t known_above) {
  std::vector<uid_span> out;
  if (expunge_history_covers(st, since)) {
    std::vector<uint32_t> uids;
    for (auto it = st.expunged.rbegin(); it != st.expunged.rend() && it->second > since; ++it) {
      if (spans_contain(known, it->first)) uids.push_back(it->first);
    }
    std::sort(uids.begin(), uids.end());
    for (uint32_t u : uids) add_span(out, u, u);
    return out;
  }
  const uint32_t top = st.uid_next > 0 ? st.uid_next - 1 : 0;
  const auto& msgs = st.messages;
  for (auto [lo, hi] : known) {
    if (hi <= known_above) continue;
    lo = std::max<uint32_t>(lo, known_above + 1);
    hi = std::min(hi, top);
    if (lo > hi) continue;
    auto it = std::lower_bound(msgs.begin(), msgs.end(), lo,
                               [](const mailstore::message_entry& m, uint32_t u) { return m.uid < u; });
    uint64_t cur = lo;
    for (; it != msgs.end() && it->uid <= hi; ++it) {
      if (it->uid > cur) add_span(out, static_cast<uint32_t>(cur), it->uid - 1);
      cur = uint64_t{it->uid} + 1;
    }
    if (cur <= hi) add_span(out, static_cast<uint32_t>(cur), hi);
  }
  return out;
}

qresync_result compute_qresync(const mailstore::folder_state& st, const qresync_param& q) {
  qresync_result r;
  // RFC 7162 3.2.5.2: with another UIDVALIDITY the client's cache is void; the server
  // answers as to SELECT (CONDSTORE) and the client starts over.
  if (q.uid_validity != st.uid_validity) return r;
  r.applies = true;
  const uint32_t star = st.uid_next > 0 ? st.uid_next - 1 : 0;
  std::vector<uid_span> known;
  if (q.known_uids) {
    known = normalize_set(*q.known_uids, star);
  } else if (star > 0) {
    known.emplace_back(1, star);
  }
  uint32_t above = 0;
  if (q.match_seqs && q.match_uids && !expunge_history_covers(st, q.modseq)) {
    above = matched_up_to(*q.match_seqs, *q.match_uids, st.messages);
  }
  r.vanished = vanished_since(st, q.modseq, known, above);
  for (const auto& m : st.messages) {
    if (m.modseq > q.modseq && spans_contain(known, m.uid)) r.changed.push_back(to_view_message(m));
  }
  return r;
}

std::vector<uid_span> fetch_vanished(const mailstore::folder_state& st, const sequence_set& set, uint64_t since) {
  const uint32_t star = st.uid_next > 0 ? st.uid_next - 1 : 0;
  return vanished_since(st, since, normalize_set(set, star), 0);
}

bool search_uses_modseq(const search_key& k) {
  if (k.k == search_key::kind::modseq) return true;
  return std::any_of(k.children.begin(), k.children.end(), search_uses_modseq);
}

}  // namespace ringmail::imap

#include "protocols/imap/fts_plan.h"

#include <algorithm>
#include <iterator>

#include "delivery/fts/text_index.h"
#include "mail/casefold.h"

namespace ringmail::imap {

namespace {

using kind = search_key::kind;

bool is_indexed_leaf(const search_key& k, std::string* folded = nullptr) {
  if (k.k != kind::body && k.k != kind::text) return false;
  std::string f = mail::fold_case(k.text);
  if (f.size() < fts::kGramBytes) return false;
  if (folded != nullptr) *folded = std::move(f);
  return true;
}

bool can_filter(const search_key& k) {
  switch (k.k) {
    case kind::body: case kind::text: return is_indexed_leaf(k);
    case kind::and_:
      return std::any_of(k.children.begin(), k.children.end(), [](const search_key& c) { return can_filter(c); });
    case kind::or_:
      return !k.children.empty() &&
             std::all_of(k.children.begin(), k.children.end(), [](const search_key& c) { return can_filter(c); });
    default: return false;
  }
}

void collect(const search_key& k, std::vector<std::string>& out) {
  std::string folded;
  if (is_indexed_leaf(k, &folded)) {
    if (std::find(out.begin(), out.end(), folded) == out.end()) out.push_back(std::move(folded));
    return;
  }
  if (k.k != kind::and_ && k.k != kind::or_) return;  // NOT and leaves: no filter
  for (const search_key& c : k.children) collect(c, out);
}

}  // namespace

std::vector<std::string> fts_needles(const search_key& k) {
  std::vector<std::string> out;
  if (can_filter(k)) collect(k, out);
  return out;
}

std::optional<std::vector<uint32_t>> fts_candidates(
    const search_key& k, const absl::flat_hash_map<std::string, std::vector<uint32_t>>& by_needle) {
  std::string folded;
  if (is_indexed_leaf(k, &folded)) {
    auto it = by_needle.find(folded);
    if (it == by_needle.end()) return std::nullopt;  // not asked: no filter
    return it->second;
  }
  if (k.k == kind::and_) {
    std::optional<std::vector<uint32_t>> acc;
    for (const search_key& c : k.children) {
      auto sub = fts_candidates(c, by_needle);
      if (!sub) continue;
      if (!acc) {
        acc = std::move(sub);
        continue;
      }
      std::vector<uint32_t> both;
      std::set_intersection(acc->begin(), acc->end(), sub->begin(), sub->end(), std::back_inserter(both));
      *acc = std::move(both);
    }
    return acc;
  }
  if (k.k == kind::or_) {
    std::vector<uint32_t> acc;
    for (const search_key& c : k.children) {
      auto sub = fts_candidates(c, by_needle);
      if (!sub) return std::nullopt;
      std::vector<uint32_t> either;
      std::set_union(acc.begin(), acc.end(), sub->begin(), sub->end(), std::back_inserter(either));
      acc = std::move(either);
    }
    if (k.children.empty()) return std::nullopt;
    return acc;
  }
  return std::nullopt;
}

}  // namespace ringmail::imap

// Which messages a SEARCH can skip thanks to the full-text index (delivery/fts/text_index.h).
// Pure: the session (fts_search.cc) asks the owner's index for each needle's candidates
// and hands them back here.
//
// The index answers "which messages may contain this folded needle" with a SUPERSET of
// the matches (trigrams; needles of 3+ folded bytes). A key tree is filtered by that
// only where it is sound to:
//   BODY x / TEXT x   the needle's candidates (TEXT and BODY share the index: the body
//                     text is indexed with the header lines, a superset for BODY)
//   AND               the intersection of the children that filter (the others: all)
//   OR                the union, when every child filters; otherwise all
//   NOT, and every other key: all (the complement of a superset proves nothing)
// A message outside the root's candidates cannot match; every message inside is still
// evaluated by search_matches(), so results are exactly the linear scan's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "protocols/imap/command.h"

namespace ringmail::imap {

// The folded needles (mail::fold_case) of the BODY/TEXT keys the index can use, each
// once; empty when the tree cannot be filtered at all (then the index is not consulted
// and need not be built).
std::vector<std::string> fts_needles(const search_key& k);

// Candidate UIDs (ascending) of the tree, given each needle's candidates (ascending,
// keyed by folded needle, as fts_needles returned them); nullopt = every message.
std::optional<std::vector<uint32_t>> fts_candidates(
    const search_key& k, const absl::flat_hash_map<std::string, std::vector<uint32_t>>& by_needle);

}  // namespace ringmail::imap

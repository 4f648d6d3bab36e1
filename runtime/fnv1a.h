// FNV-1a 64 (Fowler/Noll/Vo): a hash that is fixed forever, for values written to disk or
// compared across processes and versions (Bayes token hashes, generated message ids,
// file names of METADATA entries). absl::Hash is the hash for containers; it is seeded
// per process and must never be stored.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringmail {

inline constexpr uint64_t kFnv1a64Basis = 0xcbf29ce484222325ULL;

// FNV-1a 64 of `bytes`, continued from `h` (the basis for a fresh hash), so a value made
// of several pieces can be hashed without joining them.
constexpr uint64_t fnv1a64(std::string_view bytes, uint64_t h = kFnv1a64Basis) {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;  // the FNV 64-bit prime
  }
  return h;
}

}  // namespace ringmail

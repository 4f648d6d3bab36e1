#include "spam/scan_cache.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

namespace ringmail::spam {

std::vector<uint32_t> body_target_rules(const rule_set& rules) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < rules.rules.size(); ++i) {
    const rule& r = rules.rules[i];
    if (r.kind != rule_kind::regex) continue;
    if (r.target == rule_target::body || r.target == rule_target::rawbody || r.target == rule_target::uri) {
      out.push_back(i);
    }
  }
  return out;
}

// One reusable digest context (no allocation per scan). A cryptographic hash because a
// collision would hand one message another's verdict, and senders choose the bytes.
struct scan_cache::hasher {
  hasher() : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr) std::abort();
  }
  ~hasher() { EVP_MD_CTX_free(ctx); }
  void start(char kind) {
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) std::abort();
    EVP_DigestUpdate(ctx, &kind, 1);
  }
  // Length first, so that no two different field lists hash alike.
  void field(std::string_view bytes) {
    const uint64_t size = bytes.size();
    EVP_DigestUpdate(ctx, &size, sizeof size);
    EVP_DigestUpdate(ctx, bytes.data(), bytes.size());
  }
  digest finish() {
    digest d{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx, d.data(), &length) != 1 || length != d.size()) std::abort();
    return d;
  }
  EVP_MD_CTX* ctx;
};

// flat_hash_map: one slot and one control byte per bucket of its capacity.
constexpr size_t slot_bytes = sizeof(std::pair<scan_cache::digest, void*>) + 1;

size_t scan_cache::digest_hash::operator()(const digest& d) const {
  size_t h;
  std::memcpy(&h, d.data(), sizeof h);  // a SHA-256 prefix is already uniform
  return h;
}

scan_cache::scan_cache(size_t max_bytes) : max_bytes_(max_bytes), hasher_(std::make_unique<hasher>()) {}

scan_cache::~scan_cache() = default;

void scan_cache::bind(const std::shared_ptr<const compiled_rules>& rules) {
  // An expired weak pointer means the address may have been reused by a new rule set.
  if (rules.get() == rules_address_ && !rules_.expired()) return;
  if (!lru_.empty()) ++counters_.clears;
  clear();
  rules_ = rules;
  rules_address_ = rules.get();
}

scan_cache::digest scan_cache::message_key(std::string_view message) {
  hasher_->start('M');
  hasher_->field(message);
  return hasher_->finish();
}

scan_cache::digest scan_cache::body_key(std::string_view rest_of_body, const mail::message_text& text) {
  hasher_->start('B');
  hasher_->field(rest_of_body);
  hasher_->field(text.raw_body);
  for (const std::string& uri : text.uris) hasher_->field(uri);
  return hasher_->finish();
}

scan_cache::node* scan_cache::find(const digest& key, bool is_message) {
  auto it = index_.find(key);
  if (it == index_.end() || it->second->is_message != is_message) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &*it->second;
}

const scan_cache::message_entry* scan_cache::find_message(const digest& key, bool need_tokens) {
  node* n = find(key, true);
  if (n == nullptr || (need_tokens && !n->entry.has_tokens)) return nullptr;
  ++counters_.message_hits;
  return &n->entry;
}

const sparse_hits* scan_cache::find_body(const digest& key) {
  node* n = find(key, false);
  if (n == nullptr) return nullptr;
  ++counters_.body_hits;
  return &n->entry.hits;
}

void scan_cache::put_message(const digest& key, message_entry entry) {
  node n;
  n.key = key;
  n.is_message = true;
  n.entry = std::move(entry);
  put(std::move(n));
}

void scan_cache::put_body(const digest& key, sparse_hits hits) {
  node n;
  n.key = key;
  n.entry.hits = std::move(hits);
  put(std::move(n));
}

void scan_cache::put(node n) {
  if (!enabled()) return;
  if (auto it = index_.find(n.key); it != index_.end()) {
    entry_bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  n.entry.hits.shrink_to_fit();
  n.entry.tokens.shrink_to_fit();
  // The list node (two links and the node) and the vectors' heap blocks.
  n.bytes = sizeof(node) + 2 * sizeof(void*) + n.entry.hits.capacity() * sizeof(sparse_hits::value_type) +
            n.entry.tokens.capacity() * sizeof(uint64_t);
  if (n.bytes + 16 * slot_bytes > max_bytes_) return;  // would never fit with its index
  entry_bytes_ += n.bytes;
  const digest key = n.key;
  lru_.push_front(std::move(n));
  index_.emplace(key, lru_.begin());
  evict_to(max_bytes_);
}

void scan_cache::evict_to(size_t limit) {
  while (bytes() > limit && !lru_.empty()) {
    node& last = lru_.back();
    entry_bytes_ -= last.bytes;
    index_.erase(last.key);
    lru_.pop_back();
    ++counters_.evictions;
    // The index keeps its buckets when entries go: shrink it once it is mostly empty.
    if (index_.capacity() > 4 * index_.size() + 16) index_.rehash(0);
  }
}

void scan_cache::clear() {
  lru_.clear();
  index_ = {};
  entry_bytes_ = 0;
}

size_t scan_cache::index_bytes() const {
  return index_.capacity() * slot_bytes;
}

size_t scan_cache::bytes() const { return entry_bytes_ + index_bytes(); }

}  // namespace ringmail::spam

#include "spam/dkim/key_cache.h"

#include <utility>

namespace ringmail::spam::dkim {

absl::StatusOr<std::shared_ptr<const key_record>> key_cache::get(std::string_view txt, const key_limits& limits) {
  if (auto it = index_.find(txt); it != index_.end()) {
    order_.splice(order_.begin(), order_, it->second);
    const std::shared_ptr<const key_record>& key = it->second->key;
    ++hits_;
    if (absl::Status fits = check_key_limits(key->key, limits); !fits.ok()) return fits;
    return key;
  }
  ++misses_;
  auto parsed = parse_key_record(txt, limits);
  if (!parsed.ok()) return parsed.status();
  auto key = std::make_shared<const key_record>(std::move(*parsed));
  if (capacity_ == 0) return key;
  if (order_.size() >= capacity_) {
    index_.erase(order_.back().text);
    order_.pop_back();
  }
  order_.push_front(entry{std::string(txt), key});
  index_.emplace(order_.front().text, order_.begin());
  return key;
}

}  // namespace ringmail::spam::dkim

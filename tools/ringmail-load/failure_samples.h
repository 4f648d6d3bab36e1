// The first few distinct failure descriptions of a load run, with how often each was
// seen. Shared by all client shards; only failures take the lock, so a healthy run never
// touches it. Used by the SMTP/LMTP (load.cc) and IMAP (imap_load.cc) modes.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ringmail::load {

class failure_samples {
 public:
  static constexpr size_t kMaxSamples = 5;

  void note(const std::string& description) {
    std::lock_guard lock(mutex_);
    for (auto& [text, count] : seen_) {
      if (text == description) {
        ++count;
        return;
      }
    }
    if (seen_.size() < kMaxSamples) seen_.emplace_back(description, 1);
  }
  std::vector<std::pair<std::string, uint64_t>> take() {
    std::lock_guard lock(mutex_);
    return std::move(seen_);
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::string, uint64_t>> seen_;
};

}  // namespace ringmail::load

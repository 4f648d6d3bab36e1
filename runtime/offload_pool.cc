#include "runtime/offload_pool.h"

#include <pthread.h>
#include <signal.h>

namespace ringmail {

offload_pool::offload_pool(unsigned threads) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), ("offload-" + std::to_string(i)).c_str());
      worker();
    });
  }
}

offload_pool::~offload_pool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void offload_pool::post(remote_work* w) {
  w->next = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (tail_ != nullptr) {
      tail_->next = w;
    } else {
      head_ = w;
    }
    tail_ = w;
  }
  cv_.notify_one();
}

void offload_pool::worker() {
  for (;;) {
    remote_work* w;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return head_ != nullptr || stopping_; });
      if (head_ == nullptr) return;
      w = head_;
      head_ = w->next;
      if (head_ == nullptr) tail_ = nullptr;
    }
    w->run(w);
  }
}

}  // namespace ringmail

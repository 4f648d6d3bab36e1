#include "runtime/shard_set.h"

#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <mutex>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "runtime/log.h"

namespace ringmail {
namespace {

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  return cpus;
}

struct run_on_work : remote_work {
  std::function<void()> fn;
};

}  // namespace

absl::StatusOr<std::unique_ptr<shard_set>> shard_set::start(const shard_options& options) {
  std::vector<int> cpus = allowed_cpus();
  unsigned count = options.shards != 0 ? options.shards : static_cast<unsigned>(std::max<size_t>(1, cpus.size()));
  std::unique_ptr<shard_set> set(new shard_set());
  set->reactors_.resize(count);
  set->offload_ = std::make_unique<offload_pool>(options.offload_threads);

  std::mutex mutex;
  std::condition_variable cv;
  unsigned started = 0;
  absl::Status first_error;
  for (unsigned i = 0; i < count; ++i) {
    // Only `mutex`, `cv`, `started` and `first_error` are shared with start(), and only
    // until this thread reports in (under the lock); everything used later is copied.
    const int cpu = cpus.empty() ? -1 : cpus[i % cpus.size()];
    set->threads_.emplace_back([&mutex, &cv, &started, &first_error, i, cpu, pin = options.pin,
                                ro = options.reactor, raw = set.get()]() mutable {
      pthread_setname_np(pthread_self(), absl::StrCat("shard-", i).c_str());
      bool pinned = false;
      if (pin && cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pinned = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
      }
      // The ring is created on the thread that will use it: SINGLE_ISSUER binds it there.
      ro.shard_id = i;
      auto r = reactor::create(ro);
      reactor* mine = nullptr;
      {
        std::lock_guard lock(mutex);
        if (r.ok()) {
          raw->reactors_[i] = std::move(*r);
          raw->reactors_[i]->set_shards(raw);
          mine = raw->reactors_[i].get();
        } else if (first_error.ok()) {
          first_error = r.status();
        }
        ++started;
        cv.notify_all();  // under the lock: start() may return (and free cv) right after
      }
      if (mine == nullptr) return;
      log::set_thread_shard(static_cast<int>(i));
      log::info("shard_started", {{"cpu", pinned ? absl::StrCat(cpu) : std::string("any")}, {"ring", mine->describe()}});
      mine->run();
    });
  }
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return started == count; });
  }
  if (!first_error.ok()) {
    set->stop();
    set->join();
    return first_error;
  }
  return set;
}

shard_set::~shard_set() {
  stop();
  join();
}

void shard_set::run_on(unsigned shard, std::function<void()> fn) {
  auto* w = new run_on_work();
  w->fn = std::move(fn);
  w->run = [](remote_work* base) {
    std::unique_ptr<run_on_work> self(static_cast<run_on_work*>(base));
    self->fn();
  };
  reactors_[shard]->post(w);
}

void shard_set::stop() {
  for (auto& r : reactors_) {
    if (r) r->request_stop();
  }
}

void shard_set::join() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

unsigned owner_shard(std::string_view key, unsigned shard_count) {
  // absl::Hash is salted per process; the owner only has to be stable within one.
  return static_cast<unsigned>(absl::HashOf(key) % shard_count);
}

}  // namespace ringmail

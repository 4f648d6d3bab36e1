#include "spam/bayes/user_models.h"

#include <exception>
#include <list>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "runtime/log.h"

namespace ringmail::spam {

struct user_models::state {
  offload_pool* pool = nullptr;
  user_models_options options;
  struct entry {
    std::shared_ptr<const bayes_model> model;  // ready models only
    clock::time_point loaded{};                // when the last load finished
    bool answered = false;                     // a load has finished (well or not)
    bool loading = false;
    size_t bytes = 0;
    std::list<std::string>::iterator recency;  // its place in `by_use`
  };
  // Shard side.
  absl::flat_hash_map<std::string, entry> entries;
  std::list<std::string> by_use;  // users, most recently used first
  size_t bytes = 0;
  size_t loading = 0;
  counters count;

  void touch(entry& e) { by_use.splice(by_use.begin(), by_use, e.recency); }

  // Pool side: the store, opened by the first load and shared by the later ones.
  std::mutex store_mutex;
  store_opener open;
  std::unique_ptr<bayes_store> store;

  using load_result = absl::StatusOr<std::shared_ptr<const bayes_model>>;

  load_result load(const std::string& user) {
    std::lock_guard<std::mutex> lock(store_mutex);
    try {
      if (!store) {
        auto opened = open();
        if (!opened.ok()) return opened.status();
        if (!*opened) return std::shared_ptr<const bayes_model>();  // no store yet: nothing learned
        store = std::move(*opened);
      }
      return store->load(user);
    } catch (const std::exception& e) {
      return absl::InternalError(e.what());
    }
  }

  // Back on the shard.
  void finish(const std::string& user, load_result loaded, clock::time_point now) {
    --loading;
    auto it = entries.find(user);
    if (it == entries.end()) return;  // cannot happen: loading entries are not evicted
    entry& e = it->second;
    e.loading = false;
    e.answered = true;
    e.loaded = now;
    if (!loaded.ok()) {
      // Keep what we had (a store that is down must not take a trained user's verdict
      // away); retried after ttl.
      ++count.failures;
      log::warn("spam_user_bayes_load_failed", {{"user", user}, {"reason", loaded.status().message()}});
      return;
    }
    ++count.loads;
    bytes -= e.bytes;
    e.bytes = 0;
    e.model.reset();
    const std::shared_ptr<const bayes_model>& m = *loaded;
    if (m && m->ready()) {
      const size_t size = model_bytes(*m);
      if (size <= options.max_bytes) {
        e.model = m;
        e.bytes = size;
      }
    }
    e.bytes += sizeof(entry) + user.size();
    bytes += e.bytes;
    evict(user);
  }

  // Least recently used first, never an entry being loaded nor `keep`. Walks from the
  // least recent end: only the few loads in flight (at most max_loading) are skipped.
  void evict(const std::string& keep) {
    auto pos = by_use.end();
    while (bytes > options.max_bytes && pos != by_use.begin()) {
      --pos;
      auto victim = entries.find(*pos);
      if (victim->second.loading || victim->first == keep) continue;
      bytes -= victim->second.bytes;
      entries.erase(victim);
      pos = by_use.erase(pos);
      ++count.evictions;
    }
  }
};

detail::fire_and_forget user_models::run_load(std::shared_ptr<state> s, std::string user) {
  auto job = [s, user] { return s->load(user); };
  task<state::load_result> loading = offload(*s->pool, std::move(job));  // named: g++ 12
  state::load_result loaded = co_await std::move(loading);
  s->finish(user, std::move(loaded), clock::now());
}

user_models::user_models(offload_pool& pool, store_opener open, user_models_options options)
    : state_(std::make_shared<state>()) {
  state_->pool = &pool;
  state_->options = options;
  state_->open = std::move(open);
}

user_models::~user_models() = default;

size_t user_models::model_bytes(const bayes_model& model) {
  // flat_hash_map: one slot (key and value) and one control byte per bucket.
  return sizeof(bayes_model) + model.tokens.capacity() * (sizeof(std::pair<uint64_t, token_counts>) + 1);
}

std::shared_ptr<const bayes_model> user_models::find(const std::string& user, clock::time_point now) {
  state& s = *state_;
  auto it = s.entries.find(user);
  if (it == s.entries.end() || !it->second.answered) {
    ++s.count.misses;
    if (it == s.entries.end()) start_load(user);
    return nullptr;
  }
  ++s.count.hits;
  state::entry& e = it->second;
  s.touch(e);
  std::shared_ptr<const bayes_model> model = e.model;  // before a reload can replace it
  if (!e.loading && now - e.loaded >= s.options.ttl) start_load(user);
  return model;
}

void user_models::start_load(const std::string& user) {
  state& s = *state_;
  if (s.loading >= s.options.max_loading) return;  // a later message asks again
  auto [it, inserted] = s.entries.try_emplace(user);
  state::entry& e = it->second;
  if (inserted) e.recency = s.by_use.insert(s.by_use.begin(), user);
  if (e.loading) return;
  e.loading = true;
  s.touch(e);
  ++s.loading;
  run_load(state_, user);
}

user_models::counters user_models::stats() const {
  counters c = state_->count;
  c.entries = state_->entries.size();
  c.bytes = state_->bytes;
  return c;
}

}  // namespace ringmail::spam

#include "tools/ringmail-load/load.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "mail/date.h"
#include "runtime/shard_set.h"
#include "runtime/when_all.h"
#include "tools/ringmail-load/failure_samples.h"

namespace ringmail::load {
namespace {

using clock = std::chrono::steady_clock;


struct shared_state {
  shared_state(const load_options& o, const message_source& m) : options(o), messages(m) {}
  const load_options& options;
  const message_source& messages;
  std::atomic<uint64_t> next_message{0};
  failure_samples failures;
};

// What one shard owns; its sessions share it without locks (they all run on its thread).
struct shard_state {
  shard_state(shared_state& s, unsigned id) : shared(s), shard(id), rng(s.options.seed * 1000003 + id) {}

  shared_state& shared;
  unsigned shard;
  std::mt19937_64 rng;
  load_report totals;  // counts and latency; run_load adds the rest
  int64_t date_second = -1;
  std::string date;

  // The Date field for messages made this second (formatted once per second).
  const std::string& current_date() {
    int64_t now = static_cast<int64_t>(::time(nullptr));
    if (now != date_second) {
      date_second = now;
      date = mail::format_message_date(now);
    }
    return date;
  }
};

// Fills `out` with the recipients of message `index`: consecutive entries of the list
// (round-robin), or distinct random ones.
void pick_recipients(shard_state& s, uint64_t index, std::vector<std::string>& out) {
  const load_options& o = s.shared.options;
  const size_t n = o.recipients.size();
  const size_t k = o.rcpts_per_message;
  out.resize(k);
  if (!o.random_recipients) {
    for (size_t j = 0; j < k; ++j) out[j] = o.recipients[(index * k + j) % n];
    return;
  }
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  for (size_t j = 0; j < k; ++j) {
    for (;;) {
      const std::string& candidate = o.recipients[pick(s.rng)];
      bool duplicate = false;
      for (size_t i = 0; i < j; ++i) duplicate = duplicate || out[i] == candidate;
      if (!duplicate) {
        out[j] = candidate;
        break;
      }
    }
  }
}

void write_ledger(shard_state& s, std::string_view message_id, std::span<const std::string> recipients,
                  const std::vector<bool>& delivered) {
  const int fd = s.shared.options.ledger_fd;
  if (fd < 0) return;
  std::string lines = ledger_lines(message_id, recipients, delivered);
  // One write(2) per message: with O_APPEND, lines from different shards never interleave.
  std::string_view rest = lines;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++s.totals.ledger_write_errors;
      return;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

void count(shard_state& s, outcome kind) {
  switch (kind) {
    case outcome::ok: ++s.totals.ok; break;
    case outcome::temp_fail: ++s.totals.temp_fail; break;
    case outcome::perm_fail: ++s.totals.perm_fail; break;
    case outcome::error: ++s.totals.errors; break;
  }
}

void count_failure(shard_state& s, const failure& why) {
  count(s, why.kind == outcome::ok ? outcome::error : why.kind);
  s.shared.failures.note(why.describe());
}

// One of the `connections` concurrent sessions: keeps a session open and sends messages
// back to back until the shared counter runs out, reconnecting after a broken session;
// or, with new_connection_per_message, opens and QUITs one session per message.
task<void> session_loop(shard_state& s, unsigned session) {
  const load_options& o = s.shared.options;
  // The session's own options when it logs in (smtp_client keeps a reference: they live
  // in this frame, as long as the client).
  client_options own = o.client;
  std::string_view from = o.from;
  if (!o.logins.empty()) {
    own.auth = o.logins[session % o.logins.size()];
    if (o.from_login) from = own.auth->user;
  }
  std::unique_ptr<smtp_client> client;
  std::vector<std::string> recipients;
  std::string payload;
  std::string message_id;
  for (;;) {
    const uint64_t index = s.shared.next_message.fetch_add(1, std::memory_order_relaxed);
    if (index >= o.messages) break;
    ++s.totals.messages;
    pick_recipients(s, index, recipients);
    message_id = absl::StrCat("<", o.run_tag, ".", index, "@ringmail-load>");
    payload.clear();
    message_info info = s.shared.messages.render(index, message_id, from, recipients, s.current_date(), payload);
    payload.append(".\r\n");

    clock::time_point start = clock::now();
    if (client == nullptr) {
      open_result opened = co_await smtp_client::open(o.server, own);
      if (opened.client == nullptr) {
        count_failure(s, opened.why);
        continue;
      }
      client = std::move(opened.client);
    }
    if (!o.new_connection_per_message) start = clock::now();

    envelope env{from, recipients, payload.size() - 3, info.eight_bit};  // without the ".\r\n"
    transaction_result r = co_await client->send(env, payload);
    if (r.kind == outcome::ok) {
      auto micros = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count();
      s.totals.latency.record(static_cast<uint64_t>(micros));
      count(s, outcome::ok);
    } else {
      count_failure(s, r.why);
    }
    // Partly accepted messages (some recipients refused) are still in the ledger for the
    // recipients the server took.
    for (bool d : r.delivered) {
      if (d) {
        write_ledger(s, message_id, recipients, r.delivered);
        break;
      }
    }
    if (!r.session_usable) {
      co_await client->close();
      client.reset();
    } else if (o.new_connection_per_message) {
      co_await client->quit();
      client.reset();
    }
  }
  if (client != nullptr) co_await client->quit();
}

// Shard `s.shard` of `shards` runs sessions s.shard, s.shard + shards, ...
task<void> run_shard(shard_state& s, unsigned sessions, unsigned shards) {
  std::vector<task<void>> loops;
  loops.reserve(sessions);
  for (unsigned i = 0; i < sessions; ++i) loops.push_back(session_loop(s, s.shard + i * shards));
  co_await when_all(std::move(loops));
}

// Starts on the shard's thread and frees itself when done; the promise carries the end
// (or a bug's exception) back to run_load.
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

detached launch(shard_state& s, unsigned sessions, unsigned shards, std::promise<void>& done) {
  try {
    co_await run_shard(s, sessions, shards);
    done.set_value();
  } catch (...) {
    done.set_exception(std::current_exception());
  }
}

}  // namespace

std::string ledger_lines(std::string_view message_id, std::span<const std::string> recipients,
                         const std::vector<bool>& delivered) {
  std::string lines;
  for (size_t i = 0; i < recipients.size() && i < delivered.size(); ++i) {
    if (!delivered[i]) continue;
    lines.append(message_id).append(" ").append(recipients[i]).append("\n");
  }
  return lines;
}

absl::StatusOr<load_report> run_load(const load_options& options, const message_source& messages) {
  shard_options so;
  so.shards = options.shards;
  so.pin = options.pin;
  so.offload_threads = 1;
  auto started = shard_set::start(so);
  if (!started.ok()) return started.status();
  std::unique_ptr<shard_set> set = std::move(*started);

  shared_state shared(options, messages);
  std::vector<std::unique_ptr<shard_state>> states;
  std::vector<std::promise<void>> done(set->size());
  std::vector<std::future<void>> finished;
  for (unsigned i = 0; i < set->size(); ++i) {
    states.push_back(std::make_unique<shard_state>(shared, i));
    finished.push_back(done[i].get_future());
  }

  const clock::time_point start = clock::now();
  for (unsigned i = 0; i < set->size(); ++i) {
    // Sessions are dealt out to shards in turn: shard i runs sessions i, i+shards, ...
    unsigned sessions = options.connections / set->size() + (i < options.connections % set->size() ? 1 : 0);
    const unsigned shards = set->size();
    set->run_on(i, [&states, &done, i, sessions, shards] { launch(*states[i], sessions, shards, done[i]); });
  }
  std::exception_ptr bug;
  for (auto& f : finished) {
    try {
      f.get();
    } catch (...) {
      if (!bug) bug = std::current_exception();
    }
  }
  const clock::time_point end = clock::now();
  set->stop();
  set->join();
  if (bug) std::rethrow_exception(bug);

  load_report report;
  for (const auto& s : states) {
    report.messages += s->totals.messages;
    report.ok += s->totals.ok;
    report.temp_fail += s->totals.temp_fail;
    report.perm_fail += s->totals.perm_fail;
    report.errors += s->totals.errors;
    report.ledger_write_errors += s->totals.ledger_write_errors;
    report.latency.merge(s->totals.latency);
  }
  report.seconds = std::chrono::duration<double>(end - start).count();
  report.failures = shared.failures.take();
  return report;
}

}  // namespace ringmail::load

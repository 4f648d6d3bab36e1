#include "tools/ringmail-load/imap_load.h"

#include <time.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "mail/date.h"
#include "runtime/shard_set.h"
#include "runtime/when_all.h"
#include "tools/ringmail-load/message_source.h"
#include "tools/ringmail-load/failure_samples.h"

namespace ringmail::load {
namespace {

using clock = std::chrono::steady_clock;

constexpr const char* kKindNames[kImapKinds] = {"login",   "select", "fetch_env", "fetch_body", "store",
                                                "search",  "append", "expunge",   "noop",       "logout"};
constexpr const char* kSearches[] = {"SEARCH UNSEEN", "SEARCH FLAGGED", "SEARCH FROM \"alice\"",
                                     "SEARCH SUBJECT \"meeting\""};

int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock::now().time_since_epoch()).count();
}

// Without ASCII whitespace at either end (Debian's abseil takes its own string_view type).
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool mixable(imap_kind k) { return k != imap_kind::login && k != imap_kind::select && k != imap_kind::logout; }


struct shared_state {
  explicit shared_state(const imap_load_options& o) : options(o), deliver_start(o.users.size()) {
    plain = o.client;
    tls = o.client;
    if (tls.tls == client_tls::none) tls.tls = o.has_tls_server ? client_tls::implicit : client_tls::starttls;
    smtp.lmtp = o.deliver_lmtp;
    smtp.timeouts = client_timeouts::uniform(o.client.timeout);
    smtp.helo_name = "load.ringmail.test";
    // One generated message for APPEND, CRLF text (RFC 9051 section 6.3.12 wants CRLF).
    std::string date = mail::format_message_date(static_cast<int64_t>(::time(nullptr)));
    append_message = absl::StrCat("From: Load <load@ringmail.test>\r\nTo: <", o.users.empty() ? "" : o.users[0].name,
                                  ">\r\nSubject: appended by ringmail-load\r\nDate: ", date,
                                  "\r\nMessage-ID: <append.", o.seed, "@ringmail-load>\r\n\r\n",
                                  generate_body(o.append_size, o.seed));
    uint64_t total = 0;
    for (size_t k = 0; k < kImapKinds; ++k) total += o.mix[k];
    mix_total = total;
  }

  const imap_load_options& options;
  imap_client_options plain;
  imap_client_options tls;
  client_options smtp;
  std::string append_message;
  uint64_t mix_total = 0;

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commands{0};  // recorded, all kinds
  std::atomic<uint64_t> errors{0};    // failed commands and sessions
  std::atomic<uint64_t> next_cycle{0};
  // idle
  std::atomic<uint64_t> idle{0};
  std::atomic<uint64_t> idle_failed{0};
  std::atomic<uint64_t> exists_seen{0};
  std::atomic<uint64_t> next_delivery{0};
  std::atomic<uint64_t> deliveries_done{0};
  uint64_t deliveries = 0;
  int64_t deliver_t0 = 0;
  std::vector<std::atomic<int64_t>> deliver_start;  // per user: steady-clock micros, 0 = none
  failure_samples failures;
};

struct shard_state {
  shard_state(shared_state& sh, unsigned id) : shared(sh), shard(id), rng(sh.options.seed * 1000003 + id) {}
  shared_state& shared;
  unsigned shard;
  std::mt19937_64 rng;
  imap_load_report totals;
  cancel_source cancel;
  unsigned opening = 0;  // idle: sessions between connect and IDLE
  unsigned search_turn = 0;
  bool store_add = true;
};

void note_failure(shard_state& s, std::string description) {
  s.shared.errors.fetch_add(1, std::memory_order_relaxed);
  s.shared.failures.note(description);
}

void record(shard_state& s, imap_kind kind, int64_t start, const imap_reply& r) {
  const size_t k = static_cast<size_t>(kind);
  if (r.ok()) {
    ++s.totals.ok[k];
    s.totals.latency[k].record(static_cast<uint64_t>(now_micros() - start));
  } else {
    ++s.totals.failed[k];
    note_failure(s, absl::StrCat("command=", kKindNames[k], " ", r.describe()));
  }
  const uint64_t limit = s.shared.options.commands;
  const uint64_t done = s.shared.commands.fetch_add(1, std::memory_order_relaxed) + 1;
  if (limit > 0 && done >= limit) s.shared.stop.store(true, std::memory_order_relaxed);
}

imap_kind draw(shard_state& s) {
  std::uniform_int_distribution<uint64_t> pick(0, s.shared.mix_total - 1);
  uint64_t x = pick(s.rng);
  for (size_t k = 0; k < kImapKinds; ++k) {
    if (x < s.shared.options.mix[k]) return static_cast<imap_kind>(k);
    x -= s.shared.options.mix[k];
  }
  return imap_kind::noop;
}

uint32_t pick_message(shard_state& s, uint32_t exists) {
  std::uniform_int_distribution<uint32_t> pick(1, exists);
  return pick(s.rng);
}

// Session number i uses TLS if the fraction's running total steps over an integer at i,
// so any prefix of sessions has its share (0.5: every second one).
bool uses_tls(const imap_load_options& o, uint64_t i) {
  if (o.tls_fraction <= 0) return false;
  return std::floor(static_cast<double>(i + 1) * o.tls_fraction) > std::floor(static_cast<double>(i) * o.tls_fraction);
}

struct session {
  std::unique_ptr<imap_client> client;
  bool tls = false;
};

// Connects session number `i` as user `user`, logs in and selects the mailbox, timing
// LOGIN and SELECT. Null client on any failure (counted).
task<session> open_session(shard_state& s, uint64_t i, size_t user) {
  const imap_load_options& o = s.shared.options;
  session out;
  const bool tls = uses_tls(o, i);
  const imap_client_options& copts = tls ? s.shared.tls : s.shared.plain;
  const socket_address& server = tls && o.has_tls_server ? o.tls_server : o.server;
  const socket_address* source = o.sources.empty() ? nullptr : &o.sources[i % o.sources.size()];
  imap_open_result opened = co_await imap_client::open(server, copts, source, &s.cancel);
  if (opened.client == nullptr) {
    ++s.totals.session_errors;
    if (!s.shared.stop.load(std::memory_order_relaxed)) {
      note_failure(s, absl::StrCat("stage=", opened.stage, " ", opened.why.describe()));
    }
    co_return out;
  }
  std::unique_ptr<imap_client> client = std::move(opened.client);
  const imap_user& u = o.users[user];
  int64_t start = now_micros();
  imap_reply r = co_await client->login(u.name, u.password);
  record(s, imap_kind::login, start, r);
  if (r.ok()) {
    start = now_micros();
    r = co_await client->command(absl::StrCat("SELECT ", imap_quote(o.mailbox)));
    record(s, imap_kind::select, start, r);
  }
  if (!r.ok()) {
    ++s.totals.session_errors;
    co_await client->close();
    co_return out;
  }
  out.client = std::move(client);
  out.tls = tls || copts.tls != client_tls::none;
  co_return out;
}

// One command of kind `kind` (or, in an empty mailbox, an APPEND in place of commands
// that need a message), timed and recorded. Returns whether the session is still usable.
task<bool> run_command(shard_state& s, imap_client& c, imap_kind kind) {
  const imap_load_options& o = s.shared.options;
  const uint32_t n = c.exists();
  if (n == 0 && (kind == imap_kind::fetch_env || kind == imap_kind::fetch_body || kind == imap_kind::store ||
                 kind == imap_kind::expunge)) {
    kind = imap_kind::append;
  }
  const int64_t start = now_micros();
  imap_reply r;
  switch (kind) {
    case imap_kind::fetch_env: {
      const uint32_t count = o.fetch_env_count == 0 ? 1 : o.fetch_env_count;
      const uint32_t first = n > count ? pick_message(s, n - count + 1) : 1;
      const uint32_t last = std::min<uint32_t>(n, first + count - 1);
      r = co_await c.command(absl::StrCat("FETCH ", first, ":", last, " (UID FLAGS ENVELOPE)"));
      break;
    }
    case imap_kind::fetch_body:
      r = co_await c.command(absl::StrCat("FETCH ", pick_message(s, n), " BODY.PEEK[]"));
      break;
    case imap_kind::store:
      r = co_await c.command(
          absl::StrCat("STORE ", pick_message(s, n), s.store_add ? " +FLAGS (\\Flagged)" : " -FLAGS (\\Flagged)"));
      s.store_add = !s.store_add;
      break;
    case imap_kind::search:
      r = co_await c.command(kSearches[s.search_turn++ % std::size(kSearches)]);
      break;
    case imap_kind::append:
      r = co_await c.append(o.mailbox, "(\\Seen)", s.shared.append_message);
      break;
    case imap_kind::expunge:
      r = co_await c.command(absl::StrCat("STORE ", pick_message(s, n), " +FLAGS.SILENT (\\Deleted)"));
      if (r.ok()) r = co_await c.command("EXPUNGE");
      break;
    case imap_kind::noop:
    case imap_kind::login:
    case imap_kind::select:
    case imap_kind::logout:
      r = co_await c.command("NOOP");
      kind = imap_kind::noop;
      break;
  }
  record(s, kind, start, r);
  co_return r.usable();
}

task<void> timed_logout(shard_state& s, imap_client& c) {
  const int64_t start = now_micros();
  co_await c.logout();
  imap_reply ok;
  ok.status = imap_status::ok;
  record(s, imap_kind::logout, start, ok);
}

// A long-lived session, reconnecting after a broken one, until the run stops.
task<void> session_loop(shard_state& s, uint64_t index) {
  const imap_load_options& o = s.shared.options;
  while (!s.shared.stop.load(std::memory_order_relaxed)) {
    session sess = co_await open_session(s, index, index % o.users.size());
    if (sess.client == nullptr) {
      co_await sleep_for(std::chrono::milliseconds(100));  // do not spin on a refusing server
      continue;
    }
    bool usable = true;
    while (usable && !s.shared.stop.load(std::memory_order_relaxed)) {
      usable = co_await run_command(s, *sess.client, draw(s));
    }
    if (usable) {
      co_await timed_logout(s, *sess.client);
    } else {
      ++s.totals.session_errors;
      co_await sess.client->close();
    }
  }
}

// The login-select-commands-logout cycle, users taken in turn across all workers.
task<void> cycle_loop(shard_state& s) {
  const imap_load_options& o = s.shared.options;
  while (!s.shared.stop.load(std::memory_order_relaxed)) {
    const uint64_t c = s.shared.next_cycle.fetch_add(1, std::memory_order_relaxed);
    session sess = co_await open_session(s, c, c % o.users.size());
    if (sess.client == nullptr) {
      co_await sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    bool usable = true;
    for (unsigned j = 0; usable && j < o.cycle_commands && !s.shared.stop.load(std::memory_order_relaxed); ++j) {
      usable = co_await run_command(s, *sess.client, draw(s));
    }
    if (usable) {
      co_await timed_logout(s, *sess.client);
      ++s.totals.cycles;
    } else {
      ++s.totals.session_errors;
      co_await sess.client->close();
    }
  }
}

// Logs in, selects, IDLEs, then waits for EXISTS until the run cancels the shard.
task<void> idle_session(shard_state& s, uint64_t index) {
  const imap_load_options& o = s.shared.options;
  while (s.opening >= o.connect_concurrency && !s.shared.stop.load(std::memory_order_relaxed)) {
    co_await sleep_for(std::chrono::milliseconds(5));
  }
  if (s.shared.stop.load(std::memory_order_relaxed)) co_return;
  ++s.opening;
  const size_t user = index % o.users.size();
  session sess = co_await open_session(s, index, user);
  imap_reply r;
  if (sess.client != nullptr) r = co_await sess.client->idle();
  --s.opening;
  if (sess.client == nullptr || !r.ok()) {
    s.shared.idle_failed.fetch_add(1, std::memory_order_relaxed);
    if (sess.client != nullptr) {
      note_failure(s, absl::StrCat("command=idle ", r.describe()));
      co_await sess.client->close();
    }
    co_return;
  }
  ++s.totals.idle_sessions;
  if (sess.tls) ++s.totals.idle_tls;
  s.shared.idle.fetch_add(1, std::memory_order_relaxed);
  bool told = false;
  for (;;) {
    // The wait ends by cancellation at the end of the run (or by a server's autologout).
    auto got = co_await sess.client->wait_exists(std::chrono::hours(24));
    if (!got.ok()) {
      if (got.status().kind != io_kind::cancelled) {
        ++s.totals.session_errors;
        note_failure(s, absl::StrCat("stage=idle error: ", got.status().to_string()));
      }
      break;
    }
    const int64_t at = now_micros();
    const int64_t start = s.shared.deliver_start[user].load(std::memory_order_acquire);
    if (start == 0) {
      ++s.totals.exists_unexpected;
    } else if (!told) {
      told = true;
      const int64_t delay = at > start ? at - start : 0;
      s.totals.exists_delay.record(static_cast<uint64_t>(delay));
      if (delay > 1000000) ++s.totals.exists_late;
      s.shared.exists_seen.fetch_add(1, std::memory_order_relaxed);
    }
  }
  co_await sess.client->close();
}

// One delivery connection: takes the next mailbox and delivers one message to it,
// noting when the delivery started, at deliver_rate per second over all connections.
task<void> deliver_loop(shard_state& s, const message_source& messages) {
  shared_state& sh = s.shared;
  const imap_load_options& o = sh.options;
  std::unique_ptr<smtp_client> client;
  std::string payload;
  std::vector<std::string> rcpt(1);
  for (;;) {
    const uint64_t u = sh.next_delivery.fetch_add(1, std::memory_order_relaxed);
    if (u >= sh.deliveries || sh.stop.load(std::memory_order_relaxed)) break;
    if (o.deliver_rate > 0) {
      const int64_t due = sh.deliver_t0 + static_cast<int64_t>(static_cast<double>(u) * 1e6 / o.deliver_rate);
      const int64_t wait = due - now_micros();
      if (wait > 1000) co_await sleep_for(std::chrono::milliseconds(wait / 1000));
    }
    if (client == nullptr) {
      open_result opened = co_await smtp_client::open(o.deliver_server, sh.smtp);
      if (opened.client == nullptr) {
        ++s.totals.deliveries_failed;
        note_failure(s, absl::StrCat("delivery ", opened.why.describe()));
        sh.deliveries_done.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      client = std::move(opened.client);
    }
    rcpt[0] = o.users[u].name;
    payload.clear();
    const std::string id = absl::StrCat("<idle.", u, ".", o.seed, "@ringmail-load>");
    message_info info =
        messages.render(u, id, o.deliver_from, rcpt, mail::format_message_date(static_cast<int64_t>(::time(nullptr))), payload);
    payload.append(".\r\n");
    sh.deliver_start[u].store(now_micros(), std::memory_order_release);
    envelope env{o.deliver_from, rcpt, payload.size() - 3, info.eight_bit};
    transaction_result r = co_await client->send(env, payload);
    if (r.kind == outcome::ok) {
      ++s.totals.deliveries_ok;
    } else {
      ++s.totals.deliveries_failed;
      note_failure(s, absl::StrCat("delivery ", r.why.describe()));
    }
    sh.deliveries_done.fetch_add(1, std::memory_order_relaxed);
    if (!r.session_usable) {
      co_await client->close();
      client.reset();
    }
  }
  if (client != nullptr) co_await client->quit();
}

// Starts on the shard's thread and frees itself when done; the promise carries the end
// (or a bug's exception) back to the main thread.
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

detached launch(std::vector<task<void>> tasks, std::promise<void>& done) {
  try {
    co_await when_all(std::move(tasks));
    done.set_value();
  } catch (...) {
    done.set_exception(std::current_exception());
  }
}

// Waits for every future, rethrowing the first bug.
void wait_all(std::vector<std::future<void>>& futures) {
  std::exception_ptr bug;
  for (auto& f : futures) {
    try {
      f.get();
    } catch (...) {
      if (!bug) bug = std::current_exception();
    }
  }
  if (bug) std::rethrow_exception(bug);
}

bool all_ready(std::vector<std::future<void>>& futures) {
  for (auto& f : futures) {
    if (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
  }
  return true;
}

double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

}  // namespace

const char* imap_kind_name(imap_kind k) { return kKindNames[static_cast<size_t>(k)]; }

uint64_t imap_load_report::total_ok() const {
  uint64_t t = 0;
  for (uint64_t v : ok) t += v;
  return t;
}

uint64_t imap_load_report::total_failed() const {
  uint64_t t = 0;
  for (uint64_t v : failed) t += v;
  return t;
}

absl::StatusOr<imap_mix> parse_imap_mix(std::string_view text) {
  imap_mix mix{};
  uint64_t total = 0;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;
    size_t colon = item.find(':');
    std::string_view name = trim(item.substr(0, colon));
    uint32_t weight = 1;
    if (colon != std::string_view::npos) {
      std::string_view digits = trim(item.substr(colon + 1));
      uint64_t w = 0;
      bool good = !digits.empty() && digits.size() <= 9;
      for (char c : digits) {
        good = good && c >= '0' && c <= '9';
        w = w * 10 + static_cast<uint64_t>(c - '0');
      }
      if (!good) return absl::InvalidArgumentError(absl::StrCat("--imap_mix: bad weight in '", std::string(item), "'"));
      weight = static_cast<uint32_t>(w);
    }
    bool found = false;
    for (size_t k = 0; k < kImapKinds; ++k) {
      if (name == kKindNames[k] && mixable(static_cast<imap_kind>(k))) {
        mix[k] = weight;
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--imap_mix: unknown kind '", std::string(name), "' (fetch_env, fetch_body, store, search, append, expunge, noop)"));
    }
    total += weight;
  }
  if (total == 0) return absl::InvalidArgumentError("--imap_mix: no command has a weight");
  return mix;
}

std::vector<imap_user> users_from_pattern(std::string_view pattern, unsigned count, std::string_view password) {
  std::vector<imap_user> out;
  size_t at = pattern.find("%d");
  for (unsigned i = 1; i <= count; ++i) {
    std::string name(pattern);
    if (at != std::string_view::npos) name.replace(at, 2, std::to_string(i));
    out.push_back(imap_user{std::move(name), std::string(password)});
  }
  return out;
}

absl::StatusOr<std::vector<imap_user>> read_users_file(const std::string& path, std::string_view default_password) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::vector<imap_user> out;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l = trim(line);
    if (l.empty() || l[0] == '#') continue;
    size_t sep = l.find_first_of(" \t:");
    if (sep == std::string_view::npos) {
      out.push_back(imap_user{std::string(l), std::string(default_password)});
    } else {
      out.push_back(imap_user{std::string(l.substr(0, sep)), std::string(trim(l.substr(sep + 1)))});
    }
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " names no users"));
  return out;
}

absl::StatusOr<imap_load_report> run_imap_load(const imap_load_options& o) {
  if (o.users.empty()) return absl::InvalidArgumentError("no users");
  shard_options so;
  so.shards = o.shards;
  so.pin = o.pin;
  so.offload_threads = 1;
  auto started = shard_set::start(so);
  if (!started.ok()) return started.status();
  std::unique_ptr<shard_set> set = std::move(*started);
  const unsigned shards = set->size();

  shared_state shared(o);
  std::vector<std::unique_ptr<shard_state>> states;
  for (unsigned i = 0; i < shards; ++i) states.push_back(std::make_unique<shard_state>(shared, i));
  std::vector<std::promise<void>> done(shards);
  std::vector<std::future<void>> finished;
  for (auto& p : done) finished.push_back(p.get_future());

  const clock::time_point start = clock::now();
  for (unsigned i = 0; i < shards; ++i) {
    set->run_on(i, [&, i] {
      std::vector<task<void>> loops;
      // Sessions are dealt out to shards in turn: shard i runs sessions i, i+shards, ...
      for (uint64_t k = i; k < o.connections; k += shards) {
        switch (o.shape) {
          case imap_shape::sessions: loops.push_back(session_loop(*states[i], k)); break;
          case imap_shape::cycle: loops.push_back(cycle_loop(*states[i])); break;
          case imap_shape::idle: loops.push_back(idle_session(*states[i], k)); break;
        }
      }
      launch(std::move(loops), done[i]);
    });
  }

  auto progress = [&](const char* phase) {
    if (!o.progress) return;
    const double t = seconds_since(start);
    if (o.shape == imap_shape::idle) {
      std::fprintf(stderr,
                   "ringmail-load: t=%.0fs %s idle=%llu/%u failed=%llu deliveries=%llu/%llu exists=%llu errors=%llu\n",
                   t, phase, static_cast<unsigned long long>(shared.idle.load()), o.connections,
                   static_cast<unsigned long long>(shared.idle_failed.load()),
                   static_cast<unsigned long long>(shared.deliveries_done.load()),
                   static_cast<unsigned long long>(shared.deliveries),
                   static_cast<unsigned long long>(shared.exists_seen.load()),
                   static_cast<unsigned long long>(shared.errors.load()));
    } else {
      const uint64_t c = shared.commands.load();
      std::fprintf(stderr, "ringmail-load: t=%.0fs commands=%llu (%.0f/s) errors=%llu\n", t,
                   static_cast<unsigned long long>(c), t > 0 ? static_cast<double>(c) / t : 0.0,
                   static_cast<unsigned long long>(shared.errors.load()));
    }
  };
  // Sleeps up to `seconds` in steps of one second (printing progress), or until `until` holds.
  auto wait = [&](double seconds, const char* phase, auto until) {
    const clock::time_point from = clock::now();
    clock::time_point next = from + std::chrono::seconds(1);
    while (seconds_since(from) < seconds && !until()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (clock::now() >= next) {
        progress(phase);
        next += std::chrono::seconds(1);
      }
    }
  };

  double setup_seconds = 0;
  std::vector<std::promise<void>> deliver_done;
  std::vector<std::future<void>> deliver_finished;
  std::unique_ptr<message_source> messages;
  if (o.shape != imap_shape::idle) {
    wait(o.duration_seconds, "run", [&] { return shared.stop.load() || all_ready(finished); });
    shared.stop.store(true);
  } else {
    wait(o.idle_setup_seconds, "setup",
         [&] { return shared.idle.load() + shared.idle_failed.load() >= o.connections || all_ready(finished); });
    setup_seconds = seconds_since(start);
    std::fprintf(stderr, "ringmail-load: idle_ready sessions=%llu failed=%llu setup_seconds=%.1f\n",
                 static_cast<unsigned long long>(shared.idle.load()),
                 static_cast<unsigned long long>(shared.idle_failed.load()), setup_seconds);
    if (!o.ready_file.empty()) {
      std::ofstream(o.ready_file) << "sessions=" << shared.idle.load() << "\n";
    }
    if (o.idle_hold_seconds > 0) wait(o.idle_hold_seconds, "hold", [] { return false; });
    if (o.has_deliver_server) {
      // One delivery per mailbox that has a session: sessions use users 0 .. connections-1.
      shared.deliveries = std::min<uint64_t>(o.users.size(), o.connections);
      shared.deliver_t0 = now_micros();
      messages = std::make_unique<message_source>(message_source::generated(1024, o.seed));
      deliver_done = std::vector<std::promise<void>>(shards);
      for (auto& p : deliver_done) deliver_finished.push_back(p.get_future());
      for (unsigned i = 0; i < shards; ++i) {
        set->run_on(i, [&, i] {
          std::vector<task<void>> loops;
          for (uint64_t k = i; k < std::max(1u, o.deliver_connections); k += shards) {
            loops.push_back(deliver_loop(*states[i], *messages));
          }
          launch(std::move(loops), deliver_done[i]);
        });
      }
      wait(1e9, "deliver", [&] { return all_ready(deliver_finished); });
      wait(o.idle_wait_seconds, "wait", [&] { return shared.exists_seen.load() >= shared.idle.load(); });
    } else {
      wait(o.duration_seconds, "idle", [&] { return all_ready(finished); });
    }
    shared.stop.store(true);
    for (unsigned i = 0; i < shards; ++i) {
      set->run_on(i, [&, i] { states[i]->cancel.request_cancel(); });
    }
  }
  std::exception_ptr bug;
  try {
    wait_all(finished);
    wait_all(deliver_finished);
  } catch (...) {
    bug = std::current_exception();
  }
  const double seconds = seconds_since(start);
  set->stop();
  set->join();
  if (bug) std::rethrow_exception(bug);

  imap_load_report report;
  for (const auto& s : states) {
    const imap_load_report& t = s->totals;
    for (size_t k = 0; k < kImapKinds; ++k) {
      report.ok[k] += t.ok[k];
      report.failed[k] += t.failed[k];
      report.latency[k].merge(t.latency[k]);
    }
    report.session_errors += t.session_errors;
    report.cycles += t.cycles;
    report.idle_sessions += t.idle_sessions;
    report.idle_tls += t.idle_tls;
    report.deliveries_ok += t.deliveries_ok;
    report.deliveries_failed += t.deliveries_failed;
    report.exists_unexpected += t.exists_unexpected;
    report.exists_delay.merge(t.exists_delay);
    report.exists_late += t.exists_late;
  }
  report.seconds = seconds;
  report.idle_setup_seconds = setup_seconds;
  report.exists_seen = shared.exists_seen.load();
  report.idle_failed = shared.idle_failed.load();
  report.exists_expected = o.has_deliver_server ? report.idle_sessions : 0;
  report.failures = shared.failures.take();
  return report;
}

}  // namespace ringmail::load

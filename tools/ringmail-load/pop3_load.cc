#include "tools/ringmail-load/pop3_load.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <future>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "runtime/reactor.h"
#include "runtime/shard_set.h"
#include "runtime/when_all.h"
#include "tools/ringmail-load/failure_samples.h"

namespace ringmail::load {
namespace {

using clock = std::chrono::steady_clock;

int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock::now().time_since_epoch()).count();
}

double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

struct shared_state {
  explicit shared_state(const pop3_load_options& o) : options(o) {}
  const pop3_load_options& options;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sessions{0};  // progress only
  std::atomic<uint64_t> messages{0};  // progress only
  std::atomic<uint64_t> errors{0};    // progress only
  failure_samples failures;
};

struct shard_state {
  explicit shard_state(shared_state& sh) : shared(sh) {}
  shared_state& shared;
  pop3_load_report totals;
};

// One maildrop as STAT, LIST and UIDL describe it.
struct maildrop {
  uint64_t count = 0;
  uint64_t octets = 0;
  std::vector<uint64_t> sizes;  // LIST, index n - 1
};

// The outcome of one session: empty when it ended with QUIT's +OK, else what went wrong.
struct session_failure {
  std::string what;
  bool size_mismatch = false;
};

// STAT, LIST, UIDL, cross-checked. Empty string when consistent.
task<std::string> read_maildrop(pop3_client& c, maildrop& m) {
  pop3_reply r = co_await c.command("STAT");
  if (!r.ok()) co_return absl::StrCat("command=STAT ", r.describe());
  // RFC 1939 section 5: "+OK nn mm", then optional text.
  const std::string_view text = r.text;
  const size_t sp = text.find(' ');
  auto count = parse_decimal(text.substr(0, sp));
  auto octets = sp == std::string_view::npos ? std::nullopt : parse_decimal(text.substr(sp + 1, text.find(' ', sp + 1) - sp - 1));
  if (!count || !octets) co_return absl::StrCat("command=STAT unparsable: +OK ", r.text);
  m.count = *count;
  m.octets = *octets;

  r = co_await c.command("LIST");
  if (!r.ok()) co_return absl::StrCat("command=LIST ", r.describe());
  std::vector<std::string> lines;
  if (io_status st = co_await c.read_lines(lines); !st.ok()) co_return absl::StrCat("command=LIST error: ", st.to_string());
  if (lines.size() != m.count) co_return absl::StrCat("LIST has ", lines.size(), " lines, STAT said ", m.count);
  m.sizes.clear();
  uint64_t sum = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto item = parse_numbered_line(lines[i]);
    auto size = item ? parse_decimal(item->rest) : std::nullopt;
    if (!size || item->number != i + 1) co_return absl::StrCat("LIST line ", i + 1, " unparsable: ", lines[i]);
    m.sizes.push_back(*size);
    sum += *size;
  }
  if (sum != m.octets) co_return absl::StrCat("LIST sizes sum to ", sum, ", STAT said ", m.octets, " octets");

  r = co_await c.command("UIDL");
  if (!r.ok()) co_return absl::StrCat("command=UIDL ", r.describe());
  if (io_status st = co_await c.read_lines(lines); !st.ok()) co_return absl::StrCat("command=UIDL error: ", st.to_string());
  if (lines.size() != m.count) co_return absl::StrCat("UIDL has ", lines.size(), " lines, STAT said ", m.count);
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto item = parse_numbered_line(lines[i]);
    if (!item || item->number != i + 1 || item->rest.size() > 70) {
      co_return absl::StrCat("UIDL line ", i + 1, " unparsable: ", lines[i]);
    }
    // RFC 1939 section 7: unique-ids are unique within the maildrop.
    if (!seen.emplace(item->rest).second) co_return absl::StrCat("UIDL repeats ", std::string(item->rest));
  }
  co_return std::string();
}

// Reads RETR n's reply and body and checks its size. Empty string when right.
task<session_failure> read_retr(shard_state& s, pop3_client& c, const maildrop& m, uint64_t n) {
  pop3_reply r = co_await c.read_status();
  if (!r.ok()) co_return session_failure{absl::StrCat("command=RETR ", r.describe())};
  auto body = co_await c.read_body();
  if (!body.ok()) co_return session_failure{absl::StrCat("command=RETR body error: ", body.status().to_string())};
  const uint64_t want = m.sizes[n - 1];
  // A message whose last line has no line end arrives with one CRLF more than LIST
  // counts: the server must end the line before the ".CRLF" (RFC 1939 section 3). Dovecot
  // 2.3 and ringmail both do so; the client cannot tell those two octets from the message.
  if (*body == want + 2) {
    ++s.totals.final_crlf_added;
  } else if (*body != want) {
    co_return session_failure{absl::StrCat("RETR ", n, " delivered ", *body, " octets, LIST said ", want), true};
  }
  // "+OK 1234 octets" (RFC 1939 section 7's example; Dovecot and ringmail say it).
  const size_t sp = r.text.find(' ');
  if (sp != std::string::npos && std::string_view(r.text).substr(sp + 1).starts_with("octets")) {
    auto said = parse_decimal(std::string_view(r.text).substr(0, sp));
    if (said && *said != want) {
      co_return session_failure{absl::StrCat("RETR ", n, " +OK said ", *said, " octets, LIST said ", want), true};
    }
  }
  ++s.totals.messages;
  s.totals.bytes += *body;
  s.shared.messages.fetch_add(1, std::memory_order_relaxed);
  co_return session_failure{};
}

// RETR 1 .. RETR n, pipelined (a window of kPipelineWindow commands ahead) or one by one.
task<session_failure> retrieve_all(shard_state& s, pop3_client& c, const maildrop& m, bool pipelined) {
  const unsigned window = pipelined ? kPipelineWindow : 1;
  std::string batch;
  uint64_t sent = 0;
  for (uint64_t read = 0; read < m.count; ++read) {
    // Refill once half the window has been answered, in one write.
    if (sent < m.count && sent - read <= window / 2) {
      batch.clear();
      while (sent < m.count && sent - read < window) absl::StrAppend(&batch, "RETR ", ++sent, "\r\n");
      if (io_status st = co_await c.send(batch); !st.ok()) {
        co_return session_failure{absl::StrCat("command=RETR error: ", st.to_string())};
      }
    }
    session_failure f = co_await read_retr(s, c, m, read + 1);
    if (!f.what.empty()) co_return f;
  }
  co_return session_failure{};
}

// Login, STAT/LIST/UIDL and every RETR of one session. Empty `what` when all went right.
task<session_failure> converse(shard_state& s, pop3_client& c, const imap_user& user, bool pipelining) {
  const int64_t t1 = now_micros();
  pop3_reply r = co_await c.login(user.name, user.password);
  if (!r.ok()) co_return session_failure{absl::StrCat("stage=login user=", user.name, " ", r.describe())};
  s.totals.login.record(static_cast<uint64_t>(now_micros() - t1));
  maildrop m;
  std::string bad = co_await read_maildrop(c, m);
  if (!bad.empty()) co_return session_failure{std::move(bad)};
  session_failure f = co_await retrieve_all(s, c, m, pipelining);
  co_return f;
}

// One whole session as `user`. Returns the failure, or empty `what` after QUIT's +OK.
// (No co_await inside an expression that builds temporaries: GCC has destroyed such
// temporaries twice in coroutines.)
task<session_failure> run_session(shard_state& s, const imap_user& user) {
  const pop3_load_options& o = s.shared.options;
  const int64_t t0 = now_micros();
  pop3_open_result opened = co_await pop3_client::open(o.server, o.client);
  if (opened.client == nullptr) co_return session_failure{absl::StrCat("stage=", opened.stage, " ", opened.why.describe())};
  std::unique_ptr<pop3_client> c = std::move(opened.client);
  const bool pipelined = o.pipelining && c->capabilities().pipelining;
  session_failure f = co_await converse(s, *c, user, pipelined);
  if (!f.what.empty()) {
    co_await c->close();
    co_return f;
  }
  pop3_reply r = co_await c->quit();
  if (!r.ok()) co_return session_failure{absl::StrCat("command=QUIT ", r.describe())};
  s.totals.session.record(static_cast<uint64_t>(now_micros() - t0));
  ++s.totals.sessions;
  if (pipelined) ++s.totals.pipelined_sessions;
  s.shared.sessions.fetch_add(1, std::memory_order_relaxed);
  co_return session_failure{};
}

// Worker w: sessions as users w, w + connections, ... in turn until the run stops. With
// --sessions N, worker w runs sessions w, w + connections, ... below N, so which users are
// fetched how often does not depend on timing.
task<void> worker(shard_state& s, unsigned w) {
  const pop3_load_options& o = s.shared.options;
  size_t user = w;
  for (uint64_t n = w; o.sessions == 0 || n < o.sessions; n += o.connections) {
    if (s.shared.stop.load(std::memory_order_relaxed)) break;
    session_failure f = co_await run_session(s, o.users[user]);
    user += o.connections;
    if (user >= o.users.size()) user = w;
    if (f.what.empty()) continue;
    ++s.totals.failed_sessions;
    if (f.size_mismatch) ++s.totals.size_mismatches;
    s.shared.errors.fetch_add(1, std::memory_order_relaxed);
    s.shared.failures.note(f.what);
    co_await sleep_for(std::chrono::milliseconds(20));  // do not spin on a refusing server
  }
}

task<void> run_shard(shard_state& s, unsigned shard, unsigned shards) {
  std::vector<task<void>> workers;
  for (unsigned w = shard; w < s.shared.options.connections; w += shards) workers.push_back(worker(s, w));
  co_await when_all(std::move(workers));
}

}  // namespace

absl::StatusOr<pop3_load_report> run_pop3_load(const pop3_load_options& o) {
  if (o.users.size() < o.connections) {
    return absl::InvalidArgumentError(absl::StrCat(
        "POP3 allows one session per maildrop at a time: --connections=", o.connections, " needs at least as many users (have ",
        o.users.size(), ")"));
  }
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
  for (unsigned i = 0; i < shards; ++i) states.push_back(std::make_unique<shard_state>(shared));
  const clock::time_point start = clock::now();
  std::vector<std::future<void>> finished;
  for (unsigned i = 0; i < shards; ++i) {
    shard_state* s = states[i].get();
    finished.push_back(std::async(std::launch::async, [&set, s, i, shards] {
      block_on_shard(*set, i, [s, i, shards] { return run_shard(*s, i, shards); });
    }));
  }
  auto all_done = [&] {
    for (auto& f : finished) {
      if (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
    }
    return true;
  };
  clock::time_point next = start + std::chrono::seconds(1);
  while (!all_done()) {
    if (seconds_since(start) >= o.duration_seconds) shared.stop.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (o.progress && clock::now() >= next) {
      const double t = seconds_since(start);
      const uint64_t msgs = shared.messages.load();
      std::fprintf(stderr, "ringmail-load: t=%.0fs sessions=%llu messages=%llu (%.0f/s) errors=%llu\n", t,
                   static_cast<unsigned long long>(shared.sessions.load()), static_cast<unsigned long long>(msgs),
                   t > 0 ? static_cast<double>(msgs) / t : 0.0, static_cast<unsigned long long>(shared.errors.load()));
      next += std::chrono::seconds(1);
    }
  }
  std::exception_ptr bug;
  for (auto& f : finished) {
    try {
      f.get();
    } catch (...) {
      if (!bug) bug = std::current_exception();
    }
  }
  const double seconds = seconds_since(start);
  set->stop();
  set->join();
  if (bug) std::rethrow_exception(bug);

  pop3_load_report report;
  for (const auto& s : states) {
    const pop3_load_report& t = s->totals;
    report.sessions += t.sessions;
    report.pipelined_sessions += t.pipelined_sessions;
    report.messages += t.messages;
    report.bytes += t.bytes;
    report.failed_sessions += t.failed_sessions;
    report.size_mismatches += t.size_mismatches;
    report.final_crlf_added += t.final_crlf_added;
    report.login.merge(t.login);
    report.session.merge(t.session);
  }
  report.seconds = seconds;
  report.failures = shared.failures.take();
  return report;
}

}  // namespace ringmail::load

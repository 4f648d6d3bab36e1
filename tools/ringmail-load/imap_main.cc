// `ringmail-load --mode=imap`: the IMAP flags, and the report (imap_load.h does the work).
//
//   ringmail-load --mode=imap --port=1143 --connections=10 --users=200 --password=pw \
//       --imap_mix=fetch_env:40,fetch_body:20,store:15,search:10,append:5,expunge:5,noop:5 --duration=20s
//   ringmail-load --mode=imap --imap_cycle --imap_mix=fetch_env:1,fetch_body:1,store:1 ...
//   ringmail-load --mode=imap --imap_idle --connections=10000 --tls_fraction=0.5 --tls_port=1993 \
//       --source_addresses=127.0.0.2,127.0.0.3 --deliver_port=2424 --deliver_lmtp
//
// Prints, on stderr, progress every second and a table by command kind; on stdout one
// key=value summary line. Exits 0 only if no command or session failed (and, with
// --imap_idle and deliveries, every idle session was told of its delivery).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "runtime/net.h"
#include "runtime/tls_context.h"
#include "tools/ringmail-load/imap_load.h"

ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(uint16_t, port);
ABSL_DECLARE_FLAG(uint32_t, connections);
ABSL_DECLARE_FLAG(uint32_t, shards);
ABSL_DECLARE_FLAG(bool, pin);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(bool, starttls);
ABSL_DECLARE_FLAG(bool, lmtp);
ABSL_DECLARE_FLAG(std::string, from);

ABSL_FLAG(std::string, users_file, "", "IMAP: file of users, 'address password' (or address:password) a line");
ABSL_FLAG(std::string, user_pattern, "user%d@example.test", "IMAP: user names, %d = 1..--users (without --users_file)");
ABSL_FLAG(uint32_t, users, 100, "IMAP: how many users --user_pattern makes");
ABSL_FLAG(std::string, password, "pw", "IMAP: password for --user_pattern users (and users_file lines without one)");
ABSL_FLAG(std::string, imap_mix, "fetch_env:40,fetch_body:20,store:15,search:10,append:5,expunge:5,noop:5",
          "IMAP: command kinds and weights (fetch_env, fetch_body, store, search, append, expunge, noop)");
ABSL_FLAG(bool, imap_cycle, false, "IMAP: connect, log in, SELECT, --imap_cycle_commands commands, LOGOUT, again");
ABSL_FLAG(uint32_t, imap_cycle_commands, 3, "IMAP: commands from the mix per cycle");
ABSL_FLAG(bool, imap_idle, false, "IMAP: hold --connections sessions in IDLE and time EXISTS after deliveries");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "IMAP: run this long (idle without --deliver_port: hold this long)");
ABSL_FLAG(uint64_t, commands, 0, "IMAP: stop after this many commands (0: only --duration)");
ABSL_FLAG(std::string, tls, "none", "IMAP: none, starttls or implicit, for every session");
ABSL_FLAG(double, tls_fraction, 0, "IMAP: share of sessions over TLS (implicit to --tls_port if set, else STARTTLS)");
ABSL_FLAG(uint16_t, tls_port, 0, "IMAP: implicit-TLS (IMAPS) port for the --tls_fraction sessions");
ABSL_FLAG(std::vector<std::string>, source_addresses, {}, "IMAP: local addresses to connect from, in turn");
ABSL_FLAG(std::string, imap_auth, "login", "IMAP: login (LOGIN) or plain (AUTHENTICATE PLAIN)");
ABSL_FLAG(std::string, mailbox, "INBOX", "IMAP: mailbox to SELECT and APPEND to");
ABSL_FLAG(uint32_t, fetch_env_count, 20, "IMAP: messages per fetch_env command");
ABSL_FLAG(uint64_t, append_size, 2048, "IMAP: body bytes of APPENDed messages");
ABSL_FLAG(bool, progress, true, "Print progress on stderr every second");
ABSL_FLAG(uint32_t, connect_concurrency, 200, "IMAP idle: sessions opening at once per client shard");
ABSL_FLAG(absl::Duration, idle_setup_timeout, absl::Minutes(10), "IMAP idle: longest wait for every session to be idle");
ABSL_FLAG(std::string, ready_file, "", "IMAP idle: write 'sessions=N' here once every session is idle");
ABSL_FLAG(absl::Duration, idle_hold, absl::ZeroDuration(), "IMAP idle: wait this long after ready before delivering");
ABSL_FLAG(std::string, deliver_host, "", "IMAP idle: SMTP/LMTP server for the deliveries (default --host)");
ABSL_FLAG(uint16_t, deliver_port, 0, "IMAP idle: SMTP (LMTP with --lmtp) port; 0 = no deliveries");
ABSL_FLAG(uint32_t, deliver_connections, 4, "IMAP idle: delivery sessions");
ABSL_FLAG(double, deliver_rate, 0, "IMAP idle: deliveries per second (0 = as fast as accepted)");
ABSL_FLAG(absl::Duration, idle_wait, absl::Seconds(10), "IMAP idle: after the last delivery, wait this long for EXISTS");

namespace ringmail::load {
namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ringmail-load: %s\n", message.c_str());
  return 2;
}

double ms(uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

void print_report(const imap_load_options& o, const imap_load_report& r) {
  std::string line;
  const char* shape = o.shape == imap_shape::idle ? "idle" : o.shape == imap_shape::cycle ? "cycle" : "sessions";
  latency_histogram all;
  for (const auto& h : r.latency) all.merge(h);
  const uint64_t ok = r.total_ok();
  const uint64_t failed = r.total_failed();
  absl::StrAppend(&line, "mode=imap shape=", shape, " connections=", o.connections,
                  absl::StrFormat(" seconds=%.3f", r.seconds), " commands=", ok + failed, " ok=", ok,
                  " failed=", failed, " session_errors=", r.session_errors);
  if (o.shape != imap_shape::idle) {
    absl::StrAppend(&line, absl::StrFormat(" cmds_per_sec=%.1f p50_ms=%.3f p99_ms=%.3f",
                                           r.seconds > 0 ? static_cast<double>(ok) / r.seconds : 0.0,
                                           ms(all.quantile(0.5)), ms(all.quantile(0.99))));
  }
  if (o.shape == imap_shape::cycle) absl::StrAppend(&line, " cycles=", r.cycles);
  std::fprintf(stderr, "ringmail-load: %-10s %10s %10s %10s %10s %8s\n", "kind", "ok", "per_sec", "p50_ms", "p99_ms",
               "failed");
  for (size_t k = 0; k < kImapKinds; ++k) {
    if (r.ok[k] + r.failed[k] == 0) continue;
    const char* name = imap_kind_name(static_cast<imap_kind>(k));
    const double rate = r.seconds > 0 ? static_cast<double>(r.ok[k]) / r.seconds : 0.0;
    std::fprintf(stderr, "ringmail-load: %-10s %10llu %10.1f %10.3f %10.3f %8llu\n", name,
                 static_cast<unsigned long long>(r.ok[k]), rate, ms(r.latency[k].quantile(0.5)),
                 ms(r.latency[k].quantile(0.99)), static_cast<unsigned long long>(r.failed[k]));
    if (o.shape != imap_shape::idle) {
      absl::StrAppend(&line, " ", name, absl::StrFormat("_per_sec=%.1f ", rate), name,
                      absl::StrFormat("_p50_ms=%.3f ", ms(r.latency[k].quantile(0.5))), name,
                      absl::StrFormat("_p99_ms=%.3f", ms(r.latency[k].quantile(0.99))));
      if (r.failed[k] > 0) absl::StrAppend(&line, " ", name, "_failed=", r.failed[k]);
    }
  }
  if (o.shape == imap_shape::idle) {
    absl::StrAppend(&line, " idle_sessions=", r.idle_sessions, " idle_tls=", r.idle_tls, " idle_failed=", r.idle_failed,
                    absl::StrFormat(" setup_seconds=%.1f", r.idle_setup_seconds), " deliveries_ok=", r.deliveries_ok,
                    " deliveries_failed=", r.deliveries_failed, " exists_seen=", r.exists_seen,
                    " exists_expected=", r.exists_expected, " exists_late_1s=", r.exists_late,
                    " exists_unexpected=", r.exists_unexpected,
                    absl::StrFormat(" exists_p50_ms=%.3f exists_p99_ms=%.3f exists_max_ms=%.3f",
                                    ms(r.exists_delay.quantile(0.5)), ms(r.exists_delay.quantile(0.99)),
                                    ms(r.exists_delay.max())));
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int imap_main(const socket_address& server) {
  imap_load_options o;
  o.server = server;
  o.connections = absl::GetFlag(FLAGS_connections);
  o.shards = absl::GetFlag(FLAGS_shards);
  o.pin = absl::GetFlag(FLAGS_pin);
  o.seed = absl::GetFlag(FLAGS_seed);
  if (o.connections == 0 || o.shards == 0) return usage_error("--connections and --shards must be at least 1");
  if (absl::GetFlag(FLAGS_imap_idle) && absl::GetFlag(FLAGS_imap_cycle)) {
    return usage_error("--imap_idle and --imap_cycle exclude each other");
  }
  o.shape = absl::GetFlag(FLAGS_imap_idle) ? imap_shape::idle
            : absl::GetFlag(FLAGS_imap_cycle) ? imap_shape::cycle
                                              : imap_shape::sessions;

  const std::string users_file = absl::GetFlag(FLAGS_users_file);
  if (!users_file.empty()) {
    auto users = read_users_file(users_file, absl::GetFlag(FLAGS_password));
    if (!users.ok()) return usage_error(std::string(users.status().message()));
    o.users = std::move(*users);
  } else {
    if (absl::GetFlag(FLAGS_users) == 0) return usage_error("--users must be at least 1");
    o.users = users_from_pattern(absl::GetFlag(FLAGS_user_pattern), absl::GetFlag(FLAGS_users),
                                 absl::GetFlag(FLAGS_password));
  }
  auto mix = parse_imap_mix(absl::GetFlag(FLAGS_imap_mix));
  if (!mix.ok()) return usage_error(std::string(mix.status().message()));
  o.mix = *mix;
  o.cycle_commands = absl::GetFlag(FLAGS_imap_cycle_commands);
  o.duration_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_duration));
  o.commands = absl::GetFlag(FLAGS_commands);
  o.mailbox = absl::GetFlag(FLAGS_mailbox);
  o.fetch_env_count = absl::GetFlag(FLAGS_fetch_env_count);
  o.append_size = absl::GetFlag(FLAGS_append_size);
  o.progress = absl::GetFlag(FLAGS_progress);

  auto& c = o.client;
  c.timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_timeout)));
  if (c.timeout.count() <= 0) return usage_error("--timeout must be positive");
  const std::string tls = absl::GetFlag(FLAGS_starttls) ? "starttls" : absl::GetFlag(FLAGS_tls);
  std::optional<client_tls> mode = parse_client_tls(tls);
  if (!mode) return usage_error("--tls must be none, starttls or implicit");
  c.tls = *mode;
  const std::string auth = absl::GetFlag(FLAGS_imap_auth);
  if (auth != "login" && auth != "plain") return usage_error("--imap_auth must be login or plain");
  c.authenticate_plain = auth == "plain";
  o.tls_fraction = absl::GetFlag(FLAGS_tls_fraction);
  if (o.tls_fraction < 0 || o.tls_fraction > 1) return usage_error("--tls_fraction must be within 0..1");
  if (c.tls != client_tls::none || o.tls_fraction > 0) {
    auto ctx = tls::context::make_client(/*verify_peer=*/false);
    if (!ctx.ok()) return usage_error(absl::StrCat("TLS: ", ctx.status().message()));
    c.tls_context = *ctx;
  }
  if (uint16_t p = absl::GetFlag(FLAGS_tls_port); p != 0) {
    auto a = socket_address::parse(server.host(), p);
    if (!a.ok()) return usage_error(std::string(a.status().message()));
    o.tls_server = *a;
    o.has_tls_server = true;
  }
  for (const std::string& s : absl::GetFlag(FLAGS_source_addresses)) {
    auto a = socket_address::parse(s, 0);
    if (!a.ok()) return usage_error(absl::StrCat("--source_addresses: ", a.status().message()));
    o.sources.push_back(*a);
  }

  o.connect_concurrency = std::max(1u, absl::GetFlag(FLAGS_connect_concurrency));
  o.idle_setup_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_idle_setup_timeout));
  o.ready_file = absl::GetFlag(FLAGS_ready_file);
  o.idle_hold_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_idle_hold));
  o.idle_wait_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_idle_wait));
  if (uint16_t p = absl::GetFlag(FLAGS_deliver_port); p != 0) {
    std::string host = absl::GetFlag(FLAGS_deliver_host);
    auto a = socket_address::parse(host.empty() ? server.host() : host, p);
    if (!a.ok()) return usage_error(absl::StrCat("--deliver_host: ", a.status().message()));
    o.deliver_server = *a;
    o.has_deliver_server = true;
  }
  o.deliver_lmtp = absl::GetFlag(FLAGS_lmtp);
  o.deliver_connections = absl::GetFlag(FLAGS_deliver_connections);
  o.deliver_rate = absl::GetFlag(FLAGS_deliver_rate);
  o.deliver_from = absl::GetFlag(FLAGS_from);

  raise_fd_limit();
  std::fprintf(stderr, "ringmail-load: server=%s protocol=imap shape=%s connections=%u shards=%u users=%zu tls=%s%s\n",
               o.server.to_string().c_str(),
               o.shape == imap_shape::idle ? "idle" : o.shape == imap_shape::cycle ? "cycle" : "sessions",
               o.connections, o.shards, o.users.size(), tls.c_str(),
               o.tls_fraction > 0 ? absl::StrFormat(" tls_fraction=%.2f", o.tls_fraction).c_str() : "");
  auto report = run_imap_load(o);
  if (!report.ok()) {
    std::fprintf(stderr, "ringmail-load: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  for (const auto& [description, count] : report->failures) {
    std::fprintf(stderr, "ringmail-load: failure count=%llu %s\n", static_cast<unsigned long long>(count),
                 description.c_str());
  }
  print_report(o, *report);
  bool clean = report->total_failed() == 0 && report->session_errors == 0;
  if (o.shape == imap_shape::idle) {
    clean = clean && report->idle_failed == 0 && report->idle_sessions > 0 && report->deliveries_failed == 0 &&
            report->exists_seen == report->exists_expected;
  } else {
    clean = clean && report->total_ok() > 0;
  }
  return clean ? 0 : 1;
}

}  // namespace ringmail::load

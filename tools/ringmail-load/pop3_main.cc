// `ringmail-load --mode=pop3`: the POP3 flags, and the report (pop3_load.h does the work).
//
//   ringmail-load --mode=pop3 --port=1110 --connections=10 --users=200 --password=pw --duration=20s
//   ringmail-load --mode=pop3 --port=1995 --tls=implicit --users_file=users.txt --sessions=1000 --pipelining
//   ringmail-load --mode=pop3 --port=1110 --tls=starttls --pop3_auth=plain ...
//
// Users, TLS mode, duration and progress are the IMAP mode's flags (imap_main.cc), and
// --pipelining the SMTP mode's (main.cc): declared here, defined there.
//
// Prints progress every second on stderr, then the first few distinct failures; on
// stdout one key=value summary line. Exits 0 only if at least one session completed and
// no session failed (any -ERR, broken stream, inconsistent STAT/LIST/UIDL, or a RETR
// whose size is not its LIST size).
#include <cstdio>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "runtime/net.h"
#include "runtime/tls_context.h"
#include "tools/ringmail-load/pop3_load.h"

ABSL_DECLARE_FLAG(uint32_t, connections);
ABSL_DECLARE_FLAG(uint32_t, shards);
ABSL_DECLARE_FLAG(bool, pin);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(bool, starttls);
ABSL_DECLARE_FLAG(bool, pipelining);
ABSL_DECLARE_FLAG(std::string, users_file);
ABSL_DECLARE_FLAG(std::string, user_pattern);
ABSL_DECLARE_FLAG(uint32_t, users);
ABSL_DECLARE_FLAG(std::string, password);
ABSL_DECLARE_FLAG(absl::Duration, duration);
ABSL_DECLARE_FLAG(std::string, tls);
ABSL_DECLARE_FLAG(bool, progress);

ABSL_FLAG(uint64_t, sessions, 0, "POP3: stop after this many sessions (0: only --duration)");
ABSL_FLAG(std::string, pop3_auth, "user", "POP3: user (USER/PASS) or plain (AUTH PLAIN with initial response)");

namespace ringmail::load {
namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ringmail-load: %s\n", message.c_str());
  return 2;
}

double ms(uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

void print_report(const pop3_load_options& o, const pop3_load_report& r) {
  const double secs = r.seconds > 0 ? r.seconds : 1;
  std::printf("%s\n",
              absl::StrFormat("mode=pop3 connections=%u seconds=%.3f sessions=%llu pipelined_sessions=%llu messages=%llu "
                              "bytes=%llu failed_sessions=%llu size_mismatches=%llu final_crlf_added=%llu msgs_per_sec=%.1f "
                              "sessions_per_sec=%.1f mbytes_per_sec=%.2f login_p50_ms=%.3f login_p99_ms=%.3f "
                              "session_p50_ms=%.3f session_p99_ms=%.3f",
                              o.connections, r.seconds, static_cast<unsigned long long>(r.sessions),
                              static_cast<unsigned long long>(r.pipelined_sessions),
                              static_cast<unsigned long long>(r.messages), static_cast<unsigned long long>(r.bytes),
                              static_cast<unsigned long long>(r.failed_sessions),
                              static_cast<unsigned long long>(r.size_mismatches),
                              static_cast<unsigned long long>(r.final_crlf_added),
                              static_cast<double>(r.messages) / secs, static_cast<double>(r.sessions) / secs,
                              static_cast<double>(r.bytes) / secs / 1e6, ms(r.login.quantile(0.5)),
                              ms(r.login.quantile(0.99)), ms(r.session.quantile(0.5)), ms(r.session.quantile(0.99)))
                  .c_str());
  std::fflush(stdout);
}

}  // namespace

int pop3_main(const socket_address& server) {
  pop3_load_options o;
  o.server = server;
  o.connections = absl::GetFlag(FLAGS_connections);
  o.shards = absl::GetFlag(FLAGS_shards);
  o.pin = absl::GetFlag(FLAGS_pin);
  if (o.connections == 0 || o.shards == 0) return usage_error("--connections and --shards must be at least 1");

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
  if (o.users.size() < o.connections) {
    return usage_error(absl::StrCat("--connections=", o.connections, " but only ", o.users.size(),
                                    " users: POP3 allows one session per maildrop at a time"));
  }
  o.duration_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_duration));
  o.sessions = absl::GetFlag(FLAGS_sessions);
  o.pipelining = absl::GetFlag(FLAGS_pipelining);
  o.progress = absl::GetFlag(FLAGS_progress);

  auto& c = o.client;
  c.timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_timeout)));
  if (c.timeout.count() <= 0) return usage_error("--timeout must be positive");
  const std::string tls = absl::GetFlag(FLAGS_starttls) ? "starttls" : absl::GetFlag(FLAGS_tls);
  std::optional<client_tls> mode = parse_client_tls(tls);
  if (!mode) return usage_error("--tls must be none, starttls or implicit");
  c.tls = *mode;
  const std::string auth = absl::GetFlag(FLAGS_pop3_auth);
  if (auth != "user" && auth != "plain") return usage_error("--pop3_auth must be user or plain");
  c.auth_plain = auth == "plain";
  if (c.tls != client_tls::none) {
    auto ctx = tls::context::make_client(/*verify_peer=*/false);
    if (!ctx.ok()) return usage_error(absl::StrCat("TLS: ", ctx.status().message()));
    c.tls_context = *ctx;
  }

  raise_fd_limit();
  std::fprintf(stderr,
               "ringmail-load: server=%s protocol=pop3 connections=%u shards=%u users=%zu tls=%s auth=%s%s "
               "duration=%.1fs sessions=%llu\n",
               o.server.to_string().c_str(), o.connections, o.shards, o.users.size(), tls.c_str(), auth.c_str(),
               o.pipelining ? " pipelining" : "", o.duration_seconds, static_cast<unsigned long long>(o.sessions));
  auto report = run_pop3_load(o);
  if (!report.ok()) {
    std::fprintf(stderr, "ringmail-load: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  for (const auto& [description, count] : report->failures) {
    std::fprintf(stderr, "ringmail-load: failure count=%llu %s\n", static_cast<unsigned long long>(count),
                 description.c_str());
  }
  print_report(o, *report);
  return report->failed_sessions == 0 && report->sessions > 0 ? 0 : 1;
}

}  // namespace ringmail::load

#include "tools/ringmail/serve.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "delivery/directory/mariadb_url.h"
#include "delivery/directory/open_store.h"
#include "runtime/log.h"
#include "tools/common/directory_flags.h"
#include "tools/ringmail/mail_auth_flags.h"
#include "tools/ringmail/mail_services.h"
#include "runtime/net.h"
#include "runtime/shard_set.h"
#include "runtime/signals.h"
#include "runtime/task_scope.h"
#include "runtime/tcp_service.h"
#include "runtime/when_all.h"
#include "runtime/tls_context.h"
#include "runtime/offload_pool.h"
#include "tools/common/spam_flags.h"
#include <future>

ABSL_FLAG(std::string, data_dir, "./data", "Directory for ringmail's own state (directory database, TLS keys, queue)");
ABSL_FLAG(uint32_t, shards, 0, "Number of shards (threads, one io_uring each); 0 = one per online core");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn, error or off");
ABSL_FLAG(std::string, hostname, "", "Name this server uses for itself (greetings, certificates); default: the system's");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; default <data_dir>/tls/cert.pem, self-signed on first start");
ABSL_FLAG(std::string, tls_key, "", "PEM private key; default <data_dir>/tls/key.pem");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long sessions may run on before they are closed");
ABSL_FLAG(uint32_t, offload_threads, 2, "Threads for blocking or CPU-heavy work (password hashing, rule compiles)");
ABSL_FLAG(uint32_t, recv_buffers, 1024, "Provided receive buffers per shard (power of two)");
ABSL_FLAG(std::string, user, "",
          "When started as root: the account (e.g. vmail) to switch to after the ports are bound; "
          "it must own --data_dir and --mail_root");
ABSL_FLAG(uint32_t, recv_buffer_size, 16384, "Size of one receive buffer in bytes");
ABSL_FLAG(bool, spam_scan, true,
          "Scan incoming SMTP mail with the spam rules and Bayes (--spam_rules, --bayes_db); SIGHUP reloads them");

namespace ringmail::tools {
namespace {

std::string system_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::vector<int> supervised_signals() { return {SIGTERM, SIGINT, SIGHUP}; }

// Kept out of the coroutine: g++ 12 miscompiles some braced lists inside coroutine bodies.
void log_shutdown(int sig, duration grace) {
  log::info("shutdown_requested", {{"signal", sig > 0 ? strsignal(sig) : "error"}, {"grace_ms", grace.count()}});
}

using engine_result = absl::StatusOr<std::shared_ptr<const spam::spam_engine>>;

void log_spam_engine(const char* event, const spam::engine_stats& s) {
  if (!s.bayes_error.empty()) log::warn("bayes_unavailable", {{"reason", s.bayes_error}});
  log::info(event, {{"rules", s.rules.rules},
                    {"hyperscan", s.matcher.hyperscan_patterns},
                    {"pcre", s.matcher.pcre_patterns},
                    {"rejected", s.matcher.rejected_patterns},
                    {"skipped_blocks", s.rules.skipped_blocks},
                    {"unsupported_evals", s.rules.unsupported_evals},
                    {"unknown_directives", s.rules.unknown_directives},
                    {"parse_errors", s.rules.parse_errors},
                    {"metas", s.meta_rules},
                    {"databases", s.matcher.databases},
                    {"cached_databases", s.matcher.cached_databases},
                    {"bayes", s.bayes_ready ? "ready" : "off"},
                    {"load_ms", static_cast<int64_t>(s.load_seconds * 1000)},
                    {"compile_ms", static_cast<int64_t>(s.compile_seconds * 1000)}});
}

void log_spam_failure(const char* event, const absl::Status& st) {
  log::error(event, {{"reason", st.message()}});
}

// Rule loading and the Hyperscan compiles take seconds: they run on the offload pool
// (DESIGN.md: never block a shard), at start-up and on every SIGHUP.
task<engine_result> build_spam_engine(shard_set& set, spam::engine_options options) {
  auto build = [options] { return spam::spam_engine::build(options); };
  co_return co_await offload(set.offload(), std::move(build));
}

task<void> start_spam_engine(shard_set& set, spam::engine_options options, std::promise<engine_result>& done) {
  done.set_value(co_await build_spam_engine(set, std::move(options)));
}

task<void> reload_spam_engine(shard_set& set, mail_services& mail, const spam::engine_options& options) {
  engine_result engine = co_await build_spam_engine(set, options);
  if (!engine.ok()) {
    log_spam_failure("spam_reload_failed", engine.status());  // the old rules stay
    co_return;
  }
  co_await mail.replace_spam_engine(*engine);
  log_spam_engine("spam_rules_reloaded", (*engine)->stats());
}

// Shard 0 waits for signals: SIGHUP reloads the spam rules and Bayes model (when scanning
// is on); SIGTERM/SIGINT drain every shard's services, then stop the shards. A SIGTERM
// that arrives during a reload waits in the signalfd until the reload is done.
task<void> supervise(shard_set& set, std::vector<std::vector<std::unique_ptr<tcp_service>>>& services,
                     duration grace, std::atomic<int>& received, mail_services& mail,
                     const spam::engine_options* spam_options) {
  int sig = 0;
  for (;;) {
    sig = co_await wait_for_signal(supervised_signals());
    if (sig != SIGHUP) break;
    if (spam_options != nullptr) co_await reload_spam_engine(set, mail, *spam_options);
    co_await mail.reload_mail_auth(set.offload());  // new DKIM keys (ringmail-admin dkim keygen/rotate)
  }
  received.store(sig);
  log_shutdown(sig, grace);
  std::vector<task<void>> drains;
  for (unsigned shard = 0; shard < set.size(); ++shard) {
    drains.push_back(on_shard(shard, [&services, shard, grace]() -> task<void> {
      for (auto& service : services[shard]) service->stop_accepting();
      for (auto& service : services[shard]) co_await service->drain(grace);
      services[shard].clear();
    }));
  }
  co_await when_all(std::move(drains));
  co_await mail.close_stores();
  set.stop();
}

}  // namespace

int serve() {
  log::level level;
  if (!log::parse_level(absl::GetFlag(FLAGS_log_level), level)) {
    std::fprintf(stderr, "ringmail: --log_level must be debug, info, warn, error or off\n");
    return 2;
  }
  log::set_level(level);
  block_shutdown_signals();
  raise_fd_limit();

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    log::error("startup_failed", {{"reason", absl::StrCat("cannot create --data_dir ", data_dir, ": ", ec.message())}});
    return 1;
  }
  std::string hostname = absl::GetFlag(FLAGS_hostname);
  if (hostname.empty()) hostname = system_hostname();

  // TLS: the given certificate, or a self-signed one made on first start.
  std::string cert = absl::GetFlag(FLAGS_tls_cert);
  std::string key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    log::error("startup_failed", {{"reason", "--tls_cert and --tls_key must be given together"}});
    return 2;
  }
  if (cert.empty()) {
    cert = data_dir + "/tls/cert.pem";
    key = data_dir + "/tls/key.pem";
    absl::Status made = tls::ensure_self_signed_certificate(cert, key, hostname);
    if (!made.ok()) {
      log::error("startup_failed", {{"reason", made.message()}});
      return 1;
    }
  }
  auto tls_server = tls::context::make_server(cert, key);
  if (!tls_server.ok()) {
    log::error("startup_failed", {{"reason", tls_server.status().message()}});
    return 1;
  }

  // The directory: SQLite under --data_dir (created with the ISPmail schema on first
  // start) or MariaDB. Opened here, before the shards exist, so a wrong URL or an
  // unreachable database is one clear line at start-up rather than a failure per lookup.
  const directory::directory_location where = directory_from_flags(data_dir);
  auto store = directory::open_store(where);
  if (!store.ok()) {
    log::error("startup_failed", {{"reason", store.status().message()}});
    return 1;
  }
  std::string directory_name = where.directory.empty() ? "sqlite:" + directory::sqlite_path(data_dir)
                                                       : directory::describe(*directory::parse_mariadb_url(where.directory));

  shard_options options;
  options.shards = absl::GetFlag(FLAGS_shards);
  options.offload_threads = absl::GetFlag(FLAGS_offload_threads);
  options.reactor.recv_buffer_count = absl::GetFlag(FLAGS_recv_buffers);
  options.reactor.recv_buffer_size = absl::GetFlag(FLAGS_recv_buffer_size);
  auto shards = shard_set::start(options);
  if (!shards.ok()) {
    // One clear line naming the cause (DESIGN.md: no silent second engine).
    log::error("startup_failed", {{"reason", shards.status().message()}});
    return 1;
  }
  shard_set& set = **shards;

  // The protocol listeners: one tcp_service per shard and port, created on that shard.
  // SMTP and LMTP now; IMAP, POP3 and HTTP join the same list as they arrive.
  std::vector<std::vector<std::unique_ptr<tcp_service>>> services(set.size());
  task_scope background;  // the start-up build on shard 0; outlives set.join()
  std::shared_ptr<const spam::spam_engine> engine;
  spam::engine_options spam_options;
  if (absl::GetFlag(FLAGS_spam_scan)) {
    std::vector<std::string> missing;
    spam_options = spam_engine_options_from_flags(data_dir, &missing);
    // With SPF/DKIM/DMARC checked on the SMTP port, SpamAssassin's network score sets
    // apply: their rules (SPF_FAIL, DKIM_VALID_AU, DMARC_REJECT, ...) score only there.
    spam_options.network_tests = mail_auth_checks_from_flags();
    for (const auto& m : missing) log::warn("spam_rules_missing", {{"path", m}});
    std::promise<engine_result> built;
    set.run_on(0, [&] { background.spawn(start_spam_engine(set, spam_options, built)); });
    engine_result result = built.get_future().get();
    if (!result.ok()) {
      log_spam_failure("startup_failed", result.status());
      std::_Exit(1);
    }
    engine = std::move(*result);
    log_spam_engine("spam_rules_loaded", engine->stats());
  }
  mail_services mail({hostname, data_dir, where, std::move(*store), *tls_server, engine});
  absl::Status listening = mail.start(set, services);
  if (!listening.ok()) {
    log::error("startup_failed", {{"reason", listening.message()}});
    // Services already open belong to their shards' threads; leave without unwinding them.
    std::_Exit(1);
  }

  // Ports below 1024 need root only to bind; everything after runs as --user.
  const std::string user = absl::GetFlag(FLAGS_user);
  if (!user.empty() && geteuid() == 0) {
    const passwd* pw = getpwnam(user.c_str());
    if (pw != nullptr) {
      // What this start created as root must stay usable: the directory database (SQLite
      // writes its -wal/-shm beside it), the TLS files, the top of the mail root, the
      // compiled-rule cache. The mail root is the one the listeners deliver under
      // (--mail_root, which need not lie inside --data_dir), as mail_services resolved it.
      namespace fs = std::filesystem;
      std::error_code ignored;
      for (const fs::path& p : {fs::path(data_dir), fs::path(data_dir) / "tls", fs::path(mail.mail_root())}) {
        if (fs::exists(p, ignored)) (void)chown(p.c_str(), pw->pw_uid, pw->pw_gid);
      }
      for (const auto& e : fs::directory_iterator(data_dir, ignored)) {
        if (e.is_regular_file(ignored)) (void)chown(e.path().c_str(), pw->pw_uid, pw->pw_gid);
      }
      for (const auto& e : fs::directory_iterator(fs::path(data_dir) / "tls", ignored)) {
        (void)chown(e.path().c_str(), pw->pw_uid, pw->pw_gid);
      }
      // The greylist's journals, rewritten by the start-up load and appended to from now on.
      const fs::path greylist = fs::path(data_dir) / "greylist";
      if (fs::exists(greylist, ignored)) (void)chown(greylist.c_str(), pw->pw_uid, pw->pw_gid);
      for (const auto& e : fs::directory_iterator(greylist, ignored)) {
        (void)chown(e.path().c_str(), pw->pw_uid, pw->pw_gid);
      }
      // The compiled-rule cache written by the start-up build: SIGHUP reloads use it.
      if (!spam_options.compiled_rules_cache.empty()) {
        const fs::path cache(spam_options.compiled_rules_cache);
        if (fs::exists(cache, ignored)) (void)chown(cache.c_str(), pw->pw_uid, pw->pw_gid);
        for (const auto& e : fs::directory_iterator(cache, ignored)) {
          (void)chown(e.path().c_str(), pw->pw_uid, pw->pw_gid);
        }
      }
    }
    if (pw == nullptr || setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
      log::error("startup_failed", {{"reason", absl::StrCat("cannot switch to user ", user, ": ", strerror(errno))}});
      std::_Exit(1);
    }
    log::info("privileges_dropped", {{"user", user}, {"uid", pw->pw_uid}, {"gid", pw->pw_gid}});
  }

  log::info("ready", {{"hostname", hostname},
                      {"shards", set.size()},
                      {"data_dir", data_dir},
                      {"tls_cert", cert},
                      {"directory", directory_name},
                      {"listeners", mail.describe()}});

  // Shard 0 waits for SIGTERM/SIGINT, then every shard drains its services and stops.
  std::atomic<int> received{0};
  task_scope supervisor;  // owns the one supervising coroutine; used on shard 0 only
  const auto grace = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_shutdown_grace));
  const spam::engine_options* reload = engine ? &spam_options : nullptr;
  set.run_on(0, [&] { supervisor.spawn(supervise(set, services, grace, received, mail, reload)); });
  set.join();
  log::info("stopped", {{"signal", received.load()}});
  return 0;
}

}  // namespace ringmail::tools

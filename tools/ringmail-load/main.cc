// ringmail-load: an SMTP/LMTP load generator on the ringmail runtime, fast enough to
// out-run the server it measures (io_uring, one thread per shard, many sessions each).
//
//   ringmail-load --port=2525 --connections=50 --messages=100000 --recipients=a@x,b@y
//   ringmail-load --port=1587 --starttls --auth_user=u@x --auth_password=pw --recipients=r@remote.test
//   ringmail-load --port=1587 --starttls --users_file=users.txt --recipients=r@remote.test
//
// Submission load (RFC 6409): with --auth_user or --users_file ('address password' a line,
// the file IMAP and POP3 modes read) every session logs in with AUTH PLAIN (RFC 4954)
// after STARTTLS (the client never sends a password in plaintext), session i as user
// i mod N, and sends as its login (MAIL FROM and From:) unless --from is changed, since a
// submission server lets a login send only as its own addresses.
//
// Prints one key=value summary line on stdout (msgs_per_sec counts accepted messages;
// the pNN_ms latencies are of accepted messages only) and, on stderr, the first few
// distinct failures with their counts. Exits 0 only if every message was accepted.
// With --ledger, appends "<message-id> recipient" for every acknowledged delivery, so a
// crash test can check that each acknowledged message landed.
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "runtime/log.h"
#include "runtime/net.h"
#include "runtime/tls_context.h"
#include "tools/ringmail-load/imap_load.h"  // read_users_file
#include "tools/ringmail-load/load.h"
#include "tools/ringmail-load/message_source.h"

ABSL_FLAG(std::string, mode, "smtp", "Protocol to drive: smtp, imap or pop3; imap flags: imap_main.cc, pop3 flags: pop3_main.cc");
ABSL_FLAG(std::string, host, "127.0.0.1", "Server address (numeric, or a name resolved once at start)");
ABSL_FLAG(uint16_t, port, 25, "Server port");
ABSL_FLAG(uint32_t, connections, 10, "Concurrent sessions");
ABSL_FLAG(uint64_t, messages, 1000, "Messages to send in total");
ABSL_FLAG(uint64_t, size, 5120, "Body size in bytes of generated messages (ignored with --messages_dir)");
ABSL_FLAG(std::string, messages_dir, "", "Send the files under this directory (recursively) instead of generated messages");
ABSL_FLAG(std::vector<std::string>, recipients, {}, "Recipient addresses, comma-separated");
ABSL_FLAG(std::string, recipients_file, "", "File with one recipient address per line");
ABSL_FLAG(bool, random_recipients, false, "Draw recipients at random (default: round-robin)");
ABSL_FLAG(uint32_t, rcpts_per_message, 1, "Recipients per message");
ABSL_FLAG(std::string, from, "load@ringmail.test", "Envelope sender and From address");
ABSL_FLAG(std::string, helo, "load.ringmail.test", "Name to give in EHLO/LHLO");
ABSL_FLAG(bool, starttls, false, "Upgrade every session with STARTTLS (certificates are not verified)");
ABSL_FLAG(bool, new_connection_per_message, false, "One session per message (else sessions send back to back)");
ABSL_FLAG(bool, pipelining, false, "Send MAIL, RCPT and DATA in one write when the server offers PIPELINING");
ABSL_FLAG(bool, lmtp, false, "Speak LMTP: LHLO, and one reply per recipient after the data");
ABSL_FLAG(uint32_t, shards, 1, "Client threads");
ABSL_FLAG(bool, pin, false, "Pin client threads to CPUs");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "Deadline for connect and for every read and write");
ABSL_FLAG(std::string, ledger, "", "Append '<message-id> recipient' here for every acknowledged delivery");
ABSL_FLAG(uint64_t, seed, 1, "Seed for generated bodies, message order and random recipients");
ABSL_FLAG(std::string, auth_user, "", "SMTP: log in as this user (AUTH PLAIN after STARTTLS; needs --starttls)");
ABSL_FLAG(std::string, auth_password, "", "SMTP: password for --auth_user");
ABSL_DECLARE_FLAG(std::string, users_file);  // imap_main.cc; SMTP: one login per session, in turn
ABSL_DECLARE_FLAG(std::string, password);    // imap_main.cc; for users_file lines without one

namespace ringmail::load {
int imap_main(const socket_address& server);  // imap_main.cc
int pop3_main(const socket_address& server);  // pop3_main.cc
}  // namespace ringmail::load

namespace {

using ringmail::load::load_options;
using ringmail::load::load_report;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ringmail-load: %s\n", message.c_str());
  return 2;
}

// Numeric addresses directly; names once through getaddrinfo (start-up only, so blocking is fine).
absl::StatusOr<ringmail::socket_address> resolve(const std::string& host, uint16_t port) {
  auto numeric = ringmail::socket_address::parse(host, port);
  if (numeric.ok()) return numeric;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  ringmail::socket_address sa = ringmail::socket_address::from(found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return ringmail::socket_address::parse(sa.host(), port);
}

absl::StatusOr<std::vector<std::string>> read_recipients(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::string address(absl::StripAsciiWhitespace(line));
    if (!address.empty() && address[0] != '#') out.push_back(std::move(address));
  }
  return out;
}

// A tag no earlier run shares: start time in microseconds and the process id.
std::string run_tag() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t micros = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  return absl::StrCat(absl::Hex(micros), ".", getpid());
}

void print_summary(const load_report& r) {
  auto ms = [&](double q) { return static_cast<double>(r.latency.quantile(q)) / 1000.0; };
  const double rate = r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0;
  std::printf("messages=%llu ok=%llu temp_fail=%llu perm_fail=%llu errors=%llu seconds=%.3f msgs_per_sec=%.1f "
              "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f\n",
              static_cast<unsigned long long>(r.messages), static_cast<unsigned long long>(r.ok),
              static_cast<unsigned long long>(r.temp_fail), static_cast<unsigned long long>(r.perm_fail),
              static_cast<unsigned long long>(r.errors), r.seconds, rate, ms(0.50), ms(0.99), ms(0.999));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("SMTP/LMTP load generator: ringmail-load --port=2525 --recipients=user@example.test");
  absl::ParseCommandLine(argc, argv);
  ringmail::log::set_level(ringmail::log::level::warn);

  if (absl::GetFlag(FLAGS_mode) == "imap") {
    auto imap_server = resolve(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port));
    if (!imap_server.ok()) return usage_error(std::string(imap_server.status().message()));
    return ringmail::load::imap_main(*imap_server);
  }
  if (absl::GetFlag(FLAGS_mode) == "pop3") {
    auto pop3_server = resolve(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port));
    if (!pop3_server.ok()) return usage_error(std::string(pop3_server.status().message()));
    return ringmail::load::pop3_main(*pop3_server);
  }
  if (absl::GetFlag(FLAGS_mode) != "smtp") {
    return usage_error(absl::StrCat("--mode=", absl::GetFlag(FLAGS_mode), " is not supported (smtp, imap or pop3)"));
  }
  load_options o;
  auto server = resolve(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port));
  if (!server.ok()) return usage_error(std::string(server.status().message()));
  o.server = *server;
  o.messages = absl::GetFlag(FLAGS_messages);
  o.connections = absl::GetFlag(FLAGS_connections);
  o.shards = absl::GetFlag(FLAGS_shards);
  o.pin = absl::GetFlag(FLAGS_pin);
  o.new_connection_per_message = absl::GetFlag(FLAGS_new_connection_per_message);
  o.from = absl::GetFlag(FLAGS_from);
  o.recipients = absl::GetFlag(FLAGS_recipients);
  o.rcpts_per_message = absl::GetFlag(FLAGS_rcpts_per_message);
  o.random_recipients = absl::GetFlag(FLAGS_random_recipients);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.run_tag = run_tag();
  if (o.connections == 0 || o.shards == 0 || o.rcpts_per_message == 0) {
    return usage_error("--connections, --shards and --rcpts_per_message must be at least 1");
  }
  if (!absl::GetFlag(FLAGS_recipients_file).empty()) {
    auto more = read_recipients(absl::GetFlag(FLAGS_recipients_file));
    if (!more.ok()) return usage_error(std::string(more.status().message()));
    o.recipients.insert(o.recipients.end(), more->begin(), more->end());
  }
  if (o.recipients.empty()) return usage_error("no recipients: give --recipients or --recipients_file");
  if (o.rcpts_per_message > o.recipients.size()) {
    return usage_error(absl::StrCat("--rcpts_per_message=", o.rcpts_per_message, " but only ", o.recipients.size(),
                                    " recipients"));
  }

  auto& c = o.client;
  c.lmtp = absl::GetFlag(FLAGS_lmtp);
  c.starttls = absl::GetFlag(FLAGS_starttls) ? ringmail::relay::tls_policy::required : ringmail::relay::tls_policy::none;
  c.pipelining = absl::GetFlag(FLAGS_pipelining);
  c.helo_name = absl::GetFlag(FLAGS_helo);
  const ringmail::duration timeout{absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_timeout))};
  if (timeout.count() <= 0) return usage_error("--timeout must be positive");
  c.timeouts = ringmail::relay::client_timeouts::uniform(timeout);
  if (absl::GetFlag(FLAGS_starttls)) {
    auto tls = ringmail::tls::context::make_client(/*verify_peer=*/false);
    if (!tls.ok()) return usage_error(absl::StrCat("TLS: ", tls.status().message()));
    c.tls = *tls;
  }

  const std::string auth_user = absl::GetFlag(FLAGS_auth_user);
  const std::string users_file = absl::GetFlag(FLAGS_users_file);
  if (!auth_user.empty() && !users_file.empty()) return usage_error("give --auth_user or --users_file, not both");
  if (!auth_user.empty()) {
    o.logins.push_back({auth_user, absl::GetFlag(FLAGS_auth_password)});
  } else if (!users_file.empty()) {
    auto users = ringmail::load::read_users_file(users_file, absl::GetFlag(FLAGS_password));
    if (!users.ok()) return usage_error(std::string(users.status().message()));
    for (auto& u : *users) o.logins.push_back({std::move(u.name), std::move(u.password)});
  }
  if (!o.logins.empty()) {
    if (c.lmtp) return usage_error("LMTP has no AUTH: --auth_user/--users_file need SMTP");
    if (c.starttls == ringmail::relay::tls_policy::none) {
      return usage_error("AUTH needs --starttls: the client sends no password in plaintext");
    }
    const absl::CommandLineFlag* from_flag = absl::FindCommandLineFlag("from");
    // (IsSpecifiedOnCommandLine is not public in this Abseil: a --from equal to the
    // default counts as not given.)
    o.from_login = from_flag == nullptr || from_flag->CurrentValue() == from_flag->DefaultValue();
  }

  const std::string dir = absl::GetFlag(FLAGS_messages_dir);
  absl::StatusOr<ringmail::load::message_source> source =
      dir.empty() ? ringmail::load::message_source::generated(absl::GetFlag(FLAGS_size), o.seed)
                  : ringmail::load::message_source::from_directory(dir, o.seed);
  if (!source.ok()) return usage_error(std::string(source.status().message()));

  const std::string ledger = absl::GetFlag(FLAGS_ledger);
  if (!ledger.empty()) {
    o.ledger_fd = ::open(ledger.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (o.ledger_fd < 0) return usage_error(absl::StrCat("cannot open ledger ", ledger, ": ", std::strerror(errno)));
  }

  ringmail::raise_fd_limit();
  std::fprintf(stderr,
               "ringmail-load: server=%s protocol=%s connections=%u shards=%u messages=%llu source=%s distinct=%zu "
               "avg_bytes=%llu mode=%s%s%s logins=%zu\n",
               o.server.to_string().c_str(), c.lmtp ? "lmtp" : "smtp", o.connections, o.shards,
               static_cast<unsigned long long>(o.messages), dir.empty() ? "generated" : dir.c_str(),
               source->distinct(), static_cast<unsigned long long>(source->total_bytes() / source->distinct()),
               o.new_connection_per_message ? "connection_per_message" : "persistent",
               c.pipelining ? " pipelining" : "", c.starttls != ringmail::relay::tls_policy::none ? " starttls" : "",
               o.logins.size());

  auto report = ringmail::load::run_load(o, *source);
  if (o.ledger_fd >= 0) ::close(o.ledger_fd);
  if (!report.ok()) {
    std::fprintf(stderr, "ringmail-load: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  for (const auto& [description, count] : report->failures) {
    std::fprintf(stderr, "ringmail-load: failure count=%llu %s\n", static_cast<unsigned long long>(count),
                 description.c_str());
  }
  if (report->ledger_write_errors > 0) {
    std::fprintf(stderr, "ringmail-load: ledger write failed for %llu messages\n",
                 static_cast<unsigned long long>(report->ledger_write_errors));
  }
  print_summary(*report);
  const bool all_ok = report->ok == o.messages && report->ledger_write_errors == 0;
  return all_ok ? 0 : 1;
}

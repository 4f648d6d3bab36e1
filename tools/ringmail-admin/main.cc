// ringmail-admin: domains, users, aliases and password hashes, for either directory
// backend (SQLite under --data_dir, or --directory=mariadb://…), and the spam filter's
// Bayes training and offline scanning, and the DKIM signing keys.
//
//   ringmail-admin --data_dir=DIR domain add example.org
//   ringmail-admin user add john@example.org [--quota=BYTES]     (password: prompt or stdin)
//   ringmail-admin pw [-s SCHEME]                                 (like doveadm pw)
//
// Exit codes: 0 done, 1 failed (the message says why), 2 usage error.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "delivery/auth/password.h"
#include "delivery/directory/open_store.h"
#include "tools/common/directory_flags.h"
#include "tools/ringmail-admin/dkim_command.h"
#include "tools/ringmail-admin/mailbox_command.h"
#include "tools/ringmail-admin/queue_command.h"
#include "tools/ringmail-admin/spam_command.h"

ABSL_FLAG(std::string, data_dir, "./data", "ringmail's data directory (the SQLite directory lives here)");
ABSL_FLAG(std::string, scheme, "BLF-CRYPT", "Password scheme for new hashes (BLF-CRYPT, ARGON2ID, SHA512-CRYPT, …)");
ABSL_FLAG(int, cost, 0, "bcrypt cost / hash rounds for new hashes; 0 = the scheme's default (bcrypt 10)");
ABSL_FLAG(int64_t, quota, 0, "Quota in bytes for `user add`; 0 = unlimited");

namespace {

using ringmail::directory::store;

constexpr const char* kUsage =
    "usage: ringmail-admin [--data_dir=DIR | --directory=mariadb://…] COMMAND\n"
    "  domain add|del NAME | domain list\n"
    "  user add EMAIL [--quota=BYTES] | user del EMAIL | user list [DOMAIN]\n"
    "  user passwd EMAIL | user quota EMAIL BYTES\n"
    "  alias add SOURCE DEST | alias del SOURCE DEST | alias list [DOMAIN]   (SOURCE may be @domain)\n"
    "  pw [-s SCHEME]   print {SCHEME}hash of a password read from a prompt or stdin\n"
    "  spam learn --spam|--ham [--user=EMAIL] PATH...   train Bayes on files, directories, Maildir folders\n"
    "  spam scan [--spam_threads=N] [--profile=TOP] PATH...   print <score> <Yes|No> <path> per message\n"
    "  spam rules   load and compile the rules, print what ran and what was skipped\n"
    "  spam stats [--user=EMAIL]   messages learned as spam/ham (and tokens) in a Bayes store\n"
    "  spam expire [--user=EMAIL]   expire the least recently learned Bayes tokens now (sa-learn --force-expire)\n"
    "  mailbox list|subscriptions USER | mailbox status|create|delete|subscribe|unsubscribe USER FOLDER\n"
    "  mailbox rename USER FOLDER NEWNAME | mailbox rebuild USER [FOLDER]   (--mail_root)\n"
    "  fetch USER FOLDER   uid, flags, size and subject of each message\n"
    "  flags USER FOLDER UIDS +|-|=FLAG[,FLAG...]   e.g. flags a@example.org INBOX 1,4:6 +\\Seen,$Work\n"
    "  expunge USER FOLDER [UIDS]   the given messages, or every \\Deleted one\n"
    "  dkim keygen DOMAIN [--selector=S] [--type=rsa|ed25519] [--bits=2048] [--activate]\n"
    "                 write a DKIM key under <data_dir>/dkim, print its DNS TXT record\n"
    "  dkim list [DOMAIN] | dkim rotate DOMAIN | dkim show DOMAIN   keys and their records\n"
    "  queue list                     the outbound queue: messages, recipient states, '!' = held\n"
    "  queue show ID                  one message: envelope, states and text\n"
    "  queue flush [ID]               try deferred messages now (postqueue -f / -i)\n"
    "  queue delete ID|ALL            remove from the queue, no bounce (postsuper -d)\n"
    "  queue hold ID|ALL              keep from delivery until released (postsuper -h)\n"
    "  queue release ID|ALL           deliver again (postsuper -H)\n"
    "    (against the running server's <data_dir>/queue/control.sock; list and show also\n"
    "     read the spool offline when the server is down)\n"
    "Passwords are read from the terminal (asked twice) or one line of stdin, never from argv.";

int usage() {
  std::fprintf(stderr, "%s\n", kUsage);
  return 2;
}

int fail(const absl::Status& st) {
  std::fprintf(stderr, "ringmail-admin: %s\n", std::string(st.message()).c_str());
  return 1;
}

// Reads a password without echo from a terminal (twice, must match), or one line of stdin.
absl::StatusOr<std::string> read_password() {
  if (!isatty(STDIN_FILENO)) {
    std::string line;
    if (!std::getline(std::cin, line)) return absl::InvalidArgumentError("no password on stdin");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return absl::InvalidArgumentError("empty password");
    return line;
  }
  auto ask = [](const char* prompt) {
    std::fprintf(stderr, "%s", prompt);
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::string line;
    std::getline(std::cin, line);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
    return line;
  };
  std::string first = ask("Enter new password: ");
  std::string second = ask("Retype new password: ");
  if (first != second) return absl::InvalidArgumentError("passwords do not match");
  if (first.empty()) return absl::InvalidArgumentError("empty password");
  return first;
}

absl::StatusOr<std::string> new_hash(const std::string& scheme_name) {
  auto scheme = ringmail::auth::parse_scheme(scheme_name);
  if (!scheme.ok()) return scheme.status();
  auto password = read_password();
  if (!password.ok()) return password.status();
  auto hash = ringmail::auth::hash_password(*password, *scheme, absl::GetFlag(FLAGS_cost));
  ringmail::auth::secure_wipe(*password);
  return hash;
}

int domain_command(store& s, const std::vector<std::string>& a) {
  if (a.size() == 1 && a[0] == "list") {
    auto domains = s.list_domains();
    if (!domains.ok()) return fail(domains.status());
    for (const auto& d : *domains) std::printf("%s\n", d.name.c_str());
    return 0;
  }
  if (a.size() != 2 || (a[0] != "add" && a[0] != "del")) return usage();
  absl::Status st = a[0] == "add" ? s.add_domain(a[1]) : s.delete_domain(a[1]);
  return st.ok() ? 0 : fail(st);
}

int user_command(store& s, const std::vector<std::string>& a) {
  if (a.empty()) return usage();
  if (a[0] == "list" && a.size() <= 2) {
    auto users = s.list_users(a.size() == 2 ? a[1] : "");
    if (!users.ok()) return fail(users.status());
    for (const auto& u : *users) std::printf("%s\tquota=%lld\n", u.email.c_str(), static_cast<long long>(u.quota_bytes));
    return 0;
  }
  if (a[0] == "add" && a.size() == 2) {
    auto hash = new_hash(absl::GetFlag(FLAGS_scheme));
    if (!hash.ok()) return fail(hash.status());
    absl::Status st = s.add_user(a[1], *hash, absl::GetFlag(FLAGS_quota));
    return st.ok() ? 0 : fail(st);
  }
  if (a[0] == "del" && a.size() == 2) {
    absl::Status st = s.delete_user(a[1]);
    return st.ok() ? 0 : fail(st);
  }
  if (a[0] == "passwd" && a.size() == 2) {
    auto hash = new_hash(absl::GetFlag(FLAGS_scheme));
    if (!hash.ok()) return fail(hash.status());
    absl::Status st = s.set_password(a[1], *hash);
    return st.ok() ? 0 : fail(st);
  }
  if (a[0] == "quota" && a.size() == 3) {
    int64_t bytes = 0;
    if (!absl::SimpleAtoi(a[2], &bytes) || bytes < 0) return fail(absl::InvalidArgumentError("quota must be a number of bytes >= 0"));
    absl::Status st = s.set_quota(a[1], bytes);
    return st.ok() ? 0 : fail(st);
  }
  return usage();
}

int alias_command(store& s, const std::vector<std::string>& a) {
  if (a.empty()) return usage();
  if (a[0] == "list" && a.size() <= 2) {
    auto aliases = s.list_aliases(a.size() == 2 ? a[1] : "");
    if (!aliases.ok()) return fail(aliases.status());
    for (const auto& x : *aliases) std::printf("%s\t%s\n", x.source.c_str(), x.destination.c_str());
    return 0;
  }
  if ((a[0] == "add" || a[0] == "del") && a.size() == 3) {
    absl::Status st = a[0] == "add" ? s.add_alias(a[1], a[2]) : s.delete_alias(a[1], a[2]);
    return st.ok() ? 0 : fail(st);
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  // doveadm-style "-s SCHEME" becomes --scheme=SCHEME before abseil parses the flags.
  std::vector<std::string> rewritten;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-s" && i + 1 < argc) {
      rewritten.push_back(std::string("--scheme=") + argv[++i]);
    } else {
      rewritten.push_back(arg);
    }
  }
  std::vector<char*> raw;
  for (auto& s : rewritten) raw.push_back(s.data());
  std::vector<char*> positional = absl::ParseCommandLine(static_cast<int>(raw.size()), raw.data());
  if (positional.size() < 2) return usage();
  std::string command = positional[1];
  std::vector<std::string> args(positional.begin() + 2, positional.end());

  if (command == "pw") {
    if (!args.empty()) return usage();
    auto hash = new_hash(absl::GetFlag(FLAGS_scheme));
    if (!hash.ok()) return fail(hash.status());
    std::printf("%s\n", hash->c_str());
    return 0;
  }
  if (command == "spam") {
    int rc = ringmail::tools::spam_command(absl::GetFlag(FLAGS_data_dir), args);
    return rc == 2 ? usage() : rc;
  }
  if (command == "dkim") {
    int rc = ringmail::tools::dkim_command(absl::GetFlag(FLAGS_data_dir), args);
    return rc == 2 ? usage() : rc;
  }
  if (command == "queue") {
    int rc = ringmail::tools::queue_command(absl::GetFlag(FLAGS_data_dir), args);
    return rc == 2 ? usage() : rc;
  }
  const bool store_command = command == "mailbox" || command == "fetch" || command == "flags" || command == "expunge";
  if (command != "domain" && command != "user" && command != "alias" && !store_command) return usage();
  if (args.empty()) return usage();

  auto where = ringmail::tools::directory_from_flags(absl::GetFlag(FLAGS_data_dir));
  auto opened = ringmail::directory::open_store(where);
  if (!opened.ok()) return fail(opened.status());
  store& s = **opened;
  if (store_command) {
    const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
    int rc = ringmail::tools::mailbox_command(s, ringmail::tools::mail_root_from_flags(data_dir), command, args);
    return rc == 2 ? usage() : rc;
  }
  if (command == "domain") return domain_command(s, args);
  if (command == "user") return user_command(s, args);
  return alias_command(s, args);
}

#include "tools/common/spam_flags.h"

#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "delivery/directory/mariadb_url.h"
#include "delivery/spam_store/mariadb_bayes_backend.h"
#include "tools/common/directory_flags.h"

#ifndef RINGMAIL_RULES_DIR
#define RINGMAIL_RULES_DIR "/usr/share/ringmail/rules"
#endif

ABSL_FLAG(std::string, spam_rules, "/usr/share/spamassassin," RINGMAIL_RULES_DIR,
          "Rule files or directories in SpamAssassin syntax, comma-separated, loaded in order "
          "(Debian's stock rules, then ringmail's own)");
ABSL_FLAG(std::string, bayes_db, "",
          "SQLite Bayes token store; default: the MariaDB database with --directory=mariadb://…, "
          "else <data_dir>/bayes.sqlite");
ABSL_FLAG(bool, bayes_auto_expire, true,
          "Expire the least recently learned Bayes tokens of a store over --bayes_expiry_max_db_size after "
          "learning, at most every 12 h per user, as SpamAssassin's bayes_auto_expire; "
          "`ringmail-admin spam expire` runs it on demand");
ABSL_FLAG(int64_t, bayes_expiry_max_db_size, 150000,
          "Tokens per Bayes store (per user) above which expiry cuts it back to 75 % of this, never below "
          "100,000 tokens nor a token learned within 12 h (SpamAssassin's bayes_expiry_max_db_size)");
ABSL_FLAG(std::string, spam_cache_dir, "",
          "Where compiled rule databases are kept between starts and reloads; default "
          "<data_dir>/spam-cache; \"none\" compiles every time");
ABSL_FLAG(uint64_t, spam_scan_cache_bytes, 16ull << 20,
          "Memory per scanning thread (shard) for the work of earlier scans: a repeated message, or a "
          "campaign's copies with the same body, skips the body matching; 0 = off");
ABSL_FLAG(double, spam_reject_score, 15.0, "Score at or above which a message is refused with 554 5.7.1");
ABSL_FLAG(double, spam_junk_score, 5.0, "Score at or above which a message is spam: X-Spam-Flag, Junk folder");
ABSL_FLAG(bool, spam_junk_folder, true,
          "Deliver spam into the user's Junk folder; false = add headers only, deliver to INBOX");
ABSL_FLAG(bool, greylist, false, "Greylist (451 4.7.1) unknown client/sender/recipient triplets scoring >= --greylist_score");
ABSL_FLAG(double, greylist_score, 4.0, "Score at or above which an unknown triplet is greylisted");
ABSL_FLAG(absl::Duration, greylist_delay, absl::Minutes(5),
          "How long a greylisted triplet must wait before a retry passes (postgrey's default)");

namespace ringmail::tools {

namespace {

// The MariaDB directory's URL, when the Bayes store goes there.
std::string mariadb_bayes_url(const std::string& data_dir) {
  if (!absl::GetFlag(FLAGS_bayes_db).empty()) return "";
  const directory::directory_location where = directory_from_flags(data_dir);
  return where.directory;
}

std::string sqlite_bayes_path(const std::string& data_dir) {
  std::string path = absl::GetFlag(FLAGS_bayes_db);
  return path.empty() ? data_dir + "/bayes.sqlite" : path;
}

}  // namespace

std::string bayes_location_from_flags(const std::string& data_dir) {
  const std::string url = mariadb_bayes_url(data_dir);
  if (url.empty()) return sqlite_bayes_path(data_dir);
  absl::StatusOr<directory::mariadb_config> config = directory::parse_mariadb_url(url);
  return config.ok() ? directory::describe(*config) : "mariadb (bad --directory URL)";
}

namespace {

absl::StatusOr<std::unique_ptr<spam::bayes_store>> open_bayes_store(const std::string& data_dir, bool only_if_present) {
  const std::string url = mariadb_bayes_url(data_dir);
  if (!url.empty()) {
    absl::StatusOr<directory::mariadb_config> config = directory::parse_mariadb_url(url);
    if (!config.ok()) return config.status();
    auto backend = spam_store::open_mariadb_bayes_backend(*config);
    if (!backend.ok()) return backend.status();
    return spam::bayes_store::over(std::move(*backend));
  }
  const std::string path = sqlite_bayes_path(data_dir);
  std::error_code ec;
  if (only_if_present && !std::filesystem::exists(path, ec)) return std::unique_ptr<spam::bayes_store>();
  return spam::bayes_store::open(path);
}

}  // namespace

absl::StatusOr<std::unique_ptr<spam::bayes_store>> open_bayes_store_from_flags(const std::string& data_dir,
                                                                              bool only_if_present) {
  absl::StatusOr<std::unique_ptr<spam::bayes_store>> store = open_bayes_store(data_dir, only_if_present);
  if (store.ok() && *store != nullptr) {
    spam::bayes_expiry_options expiry;
    expiry.auto_expire = absl::GetFlag(FLAGS_bayes_auto_expire);
    expiry.max_db_size = absl::GetFlag(FLAGS_bayes_expiry_max_db_size);
    (*store)->set_expiry_options(expiry);
  }
  return store;
}

spam::engine_options spam_engine_options_from_flags(const std::string& data_dir, std::vector<std::string>* missing) {
  spam::engine_options options;
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_spam_rules), ',', absl::SkipWhitespace())) {
    std::string path(p);
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      options.rule_paths.push_back(path);
    } else if (missing != nullptr) {
      missing->push_back(path);
    }
  }
  options.open_bayes = [data_dir] { return open_bayes_store_from_flags(data_dir, /*only_if_present=*/true); };
  const std::string cache = absl::GetFlag(FLAGS_spam_cache_dir);
  if (cache != "none") options.compiled_rules_cache = cache.empty() ? data_dir + "/spam-cache" : cache;
  return options;
}

size_t spam_scan_cache_bytes_from_flags() { return absl::GetFlag(FLAGS_spam_scan_cache_bytes); }

spam::verdict_policy spam_policy_from_flags() {
  spam::verdict_policy p;
  p.reject_score = absl::GetFlag(FLAGS_spam_reject_score);
  p.junk_score = absl::GetFlag(FLAGS_spam_junk_score);
  p.junk_folder = absl::GetFlag(FLAGS_spam_junk_folder);
  p.greylist = absl::GetFlag(FLAGS_greylist);
  p.greylist_score = absl::GetFlag(FLAGS_greylist_score);
  return p;
}

spam::greylist_options greylist_options_from_flags() {
  spam::greylist_options o;
  o.delay = std::chrono::duration_cast<std::chrono::seconds>(absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_greylist_delay)));
  return o;
}

}  // namespace ringmail::tools

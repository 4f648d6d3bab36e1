#include "tools/ringmail-admin/spam_command.h"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "spam/bayes/bayes.h"
#include "spam/scan_cache.h"
#include "spam/scanner.h"
#include "tools/common/spam_flags.h"
#include "tools/ringmail-admin/scan_profile_report.h"

ABSL_FLAG(bool, spam, false, "spam learn: the messages are spam");
ABSL_FLAG(bool, ham, false, "spam learn: the messages are ham (not spam)");
ABSL_FLAG(std::string, user, "", "spam learn/stats/expire: the user whose own store learns (is shown, is expired); empty = the global store");
ABSL_FLAG(uint32_t, spam_threads, 1, "spam scan: scanning threads (1 measures per-core speed)");
ABSL_FLAG(uint32_t, profile, 0,
          "spam scan: print where the time went (stages, and the N costliest scan targets and PCRE2 rules)");

namespace ringmail::tools {
namespace {

namespace fs = std::filesystem;

// Messages under `path`: a file; a Maildir folder (its cur/ and new/); or a directory's
// regular files (not recursive, hidden files skipped).
void collect(const fs::path& path, std::vector<std::string>& out) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    out.push_back(path.string());
    return;
  }
  if (!fs::is_directory(path, ec)) return;
  if (fs::is_directory(path / "cur", ec) && fs::is_directory(path / "new", ec)) {
    collect(path / "cur", out);
    collect(path / "new", out);
    return;
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.' || !e.is_regular_file(ec)) continue;
    files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  out.insert(out.end(), files.begin(), files.end());
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = std::move(s).str();
  return true;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int learn(const std::string& data_dir, const std::vector<std::string>& paths) {
  const bool is_spam = absl::GetFlag(FLAGS_spam), is_ham = absl::GetFlag(FLAGS_ham);
  if (is_spam == is_ham || paths.empty()) {
    std::fprintf(stderr, "ringmail-admin: spam learn needs exactly one of --spam or --ham, and paths\n");
    return 2;
  }
  std::vector<std::string> files;
  for (const auto& p : paths) collect(p, files);
  auto store = open_bayes_store_from_flags(data_dir, /*only_if_present=*/false);
  if (!store.ok()) {
    std::fprintf(stderr, "ringmail-admin: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  auto batch = (*store)->begin_batch();
  if (!batch.ok()) {
    std::fprintf(stderr, "ringmail-admin: %s\n", std::string(batch.status().message()).c_str());
    return 1;
  }
  const std::string user = absl::GetFlag(FLAGS_user);
  size_t learned = 0, unreadable = 0;
  std::string bytes;
  for (const auto& f : files) {
    if (!read_file(f, bytes)) {
      ++unreadable;
      continue;
    }
    absl::Status st = spam::learn_message(**batch, user, bytes, is_spam);
    if (!st.ok()) {
      std::fprintf(stderr, "ringmail-admin: %s: %s\n", f.c_str(), std::string(st.message()).c_str());
      return 1;
    }
    ++learned;
  }
  absl::Status st = (*batch)->commit();
  if (!st.ok()) {
    std::fprintf(stderr, "ringmail-admin: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "learned=%zu as=%s unreadable=%zu store=%s\n", learned, is_spam ? "spam" : "ham", unreadable,
               bayes_location_from_flags(data_dir).c_str());
  // sa-learn expires opportunistically after learning too (--bayes_auto_expire): the store
  // decides whether a run is due. The learned messages are committed whatever happens.
  auto expired = (*store)->expire(user, /*force=*/false);
  if (!expired.ok()) {
    std::fprintf(stderr, "ringmail-admin: expiry failed: %s\n", std::string(expired.status().message()).c_str());
  } else if (expired->ran) {
    std::fprintf(stderr, "expired=%lld tokens_before=%lld\n", static_cast<long long>(expired->removed),
                 static_cast<long long>(expired->tokens_before));
  }
  return unreadable == 0 ? 0 : 1;
}

// sa-learn --force-expire: expires the store of --user now, whatever --bayes_auto_expire
// and the last run say; a store under --bayes_expiry_max_db_size is left alone.
int expire(const std::string& data_dir, const std::vector<std::string>& args) {
  if (!args.empty()) return 2;
  auto store = open_bayes_store_from_flags(data_dir, /*only_if_present=*/true);
  if (!store.ok()) {
    std::fprintf(stderr, "ringmail-admin: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  const std::string user = absl::GetFlag(FLAGS_user);
  spam::bayes_expiry_result r;
  if (*store) {
    auto expired = (*store)->expire(user, /*force=*/true);
    if (!expired.ok()) {
      std::fprintf(stderr, "ringmail-admin: %s\n", std::string(expired.status().message()).c_str());
      return 1;
    }
    r = *expired;
  }
  std::printf("user=%s tokens_before=%lld removed=%lld kept=%lld cutoff_atime=%lld%s%s store=%s\n",
              user.empty() ? "(global)" : user.c_str(), static_cast<long long>(r.tokens_before),
              static_cast<long long>(r.removed), static_cast<long long>(r.tokens_before - r.removed),
              static_cast<long long>(r.cutoff_atime), r.skipped.empty() ? "" : " note=",
              r.skipped.empty() ? "" : absl::StrReplaceAll(r.skipped, {{" ", "_"}}).c_str(),
              bayes_location_from_flags(data_dir).c_str());
  return 0;
}

// Read-only: how many messages a store has learned (what IMAP Junk training and `spam
// learn` add to), one line on stdout. A store not created yet counts as empty.
int stats(const std::string& data_dir, const std::vector<std::string>& args) {
  if (!args.empty()) return 2;
  auto store = open_bayes_store_from_flags(data_dir, /*only_if_present=*/true);
  if (!store.ok()) {
    std::fprintf(stderr, "ringmail-admin: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  const std::string user = absl::GetFlag(FLAGS_user);
  uint32_t spam = 0, ham = 0;
  size_t tokens = 0;
  if (*store) {
    auto model = (*store)->load(user);
    if (!model.ok()) {
      std::fprintf(stderr, "ringmail-admin: %s\n", std::string(model.status().message()).c_str());
      return 1;
    }
    spam = (*model)->spam_messages;
    ham = (*model)->ham_messages;
    tokens = (*model)->tokens.size();
  }
  std::printf("user=%s spam=%u ham=%u tokens=%zu store=%s\n", user.empty() ? "(global)" : user.c_str(), spam, ham,
              tokens, bayes_location_from_flags(data_dir).c_str());
  return 0;
}

absl::StatusOr<std::shared_ptr<const spam::spam_engine>> build_engine(const std::string& data_dir) {
  std::vector<std::string> missing;
  spam::engine_options options = spam_engine_options_from_flags(data_dir, &missing);
  for (const auto& m : missing) std::fprintf(stderr, "ringmail-admin: rules path %s does not exist, skipped\n", m.c_str());
  return spam::spam_engine::build(options);
}

void print_stats(const spam::engine_stats& s) {
  if (!s.bayes_error.empty()) std::fprintf(stderr, "ringmail-admin: Bayes unavailable: %s\n", s.bayes_error.c_str());
  std::fprintf(stderr,
               "rules=%zu files=%zu skipped_blocks=%zu unsupported_evals=%zu unknown_directives=%zu parse_errors=%zu "
               "hyperscan=%zu pcre=%zu rejected=%zu databases=%zu cached=%zu db_bytes=%zu metas=%zu metas_dropped=%zu "
               "load_s=%.2f compile_s=%.2f bayes=%s(spam=%u ham=%u)\n",
               s.rules.rules, s.rules.files, s.rules.skipped_blocks, s.rules.unsupported_evals,
               s.rules.unknown_directives, s.rules.parse_errors, s.matcher.hyperscan_patterns, s.matcher.pcre_patterns,
               s.matcher.rejected_patterns, s.matcher.databases, s.matcher.cached_databases, s.matcher.database_bytes, s.meta_rules,
               s.metas_dropped, s.load_seconds, s.compile_seconds, s.bayes_ready ? "ready" : "off", s.bayes_spam,
               s.bayes_ham);
}

int scan(const std::string& data_dir, const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& p : paths) collect(p, files);
  auto engine = build_engine(data_dir);
  if (!engine.ok()) {
    std::fprintf(stderr, "ringmail-admin: %s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  print_stats((*engine)->stats());
  const double junk = spam_policy_from_flags().junk_score;
  const unsigned threads = std::max(1u, absl::GetFlag(FLAGS_spam_threads));
  std::vector<std::string> lines(files.size());
  std::atomic<size_t> next{0};
  std::atomic<size_t> failures{0};
  const uint32_t profile_top = absl::GetFlag(FLAGS_profile);
  std::vector<spam::scan_profile> profiles(threads);
  const double cpu_before = cpu_seconds();
  const auto wall_before = std::chrono::steady_clock::now();
  // One cache per thread, as the server has one per shard.
  std::vector<std::unique_ptr<spam::scan_cache>> caches;
  for (unsigned t = 0; t < threads; ++t) caches.push_back(std::make_unique<spam::scan_cache>(spam_scan_cache_bytes_from_flags()));
  auto work = [&](unsigned thread) {
    spam::scan_context context(*engine);
    if (profile_top > 0) context.set_profile(&profiles[thread]);
    context.set_cache(caches[thread].get());
    std::string bytes;
    for (size_t i = next++; i < files.size(); i = next++) {
      if (!read_file(files[i], bytes)) {
        ++failures;
        continue;
      }
      spam::scan_result r = context.scan(bytes);
      lines[i] = absl::StrFormat("%.3f\t%s\t%s\n", r.score, r.score >= junk ? "Yes" : "No", files[i]);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& t : pool) t.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  const double cpu = cpu_seconds() - cpu_before;
  for (const auto& l : lines) std::fputs(l.c_str(), stdout);
  std::fprintf(stderr, "scanned=%zu wall_seconds=%.3f cpu_seconds=%.3f msgs_per_cpu_second=%.1f failures=%zu\n",
               files.size() - failures, wall, cpu, cpu > 0 ? static_cast<double>(files.size()) / cpu : 0.0,
               failures.load());
  spam::scan_cache::counters cached;
  size_t cache_bytes = 0;
  for (const auto& c : caches) {
    cached.message_hits += c->stats().message_hits;
    cached.body_hits += c->stats().body_hits;
    cached.misses += c->stats().misses;
    cached.evictions += c->stats().evictions;
    cache_bytes += c->bytes();
  }
  std::fprintf(stderr, "scan_cache: message_hits=%llu body_hits=%llu misses=%llu evictions=%llu bytes=%zu\n",
               static_cast<unsigned long long>(cached.message_hits), static_cast<unsigned long long>(cached.body_hits),
               static_cast<unsigned long long>(cached.misses), static_cast<unsigned long long>(cached.evictions),
               cache_bytes);
  if (profile_top > 0) {
    spam::scan_profile total;
    for (const auto& p : profiles) merge_scan_profile(p, total);
    print_scan_profile(total, **engine, profile_top, stderr);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int spam_command(const std::string& data_dir, const std::vector<std::string>& args) {
  if (args.empty()) return 2;
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "learn") return learn(data_dir, rest);
  if (args[0] == "scan") return scan(data_dir, rest);
  if (args[0] == "stats") return stats(data_dir, rest);
  if (args[0] == "expire") return expire(data_dir, rest);
  if (args[0] == "rules" && rest.empty()) {
    auto engine = build_engine(data_dir);
    if (!engine.ok()) {
      std::fprintf(stderr, "ringmail-admin: %s\n", std::string(engine.status().message()).c_str());
      return 1;
    }
    print_stats((*engine)->stats());
    for (const auto& s : (*engine)->stats().matcher.pcre_samples) std::fprintf(stderr, "pcre: %s\n", s.c_str());
    for (const auto& s : (*engine)->stats().matcher.rejected_samples) std::fprintf(stderr, "rejected: %s\n", s.c_str());
    return 0;
  }
  return 2;
}

}  // namespace ringmail::tools

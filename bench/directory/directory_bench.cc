// Directory and login throughput on one shard (issue 3):
//   - recipient resolutions/s against MariaDB, uncached (every lookup a query through the
//     non-blocking client) and through the per-shard cache;
//   - logins/s with the default BLF-CRYPT cost 10, verification-cache miss vs hit.
// Needs a MariaDB server: bench/directory/run.sh starts a private one on loopback.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "delivery/auth/authenticator.h"
#include "delivery/auth/password.h"
#include "delivery/directory/cache.h"
#include "delivery/directory/mariadb_source.h"
#include "delivery/directory/mariadb_store.h"
#include "delivery/directory/resolver.h"
#include "runtime/offload_pool.h"
#include "runtime/reactor.h"
#include "runtime/when_all.h"

ABSL_FLAG(std::string, directory, "", "mariadb:// URL of an empty database to fill");
ABSL_FLAG(int, users, 1000, "users to create");
ABSL_FLAG(int, lookups, 20000, "resolutions per measurement");
ABSL_FLAG(int, concurrency, 16, "lookups in flight at once on the shard");
ABSL_FLAG(int, pool, 4, "MariaDB connections on the shard");
ABSL_FLAG(int, logins, 40, "logins per verification-miss measurement");
ABSL_FLAG(int, offload_threads, 2, "offload threads for password hashing");

namespace {

using namespace ringmail;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

task<int> resolve_many(directory::resolver& r, int count, int users, int concurrency) {
  int ok = 0;
  auto worker = [&](int start) -> task<void> {
    for (int i = start; i < count; i += concurrency) {
      auto res = co_await r.resolve(absl::StrCat("user", i % users, "@bench.example"));
      if (res.result == directory::outcome::ok) ++ok;
    }
  };
  std::vector<task<void>> workers;
  for (int w = 0; w < concurrency; ++w) workers.push_back(worker(w));
  co_await when_all(std::move(workers));
  co_return ok;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto config = directory::parse_mariadb_url(absl::GetFlag(FLAGS_directory));
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  const int users = absl::GetFlag(FLAGS_users);
  const int lookups = absl::GetFlag(FLAGS_lookups);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);

  // Fill the database (blocking client: set-up, not measured).
  auto store = directory::mariadb_store::open(*config);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  (void)(*store)->ensure_schema();
  (void)(*store)->add_domain("bench.example");
  auto hash = auth::hash_password("bench-password", auth::scheme::blf_crypt);
  for (int i = 0; i < users; ++i) {
    (void)(*store)->add_user(absl::StrCat("user", i, "@bench.example"), *hash, 0);
  }

  auto r = reactor::create({});
  if (!r.ok()) return 1;
  offload_pool pool(static_cast<unsigned>(absl::GetFlag(FLAGS_offload_threads)));
  directory::mariadb_source mariadb(*config, {},
                                    directory::mariadb_source_options{static_cast<size_t>(absl::GetFlag(FLAGS_pool))});
  directory::cached_source cached(mariadb);

  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("| measurement | count | seconds | per second |\n|---|---|---|---|\n");
  {
    directory::resolver uncached(mariadb);
    (*r)->block_on(resolve_many(uncached, 200, users, concurrency));  // connect the pool
    auto t = clock_type::now();
    int ok = (*r)->block_on(resolve_many(uncached, lookups, users, concurrency));
    double s = seconds_since(t);
    std::printf("| resolve, uncached (MariaDB, %d in flight) | %d ok of %d | %.2f | %.0f |\n", concurrency, ok, lookups,
                s, lookups / s);
  }
  {
    directory::resolver with_cache(cached);
    (*r)->block_on(resolve_many(with_cache, users, users, concurrency));  // warm every user
    auto t = clock_type::now();
    int ok = (*r)->block_on(resolve_many(with_cache, lookups * 10, users, concurrency));
    double s = seconds_since(t);
    std::printf("| resolve, per-shard cache hit | %d ok of %d | %.2f | %.0f |\n", ok, lookups * 10, s,
                lookups * 10 / s);
  }
  {
    auth::authenticator_options options;
    options.throttle.max_failures_per_ip = 0;
    auth::authenticator a(cached, pool, options);
    const int logins = absl::GetFlag(FLAGS_logins);
    // Logins cycle over the first `distinct` users: the miss run verifies each once, the
    // hit run then finds every one of them in the verification cache.
    auto run_logins = [&](int n, int distinct) -> task<int> {
      int ok = 0;
      std::vector<task<auth::login_result>> all;
      for (int i = 0; i < n; ++i) {
        all.push_back(a.login(absl::StrCat("user", i % distinct, "@bench.example"), "bench-password", "192.0.2.1"));
      }
      for (auto& res : co_await when_all(std::move(all))) ok += res.outcome == auth::login_outcome::ok;
      co_return ok;
    };
    auto t = clock_type::now();
    int ok = (*r)->block_on(run_logins(logins, logins));
    double s = seconds_since(t);
    std::printf("| login, verification (bcrypt cost 10, %d offload threads) | %d ok of %d | %.2f | %.1f |\n",
                pool.size(), ok, logins, s, logins / s);
    t = clock_type::now();
    ok = (*r)->block_on(run_logins(logins * 1000, logins));
    s = seconds_since(t);
    std::printf("| login, verification-cache hit | %d ok of %d | %.2f | %.0f |\n", ok, logins * 1000, s,
                logins * 1000 / s);
  }
  return 0;
}

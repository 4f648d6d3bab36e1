// DKIM signing and verification cost per message (issue 16): spam/dkim's sign_dkim and
// verify_dkim (through a static_dns_client, run_inline) over messages of the SpamAssassin
// public corpus, RSA-2048 and Ed25519, relaxed/relaxed. One benchmark iteration is one
// message; every benchmark runs exactly `passes` times over the same N messages, so its
// CPU time per iteration is the mean CPU µs per message over that set, the figure
// bench/dkim/run.sh sets beside OpenDKIM's and rspamd's on the same files.
//
// verify/* parse the key record for every message (no key cache: the worst case, a key
// seen once); verify-cached/* go through a spam/dkim/key_cache warmed by the first
// message, as a shard's is by a sender whose key it has seen before (the usual case, and
// what rspamd's figure includes: it caches parsed keys too).
//
//   dkim_bench [--smoke] [--export=DIR] [Google Benchmark flags]
//
//   --smoke        20 messages, one pass, keys generated here: a quick check
//   --export=DIR   also writes the message set as the peers read it: DIR/plain/NNNNN.eml
//                  (unsigned), DIR/rsa/ and DIR/ed25519/ (the same messages with our
//                  signature prepended), DIR/keys.txt ("<name> <TXT value>" per key)
//
//   RINGMAIL_CORPUS           corpus root (default build/corpus, scripts/fetch-corpus.sh)
//   RINGMAIL_BENCH_MESSAGES   N (default 2000), spread evenly over the sorted corpus files
//                             so that every set (ham, hard ham, spam) is represented
//   RINGMAIL_BENCH_PASSES     passes over the N messages per benchmark (default 3)
//   RINGMAIL_DKIM_RSA_KEY, RINGMAIL_DKIM_ED25519_KEY   PEM files of the signing keys
//                             (run.sh gives every engine the same ones); default: new keys
//
// Messages are prepared once, before any timing, as the peers get them: the mbox "From "
// line dropped, line ends made CRLF (what an MTA hands a milter or rspamd). A message our
// signer refuses is left out of the set (counted on stderr), so every engine works on
// the same files.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/task.h"
#include "spam/dkim/crypto.h"
#include "spam/dkim/key_cache.h"
#include "spam/dkim/key_store.h"
#include "spam/dkim/signer.h"
#include "spam/dkim/verifier.h"
#include "spam/dns/dns_client.h"

namespace {

namespace fs = std::filesystem;
using namespace ringmail;
using namespace ringmail::spam;

constexpr std::string_view kDomain = "bench.example";
constexpr std::string_view kRsaSelector = "rsa";
constexpr std::string_view kEdSelector = "ed";

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

[[noreturn]] void die(const std::string& why) {
  std::cerr << "dkim_bench: " << why << "\n";
  std::exit(1);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) die("cannot write " + path.string());
}

// The corpus file as an MTA would pass it on: no mbox separator, CRLF line ends.
std::string as_smtp_message(std::string_view raw) {
  if (raw.starts_with("From ")) {
    size_t eol = raw.find('\n');
    raw.remove_prefix(eol == std::string_view::npos ? raw.size() : eol + 1);
  }
  std::string out;
  out.reserve(raw.size() + raw.size() / 30);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out += '\r';
    out += raw[i];
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  return out;
}

std::vector<fs::path> pick_messages(const std::string& corpus, size_t n) {
  std::vector<fs::path> all;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(corpus, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    // Dot files (the fetch's .complete marker) have no extension() either.
    if (!it->is_regular_file() || it->path().filename().string().starts_with('.')) continue;
    auto ext = it->path().extension();
    if (ext == ".txt" || ext.empty()) all.push_back(it->path());
  }
  if (ec) die("cannot walk " + corpus + ": " + ec.message());
  std::sort(all.begin(), all.end());
  if (all.size() <= n) return all;
  std::vector<fs::path> picked;
  for (size_t i = 0; i < n; ++i) picked.push_back(all[i * all.size() / n]);
  return picked;
}

struct engine_key {
  dkim::private_key key;
  std::string pem;
  std::string selector;
  std::string record;  // the TXT value
};

engine_key load_or_generate(const char* env, dkim::key_type type, std::string_view selector) {
  engine_key k;
  const std::string path = env_or(env, "");
  if (!path.empty()) {
    k.pem = read_file(path);
  } else {
    auto pem = dkim::generate_key(type, 2048);
    if (!pem.ok()) die("generate_key: " + std::string(pem.status().message()));
    k.pem = *pem;
  }
  auto key = dkim::load_private_key(k.pem);
  if (!key.ok()) die("key " + path + ": " + std::string(key.status().message()));
  if (key->type != type) die("key " + path + " is not of the expected type");
  k.key = *key;
  auto record = dkim::dns_txt_record(k.pem);
  if (!record.ok()) die("dns_txt_record: " + std::string(record.status().message()));
  k.record = *record;
  k.selector = std::string(selector);
  return k;
}

struct fixture {
  std::vector<std::string> messages;     // CRLF, unsigned
  std::vector<std::string> rsa_signed;   // our RSA signature prepended
  std::vector<std::string> ed_signed;    // our Ed25519 signature prepended
  engine_key rsa, ed;
  static_dns_client dns;
  size_t passes = 3;
};

dkim::dkim_sign_options sign_options(const engine_key& k) {
  dkim::dkim_sign_options o;
  o.domain = std::string(kDomain);
  o.selector = k.selector;
  o.key = &k.key;
  return o;
}

void build(fixture& f, bool smoke) {
  const std::string corpus = env_or("RINGMAIL_CORPUS", "build/corpus");
  const size_t n = smoke ? 20 : std::strtoul(env_or("RINGMAIL_BENCH_MESSAGES", "2000").c_str(), nullptr, 10);
  f.passes = smoke ? 1 : std::max<size_t>(1, std::strtoul(env_or("RINGMAIL_BENCH_PASSES", "3").c_str(), nullptr, 10));
  f.rsa = load_or_generate("RINGMAIL_DKIM_RSA_KEY", dkim::key_type::rsa, kRsaSelector);
  f.ed = load_or_generate("RINGMAIL_DKIM_ED25519_KEY", dkim::key_type::ed25519, kEdSelector);
  f.dns.add_txt(dkim::dns_record_name(f.rsa.selector, kDomain), f.rsa.record);
  f.dns.add_txt(dkim::dns_record_name(f.ed.selector, kDomain), f.ed.record);

  std::error_code ec;
  if (!fs::is_directory(corpus, ec)) die("corpus not found: " + corpus + " (scripts/fetch-corpus.sh, RINGMAIL_CORPUS)");
  size_t refused = 0;
  for (const fs::path& p : pick_messages(corpus, n)) {
    std::string m = as_smtp_message(read_file(p));
    auto rsa_sig = dkim::sign_dkim(m, sign_options(f.rsa));
    auto ed_sig = dkim::sign_dkim(m, sign_options(f.ed));
    if (!rsa_sig.ok() || !ed_sig.ok()) {
      ++refused;
      continue;
    }
    f.rsa_signed.push_back(*rsa_sig + m);
    f.ed_signed.push_back(*ed_sig + m);
    f.messages.push_back(std::move(m));
  }
  if (f.messages.empty()) die("no messages under " + corpus);
  std::cerr << "dkim_bench: " << f.messages.size() << " messages (" << refused << " refused by the signer, left out), "
            << f.passes << " passes per benchmark\n";
}

void export_set(const fixture& f, const fs::path& dir) {
  for (const char* sub : {"plain", "rsa", "ed25519"}) fs::create_directories(dir / sub);
  for (size_t i = 0; i < f.messages.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%05zu.eml", i);
    write_file(dir / "plain" / name, f.messages[i]);
    write_file(dir / "rsa" / name, f.rsa_signed[i]);
    write_file(dir / "ed25519" / name, f.ed_signed[i]);
  }
  write_file(dir / "keys.txt", dkim::dns_record_name(f.rsa.selector, kDomain) + " " + f.rsa.record + "\n" +
                                   dkim::dns_record_name(f.ed.selector, kDomain) + " " + f.ed.record + "\n");
  write_file(dir / "rsa.pem", f.rsa.pem);
  write_file(dir / "ed25519.pem", f.ed.pem);
}

void bm_sign(benchmark::State& state, const fixture* f, const engine_key* k) {
  const dkim::dkim_sign_options options = sign_options(*k);
  size_t i = 0, failed = 0;
  for (auto _ : state) {
    auto sig = dkim::sign_dkim(f->messages[i], options);
    if (!sig.ok()) ++failed;
    benchmark::DoNotOptimize(sig);
    if (++i == f->messages.size()) i = 0;
  }
  state.counters["failed"] = static_cast<double>(failed);
  state.SetItemsProcessed(state.iterations());
}

// `cache`: null, every message's key record parsed; else that shard-like cache (its
// first miss is part of the figure, 1 in messages x passes).
void bm_verify(benchmark::State& state, fixture* f, const std::vector<std::string>* set, dkim::key_cache* cache) {
  dkim::dkim_verify_options options;
  options.key_cache = cache;
  size_t i = 0, passed = 0;
  for (auto _ : state) {
    auto checks = run_inline(dkim::verify_dkim(f->dns, (*set)[i], options));
    if (checks.size() == 1 && checks[0].result == dkim_result::pass) ++passed;
    benchmark::DoNotOptimize(checks);
    if (++i == set->size()) i = 0;
  }
  // Every message carries one good signature: anything short of all passing means the
  // figure measured some other path (a refusal is cheaper than a verification).
  const double iterations = static_cast<double>(state.iterations());
  state.counters["failed"] = iterations - static_cast<double>(passed);
  if (static_cast<double>(passed) != iterations) state.SkipWithError("not every signature verified");
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  std::string export_dir;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--smoke") {
      smoke = true;
    } else if (a.starts_with("--export=")) {
      export_dir = std::string(a.substr(9));
    } else {
      rest.push_back(argv[i]);
    }
  }
  // Lives for the whole run: the benchmarks point into it.
  auto* f = new fixture();
  build(*f, smoke);
  if (!export_dir.empty()) export_set(*f, export_dir);

  const auto iterations = static_cast<benchmark::IterationCount>(f->messages.size() * f->passes);
  benchmark::RegisterBenchmark("sign/rsa-2048", bm_sign, f, &f->rsa)
      ->Iterations(iterations)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("sign/ed25519", bm_sign, f, &f->ed)
      ->Iterations(iterations)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("verify/rsa-2048", bm_verify, f, &f->rsa_signed, nullptr)
      ->Iterations(iterations)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("verify/ed25519", bm_verify, f, &f->ed_signed, nullptr)
      ->Iterations(iterations)
      ->Unit(benchmark::kMicrosecond);
  // One cache for both, as a shard has: the two keys stay in it.
  auto* keys = new dkim::key_cache();
  benchmark::RegisterBenchmark("verify-cached/rsa-2048", bm_verify, f, &f->rsa_signed, keys)
      ->Iterations(iterations)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("verify-cached/ed25519", bm_verify, f, &f->ed_signed, keys)
      ->Iterations(iterations)
      ->Unit(benchmark::kMicrosecond);

  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

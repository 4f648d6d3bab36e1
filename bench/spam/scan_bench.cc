// Regex-rule matching throughput: compiled_rules::match() alone (Hyperscan databases plus
// the PCRE2 fallback rules), with the stock SpamAssassin rules, over the messages of the
// SpamAssassin public corpus. Parsing and rendering (mail/) happen once, before timing, so
// the figures are for the matcher only: bytes/s counts each message's full size.
//
//   RINGMAIL_CORPUS  corpus root, walked recursively (default build/corpus, scripts/fetch-corpus.sh);
//                    *.txt files and files without an extension are messages
//   RINGMAIL_RULES   rule directory (default /usr/share/spamassassin)
//   RINGMAIL_BENCH_MESSAGES  at most this many messages (default 2000)
//
// Skips (with a message) when the corpus or the rules are absent.
//
// BM_scan_* time whole scans (scan_context::scan: parse, relays, match, evals, metas)
// without and through the per-shard scan cache (spam/scan_cache.h): a miss (the cache's
// own cost: digests and entries), a body hit (a copy with other headers), a message hit
// (the same bytes again). RINGMAIL_SPAM_CACHE names a compiled-database directory that
// spares the second compile of the rules (for the engine) on later runs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "mail/charset.h"
#include "mail/message.h"
#include "mail/message_text.h"
#include "spam/match/matcher.h"
#include "spam/rules/loader.h"
#include "spam/scan_cache.h"
#include "spam/scanner.h"

namespace {

namespace fs = std::filesystem;
using namespace ringmail;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Everything built once for all benchmarks: messages with their text views, and rules.
struct fixture {
  std::vector<std::unique_ptr<std::string>> bytes;  // stable addresses: views point here
  std::vector<std::unique_ptr<mail::message>> messages;
  std::vector<mail::message_text> texts;
  size_t total_bytes = 0;
  spam::rule_set rules;
  std::shared_ptr<const spam::compiled_rules> compiled;
  double compile_seconds = 0;
  std::string skip_reason;
};

const fixture& shared_fixture() {
  static const fixture* f = [] {
    auto* f = new fixture();
    const std::string corpus = env_or("RINGMAIL_CORPUS", "build/corpus");
    const std::string rules_dir = env_or("RINGMAIL_RULES", "/usr/share/spamassassin");
    const size_t limit = std::strtoul(env_or("RINGMAIL_BENCH_MESSAGES", "2000").c_str(), nullptr, 10);
    std::error_code ec;
    if (!fs::is_directory(corpus, ec)) {
      f->skip_reason = "corpus not found: " + corpus + " (set RINGMAIL_CORPUS)";
      return f;
    }
    std::vector<fs::path> paths;
    for (auto it = fs::recursive_directory_iterator(corpus, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file()) continue;
      auto ext = it->path().extension();
      if (ext == ".txt" || ext.empty()) paths.push_back(it->path());
    }
    std::sort(paths.begin(), paths.end());
    if (paths.size() > limit) {
      // An even spread over the directories (ham and spam), not the first N of one.
      std::vector<fs::path> picked;
      for (size_t i = 0; i < limit; ++i) picked.push_back(paths[i * paths.size() / limit]);
      paths = std::move(picked);
    }
    mail::charset_converter charsets;
    for (const auto& p : paths) {
      std::ifstream in(p, std::ios::binary);
      auto data = std::make_unique<std::string>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      // The corpus files are mbox entries: drop the "From " separator line.
      if (data->rfind("From ", 0) == 0) {
        size_t nl = data->find('\n');
        data->erase(0, nl == std::string::npos ? data->size() : nl + 1);
      }
      auto msg = std::make_unique<mail::message>(mail::parse_message(*data, charsets));
      f->texts.push_back(mail::render_text(*msg, charsets));
      f->total_bytes += data->size();
      f->bytes.push_back(std::move(data));
      f->messages.push_back(std::move(msg));
    }
    if (f->texts.empty()) {
      f->skip_reason = "no messages under " + corpus;
      return f;
    }
    spam::load_options options;
    options.plugins = spam::supported_plugins();
    options.eval_functions = spam::supported_eval_functions();
    auto rules = spam::load_rules({rules_dir}, options);
    if (!rules.ok()) {
      f->skip_reason = "rules: " + std::string(rules.status().message());
      return f;
    }
    f->rules = std::move(*rules);
    auto start = std::chrono::steady_clock::now();
    auto compiled = spam::compiled_rules::compile(f->rules);
    f->compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!compiled.ok()) {
      f->skip_reason = "compile: " + std::string(compiled.status().message());
      return f;
    }
    f->compiled = std::move(*compiled);
    const auto& s = f->compiled->stats();
    std::fprintf(stderr,
                 "%zu messages, %zu bytes; %zu rules; compiled in %.2f s: %zu hyperscan, %zu pcre, %zu rejected, "
                 "%zu databases, %zu database bytes\n",
                 f->texts.size(), f->total_bytes, f->rules.rules.size(), f->compile_seconds, s.hyperscan_patterns,
                 s.pcre_patterns, s.rejected_patterns, s.databases, s.database_bytes);
    return f;
  }();
  return *f;
}

// One iteration = one message, round-robin over the corpus.
void BM_match(benchmark::State& state) {
  const fixture& f = shared_fixture();
  if (!f.skip_reason.empty()) {
    state.SkipWithError(f.skip_reason.c_str());
    return;
  }
  spam::match_scratch scratch(*f.compiled);
  std::vector<uint32_t> hits;
  size_t i = 0, bytes = 0, rule_hits = 0;
  for (auto _ : state) {
    const auto& text = f.texts[i];
    f.compiled->match(text, scratch, hits);
    benchmark::DoNotOptimize(hits.data());
    bytes += text.full.size();
    if (++i == f.texts.size()) i = 0;
  }
  for (uint32_t h : hits) rule_hits += h != 0;
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
  state.counters["rules_hit_last"] = static_cast<double>(rule_hits);
}
BENCHMARK(BM_match)->Unit(benchmark::kMicrosecond)->MinTime(3.0);

// Once: how long the stock rules take to compile (what a reload costs on the offload pool).
void BM_compile(benchmark::State& state) {
  const fixture& f = shared_fixture();
  if (!f.skip_reason.empty()) {
    state.SkipWithError(f.skip_reason.c_str());
    return;
  }
  for (auto _ : state) {
    auto compiled = spam::compiled_rules::compile(f.rules);
    benchmark::DoNotOptimize(compiled);
  }
}
BENCHMARK(BM_compile)->Unit(benchmark::kMillisecond)->Iterations(1);

// The whole-scan engine (with its own compile of the rules), built on first use.
std::shared_ptr<const spam::spam_engine> scan_engine(std::string& skip) {
  static std::shared_ptr<const spam::spam_engine> engine;
  static std::string error;
  static bool built = [] {
    spam::engine_options o;
    o.rule_paths.push_back(env_or("RINGMAIL_RULES", "/usr/share/spamassassin"));
    o.compiled_rules_cache = env_or("RINGMAIL_SPAM_CACHE", "");
    auto e = spam::spam_engine::build(o);
    if (e.ok()) {
      engine = *e;
    } else {
      error = std::string(e.status().message());
    }
    return true;
  }();
  (void)built;
  skip = error;
  return engine;
}

enum class cache_mode { off, miss, body_hit, message_hit };

// One iteration = one scan, round-robin over the corpus.
void scan_with(benchmark::State& state, cache_mode mode) {
  const fixture& f = shared_fixture();
  std::string skip = f.skip_reason;
  const std::shared_ptr<const spam::spam_engine> engine = skip.empty() ? scan_engine(skip) : nullptr;
  if (engine == nullptr) {
    state.SkipWithError(skip.c_str());
    return;
  }
  spam::scan_context context(engine);
  // A miss: a cache too small for any entry, so every scan digests and builds entries for nothing.
  spam::scan_cache cache(mode == cache_mode::miss ? 1 : 256ull << 20);
  if (mode != cache_mode::off) context.set_cache(&cache);
  if (mode == cache_mode::body_hit || mode == cache_mode::message_hit) {
    for (const auto& b : f.bytes) context.scan(*b);
  }
  size_t i = 0, bytes = 0;
  uint64_t copy = 0;
  std::string variant;
  for (auto _ : state) {
    const std::string& message = *f.bytes[i];
    if (mode == cache_mode::body_hit) {
      // Another delivery of the message: a header no earlier scan saw, the same body.
      state.PauseTiming();
      variant = "X-Delivery: " + std::to_string(++copy) + "\r\n" + message;
      state.ResumeTiming();
      benchmark::DoNotOptimize(context.scan(variant));
    } else {
      benchmark::DoNotOptimize(context.scan(message));
    }
    bytes += message.size();
    if (++i == f.bytes.size()) i = 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
  state.counters["message_hits"] = static_cast<double>(cache.stats().message_hits);
  state.counters["body_hits"] = static_cast<double>(cache.stats().body_hits);
  state.counters["cache_bytes"] = static_cast<double>(cache.bytes());
}
void BM_scan_uncached(benchmark::State& state) { scan_with(state, cache_mode::off); }
void BM_scan_cache_miss(benchmark::State& state) { scan_with(state, cache_mode::miss); }
void BM_scan_cache_body_hit(benchmark::State& state) { scan_with(state, cache_mode::body_hit); }
void BM_scan_cache_message_hit(benchmark::State& state) { scan_with(state, cache_mode::message_hit); }
BENCHMARK(BM_scan_uncached)->Unit(benchmark::kMicrosecond)->MinTime(3.0);
BENCHMARK(BM_scan_cache_miss)->Unit(benchmark::kMicrosecond)->MinTime(3.0);
BENCHMARK(BM_scan_cache_body_hit)->Unit(benchmark::kMicrosecond)->MinTime(3.0);
BENCHMARK(BM_scan_cache_message_hit)->Unit(benchmark::kMicrosecond)->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();

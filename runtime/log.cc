#include "runtime/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace ringmail::log {
namespace {

// The only process-wide setting the runtime keeps: written once at start-up, read relaxed.
std::atomic<int> g_level{static_cast<int>(level::info)};

// The shard that owns the calling thread, for the shard= field; set by the reactor.
thread_local int t_shard = -1;

const char* level_name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "?";
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

void append_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      // Control characters (CR, LF from a hostile peer) must never split a log line.
      absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace

void set_thread_shard(int shard) { t_shard = shard; }

bool parse_level(std::string_view name, level& out) {
  for (level l : {level::debug, level::info, level::warn, level::error, level::off}) {
    if (name == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_level(level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
level current_level() { return static_cast<level>(g_level.load(std::memory_order_relaxed)); }

std::string session_id_string(uint64_t sid) { return absl::StrCat(absl::Hex(sid, absl::kZeroPad16)); }

void write(level l, std::string_view event, std::initializer_list<field> fields) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[40];
  snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  std::string line;
  line.reserve(128);
  absl::StrAppend(&line, "ts=", stamp, " level=", level_name(l));
  if (t_shard >= 0) absl::StrAppend(&line, " shard=", t_shard);
  line.append(" event=");
  append_value(line, event);
  for (const field& f : fields) {
    line.push_back(' ');
    line.append(f.key);
    line.push_back('=');
    append_value(line, f.value);
  }
  line.push_back('\n');
  // stderr is a pipe or journald socket; one write per line keeps lines whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace ringmail::log

// One line per event, key=value, to stderr (journald-friendly), as DESIGN.md asks:
//   ts=2026-11-28T17:43:16.123Z level=info shard=0 sid=1f event=accepted peer=127.0.0.1:5123
// Values with spaces or quotes are quoted. The level is set once at start-up (--log_level);
// reading it is a relaxed atomic load, so logging below the level costs one branch.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace ringmail::log {

enum class level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// Parses "debug|info|warn|error|off"; returns false on an unknown name.
bool parse_level(std::string_view name, level& out);
void set_level(level l);
level current_level();
inline bool enabled(level l) { return static_cast<int>(l) >= static_cast<int>(current_level()); }

// A key=value pair; values are rendered with absl::StrCat's rules.
struct field {
  std::string_view key;
  std::string value;
  template <typename V>
  field(std::string_view k, const V& v) : key(k), value(absl::StrCat(v)) {}
  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const char* v) : key(k), value(v) {}
  field(std::string_view k, const std::string& v) : key(k), value(v) {}
  field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
};

// Writes one line atomically (a single write(2) of the whole line, so lines from
// different shards never interleave).
void write(level l, std::string_view event, std::initializer_list<field> fields);

// Session ids are unique per process: the shard id in the top byte, a per-shard counter below.
std::string session_id_string(uint64_t sid);

// Called by each shard thread once, so its lines carry shard=N.
void set_thread_shard(int shard);

inline void debug(std::string_view e, std::initializer_list<field> f = {}) { if (enabled(level::debug)) write(level::debug, e, f); }
inline void info(std::string_view e, std::initializer_list<field> f = {}) { if (enabled(level::info)) write(level::info, e, f); }
inline void warn(std::string_view e, std::initializer_list<field> f = {}) { if (enabled(level::warn)) write(level::warn, e, f); }
inline void error(std::string_view e, std::initializer_list<field> f = {}) { if (enabled(level::error)) write(level::error, e, f); }

}  // namespace ringmail::log

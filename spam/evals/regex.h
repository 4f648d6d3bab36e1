// A fixed Perl-compatible regex for the eval functions (Received parsing, HeaderEval,
// FreeMail ...), where SpamAssassin's Perl code matches with literal patterns: we keep
// those patterns as written and run them with PCRE2 (JIT), octets only.
//
// The patterns are constants: compiled once (function-local statics, thread-safe
// initialisation) and read-only afterwards; PCRE2 matching on a shared code object is
// thread-safe. Match data is the caller's (one per thread or per call).
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::spam {

// SpamAssassin's Constants.pm IP_ADDRESS (IPv4, IPv4-mapped IPv6, IPv6), as a group to
// splice into a pattern where the Perl source has ${IP_ADDRESS}.
extern const char* const ip_address_pattern;
// Constants.pm IP_PRIVATE, anchored at the start (use with match()).
extern const char* const ip_private_pattern;
// Constants.pm LOCALHOST.
extern const char* const localhost_pattern;

class fixed_regex {
 public:
  static constexpr int max_groups = 10;
  struct groups {
    std::array<std::string_view, max_groups> g{};
    std::array<bool, max_groups> set{};
    size_t start = 0, end = 0;  // of the whole match
    std::string str(int i) const { return std::string(g[i]); }
  };

  // `pattern` may contain "${IP_ADDRESS}" and "${LOCALHOST}", replaced by the groups
  // above. Flags: PCRE2_CASELESS etc. An invalid pattern is a bug: it aborts.
  explicit fixed_regex(std::string_view pattern, uint32_t flags = 0);
  ~fixed_regex();
  fixed_regex(const fixed_regex&) = delete;
  fixed_regex& operator=(const fixed_regex&) = delete;

  bool match(std::string_view subject, groups* out = nullptr) const;
  bool match(std::string_view subject, groups& out) const { return match(subject, &out); }

 private:
  pcre2_code* code_ = nullptr;
};

// Perl's s/PATTERN// on the first match (replace with `with`); true when it matched.
bool substitute_first(const fixed_regex& re, std::string& s, std::string_view with = {});

}  // namespace ringmail::spam

// A pattern constant where the Perl source has a literal /.../: each expansion is its own
// lambda type, so each call site compiles its pattern once (RXI: /.../i).
#define RX(pat)                                                          \
  ([]() -> const ::ringmail::spam::fixed_regex& {                        \
    static const ::ringmail::spam::fixed_regex re_(pat);                 \
    return re_;                                                          \
  }())
#define RXI(pat)                                                         \
  ([]() -> const ::ringmail::spam::fixed_regex& {                        \
    static const ::ringmail::spam::fixed_regex re_(pat, PCRE2_CASELESS); \
    return re_;                                                          \
  }())

// Fixed regexes for the eval functions: PCRE2 with JIT, octets only.
#include "spam/evals/regex.h"

#include <cstdio>
#include <cstdlib>

namespace ringmail::spam {

// Mail::SpamAssassin::Constants, /x comments and whitespace removed; IP_PRIVATE and
// LOCALHOST are /i there.
const char* const ip_address_pattern =
    R"((?:(?:\b(?<!:)(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\b|(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:[a-f0-9]{1,4}:){6}|::(?:[a-f0-9]{1,4}:){0,5}|(?:[a-f0-9]{1,4}:){1,5}:|[a-f0-9]{1,4}::(?:[a-f0-9]{1,4}:){1,4}|(?:[a-f0-9]{1,4}:){2}:(?:[a-f0-9]{1,4}:){1,3}|(?:[a-f0-9]{1,4}:){3}:(?:[a-f0-9]{1,4}:){1,2}|(?:[a-f0-9]{1,4}:){4}:[a-f0-9]{1,4}:)(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)|(?:[a-f0-9]{1,4}:){7}[a-f0-9]{1,4}|:(?::[a-f0-9]{1,4}){1,7}|(?:[a-f0-9]{1,4}:){1,7}:|[a-f0-9]{1,4}:(?::[a-f0-9]{1,4}){1,6}|(?:[a-f0-9]{1,4}:){2}(?::[a-f0-9]{1,4}){1,5}|(?:[a-f0-9]{1,4}:){3}(?::[a-f0-9]{1,4}){1,4}|(?:[a-f0-9]{1,4}:){4}(?::[a-f0-9]{1,4}){1,3}|(?:[a-f0-9]{1,4}:){5}(?::[a-f0-9]{1,4}){1,2}|(?:[a-f0-9]{1,4}:){6}:[a-f0-9]{1,4}|::)(?![a-f0-9:]))))";
const char* const ip_private_pattern =
    R"((?i:^(?:(?:10|127|169\.254|172\.(?:1[6-9]|2[0-9]|3[01])|192\.168|100\.(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))\..*|(?:(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:0{1,4}:){5}ffff:|::(?:0{1,4}:){0,4}ffff:|(?:0{1,4}:){1,4}:ffff:|0{1,4}::(?:0{1,4}:){1,3}ffff:|(?:0{1,4}:){2}:0{1,2}:ffff:|(?:0{1,4}:){3}:0:ffff:|(?:0{1,4}:){4}:ffff:)(?:10|127|169\.254|172\.(?:1[6-9]|2[0-9]|3[01])|192\.168|100\.(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))\..*|fe[89ab][0-9a-f]:.*|(?:0{1,4}:){7}0{0,3}1|:(?::0{1,4}){0,6}:0{0,3}1|0{1,4}:(?::0{1,4}){0,5}:0{0,3}1|(?:0{1,4}:){2}(?::0{1,4}){0,4}:0{0,3}1|(?:0{1,4}:){3}(?::0{1,4}){0,3}:0{0,3}1|(?:0{1,4}:){4}(?::0{1,4}){0,2}:0{0,3}1|(?:0{1,4}:){5}(?::0{1,4}){0,1}:0{0,3}1|(?:0{1,4}:){6}:0{0,3}1)(?![a-f0-9:])))))";
const char* const localhost_pattern =
    R"((?i:(?:localhost(?:\.localdomain)?|\b(?<!:)127\.0\.0\.1\b|(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:0{1,4}:){5}ffff:|::(?:0{1,4}:){0,4}ffff:|(?:0{1,4}:){1,4}:ffff:|0{1,4}::(?:0{1,4}:){1,3}ffff:|(?:0{1,4}:){2}:0{1,2}:ffff:|(?:0{1,4}:){3}:0:ffff:|(?:0{1,4}:){4}:ffff:)127\.0\.0\.1|(?:0{1,4}:){7}0{0,3}1|:(?::0{1,4}){0,6}:0{0,3}1|0{1,4}:(?::0{1,4}){0,5}:0{0,3}1|(?:0{1,4}:){2}(?::0{1,4}){0,4}:0{0,3}1|(?:0{1,4}:){3}(?::0{1,4}){0,3}:0{0,3}1|(?:0{1,4}:){4}(?::0{1,4}){0,2}:0{0,3}1|(?:0{1,4}:){5}(?::0{1,4}){0,1}:0{0,3}1|(?:0{1,4}:){6}:0{0,3}1)(?![a-f0-9:]))))";

namespace {

std::string expand(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 1024);
  while (!pattern.empty()) {
    if (pattern.substr(0, 13) == "${IP_ADDRESS}") {
      out += ip_address_pattern;
      pattern.remove_prefix(13);
    } else if (pattern.substr(0, 12) == "${LOCALHOST}") {
      out += localhost_pattern;
      pattern.remove_prefix(12);
    } else {
      out += pattern[0];
      pattern.remove_prefix(1);
    }
  }
  return out;
}

}  // namespace

fixed_regex::fixed_regex(std::string_view pattern, uint32_t flags) {
  std::string p = expand(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                        flags | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &error, &offset, nullptr);
  if (code_ == nullptr) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(error, buffer, sizeof(buffer));
    std::fprintf(stderr, "fixed_regex: %s at %zu in %s\n", reinterpret_cast<char*>(buffer),
                 static_cast<size_t>(offset), p.c_str());
    std::abort();
  }
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // without JIT it still works, slower
}

fixed_regex::~fixed_regex() { pcre2_code_free(code_); }

bool fixed_regex::match(std::string_view subject, groups* out) const {
  // Match data on the stack would need PCRE2's internals; one small allocation per call
  // is cheap next to the match (the callers run a handful per message).
  pcre2_match_data* md = pcre2_match_data_create(max_groups, nullptr);
  int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.empty() ? "" : subject.data()),
                       subject.size(), 0, 0, md, nullptr);
  bool hit = rc >= 0;
  if (hit && out != nullptr) {
    *out = groups{};
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    int n = rc == 0 ? max_groups : rc;
    out->start = ov[0];
    out->end = ov[1];
    for (int i = 0; i < n && i < max_groups; ++i) {
      if (ov[2 * i] == PCRE2_UNSET) continue;
      out->g[i] = subject.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
      out->set[i] = true;
    }
  }
  pcre2_match_data_free(md);
  return hit;
}

bool substitute_first(const fixed_regex& re, std::string& s, std::string_view with) {
  fixed_regex::groups g;
  if (!re.match(s, g)) return false;
  s.replace(g.start, g.end - g.start, with);
  return true;
}

}  // namespace ringmail::spam

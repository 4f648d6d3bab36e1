// spam/tag_prefilter: simplify_tag_value on arbitrary tag values. Besides not crashing,
// the result must stay a superset: when the original compiles (PCRE2), the simplified
// value compiles too, and every probe subject the original matches whole, it matches.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "spam/match/tag_prefilter.h"

namespace {

bool matches_whole(pcre2_code* code, const std::string& subject) {
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(context, 10000);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, data, context);
  pcre2_match_context_free(context);
  pcre2_match_data_free(data);
  return rc >= 0;
}

pcre2_code* compile_whole(const std::string& pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                       PCRE2_ANCHORED | PCRE2_ENDANCHORED, &error, &offset, nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2000) return 0;
  const std::string value(reinterpret_cast<const char*>(data), size);
  const std::string simplified = ringmail::spam::simplify_tag_value(value);
  if (simplified == value) return 0;
  pcre2_code* original = compile_whole(value);
  if (!original) return 0;
  pcre2_code* shorter = compile_whole(simplified);
  if (!shorter) abort();
  const char* probes[] = {"\xc3\x80", "\xe1\xb8\x80", "\xe1\x80", "\xf0\x9d\x90\x80", "&#12;", "&#x3f2;",
                          "&#;",      "a",            "\xc3",     "&#1a;",            "&#xX;", ""};
  for (const char* probe : probes) {
    if (matches_whole(original, probe) && !matches_whole(shorter, probe)) abort();
  }
  pcre2_code_free(original);
  pcre2_code_free(shorter);
  return 0;
}

// translate_perl_regex on arbitrary bytes, then PCRE2 compiles the result (the matcher's
// fallback engine; Hyperscan gets the same text), and relax_pattern makes a prefilter of
// it. Byte 0 chooses the modifiers and line mode, the rest is the pattern.
// Invariants (abort when broken): no crash or sanitizer report; line mode always yields
// multiline without dotall; and the relaxed prefilter is a superset: on the sample
// subjects (a fixed text and the input itself), wherever PCRE2 matches the pattern it
// also matches the relaxed one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "spam/match/matcher.h"
#include "spam/match/regex_prefilter.h"

namespace {

struct compiled {
  pcre2_code* code = nullptr;
  ~compiled() { pcre2_code_free(code); }
};

// 1 match, 0 no match, -1 error (limits): unknown.
int match(pcre2_code* code, const std::string& subject, pcre2_match_context* context) {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md, context);
  pcre2_match_data_free(md);
  return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string flags;
  if (mode & 1) flags += 'i';
  if (mode & 2) flags += 'm';
  if (mode & 4) flags += 's';
  if (mode & 8) flags += 'x';
  ringmail::spam::translate_options options;
  options.line_mode = (mode & 16) != 0;
  std::string pattern(reinterpret_cast<const char*>(data + 1), size - 1);

  auto t = ringmail::spam::translate_perl_regex(pattern, flags, options);
  if (options.line_mode && (!t.multiline || t.dotall)) std::abort();
  ringmail::spam::analyse_repeats(t.pattern);

  uint32_t pcre_options = PCRE2_NEVER_UTF | PCRE2_NEVER_UCP;
  if (t.caseless) pcre_options |= PCRE2_CASELESS;
  if (t.multiline) pcre_options |= PCRE2_MULTILINE;
  if (t.dotall) pcre_options |= PCRE2_DOTALL;
  int error = 0;
  PCRE2_SIZE offset = 0;
  compiled original{pcre2_compile(reinterpret_cast<PCRE2_SPTR>(t.pattern.data()), t.pattern.size(), pcre_options,
                                  &error, &offset, nullptr)};
  if (!original.code) return 0;
  pcre2_jit_compile(original.code, PCRE2_JIT_COMPLETE);

  // A small max_length (mode bit 5) exercises cutting long patterns to a run of atoms.
  auto relaxed_text = ringmail::spam::relax_pattern(t.pattern, 16, (mode & 32) ? 24 : 4096);
  compiled relaxed;
  if (relaxed_text) {
    relaxed.code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(relaxed_text->data()), relaxed_text->size(),
                                 pcre_options, &error, &offset, nullptr);
  }

  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(context, 100000);
  pcre2_set_depth_limit(context, 1000);
  pcre2_set_heap_limit(context, 1024);
  const std::string subjects[] = {std::string("Hello World\nfoo bar 123 http://x.example/ \t\xa0\xff"), pattern};
  for (const auto& subject : subjects) {
    if (match(original.code, subject, context) == 1 && relaxed.code && match(relaxed.code, subject, context) == 0) {
      std::abort();  // the prefilter would hide a match
    }
  }
  pcre2_match_context_free(context);
  return 0;
}

// translate_perl_regex on arbitrary bytes, then PCRE2 compiles the result (the matcher's
// fallback engine; Hyperscan gets the same text). Byte 0 chooses the modifiers and line
// mode, the rest is the pattern. Invariants: no crash, no sanitizer report, line mode
// always yields multiline without dotall; what PCRE2 compiles also runs on a subject.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "spam/matcher.h"

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

  uint32_t pcre_options = PCRE2_NEVER_UTF | PCRE2_NEVER_UCP;
  if (t.caseless) pcre_options |= PCRE2_CASELESS;
  if (t.multiline) pcre_options |= PCRE2_MULTILINE;
  if (t.dotall) pcre_options |= PCRE2_DOTALL;
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(t.pattern.data()), t.pattern.size(), pcre_options,
                                   &error, &offset, nullptr);
  if (!code) return 0;
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(context, 100000);
  pcre2_set_depth_limit(context, 1000);
  pcre2_set_heap_limit(context, 1024);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  static const char subject[] = "Hello World\nfoo bar 123 http://x.example/ \t\xa0\xff";
  pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject), sizeof(subject) - 1, 0, 0, md, context);
  pcre2_match_data_free(md);
  pcre2_match_context_free(context);
  pcre2_code_free(code);
  return 0;
}

// libFuzzer target for the DKIM key store's `signing` file (spam/dkim/key_store.h,
// parse_signing_file). Build: see fuzz/README.md; sources: spam/dkim/key_store.cc,
// spam/dkim/crypto.cc, mail/encoding.cc, OpenSSL, absl.
//
// The file is the operator's, but the server reads it at every start and reload, so any
// text must give a list or an error, never a crash. What parses: at most one selector per
// key type, sorted by type, each selector in the store's normal form (lower-case LDH
// labels: never a path); and format_signing_file's text parses back to the same list.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "spam/dkim/key_store.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmail::spam::dkim;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_signing_file(input, "signing");
  if (!parsed.ok()) {
    check(!parsed.status().message().empty());
    return 0;
  }
  check(parsed->size() <= 2);
  for (size_t i = 0; i < parsed->size(); ++i) {
    const auto& [type, selector] = (*parsed)[i];
    if (i > 0) check((*parsed)[i - 1].first < type);
    auto normal = normalize_selector(selector);
    check(normal.ok() && *normal == selector);
    check(selector.find('/') == std::string::npos && selector.find("..") == std::string::npos);
  }
  auto again = parse_signing_file(format_signing_file(*parsed), "formatted");
  check(again.ok() && *again == *parsed);
  return 0;
}

// libFuzzer target for DMARC's text parsers (spam/dmarc/): the first byte picks the
// parser — a DMARC TXT record (parse_dmarc_record), or a public suffix list (from_text)
// asked for the Organizational Domain of names taken from the input. Build: see
// fuzz/README.md.
//
// Promises checked: no crash or sanitizer report whatever the bytes; a parsed record
// claimed v=DMARC1, its pct= is 0..100, a defaulted policy is none everywhere; an
// Organizational Domain is a label-aligned suffix of the (normalized) name and ends with
// the name's public suffix, and asking again with the answer gives the answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spam/dmarc/public_suffix.h"
#include "spam/dmarc/record.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

bool label_suffix(std::string_view name, std::string_view suffix) {
  if (suffix.size() > name.size() || name.substr(name.size() - suffix.size()) != suffix) return false;
  return suffix.size() == name.size() || name[name.size() - suffix.size() - 1] == '.';
}

void fuzz_record(std::string_view text) {
  using namespace ringmail::spam;
  auto record = dmarc::parse_dmarc_record(text);
  if (!record.ok()) return;
  check(dmarc::is_dmarc_record(text));
  check(record->percent <= 100);
  if (record->policy_defaulted) {
    check(record->policy == dmarc_policy::none);
    check(record->policy_for(true) == dmarc_policy::none);
  }
}

void fuzz_list(std::string_view text) {
  using namespace ringmail::spam::dmarc;
  // The list is the input up to a NUL; the names to ask about are the lines after it.
  size_t nul = text.find('\0');
  auto list = public_suffix_list::from_text(text.substr(0, nul));
  std::string_view names = nul == std::string_view::npos ? text : text.substr(nul + 1);
  while (!names.empty()) {
    size_t nl = names.find('\n');
    std::string_view name = names.substr(0, nl);
    names = nl == std::string_view::npos ? std::string_view() : names.substr(nl + 1);
    std::string normalized = normalize_domain(name);
    std::string org = list->organizational_domain(name);
    std::string suffix = list->public_suffix(name);
    check(label_suffix(normalized, org));
    check(label_suffix(org, suffix));
    check(list->organizational_domain(org) == org);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    fuzz_list(text);
  } else {
    fuzz_record(text);
  }
  return 0;
}

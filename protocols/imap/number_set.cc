#include "protocols/imap/number_set.h"

#include "absl/strings/str_cat.h"

namespace ringmail::imap {

std::string format_number_set(const std::vector<uint32_t>& numbers) {
  std::string out;
  for (size_t i = 0; i < numbers.size();) {
    size_t j = i;
    // (No run across the top: 4294967295 + 1 wraps to 0, which must not make "4294967295:0".)
    while (j + 1 < numbers.size() && numbers[j] != UINT32_MAX && numbers[j + 1] == numbers[j] + 1) ++j;
    if (!out.empty()) out += ',';
    if (j == i) {
      absl::StrAppend(&out, numbers[i]);
    } else {
      absl::StrAppend(&out, numbers[i], ":", numbers[j]);
    }
    i = j + 1;
  }
  return out;
}

}  // namespace ringmail::imap

// Small string helpers shared by the mail store's format parsers. Internal: this build's
// abseil has its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), so its
// splitting and comparing functions do not take std::string_view; these do.
#pragma once

#include <string_view>
#include <vector>

namespace ringmail::mailstore::format_util {

// All pieces between `sep`, empty ones included ("a,,b" -> "a", "", "b"; "" -> "").
inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace ringmail::mailstore::format_util

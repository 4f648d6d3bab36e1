#include "delivery/mailstore/dovecot_keywords.h"

#include "delivery/mailstore/format_util.h"

#include <charconv>

#include "absl/strings/str_cat.h"

namespace ringmail::mailstore {

bool is_valid_keyword(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;  // CTL, SP, and not CHAR
    switch (c) {
      case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
        return false;
      default:
        break;
    }
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> parse_keywords(std::string_view text) {
  std::vector<std::string> out;
  size_t lineno = 0;
  for (std::string_view line : format_util::split(text, '\n')) {
    ++lineno;
    if (line.empty()) continue;  // the piece after the final "\n"
    size_t sp = line.find(' ');
    std::string_view digits = line.substr(0, sp);
    size_t index = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (sp == std::string_view::npos || digits.empty() || ec != std::errc() ||
        ptr != digits.data() + digits.size()) {
      return absl::InvalidArgumentError(absl::StrCat("dovecot-keywords line ", lineno, ": not \"<index> <name>\""));
    }
    std::string_view name = line.substr(sp + 1);
    if (!is_valid_keyword(name)) {
      return absl::InvalidArgumentError(absl::StrCat("dovecot-keywords line ", lineno, ": invalid keyword"));
    }
    if (index >= max_maildir_keywords) continue;
    if (out.size() <= index) out.resize(index + 1);
    if (!out[index].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("dovecot-keywords line ", lineno, ": duplicate index"));
    }
    for (const std::string& other : out) {
      if (other == name) {
        return absl::InvalidArgumentError(absl::StrCat("dovecot-keywords line ", lineno, ": duplicate name"));
      }
    }
    out[index] = std::string(name);
  }
  return out;
}

std::string format_keywords(const std::vector<std::string>& keywords) {
  std::string out;
  for (size_t i = 0; i < keywords.size() && i < max_maildir_keywords; ++i) {
    if (!keywords[i].empty()) absl::StrAppend(&out, i, " ", keywords[i], "\n");
  }
  return out;
}

}  // namespace ringmail::mailstore

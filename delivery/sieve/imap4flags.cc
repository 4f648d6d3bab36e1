#include "delivery/sieve/imap4flags.h"

#include "absl/strings/str_join.h"
#include "mail/header.h"

namespace ringmail::sieve {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool contains(const std::vector<std::string>& flags, std::string_view flag) {
  for (const std::string& f : flags) {
    if (mail::equals_ignore_case(f, flag)) return true;
  }
  return false;
}

void add_unique(std::vector<std::string>& flags, const std::vector<std::string>& flag_strings,
                bool valid_only) {
  for (const std::string& s : flag_strings) {
    for (std::string& f : split_flags(s)) {
      if (valid_only && !is_imap_flag(f)) continue;
      if (!contains(flags, f)) flags.push_back(std::move(f));
    }
  }
}

}  // namespace

std::vector<std::string> split_flags(std::string_view list) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && is_space(list[i])) ++i;
    size_t start = i;
    while (i < list.size() && !is_space(list[i])) ++i;
    if (i > start) out.emplace_back(list.substr(start, i - start));
  }
  return out;
}

std::string set_flags(const std::vector<std::string>& flag_strings) {
  std::vector<std::string> flags;
  add_unique(flags, flag_strings, true);
  return absl::StrJoin(flags, " ");
}

std::string add_flags(std::string_view current, const std::vector<std::string>& flag_strings) {
  std::vector<std::string> flags;
  add_unique(flags, {std::string(current)}, false);
  add_unique(flags, flag_strings, true);
  return absl::StrJoin(flags, " ");
}

std::string remove_flags(std::string_view current, const std::vector<std::string>& flag_strings) {
  std::vector<std::string> gone;
  add_unique(gone, flag_strings, false);
  std::vector<std::string> flags;
  for (std::string& f : split_flags(current)) {
    if (!contains(gone, f) && !contains(flags, f)) flags.push_back(std::move(f));
  }
  return absl::StrJoin(flags, " ");
}

}  // namespace ringmail::sieve

#include "spam/auth/tag_list.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::spam {
namespace {

bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_fws(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view name) {
  if (name.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<tag>> parse_tag_list(std::string_view text) {
  std::vector<tag> tags;
  while (!text.empty()) {
    size_t end = text.find(';');
    std::string_view spec = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (trim_fws(spec).empty()) {
      // Only the last spec may be empty (a trailing ';'); "a=1;;b=2" is not a tag-list.
      if (!text.empty() && !trim_fws(text).empty()) return absl::InvalidArgumentError("empty tag-spec");
      continue;
    }
    size_t eq = spec.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("tag without '=': \"", std::string(trim_fws(spec).substr(0, 40)), "\""));
    }
    std::string_view name = trim_fws(spec.substr(0, eq));
    if (!valid_name(name)) return absl::InvalidArgumentError(absl::StrCat("bad tag name \"", std::string(name.substr(0, 40)), "\""));
    if (find_tag(tags, name) != nullptr) return absl::InvalidArgumentError(absl::StrCat("duplicate tag ", std::string(name), "="));
    tags.push_back({name, trim_fws(spec.substr(eq + 1))});
  }
  return tags;
}

const tag* find_tag(const std::vector<tag>& tags, std::string_view name) {
  for (const tag& t : tags) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string without_whitespace(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (!is_fws(c)) out.push_back(c);
  }
  return out;
}

}  // namespace ringmail::spam

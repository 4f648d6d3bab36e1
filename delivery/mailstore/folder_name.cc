#include "delivery/mailstore/folder_name.h"

#include "delivery/mailstore/format_util.h"
#include "mail/header.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "delivery/mailstore/mutf7.h"

namespace ringmail::mailstore {
namespace {

absl::Status refuse(std::string_view name, std::string_view why) {
  // The name may hold control bytes: show it escaped so logs stay one line.
  return absl::InvalidArgumentError(
      absl::StrCat("invalid folder name \"", absl::CEscape(absl::string_view(name.data(), name.size())), "\": ", std::string(why)));
}

bool is_inbox(std::string_view level) { return mail::equals_ignore_case(level, "INBOX"); }

}  // namespace

absl::StatusOr<std::string> folder_to_dir(std::string_view name) {
  if (name.empty()) return refuse(name, "empty");
  if (!is_valid_utf8(name)) return refuse(name, "not valid UTF-8");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return refuse(name, "control character");
    if (c == '.') return refuse(name, "'.' is not allowed (it is the on-disk separator)");
  }
  if (name.front() == '~') return refuse(name, "begins with '~'");
  std::vector<std::string_view> levels = format_util::split(name, '/');
  if (levels.size() == 1 && is_inbox(name)) return std::string();
  std::string dir;
  for (size_t i = 0; i < levels.size(); ++i) {
    std::string_view level = levels[i];
    if (level.empty()) return refuse(name, "empty hierarchy level");
    // "." and ".." cannot occur ('.' is refused above); kept as a second line of defence.
    if (level == "." || level == "..") return refuse(name, "level is \".\" or \"..\"");
    dir += '.';
    if (i == 0 && is_inbox(level)) {
      dir += "INBOX";
      continue;
    }
    absl::StatusOr<std::string> encoded = utf8_to_mutf7(level);
    if (!encoded.ok()) return refuse(name, std::string(encoded.status().message()));
    dir += *encoded;
  }
  if (dir.size() > max_folder_dir_bytes) {
    return refuse(name, absl::StrCat("directory name longer than ", max_folder_dir_bytes, " bytes"));
  }
  return dir;
}

absl::StatusOr<std::string> dir_to_folder(std::string_view dir) {
  if (dir.empty()) return std::string("INBOX");
  if (dir.front() != '.') return refuse(dir, "a Maildir++ folder directory starts with '.'");
  if (dir == "." || dir == "..") return refuse(dir, "\".\" and \"..\" are not folders");
  if (dir.size() > max_folder_dir_bytes) return refuse(dir, "longer than NAME_MAX");
  if (dir.find('/') != std::string_view::npos) return refuse(dir, "contains '/'");
  std::vector<std::string> levels;
  for (std::string_view level : format_util::split(dir.substr(1), '.')) {
    if (level.empty()) return refuse(dir, "empty hierarchy level");
    absl::StatusOr<std::string> decoded = mutf7_to_utf8(level);
    if (!decoded.ok()) return refuse(dir, std::string(decoded.status().message()));
    if (decoded->find('/') != std::string::npos) return refuse(dir, "level contains '/'");
    levels.push_back(*std::move(decoded));
  }
  // ".INBOX" alone would be a second INBOX; only INBOX's children live under ".INBOX.".
  if (levels.size() == 1 && is_inbox(levels[0])) return refuse(dir, "\".INBOX\" is not a folder");
  std::string name = absl::StrJoin(levels, "/");
  // Anything folder_to_dir refuses (control characters, '~', a differently cased INBOX
  // level) is refused here too, so the mapping is one to one.
  absl::StatusOr<std::string> back = folder_to_dir(name);
  if (!back.ok()) return back.status();
  if (*back != dir) return refuse(dir, "not the canonical directory for its folder name");
  return name;
}

}  // namespace ringmail::mailstore

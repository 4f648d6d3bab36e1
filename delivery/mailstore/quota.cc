#include "delivery/mailstore/quota.h"

#include <sys/stat.h>

#include <filesystem>

namespace ringmail::mailstore {

int64_t size_from_name(std::string_view name) {
  size_t pos = name.find(",S=");
  if (pos == std::string_view::npos) return -1;
  int64_t v = 0;
  size_t i = pos + 3;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) v = v * 10 + (name[i] - '0');
  return v;
}

uint64_t maildir_usage(const std::string& maildir) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  auto count = [&](const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      int64_t s = size_from_name(name);
      if (s >= 0) {
        total += static_cast<uint64_t>(s);
      } else if (e.is_regular_file(ec)) {
        total += e.file_size(ec);
      }
    }
  };
  fs::path root(maildir);
  count(root / "cur");
  count(root / "new");
  for (const auto& e : fs::directory_iterator(root, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name != ".." && e.is_directory(ec)) {
      count(e.path() / "cur");
      count(e.path() / "new");
    }
  }
  return total;
}

}  // namespace ringmail::mailstore

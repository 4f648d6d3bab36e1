#include "delivery/queue/spool_reader.h"

/* System library. */
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ringmail::queue {
namespace {

bool slurp(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = std::move(ss).str();
  return !in.bad();
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) out.emplace_back(e->d_name);
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::StatusOr<std::vector<spool_entry>> read_spool(const std::string& queue_root) {
  DIR* root = ::opendir(queue_root.c_str());
  if (root == nullptr) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError("no queue at " + queue_root);
    return absl::UnavailableError(queue_root + ": " + std::strerror(err));
  }
  ::closedir(root);
  std::vector<spool_entry> out;
  for (const std::string& shard_name : names_in(queue_root)) {
    unsigned shard = 0;
    auto [p, ec] = std::from_chars(shard_name.data(), shard_name.data() + shard_name.size(), shard);
    if (ec != std::errc() || p != shard_name.data() + shard_name.size()) continue;  // corrupt/, ., ..
    const std::string dir = queue_root + "/" + shard_name;
    for (const std::string& name : names_in(dir)) {
      if (!name.ends_with(".msg")) continue;
      const std::string id = name.substr(0, name.size() - 4);
      if (!valid_queue_id(id)) continue;
      spool_entry e;
      e.shard = shard;
      e.record.id = id;
      std::string bytes;
      if (!slurp(dir + "/" + name, &bytes)) {
        e.problem = "unreadable message file";
        out.push_back(std::move(e));
        continue;
      }
      auto msg = decode_message_file(bytes);
      if (!msg.ok() || msg->record.id != id) {
        e.problem = msg.ok() ? "id differs from the file name" : std::string(msg.status().message());
        out.push_back(std::move(e));
        continue;
      }
      e.record = std::move(msg->record);
      e.message_size = msg->message.size();
      std::string state_bytes;
      if (slurp(dir + "/" + id + ".state", &state_bytes)) {
        auto state = decode_state(state_bytes);
        // The same rule as queue_store::load_all().
        const bool same = state.ok() && same_envelope(*state, e.record);
        if (same) {
          e.record = std::move(*state);
        } else {
          e.problem = "damaged state file (recipients shown as pending)";
        }
      }
      out.push_back(std::move(e));
    }
  }
  std::sort(out.begin(), out.end(), [](const spool_entry& a, const spool_entry& b) {
    return a.record.arrival != b.record.arrival ? a.record.arrival < b.record.arrival : a.record.id < b.record.id;
  });
  return out;
}

}  // namespace ringmail::queue

#include "runtime/file_trace.h"

#include <unistd.h>

#include <filesystem>

#include "runtime/reactor.h"

namespace ringmail {

std::string describe(const file_event& e) {
  using k = file_event::kind;
  switch (e.what) {
    case k::open: return "open fd=" + std::to_string(e.fd) + " " + e.path + " flags=" + std::to_string(e.flags);
    case k::write:
      return "write fd=" + std::to_string(e.fd) + " " + e.path + " @" + std::to_string(e.offset) + " +" +
             std::to_string(e.data.size());
    case k::sync:
      return std::string(e.flags != 0 ? "fdatasync" : "fsync") + " fd=" + std::to_string(e.fd) + " " + e.path +
             " covers=" + std::to_string(e.covers);
    case k::close: return "close fd=" + std::to_string(e.fd) + " " + e.path;
    case k::rename: return "rename " + e.path + " -> " + e.target;
    case k::link: return "link " + e.path + " -> " + e.target;
    case k::unlink: return "unlink " + e.path;
    case k::mkdir: return "mkdir " + e.path;
    case k::rmdir: return "rmdir " + e.path;
    case k::marker: return "marker " + e.data;
  }
  return "?";
}

file_trace* file_trace::current() {
  reactor* r = reactor::current();
  return r != nullptr ? r->file_recorder() : nullptr;
}

void file_trace::mark(std::string text) {
  if (file_trace* t = current()) t->marker(std::move(text));
}

std::string file_trace::absolute(std::string_view path, int dir_fd) const {
  std::filesystem::path p(path);
  if (p.is_relative()) {
    std::string base;
    if (dir_fd == AT_FDCWD) {
      // Tests only (a recorder is attached): getcwd does no I/O.
      char buf[4096];
      if (::getcwd(buf, sizeof buf) == nullptr) return "";
      base = buf;
    } else {
      base = path_of(dir_fd);
      if (base.empty()) return "";
    }
    p = std::filesystem::path(base) / p;
  }
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string file_trace::path_of(int fd) const {
  auto it = fd_paths_.find(fd);
  return it == fd_paths_.end() ? std::string() : it->second;
}

file_event& file_trace::add(file_event::kind what) {
  file_event& e = events_.emplace_back();
  e.what = what;
  return e;
}

void file_trace::opened(int fd, std::string_view path, int flags, int dir_fd) {
  std::string abs = absolute(path, dir_fd);
  fd_paths_[fd] = abs;
  file_event& e = add(file_event::kind::open);
  e.fd = fd;
  e.path = std::move(abs);
  e.flags = flags;
}

void file_trace::wrote(int fd, uint64_t offset, std::span<const char> bytes) {
  file_event& e = add(file_event::kind::write);
  e.fd = fd;
  e.path = path_of(fd);
  e.offset = offset;
  e.data.assign(bytes.data(), bytes.size());
}

void file_trace::sync_submitted(int fd) { pending_syncs_[fd].push_back(events_.size()); }

void file_trace::synced(int fd, bool data_only, int32_t result) {
  // Without a matching submission (the recorder was attached mid-flight) assume the
  // fsync covers nothing recorded: never overstate durability.
  size_t covers = 0;
  auto it = pending_syncs_.find(fd);
  if (it != pending_syncs_.end()) {
    covers = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) pending_syncs_.erase(it);
  }
  if (result < 0) return;
  file_event& e = add(file_event::kind::sync);
  e.fd = fd;
  e.path = path_of(fd);
  e.flags = data_only ? 1 : 0;
  e.covers = covers;
}

void file_trace::closed(int fd) {
  file_event& e = add(file_event::kind::close);
  e.fd = fd;
  e.path = path_of(fd);
  fd_paths_.erase(fd);
  pending_syncs_.erase(fd);
}

void file_trace::renamed(std::string_view from, std::string_view to) {
  file_event& e = add(file_event::kind::rename);
  e.path = absolute(from);
  e.target = absolute(to);
}

void file_trace::linked(std::string_view existing, std::string_view new_path) {
  file_event& e = add(file_event::kind::link);
  e.path = absolute(existing);
  e.target = absolute(new_path);
}

void file_trace::unlinked(std::string_view path) { add(file_event::kind::unlink).path = absolute(path); }

void file_trace::made_directory(std::string_view path) { add(file_event::kind::mkdir).path = absolute(path); }

void file_trace::removed_directory(std::string_view path) { add(file_event::kind::rmdir).path = absolute(path); }

void file_trace::marker(std::string text) { add(file_event::kind::marker).data = std::move(text); }

}  // namespace ringmail

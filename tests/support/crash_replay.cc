#include "tests/support/crash_replay.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "runtime/reactor.h"

namespace ringmail::crash {
namespace {

namespace fs = std::filesystem;
using kind = file_event::kind;

std::string normalise(std::string_view p) {
  std::string out = fs::path(p).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// Components of `path` below `root`, or nullopt when it is not under root.
std::optional<std::vector<std::string>> components_under(const std::string& root, const std::string& path) {
  if (path.empty()) return std::nullopt;
  if (path == root) return std::vector<std::string>{};
  std::string prefix = root == "/" ? "/" : root + "/";
  if (!path.starts_with(prefix)) return std::nullopt;
  std::vector<std::string> out;
  std::string_view rest = std::string_view(path).substr(prefix.size());
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (!part.empty()) out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

struct inode {
  bool is_dir = false;
  std::string data;                        // live content (files)
  std::map<std::string, size_t> entries;   // live entries (directories)
  std::string durable_data;                // content at the last covering fsync
  std::map<std::string, size_t> durable_entries;
  size_t durable_as_of = 0;                // `covers` of the fsync that set the above
};

// A state captured when an fsync was submitted, applied when it completes.
struct capture {
  size_t ino = 0;
  size_t covers = 0;
  std::string data;
  std::map<std::string, size_t> entries;
};

constexpr long kOutside = -1;  // a descriptor of something outside the root: ignored
constexpr long kUnknown = -2;  // opened before recording: its writes cannot be followed

class model {
 public:
  explicit model(const recording& rec) : rec_(rec) { nodes_.push_back(inode{.is_dir = true}); }

  absl::Status load_initial() {
    std::vector<const snapshot_entry*> sorted;
    for (const snapshot_entry& e : rec_.initial) sorted.push_back(&e);
    // Parents before children: "a" < "a/b" lexicographically, and '/' sorts low.
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->path < b->path; });
    for (const snapshot_entry* e : sorted) {
      auto comps = components_under(rec_.root, rec_.root + "/" + e->path);
      if (!comps || comps->empty()) return absl::InvalidArgumentError("bad snapshot path " + e->path);
      auto parent = parent_of(*comps);
      if (!parent.ok()) return parent.status();
      size_t id = new_inode(e->is_dir);
      nodes_[id].data = e->data;
      nodes_[id].durable_data = e->data;
      nodes_[*parent].entries[comps->back()] = id;
      nodes_[*parent].durable_entries[comps->back()] = id;
    }
    return absl::OkStatus();
  }

  absl::Status replay(size_t cut) {
    const auto& ev = rec_.events;
    cut = std::min(cut, ev.size());
    // Which fsyncs (completing before the cut) need a capture at which index.
    std::map<size_t, std::vector<size_t>> captures_at;
    for (size_t i = 0; i < cut; ++i) {
      if (ev[i].what == kind::sync) captures_at[std::min(ev[i].covers, i)].push_back(i);
    }
    for (size_t i = 0; i < cut; ++i) {
      if (auto it = captures_at.find(i); it != captures_at.end()) {
        for (size_t s : it->second) take_capture(s);
      }
      absl::Status st = apply(ev[i]);
      if (!st.ok()) {
        return absl::Status(st.code(), "event " + std::to_string(i) + " (" + describe(ev[i]) + "): " +
                                           std::string(st.message()));
      }
      if (ev[i].what == kind::sync) apply_sync(i);
    }
    return absl::OkStatus();
  }

  absl::Status write_tree(const std::string& out_dir, crash_model m) const {
    absl::flat_hash_map<size_t, std::string> written;  // file inode -> first path (hard links)
    std::set<size_t> visiting;
    return write_dir(0, out_dir, m, written, visiting);
  }

 private:
  size_t new_inode(bool is_dir) {
    nodes_.push_back(inode{.is_dir = is_dir});
    return nodes_.size() - 1;
  }

  // The inode at comps (live), or nullopt.
  std::optional<size_t> lookup(const std::vector<std::string>& comps, size_t n) const {
    size_t id = 0;
    for (size_t i = 0; i < n; ++i) {
      const inode& d = nodes_[id];
      if (!d.is_dir) return std::nullopt;
      auto it = d.entries.find(comps[i]);
      if (it == d.entries.end()) return std::nullopt;
      id = it->second;
    }
    return id;
  }
  std::optional<size_t> lookup(const std::vector<std::string>& comps) const { return lookup(comps, comps.size()); }

  absl::StatusOr<size_t> parent_of(const std::vector<std::string>& comps) const {
    auto p = lookup(comps, comps.size() - 1);
    if (!p || !nodes_[*p].is_dir) return absl::FailedPreconditionError("parent directory not in the model");
    return *p;
  }

  // Path -> (parent dir inode, name), for a path strictly under the root.
  struct slot {
    size_t dir;
    std::string name;
  };
  absl::StatusOr<std::optional<slot>> slot_of(const std::string& path) const {
    auto comps = components_under(rec_.root, path);
    if (!comps) return std::optional<slot>();  // outside: ignored
    if (comps->empty()) return absl::FailedPreconditionError("operation on the root itself");
    auto parent = parent_of(*comps);
    if (!parent.ok()) return parent.status();
    return std::optional<slot>(slot{*parent, comps->back()});
  }

  absl::StatusOr<long> fd_inode(int fd) const {
    auto it = fds_.find(fd);
    if (it == fds_.end() || it->second == kUnknown) {
      return absl::FailedPreconditionError("descriptor not opened while recording");
    }
    return it->second;
  }

  void take_capture(size_t sync_index) {
    const file_event& e = rec_.events[sync_index];
    auto it = fds_.find(e.fd);
    if (it == fds_.end() || it->second < 0) return;  // outside or unknown: covers nothing
    const inode& n = nodes_[static_cast<size_t>(it->second)];
    capture c;
    c.ino = static_cast<size_t>(it->second);
    c.covers = std::min(e.covers, sync_index);
    if (n.is_dir) {
      c.entries = n.entries;
    } else {
      c.data = n.data;
    }
    captures_[sync_index] = std::move(c);
  }

  void apply_sync(size_t sync_index) {
    auto it = captures_.find(sync_index);
    if (it == captures_.end()) return;
    capture& c = it->second;
    inode& n = nodes_[c.ino];
    if (c.covers >= n.durable_as_of) {
      n.durable_as_of = c.covers;
      if (n.is_dir) {
        n.durable_entries = std::move(c.entries);
      } else {
        n.durable_data = std::move(c.data);
      }
    }
    captures_.erase(it);
  }

  absl::Status apply(const file_event& e) {
    switch (e.what) {
      case kind::marker:
      case kind::sync:  // applied by apply_sync from its capture
        return absl::OkStatus();
      case kind::open: {
        if (e.path.empty()) {
          fds_[e.fd] = kUnknown;
          return absl::OkStatus();
        }
        auto comps = components_under(rec_.root, e.path);
        if (!comps) {
          fds_[e.fd] = kOutside;
          return absl::OkStatus();
        }
        auto id = lookup(*comps);
        if (!id) {
          if ((e.flags & O_CREAT) == 0) return absl::FailedPreconditionError("open of a name the model lacks");
          auto parent = parent_of(*comps);
          if (!parent.ok()) return parent.status();
          id = new_inode(false);
          nodes_[*parent].entries[comps->back()] = *id;
        } else if ((e.flags & O_TRUNC) != 0 && !nodes_[*id].is_dir) {
          nodes_[*id].data.clear();
        }
        fds_[e.fd] = static_cast<long>(*id);
        return absl::OkStatus();
      }
      case kind::write: {
        auto id = fd_inode(e.fd);
        if (!id.ok()) return id.status();
        if (*id == kOutside) return absl::OkStatus();
        std::string& data = nodes_[static_cast<size_t>(*id)].data;
        if (data.size() < e.offset + e.data.size()) data.resize(e.offset + e.data.size(), '\0');
        data.replace(e.offset, e.data.size(), e.data);
        return absl::OkStatus();
      }
      case kind::close: fds_.erase(e.fd); return absl::OkStatus();
      case kind::mkdir: {
        auto s = slot_of(e.path);
        if (!s.ok()) return s.status();
        if (!*s) return absl::OkStatus();
        const size_t id = new_inode(true);  // may grow nodes_: before taking a reference
        nodes_[(*s)->dir].entries[(*s)->name] = id;
        return absl::OkStatus();
      }
      case kind::unlink:
      case kind::rmdir: {
        auto s = slot_of(e.path);
        if (!s.ok()) return s.status();
        if (!*s) return absl::OkStatus();
        if (nodes_[(*s)->dir].entries.erase((*s)->name) == 0) return absl::FailedPreconditionError("no such name");
        return absl::OkStatus();
      }
      case kind::rename:
      case kind::link: {
        auto from = slot_of(e.path);
        if (!from.ok()) return from.status();
        auto to = slot_of(e.target);
        if (!to.ok()) return to.status();
        if (!*from) {
          if (!*to) return absl::OkStatus();
          return absl::UnimplementedError("rename or link into the root from outside it");
        }
        auto& src = nodes_[(*from)->dir].entries;
        auto it = src.find((*from)->name);
        if (it == src.end()) return absl::FailedPreconditionError("source name not in the model");
        const size_t id = it->second;
        if (e.what == kind::rename) src.erase(it);
        if (*to) {
          // rename over an existing name replaces it; onto another link of the same
          // inode it does nothing (rename(2)), which re-adding the entry also gives.
          nodes_[(*to)->dir].entries[(*to)->name] = id;
        }
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unknown event");
  }

  absl::Status write_dir(size_t dir, const std::string& out, crash_model m,
                         absl::flat_hash_map<size_t, std::string>& written, std::set<size_t>& visiting) const {
    visiting.insert(dir);
    const auto& entries = m == crash_model::strict ? nodes_[dir].durable_entries : nodes_[dir].entries;
    for (const auto& [name, id] : entries) {
      const inode& n = nodes_[id];
      std::string path = out + "/" + name;
      std::error_code ec;
      if (n.is_dir) {
        if (visiting.contains(id)) continue;  // a cycle through stale durable entries
        fs::create_directory(path, ec);
        if (ec) return absl::InternalError("mkdir " + path + ": " + ec.message());
        absl::Status st = write_dir(id, path, m, written, visiting);
        if (!st.ok()) return st;
        continue;
      }
      if (auto w = written.find(id); w != written.end()) {
        fs::create_hard_link(w->second, path, ec);
        if (ec) return absl::InternalError("link " + path + ": " + ec.message());
        continue;
      }
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f.write(n.durable_data.data(), static_cast<std::streamsize>(n.durable_data.size()));
      f.close();
      if (!f) return absl::InternalError("write " + path);
      written[id] = path;
    }
    visiting.erase(dir);
    return absl::OkStatus();
  }

  const recording& rec_;
  std::vector<inode> nodes_;  // [0] is the root
  absl::flat_hash_map<int, long> fds_;
  std::map<size_t, capture> captures_;
};

}  // namespace

absl::StatusOr<std::vector<snapshot_entry>> snapshot_tree(const std::string& root) {
  std::vector<snapshot_entry> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, ec), end;
  if (ec) return absl::NotFoundError("snapshot " + root + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return absl::InternalError("snapshot " + root + ": " + ec.message());
    const fs::directory_entry& e = *it;
    snapshot_entry s;
    s.path = fs::relative(e.path(), root).string();
    if (e.is_symlink()) return absl::UnimplementedError("snapshot: symbolic link " + e.path().string());
    if (e.is_directory()) {
      s.is_dir = true;
    } else if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      s.data.assign(std::istreambuf_iterator<char>(in), {});
    } else {
      return absl::UnimplementedError("snapshot: not a file or directory: " + e.path().string());
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<recording> record(reactor& r, const std::string& root, const std::function<task<void>()>& workload) {
  recording rec;
  rec.root = normalise(fs::absolute(root).string());
  auto snap = snapshot_tree(rec.root);
  if (!snap.ok()) return snap.status();
  rec.initial = std::move(*snap);
  file_trace trace;
  file_trace* previous = r.file_recorder();
  r.set_file_recorder(&trace);
  struct detach {
    reactor& r;
    file_trace* previous;
    ~detach() { r.set_file_recorder(previous); }
  } guard{r, previous};
  r.block_on(workload());
  rec.events = trace.take_events();
  return rec;
}

std::vector<size_t> cut_points(const recording& rec, size_t max_points) {
  const size_t n = rec.events.size();
  std::set<size_t> chosen{0, n};
  std::set<size_t> optional;
  for (size_t i = 0; i < n; ++i) {
    if (rec.events[i].what == kind::marker) chosen.insert(i + 1);
    if (rec.events[i].what == kind::sync) {
      optional.insert(i);
      optional.insert(i + 1);
    }
  }
  for (size_t c : chosen) optional.erase(c);
  auto spread = [&](const std::vector<size_t>& pool) {
    if (chosen.size() >= max_points || pool.empty()) return;
    const size_t want = max_points - chosen.size();
    if (pool.size() <= want) {
      chosen.insert(pool.begin(), pool.end());
      return;
    }
    for (size_t k = 0; k < want; ++k) chosen.insert(pool[k * pool.size() / want]);
  };
  spread(std::vector<size_t>(optional.begin(), optional.end()));
  std::vector<size_t> rest;
  for (size_t i = 0; i <= n; ++i) {
    if (!chosen.contains(i)) rest.push_back(i);
  }
  spread(rest);
  return std::vector<size_t>(chosen.begin(), chosen.end());
}

absl::Status materialize(const recording& rec, size_t cut, const std::string& out_dir, crash_model m) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InternalError("create " + out_dir + ": " + ec.message());
  if (!fs::is_empty(out_dir, ec)) return absl::FailedPreconditionError("materialize: not empty: " + out_dir);
  model state(rec);
  absl::Status st = state.load_initial();
  if (st.ok()) st = state.replay(cut);
  if (st.ok()) st = state.write_tree(out_dir, m);
  return st;
}

std::vector<std::string> markers_before(const recording& rec, size_t cut) {
  std::vector<std::string> out;
  for (size_t i = 0; i < cut && i < rec.events.size(); ++i) {
    if (rec.events[i].what == kind::marker) out.push_back(rec.events[i].data);
  }
  return out;
}

absl::Status for_each_crash_state(
    const recording& rec, const std::vector<size_t>& cuts, crash_model m, const std::string& scratch,
    const std::function<void(size_t cut, const std::string& dir, const std::vector<std::string>& markers)>& check) {
  for (size_t cut : cuts) {
    remove_tree(scratch);
    absl::Status st = materialize(rec, cut, scratch, m);
    if (!st.ok()) return st;
    check(cut, scratch, markers_before(rec, cut));
  }
  return absl::OkStatus();
}

std::string dump(const recording& rec, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to && i < rec.events.size(); ++i) {
    out += std::to_string(i) + " " + describe(rec.events[i]) + "\n";
  }
  return out;
}

std::string make_temp_dir(std::string_view prefix, std::string base) {
  if (base.empty()) {
    const char* env = ::getenv("TMPDIR");
    base = env != nullptr && *env != '\0' ? env : "/tmp";
  }
  std::string tmpl = base + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

std::string fast_temp_base() { return ::access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : ""; }

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

}  // namespace ringmail::crash

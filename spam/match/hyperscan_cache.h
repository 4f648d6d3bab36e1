// Compiled Hyperscan databases kept on disk, as rspamd keeps its hs cache: compiling the
// stock SpamAssassin rules takes CPU-seconds (tens of them with the long prefilters), and
// a restart or a SIGHUP that does not change the rules should not pay it again.
//
// A database is filed under a SHA-256 of everything that decides its contents: Hyperscan's
// version, the target platform, the mode, and each pattern with its flags and id. Any rule
// change gives new keys; files not used for a while are removed. Entries are written to a
// temporary file and renamed into place, so a reader never sees half a database; one that
// Hyperscan refuses to load (other version or CPU, damaged) is compiled afresh.
//
// The directory is trusted like the rest of the data directory (Hyperscan does not verify a
// serialized database beyond its header): it is created mode 0700. Blocking file I/O: for
// the offload pool, as is the compilation it stands in for.
#pragma once

#include <hs/hs.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::spam {

class hyperscan_cache {
 public:
  // An empty `directory` disables the cache: every lookup misses, stores do nothing.
  explicit hyperscan_cache(std::string directory);

  bool enabled() const { return !directory_.empty(); }

  // The key of the database hs_compile_multi(patterns, flags, ids, mode) would build.
  static std::string key(const std::vector<const char*>& patterns, const std::vector<unsigned>& flags,
                         const std::vector<unsigned>& ids, unsigned mode);

  // The database filed under `key`, or nullptr (absent, unreadable, refused by Hyperscan).
  // A hit refreshes the file's time, which remove_unused() goes by.
  hs_database_t* load(const std::string& key) const;
  // Files `db` under `key`; best effort (a full disk only costs a compile next time).
  void store(const std::string& key, const hs_database_t* db) const;
  // Compiles that failed are filed too (Hyperscan names the pattern it could not take),
  // so a restart does not spend the seconds again to learn the same thing.
  struct failure {
    int pattern = -1;  // index into the patterns, or -1
    std::string error;
  };
  bool load_failure(const std::string& key, failure& out) const;
  void store_failure(const std::string& key, const failure& f) const;
  // Removes entries not loaded or stored for `age`.
  void remove_unused(std::chrono::hours age) const;

 private:
  std::string path_for(const std::string& key, std::string_view suffix) const;
  void write_file(const std::string& path, const char* bytes, size_t length) const;
  std::string directory_;
};

}  // namespace ringmail::spam

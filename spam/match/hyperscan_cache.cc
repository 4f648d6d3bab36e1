#include "spam/match/hyperscan_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace ringmail::spam {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSuffix = ".hsdb";
constexpr std::string_view kFailureSuffix = ".hsdb-failed";

class sha256 {
 public:
  sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~sha256() { EVP_MD_CTX_free(ctx_); }
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  // Each field with its length first, so no two different field lists hash alike.
  void field(std::string_view bytes) {
    const uint64_t size = bytes.size();
    EVP_DigestUpdate(ctx_, &size, sizeof(size));
    EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
  }
  void field(uint64_t value) { EVP_DigestUpdate(ctx_, &value, sizeof(value)); }

  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_, digest, &length);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
      out += digits[digest[i] >> 4];
      out += digits[digest[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

hyperscan_cache::hyperscan_cache(std::string directory) : directory_(std::move(directory)) {
  if (directory_.empty()) return;
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec || ::chmod(directory_.c_str(), 0700) != 0) directory_.clear();  // unusable: no cache
}

std::string hyperscan_cache::key(const std::vector<const char*>& patterns, const std::vector<unsigned>& flags,
                                 const std::vector<unsigned>& ids, unsigned mode) {
  sha256 h;
  h.field(std::string_view(hs_version()));
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) == HS_SUCCESS) {
    h.field(platform.tune);
    h.field(platform.cpu_features);
  }
  h.field(mode);
  h.field(patterns.size());
  for (size_t i = 0; i < patterns.size(); ++i) {
    h.field(std::string_view(patterns[i]));
    h.field(flags[i]);
    h.field(ids[i]);
  }
  return h.hex();
}

std::string hyperscan_cache::path_for(const std::string& key, std::string_view suffix) const {
  return directory_ + "/" + key + std::string(suffix);
}

void hyperscan_cache::write_file(const std::string& path, const char* bytes, size_t length) const {
  std::string temporary = path + ".XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  bool written = fd >= 0;
  for (size_t done = 0; written && done < length;) {
    const ssize_t n = ::write(fd, bytes + done, length - done);
    if (n <= 0) {
      written = false;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (fd >= 0) ::close(fd);
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) ::unlink(temporary.c_str());
}

hs_database_t* hyperscan_cache::load(const std::string& key) const {
  if (!enabled()) return nullptr;
  const std::string path = path_for(key, kSuffix);
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  hs_database_t* db = nullptr;
  if (bytes.empty() || hs_deserialize_database(bytes.data(), bytes.size(), &db) != HS_SUCCESS) return nullptr;
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // used now: keep it
  return db;
}

void hyperscan_cache::store(const std::string& key, const hs_database_t* db) const {
  if (!enabled() || !db) return;
  char* bytes = nullptr;
  size_t length = 0;
  if (hs_serialize_database(db, &bytes, &length) != HS_SUCCESS) return;
  write_file(path_for(key, kSuffix), bytes, length);
  std::free(bytes);
}

bool hyperscan_cache::load_failure(const std::string& key, failure& out) const {
  if (!enabled()) return false;
  const std::string path = path_for(key, kFailureSuffix);
  std::ifstream in(path);
  std::string index;
  if (!in || !std::getline(in, index)) return false;
  char* end = nullptr;
  const long pattern = std::strtol(index.c_str(), &end, 10);
  if (end == index.c_str() || *end != '\0') return false;
  out.pattern = static_cast<int>(pattern);
  out.error.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  return true;
}

void hyperscan_cache::store_failure(const std::string& key, const failure& f) const {
  if (!enabled()) return;
  const std::string text = std::to_string(f.pattern) + "\n" + f.error;
  write_file(path_for(key, kFailureSuffix), text.data(), text.size());
}

void hyperscan_cache::remove_unused(std::chrono::hours age) const {
  if (!enabled()) return;
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - age;
  for (const auto& entry : fs::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    // Finished entries, and temporary files a crash left behind.
    const bool ours = name.find(kSuffix) != std::string::npos;  // entries, failures, crash leftovers
    if (!ours) continue;
    std::error_code time_error;
    const auto modified = entry.last_write_time(time_error);
    if (!time_error && modified < cutoff) fs::remove(entry.path(), time_error);
  }
}

}  // namespace ringmail::spam

// The DKIM key store: see key_store.h for the layout.
#include "spam/dkim/key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <type_traits>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "absl/strings/ascii.h"

namespace ringmail::spam::dkim {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSigningFile = "signing";

// Debian's abseil has its own string_view type, which absl::StrCat wants: this
// concatenation takes std::string_view pieces and numbers.
template <typename... A>
std::string cat(const A&... a) {
  std::string out;
  auto add = [&out](const auto& x) {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_arithmetic_v<T>) {
      out += std::to_string(x);
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      out += std::string_view(x);
    } else {
      out.append(x.data(), x.size());  // absl::string_view (status messages)
    }
  };
  (add(a), ...);
  return out;
}

// Debian's abseil has its own string_view type: convert at the edges.
std::string_view strip(std::string_view s) {
  absl::string_view r = absl::StripAsciiWhitespace(absl::string_view(s.data(), s.size()));
  return std::string_view(r.data(), r.size());
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// LDH labels joined by dots, lower-cased; `what` names it in the error.
absl::StatusOr<std::string> normalize_name(std::string_view name, const char* what, size_t max_len) {
  std::string out = absl::AsciiStrToLower(std::string(name));
  if (out.empty() || out.size() > max_len) return absl::InvalidArgumentError(cat("bad ", what, ": empty or too long"));
  size_t label = 0;
  for (size_t i = 0; i <= out.size(); ++i) {
    if (i == out.size() || out[i] == '.') {
      if (label == 0 || label > 63) {
        return absl::InvalidArgumentError(cat("bad ", what, " '", out, "': empty or long label"));
      }
      if (out[i - 1] == '-' || out[i - label] == '-') {
        return absl::InvalidArgumentError(cat("bad ", what, " '", out, "': label starts or ends with '-'"));
      }
      label = 0;
      continue;
    }
    if (!absl::ascii_isalnum(static_cast<unsigned char>(out[i])) && out[i] != '-') {
      return absl::InvalidArgumentError(
          cat("bad ", what, " '", out, "': only letters, digits, '-' and '.' are allowed"));
    }
    ++label;
  }
  return out;
}

absl::Status errno_status(int err, std::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(err, cat("dkim: cannot ", what, " ", path));
}

// mkdir with 0700; an existing directory is fine (its mode is the operator's).
absl::Status make_private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return errno_status(errno, "create directory", path);
  return absl::OkStatus();
}

absl::Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "open", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : errno_status(err, "fsync", dir);
}

enum class write_mode { create_new, replace };

// A temporary file beside `path` (mkostemp: O_EXCL and mode 0600 from the start, so a key
// is never readable by others even briefly), written and fsynced, then linked to `path`
// (create_new: fails with AlreadyExists when it exists — no check-then-write race) or
// renamed over it (replace), and the directory fsynced.
absl::Status write_file(const std::string& path, std::string_view contents, write_mode mode) {
  std::string temp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "create", temp);
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return errno_status(err, what, temp);
  };
  if (::fchmod(fd, 0600) != 0) return fail("chmod");
  while (!contents.empty()) {
    ssize_t n = ::write(fd, contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    contents.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return errno_status(err, "close", temp);
  }
  int rc = mode == write_mode::create_new ? ::link(temp.c_str(), path.c_str()) : ::rename(temp.c_str(), path.c_str());
  int err = errno;
  if (mode == write_mode::create_new || rc != 0) ::unlink(temp.c_str());
  if (rc != 0) {
    if (err == EEXIST) return absl::AlreadyExistsError(cat("dkim: ", path, " exists"));
    return errno_status(err, mode == write_mode::create_new ? "link" : "rename", path);
  }
  return sync_dir(fs::path(path).parent_path().string());
}

absl::StatusOr<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_status(errno, "read", path);
  std::string out(max_bytes + 1, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  if (out.size() > max_bytes) return absl::InvalidArgumentError(cat("dkim: ", path, " is over ", max_bytes, " bytes"));
  return out;
}

std::string key_file_name(const std::string& selector, key_type type) {
  return cat(selector, ".", to_string(type), ".pem");
}

// The `signing` file of `dir`; a missing file: nothing signs.
absl::StatusOr<signing_selectors> read_signing(const std::string& dir) {
  const std::string path = cat(dir, "/", kSigningFile);
  std::error_code ec;
  if (!fs::exists(path, ec)) return signing_selectors{};
  auto text = read_small_file(path, 64 << 10);
  if (!text.ok()) return text.status();
  return parse_signing_file(*text, path);
}

absl::Status write_signing(const std::string& dir, const signing_selectors& map) {
  return write_file(cat(dir, "/", kSigningFile), format_signing_file(map), write_mode::replace);
}

// A key file, read and checked: private to its owner, a key of `type`.
absl::StatusOr<std::pair<std::string, private_key>> read_key(const std::string& path, key_type type) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno_status(errno, "stat", path);
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return absl::PermissionDeniedError(
        cat("dkim: ", path, " is open to group or others (mode ", mode, "); chmod 600 it"));
  }
  auto pem = read_small_file(path, 64 << 10);
  if (!pem.ok()) return pem.status();
  auto key = load_private_key(*pem);
  if (!key.ok()) return absl::InvalidArgumentError(cat("dkim: ", path, ": ", key.status().message()));
  if (key->type != type) {
    return absl::InvalidArgumentError(cat("dkim: ", path, ": not an ", to_string(type), " key"));
  }
  return std::make_pair(*std::move(pem), *std::move(key));
}

// "<selector>.<type>.pem" -> (selector, type).
std::optional<std::pair<std::string, key_type>> parse_key_file_name(std::string_view name) {
  for (key_type t : {key_type::rsa, key_type::ed25519}) {
    const std::string suffix = cat(".", to_string(t), ".pem");
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      auto sel = normalize_selector(name.substr(0, name.size() - suffix.size()));
      if (sel.ok() && *sel == name.substr(0, name.size() - suffix.size())) return std::make_pair(*sel, t);
    }
  }
  return std::nullopt;
}

std::vector<std::string> domain_names(const std::string& dkim_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dkim_dir, ec)) {
    const std::string name = e.path().filename().string();
    auto d = normalize_domain(name);
    if (d.ok() && *d == name && e.is_directory(ec)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string_view to_string(key_type t) { return t == key_type::ed25519 ? "ed25519" : "rsa"; }

std::optional<key_type> parse_key_type(std::string_view name) {
  if (name == "rsa") return key_type::rsa;
  if (name == "ed25519") return key_type::ed25519;
  return std::nullopt;
}

absl::StatusOr<signing_selectors> parse_signing_file(std::string_view text, std::string_view origin) {
  signing_selectors out;
  int n = 0;
  while (!text.empty()) {
    ++n;
    size_t nl = text.find('\n');
    std::string_view l = strip(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (l.empty() || l[0] == '#') continue;
    size_t sp = l.find_first_of(" \t");
    auto where = [&] { return cat("dkim: ", origin, ":", n, ": "); };
    if (sp == std::string_view::npos) return absl::InvalidArgumentError(cat(where(), "want \"TYPE SELECTOR\""));
    auto type = parse_key_type(l.substr(0, sp));
    if (!type) return absl::InvalidArgumentError(cat(where(), "unknown key type '", l.substr(0, sp), "'"));
    auto selector = normalize_selector(strip(l.substr(sp + 1)));
    if (!selector.ok()) return absl::InvalidArgumentError(cat(where(), selector.status().message()));
    for (const auto& [t, s] : out) {
      if (t == *type) return absl::InvalidArgumentError(cat(where(), "a second ", to_string(*type), " key"));
    }
    out.emplace_back(*type, *selector);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string format_signing_file(const signing_selectors& selectors) {
  std::string text = "# the DKIM selectors that sign, one per key type (ringmail-admin dkim)\n";
  for (const auto& [type, selector] : selectors) text += cat(to_string(type), " ", selector, "\n");
  return text;
}

std::string_view to_string(key_state s) { return s == key_state::signing ? "signing" : "retired"; }

absl::StatusOr<std::string> generate_key(key_type type, unsigned bits) {
  if (type == key_type::rsa && (bits < 1024 || bits > 4096)) {
    return absl::InvalidArgumentError(cat("RSA key size ", bits, " outside 1024..4096 bits"));
  }
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(type == key_type::rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      (type == key_type::rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) <= 0) ||
      EVP_PKEY_keygen(ctx.get(), &raw) <= 0) {
    return absl::InternalError(cat("dkim: key generation failed: ", openssl_error()));
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(raw, EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  // PEM_write_bio_PrivateKey without a cipher writes unencrypted PKCS#8.
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(cat("dkim: cannot encode the key: ", openssl_error()));
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<std::string> dns_txt_record(std::string_view private_key_pem) {
  auto key = load_private_key(private_key_pem);
  if (!key.ok()) return key.status();
  std::string p = public_key_record_value(*key);
  if (p.empty()) return absl::InternalError("dkim: cannot encode the public key");
  return cat("v=DKIM1; k=", to_string(key->type), "; p=", p);
}

std::string dns_record_name(std::string_view selector, std::string_view domain) {
  return cat(selector, "._domainkey.", domain);
}

std::vector<std::string> txt_strings(std::string_view value) {
  std::vector<std::string> out;
  do {
    out.emplace_back(value.substr(0, 255));
    value.remove_prefix(std::min<size_t>(255, value.size()));
  } while (!value.empty());
  return out;
}

std::string zone_file_record(std::string_view name, std::string_view value) {
  // A record value has no '"' or '\' (base64, tags): the strings need no escaping.
  std::string out = cat(name, ". IN TXT (");
  for (const std::string& s : txt_strings(value)) out += cat(" \"", s, "\"");
  out += " )";
  return out;
}

std::string default_selector(key_type type, std::string_view yyyymmdd) {
  return cat("rm", yyyymmdd, type == key_type::ed25519 ? "e" : "");
}

absl::StatusOr<std::string> normalize_domain(std::string_view domain) { return normalize_name(domain, "domain", 253); }

absl::StatusOr<std::string> normalize_selector(std::string_view selector) {
  return normalize_name(selector, "selector", 200);
}

absl::StatusOr<dkim_key_table> load_signing_keys(std::string_view data_dir) {
  dkim_key_table table;
  const std::string dkim_dir = cat(data_dir, "/dkim");
  std::error_code ec;
  if (!fs::is_directory(dkim_dir, ec)) return table;
  for (const std::string& domain : domain_names(dkim_dir)) {
    const std::string dir = cat(dkim_dir, "/", domain);
    auto signing = read_signing(dir);
    if (!signing.ok()) return signing.status();
    for (const auto& [type, selector] : *signing) {
      auto key = read_key(cat(dir, "/", key_file_name(selector, type)), type);
      if (!key.ok()) return key.status();
      table[domain].push_back({selector, type, std::move(key->first)});
    }
  }
  return table;
}

key_store::key_store(std::string data_dir) : data_dir_(std::move(data_dir)) {}

std::string key_store::domain_dir(const std::string& domain) const {
  return cat(data_dir_, "/dkim/", domain);
}

absl::StatusOr<stored_key> key_store::generate(std::string_view domain_in, std::string_view selector_in,
                                               key_type type, unsigned bits, bool activate_it) {
  auto domain = normalize_domain(domain_in);
  if (!domain.ok()) return domain.status();
  auto selector = normalize_selector(selector_in);
  if (!selector.ok()) return selector.status();
  if (type == key_type::rsa && (bits < 1024 || bits > 4096)) {
    return absl::InvalidArgumentError(cat("RSA key size ", bits, " outside 1024..4096 bits"));
  }
  const std::string dir = domain_dir(*domain);
  // The data directory too when it is missing (a first keygen before the first start).
  for (const std::string& d : {data_dir_, cat(data_dir_, "/dkim"), dir}) {
    if (d.empty()) continue;
    if (auto st = make_private_dir(d); !st.ok()) return st;
  }
  // One key per selector: the DNS name holds one record whatever the type.
  for (key_type t : {key_type::rsa, key_type::ed25519}) {
    std::error_code ec;
    if (fs::exists(cat(dir, "/", key_file_name(*selector, t)), ec)) {
      return absl::AlreadyExistsError(cat("dkim: ", *domain, " already has selector ", *selector, " (",
                                                   to_string(t), "); choose another --selector"));
    }
  }
  auto signing = read_signing(dir);  // before writing: a broken file stops us early
  if (!signing.ok()) return signing.status();
  auto pem = generate_key(type, bits);
  if (!pem.ok()) return pem.status();
  stored_key key;
  key.domain = *domain;
  key.selector = *selector;
  key.type = type;
  key.bits = type == key_type::ed25519 ? 256 : bits;
  key.path = cat(dir, "/", key_file_name(*selector, type));
  if (auto st = write_file(key.path, *pem, write_mode::create_new); !st.ok()) return st;
  bool has_type = false;
  for (const auto& [t, s] : *signing) has_type = has_type || t == type;
  if (activate_it || !has_type) {
    if (auto st = activate(*domain, *selector); !st.ok()) return st;
    key.state = key_state::signing;
  }
  return key;
}

absl::Status key_store::activate(std::string_view domain_in, std::string_view selector_in) {
  auto domain = normalize_domain(domain_in);
  if (!domain.ok()) return domain.status();
  auto selector = normalize_selector(selector_in);
  if (!selector.ok()) return selector.status();
  const std::string dir = domain_dir(*domain);
  std::optional<key_type> type;
  for (key_type t : {key_type::rsa, key_type::ed25519}) {
    std::error_code ec;
    if (fs::exists(cat(dir, "/", key_file_name(*selector, t)), ec)) type = t;
  }
  if (!type) return absl::NotFoundError(cat("dkim: ", *domain, " has no key with selector ", *selector));
  // The key must load before it may sign.
  if (auto key = read_key(cat(dir, "/", key_file_name(*selector, *type)), *type); !key.ok()) {
    return key.status();
  }
  auto signing = read_signing(dir);
  if (!signing.ok()) return signing.status();
  std::erase_if(*signing, [&](const auto& e) { return e.first == *type; });
  signing->emplace_back(*type, *selector);
  std::sort(signing->begin(), signing->end());
  return write_signing(dir, *signing);
}

absl::StatusOr<std::vector<stored_key>> key_store::list(std::string_view domain_in) const {
  std::vector<std::string> domains;
  if (!domain_in.empty()) {
    auto domain = normalize_domain(domain_in);
    if (!domain.ok()) return domain.status();
    domains.push_back(*domain);
  } else {
    domains = domain_names(cat(data_dir_, "/dkim"));
  }
  std::vector<stored_key> out;
  for (const std::string& domain : domains) {
    const std::string dir = domain_dir(domain);
    auto signing = read_signing(dir);
    if (!signing.ok()) return signing.status();
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) {
      auto parsed = parse_key_file_name(f);
      if (!parsed) continue;  // temporary files, the signing file, strays
      stored_key k;
      k.domain = domain;
      k.selector = parsed->first;
      k.type = parsed->second;
      k.path = cat(dir, "/", f);
      auto key = read_key(k.path, k.type);
      if (!key.ok()) return key.status();
      k.bits = key->second.bits;
      for (const auto& [t, s] : *signing) {
        if (t == k.type && s == k.selector) k.state = key_state::signing;
      }
      out.push_back(std::move(k));
    }
  }
  return out;
}

absl::StatusOr<std::vector<stored_key>> key_store::signing(std::string_view domain) const {
  auto all = list(domain);
  if (!all.ok()) return all.status();
  std::vector<stored_key> out;
  for (stored_key& k : *all) {
    if (k.state == key_state::signing) out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(), [](const stored_key& a, const stored_key& b) { return a.type < b.type; });
  return out;
}

absl::StatusOr<std::vector<key_store::rotation>> key_store::rotate(std::string_view domain, std::string_view yyyymmdd) {
  auto current = signing(domain);
  if (!current.ok()) return current.status();
  if (current->empty()) {
    return absl::FailedPreconditionError(cat("dkim: ", domain, " has no signing key to rotate (dkim keygen first)"));
  }
  std::vector<rotation> out;
  for (const stored_key& old : *current) {
    const std::string base = default_selector(old.type, yyyymmdd);
    for (int n = 1; n < 100; ++n) {
      const std::string selector = n == 1 ? base : cat(base, "-", n);
      auto made = generate(old.domain, selector, old.type, old.type == key_type::rsa ? old.bits : 256, true);
      if (absl::IsAlreadyExists(made.status())) continue;
      if (!made.ok()) return made.status();
      stored_key retired = old;
      retired.state = key_state::retired;
      out.push_back({std::move(retired), *std::move(made)});
      break;
    }
    if (out.empty() || out.back().retired.selector != old.selector) {
      return absl::ResourceExhaustedError(cat("dkim: no free selector for ", base, " in ", old.domain));
    }
  }
  return out;
}

absl::StatusOr<std::string> key_store::record(const stored_key& key) const {
  auto read = read_key(key.path, key.type);
  if (!read.ok()) return read.status();
  return dns_txt_record(read->first);
}

}  // namespace ringmail::spam::dkim

#include "runtime/tls_context.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::tls {
namespace {

template <auto free_fn>
struct free_with {
  template <typename T>
  void operator()(T* p) const {
    free_fn(p);
  }
};
using bio_ptr = std::unique_ptr<BIO, free_with<BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, free_with<BN_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, free_with<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, free_with<X509_free>>;
using x509_ext_ptr = std::unique_ptr<X509_EXTENSION, free_with<X509_EXTENSION_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, free_with<GENERAL_NAMES_free>>;

// OpenSSL's default passphrase callback prompts on the terminal, which would hang a
// daemon started with an encrypted key; refusing makes the load fail with an error.
int refuse_passphrase(char*, int, int, void*) { return 0; }

// Settings every context gets, server or client, default or per-SNI-host.
absl::Status configure_common(SSL_CTX* ctx) {
  // TLS 1.0 and 1.1 are deprecated (RFC 8996).
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return absl::InternalError(
        absl::StrCat("tls: cannot set minimum protocol version: ", take_openssl_errors()));
  }
  // Renegotiation lets a client make the server do handshake work at will (a cheap DoS)
  // and has a history of bugs; TLS 1.3 dropped it. Compression enables CRIME.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle IMAP connections are the common case; free the ~34 KiB of record buffers while
  // a connection has nothing in flight.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
  return absl::OkStatus();
}

// A readable-file check first, so a wrong path reads "No such file or directory" rather
// than an OpenSSL "system library" error.
absl::Status check_readable(const std::string& path, const char* what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("tls: cannot read ", what, " ", path));
  ::close(fd);
  return absl::OkStatus();
}

absl::Status load_certificate_pair(SSL_CTX* ctx, const std::string& cert_file,
                                   const std::string& key_file) {
  if (auto s = check_readable(cert_file, "certificate"); !s.ok()) return s;
  if (auto s = check_readable(key_file, "private key"); !s.ok()) return s;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls: cannot load certificate chain from ",
                                                   cert_file, ": ", take_openssl_errors()));
  }
  auto mismatch = [&] {
    return absl::InvalidArgumentError(absl::StrCat("tls: private key ", key_file,
                                                   " does not match certificate ", cert_file, ": ",
                                                   take_openssl_errors()));
  };
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // Loading the key already compares it with the certificate; say so plainly, as
    // OpenSSL's "key values mismatch" does not name the files.
    unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_X509 && ERR_GET_REASON(last) == X509_R_KEY_VALUES_MISMATCH) {
      return mismatch();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("tls: cannot load private key from ", key_file, ": ", take_openssl_errors()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return mismatch();
  return absl::OkStatus();
}

absl::StatusOr<ssl_ctx_ptr> new_server_ctx(const std::string& cert_file,
                                           const std::string& key_file) {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    return absl::InternalError(absl::StrCat("tls: SSL_CTX_new: ", take_openssl_errors()));
  }
  if (auto s = configure_common(ctx.get()); !s.ok()) return s;
  if (auto s = load_certificate_pair(ctx.get(), cert_file, key_file); !s.ok()) {
    ERR_clear_error();
    return s;
  }
  return ctx;
}

// Host names compare case-insensitively (RFC 4343) and "host." names the same host as
// "host".
std::string normalize_host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string lower(name);
  absl::AsciiStrToLower(&lower);
  return lower;
}

}  // namespace

void ssl_ctx_deleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

std::string take_openssl_errors() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
    if ((flags & ERR_TXT_STRING) && data != nullptr && *data != '\0') {
      absl::StrAppend(&out, " (", data, ")");
    }
  }
  return out;
}

context::context(ssl_ctx_ptr ctx, bool is_server, bool verifies_peer)
    : ctx_(std::move(ctx)), is_server_(is_server), verifies_peer_(verifies_peer) {}

context::~context() = default;

absl::StatusOr<std::shared_ptr<context>> context::make_server(const std::string& cert_file,
                                                              const std::string& key_file) {
  auto ctx = new_server_ctx(cert_file, key_file);
  if (!ctx.ok()) return ctx.status();
  std::shared_ptr<context> result(new context(std::move(*ctx), true, false));
  // `this` outlives every SSL made from it: each engine holds a shared_ptr<context>.
  SSL_CTX_set_tlsext_servername_callback(result->native(), &context::on_server_name);
  SSL_CTX_set_tlsext_servername_arg(result->native(), result.get());
  return result;
}

absl::StatusOr<std::shared_ptr<context>> context::make_client(bool verify_peer,
                                                              const std::string& ca_file) {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return absl::InternalError(absl::StrCat("tls: SSL_CTX_new: ", take_openssl_errors()));
  }
  if (auto s = configure_common(ctx.get()); !s.ok()) return s;
  if (!ca_file.empty()) {
    if (auto s = check_readable(ca_file, "CA file"); !s.ok()) return s;
    if (SSL_CTX_load_verify_file(ctx.get(), ca_file.c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("tls: cannot load CA certificates from ",
                                                     ca_file, ": ", take_openssl_errors()));
    }
  } else if (verify_peer && SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return absl::InternalError(
        absl::StrCat("tls: cannot load the system trust store: ", take_openssl_errors()));
  }
  SSL_CTX_set_verify(ctx.get(), verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return std::shared_ptr<context>(new context(std::move(ctx), false, verify_peer));
}

absl::Status context::add_sni_certificate(std::string_view hostname, const std::string& cert_file,
                                          const std::string& key_file) {
  if (!is_server_) {
    return absl::FailedPreconditionError("tls: SNI certificates are for server contexts");
  }
  std::string key = normalize_host_name(hostname);
  if (key.empty()) return absl::InvalidArgumentError("tls: empty SNI host name");
  auto ctx = new_server_ctx(cert_file, key_file);
  if (!ctx.ok()) return ctx.status();
  sni_contexts_.insert_or_assign(std::move(key), std::move(*ctx));
  return absl::OkStatus();
}

int context::on_server_name(SSL* ssl, int* /*alert*/, void* arg) {
  auto* self = static_cast<context*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr || self->sni_contexts_.empty()) return SSL_TLSEXT_ERR_NOACK;
  auto it = self->sni_contexts_.find(normalize_host_name(name));
  // An unknown name is no reason to fail: the default certificate may still be what the
  // client wants (a wildcard, or a client that does not check names at all).
  if (it == self->sni_contexts_.end()) return SSL_TLSEXT_ERR_NOACK;
  // Only the certificate and key come from the per-host context; protocol settings stay
  // those of the SSL object, which were copied from the default context.
  if (SSL_set_SSL_CTX(ssl, it->second.get()) == nullptr) return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

// ---------------------------------------------------------------------------------------
// Self-signed certificate for first start.

namespace {

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Letters, digits, '-' and '.' (RFC 1123 §2.1), so the name cannot smuggle anything into
// the certificate.
bool is_plain_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// mkdir -p with mode 0700 for the parts that are missing; a private key lives there.
absl::Status make_parent_directories(const std::string& file_path) {
  std::filesystem::path parent = std::filesystem::path(file_path).parent_path();
  if (parent.empty()) return absl::OkStatus();
  std::filesystem::path partial;
  for (const auto& part : parent) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("tls: cannot create directory ", partial.string()));
    }
  }
  return absl::OkStatus();
}

absl::Status sync_directory_of(const std::string& file_path) {
  std::filesystem::path parent = std::filesystem::path(file_path).parent_path();
  std::string dir = parent.empty() ? "." : parent.string();
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("tls: cannot open ", dir));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return absl::ErrnoToStatus(err, absl::StrCat("tls: cannot fsync ", dir));
  return absl::OkStatus();
}

// Writes `contents` to a fresh temporary file beside `path` (mkstemp: O_EXCL, mode 0600
// from the start, so a key is never readable by others even briefly), fsyncs it and
// renames it over `path`. Readers see the old file or the whole new one, never a part.
absl::Status write_file_atomically(const std::string& path, std::string_view contents,
                                   mode_t mode) {
  std::string temp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("tls: cannot create ", temp));
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("tls: cannot ", what, " ", temp));
  };
  if (::fchmod(fd, mode) != 0) return fail("chmod");
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
    return absl::ErrnoToStatus(err, absl::StrCat("tls: cannot close ", temp));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("tls: cannot rename ", temp, " to ", path));
  }
  return sync_directory_of(path);
}

// Serialises with `write` into a memory BIO and hands its bytes to write_file_atomically.
// The BIO's buffer is wiped when freed (BUF_MEM_free uses OPENSSL_clear_free), so the
// PEM key does not linger on the heap.
template <typename Writer>
absl::Status write_pem(const std::string& path, mode_t mode, const char* what, Writer write) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) {
    return absl::InternalError(
        absl::StrCat("tls: cannot encode ", what, ": ", take_openssl_errors()));
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return write_file_atomically(path, std::string_view(data, static_cast<size_t>(size)), mode);
}

absl::Status add_extension(X509* cert, X509V3_CTX* v3, int nid, const char* value) {
  x509_ext_ptr ext(X509V3_EXT_conf_nid(nullptr, v3, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return absl::InternalError(
        absl::StrCat("tls: cannot add extension ", OBJ_nid2sn(nid), ": ", take_openssl_errors()));
  }
  return absl::OkStatus();
}

// subjectAltName built as a structure rather than a config string, so nothing in the
// name is parsed as syntax. Clients match on it, not on the CN (RFC 6125 §6.4.4).
absl::Status add_subject_alt_name(X509* cert, const std::string& host, bool is_ip) {
  general_names_ptr names(sk_GENERAL_NAME_new_null());
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (!names || name == nullptr) {
    GENERAL_NAME_free(name);
    return absl::ResourceExhaustedError("tls: out of memory building subjectAltName");
  }
  if (is_ip) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
    if (ip == nullptr) {
      GENERAL_NAME_free(name);
      return absl::InvalidArgumentError(absl::StrCat("tls: bad IP address ", host));
    }
    GENERAL_NAME_set0_value(name, GEN_IPADD, ip);
  } else {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    if (dns == nullptr || ASN1_STRING_set(dns, host.data(), static_cast<int>(host.size())) != 1) {
      ASN1_IA5STRING_free(dns);
      GENERAL_NAME_free(name);
      return absl::ResourceExhaustedError("tls: out of memory building subjectAltName");
    }
    GENERAL_NAME_set0_value(name, GEN_DNS, dns);
  }
  if (sk_GENERAL_NAME_push(names.get(), name) == 0) {
    GENERAL_NAME_free(name);
    return absl::ResourceExhaustedError("tls: out of memory building subjectAltName");
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return absl::InternalError(
        absl::StrCat("tls: cannot add subjectAltName: ", take_openssl_errors()));
  }
  return absl::OkStatus();
}

absl::StatusOr<x509_ptr> make_self_signed(EVP_PKEY* key, const std::string& host) {
  const bool is_ip = is_ip_literal(host);
  auto openssl_failure = [](const char* what) {
    return absl::InternalError(absl::StrCat("tls: ", what, ": ", take_openssl_errors()));
  };
  x509_ptr cert(X509_new());
  if (!cert) return openssl_failure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return openssl_failure("set version");

  // A random positive serial of at most 20 octets (RFC 5280 §4.1.2.2): 159 bits.
  bignum_ptr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return openssl_failure("serial number");
  }

  // Backdated an hour so a client whose clock is slightly behind still accepts it.
  constexpr long kTenYearsInDays = 3653;
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kTenYearsInDays, 0, nullptr) == nullptr) {
    return openssl_failure("validity");
  }

  // The CN is limited to 64 characters (RFC 5280 ub-common-name); longer names are only
  // in the subjectAltName, which is what clients check anyway.
  X509_NAME* subject = X509_get_subject_name(cert.get());
  std::string common_name = host.size() <= 64 ? host : "ringmail self-signed";
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1) {
    return openssl_failure("subject name");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) return openssl_failure("public key");

  X509V3_CTX v3;
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature"},
                            std::pair{NID_ext_key_usage, "serverAuth"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto s = add_extension(cert.get(), &v3, nid, value); !s.ok()) return s;
  }
  if (auto s = add_subject_alt_name(cert.get(), host, is_ip); !s.ok()) return s;

  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return openssl_failure("sign");
  return cert;
}

}  // namespace

absl::Status ensure_self_signed_certificate(const std::string& cert_path,
                                            const std::string& key_path,
                                            std::string_view hostname) {
  if (file_exists(cert_path) && file_exists(key_path)) return absl::OkStatus();

  std::string host = normalize_host_name(hostname);
  if (!is_plain_host_name(host) && !is_ip_literal(host)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls: not a host name for a certificate: \"", std::string(hostname), "\""));
  }
  if (auto s = make_parent_directories(key_path); !s.ok()) return s;
  if (auto s = make_parent_directories(cert_path); !s.ok()) return s;

  absl::Status status = [&]() -> absl::Status {
    // P-256: every TLS 1.2+ client supports it and signing is far cheaper than RSA.
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key) {
      return absl::InternalError(
          absl::StrCat("tls: cannot generate EC P-256 key: ", take_openssl_errors()));
    }
    auto cert = make_self_signed(key.get(), host);
    if (!cert.ok()) return cert.status();
    // No certificate while the key is replaced, and the key written first: a crash at any
    // point leaves the certificate missing, so the next start generates a fresh pair
    // instead of pairing a new key with an old certificate.
    if (::unlink(cert_path.c_str()) != 0 && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, absl::StrCat("tls: cannot remove ", cert_path));
    }
    if (auto s = write_pem(key_path, 0600, "private key",
                           [&](BIO* b) {
                             return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0,
                                                             nullptr, nullptr) == 1;
                           });
        !s.ok()) {
      return s;
    }
    return write_pem(cert_path, 0644, "certificate",
                     [&](BIO* b) { return PEM_write_bio_X509(b, cert->get()) == 1; });
  }();
  ERR_clear_error();
  return status;
}

}  // namespace ringmail::tls

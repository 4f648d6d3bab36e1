// TLS configuration shared by many connections: one OpenSSL SSL_CTX (certificates, trust
// store, protocol floor) per listener or per outbound policy. Connections are driven by
// tls::engine (tls_engine.h), which holds a std::shared_ptr<context> so the context lives
// as long as its last connection.
//
// Configure a context fully (add_sni_certificate) before the first engine uses it; after
// that it is only read, so engines on several shards may share it.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringmail::tls {

// Frees an SSL_CTX (drops one reference; OpenSSL reference-counts it).
struct ssl_ctx_deleter {
  void operator()(SSL_CTX* ctx) const;
};
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_deleter>;

class context {
 public:
  // A server context presenting the PEM certificate chain in cert_file (leaf first) with
  // the PEM private key in key_file. Fails if either cannot be read or they do not match.
  static absl::StatusOr<std::shared_ptr<context>> make_server(const std::string& cert_file,
                                                              const std::string& key_file);

  // A client context. With verify_peer the server's chain must lead to a CA in ca_file
  // (or, if ca_file is empty, the system trust store) and each engine must be given the
  // host name it expects (tls_engine.h). Without it any certificate is accepted, as
  // opportunistic TLS between MTAs does (RFC 7435): encryption without authentication.
  static absl::StatusOr<std::shared_ptr<context>> make_client(bool verify_peer,
                                                              const std::string& ca_file = "");

  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  // Server only: when a client asks for `hostname` through SNI (RFC 6066 §3; compared
  // without regard to ASCII case or a trailing dot), present this certificate instead of
  // the default one. Names nobody registered keep the default certificate.
  absl::Status add_sni_certificate(std::string_view hostname, const std::string& cert_file,
                                   const std::string& key_file);

  bool is_server() const { return is_server_; }
  bool verifies_peer() const { return verifies_peer_; }

  // For tls::engine, which makes its SSL objects from it.
  SSL_CTX* native() const { return ctx_.get(); }

 private:
  context(ssl_ctx_ptr ctx, bool is_server, bool verifies_peer);

  // SSL_CTX servername callback: switches the connection to the certificate for the
  // name the client sent, if there is one.
  static int on_server_name(SSL* ssl, int* alert, void* arg);

  ssl_ctx_ptr ctx_;
  bool is_server_;
  bool verifies_peer_;
  // Lower-case host name without trailing dot -> context holding that host's certificate.
  absl::flat_hash_map<std::string, ssl_ctx_ptr> sni_contexts_;
};

// Makes sure a certificate and key exist at these paths so a fresh install serves TLS
// out of the box. If both files exist they are left alone (even if they are not
// self-signed: an administrator may have put real ones there). Otherwise both are
// (re)generated: an EC P-256 key and a self-signed X.509 v3 certificate for `hostname`
// (CN and subjectAltName), valid for ten years. Missing parent directories are created
// with mode 0700; the key is written with mode 0600, each file through a temporary name
// and rename(2) so a crash never leaves half a key behind.
absl::Status ensure_self_signed_certificate(const std::string& cert_path,
                                            const std::string& key_path, std::string_view hostname);

// Empties this thread's OpenSSL error queue and returns its entries as one line
// ("reason (detail); reason"), or "" if it was empty. The queue is per thread and shared
// by every connection on it, so every caller of OpenSSL must leave it empty.
std::string take_openssl_errors();

}  // namespace ringmail::tls

#include "runtime/tls_engine.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ringmail::tls {
namespace {

// SSL_get_error() inspects this thread's error queue, so the queue must be empty before
// each SSL_* call (another connection on this thread may have left entries behind), and
// we empty it again afterwards so we leave nothing for the next connection.
class error_queue_scope {
 public:
  error_queue_scope() { ERR_clear_error(); }
  ~error_queue_scope() { ERR_clear_error(); }
  error_queue_scope(const error_queue_scope&) = delete;
  error_queue_scope& operator=(const error_queue_scope&) = delete;
};

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// An empty memory BIO keeps the largest buffer it ever held (BUF_MEM only grows): one big
// response would pin its size in the write BIO for the rest of the connection. Above this
// an empty BIO is swapped for a fresh one (small ones are kept to spare the allocations).
constexpr size_t kKeepEmptyBioBytes = 1024;

size_t mem_bio_capacity(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return mem == nullptr ? 0 : mem->max;
}

// A fresh empty memory BIO in place of `old` (which must hold nothing) if `old` has grown
// above kKeepEmptyBioBytes. Allocation failure keeps the old one.
BIO* fresh_if_grown(BIO* old, bool input) {
  if (BIO_ctrl_pending(old) != 0 || mem_bio_capacity(old) <= kKeepEmptyBioBytes) return nullptr;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr && input) BIO_set_mem_eof_return(bio, -1);
  return bio;
}

}  // namespace

void ssl_deleter::operator()(SSL* ssl) const { SSL_free(ssl); }

engine::engine(std::shared_ptr<context> ctx, role r, std::string_view sni_hostname)
    : ctx_(std::move(ctx)) {
  error_queue_scope scope;
  if (ctx_ == nullptr) {
    fail("tls: engine created without a context");
    return;
  }
  if (ctx_->is_server() != (r == role::server)) {
    fail("tls: engine role does not match its context (server vs client)");
    return;
  }
  ssl_.reset(SSL_new(ctx_->native()));
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    fail(absl::StrCat("tls: cannot create connection: ", take_openssl_errors()));
    return;
  }
  // An empty input BIO means "nothing yet" (retry once more arrives), never end of stream:
  // the runtime learns about TCP EOF from the socket, not from us.
  BIO_set_mem_eof_return(in, -1);
  SSL_set0_rbio(ssl_.get(), in);
  SSL_set0_wbio(ssl_.get(), out);
  // OpenSSL's own record buffers (about 17 KB each way) are freed whenever they hold
  // nothing, instead of living as long as the connection: with many idle connections
  // (IMAP IDLE) they would be most of each one's memory. Costs an allocation per record
  // batch on a busy connection.
  SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS);

  if (r == role::server) {
    SSL_set_accept_state(ssl_.get());
    return;
  }
  SSL_set_connect_state(ssl_.get());

  // DNS names may come from MX records with the root's trailing dot; SNI has none
  // (RFC 6066 §3).
  std::string host(sni_hostname);
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.find('\0') != std::string::npos) {
    fail("tls: host name contains a NUL byte");
    return;
  }
  if (host.empty()) {
    if (ctx_->verifies_peer()) {
      fail("tls: a verifying client needs the server's host name to check its certificate");
    }
    return;
  }
  const bool ip = is_ip_literal(host);
  // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName."
  if (!ip && SSL_set_tlsext_host_name(ssl_.get(), host.c_str()) != 1) {
    fail(absl::StrCat("tls: cannot set SNI name ", host, ": ", take_openssl_errors()));
    return;
  }
  if (!ctx_->verifies_peer()) return;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_.get());
  // RFC 6125 §6.4.3: a wildcard only as the whole left-most label.
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
              : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1) {
    fail(absl::StrCat("tls: cannot set expected peer name ", host, ": ", take_openssl_errors()));
  }
}

engine::~engine() = default;
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;

void engine::feed_ciphertext(std::span<const char> bytes) {
  if (!usable()) return;
  error_queue_scope scope;
  BIO* in = SSL_get_rbio(ssl_.get());
  while (!bytes.empty()) {
    int chunk = static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX));
    int n = BIO_write(in, bytes.data(), chunk);
    // A memory BIO only fails to grow when out of memory. The next call reports it.
    if (n <= 0) {
      fail(absl::StrCat("tls: cannot buffer ciphertext: ", take_openssl_errors()));
      return;
    }
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
}

bool engine::has_output() const {
  return ssl_ != nullptr && BIO_ctrl_pending(SSL_get_wbio(ssl_.get())) > 0;
}

size_t engine::take_output(std::string& out) {
  // Not gated on failed_: after a fatal error the alert that explains it is still worth
  // sending to the peer.
  if (ssl_ == nullptr) return 0;
  error_queue_scope scope;
  BIO* wbio = SSL_get_wbio(ssl_.get());
  size_t pending = BIO_ctrl_pending(wbio);
  if (pending == 0) return 0;
  const size_t old_size = out.size();
  out.resize(old_size + pending);
  size_t got = 0;
  if (BIO_read_ex(wbio, out.data() + old_size, pending, &got) != 1) got = 0;
  out.resize(old_size + got);
  if (BIO* fresh = fresh_if_grown(wbio, false)) SSL_set0_wbio(ssl_.get(), fresh);  // frees wbio
  return got;
}

size_t engine::buffered_capacity() const {
  if (ssl_ == nullptr) return 0;
  return mem_bio_capacity(SSL_get_rbio(ssl_.get())) + mem_bio_capacity(SSL_get_wbio(ssl_.get()));
}

status engine::handshake() {
  if (!usable()) return status::error;
  if (SSL_is_init_finished(ssl_.get())) return status::ok;
  error_queue_scope scope;
  int ret = SSL_do_handshake(ssl_.get());
  return ret == 1 ? status::ok : classify(ret, "handshake");
}

bool engine::handshake_done() const { return ssl_ != nullptr && SSL_is_init_finished(ssl_.get()); }

io_result engine::read(std::span<char> out) {
  if (!usable()) return {status::error, 0};
  if (out.empty()) return {status::ok, 0};
  error_queue_scope scope;
  size_t n = 0;
  int ret = SSL_read_ex(ssl_.get(), out.data(), out.size(), &n);
  if (ret == 1) return {status::ok, n};
  status st = classify(ret, "read");
  if (st == status::want_read) {
    // Everything fed has been consumed and the caller now waits for the peer, maybe for
    // a long time (IDLE): drop the input BIO's grown buffer.
    BIO* rbio = SSL_get_rbio(ssl_.get());
    if (BIO* fresh = fresh_if_grown(rbio, true)) {
      SSL_set0_rbio(ssl_.get(), fresh);  // frees rbio
    }
  }
  return {st, 0};
}

io_result engine::write(std::span<const char> in) {
  if (!usable()) return {status::error, 0};
  if (in.empty()) return {status::ok, 0};
  error_queue_scope scope;
  size_t n = 0;
  // Without SSL_MODE_ENABLE_PARTIAL_WRITE this returns only once all of `in` is in
  // records, which a memory BIO always accepts.
  int ret = SSL_write_ex(ssl_.get(), in.data(), in.size(), &n);
  if (ret == 1) return {status::ok, n};
  return {classify(ret, "write"), 0};
}

status engine::shutdown() {
  if (!usable()) return status::error;
  // OpenSSL refuses SSL_shutdown mid-handshake, and with no session there is nothing a
  // close_notify would protect from truncation.
  if (!SSL_is_init_finished(ssl_.get())) return status::closed;
  error_queue_scope scope;
  int ret = SSL_shutdown(ssl_.get());
  if (ret == 1) return status::closed;
  if (ret == 0) return status::ok;
  return classify(ret, "shutdown");
}

std::string_view engine::version() const {
  if (!handshake_done()) return {};
  return SSL_get_version(ssl_.get());
}

std::string_view engine::cipher() const {
  if (!handshake_done()) return {};
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get());
  return c == nullptr ? std::string_view() : std::string_view(SSL_CIPHER_get_name(c));
}

std::string_view engine::server_name() const {
  if (ssl_ == nullptr) return {};
  const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? std::string_view() : std::string_view(name);
}

std::string engine::peer_certificate_subject() const {
  if (ssl_ == nullptr) return {};
  X509* peer = SSL_get0_peer_certificate(ssl_.get());
  if (peer == nullptr) return {};
  error_queue_scope scope;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  std::string subject;
  if (X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    if (size > 0) subject.assign(data, static_cast<size_t>(size));
  }
  BIO_free(bio);
  return subject;
}

status engine::classify(int ret, const char* operation) {
  switch (SSL_get_error(ssl_.get(), ret)) {
    case SSL_ERROR_NONE:
      return status::ok;
    case SSL_ERROR_WANT_READ:
      return status::want_read;
    case SSL_ERROR_ZERO_RETURN:
      return status::closed;
    case SSL_ERROR_SYSCALL: {
      // With memory BIOs there is no system call; this means the stream ended where a
      // record was expected, or an error OpenSSL did not queue.
      std::string errors = take_openssl_errors();
      return fail(absl::StrCat("tls: ", operation, ": ",
                               errors.empty() ? "unexpected end of stream" : errors));
    }
    case SSL_ERROR_SSL: {
      std::string reason = take_openssl_errors();
      // Say which check failed ("hostname mismatch", "self-signed certificate"), which
      // OpenSSL's "certificate verify failed" alone does not.
      long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK) {
        absl::StrAppend(&reason, " [peer certificate: ", X509_verify_cert_error_string(verify),
                        "]");
      }
      if (reason.empty()) reason = "protocol error";
      return fail(absl::StrCat("tls: ", operation, ": ", reason));
    }
    default:
      // WANT_WRITE and the WANT_X509_LOOKUP family need callbacks or blocking BIOs we
      // never install; seeing one is a bug, so end the connection rather than spin.
      return fail(absl::StrCat("tls: ", operation, ": unexpected SSL_get_error result; ",
                               take_openssl_errors()));
  }
}

status engine::fail(std::string message) {
  failed_ = true;
  last_error_ = std::move(message);
  return status::error;
}

}  // namespace ringmail::tls

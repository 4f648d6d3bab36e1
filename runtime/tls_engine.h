// One TLS connection as a socket-free state machine: ciphertext goes in through
// feed_ciphertext() and comes out through take_output(); plaintext goes through read() and
// write(). OpenSSL talks to two memory BIOs, never to a file descriptor, so the caller
// (the io_uring runtime) owns all I/O and every call returns at once.
//
// Driving it, for any operation (handshake, read, write, shutdown):
//   1. call it;
//   2. if has_output(), take_output() and send those bytes: any call may produce
//      ciphertext, including read() (TLS 1.3 key updates, alerts) and a failed handshake
//      (the alert that tells the peer why);
//   3. on status::want_read, receive from the socket, feed_ciphertext(), and call again.
//
// An engine is used by one thread at a time; many engines share a thread and a context.
// Each call starts and ends with this thread's OpenSSL error queue empty, so one
// connection's errors never show up in another's.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "runtime/tls_context.h"

namespace ringmail::tls {

enum class role { server, client };

enum class status {
  ok,
  want_read,  // needs more ciphertext from the peer: feed_ciphertext(), then call again
  closed,     // the peer sent close_notify (or both sides have, after shutdown())
  error,      // fatal; last_error() says why. The engine is unusable from here on.
};

struct io_result {
  status st;
  size_t bytes;  // plaintext bytes read or written; 0 unless st == status::ok
};

// Frees an SSL object (and with it both memory BIOs).
struct ssl_deleter {
  void operator()(SSL* ssl) const;
};

class engine {
 public:
  // A client engine sends `sni_hostname` as SNI (RFC 6066 §3; not for IP literals, which
  // SNI does not allow) and, if the context verifies peers, requires the server's
  // certificate to match it (RFC 6125). A verifying client without a host name is
  // refused (every call returns status::error): checking the chain without the name
  // would accept any valid certificate for any host. Servers ignore `sni_hostname`.
  // Construction failures are reported the same way, through status::error.
  engine(std::shared_ptr<context> ctx, role r, std::string_view sni_hostname = {});
  ~engine();
  engine(engine&&) noexcept;
  engine& operator=(engine&&) noexcept;
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Bytes received from the network, in order. They are buffered until a call consumes them.
  void feed_ciphertext(std::span<const char> bytes);

  // Ciphertext waiting to be sent.
  bool has_output() const;
  // Appends all pending ciphertext to `out` (appending lets the caller batch several
  // calls into one send) and returns how many bytes it appended.
  size_t take_output(std::string& out);

  // Bytes the two memory BIOs have allocated (ciphertext buffers; OpenSSL's own record
  // buffers are not counted). An idle connection keeps little: an empty BIO that grew
  // above 1 KiB is replaced by a fresh one when take_output() drains it or read() finds
  // it empty, and OpenSSL's record buffers are released when empty
  // (SSL_MODE_RELEASE_BUFFERS). For tests and memory accounting.
  size_t buffered_capacity() const;

  // Advances the handshake: ok once complete (and on every later call), want_read while
  // it waits for the peer, closed/error if it cannot complete.
  status handshake();
  bool handshake_done() const;

  // Decrypted plaintext into `out`. A single call returns at most one record's worth;
  // call again until want_read to drain what has been fed. If the handshake is not done
  // yet, this advances it first.
  io_result read(std::span<char> out);

  // Encrypts all of `in` into TLS records (the memory BIO never blocks, so there are no
  // partial writes); send them via take_output(). want_read if the handshake is not done.
  io_result write(std::span<const char> in);

  // Queues our close_notify (RFC 8446 §6.1). ok: sent, the peer's may still come (read()
  // returns closed when it does); closed: both directions are now closed; want_read:
  // called again while still waiting for the peer's close_notify. Before the handshake
  // completes there is nothing to close cleanly and this returns closed without output.
  status shutdown();

  // Negotiated protocol ("TLSv1.3") and cipher suite; empty before the handshake completes.
  std::string_view version() const;
  std::string_view cipher() const;
  // The SNI host name the client asked for (server side; the name we sent on the client
  // side); empty if none.
  std::string_view server_name() const;
  // The peer certificate's subject in RFC 2253 form ("CN=mail.example.org"), or "" if the
  // peer sent none. For logs and tests; authorization decisions belong to verification.
  std::string peer_certificate_subject() const;

  // Why the engine failed, once a call has returned status::error (errors are final);
  // empty until then.
  const std::string& last_error() const { return last_error_; }

 private:
  // Maps the result of an SSL_* call to a status, recording the reason on error.
  status classify(int ret, const char* operation);
  status fail(std::string message);

  // False after a fatal error (OpenSSL must not be called again on such a connection,
  // not even SSL_shutdown) or for a moved-from engine; every entry point checks it.
  bool usable() const { return ssl_ != nullptr && !failed_; }

  std::shared_ptr<context> ctx_;
  // Owns the two memory BIOs: SSL_get_rbio() holds ciphertext from the peer,
  // SSL_get_wbio() ciphertext for the peer.
  std::unique_ptr<SSL, ssl_deleter> ssl_;
  bool failed_ = false;
  std::string last_error_;
};

}  // namespace ringmail::tls

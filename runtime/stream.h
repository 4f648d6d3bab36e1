// stream: what a protocol session reads and writes: a connection, optionally under TLS,
// with a read buffer for line-oriented protocols.
//
// Reads hand out views that stay valid until the next read, discard or start_tls call.
// In the plain case a line that fits in one received buffer is returned straight from the
// shard's provided buffer, without a copy.
//
// STARTTLS (RFC 3207 section 4, RFC 2595 section 3.1): start_tls() throws away every
// plaintext byte received before the handshake, so commands a client (or an attacker in
// the path) pipelined after STARTTLS are never executed inside the TLS session.
//
// Compression (IMAP COMPRESS=DEFLATE, RFC 4978; deflate_stream.h): start_compression()
// puts raw DEFLATE between the transport (plain or TLS) and the protocol. Bytes already
// buffered are taken as compressed input (a client that did not wait for the OK, RFC
// 4978 section 3, sent them after the command's CRLF). Each write() is sync-flushed. A read inflates at most one chunk
// (16 KiB) beyond what is buffered, and refuses to buffer more than max_buffered
// unconsumed plaintext bytes (too_long), so a deflate bomb is bounded by the protocol's
// own limits. TLS cannot start once compression is on (RFC 4978 section 4: TLS must come
// first, below compression).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "runtime/buffer_ring.h"
#include "runtime/deflate_stream.h"
#include "runtime/io_status.h"
#include "runtime/net.h"
#include "runtime/task.h"
#include "runtime/tls_context.h"
#include "runtime/tls_engine.h"

namespace ringmail {

struct stream_options {
  duration read_timeout{std::chrono::minutes(5)};  // RFC 5321 4.5.3.2 suggests 5 minutes for commands
  duration write_timeout{std::chrono::minutes(5)};
};

class stream {
 public:
  stream(connection conn, stream_options options = {}, cancel_source* cancel = nullptr);
  ~stream();
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  connection& conn() { return conn_; }
  cancel_source* canceller() const { return cancel_; }
  void set_read_timeout(duration d) { options_.read_timeout = d; }

  // The next line, up to and including its "\n". A line longer than max_length yields
  // too_long once; the rest of that line is then skipped by the following read_line.
  // If the stream ends inside a line, the partial line is dropped and `closed` returned.
  task<io_result<std::string_view>> read_line(size_t max_length);
  // Whatever plaintext is buffered, or else the next chunk that arrives. Consumes it.
  task<io_result<std::string_view>> read_some();
  // Plaintext received but not yet consumed.
  std::string_view buffered() const;
  // Marks the first n bytes of buffered() as consumed (n <= buffered().size()). For
  // protocol readers that parse buffered() in place and report how much they used, so
  // bytes pipelined after a command stay buffered for the next one.
  void consume(size_t n);
  // Receives more plaintext and appends it to buffered() (which stays contiguous).
  task<io_status> read_more() { return fill(); }
  // Drops all buffered plaintext, returning how many bytes were dropped.
  size_t discard_buffered();

  task<io_status> write(std::string_view bytes);

  // Upgrades in place (STARTTLS, or implicit TLS right after accept/connect).
  task<io_status> start_tls(std::shared_ptr<tls::context> context, tls::role role, std::string_view sni = {});
  bool tls_active() const { return tls_ != nullptr; }
  std::string tls_version() const;
  std::string tls_cipher() const;
  std::string tls_server_name() const;

  // Starts raw DEFLATE both ways (see the top of this file). False if already active.
  // `max_buffered`: unconsumed plaintext a read may accumulate before it fails with
  // too_long (the protocol's largest command, line or literal, plus slack).
  bool start_compression(size_t max_buffered, deflate::deflater_options options = {});
  bool compression_active() const { return inflater_ != nullptr; }
  // Bytes before and after compression so far, for logs: (wire in, plain in, plain out, wire out).
  struct compression_totals {
    uint64_t in_wire = 0, in_plain = 0, out_plain = 0, out_wire = 0;
  };
  compression_totals compression_stats() const;

  // Heap bytes this stream holds for buffering: the plaintext buffer's capacity plus the
  // TLS engine's memory BIOs (not OpenSSL's record buffers, released when empty). While a
  // read waits for the peer with nothing buffered this is small (a few hundred bytes):
  // idle sessions (IMAP IDLE) pin no receive or TLS buffers. For tests and accounting.
  size_t buffer_capacity() const;

  // Sends close_notify under TLS (best effort) and closes the socket.
  task<void> close();

 private:
  task<io_status> fill();          // appends at least one more byte of plaintext
  task<io_status> flush_tls();     // sends pending TLS output
  task<io_status> receive_ciphertext();
  task<io_status> fill_compressed();
  // Appends at least one byte from below compression (the socket, or TLS plaintext) to
  // `out`; the read buffer is trimmed (trim_before_wait) before each wait for the peer.
  task<io_status> receive_transport(std::string& out);
  task<io_status> write_transport(std::string_view bytes);
  void compact();
  // Before waiting on the network: frees in_'s memory if it holds nothing.
  void trim_before_wait();

  connection conn_;
  stream_options options_;
  cancel_source* cancel_;
  std::unique_ptr<tls::engine> tls_;
  // Unconsumed plaintext lives in exactly one of: lease_ (zero-copy, plain mode) or in_.
  recv_lease lease_;
  std::string in_;
  size_t in_pos_ = 0;
  bool skipping_long_line_ = false;
  std::unique_ptr<deflate::inflater> inflater_;  // set with deflater_ by start_compression
  std::unique_ptr<deflate::deflater> deflater_;
  size_t max_compressed_buffered_ = 0;
};

}  // namespace ringmail

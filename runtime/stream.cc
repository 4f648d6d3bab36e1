#include "runtime/stream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/log.h"

namespace ringmail {
namespace {
constexpr size_t kTlsReadChunk = 16384;  // one TLS record's worth of plaintext
// Spare capacity in_ may keep while the stream waits for the peer. A wait may last the
// IDLE timeout (30 minutes), and 100,000 idle sessions must not pin 16 KiB each.
constexpr size_t kKeepWhileWaiting = 256;
// Compressed input is inflated at most this much at a time beyond what is buffered.
constexpr size_t kInflateChunk = 16384;
}

stream::stream(connection conn, stream_options options, cancel_source* cancel)
    : conn_(std::move(conn)), options_(options), cancel_(cancel) {}

stream::~stream() = default;

std::string_view stream::buffered() const {
  if (lease_.size() > 0) return lease_.bytes();
  return std::string_view(in_).substr(in_pos_);
}

void stream::consume(size_t n) {
  if (lease_.size() > 0) {
    lease_.consume(std::min(n, lease_.size()));
  } else {
    in_pos_ = std::min(in_.size(), in_pos_ + n);
  }
}

size_t stream::discard_buffered() {
  size_t dropped = buffered().size();
  lease_.release();
  in_.clear();
  in_pos_ = 0;
  skipping_long_line_ = false;
  return dropped;
}

void stream::compact() {
  if (in_pos_ > 0) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
}

void stream::trim_before_wait() {
  compact();
  // Only when empty: shrinking a partial line or literal that is about to grow again
  // would copy it once per receive (quadratic for a 50 MB APPEND).
  if (in_.empty() && in_.capacity() > kKeepWhileWaiting) std::string().swap(in_);
}

size_t stream::buffer_capacity() const {
  return in_.capacity() + (tls_ ? tls_->buffered_capacity() : 0);
}

task<io_status> stream::receive_ciphertext() {
  auto got = co_await conn_.receive(options_.read_timeout, cancel_);
  if (!got.ok()) co_return got.status();
  tls_->feed_ciphertext(std::span<const char>(got->data(), got->size()));
  co_return io_status::success();
}

task<io_status> stream::flush_tls() {
  if (!tls_->has_output()) co_return io_status::success();
  // A local buffer, not a member: it is freed once sent (a member would keep the largest
  // response's size for the connection's life), and a flush from the IDLE reader task
  // cannot overwrite bytes a concurrent write is still sending.
  std::string out;
  tls_->take_output(out);
  co_return co_await conn_.send_all(out, options_.write_timeout, cancel_);
}

task<io_status> stream::fill() {
  if (inflater_ != nullptr) co_return co_await fill_compressed();
  if (tls_ == nullptr) {
    if (lease_.size() == 0 && in_pos_ == in_.size()) {
      // Nothing buffered: take the next buffer as is (the zero-copy path).
      lease_.release();
      in_.clear();
      in_pos_ = 0;
      trim_before_wait();
      auto got = co_await conn_.receive(options_.read_timeout, cancel_);
      if (!got.ok()) co_return got.status();
      lease_ = std::move(*got);
      co_return io_status::success();
    }
    // A partial line is buffered: it must become contiguous with what comes next.
    if (lease_.size() > 0) {
      compact();
      in_.append(lease_.data(), lease_.size());
    }
    lease_.release();
  } else {
    compact();
  }
  co_return co_await receive_transport(in_);
}

task<io_result<std::string_view>> stream::read_line(size_t max_length) {
  size_t scanned = 0;  // bytes of the current candidate already searched for '\n'
  for (;;) {
    std::string_view data = buffered();
    size_t nl = data.find('\n', scanned);
    if (skipping_long_line_) {
      if (nl == std::string_view::npos) {
        discard_buffered();
        skipping_long_line_ = true;
      } else {
        if (lease_.size() > 0) {
          lease_.consume(nl + 1);
        } else {
          in_pos_ += nl + 1;
        }
        skipping_long_line_ = false;
      }
      scanned = 0;
      if (buffered().empty() || skipping_long_line_) {
        io_status s = co_await fill();
        if (!s.ok()) co_return s;
      }
      continue;
    }
    if (nl != std::string_view::npos && nl + 1 <= max_length) {
      std::string_view line = data.substr(0, nl + 1);
      if (lease_.size() > 0) {
        lease_.consume(nl + 1);
      } else {
        in_pos_ += nl + 1;
      }
      co_return line;
    }
    if (nl != std::string_view::npos || data.size() >= max_length) {
      // Too long: report once, then skip up to the end of this line.
      skipping_long_line_ = true;
      co_return io_status::from(io_kind::too_long);
    }
    scanned = data.size();
    io_status s = co_await fill();
    if (!s.ok()) co_return s;
  }
}

task<io_result<std::string_view>> stream::read_some() {
  if (buffered().empty()) {
    io_status s = co_await fill();
    if (!s.ok()) co_return s;
  }
  std::string_view data = buffered();
  if (lease_.size() > 0) {
    lease_.consume(data.size());
  } else {
    in_pos_ = in_.size();
  }
  co_return data;
}

task<io_status> stream::write(std::string_view bytes) {
  if (deflater_ != nullptr) {
    // One sync-flushed batch per write (RFC 4978 section 3): the peer can decode all of it.
    std::string out;
    if (!deflater_->deflate(bytes, out)) co_return io_status::from(io_kind::error);
    co_return co_await write_transport(out);
  }
  if (tls_ == nullptr) co_return co_await conn_.send_all(bytes, options_.write_timeout, cancel_);
  tls::io_result r = tls_->write(std::span<const char>(bytes.data(), bytes.size()));
  if (r.st != tls::status::ok) co_return io_status::from(io_kind::tls_error);
  co_return co_await flush_tls();
}

task<io_status> stream::start_tls(std::shared_ptr<tls::context> context, tls::role role, std::string_view sni) {
  if (inflater_ != nullptr) {
    // TLS would have to go below compression, and the peer's bytes are already deflated.
    log::info("starttls_refused_compression_active", {{"peer", conn_.peer().to_string()}});
    co_return io_status::from(io_kind::tls_error);
  }
  size_t dropped = discard_buffered();
  if (dropped > 0) {
    log::info("starttls_discarded_plaintext", {{"peer", conn_.peer().to_string()}, {"bytes", dropped}});
  }
  tls_ = std::make_unique<tls::engine>(std::move(context), role, sni);
  for (;;) {
    tls::status st = tls_->handshake();
    io_status flushed = co_await flush_tls();
    if (st == tls::status::ok) {
      if (!flushed.ok()) co_return flushed;
      co_return io_status::success();
    }
    if (st != tls::status::want_read) {
      log::info("tls_handshake_failed", {{"peer", conn_.peer().to_string()}, {"reason", tls_->last_error()}});
      co_return io_status::from(io_kind::tls_error);
    }
    if (!flushed.ok()) co_return flushed;
    io_status s = co_await receive_ciphertext();
    if (!s.ok()) co_return s;
  }
}

bool stream::start_compression(size_t max_buffered, deflate::deflater_options options) {
  if (inflater_ != nullptr) return false;
  inflater_ = std::make_unique<deflate::inflater>();
  deflater_ = std::make_unique<deflate::deflater>(options);
  max_compressed_buffered_ = max_buffered;
  // What the peer sent after the command, without waiting for our answer, is compressed.
  std::string_view rest = buffered();
  if (!rest.empty()) inflater_->feed(std::span<const char>(rest.data(), rest.size()));
  lease_.release();
  in_.clear();
  in_pos_ = 0;
  skipping_long_line_ = false;
  return true;
}

stream::compression_totals stream::compression_stats() const {
  compression_totals t;
  if (inflater_ == nullptr) return t;
  t.in_wire = inflater_->total_in();
  t.in_plain = inflater_->total_out();
  t.out_plain = deflater_->total_in();
  t.out_wire = deflater_->total_out();
  return t;
}

task<io_status> stream::receive_transport(std::string& out) {
  if (tls_ == nullptr) {
    trim_before_wait();
    auto got = co_await conn_.receive(options_.read_timeout, cancel_);
    if (!got.ok()) co_return got.status();
    out.append(got->data(), got->size());
    co_return io_status::success();
  }
  for (;;) {
    size_t old = out.size();
    out.resize(old + kTlsReadChunk);
    tls::io_result r = tls_->read(std::span<char>(out.data() + old, kTlsReadChunk));
    out.resize(old + (r.st == tls::status::ok ? r.bytes : 0));
    // Reading may produce output (TLS 1.3 key updates, alerts): send it.
    io_status flushed = co_await flush_tls();
    if (!flushed.ok()) co_return flushed;
    if (r.st == tls::status::ok && r.bytes > 0) co_return io_status::success();
    if (r.st == tls::status::closed) co_return io_status::from(io_kind::closed);
    if (r.st == tls::status::error) {
      log::debug("tls_read_failed", {{"peer", conn_.peer().to_string()}, {"reason", tls_->last_error()}});
      co_return io_status::from(io_kind::tls_error);
    }
    trim_before_wait();
    io_status s = co_await receive_ciphertext();
    if (!s.ok()) co_return s;
  }
}

task<io_status> stream::write_transport(std::string_view bytes) {
  if (tls_ == nullptr) co_return co_await conn_.send_all(bytes, options_.write_timeout, cancel_);
  tls::io_result r = tls_->write(std::span<const char>(bytes.data(), bytes.size()));
  if (r.st != tls::status::ok) co_return io_status::from(io_kind::tls_error);
  co_return co_await flush_tls();
}

task<io_status> stream::fill_compressed() {
  compact();
  // The protocol has not consumed what it has: it is framing something larger than its
  // limits allow. Inflating more would let a small compressed input grow without bound.
  if (in_.size() >= max_compressed_buffered_) co_return io_status::from(io_kind::too_long);
  for (;;) {
    const size_t old = in_.size();
    in_.resize(old + kInflateChunk);
    deflate::inflater::result r = inflater_->inflate(std::span<char>(in_.data() + old, kInflateChunk));
    in_.resize(old + r.bytes);
    if (r.bytes > 0) co_return io_status::success();
    if (r.st == deflate::inflater::status::error) {
      log::info("compress_inflate_failed", {{"peer", conn_.peer().to_string()},
                                            {"reason", inflater_->reason()},
                                            {"after_bytes", inflater_->total_in()}});
      co_return io_status{io_kind::error, EBADMSG};
    }
    if (r.st == deflate::inflater::status::end) co_return io_status::from(io_kind::closed);
    std::string raw;
    io_status s = co_await receive_transport(raw);
    if (!s.ok()) co_return s;
    inflater_->feed(std::span<const char>(raw.data(), raw.size()));
  }
}

std::string stream::tls_version() const { return tls_ ? std::string(tls_->version()) : std::string(); }
std::string stream::tls_cipher() const { return tls_ ? std::string(tls_->cipher()) : std::string(); }
std::string stream::tls_server_name() const { return tls_ ? std::string(tls_->server_name()) : std::string(); }

task<void> stream::close() {
  if (tls_ != nullptr && conn_.is_open()) {
    tls_->shutdown();
    if (tls_->has_output()) {
      std::string out;
      tls_->take_output(out);
      // Best effort: a peer that stopped reading must not hold the session open.
      co_await conn_.send_all(out, std::chrono::seconds(1), nullptr);
    }
  }
  lease_.release();
  co_await conn_.close();
}

}  // namespace ringmail

// Outcomes of I/O as values (STYLE.md "Errors"): at the io_uring edge a negative errno,
// above it an io_status. A peer hanging up is not exceptional.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace ringmail {

enum class io_kind {
  ok,
  closed,     // orderly end of stream (recv returned 0, or TLS close_notify)
  reset,      // ECONNRESET, EPIPE: the peer went away abruptly
  timeout,    // the operation's deadline passed
  cancelled,  // the owner cancelled it (session shutdown)
  too_long,   // a line or message exceeded its limit
  tls_error,  // handshake or record failure
  error,      // anything else; errno in io_status::error_number
};

struct io_status {
  io_kind kind = io_kind::ok;
  int error_number = 0;

  bool ok() const { return kind == io_kind::ok; }
  static io_status success() { return {}; }
  static io_status from(io_kind k) { return {k, 0}; }
  // Maps a negative errno from a CQE (or a positive errno) to a kind.
  static io_status from_errno(int err) {
    if (err < 0) err = -err;
    switch (err) {
      case 0: return {};
      case ECONNRESET:
      case EPIPE:
      case ENOTCONN: return {io_kind::reset, err};
      case ETIME:
      case ETIMEDOUT: return {io_kind::timeout, err};
      case ECANCELED: return {io_kind::cancelled, err};
      default: return {io_kind::error, err};
    }
  }
  std::string to_string() const {
    switch (kind) {
      case io_kind::ok: return "ok";
      case io_kind::closed: return "closed";
      case io_kind::reset: return "reset";
      case io_kind::timeout: return "timeout";
      case io_kind::cancelled: return "cancelled";
      case io_kind::too_long: return "too_long";
      case io_kind::tls_error: return "tls_error";
      case io_kind::error: return std::string("error:") + std::strerror(error_number);
    }
    return "?";
  }
};

// A value or an io_status that says why there is none.
template <typename T>
class io_result {
 public:
  io_result(T value) : value_(std::move(value)) {}
  io_result(io_status s) : status_(s) {}
  bool ok() const { return status_.ok(); }
  const io_status& status() const { return status_; }
  T& value() & { return value_; }
  T&& value() && { return std::move(value_); }
  T& operator*() & { return value_; }
  T* operator->() { return &value_; }

 private:
  io_status status_;
  T value_{};
};

}  // namespace ringmail

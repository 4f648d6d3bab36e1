// Raw DEFLATE both ways over zlib; see deflate_stream.h for the contract.
#include "runtime/deflate_stream.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

namespace ringmail::deflate {
namespace {
// Raw DEFLATE: no zlib header or trailer (RFC 4978 section 3), the largest window.
constexpr int kRawWindowBits = -15;
// Compressed input is compacted once this much of it has been used.
constexpr size_t kCompactAt = 16 * 1024;
}  // namespace

struct inflater::state {
  z_stream z{};
};

struct deflater::state {
  z_stream z{};
};

inflater::inflater() : z_(std::make_unique<state>()) {
  if (inflateInit2(&z_->z, kRawWindowBits) != Z_OK) {
    // Only out of memory: the caller cannot do anything sensible with half a session.
    throw std::runtime_error("inflateInit2 failed");
  }
}

inflater::~inflater() { inflateEnd(&z_->z); }

void inflater::feed(std::span<const char> compressed) {
  if (failed_ || ended_) return;
  if (pending_pos_ == pending_.size()) {
    pending_.clear();
    pending_pos_ = 0;
  } else if (pending_pos_ >= kCompactAt) {
    pending_.erase(0, pending_pos_);
    pending_pos_ = 0;
  }
  pending_.append(compressed.data(), compressed.size());
}

inflater::result inflater::inflate(std::span<char> out) {
  if (failed_) return {status::error, 0};
  if (ended_) return {status::end, 0};
  if (out.empty()) return {status::ok, 0};
  z_stream& z = z_->z;
  const size_t in_avail = pending_.size() - pending_pos_;
  z.next_in = reinterpret_cast<Bytef*>(pending_.data() + pending_pos_);
  z.avail_in = static_cast<uInt>(std::min<size_t>(in_avail, UINT_MAX));
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(std::min<size_t>(out.size(), UINT_MAX));
  const uInt in_before = z.avail_in;
  const uInt out_before = z.avail_out;
  // Z_SYNC_FLUSH: hand out whatever can be decoded now rather than buffer it in zlib.
  const int rc = ::inflate(&z, Z_SYNC_FLUSH);
  const size_t used = in_before - z.avail_in;
  const size_t made = out_before - z.avail_out;
  pending_pos_ += used;
  total_in_ += used;
  total_out_ += made;
  if (pending_pos_ == pending_.size()) {
    // Nothing kept: an idle connection holds no copy of old input.
    std::string().swap(pending_);
    pending_pos_ = 0;
  }
  switch (rc) {
    case Z_OK:
    case Z_BUF_ERROR:  // no progress possible: out of input (out had room)
      return {made > 0 ? status::ok : status::need_input, made};
    case Z_STREAM_END:
      ended_ = true;
      // The plaintext before the end still counts; the next call reports the end.
      return {made > 0 ? status::ok : status::end, made};
    default:
      failed_ = true;
      reason_ = z.msg != nullptr ? z.msg : (rc == Z_NEED_DICT ? "dictionary required" : "inflate failed");
      // What decoded before the damage is handed out first (the next call reports the
      // error), so the plaintext does not depend on how the input was split.
      return {made > 0 ? status::ok : status::error, made};
  }
}

deflater::deflater(deflater_options options) : z_(std::make_unique<state>()) {
  if (deflateInit2(&z_->z, options.level, Z_DEFLATED, kRawWindowBits, options.mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
}

deflater::~deflater() { deflateEnd(&z_->z); }

bool deflater::deflate(std::string_view bytes, std::string& out) {
  if (bytes.empty()) return true;
  if (bytes.size() > UINT_MAX) return false;  // callers' batches are far below 4 GB
  z_stream& z = z_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  // Room for the worst case (stored blocks) plus the flush marker, grown if needed.
  for (;;) {
    const size_t room = deflateBound(&z, z.avail_in) + 16;
    const size_t old = out.size();
    out.resize(old + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = static_cast<uInt>(room);
    const int rc = ::deflate(&z, Z_SYNC_FLUSH);
    const size_t made = room - z.avail_out;
    out.resize(old + made);
    total_out_ += made;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
    // Done when all input is taken and zlib had room left (the flush is complete).
    if (z.avail_in == 0 && z.avail_out > 0) break;
  }
  total_in_ += bytes.size();
  return true;
}

}  // namespace ringmail::deflate

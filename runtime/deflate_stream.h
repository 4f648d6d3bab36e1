// deflate_stream: raw DEFLATE (RFC 1951) for compressing a protocol's byte stream in both
// directions, as IMAP COMPRESS=DEFLATE (RFC 4978) asks and as POP3/SMTP could reuse:
//
//   RFC 4978 (paraphrased): the DEFLATE algorithm of RFC 1951 with no zlib or gzip
//   header or trailer (zlib's windowBits -15), and each side flushes the compressor when
//   it has finished a response or command, so the peer never waits for data stuck in
//   it (Z_SYNC_FLUSH, which ends each write with the empty stored block 00 00 ff ff).
//
// Two pure, socket-free halves (stream.h puts them between TLS and the protocol):
//   inflater - feed() the compressed bytes as they arrive; inflate() hands out at most
//              out.size() plaintext bytes per call and keeps the rest compressed. It never
//              inflates ahead of what the caller asks for, so a "deflate bomb" (a few KB
//              that inflate to gigabytes) costs the caller only the chunks it chose to
//              take: the protocol's own limits (IMAP's line and literal limits) decide
//              when to stop, not the peer.
//   deflater - deflate() compresses one batch of output and appends it, sync-flushed.
//
// Departures: a peer that ends its DEFLATE stream (a final block) is treated as having
// ended the connection (RFC 4978 has no way to turn compression off again); bytes after
// the final block are ignored. A corrupt stream is an error with zlib's reason, after
// which the inflater stays failed (the connection cannot be resynchronised).
//
// Threading: none; one owner (a session's stream). Memory: zlib's state, about 7 KB +
// a 32 KB window to inflate and 256 KB to deflate at the default memLevel 8 (level and
// memLevel are options: a server with many idle compressed sessions may want less).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ringmail::deflate {

class inflater {
 public:
  enum class status {
    ok,          // `bytes` > 0 plaintext bytes were produced
    need_input,  // nothing more can be produced until more input is fed
    end,         // the peer ended its DEFLATE stream (a final block)
    error,       // corrupt input: see reason()
  };
  struct result {
    status st = status::need_input;
    size_t bytes = 0;
  };

  inflater();
  ~inflater();
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;

  // Appends compressed bytes received from the peer (kept until inflated).
  void feed(std::span<const char> compressed);
  // Produces at most out.size() bytes of plaintext into out.
  result inflate(std::span<char> out);
  // Compressed bytes fed but not yet inflated.
  size_t pending_input() const { return pending_.size() - pending_pos_; }
  // Totals, for logs and tests.
  uint64_t total_in() const { return total_in_; }
  uint64_t total_out() const { return total_out_; }
  const std::string& reason() const { return reason_; }

 private:
  struct state;
  std::unique_ptr<state> z_;
  std::string pending_;
  size_t pending_pos_ = 0;
  uint64_t total_in_ = 0;
  uint64_t total_out_ = 0;
  bool failed_ = false;
  bool ended_ = false;
  std::string reason_;
};

struct deflater_options {
  int level = 6;      // zlib's default (Dovecot's imap_zlib_compress_level is 6 too)
  int mem_level = 8;  // zlib's default; 1..9, memory 2^(mem_level+9) x 2 + 128 KB window
};

class deflater {
 public:
  explicit deflater(deflater_options options = {});
  ~deflater();
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;

  // Compresses `bytes` and appends them to `out`, ending with a sync flush: everything
  // given so far can be decoded by the peer from what is in `out`. An empty `bytes`
  // appends nothing. False only if zlib fails (a bug or out of memory).
  bool deflate(std::string_view bytes, std::string& out);
  uint64_t total_in() const { return total_in_; }
  uint64_t total_out() const { return total_out_; }

 private:
  struct state;
  std::unique_ptr<state> z_;
  uint64_t total_in_ = 0;
  uint64_t total_out_ = 0;
};

}  // namespace ringmail::deflate

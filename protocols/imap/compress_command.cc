// COMPRESS=DEFLATE (RFC 4978): the COMPRESS command.
//
//   RFC 4978 (paraphrased): after a tagged OK to COMPRESS DEFLATE, both sides compress
//   everything they send next, the server from the byte after its OK's CRLF; the client
//   waits for that OK before it sends more. COMPRESS while compression is already active
//   gets NO [COMPRESSIONACTIVE]; an algorithm the server does not support gets NO.
//   Dovecot 2.3.19 answers "NO Unknown compression mechanism" for an unknown atom and BAD
//   for a missing or extra argument (our parser's BAD). A client that sends compressed
//   bytes right behind the command anyway is understood: what is buffered after the
//   command's CRLF is fed to the inflater (runtime/stream.h).
//   The command is valid once authenticated (the capability is offered only then, as
//   Dovecot does); STARTTLS is a not-authenticated command, so it can never follow
//   COMPRESS, and runtime/stream refuses start_tls under compression too.
//
// The layer itself is runtime/stream's (runtime/deflate_stream.h): raw DEFLATE between
// TLS and the command reader, one sync flush per response batch (each imap_session::flush
// is one stream::write). A deflate bomb is bounded twice: the stream never buffers more
// than the largest command the reader accepts (APPEND's literal plus lines), and an
// over-long command line ends the connection instead of being skipped (session.cc), so
// at most one line limit's worth is ever inflated for nothing.
#include "protocols/imap/session_impl.h"
#include "runtime/log.h"

namespace ringmail::imap {

task<bool> imap_session::on_compress(const command& c) {
  if (!config_.compress) {
    // Not offered (--imap_compress=false): answered as a command we do not know.
    bad(c, "Unknown command");
    co_return true;
  }
  if (io_.compression_active()) {
    no(c, "[COMPRESSIONACTIVE] COMPRESSION=DEFLATE already enabled.");
    co_return true;
  }
  if (c.atoms.size() != 1 || c.atoms.front() != "DEFLATE") {
    no(c, "Unknown compression mechanism");  // Dovecot 2.3's words
    co_return true;
  }
  ok(c, "Begin compression.");
  // The tagged OK goes out uncompressed; everything after it, both ways, is deflated.
  // A named task, not `if (!co_await flush())`: GCC 12 miscompiled that form here (the
  // session died on SIGILL in this coroutine; append_commands.cc met the same).
  auto flushing = flush();
  const bool sent = co_await std::move(flushing);
  if (!sent) co_return false;
  // The largest command the reader may hold (its limits, set after login) plus slack: the
  // stream never inflates more than that ahead of what the reader consumed.
  io_.start_compression(reader_.current_limits().max_command + (64u << 10));
  log::debug("imap_compress", {{"sid", sid_}, {"user", user_}, {"algorithm", "deflate"}});
  co_return true;
}

}  // namespace ringmail::imap

// DATA and BDAT content readers; see data_reader.h for the contract.
#include "protocols/smtp/data_reader.h"

#include <algorithm>

namespace ringmail::smtp {

namespace {

// 550 with X.5.2 for the framing errors, as the SMTP smuggling fixes of 2023-24 settled
// on (a "syntax error" in the data stream); NUL is a media error (RFC 3463 X.6.0);
// RFC 1870 gives 552 for an over-size message (RFC 3463 X.3.4).
constexpr content_error bare_lf{550, "5.5.2", "bare LF in message data"};
constexpr content_error bare_cr{550, "5.5.2", "bare CR in message data"};
constexpr content_error nul{550, "5.6.0", "NUL in message data"};
constexpr content_error too_big{552, "5.3.4", "message exceeds the size limit"};

bool special(char c) { return c == '\r' || c == '\n' || c == '\0'; }

// Length of the leading run of `s` with no CR, LF or NUL: the bytes a reader in the
// middle of a line copies as they are.
size_t plain_run(std::string_view s) {
  return size_t(std::find_if(s.begin(), s.end(), special) - s.begin());
}

data_reader::result make_result(size_t consumed, bool finished,
                                const content_error* failed) {
  data_reader::result r;
  r.consumed = consumed;
  if (!finished) return r;
  r.k = failed ? data_reader::result::kind::error : data_reader::result::kind::done;
  if (failed) {
    r.error = failed->text;
    r.code = failed->code;
    r.enhanced = failed->enhanced;
  }
  return r;
}

}  // namespace

void detail::content_meter::emit(std::string_view bytes, std::string& out) {
  if (!failed) {
    uint64_t room = size >= max_size ? 0 : max_size - size;
    out.append(bytes.substr(0, size_t(std::min<uint64_t>(bytes.size(), room))));
  }
  size += bytes.size();
  if (size > max_size) fail(too_big);
}

// ---- DATA ------------------------------------------------------------------------

data_reader::data_reader(limits l)
    : allow_bare_lf_(l.allow_bare_lf), meter_{.max_size = l.max_size} {}

data_reader::result data_reader::verdict(size_t consumed) const {
  return make_result(consumed, state_ == state::done, meter_.failed);
}

// One octet of the automaton. The pending states (cr, dot, dot_cr) hold back octets
// whose meaning depends on the next one; everything else falls through to "inside a
// line" handling of c.
void data_reader::step(char c, std::string& out) {
  switch (state_) {
    case state::line_start:
      if (c == '.') {
        state_ = state::dot;
        return;
      }
      break;
    case state::dot:
      if (c == '\r') {
        state_ = state::dot_cr;
        return;
      }
      break;  // RFC 5321 section 4.5.2: the leading '.' was stuffing; drop it
    case state::dot_cr:
      if (c == '\n') {  // <CRLF>.<CRLF>: the end (its first CRLF is the message's)
        state_ = state::done;
        return;
      }
      meter_.fail(bare_cr);  // ".\r" then not LF: not an end, and the CR was bare
      break;
    case state::cr:
      if (c == '\n') {
        meter_.emit("\r\n", out);
        state_ = state::line_start;
        return;
      }
      meter_.fail(bare_cr);
      break;
    case state::text:
      break;
    case state::done:
      return;
  }
  // Inside a line. A bare LF never starts a line: even in normalize mode it cannot
  // begin a terminator or a stuffed dot, so "\n.\r\n" ends nothing.
  state_ = state::text;
  switch (c) {
    case '\r':
      state_ = state::cr;
      break;
    case '\n':
      if (allow_bare_lf_) {
        meter_.emit("\r\n", out);
      } else {
        meter_.fail(bare_lf);
      }
      break;
    case '\0':
      meter_.fail(nul);
      break;
    default:
      meter_.emit(std::string_view(&c, 1), out);
  }
}

data_reader::result data_reader::feed(std::string_view input, std::string& out) {
  size_t i = 0;
  while (i < input.size() && state_ != state::done) {
    if (state_ == state::text) {  // fast path: copy the rest of the line in one go
      size_t n = plain_run(input.substr(i));
      meter_.emit(input.substr(i, n), out);
      i += n;
      if (i == input.size()) break;
    }
    step(input[i++], out);
  }
  return verdict(i);
}

// ---- BDAT ------------------------------------------------------------------------

bdat_reader::bdat_reader(limits l) : limits_(l), meter_{.max_size = l.max_size} {}

void bdat_reader::begin_chunk(uint64_t size, bool last) {
  remaining_ = size;
  last_ = last;
  in_chunk_ = true;
}

bdat_reader::result bdat_reader::verdict(size_t consumed) const {
  return make_result(consumed, !in_chunk_, meter_.failed);
}

bdat_reader::result bdat_reader::feed(std::string_view input, std::string& out) {
  if (!in_chunk_) return verdict(0);
  std::string_view chunk =
      input.substr(0, size_t(std::min<uint64_t>(remaining_, input.size())));
  if (limits_.binary) {
    meter_.emit(chunk, out);
  } else {
    // The DATA rules on raw octets: CR only before LF, LF only after CR (or rewritten
    // to CRLF in normalize mode), no NUL - also across chunk boundaries, so splitting
    // a "\r.\r" between chunks smuggles nothing into a later DATA relay.
    for (size_t i = 0; i < chunk.size();) {
      if (!prev_cr_) {
        size_t n = plain_run(chunk.substr(i));
        meter_.emit(chunk.substr(i, n), out);
        i += n;
        if (i == chunk.size()) break;
      }
      char c = chunk[i++];
      if (prev_cr_ && c != '\n') meter_.fail(bare_cr);
      if (c == '\n' && !prev_cr_) {
        if (limits_.allow_bare_lf) {
          meter_.emit("\r", out);
        } else {
          meter_.fail(bare_lf);
        }
      }
      if (c == '\0') meter_.fail(nul);
      meter_.emit(std::string_view(&c, 1), out);
      prev_cr_ = c == '\r';
    }
  }
  remaining_ -= chunk.size();
  if (remaining_ == 0) {
    in_chunk_ = false;
    if (last_ && prev_cr_) meter_.fail(bare_cr);  // the message ends in a bare CR
  }
  return verdict(chunk.size());
}

}  // namespace ringmail::smtp

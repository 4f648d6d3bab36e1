#include "protocols/pop3/transfer_encoder.h"

#include <cstring>

namespace ringmail::pop3 {

void transfer_encoder::end_line(std::string* out) {
  if (prev_cr_) {
    out->push_back('\n');
  } else {
    out->append("\r\n");
  }
  at_line_start_ = true;
  prev_cr_ = false;
  if (in_headers_) {
    if (line_empty_) {
      in_headers_ = false;  // the blank line ending the headers
      if (body_lines_ && *body_lines_ == 0) done_ = true;
    }
  } else if (body_lines_ && ++body_lines_sent_ >= *body_lines_) {
    done_ = true;
  }
  line_empty_ = true;
}

void transfer_encoder::feed(std::string_view chunk, std::string* out) {
  const char* p = chunk.data();
  const char* end = p + chunk.size();
  while (p < end && !done_) {
    if (at_line_start_ && *p == '.') out->push_back('.');  // byte-stuff
    at_line_start_ = false;
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
    const char* stop = nl ? static_cast<const char*>(nl) : end;
    if (stop > p) {
      // Copy the run before the LF. A CR at its end belongs to a CRLF pair (or not, if
      // no LF follows): remember it so the LF is not given a second CR.
      out->append(p, static_cast<size_t>(stop - p));
      for (const char* q = p; q < stop && line_empty_; ++q) {
        if (*q != '\r') line_empty_ = false;
      }
      prev_cr_ = stop[-1] == '\r';
    }
    if (!nl) break;
    end_line(out);
    p = stop + 1;
  }
}

void transfer_encoder::finish(std::string* out) {
  if (!at_line_start_ && !done_) {
    if (prev_cr_) {
      out->push_back('\n');
    } else {
      out->append("\r\n");
    }
  }
  out->append(".\r\n");
}

}  // namespace ringmail::pop3

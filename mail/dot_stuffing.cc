#include "mail/dot_stuffing.h"

#include <cstring>

namespace ringmail::mail {

namespace {

// The first CR or LF in [p, end), or end.
const char* find_break(const char* p, const char* end) {
  for (; p < end; ++p) {
    if (*p == '\r' || *p == '\n') return p;
  }
  return end;
}

}  // namespace

void dot_stuffer::end_line() {
  at_line_start_ = true;
  if (in_headers_) {
    if (line_empty_) {
      in_headers_ = false;  // the blank line ending the headers
      if (options_.body_lines && *options_.body_lines == 0) done_ = true;
    }
  } else if (options_.body_lines && ++body_lines_sent_ >= *options_.body_lines) {
    done_ = true;
  }
  line_empty_ = true;
}

void dot_stuffer::append(std::string_view in, std::string& out) {
  const bool keep_cr = options_.cr == bare_cr::keep;
  out.reserve(out.size() + in.size() + in.size() / 64 + 4);
  const char* p = in.data();
  const char* const end = p + in.size();
  while (p < end && !done_) {
    if (!keep_cr && prev_cr_) {
      // The CRLF was written for the CR; an LF right after it completes that pair.
      prev_cr_ = false;
      if (*p == '\n') {
        ++p;
        continue;
      }
    }
    if (at_line_start_ && *p == '.') out.push_back('.');
    at_line_start_ = false;
    // Copy the run up to the next line end in one go. In keep mode only LF ends a line.
    const char* stop = keep_cr ? static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)))
                               : find_break(p, end);
    if (stop == nullptr) stop = end;
    if (stop > p) {
      out.append(p, static_cast<size_t>(stop - p));
      for (const char* q = p; q < stop && line_empty_; ++q) {
        if (*q != '\r') line_empty_ = false;
      }
      // keep: a CR ending the run may pair with an LF in the next piece.
      if (keep_cr) prev_cr_ = stop[-1] == '\r';
    }
    if (stop == end) break;
    if (keep_cr) {
      out.append(prev_cr_ ? "\n" : "\r\n");
      prev_cr_ = false;
    } else {
      out.append("\r\n");
      prev_cr_ = *stop == '\r';
    }
    p = stop + 1;
    end_line();
  }
}

void dot_stuffer::finish(std::string& out) {
  if (!at_line_start_) out.append(options_.cr == bare_cr::keep && prev_cr_ ? "\n" : "\r\n");
  out.append(".\r\n");
  *this = dot_stuffer(options_);
}

std::string dot_stuff(std::string_view message, dot_stuffing_options options) {
  std::string out;
  dot_stuffer s(options);
  s.append(message, out);
  s.finish(out);
  return out;
}

}  // namespace ringmail::mail

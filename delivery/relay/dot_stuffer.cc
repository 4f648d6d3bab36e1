#include "delivery/relay/dot_stuffer.h"

namespace ringmail::relay {

void dot_stuffer::append(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size() + in.size() / 64 + 4);
  size_t i = 0;
  if (pending_cr_) {
    // The CRLF was already written for the CR; swallow the LF that completes it.
    pending_cr_ = false;
    if (!in.empty() && in.front() == '\n') i = 1;
  }
  while (i < in.size()) {
    if (at_line_start_ && in[i] == '.') out.push_back('.');
    // Copy up to the next line break in one go.
    size_t brk = in.find_first_of("\r\n", i);
    if (brk == std::string_view::npos) {
      out.append(in.substr(i));
      at_line_start_ = false;
      return;
    }
    out.append(in.substr(i, brk - i));
    out.append("\r\n");
    at_line_start_ = true;
    if (in[brk] == '\r') {
      if (brk + 1 == in.size()) {
        pending_cr_ = true;
        return;
      }
      i = in[brk + 1] == '\n' ? brk + 2 : brk + 1;
    } else {
      i = brk + 1;
    }
  }
}

void dot_stuffer::finish(std::string& out) {
  if (!at_line_start_) out.append("\r\n");
  out.append(".\r\n");
  at_line_start_ = true;
  pending_cr_ = false;
}

std::string dot_stuff(std::string_view message) {
  std::string out;
  dot_stuffer s;
  s.append(message, out);
  s.finish(out);
  return out;
}

}  // namespace ringmail::relay

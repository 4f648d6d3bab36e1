// Command-line splitting; see command_reader.h for the contract.
#include "protocols/smtp/command_reader.h"

#include <algorithm>

namespace ringmail::smtp {

namespace {

// RFC 5321 section 4.5.3.1 ("500 Line too long") and 4.2.2 (500: syntax error,
// command unrecognized); RFC 3463 X.5.2.
constexpr int line_error_code = 500;
constexpr const char* line_error_enhanced = "5.5.2";

// Bytes to consume when a search for the terminator failed: all of them, except a
// trailing CR, which may be the first half of a CRLF split across reads.
size_t all_but_trailing_cr(std::string_view input) {
  return !input.empty() && input.back() == '\r' ? input.size() - 1 : input.size();
}

command_reader::result need_more(size_t consumed) {
  command_reader::result r;
  r.consumed = consumed;
  return r;
}

command_reader::result line(std::string_view text, size_t consumed) {
  command_reader::result r;
  r.k = command_reader::result::kind::line;
  r.line = text;
  r.consumed = consumed;
  return r;
}

}  // namespace

command_reader::command_reader() : command_reader(limits{}) {}

command_reader::command_reader(limits l) : limits_(l) {
  limits_.max_line = std::max(limits_.max_line, min_max_line);
}

size_t command_reader::line_end(std::string_view input, size_t from) const {
  if (limits_.allow_bare_lf) {
    size_t lf = input.find('\n', from);
    return lf == std::string_view::npos ? lf : lf + 1;
  }
  size_t crlf = input.find("\r\n", from);
  return crlf == std::string_view::npos ? crlf : crlf + 2;
}

command_reader::result command_reader::fail(std::string_view input, size_t bad,
                                            size_t already, const char* why) {
  result r;
  r.k = result::kind::error;
  r.error = why;
  r.code = line_error_code;
  r.enhanced = line_error_enhanced;
  // The rest of the bad line is junk: drop it through its terminator, or all of what we
  // have and keep dropping in later calls until the terminator shows up.
  size_t end = line_end(input, bad + 1);
  if (end == std::string_view::npos) {
    skipping_ = true;
    end = std::max(bad + 1, all_but_trailing_cr(input));
  }
  r.consumed = already + end;
  return r;
}

command_reader::result command_reader::next(std::string_view input) {
  size_t already = 0;
  if (skipping_) {
    size_t end = line_end(input, 0);
    if (end == std::string_view::npos) {
      return need_more(all_but_trailing_cr(input));
    }
    skipping_ = false;
    already = end;
    input.remove_prefix(end);
  }
  const size_t max_content = limits_.max_line - 2;
  for (size_t i = 0; i < input.size(); ++i) {
    switch (input[i]) {
      case '\r':
        if (i + 1 == input.size()) return need_more(already);  // LF may follow
        if (input[i + 1] == '\n') {
          return line(input.substr(0, i), already + i + 2);
        }
        return fail(input, i, already, "bare CR");
      case '\n':
        if (!limits_.allow_bare_lf) return fail(input, i, already, "bare LF");
        return line(input.substr(0, i), already + i + 1);
      case '\0':
        return fail(input, i, already, "NUL in command");
      default:
        if (i >= max_content) return fail(input, i, already, "line too long");
    }
  }
  return need_more(already);
}

}  // namespace ringmail::smtp

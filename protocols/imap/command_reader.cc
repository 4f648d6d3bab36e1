// Command framing; see command_reader.h for the contract.
//
// The reader keeps the whole command in the caller's buffer (need_more consumes nothing
// while a command is being framed, so `bytes` can point at it) and remembers, as offsets
// from the command's first byte, how far it scanned: each byte is looked at once however
// the input is split, which keeps byte-at-a-time feeding linear and its results identical
// to feeding everything at once.
//
// Lines end at LF, with or without the CR before it: Dovecot's IMAP parser accepts a bare
// LF too, and unlike SMTP there is no second framing layer (DATA) a smuggled bare LF could
// desynchronise. Literal octets are never scanned for line ends.
#include "protocols/imap/command_reader.h"

#include <algorithm>
#include <cstdint>

namespace ringmail::imap {

namespace {

using kind = command_reader::result::kind;

// Largest literal size we parse: RFC 9051 number64 goes to 2^63-1; anything past this
// is refused anyway (max_literal and max_command are far smaller), so the digits are
// only accumulated while they fit.
constexpr uint64_t literal_size_cap = uint64_t{1} << 62;

// A literal header at the end of a line (without its CR/LF): "{n}", "{n+}", "~{n}".
struct literal_header {
  bool found = false;
  bool non_sync = false;
  uint64_t size = 0;  // literal_size_cap + 1 when the digits overflow the cap
};

literal_header find_literal_header(std::string_view line) {
  literal_header h;
  if (line.empty() || line.back() != '}') return h;
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '+') {
    h.non_sync = true;
    line.remove_suffix(1);
  }
  size_t digits_begin = line.size();
  while (digits_begin > 0 && line[digits_begin - 1] >= '0' && line[digits_begin - 1] <= '9') {
    --digits_begin;
  }
  if (digits_begin == line.size() || digits_begin == 0 || line[digits_begin - 1] != '{') {
    return h;
  }
  for (size_t i = digits_begin; i < line.size(); ++i) {
    const auto digit = static_cast<uint64_t>(line[i] - '0');
    // Checked before multiplying: 1844674407370955161 * 10 + 6 wraps a uint64_t to 0.
    if (h.size > (literal_size_cap - digit) / 10) {
      h.size = literal_size_cap + 1;
      break;
    }
    h.size = h.size * 10 + digit;
    if (h.size > literal_size_cap) {
      h.size = literal_size_cap + 1;
      break;
    }
  }
  h.found = true;
  return h;
}

bool tag_char(char c) {
  // ASTRING-CHAR except "+": CHAR (0x01-0x7f) minus CTL, SP, "(", ")", "{", "%", "*",
  // DQUOTE and "\" (RFC 9051 section 9, tag).
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case '+':
      return false;
    default:
      return true;
  }
}

// The tag for an error reply: the command's first word if it is a valid tag of sane
// length, else "*" (answer untagged).
std::string tag_of(std::string_view command) {
  constexpr size_t max_tag = 64;
  size_t n = 0;
  while (n < command.size() && n <= max_tag && tag_char(command[n])) ++n;
  if (n == 0 || n > max_tag || n == command.size() || command[n] != ' ') return "*";
  return std::string(command.substr(0, n));
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

command_reader::result command_reader::next(std::string_view input) {
  result r;
  size_t already = 0;  // junk of a discarded line dropped in this call
  if (skipping_) {
    size_t lf = input.find('\n');
    if (lf == std::string_view::npos) {
      r.consumed = input.size();
      return r;
    }
    skipping_ = false;
    already = lf + 1;
    input.remove_prefix(already);
  }
  auto reset = [this] {
    scanned_ = literal_left_ = line_start_ = 0;
    continuation_sent_ = false;
  };
  auto error = [&](const char* message, size_t consumed) {
    result e;
    e.k = kind::error;
    // Only the bytes every feeding pattern has seen when the error is found, so that
    // byte-at-a-time and whole input name the same tag.
    e.tag = tag_of(input.substr(0, std::min(limits_.max_line, limits_.max_command)));
    e.message = message;
    e.consumed = already + consumed;
    reset();
    return e;
  };
  for (;;) {
    if (literal_left_ > 0) {
      size_t take = std::min(literal_left_, input.size() - scanned_);
      scanned_ += take;
      literal_left_ -= take;
      if (literal_left_ > 0) {
        r.consumed = already;
        return r;
      }
      line_start_ = scanned_;
    }
    size_t lf = input.find('\n', scanned_);
    size_t line_end = lf == std::string_view::npos ? input.size() : lf;
    // The limit counts the line without its CR LF; a CR last in the input may be the
    // first half of one.
    if (line_end > line_start_ && input[line_end - 1] == '\r') --line_end;
    if (line_end - line_start_ > limits_.max_line ||
        line_end > limits_.max_command) {
      if (lf == std::string_view::npos) {
        // The rest of the line is still to come: drop it as it arrives.
        result e = error("Command line too long", input.size());
        skipping_ = true;
        return e;
      }
      return error("Command line too long", lf + 1);
    }
    if (lf == std::string_view::npos) {
      scanned_ = input.size();
      r.consumed = already;
      return r;
    }
    std::string_view line = strip_cr(input.substr(line_start_, lf - line_start_));
    literal_header h = find_literal_header(line);
    if (!h.found) {
      r.k = kind::command;
      r.bytes = strip_cr(input.substr(0, lf));
      r.consumed = already + lf + 1;
      reset();
      return r;
    }
    const size_t after_header = lf + 1;
    const bool nonsync_ok = limits_.literal_plus || h.size <= limits_.max_nonsync_literal;
    const bool fits = h.size <= limits_.max_literal &&
                      h.size <= limits_.max_command - std::min(limits_.max_command, after_header);
    if (h.non_sync && !nonsync_ok) {
      // RFC 7888 section 4: the octets are already on their way and cannot be told from
      // commands, so the command is rejected with [TOOBIG] and the connection closed.
      result e = error("Non-synchronizing literal too large", after_header);
      e.too_big = true;
      e.close = true;
      return e;
    }
    if (!fits) {
      result e = error("Literal too large", after_header);
      e.too_big = true;
      // A refused synchronizing literal was never sent: the stream stays in step. A
      // non-synchronizing one is on its way: answer and close.
      e.close = h.non_sync;
      return e;
    }
    scanned_ = after_header;
    literal_left_ = static_cast<size_t>(h.size);
    line_start_ = scanned_;
    if (!h.non_sync) {
      // RFC 9051 section 7.5: ask for the octets; the client waits for "+".
      continuation_sent_ = true;
      r.k = kind::continue_literal;
      r.consumed = already;
      return r;
    }
  }
}

command_reader::result command_reader::next_line(std::string_view input) {
  result r;
  size_t already = 0;
  if (skipping_) {
    size_t lf = input.find('\n');
    if (lf == std::string_view::npos) {
      r.consumed = input.size();
      return r;
    }
    skipping_ = false;
    already = lf + 1;
    input.remove_prefix(already);
  }
  size_t lf = input.find('\n');
  size_t line_end = lf == std::string_view::npos ? input.size() : lf;
  if (line_end > 0 && input[line_end - 1] == '\r') --line_end;
  if (line_end > limits_.max_line) {
    r.k = kind::error;
    r.tag = "*";
    r.message = "Line too long";
    if (lf == std::string_view::npos) {
      skipping_ = true;
      r.consumed = already + input.size();
    } else {
      r.consumed = already + lf + 1;
    }
    return r;
  }
  if (lf == std::string_view::npos) {
    r.consumed = already;
    return r;
  }
  r.k = kind::command;
  r.bytes = strip_cr(input.substr(0, lf));
  r.consumed = already + lf + 1;
  return r;
}

}  // namespace ringmail::imap

#include "protocols/managesieve/command.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mail/charset.h"

namespace ringmail::managesieve {
namespace {

// RFC 5804 section 4: atom = 1*1024ATOM-CHAR.
constexpr size_t kMaxAtom = 1024;
// A string the server sends quoted rather than as a literal when shorter than this.
constexpr size_t kMaxQuotedOut = 1024;

bool is_atom_char(unsigned char c) {
  // "!" / %x23-27 / %x2A-5B / %x5D-7A / %x7C-7E
  return c == 0x21 || (c >= 0x23 && c <= 0x27) || (c >= 0x2A && c <= 0x5B) || (c >= 0x5D && c <= 0x7A) ||
         (c >= 0x7C && c <= 0x7E);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// If `line` (without its line end) ends in a literal header "{N}" or "{N+}", the offset
// of its "{" and N (nullopt N: the digits overflow 32 bits, RFC 5804's `number`).
struct literal_header {
  size_t open = 0;
  std::optional<uint64_t> size;
};
std::optional<literal_header> trailing_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  size_t end = line.size() - 1;  // the '}'
  if (end > 0 && line[end - 1] == '+') --end;
  size_t start = end;
  while (start > 0 && is_digit(line[start - 1])) --start;
  if (start == end || start == 0 || line[start - 1] != '{') return std::nullopt;
  literal_header h;
  h.open = start - 1;
  uint64_t n = 0;
  for (size_t i = start; i < end; ++i) {
    n = n * 10 + static_cast<uint64_t>(line[i] - '0');
    if (n > UINT32_MAX) return h;  // size stays nullopt
  }
  h.size = n;
  return h;
}

}  // namespace

command_reader::result command_reader::next(std::string_view input) const { return parse(input, false); }

command_reader::result command_reader::next_response(std::string_view input) const { return parse(input, true); }

command_reader::result command_reader::parse(std::string_view input, bool response) const {
  result r;
  auto fatal = [&](std::string message) {
    result e;
    e.k = result::kind::error;
    e.message = std::move(message);
    e.close = true;  // consumed stays 0: there is nothing left to resynchronize
    return e;
  };

  // Phase 1, framing: where does the command end? Literal octets are skipped by count.
  size_t end = 0;
  uint64_t literal_total = 0;
  for (size_t pos = 0;;) {
    const size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) {
      // need_more, unless the line is already too long (+1: a CR may be its last octet).
      if (input.size() - pos > limits_.max_line + 1) return fatal("Command line too long.");
      return r;
    }
    std::string_view line = input.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits_.max_line) return fatal("Command line too long.");
    std::optional<literal_header> lit = trailing_literal(line);
    if (!lit) {
      end = nl + 1;
      break;
    }
    if (!lit->size || *lit->size > limits_.max_literal) return fatal("Literal too large.");
    literal_total += *lit->size;
    if (literal_total > limits_.max_command) return fatal("Command too large.");
    const size_t data = nl + 1;
    if (input.size() - data < *lit->size) return r;  // need_more: the octets are coming
    pos = data + static_cast<size_t>(*lit->size);
  }

  // Phase 2, tokens, within [0, end). A mistake here costs the command, not the session.
  r.consumed = end;
  auto bad = [&](std::string message) {
    result e;
    e.k = result::kind::error;
    e.message = std::move(message);
    e.consumed = end;
    return e;
  };
  std::vector<argument> tokens;
  size_t i = 0;
  auto at_line_end = [&](size_t at) {
    return at < end && (input[at] == '\n' || (input[at] == '\r' && at + 1 < end && input[at + 1] == '\n'));
  };
  auto skip_line_end = [&](size_t at) { return at + (input[at] == '\r' ? 2 : 1); };
  for (;;) {
    if (i >= end) return bad("Unexpected end of command.");  // not reached: framing ends in LF
    if (at_line_end(i)) {
      i = skip_line_end(i);
      break;  // the framing guarantees this is the command's last line end
    }
    if (tokens.size() >= limits_.max_arguments + 1) return bad("Too many arguments.");
    const unsigned char c = static_cast<unsigned char>(input[i]);
    argument a;
    if (c == '"') {
      a.k = argument::kind::string;
      ++i;
      bool closed = false;
      bool eight_bit = false;
      while (i < end) {
        char ch = input[i];
        if (ch == '"') {
          closed = true;
          ++i;
          break;
        }
        if (ch == '\\') {
          if (i + 1 >= end || (input[i + 1] != '"' && input[i + 1] != '\\')) {
            return bad("Invalid escape in quoted string (only \\\" and \\\\).");
          }
          a.value.push_back(input[i + 1]);
          i += 2;
          continue;
        }
        if (ch == '\0' || ch == '\r' || ch == '\n') break;  // not SAFE-CHAR
        if (static_cast<unsigned char>(ch) >= 0x80) eight_bit = true;
        a.value.push_back(ch);
        ++i;
      }
      if (!closed) {
        return bad(i < end && input[i] == '\0' ? "NUL in quoted string." : "Unterminated quoted string.");
      }
      // SAFE-UTF8-CHAR: 8-bit octets only as well-formed UTF-8.
      if (eight_bit && !mail::is_valid_utf8(a.value)) return bad("Quoted string is not valid UTF-8.");
    } else if (c == '{') {
      // The framing found this header at a line's end and checked its size.
      a.k = argument::kind::string;
      a.literal = true;
      size_t j = i + 1;
      uint64_t n = 0;
      while (j < end && is_digit(input[j]) && n <= UINT32_MAX) n = n * 10 + static_cast<uint64_t>(input[j++] - '0');
      if (j < end && input[j] == '+') ++j;
      if (j >= end || input[j] != '}' || j == i + 1 || !at_line_end(j + 1)) return bad("Invalid literal.");
      const size_t data = skip_line_end(j + 1);
      if (n > end - data) return bad("Invalid literal.");  // not reached: the framing sized it
      a.value.assign(input.substr(data, static_cast<size_t>(n)));
      i = data + static_cast<size_t>(n);
    } else if (is_atom_char(c)) {
      size_t j = i;
      while (j < end && is_atom_char(static_cast<unsigned char>(input[j]))) ++j;
      if (j - i > kMaxAtom) return bad("Atom too long.");
      a.value.assign(input.substr(i, j - i));
      i = j;
    } else if (c == '\0') {
      return bad("NUL in command.");
    } else if (c >= 0x80) {
      return bad("8-bit octets outside a string.");
    } else {
      return bad("Invalid character in command.");
    }
    tokens.push_back(std::move(a));
    // After a token: SP and the next token, or the line end. Runs of spaces and a trailing
    // space are tolerated, as Pigeonhole does.
    if (at_line_end(i)) continue;
    if (i >= end || input[i] != ' ') return bad("Expected a space between arguments.");
    while (i < end && input[i] == ' ') ++i;
  }

  if (response) {
    if (tokens.empty()) return bad("Empty response.");
  } else {
    if (tokens.empty()) return bad("Empty command.");
    if (tokens[0].k != argument::kind::atom) return bad("Command name must be an atom.");
    r.cmd.name = absl::AsciiStrToUpper(tokens[0].value);
    tokens.erase(tokens.begin());
  }
  r.cmd.args = std::move(tokens);
  r.k = result::kind::command;
  return r;
}

std::optional<uint32_t> parse_number(std::string_view atom) {
  if (atom.empty() || atom.size() > 20) return std::nullopt;
  uint64_t n = 0;
  for (char c : atom) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
    if (n > UINT32_MAX) return std::nullopt;
  }
  return static_cast<uint32_t>(n);
}

void append_literal(std::string& out, std::string_view value) {
  absl::StrAppend(&out, "{", value.size(), "}\r\n");
  out.append(value);
}

void append_string(std::string& out, std::string_view value) {
  bool quotable = value.size() < kMaxQuotedOut;
  bool eight_bit = false;
  for (size_t i = 0; quotable && i < value.size(); ++i) {
    const char ch = value[i];
    if (ch == '\0' || ch == '\r' || ch == '\n') quotable = false;
    if (static_cast<unsigned char>(ch) >= 0x80) eight_bit = true;
  }
  if (quotable && eight_bit) quotable = mail::is_valid_utf8(value);
  if (!quotable) {
    append_literal(out, value);
    return;
  }
  out.push_back('"');
  for (char ch : value) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  out.push_back('"');
}

}  // namespace ringmail::managesieve

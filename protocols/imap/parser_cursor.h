// The lexical layer of the IMAP command parser (RFC 9051 section 9): a cursor over one
// framed command that reads atoms, quoted strings, literals, astrings, numbers and
// flags. Internal to protocols/imap (command_parser.cc, fetch_parser.cc,
// search_parser.cc, sequence_set.cc); not part of the public API.
//
// Errors are sticky: the first failure records a fixed message (never client bytes) and
// every reader returns false from then on, so grammar code can be a chain of `&&`.
//
// Departures: none in what is accepted, except that a literal's header may be followed by
// a bare LF as well as CRLF (command_reader.h accepts bare LF as a line end).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/command.h"

namespace ringmail::imap::detail {

// Nesting bound for search keys and other parenthesised arguments (command.h).
inline constexpr int max_depth = 100;

bool is_atom_char(char c);  // ATOM-CHAR
bool iequals(std::string_view a, std::string_view b);
std::string upper(std::string_view s);

class cursor {
 public:
  cursor(std::string_view bytes, const parse_options& options)
      : s_(bytes), options_(options) {}

  bool ok() const { return error_ == nullptr; }
  const char* error() const { return error_; }
  bool fail(const char* why) {
    if (error_ == nullptr) error_ = why;
    return false;
  }

  bool eof() const { return pos_ >= s_.size(); }
  char peek() const { return eof() ? '\0' : s_[pos_]; }
  size_t pos() const { return pos_; }
  void seek(size_t p) { pos_ = p; }
  std::string_view rest() const { return s_.substr(pos_); }  // what is left (NOTIFY's sub-parse)

  bool take(char c);    // consumes c if it is next
  bool expect(char c);  // consumes c or fails
  bool sp() { return expect(' '); }
  bool end();           // nothing may follow

  // Letters, digits, '.', '-' and '$' (command names, keywords, FETCH item names);
  // empty if none. Never fails.
  std::string_view word();
  // Consumes `w` (case-insensitive) if it is the next word; leaves the cursor alone if not.
  bool take_word(std::string_view w);

  bool atom(std::string& out);         // 1*ATOM-CHAR
  bool quoted(std::string& out);       // DQUOTE *QUOTED-CHAR DQUOTE, unescaped
  bool literal(std::string& out, bool allow_literal8 = false, bool* binary = nullptr);
  bool string(std::string& out);       // quoted / literal
  bool astring(std::string& out);      // 1*ASTRING-CHAR / string
  bool nstring(std::optional<std::string>& out);
  bool mailbox(std::string& out);      // astring, "INBOX" in any case -> "INBOX"
  bool list_mailbox(std::string& out); // 1*list-char / string
  bool number(uint32_t& out);          // 32-bit number
  bool number64(uint64_t& out);        // RFC 9051 number64 (< 2^63)
  bool nz_number(uint32_t& out);
  bool flag(std::string& out);         // "\" atom / atom, as written
  bool flag_list(std::vector<std::string>& out);  // "(" [flag *(SP flag)] ")"
  // date / date-time in the command's form: bare or quoted; results as parse_date(_time).
  bool date(int64_t& days);
  bool date_time(int64_t& seconds);   // DQUOTE date-time DQUOTE
  // Skips one tagged-ext-val (RFC 4466: number, sequence set, astring or a
  // parenthesised list of them), bounded by max_depth.
  bool skip_ext_value(int depth = 0);

 private:
  std::string_view s_;
  parse_options options_;
  size_t pos_ = 0;
  const char* error_ = nullptr;
};

// sequence_set.cc
bool parse_sequence_set(cursor& c, sequence_set& out);
// fetch_parser.cc: "FETCH" arguments after the set: SP (macro / att / "(" atts ")")
// [SP modifiers].
bool parse_fetch_args(cursor& c, command& cmd);
// search_parser.cc: SEARCH arguments after the command name.
bool parse_search_args(cursor& c, command& cmd);
// append_parser.cc: APPEND's 1*append-message after the mailbox (MULTIAPPEND, CATENATE,
// UTF8 data; RFC 3502, 4469, 6855).
bool parse_append_messages(cursor& c, command& cmd);

}  // namespace ringmail::imap::detail

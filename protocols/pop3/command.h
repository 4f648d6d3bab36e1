// POP3 commands (RFC 1939, with CAPA and the response codes of RFC 2449, STLS of RFC
// 2595, AUTH of RFC 5034): the verb table and strict argument parsers.
//
// Pure functions over one command line (as the session reads it, without CRLF). A
// keyword is matched without regard to case (RFC 1939 section 3: "Keywords are
// case-insensitive"); arguments are separated by single spaces, as RFC 1939 writes them,
// though runs of spaces are tolerated as Dovecot and most servers do.
//
// Message numbers (RFC 1939 section 5: "a message-number ... refers to a message, not
// to a position in the list") are decimal digits only: "0", "-1", "+1", "1x" and values
// beyond 2^32 are refused here, so the session never sees a number it has to range-check
// for overflow. Whether 1..n names a message is the maildrop's question.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ringmail::pop3 {

// RFC 2449 section 4: "The maximum length of a command is increased from 47 characters
// ... to 255 octets, including the terminating CRLF."
inline constexpr size_t kMaxCommandLine = 255;

enum class verb {
  // AUTHORIZATION state
  user, pass, apop, auth, stls,
  // TRANSACTION state
  stat, list, retr, dele, noop, rset, top, uidl,
  // any state
  capa, quit,
  unknown,
};

enum class pop3_state { authorization, transaction };

struct command_info {
  verb v;
  const char* name;  // upper case; "" for unknown
  bool in_authorization;  // allowed before login
  bool in_transaction;    // allowed after login
};

const command_info& info(verb v);

struct command {
  verb v = verb::unknown;
  std::string_view keyword;           // as the client wrote it (for the error reply)
  std::vector<std::string_view> args;  // split on spaces; empty if none
  std::string_view rest;               // everything after the keyword and its space (PASS)
};

// Splits a command line. An empty line, or a keyword longer than 4 characters
// (RFC 1939 section 3: keywords are three or four characters), is verb::unknown.
command parse_command(std::string_view line);

// A message number: 1..UINT32_MAX in plain decimal (leading zeros allowed, at most 10
// digits after them). nullopt for anything else.
std::optional<uint32_t> parse_message_number(std::string_view arg);
// TOP's line count: a non-negative decimal (0 is valid: headers only); values over
// UINT32_MAX clamp to UINT32_MAX (a client asking for "all lines" of a huge body).
std::optional<uint32_t> parse_line_count(std::string_view arg);

}  // namespace ringmail::pop3

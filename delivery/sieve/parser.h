// The Sieve parser: RFC 5228 section 8.2 (the grammar, quoted in ast.h) over the tokens of
// lexer.h, building the syntax tree of ast.h. Pure: no I/O, no runtime. It only knows
// the grammar: which commands, tests and tags exist is the checker's business
// (checker.h), so "fileinto" in a script that did not require it parses fine here.
//
// A script is parsed whole, not fed in pieces (the departure from our other parsers'
// feed() shape): scripts are files of at most `max_script_bytes`, read whole from disk
// or from a ManageSieve literal before they are parsed, and parsed once, then cached.
//
// The parser stops at the first error (Pigeonhole goes on to report more; one clear
// message with its place is what ManageSieve and the logs show). Errors read
// "line L, column C: ..." and are InvalidArgument, or ResourceExhausted when a limit
// below was hit. Each limit stops a hostile script from costing memory, stack or time:
// the parser recurses once per block and per nested test, so `max_nesting` bounds its
// stack; everything else is linear in the script.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "delivery/sieve/ast.h"

namespace ringmail::sieve {

struct parse_limits {
  // The whole script (Pigeonhole's sieve_max_script_size default, 1 MiB).
  size_t max_script_bytes = 1024 * 1024;
  // One string value after decoding (Pigeonhole's SIEVE_MAX_STRING_LEN, 1 MiB).
  size_t max_string_bytes = 1024 * 1024;
  // Identifiers and tags. Pigeonhole stops at 32; no command, test or tag name is longer
  // than 20, so anything past 64 is garbage.
  size_t max_identifier_bytes = 64;
  // Nested blocks, and separately nested tests (Pigeonhole's SIEVE_MAX_BLOCK_NESTING and
  // SIEVE_MAX_TEST_NESTING, both 32): the parser's recursion depth.
  size_t max_nesting = 32;
  // Arguments of one command or test (Pigeonhole's SIEVE_MAX_COMMAND_ARGUMENTS).
  size_t max_arguments = 32;
  // Strings in one string list: each is a key the interpreter compares against every
  // header value; a 1 MiB script could otherwise hold 250,000 of them.
  size_t max_list_items = 10000;
  // Commands and tests in the whole script, together: the interpreter's work per message
  // grows with them (a generated script of a thousand rules has about 5,000).
  size_t max_nodes = 20000;
};

absl::StatusOr<script> parse_script(std::string_view text, const parse_limits& limits = {});

}  // namespace ringmail::sieve

// The compiled form of a Sieve script (interpreter.h's opaque `program`): the checked tree
// (checker_tree.h) it was built from, with a parallel tree of compiled nodes that carry
// what compile() could decide once: the checker's comparator / match type / relation
// translated into the matching library's match_spec (the ONE place where the two enum
// families meet: to_matching() below), and the key list of every test whose keys are
// constants (no "${" while "variables" is required) compiled into a compiled_match, so
// wildcard patterns and regexes are parsed once per script instead of once per message.
// Keys holding variable references are expanded and compiled at run time (run_tests.cc).
//
// Internal to the interpreter (program.cc, run_*.cc): other code sees `program` only
// through interpreter.h. A program is immutable after compile(); the compiled nodes point
// into `script`, so a program is never copied or moved (compile() builds it in place
// behind a shared_ptr).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "delivery/sieve/address_part.h"
#include "delivery/sieve/checker_tree.h"
#include "delivery/sieve/comparator.h"
#include "delivery/sieve/match_list.h"

namespace ringmail::sieve {

struct compiled_test {
  const checked_test* source = nullptr;
  matching::match_spec spec;                      // for tests that match keys
  std::optional<matching::compiled_match> keys;  // set when the keys are constants
  std::vector<compiled_test> tests;               // allof/anyof/not
};

struct compiled_command {
  const checked_command* source = nullptr;
  std::vector<compiled_test> test;                // if/elsif: one
  std::vector<compiled_command> block;            // if/elsif/else
  matching::match_spec spec;                      // deleteheader's value patterns
  std::optional<matching::compiled_match> keys;
};

class program {
 public:
  program() = default;
  program(const program&) = delete;
  program& operator=(const program&) = delete;

  checked_script script;
  std::vector<compiled_command> commands;
  bool variables = false;  // "variables" required: strings are expanded at run time
};

// The translation of the checker's enums into the matching library's (the only one).
matching::comparator to_matching(comparator c);
matching::relation to_matching(relation r);
matching::address_part to_matching(address_part p);
matching::match_spec to_match_spec(const checked_arguments& arguments);

// The keys a test compares, from its key list as written (or expanded): hasflag's keys
// are flag lists like its values, split at white space (RFC 5232 4, and Pigeonhole:
// `hasflag "$a $b"` is true when the variable holds $a or $b); other tests' keys as they
// are.
std::vector<std::string> test_keys(test_id id, std::vector<std::string> keys);

// The positional slot holding a test's key list (header's second argument, body's first,
// ...), or nullopt for tests that match no keys (exists, size, allof, ...).
std::optional<size_t> key_slot(test_id id);

}  // namespace ringmail::sieve

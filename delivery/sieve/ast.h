// The syntax tree of a Sieve script (RFC 5228 section 8.2), as the parser builds it and
// before any meaning is given to it: names are kept as written (Sieve identifiers and
// tags compare case-insensitively, as Pigeonhole does, so `IF` is `if`), strings are
// decoded (escapes and dot-stuffing removed) but not yet checked for encoded characters
// or variables. The checker (checker.h) walks this tree and produces the checked tree
// (checker_tree.h) that a compiler or interpreter uses.
//
//   start       = commands
//   commands    = *command
//   command     = identifier arguments (";" / block)
//   block       = "{" commands "}"
//   arguments   = *argument [ test / test-list ]
//   argument    = string-list / number / tag
//   string-list = "[" string *("," string) "]" / string
//   test        = identifier arguments
//   test-list   = "(" test *("," test) ")"
//
// Every node keeps the line and column (1-based, columns in octets: a tab is one
// column) where it starts, so every later error can name its place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringmail::sieve {

struct source_location {
  uint32_t line = 0;
  uint32_t column = 0;

  bool operator==(const source_location&) const = default;
};

struct string_literal {
  std::string value;  // decoded: quoted-string escapes or multi-line dot-stuffing removed
  source_location where;

  bool operator==(const string_literal&) const = default;
};

enum class argument_kind : uint8_t {
  tag,          // ":is" -> tag "is"
  number,       // "100K" -> 102400
  string,       // one string, written without brackets
  string_list,  // "[" ... "]" (a bracketed list of one string is still a list)
};

struct argument {
  argument_kind kind = argument_kind::tag;
  source_location where;
  std::string tag;                      // kind tag: the name without the colon
  uint64_t number = 0;                  // kind number: the value, quantifier applied
  std::vector<string_literal> strings;  // kind string: one; kind string_list: one or more

  bool operator==(const argument&) const = default;
};

struct test {
  std::string name;
  source_location where;
  std::vector<argument> arguments;
  std::vector<test> tests;  // nested tests (allof/anyof/not)
  bool test_list = false;   // the tests were written as "( ... )", even one

  bool operator==(const test&) const = default;
};

struct command {
  std::string name;
  source_location where;
  std::vector<argument> arguments;
  std::vector<test> tests;  // if/elsif: the condition
  bool test_list = false;   // the tests were written as "( ... )"
  bool has_block = false;   // "{ ... }" followed (else ";")
  std::vector<command> block;

  bool operator==(const command&) const = default;
};

struct script {
  std::vector<command> commands;

  bool operator==(const script&) const = default;
};

}  // namespace ringmail::sieve

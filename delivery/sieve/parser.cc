#include "delivery/sieve/parser.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "delivery/sieve/lexer.h"

namespace ringmail::sieve {
namespace {

// The first error ends the parse: every method returns a status, and `current_` is the
// next unconsumed token.
class parser {
 public:
  parser(std::string_view text, const parse_limits& limits)
      : lexer_(text, limits.max_string_bytes, limits.max_identifier_bytes), limits_(limits) {}

  absl::StatusOr<script> run() {
    if (absl::Status s = advance(); !s.ok()) return s;
    script out;
    if (absl::Status s = parse_commands(out.commands, 0); !s.ok()) return s;
    if (current_.kind != token_kind::end) {
      return error(current_.where,
                   absl::StrCat("expected a command, but found ", found(current_)));
    }
    return out;
  }

 private:
  absl::Status advance() {
    absl::StatusOr<token> t = lexer_.next();
    if (!t.ok()) return t.status();
    current_ = *std::move(t);
    return absl::OkStatus();
  }

  static absl::Status error(source_location where, std::string_view message) {
    return absl::InvalidArgumentError(located(where, message));
  }
  static absl::Status limit(source_location where, std::string_view message) {
    return absl::ResourceExhaustedError(located(where, message));
  }
  static std::string found(const token& t) {
    if (t.kind == token_kind::identifier) return absl::StrCat("identifier '", t.text, "'");
    if (t.kind == token_kind::tag) return absl::StrCat("tag ':", t.text, "'");
    return std::string(describe(t.kind));
  }

  absl::Status count_node(source_location where) {
    if (++nodes_ > limits_.max_nodes) {
      return limit(where, absl::StrCat("script has more than ", limits_.max_nodes,
                                       " commands and tests"));
    }
    return absl::OkStatus();
  }

  // commands = *command; command = identifier arguments (";" / block)
  absl::Status parse_commands(std::vector<command>& out, size_t depth) {
    while (current_.kind == token_kind::identifier) {
      command c;
      c.name = std::move(current_.text);
      c.where = current_.where;
      if (absl::Status s = count_node(c.where); !s.ok()) return s;
      if (absl::Status s = advance(); !s.ok()) return s;
      if (absl::Status s = parse_arguments(c.name, c.arguments, c.tests, c.test_list, 0);
          !s.ok()) {
        return s;
      }
      if (current_.kind == token_kind::semicolon) {
        if (absl::Status s = advance(); !s.ok()) return s;
      } else if (current_.kind == token_kind::left_brace) {
        const source_location open = current_.where;
        if (depth + 1 > limits_.max_nesting) {
          return limit(open, absl::StrCat("blocks are nested deeper than ",
                                          limits_.max_nesting, " levels"));
        }
        if (absl::Status s = advance(); !s.ok()) return s;
        c.has_block = true;
        if (absl::Status s = parse_commands(c.block, depth + 1); !s.ok()) return s;
        if (current_.kind != token_kind::right_brace) {
          return error(current_.where,
                       absl::StrCat("expected a command or '}' to close the block opened at line ",
                                    open.line, ", column ", open.column, ", but found ",
                                    found(current_)));
        }
        if (absl::Status s = advance(); !s.ok()) return s;
      } else {
        return error(current_.where,
                     absl::StrCat("expected ';' or '{' after the command '", c.name,
                                  "', but found ", found(current_)));
      }
      out.push_back(std::move(c));
    }
    return absl::OkStatus();
  }

  // arguments = *argument [ test / test-list ]
  absl::Status parse_arguments(std::string_view owner, std::vector<argument>& args,
                               std::vector<test>& tests, bool& test_list, size_t test_depth) {
    for (;;) {
      argument a;
      a.where = current_.where;
      switch (current_.kind) {
        case token_kind::tag:
          a.kind = argument_kind::tag;
          a.tag = std::move(current_.text);
          break;
        case token_kind::number:
          a.kind = argument_kind::number;
          a.number = current_.number;
          break;
        case token_kind::string:
          a.kind = argument_kind::string;
          a.strings.push_back({std::move(current_.text), current_.where});
          break;
        case token_kind::left_bracket:
          a.kind = argument_kind::string_list;
          if (absl::Status s = parse_string_list(a.strings); !s.ok()) return s;
          break;
        default:
          return parse_tests(owner, tests, test_list, test_depth);
      }
      if (args.size() >= limits_.max_arguments) {
        return limit(a.where, absl::StrCat("'", av(owner), "' has more than ",
                                           limits_.max_arguments, " arguments"));
      }
      args.push_back(std::move(a));
      // A string list's closing ']' was consumed by parse_string_list.
      if (args.back().kind != argument_kind::string_list) {
        if (absl::Status s = advance(); !s.ok()) return s;
      }
    }
  }

  // string-list = "[" string *("," string) "]"; current_ is "[" on entry, the token after
  // "]" on success.
  absl::Status parse_string_list(std::vector<string_literal>& out) {
    const source_location open = current_.where;
    if (absl::Status s = advance(); !s.ok()) return s;
    for (;;) {
      if (current_.kind != token_kind::string) {
        return error(current_.where,
                     absl::StrCat("expected a string in the string list opened at line ",
                                  open.line, ", column ", open.column, ", but found ",
                                  found(current_)));
      }
      if (out.size() >= limits_.max_list_items) {
        return limit(current_.where, absl::StrCat("string list has more than ",
                                                  limits_.max_list_items, " items"));
      }
      out.push_back({std::move(current_.text), current_.where});
      if (absl::Status s = advance(); !s.ok()) return s;
      if (current_.kind == token_kind::right_bracket) return advance();
      if (current_.kind != token_kind::comma) {
        return error(current_.where,
                     absl::StrCat("expected ',' or ']' in the string list opened at line ",
                                  open.line, ", column ", open.column, ", but found ",
                                  found(current_)));
      }
      if (absl::Status s = advance(); !s.ok()) return s;
    }
  }

  // [ test / test-list ]; test-list = "(" test *("," test) ")"
  absl::Status parse_tests(std::string_view owner, std::vector<test>& tests, bool& test_list,
                           size_t test_depth) {
    if (current_.kind != token_kind::identifier && current_.kind != token_kind::left_paren) {
      return absl::OkStatus();  // no test: the checker decides whether one was needed
    }
    if (test_depth + 1 > limits_.max_nesting) {
      return limit(current_.where, absl::StrCat("tests are nested deeper than ",
                                                limits_.max_nesting, " levels"));
    }
    if (current_.kind == token_kind::identifier) {
      tests.emplace_back();
      return parse_test(tests.back(), test_depth + 1);
    }
    const source_location open = current_.where;
    test_list = true;
    if (absl::Status s = advance(); !s.ok()) return s;
    for (;;) {
      if (current_.kind != token_kind::identifier) {
        return error(current_.where,
                     absl::StrCat("expected a test in the test list of '", av(owner),
                                  "' opened at line ", open.line, ", column ", open.column,
                                  ", but found ", found(current_)));
      }
      tests.emplace_back();
      if (absl::Status s = parse_test(tests.back(), test_depth + 1); !s.ok()) return s;
      if (current_.kind == token_kind::right_paren) return advance();
      if (current_.kind != token_kind::comma) {
        return error(current_.where,
                     absl::StrCat("expected ',' or ')' in the test list of '", av(owner),
                                  "' opened at line ", open.line, ", column ", open.column,
                                  ", but found ", found(current_)));
      }
      if (absl::Status s = advance(); !s.ok()) return s;
    }
  }

  // test = identifier arguments; current_ is the identifier on entry.
  absl::Status parse_test(test& t, size_t depth) {
    t.name = std::move(current_.text);
    t.where = current_.where;
    if (absl::Status s = count_node(t.where); !s.ok()) return s;
    if (absl::Status s = advance(); !s.ok()) return s;
    return parse_arguments(t.name, t.arguments, t.tests, t.test_list, depth);
  }

  lexer lexer_;
  const parse_limits& limits_;
  token current_;
  size_t nodes_ = 0;
};

}  // namespace

absl::StatusOr<script> parse_script(std::string_view text, const parse_limits& limits) {
  if (text.size() > limits.max_script_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "script is ", text.size(), " bytes, more than the limit of ", limits.max_script_bytes));
  }
  return parser(text, limits).run();
}

}  // namespace ringmail::sieve

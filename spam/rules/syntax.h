// The pieces of a rule line in the SpamAssassin rule language, parsed as
// Mail::SpamAssassin (4.0) parses them: regex literals (Util::compile_regexp), eval calls
// (Conf::Parser::pack_eval_args), header tests (Conf::Parser::add_test) and rule names
// (Constants::IS_RULENAME). Pure functions; rule_loader.cc strings them together.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::spam {

// [_a-zA-Z][_a-zA-Z0-9]{0,127}
bool is_rule_name(std::string_view name);

struct regex_literal {
  std::string pattern;  // between the delimiters, escapes as written
  std::string flags;    // the modifiers kept: any of "imsx", in that order
};

// "/re/flags", "m{re}flags", "m!re!", "qr<re>" ... as Util::compile_regexp with
// strip_delimiters=1: a bare pattern needs '/', any other delimiter needs 'm' (or 'qr');
// {} () <> [] pair up; an unescaped non-bracket delimiter inside is an error, as is (?{ }).
absl::StatusOr<regex_literal> parse_regex_literal(std::string_view text);

struct eval_call {
  std::string function;
  std::vector<std::string> args;  // quotes removed
};

// "check_rbl('zen', '127.0.0.2')": function name, then arguments as
// Conf::Parser::pack_eval_args accepts them (quoted strings or bare [\d.:A-Za-z-]+).
absl::StatusOr<eval_call> parse_eval_call(std::string_view text);

struct header_test {
  std::string header_name;      // "From", "ALL", ...
  std::string header_modifier;  // "", ":raw", ":addr", ... (two modifiers: ":addr:first")
  bool negate = false;
  bool has_if_unset = false;
  std::string if_unset;
  regex_literal regex;
};

// "Subject:raw =~ /re/i [if-unset: text]" (the text after the rule name).
// `mime`: the MIMEHeader plugin's stricter form (only ":raw").
absl::StatusOr<header_test> parse_header_test(std::string_view text, bool mime);

// "exists:X-Mailer" -> "X-Mailer"; error when the name is not [\w.-]+.
absl::StatusOr<std::string> parse_exists_test(std::string_view text);

}  // namespace ringmail::spam

// The conditions of `if EXPR` and `ifplugin NAME` lines in rule files, evaluated as
// Mail::SpamAssassin::Conf::Parser::handle_conditional does: numbers, `version`,
// `perl_version`, `plugin(Name)`, `can(Module::method)`, `has(Module::method)`,
// ! && || ^ == != < > <= >= + - * / ?: and parentheses, with Perl's precedence.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::spam {

struct condition_context {
  double version = 4.000000;     // Mail::SpamAssassin::VERSION as a number
  double perl_version = 5.036;   // $] — Debian 12's perl
  const std::vector<std::string>* plugins = nullptr;  // plugins treated as loaded
};

// True/false, or nullopt when SpamAssassin would refuse the expression (unparseable
// token, syntax error). Names we know nothing about (a bare class name, an unknown
// feature) are false: a block we cannot vouch for is skipped rather than loaded.
std::optional<bool> evaluate_condition(std::string_view expression, const condition_context& context);

// `can(Module::method)`: Mail::SpamAssassin::Conf feature flags of SpamAssassin 4.0.1
// that this implementation honours, and has_* methods of loaded plugins.
bool condition_method_available(std::string_view method, const condition_context& context);

// `plugin(Name)`, with SpamAssassin's renames (Dmarc -> DMARC, WhiteListSubject ->
// WelcomeListSubject) and RaciallyCharged always "loaded" (removed upstream).
bool condition_plugin_loaded(std::string_view name, const condition_context& context);

}  // namespace ringmail::spam

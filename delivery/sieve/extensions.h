// The Sieve vocabulary we implement: every capability `require` accepts, and one syntax
// row per command and test of RFC 5228 and the extensions (their tags, positional
// arguments, sub-tests and block), as data, the way Postfix keeps smtpd_cmd_table[]. The
// checker (checker.h) walks a parsed script against these rows; the rows are written in
// extensions.cc beside the RFC's syntax line of each command.
//
// Pure, immutable tables (function-local constants built once): no global mutable state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/sieve/checker_tree.h"

namespace ringmail::sieve {

// The capability string of an extension ("comparator-i;ascii-numeric", "vacation-seconds").
std::string_view extension_name(extension e);

// The extension a `require` string names (exact, case-sensitive, as RFC 5228 3.2's
// capability strings are compared with i;octet). nullopt for unknown names; the core
// comparators are `core_capability`.
std::optional<extension> find_extension(std::string_view name);
bool is_core_capability(std::string_view name);  // "comparator-i;octet", "...ascii-casemap"

// Every extension we implement, space-separated in enum order: the value of ManageSieve's
// "SIEVE" capability (RFC 5804 1.7) and of Sieve's own listing. The core comparators
// are not listed (Pigeonhole does not either).
std::string capability_string();

// Which resolved field a tag sets.
enum class tag_role : uint8_t { comparator, match, address_part, other };

// Tags of which a command takes at most one (RFC 5228 2.7: one COMPARATOR, one
// MATCH-TYPE, one ADDRESS-PART; and the either/or tags of the extensions).
enum class tag_group : uint8_t {
  none,
  comparator,
  match_type,
  address_part,
  body_transform,    // :raw / :content / :text (RFC 5173)
  size_relation,     // :over / :under (RFC 5228 5.9), exactly one
  vacation_period,   // :days / :seconds (RFC 6131)
  zone,              // :zone / :originalzone (RFC 5260)
  include_location,  // :personal / :global (RFC 6609)
  duplicate_key,     // :header / :uniqueid (RFC 7352)
  case_modifier,     // set :lower / :upper (RFC 5229 precedence 40)
  first_modifier,    // set :lowerfirst / :upperfirst (precedence 30)
};
std::string_view group_name(tag_group group);  // "MATCH-TYPE", ...

struct tag_spec {
  std::string_view name;  // without ':'
  tag_role role = tag_role::other;
  uint8_t id = 0;  // tag_id, match_type or address_part, by role (comparator: unused)
  value_kind parameter = value_kind::none;  // the value that follows the tag
  std::optional<extension> needs;           // must be required for this tag
  tag_group group = tag_group::none;
  std::optional<tag_id> needs_tag;          // :last needs :index (RFC 5260 6)
};

struct positional_spec {
  std::string_view name;  // "mailbox", "key-list": for messages
  value_kind kind = value_kind::string;  // string or string_list or number
  bool optional = false;  // left out when fewer arguments are given
};

enum class subtests : uint8_t { none, one, list };

struct node_spec {
  std::string_view name;
  bool is_test = false;
  uint8_t id = 0;  // command_id or test_id
  std::optional<extension> needs;  // nullopt: RFC 5228 core
  std::vector<tag_spec> tags;
  std::vector<positional_spec> positional;
  subtests tests = subtests::none;
  bool block = false;  // commands: takes (and needs) a block: if, elsif, else
};

// The row of a command or test, by name (ASCII case-insensitive, as Pigeonhole matches
// identifiers); nullptr when we know no such command/test.
const node_spec* find_command(std::string_view name);
const node_spec* find_test(std::string_view name);

}  // namespace ringmail::sieve

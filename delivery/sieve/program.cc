// compile() and includes_of() of interpreter.h: the checked tree becomes a program
// (program.h) whose constant key lists are compiled once.
#include "delivery/sieve/program.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "delivery/sieve/imap4flags.h"
#include "delivery/sieve/interpreter.h"
#include "delivery/sieve/variables.h"

namespace ringmail::sieve {

matching::comparator to_matching(comparator c) {
  switch (c) {
    case comparator::i_octet: return matching::comparator::octet;
    case comparator::i_ascii_casemap: return matching::comparator::ascii_casemap;
    case comparator::i_ascii_numeric: return matching::comparator::ascii_numeric;
  }
  return matching::comparator::ascii_casemap;
}

matching::relation to_matching(relation r) {
  switch (r) {
    case relation::gt: return matching::relation::gt;
    case relation::ge: return matching::relation::ge;
    case relation::lt: return matching::relation::lt;
    case relation::le: return matching::relation::le;
    case relation::eq: return matching::relation::eq;
    case relation::ne: return matching::relation::ne;
    case relation::none: break;
  }
  return matching::relation::eq;  // not reached: the checker sets one with :value/:count
}

matching::address_part to_matching(address_part p) {
  switch (p) {
    case address_part::all: return matching::address_part::all;
    case address_part::localpart: return matching::address_part::localpart;
    case address_part::domain: return matching::address_part::domain;
    case address_part::user: return matching::address_part::user;
    case address_part::detail: return matching::address_part::detail;
  }
  return matching::address_part::all;
}

matching::match_spec to_match_spec(const checked_arguments& arguments) {
  matching::match_spec spec;
  spec.compare = to_matching(arguments.compare);
  switch (arguments.match) {
    case match_type::is: spec.type = matching::match_type::is; break;
    case match_type::contains: spec.type = matching::match_type::contains; break;
    case match_type::matches: spec.type = matching::match_type::matches; break;
    case match_type::regex: spec.type = matching::match_type::regex; break;
    case match_type::value: spec.value_relation = to_matching(arguments.relational); break;
    case match_type::count: spec.count_relation = to_matching(arguments.relational); break;
  }
  return spec;
}

std::vector<std::string> test_keys(test_id id, std::vector<std::string> keys) {
  if (id != test_id::hasflag) return keys;
  std::vector<std::string> flags;
  for (const std::string& k : keys) {
    for (std::string& f : split_flags(k)) flags.push_back(std::move(f));
  }
  return flags;
}

std::optional<size_t> key_slot(test_id id) {
  switch (id) {
    case test_id::address:
    case test_id::envelope:
    case test_id::header:
    case test_id::hasflag:
    case test_id::string:
    case test_id::currentdate:
    case test_id::environment:
      return 1;
    case test_id::body:
    case test_id::spamtest:
      return 0;
    case test_id::date:
      return 2;
    case test_id::allof:
    case test_id::anyof:
    case test_id::not_:
    case test_id::exists:
    case test_id::false_:
    case test_id::true_:
    case test_id::size:
    case test_id::mailboxexists:
    case test_id::duplicate:
      return std::nullopt;
  }
  return std::nullopt;
}

namespace {

class compiler {
 public:
  compiler(bool variables, const compile_limits& limits)
      : variables_(variables), limits_(limits) {}

  absl::Status commands(const std::vector<checked_command>& in,
                        std::vector<compiled_command>& out) {
    out.reserve(in.size());
    for (const checked_command& c : in) {
      compiled_command& node = out.emplace_back();
      node.source = &c;
      for (const checked_test& t : c.test) {
        if (absl::Status s = test(t, node.test.emplace_back()); !s.ok()) return s;
      }
      if (absl::Status s = commands(c.block, node.block); !s.ok()) return s;
      if (c.id == command_id::deleteheader && c.arguments.positional.size() > 1 &&
          c.arguments.positional[1].kind != value_kind::none) {
        node.spec = to_match_spec(c.arguments);
        if (absl::Status s = keys(c.arguments.positional[1], node.spec, node.keys); !s.ok()) {
          return s;
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status test(const checked_test& t, compiled_test& node) {
    node.source = &t;
    for (const checked_test& sub : t.tests) {
      if (absl::Status s = test(sub, node.tests.emplace_back()); !s.ok()) return s;
    }
    std::optional<size_t> slot = key_slot(t.id);
    if (!slot || *slot >= t.arguments.positional.size()) return absl::OkStatus();
    node.spec = to_match_spec(t.arguments);
    return keys(t.arguments.positional[*slot], node.spec, node.keys, t.id);
  }

  // Compiles a constant key list; leaves `out` empty when a key refers to variables.
  absl::Status keys(const value& list, const matching::match_spec& spec,
                    std::optional<matching::compiled_match>& out,
                    std::optional<test_id> test = std::nullopt) {
    if (variables_) {
      for (const std::string& k : list.strings) {
        if (matching::has_variable_references(k)) return absl::OkStatus();
      }
    }
    std::vector<std::string> strings =
        test ? test_keys(*test, list.strings) : list.strings;
    absl::StatusOr<matching::compiled_match> m =
        matching::compiled_match::compile(spec, strings, limits_.regex);
    if (!m.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", list.where.line, ", column ",
                                                     list.where.column, ": ",
                                                     m.status().message()));
    }
    out.emplace(*std::move(m));
    return absl::OkStatus();
  }

  bool variables_;
  const compile_limits& limits_;
};

void collect_includes(const std::vector<checked_command>& commands,
                      std::vector<include_reference>& out) {
  for (const checked_command& c : commands) {
    if (c.id == command_id::include && !c.arguments.positional.empty()) {
      include_reference ref;
      ref.name = c.arguments.positional[0].string();
      ref.global = c.arguments.find(tag_id::global) != nullptr;
      ref.optional = c.arguments.find(tag_id::optional) != nullptr;
      bool seen = false;
      for (include_reference& r : out) {
        if (r.name == ref.name && r.global == ref.global) {
          r.optional = r.optional && ref.optional;  // required once is required
          seen = true;
        }
      }
      if (!seen) out.push_back(std::move(ref));
    }
    collect_includes(c.block, out);
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<const program>> compile(checked_script script,
                                                        const compile_limits& limits) {
  auto p = std::make_shared<program>();
  p->script = std::move(script);
  p->variables = has(p->script.extensions, extension::variables);
  compiler c(p->variables, limits);
  if (absl::Status s = c.commands(p->script.commands, p->commands); !s.ok()) return s;
  return std::shared_ptr<const program>(std::move(p));
}

std::vector<include_reference> includes_of(const program& p) {
  std::vector<include_reference> out;
  collect_includes(p.script.commands, out);
  return out;
}

}  // namespace ringmail::sieve

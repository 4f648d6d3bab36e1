#include "delivery/sieve/checker.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "delivery/sieve/checker_address.h"
#include "delivery/sieve/encoded_character.h"
#include "delivery/sieve/extensions.h"
#include "delivery/sieve/imap4flags.h"
#include "delivery/sieve/lexer.h"
#include "mail/charset.h"
#include "mail/header.h"

namespace ringmail::sieve {
namespace {

absl::Status error(source_location where, std::string_view message) {
  return absl::InvalidArgumentError(located(where, message));
}

bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && (i == 0 || c < '0' || c > '9')) return false;
  }
  return true;
}

// RFC 5322 3.6.8: field-name = 1*ftext; ftext = %d33-57 / %d59-126
bool is_field_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && u != ':';
  });
}

// RFC 5260 4.2's date-part names (case-insensitive).
bool is_date_part(std::string_view s) {
  for (std::string_view known : {"year", "month", "day", "date", "julian", "hour", "minute",
                                 "second", "time", "iso8601", "std11", "zone", "weekday"}) {
    if (mail::equals_ignore_case(s, known)) return true;
  }
  return false;
}

// RFC 5260 4.1: time-zone = ( "+" / "-" ) 4DIGIT, minutes below 60.
bool is_zone(std::string_view s) {
  if (s.size() != 5 || (s[0] != '+' && s[0] != '-')) return false;
  for (size_t i = 1; i < 5; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return s[3] <= '5';
}

std::optional<relation> parse_relation(std::string_view s) {
  static constexpr std::pair<std::string_view, relation> kNames[] = {
      {"gt", relation::gt}, {"ge", relation::ge}, {"lt", relation::lt},
      {"le", relation::le}, {"eq", relation::eq}, {"ne", relation::ne}};
  for (const auto& [name, r] : kNames) {
    if (mail::equals_ignore_case(s, name)) return r;
  }
  return std::nullopt;
}

std::string_view kind_name(argument_kind kind) {
  switch (kind) {
    case argument_kind::tag: return "a tag";
    case argument_kind::number: return "a number";
    case argument_kind::string: return "a string";
    case argument_kind::string_list: return "a string list";
  }
  return "an argument";
}

std::string_view kind_name(value_kind kind) {
  switch (kind) {
    case value_kind::none: return "nothing";
    case value_kind::number: return "a number";
    case value_kind::string: return "a string";
    case value_kind::string_list: return "a string list";
  }
  return "a value";
}

bool fits(argument_kind given, value_kind wanted) {
  switch (wanted) {
    case value_kind::none: return false;
    case value_kind::number: return given == argument_kind::number;
    case value_kind::string: return given == argument_kind::string;
    case value_kind::string_list:
      return given == argument_kind::string || given == argument_kind::string_list;
  }
  return false;
}

class checker {
 public:
  absl::StatusOr<checked_script> run(const script& parsed) {
    std::span<const command> commands(parsed.commands);
    size_t first = 0;
    // RFC 5228 3.2: require commands come first.
    while (first < commands.size() &&
           mail::equals_ignore_case(commands[first].name, "require")) {
      if (absl::Status s = require(commands[first]); !s.ok()) return s;
      ++first;
    }
    absl::StatusOr<std::vector<checked_command>> body = check_block(commands.subspan(first));
    if (!body.ok()) return body.status();
    checked_script out;
    out.extensions = extensions_;
    out.commands = *std::move(body);
    out.warnings = std::move(warnings_);
    return out;
  }

 private:
  bool required(extension e) const { return has(extensions_, e); }

  absl::Status require(const command& c) {
    if (!c.tests.empty() || c.has_block) {
      return error(c.where, "the require command takes neither a test nor a block");
    }
    if (c.arguments.size() != 1 || c.arguments[0].kind == argument_kind::tag ||
        c.arguments[0].kind == argument_kind::number) {
      return error(c.where, "the require command takes one string list of capabilities");
    }
    for (const string_literal& name : c.arguments[0].strings) {
      if (is_core_capability(name.value)) continue;
      const std::optional<extension> e = find_extension(name.value);
      if (!e) {
        return error(name.where, absl::StrCat("require: unknown capability \"", name.value, "\""));
      }
      extensions_.set(static_cast<size_t>(*e));
      if (*e == extension::vacation_seconds) extensions_.set(static_cast<size_t>(extension::vacation));
      if (*e == extension::spamtestplus) extensions_.set(static_cast<size_t>(extension::spamtest));
    }
    return absl::OkStatus();
  }

  // A string whose value is known now: not one that variables expand at run time.
  bool constant(std::string_view s) const {
    return !required(extension::variables) || s.find("${") == std::string_view::npos;
  }

  absl::StatusOr<std::vector<checked_command>> check_block(std::span<const command> commands) {
    std::vector<checked_command> out;
    out.reserve(commands.size());
    std::optional<command_id> previous;
    for (const command& c : commands) {
      const node_spec* spec = find_command(c.name);
      if (spec == nullptr) return error(c.where, absl::StrCat("unknown command '", c.name, "'"));
      if (spec->needs && !required(*spec->needs)) {
        return error(c.where, absl::StrCat("the ", av(spec->name), " command needs require \"",
                                           av(extension_name(*spec->needs)), "\""));
      }
      const auto id = static_cast<command_id>(spec->id);
      if (id == command_id::require) {
        return error(c.where, "require is only allowed at the start of the script, before any other command");
      }
      if ((id == command_id::elsif || id == command_id::else_) &&
          previous != command_id::if_ && previous != command_id::elsif) {
        return error(c.where, absl::StrCat("the ", av(spec->name), " command must follow an if or elsif command"));
      }
      absl::StatusOr<checked_command> checked = check_command(c, *spec);
      if (!checked.ok()) return checked.status();
      out.push_back(*std::move(checked));
      previous = id;
    }
    return out;
  }

  absl::Status check_tests(const node_spec& spec, std::string_view what, source_location where,
                           const std::vector<test>& tests, bool test_list) {
    switch (spec.tests) {
      case subtests::none:
        if (!tests.empty()) return error(where, absl::StrCat(av(what), " takes no test"));
        if (test_list) return error(where, absl::StrCat(av(what), " takes no test list"));
        return absl::OkStatus();
      case subtests::one:
        if (tests.empty()) return error(where, absl::StrCat(av(what), " needs a test"));
        if (test_list) {
          return error(where, absl::StrCat(av(what), " needs one test, but a test list was given"));
        }
        return absl::OkStatus();
      case subtests::list:
        if (!test_list) {
          return error(where, absl::StrCat(av(what), " needs a test list \"( ... )\", but ",
                                           tests.empty() ? "none" : "a single test",
                                           " was given"));
        }
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<checked_command> check_command(const command& c, const node_spec& spec) {
    const std::string what = absl::StrCat("the ", av(spec.name), " command");
    checked_command out;
    out.id = static_cast<command_id>(spec.id);
    out.where = c.where;
    if (absl::Status s = check_tests(spec, what, c.where, c.tests, c.test_list); !s.ok()) return s;
    if (spec.block && !c.has_block) return error(c.where, absl::StrCat(av(what), " needs a block"));
    if (!spec.block && c.has_block) {
      return error(c.where, absl::StrCat(av(what), " takes no block (end it with ';')"));
    }
    absl::StatusOr<checked_arguments> args = check_arguments(c.arguments, spec, what, c.where);
    if (!args.ok()) return args.status();
    out.arguments = *std::move(args);
    if (absl::Status s = check_command_rules(out, what); !s.ok()) return s;
    for (const test& t : c.tests) {
      absl::StatusOr<checked_test> checked = check_test(t);
      if (!checked.ok()) return checked.status();
      out.test.push_back(*std::move(checked));
    }
    absl::StatusOr<std::vector<checked_command>> block = check_block(c.block);
    if (!block.ok()) return block.status();
    out.block = *std::move(block);
    return out;
  }

  absl::StatusOr<checked_test> check_test(const test& t) {
    const node_spec* spec = find_test(t.name);
    if (spec == nullptr) return error(t.where, absl::StrCat("unknown test '", t.name, "'"));
    const std::string what = absl::StrCat("the ", av(spec->name), " test");
    if (spec->needs && !required(*spec->needs)) {
      return error(t.where, absl::StrCat(av(what), " needs require \"", av(extension_name(*spec->needs)), "\""));
    }
    checked_test out;
    out.id = static_cast<test_id>(spec->id);
    out.where = t.where;
    if (absl::Status s = check_tests(*spec, what, t.where, t.tests, t.test_list); !s.ok()) return s;
    absl::StatusOr<checked_arguments> args = check_arguments(t.arguments, *spec, what, t.where);
    if (!args.ok()) return args.status();
    out.arguments = *std::move(args);
    if (absl::Status s = check_test_rules(out, what); !s.ok()) return s;
    for (const test& sub : t.tests) {
      absl::StatusOr<checked_test> checked = check_test(sub);
      if (!checked.ok()) return checked.status();
      out.tests.push_back(*std::move(checked));
    }
    return out;
  }

  absl::StatusOr<value> to_value(const argument& a, value_kind kind) {
    value v;
    v.kind = kind;
    v.where = a.where;
    v.number = a.number;
    v.strings.reserve(a.strings.size());
    for (const string_literal& s : a.strings) {
      if (required(extension::encoded_character)) {
        absl::StatusOr<std::string> decoded = matching::decode_encoded_characters(s.value);
        if (!decoded.ok()) return error(s.where, std::string(decoded.status().message()));
        v.strings.push_back(*std::move(decoded));
      } else {
        v.strings.push_back(s.value);
      }
    }
    return v;
  }

  absl::StatusOr<checked_arguments> check_arguments(const std::vector<argument>& args,
                                                    const node_spec& spec,
                                                    std::string_view what,
                                                    source_location where) {
    checked_arguments out;
    std::vector<const tag_spec*> seen;
    size_t k = 0;
    // RFC 5228 2.6.2: tagged arguments (with their values) come first.
    for (; k < args.size() && args[k].kind == argument_kind::tag; ++k) {
      const argument& a = args[k];
      const tag_spec* tag = nullptr;
      for (const tag_spec& t : spec.tags) {
        if (mail::equals_ignore_case(t.name, a.tag)) tag = &t;
      }
      if (tag == nullptr) {
        return error(a.where, absl::StrCat("unknown tag ':", a.tag, "' for ", av(what)));
      }
      if (tag->needs && !required(*tag->needs)) {
        return error(a.where, absl::StrCat("the tag ':", av(tag->name), "' of ", av(what),
                                           " needs require \"", av(extension_name(*tag->needs)), "\""));
      }
      for (const tag_spec* before : seen) {
        if (before == tag) {
          return error(a.where, absl::StrCat("duplicate tag ':", av(tag->name), "' for ", av(what)));
        }
        if (tag->group != tag_group::none && before->group == tag->group) {
          return error(a.where, absl::StrCat("tags ':", av(before->name), "' and ':", av(tag->name),
                                             "' of ", av(what), " exclude each other (one ",
                                             av(group_name(tag->group)), ")"));
        }
      }
      seen.push_back(tag);
      value parameter;
      if (tag->parameter != value_kind::none) {
        if (k + 1 >= args.size() || !fits(args[k + 1].kind, tag->parameter)) {
          return error(a.where, absl::StrCat("the tag ':", av(tag->name), "' of ", av(what), " needs ",
                                             av(kind_name(tag->parameter)), " after it"));
        }
        ++k;
        absl::StatusOr<value> v = to_value(args[k], tag->parameter);
        if (!v.ok()) return v.status();
        parameter = *std::move(v);
      }
      switch (tag->role) {
        case tag_role::comparator:
          if (absl::Status s = set_comparator(out, parameter, what); !s.ok()) return s;
          break;
        case tag_role::match:
          out.match = static_cast<match_type>(tag->id);
          out.match_given = true;
          if (out.match == match_type::value || out.match == match_type::count) {
            const std::optional<relation> r = parse_relation(parameter.string());
            if (!r) {
              return error(parameter.where,
                           absl::StrCat("the :", av(tag->name), " match type needs one of \"gt\", \"ge\", \"lt\", "
                                        "\"le\", \"eq\" or \"ne\", but \"", parameter.string(),
                                        "\" was given"));
            }
            out.relational = *r;
          }
          break;
        case tag_role::address_part:
          out.part = static_cast<address_part>(tag->id);
          out.part_given = true;
          break;
        case tag_role::other:
          out.tags.push_back({static_cast<tag_id>(tag->id), a.where, std::move(parameter)});
          break;
      }
    }
    // Then the positional arguments, in the syntax's slots.
    const size_t given = args.size() - k;
    size_t required_count = 0;
    for (const positional_spec& p : spec.positional) required_count += p.optional ? 0 : 1;
    for (size_t i = k; i < args.size(); ++i) {
      if (args[i].kind == argument_kind::tag) {
        return error(args[i].where, absl::StrCat("the tag ':", args[i].tag, "' comes after the positional arguments of ",
                                                 av(what), " (tags come first)"));
      }
    }
    if (given < required_count || given > spec.positional.size()) {
      const std::string expected =
          required_count == spec.positional.size()
              ? absl::StrCat(required_count)
              : absl::StrCat(required_count, " or ", spec.positional.size());
      return error(where, absl::StrCat(av(what), " takes ", expected, " positional argument",
                                       spec.positional.size() == 1 ? "" : "s", ", but ", given,
                                       given == 1 ? " was" : " were", " given"));
    }
    size_t optional_left = given - required_count;
    out.positional.resize(spec.positional.size());
    for (size_t slot = 0; slot < spec.positional.size(); ++slot) {
      const positional_spec& p = spec.positional[slot];
      if (p.optional) {
        if (optional_left == 0) continue;
        --optional_left;
      }
      const argument& a = args[k++];
      if (!fits(a.kind, p.kind)) {
        return error(a.where, absl::StrCat("argument ", slot + 1, " (", av(p.name), ") of ", av(what),
                                           " must be ", av(kind_name(p.kind)), ", but ",
                                           av(kind_name(a.kind)), " was given"));
      }
      absl::StatusOr<value> v = to_value(a, p.kind);
      if (!v.ok()) return v.status();
      out.positional[slot] = *std::move(v);
    }
    // Tags that need another tag (RFC 5260 6: :last needs :index).
    for (const tag_spec* tag : seen) {
      if (tag->needs_tag && out.find(*tag->needs_tag) == nullptr) {
        const checked_tag* self = out.find(static_cast<tag_id>(tag->id));
        return error(self->where, absl::StrCat("the tag ':", av(tag->name), "' of ", av(what),
                                               " needs the :index tag too"));
      }
    }
    if (const checked_tag* index = out.find(tag_id::index);
        index != nullptr && index->parameter.number == 0) {
      return error(index->parameter.where,
                   absl::StrCat("the :index of ", av(what), " counts from 1, so it cannot be 0"));
    }
    // RFC 4790 9.1: i;ascii-numeric has equality and order, no substring match.
    if (out.compare == comparator::i_ascii_numeric &&
        (out.match == match_type::contains || out.match == match_type::matches ||
         out.match == match_type::regex)) {
      return error(where, absl::StrCat("the comparator i;ascii-numeric cannot do the substring "
                                       "matching of the match type of ", av(what)));
    }
    return out;
  }

  absl::Status set_comparator(checked_arguments& out, const value& name, std::string_view what) {
    out.compare_given = true;
    const std::string& s = name.string();
    if (s == "i;octet") {
      out.compare = comparator::i_octet;
    } else if (s == "i;ascii-casemap") {
      out.compare = comparator::i_ascii_casemap;
    } else if (s == "i;ascii-numeric") {
      if (!required(extension::comparator_i_ascii_numeric)) {
        return error(name.where, absl::StrCat("the comparator \"i;ascii-numeric\" of ", av(what),
                                              " needs require \"comparator-i;ascii-numeric\""));
      }
      out.compare = comparator::i_ascii_numeric;
    } else {
      return error(name.where, absl::StrCat("unknown comparator \"", s, "\""));
    }
    return absl::OkStatus();
  }

  absl::Status check_variable_name(const value& v, std::string_view what) {
    for (const std::string& name : v.strings) {
      std::string_view n = name;
      // RFC 6609 3.4: the "global." namespace of include.
      if (required(extension::include) && n.size() > 7 && mail::equals_ignore_case(n.substr(0, 7), "global.")) {
        n.remove_prefix(7);
      }
      if (!is_identifier(n)) {
        return error(v.where, absl::StrCat("invalid variable name \"", name, "\" for ", av(what)));
      }
    }
    return absl::OkStatus();
  }

  // Flags are space-separated in each string (RFC 5232 3); Pigeonhole warns of a bad one
  // and ignores it at run time.
  void check_flags(const value& v, std::string_view what) {
    for (const std::string& text : v.strings) {
      if (!constant(text)) continue;
      size_t i = 0;
      while (i < text.size()) {
        const size_t end = std::min(text.find(' ', i), text.size());
        const std::string_view flag = std::string_view(text).substr(i, end - i);
        if (!flag.empty() && !is_imap_flag(flag)) {
          warn(v.where, absl::StrCat("\"", av(flag), "\" is not an IMAP flag (", av(what),
                                     " will ignore it)"));
          return;  // one warning per list, as Pigeonhole
        }
        i = end + 1;
      }
    }
  }

  // RFC 5228 4.2 (redirect), RFC 5230 4.4 (vacation :from): a syntactically valid
  // RFC 5322 mailbox, as Pigeonhole checks.
  absl::Status check_address(const value& v, std::string_view what) {
    const std::string& text = v.string();
    if (!constant(text)) return absl::OkStatus();
    absl::StatusOr<std::string> parsed = parse_mailbox(text);
    if (!parsed.ok()) {
      return error(v.where, absl::StrCat("the address \"", text, "\" of ", av(what),
                                         " is invalid: ", parsed.status().message()));
    }
    return absl::OkStatus();
  }

  absl::Status check_command_rules(const checked_command& c, std::string_view what) {
    const std::vector<value>& p = c.arguments.positional;
    if (const checked_tag* flags = c.arguments.find(tag_id::flags); flags != nullptr) {
      check_flags(flags->parameter, what);  // keep, fileinto :flags
    }
    switch (c.id) {
      case command_id::set:
        return check_variable_name(p[0], what);
      case command_id::global:
        if (!required(extension::variables)) {
          return error(c.where, "the global command needs require \"variables\" too");
        }
        return check_variable_name(p[0], what);
      case command_id::setflag:
      case command_id::addflag:
      case command_id::removeflag:
        check_flags(p[1], what);
        if (p[0].kind != value_kind::none) {
          if (!required(extension::variables)) {
            return error(p[0].where, absl::StrCat(av(what), " takes a variable name only with require \"variables\""));
          }
          return check_variable_name(p[0], what);
        }
        return absl::OkStatus();
      case command_id::addheader:
      case command_id::deleteheader:
        if (constant(p[0].string()) && !is_field_name(p[0].string())) {
          return error(p[0].where, absl::StrCat("\"", p[0].string(), "\" is not a header field name (", av(what), ")"));
        }
        return absl::OkStatus();
      case command_id::redirect:
        return check_address(p[0], what);
      case command_id::vacation:
        if (const checked_tag* from = c.arguments.find(tag_id::from); from != nullptr) {
          return check_address(from->parameter, absl::StrCat("the :from of ", av(what)));
        }
        return absl::OkStatus();
      case command_id::fileinto:
        // RFC 5228 4.1 / RFC 3501 5.1: mailbox names are UTF-8 (Pigeonhole refuses others).
        if (!mail::is_valid_utf8(p[0].string())) {
          return error(p[0].where, absl::StrCat("the mailbox name of ", av(what), " is not valid UTF-8"));
        }
        return absl::OkStatus();
      case command_id::include: {
        const std::string& name = p[0].string();
        if (name.empty() || name.find('/') != std::string::npos ||
            name.find('\0') != std::string::npos) {
          return error(p[0].where, absl::StrCat("invalid script name \"", name, "\" for ", av(what)));
        }
        return absl::OkStatus();
      }
      default:
        return absl::OkStatus();
    }
  }

  absl::Status check_test_rules(const checked_test& t, std::string_view what) {
    const std::vector<value>& p = t.arguments.positional;
    switch (t.id) {
      case test_id::size:
        if (t.arguments.find(tag_id::over) == nullptr && t.arguments.find(tag_id::under) == nullptr) {
          return error(t.where, "the size test needs :over or :under");
        }
        return absl::OkStatus();
      case test_id::hasflag:
        if (p[0].kind != value_kind::none) {
          if (!required(extension::variables)) {
            return error(p[0].where, absl::StrCat(av(what), " takes a variable list only with require \"variables\""));
          }
          return check_variable_name(p[0], what);
        }
        return absl::OkStatus();
      case test_id::header:
      case test_id::address:
      case test_id::exists:
        // Pigeonhole warns too: such a header never exists, so the test never matches.
        for (const std::string& name : p[0].strings) {
          if (constant(name) && !is_field_name(name)) {
            warn(p[0].where, absl::StrCat("\"", name, "\" is not a header field name (", av(what),
                                          " will not match it)"));
            break;
          }
        }
        return absl::OkStatus();
      case test_id::date:
      case test_id::currentdate: {
        const value& part = p[t.id == test_id::date ? 1 : 0];
        if (constant(part.string()) && !is_date_part(part.string())) {
          warn(part.where, absl::StrCat("unknown date part \"", part.string(), "\" (", av(what), " will not match)"));
        }
        if (const checked_tag* zone = t.arguments.find(tag_id::zone);
            zone != nullptr && constant(zone->parameter.string()) &&
            !is_zone(zone->parameter.string())) {
          warn(zone->parameter.where, absl::StrCat("\"", zone->parameter.string(),
                                                   "\" is not a time zone like \"+0100\" (", av(what), ")"));
        }
        return absl::OkStatus();
      }
      default:
        return absl::OkStatus();
    }
  }

  void warn(source_location where, std::string_view message) {
    warnings_.push_back({where, located(where, message)});
  }

  extension_set extensions_;
  std::vector<diagnostic> warnings_;
};

}  // namespace

absl::StatusOr<checked_script> check_script(const script& parsed) {
  return checker().run(parsed);
}

absl::StatusOr<checked_script> compile_script(std::string_view text, const parse_limits& limits) {
  absl::StatusOr<script> parsed = parse_script(text, limits);
  if (!parsed.ok()) return parsed.status();
  return check_script(*parsed);
}

}  // namespace ringmail::sieve

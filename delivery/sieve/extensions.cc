#include "delivery/sieve/extensions.h"

#include <array>
#include <utility>

#include "mail/header.h"

namespace ringmail::sieve {
namespace {

constexpr std::array<std::pair<extension, std::string_view>,
                     static_cast<size_t>(extension::count)>
    kExtensionNames = {{
        {extension::fileinto, "fileinto"},
        {extension::reject, "reject"},
        {extension::ereject, "ereject"},
        {extension::envelope, "envelope"},
        {extension::encoded_character, "encoded-character"},
        {extension::imap4flags, "imap4flags"},
        {extension::vacation, "vacation"},
        {extension::vacation_seconds, "vacation-seconds"},
        {extension::variables, "variables"},
        {extension::relational, "relational"},
        {extension::comparator_i_ascii_numeric, "comparator-i;ascii-numeric"},
        {extension::subaddress, "subaddress"},
        {extension::body, "body"},
        {extension::date, "date"},
        {extension::index, "index"},
        {extension::mailbox, "mailbox"},
        {extension::include, "include"},
        {extension::spamtest, "spamtest"},
        {extension::spamtestplus, "spamtestplus"},
        {extension::duplicate, "duplicate"},
        {extension::environment, "environment"},
        {extension::editheader, "editheader"},
        {extension::regex, "regex"},
        {extension::copy, "copy"},
    }};

using V = value_kind;

tag_spec other(std::string_view name, tag_id id, V parameter = V::none,
               std::optional<extension> needs = std::nullopt,
               tag_group group = tag_group::none) {
  return {name, tag_role::other, static_cast<uint8_t>(id), parameter, needs, group, {}};
}

// COMPARATOR (RFC 5228 2.7.3)
std::vector<tag_spec> comparator_tags() {
  return {{"comparator", tag_role::comparator, 0, V::string, {}, tag_group::comparator, {}}};
}

// MATCH-TYPE (RFC 5228 2.7.1), with :regex and RFC 5231's :value/:count "relation".
std::vector<tag_spec> match_tags() {
  auto m = [](std::string_view name, match_type id, V parameter,
              std::optional<extension> needs) {
    return tag_spec{name, tag_role::match, static_cast<uint8_t>(id), parameter, needs,
                    tag_group::match_type, {}};
  };
  return {m("is", match_type::is, V::none, {}),
          m("contains", match_type::contains, V::none, {}),
          m("matches", match_type::matches, V::none, {}),
          m("regex", match_type::regex, V::none, extension::regex),
          m("value", match_type::value, V::string, extension::relational),
          m("count", match_type::count, V::string, extension::relational)};
}

// ADDRESS-PART (RFC 5228 2.7.4), with RFC 5233's :user and :detail.
std::vector<tag_spec> address_part_tags() {
  auto a = [](std::string_view name, address_part id, std::optional<extension> needs) {
    return tag_spec{name, tag_role::address_part, static_cast<uint8_t>(id), V::none, needs,
                    tag_group::address_part, {}};
  };
  return {a("all", address_part::all, {}), a("localpart", address_part::localpart, {}),
          a("domain", address_part::domain, {}),
          a("user", address_part::user, extension::subaddress),
          a("detail", address_part::detail, extension::subaddress)};
}

// [:index <fieldno: number> [:last]] (RFC 5260 6); editheader's deleteheader has them
// without the index extension (RFC 5293 6), hence `needs`.
std::vector<tag_spec> index_tags(std::optional<extension> needs) {
  tag_spec last = other("last", tag_id::last, V::none, needs);
  last.needs_tag = tag_id::index;
  return {other("index", tag_id::index, V::number, needs), last};
}

template <typename... Lists>
std::vector<tag_spec> join(Lists&&... lists) {
  std::vector<tag_spec> out;
  (out.insert(out.end(), lists.begin(), lists.end()), ...);
  return out;
}

node_spec cmd(std::string_view name, command_id id, std::optional<extension> needs,
              std::vector<tag_spec> tags, std::vector<positional_spec> positional,
              subtests tests = subtests::none, bool block = false) {
  return {name, false, static_cast<uint8_t>(id), needs, std::move(tags),
          std::move(positional), tests, block};
}

node_spec tst(std::string_view name, test_id id, std::optional<extension> needs,
              std::vector<tag_spec> tags, std::vector<positional_spec> positional,
              subtests tests = subtests::none) {
  return {name, true, static_cast<uint8_t>(id), needs, std::move(tags),
          std::move(positional), tests, false};
}

constexpr positional_spec str(std::string_view name) { return {name, V::string, false}; }
constexpr positional_spec list(std::string_view name) { return {name, V::string_list, false}; }

const std::vector<node_spec>& commands() {
  static const std::vector<node_spec> table = [] {
    const auto none = std::nullopt;
    std::vector<node_spec> t;
    // RFC 5228 3.2: require <capabilities: string-list>
    t.push_back(cmd("require", command_id::require, none, {}, {list("capabilities")}));
    // RFC 5228 3.1: if <test1: test> <block1: block>; elsif ...; else <block>
    t.push_back(cmd("if", command_id::if_, none, {}, {}, subtests::one, true));
    t.push_back(cmd("elsif", command_id::elsif, none, {}, {}, subtests::one, true));
    t.push_back(cmd("else", command_id::else_, none, {}, {}, subtests::none, true));
    t.push_back(cmd("stop", command_id::stop, none, {}, {}));
    // RFC 5228 4.3 keep; RFC 5232 5: keep [:flags <list-of-flags: string-list>]
    t.push_back(cmd("keep", command_id::keep, none,
                    {other("flags", tag_id::flags, V::string_list, extension::imap4flags)}, {}));
    t.push_back(cmd("discard", command_id::discard, none, {}, {}));
    // RFC 5228 4.2, RFC 3894: redirect [:copy] <address: string>
    t.push_back(cmd("redirect", command_id::redirect, none,
                    {other("copy", tag_id::copy, V::none, extension::copy)}, {str("address")}));
    // RFC 5228 4.1, RFC 3894, RFC 5232 5, RFC 5490 3.2:
    // fileinto [:copy] [:flags <list-of-flags: string-list>] [:create] <mailbox: string>
    t.push_back(cmd("fileinto", command_id::fileinto, extension::fileinto,
                    {other("copy", tag_id::copy, V::none, extension::copy),
                     other("flags", tag_id::flags, V::string_list, extension::imap4flags),
                     other("create", tag_id::create, V::none, extension::mailbox)},
                    {str("mailbox")}));
    // RFC 5429: reject <reason: string>, ereject <reason: string>
    t.push_back(cmd("reject", command_id::reject, extension::reject, {}, {str("reason")}));
    t.push_back(cmd("ereject", command_id::ereject, extension::ereject, {}, {str("reason")}));
    // RFC 5232 4: setflag [<variablename: string>] <list-of-flags: string-list>, ...
    for (auto [name, id] : {std::pair{"setflag", command_id::setflag},
                            std::pair{"addflag", command_id::addflag},
                            std::pair{"removeflag", command_id::removeflag}}) {
      t.push_back(cmd(name, id, extension::imap4flags, {},
                      {{"variablename", V::string, true}, list("list-of-flags")}));
    }
    // RFC 5230 4, RFC 6131: vacation [:days number | :seconds number] [:subject string]
    //   [:from string] [:addresses string-list] [:mime] [:handle string] <reason: string>
    t.push_back(cmd(
        "vacation", command_id::vacation, extension::vacation,
        {other("days", tag_id::days, V::number, {}, tag_group::vacation_period),
         other("seconds", tag_id::seconds, V::number, extension::vacation_seconds,
               tag_group::vacation_period),
         other("subject", tag_id::subject, V::string), other("from", tag_id::from, V::string),
         other("addresses", tag_id::addresses, V::string_list), other("mime", tag_id::mime),
         other("handle", tag_id::handle, V::string)},
        {str("reason")}));
    // RFC 5229 4: set [MODIFIER] <name: string> <value: string>
    t.push_back(cmd("set", command_id::set, extension::variables,
                    {other("lower", tag_id::lower, V::none, {}, tag_group::case_modifier),
                     other("upper", tag_id::upper, V::none, {}, tag_group::case_modifier),
                     other("lowerfirst", tag_id::lowerfirst, V::none, {}, tag_group::first_modifier),
                     other("upperfirst", tag_id::upperfirst, V::none, {}, tag_group::first_modifier),
                     other("quotewildcard", tag_id::quotewildcard),
                     other("length", tag_id::length)},
                    {str("name"), str("value")}));
    // RFC 6609 3.2: include [LOCATION] [":once"] [":optional"] <value: string>
    t.push_back(cmd("include", command_id::include, extension::include,
                    {other("personal", tag_id::personal, V::none, {}, tag_group::include_location),
                     other("global", tag_id::global, V::none, {}, tag_group::include_location),
                     other("once", tag_id::once), other("optional", tag_id::optional)},
                    {str("script-name")}));
    t.push_back(cmd("return", command_id::return_, extension::include, {}, {}));
    // RFC 6609 3.3: global <value: string-list>
    t.push_back(cmd("global", command_id::global, extension::include, {}, {list("names")}));
    // RFC 5293 5: addheader [":last"] <field-name: string> <value: string>
    t.push_back(cmd("addheader", command_id::addheader, extension::editheader,
                    {other("last", tag_id::last)}, {str("field-name"), str("value")}));
    // RFC 5293 6: deleteheader [":index" <fieldno: number> [":last"]] [COMPARATOR]
    //   [MATCH-TYPE] <field-name: string> [<value-patterns: string-list>]
    t.push_back(cmd("deleteheader", command_id::deleteheader, extension::editheader,
                    join(index_tags(std::nullopt), comparator_tags(), match_tags()),
                    {str("field-name"), {"value-patterns", V::string_list, true}}));
    return t;
  }();
  return table;
}

const std::vector<node_spec>& tests() {
  static const std::vector<node_spec> table = [] {
    const auto none = std::nullopt;
    const auto match = [] { return join(comparator_tags(), match_tags()); };
    std::vector<node_spec> t;
    // RFC 5228 5.1, RFC 5260 6: address [COMPARATOR] [ADDRESS-PART] [MATCH-TYPE]
    //   [:index <fieldno> [:last]] <header-list: string-list> <key-list: string-list>
    t.push_back(tst("address", test_id::address, none,
                    join(comparator_tags(), address_part_tags(), match_tags(),
                         index_tags(extension::index)),
                    {list("header-list"), list("key-list")}));
    t.push_back(tst("allof", test_id::allof, none, {}, {}, subtests::list));
    t.push_back(tst("anyof", test_id::anyof, none, {}, {}, subtests::list));
    // RFC 5228 5.4: envelope [COMPARATOR] [ADDRESS-PART] [MATCH-TYPE]
    //   <envelope-part: string-list> <key-list: string-list>
    t.push_back(tst("envelope", test_id::envelope, extension::envelope,
                    join(comparator_tags(), address_part_tags(), match_tags()),
                    {list("envelope-part"), list("key-list")}));
    t.push_back(tst("exists", test_id::exists, none, {}, {list("header-names")}));
    t.push_back(tst("false", test_id::false_, none, {}, {}));
    // RFC 5228 5.7, RFC 5260 6: header [COMPARATOR] [MATCH-TYPE] [:index <fieldno> [:last]]
    //   <header-names: string-list> <key-list: string-list>
    t.push_back(tst("header", test_id::header, none, join(match(), index_tags(extension::index)),
                    {list("header-names"), list("key-list")}));
    t.push_back(tst("not", test_id::not_, none, {}, {}, subtests::one));
    // RFC 5228 5.9: size <":over" / ":under"> <limit: number>
    t.push_back(tst("size", test_id::size, none,
                    {other("over", tag_id::over, V::none, {}, tag_group::size_relation),
                     other("under", tag_id::under, V::none, {}, tag_group::size_relation)},
                    {{"limit", V::number, false}}));
    t.push_back(tst("true", test_id::true_, none, {}, {}));
    // RFC 5232 4: hasflag [MATCH-TYPE] [COMPARATOR] [<variable-list: string-list>]
    //   <list-of-flags: string-list>
    t.push_back(tst("hasflag", test_id::hasflag, extension::imap4flags, match(),
                    {{"variable-list", V::string_list, true}, list("list-of-flags")}));
    // RFC 5229 5: string [MATCH-TYPE] [COMPARATOR] <source: string-list> <key-list: string-list>
    t.push_back(tst("string", test_id::string, extension::variables, match(),
                    {list("source"), list("key-list")}));
    // RFC 5173 4: body [COMPARATOR] [MATCH-TYPE] [BODY-TRANSFORM] <key-list: string-list>
    t.push_back(tst("body", test_id::body, extension::body,
                    join(match(), std::vector<tag_spec>{
                                      other("raw", tag_id::raw, V::none, {}, tag_group::body_transform),
                                      other("content", tag_id::content, V::string_list, {},
                                            tag_group::body_transform),
                                      other("text", tag_id::text, V::none, {}, tag_group::body_transform)}),
                    {list("key-list")}));
    // RFC 5260 4: date [<":zone" <time-zone: string>> / ":originalzone"] [COMPARATOR]
    //   [MATCH-TYPE] <header-name: string> <date-part: string> <key-list: string-list>
    t.push_back(tst("date", test_id::date, extension::date,
                    join(std::vector<tag_spec>{other("zone", tag_id::zone, V::string, {}, tag_group::zone),
                                               other("originalzone", tag_id::originalzone, V::none, {},
                                                     tag_group::zone)},
                         match(), index_tags(extension::index)),
                    {str("header-name"), str("date-part"), list("key-list")}));
    // RFC 5260 5: currentdate [":zone" <time-zone: string>] [COMPARATOR] [MATCH-TYPE]
    //   <date-part: string> <key-list: string-list>
    t.push_back(tst("currentdate", test_id::currentdate, extension::date,
                    join(std::vector<tag_spec>{other("zone", tag_id::zone, V::string, {}, tag_group::zone)},
                         match()),
                    {str("date-part"), list("key-list")}));
    // RFC 5490 3.1: mailboxexists <mailbox-names: string-list>
    t.push_back(tst("mailboxexists", test_id::mailboxexists, extension::mailbox, {},
                    {list("mailbox-names")}));
    // RFC 5235 3.2, 3.3: spamtest [":percent"] [COMPARATOR] [MATCH-TYPE] <value: string>
    t.push_back(tst("spamtest", test_id::spamtest, extension::spamtest,
                    join(std::vector<tag_spec>{other("percent", tag_id::percent, V::none,
                                                     extension::spamtestplus)},
                         match()),
                    {str("value")}));
    // RFC 7352 3: duplicate [":handle" <handle: string>] [":header" <header-name: string> /
    //   ":uniqueid" <value: string>] [":seconds" <timeout: number>] [":last"]
    t.push_back(tst("duplicate", test_id::duplicate, extension::duplicate,
                    {other("handle", tag_id::handle, V::string),
                     other("header", tag_id::header, V::string, {}, tag_group::duplicate_key),
                     other("uniqueid", tag_id::uniqueid, V::string, {}, tag_group::duplicate_key),
                     other("seconds", tag_id::seconds, V::number), other("last", tag_id::last)},
                    {}));
    // RFC 5183 4: environment [COMPARATOR] [MATCH-TYPE] <name: string> <key-list: string-list>
    t.push_back(tst("environment", test_id::environment, extension::environment, match(),
                    {str("name"), list("key-list")}));
    return t;
  }();
  return table;
}

const node_spec* find_in(const std::vector<node_spec>& table, std::string_view name) {
  for (const node_spec& spec : table) {
    if (mail::equals_ignore_case(spec.name, name)) return &spec;
  }
  return nullptr;
}

}  // namespace

std::string_view extension_name(extension e) {
  for (const auto& [ext, name] : kExtensionNames) {
    if (ext == e) return name;
  }
  return "?";
}

std::optional<extension> find_extension(std::string_view name) {
  for (const auto& [ext, known] : kExtensionNames) {
    if (known == name) return ext;
  }
  return std::nullopt;
}

std::string capability_string() {
  std::string out;
  for (const auto& [ext, name] : kExtensionNames) {
    if (!out.empty()) out += ' ';
    out.append(name.data(), name.size());
  }
  return out;
}

bool is_core_capability(std::string_view name) {
  return name == "comparator-i;octet" || name == "comparator-i;ascii-casemap";
}

std::string_view group_name(tag_group group) {
  switch (group) {
    case tag_group::none: return "";
    case tag_group::comparator: return "COMPARATOR";
    case tag_group::match_type: return "MATCH-TYPE";
    case tag_group::address_part: return "ADDRESS-PART";
    case tag_group::body_transform: return "BODY-TRANSFORM";
    case tag_group::size_relation: return ":over/:under";
    case tag_group::vacation_period: return ":days/:seconds";
    case tag_group::zone: return ":zone/:originalzone";
    case tag_group::include_location: return ":personal/:global";
    case tag_group::duplicate_key: return ":header/:uniqueid";
    case tag_group::case_modifier: return ":lower/:upper";
    case tag_group::first_modifier: return ":lowerfirst/:upperfirst";
  }
  return "";
}

const node_spec* find_command(std::string_view name) { return find_in(commands(), name); }
const node_spec* find_test(std::string_view name) { return find_in(tests(), name); }

}  // namespace ringmail::sieve

#include "spam/spf/record.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mail/header.h"
#include "spam/spf/macro.h"

namespace ringmail::spam::spf {
namespace {

bool starts_with_ignore_case(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && mail::equals_ignore_case(s.substr(0, prefix.size()), prefix);
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view label) {
  if (label.empty()) return false;
  bool alpha = false, hyphen = false;
  for (char c : label) {
    if (absl::ascii_isalpha(static_cast<unsigned char>(c))) alpha = true;
    else if (c == '-') hyphen = true;
    else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (!hyphen) return alpha;
  return label.front() != '-' && label.back() != '-';
}

// ip4-cidr-length / ip6-cidr-length digits: "0" or no leading zero, at most `max`.
std::optional<unsigned> parse_cidr(std::string_view digits, unsigned max) {
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  unsigned v = 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Takes a dual-cidr-length ("/24", "//64", "/24//64") off the end of `arg`.
bool take_dual_cidr(std::string_view& arg, mechanism& m) {
  size_t slash = arg.rfind('/');
  if (slash == std::string_view::npos || !all_digits(arg.substr(slash + 1))) return true;
  if (slash > 0 && arg[slash - 1] == '/') {
    auto v6 = parse_cidr(arg.substr(slash + 1), 128);
    if (!v6) return false;
    m.cidr6 = *v6;
    arg = arg.substr(0, slash - 1);
    slash = arg.rfind('/');
    if (slash == std::string_view::npos || !all_digits(arg.substr(slash + 1))) return true;
  }
  auto v4 = parse_cidr(arg.substr(slash + 1), 32);
  if (!v4) return false;
  m.cidr4 = *v4;
  arg = arg.substr(0, slash);
  return true;
}

bool valid_modifier_name(std::string_view name) {
  if (name.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

absl::Status bad(std::string_view term, std::string_view why) {
  return absl::InvalidArgumentError(std::string(why) + ": '" + std::string(term.substr(0, 64)) + "'");
}

absl::Status parse_mechanism(std::string_view term, record& out) {
  std::string_view whole = term;
  mechanism m;
  switch (term[0]) {
    case '+': m.qualifier = spf_result::pass; term.remove_prefix(1); break;
    case '-': m.qualifier = spf_result::fail; term.remove_prefix(1); break;
    case '~': m.qualifier = spf_result::softfail; term.remove_prefix(1); break;
    case '?': m.qualifier = spf_result::neutral; term.remove_prefix(1); break;
    default: break;
  }
  size_t name_end = 0;
  while (name_end < term.size() && absl::ascii_isalnum(static_cast<unsigned char>(term[name_end]))) ++name_end;
  std::string name = absl::AsciiStrToLower(std::string(term.substr(0, name_end)));
  std::string_view arg = term.substr(name_end);
  static constexpr std::pair<std::string_view, mechanism_kind> names[] = {
      {"all", mechanism_kind::all}, {"include", mechanism_kind::include}, {"a", mechanism_kind::a},
      {"mx", mechanism_kind::mx},   {"ptr", mechanism_kind::ptr},         {"ip4", mechanism_kind::ip4},
      {"ip6", mechanism_kind::ip6}, {"exists", mechanism_kind::exists}};
  bool known = false;
  for (const auto& [n, k] : names) {
    if (name == n) { m.kind = k; known = true; }
  }
  if (!known) return bad(whole, "unknown mechanism");

  switch (m.kind) {
    case mechanism_kind::all:
      if (!arg.empty()) return bad(whole, "'all' takes no argument");
      break;
    case mechanism_kind::include:
    case mechanism_kind::exists:
      if (arg.empty() || arg[0] != ':') return bad(whole, "domain required");
      m.domain_spec = std::string(arg.substr(1));
      if (!valid_domain_spec(m.domain_spec)) return bad(whole, "bad domain-spec");
      break;
    case mechanism_kind::a:
    case mechanism_kind::mx:
      if (!take_dual_cidr(arg, m)) return bad(whole, "bad CIDR length");
      [[fallthrough]];
    case mechanism_kind::ptr:
      if (!arg.empty()) {
        if (arg[0] != ':') return bad(whole, "bad mechanism argument");
        m.domain_spec = std::string(arg.substr(1));
        if (!valid_domain_spec(m.domain_spec)) return bad(whole, "bad domain-spec");
      }
      break;
    case mechanism_kind::ip4:
    case mechanism_kind::ip6: {
      if (arg.empty() || arg[0] != ':') return bad(whole, "address required");
      arg.remove_prefix(1);
      bool v6 = m.kind == mechanism_kind::ip6;
      size_t slash = arg.find('/');
      if (slash != std::string_view::npos) {
        auto len = parse_cidr(arg.substr(slash + 1), v6 ? 128 : 32);
        if (!len) return bad(whole, "bad CIDR length");
        (v6 ? m.cidr6 : m.cidr4) = *len;
        arg = arg.substr(0, slash);
      }
      auto a = address::parse(arg);
      // ip6:::ffff:1.2.3.4 parses to an IPv4 address (address.h), still a valid ip6 term.
      bool family_ok = a && (v6 ? (a->v6 || arg.find(':') != std::string_view::npos) : !a->v6);
      if (!family_ok || (!v6 && arg.find(':') != std::string_view::npos)) return bad(whole, "bad address");
      m.network = *a;
      if (v6 && !a->v6) m.cidr4 = m.cidr6 >= 96 ? m.cidr6 - 96 : 0;
      break;
    }
  }
  out.mechanisms.push_back(std::move(m));
  return absl::OkStatus();
}

}  // namespace

std::string_view to_string(mechanism_kind kind) {
  switch (kind) {
    case mechanism_kind::all: return "all";
    case mechanism_kind::include: return "include";
    case mechanism_kind::a: return "a";
    case mechanism_kind::mx: return "mx";
    case mechanism_kind::ptr: return "ptr";
    case mechanism_kind::ip4: return "ip4";
    case mechanism_kind::ip6: return "ip6";
    case mechanism_kind::exists: return "exists";
  }
  return "?";
}

bool is_spf_record(std::string_view text) {
  return starts_with_ignore_case(text, "v=spf1") && (text.size() == 6 || text[6] == ' ');
}

bool valid_domain_spec(std::string_view spec) {
  if (spec.empty() || !valid_macro_string(spec, macro_context::domain_spec)) return false;
  // domain-end = ( "." toplabel [ "." ] ) / macro-expand
  if (spec.back() == '}') {
    size_t open = spec.rfind("%{");
    if (open != std::string_view::npos && spec.find('}', open) == spec.size() - 1) return true;
  }
  // %%, %_ and %- are macro-expands too (a '%' escape closes the spec).
  if (spec.size() >= 2 && spec[spec.size() - 2] == '%' && (spec.back() == '%' || spec.back() == '_' || spec.back() == '-')) {
    size_t percents = 0;
    for (size_t i = spec.size() - 1; i-- > 0 && spec[i] == '%';) ++percents;
    if (percents % 2 == 1) return true;
  }
  std::string_view s = spec;
  if (s.back() == '.') s.remove_suffix(1);
  size_t dot = s.rfind('.');
  if (dot == std::string_view::npos) return false;
  return valid_toplabel(s.substr(dot + 1));
}

absl::StatusOr<record> parse_record(std::string_view text) {
  if (!is_spf_record(text)) return absl::InvalidArgumentError("not an SPF record");
  record out;
  std::string_view rest = text.substr(6);
  while (!rest.empty()) {
    size_t space = rest.find(' ');
    std::string_view term = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (term.empty()) continue;  // runs of spaces, trailing spaces (§12: *SP at the end)
    size_t name_end = 0;
    while (name_end < term.size() && (absl::ascii_isalnum(static_cast<unsigned char>(term[name_end])) ||
                                      term[name_end] == '-' || term[name_end] == '_' || term[name_end] == '.'))
      ++name_end;
    if (name_end < term.size() && term[name_end] == '=') {
      std::string_view name = term.substr(0, name_end);
      std::string_view value = term.substr(name_end + 1);
      if (!valid_modifier_name(name)) return bad(term, "bad modifier name");
      if (mail::equals_ignore_case(name, "redirect") || mail::equals_ignore_case(name, "exp")) {
        auto& slot = mail::equals_ignore_case(name, "redirect") ? out.redirect : out.exp;
        // §6: "These two modifiers MUST NOT appear in a record more than once each."
        if (slot) return bad(term, "modifier given twice");
        if (!valid_domain_spec(value)) return bad(term, "bad domain-spec");
        slot = std::string(value);
      } else if (!valid_macro_string(value, macro_context::explanation) || value.find(' ') != std::string_view::npos) {
        return bad(term, "bad modifier value");  // §6: unknown modifiers are ignored, but must parse
      }
      continue;
    }
    auto status = parse_mechanism(term, out);
    if (!status.ok()) return status;
  }
  return out;
}

}  // namespace ringmail::spam::spf

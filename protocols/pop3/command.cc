#include "protocols/pop3/command.h"

#include <array>

#include "mail/header.h"

namespace ringmail::pop3 {
namespace {

constexpr std::array<command_info, 16> kTable = {{
    {verb::user, "USER", true, false},
    {verb::pass, "PASS", true, false},
    {verb::apop, "APOP", true, false},
    {verb::auth, "AUTH", true, false},
    {verb::stls, "STLS", true, false},
    {verb::stat, "STAT", false, true},
    {verb::list, "LIST", false, true},
    {verb::retr, "RETR", false, true},
    {verb::dele, "DELE", false, true},
    {verb::noop, "NOOP", false, true},
    {verb::rset, "RSET", false, true},
    {verb::top, "TOP", false, true},
    {verb::uidl, "UIDL", false, true},
    {verb::capa, "CAPA", true, true},
    {verb::quit, "QUIT", true, true},
    {verb::unknown, "", false, false},
}};

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Digits without leading zeros, or nullopt when over `limit` digits (so the value fits).
std::optional<std::string_view> significant_digits(std::string_view s, size_t limit) {
  if (!all_digits(s)) return std::nullopt;
  size_t i = 0;
  while (i + 1 < s.size() && s[i] == '0') ++i;
  s.remove_prefix(i);
  if (s.size() > limit) return std::nullopt;
  return s;
}

}  // namespace

const command_info& info(verb v) { return kTable[static_cast<size_t>(v)]; }

command parse_command(std::string_view line) {
  command c;
  size_t sp = line.find(' ');
  c.keyword = line.substr(0, sp);
  if (sp != std::string_view::npos) c.rest = line.substr(sp + 1);
  if (c.keyword.empty() || c.keyword.size() > 4) return c;
  for (const auto& entry : kTable) {
    if (entry.v != verb::unknown && mail::equals_ignore_case(c.keyword, entry.name)) {
      c.v = entry.v;
      break;
    }
  }
  std::string_view rest = c.rest;
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    size_t end = rest.find(' ');
    c.args.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return c;
}

std::optional<uint32_t> parse_message_number(std::string_view arg) {
  auto digits = significant_digits(arg, 10);
  if (!digits) return std::nullopt;
  uint64_t v = 0;
  for (char c : *digits) v = v * 10 + static_cast<uint64_t>(c - '0');
  if (v == 0 || v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::optional<uint32_t> parse_line_count(std::string_view arg) {
  if (!all_digits(arg)) return std::nullopt;
  auto digits = significant_digits(arg, 10);
  if (!digits) return UINT32_MAX;  // more than 10 significant digits: "everything"
  uint64_t v = 0;
  for (char c : *digits) v = v * 10 + static_cast<uint64_t>(c - '0');
  return v > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(v);
}

}  // namespace ringmail::pop3

// libFuzzer target for the Sieve front end (delivery/sieve: lexer, parser, checker) on
// hostile scripts. Invariants:
//   - parsing never crashes and ends within the limits (small limits chosen by the first
//     byte, so the limit paths are reached too);
//   - every error names its place ("line L, column C: ...", L and C inside the script),
//     except the whole-script size limit;
//   - a parsed tree printed back as a script parses again to a tree that prints the same
//     (strings with any octets, escapes and line ends survive the round trip);
//   - the checker never crashes on a parsed tree, and a checked tree has one positional
//     slot per positional argument of its syntax row;
//   - the RFC 5322 mailbox check (checker_address.h) returns an addr-spec that it
//     accepts again unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <span>
#include <string_view>

#include "delivery/sieve/checker.h"
#include "delivery/sieve/checker_address.h"
#include "delivery/sieve/extensions.h"
#include "delivery/sieve/parser.h"
#include "mail/header.h"

namespace {

using namespace ringmail::sieve;
namespace mail = ringmail::mail;

void print_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void print_arguments(std::string& out, const std::vector<argument>& args,
                     const std::vector<test>& tests, bool test_list);

void print_test(std::string& out, const test& t) {
  out += t.name;
  print_arguments(out, t.arguments, t.tests, t.test_list);
}

void print_arguments(std::string& out, const std::vector<argument>& args,
                     const std::vector<test>& tests, bool test_list) {
  for (const argument& a : args) {
    out += ' ';
    switch (a.kind) {
      case argument_kind::tag: out += ":" + a.tag; break;
      case argument_kind::number: out += std::to_string(a.number); break;
      case argument_kind::string: print_string(out, a.strings.at(0).value); break;
      case argument_kind::string_list:
        out += '[';
        for (size_t i = 0; i < a.strings.size(); ++i) {
          if (i > 0) out += ", ";
          print_string(out, a.strings[i].value);
        }
        out += ']';
        break;
    }
  }
  if (test_list) {
    out += " (";
    for (size_t i = 0; i < tests.size(); ++i) {
      if (i > 0) out += ", ";
      print_test(out, tests[i]);
    }
    out += ')';
  } else if (!tests.empty()) {
    if (tests.size() != 1) abort();  // one test without a list
    out += ' ';
    print_test(out, tests[0]);
  }
}

void print_commands(std::string& out, const std::vector<command>& commands) {
  for (const command& c : commands) {
    out += c.name;
    print_arguments(out, c.arguments, c.tests, c.test_list);
    if (c.has_block) {
      out += " {\n";
      print_commands(out, c.block);
      out += "}\n";
    } else {
      if (!c.block.empty()) abort();
      out += ";\n";
    }
  }
}

std::string print(const script& s) {
  std::string out;
  print_commands(out, s.commands);
  return out;
}

void check_location_message(std::string_view message, std::string_view input) {
  if (message.rfind("script is ", 0) == 0) return;  // the size limit
  if (message.rfind("line ", 0) != 0) abort();
  const unsigned long line = std::strtoul(std::string(message.substr(5)).c_str(), nullptr, 10);
  size_t lines = 1;
  for (char c : input) lines += c == '\n';
  if (line == 0 || line > lines) abort();
  if (message.find(", column ") == std::string_view::npos) abort();
}

void check_slots(const checked_arguments& a, const node_spec* spec) {
  if (spec == nullptr || a.positional.size() != spec->positional.size()) abort();
}

// The checked tree mirrors the parsed one (require commands dropped at the top).
void check_tests(const std::vector<test>& parsed, const std::vector<checked_test>& checked) {
  if (parsed.size() != checked.size()) abort();
  for (size_t i = 0; i < parsed.size(); ++i) {
    check_slots(checked[i].arguments, find_test(parsed[i].name));
    check_tests(parsed[i].tests, checked[i].tests);
  }
}

void check_commands(std::span<const command> parsed, const std::vector<checked_command>& checked) {
  if (parsed.size() != checked.size()) abort();
  for (size_t i = 0; i < parsed.size(); ++i) {
    check_slots(checked[i].arguments, find_command(parsed[i].name));
    check_tests(parsed[i].tests, checked[i].test);
    check_commands(parsed[i].block, checked[i].block);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  parse_limits limits;
  if (data[0] & 1) {  // small limits, so that each limit is reached
    limits.max_nesting = 1 + (data[0] >> 1) % 8;
    limits.max_string_bytes = 1 + (data[0] >> 4) * 7;
    limits.max_nodes = 1 + (data[0] >> 2) % 40;
    limits.max_list_items = 1 + (data[0] >> 3) % 5;
    limits.max_arguments = 1 + (data[0] >> 5);
    limits.max_identifier_bytes = 4 + (data[0] >> 5);
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  // The address check of redirect: what it returns is an addr-spec it returns again.
  if (absl::StatusOr<std::string> address = parse_mailbox(input); address.ok()) {
    absl::StatusOr<std::string> again = parse_mailbox(*address);
    if (!again.ok() || *again != *address) abort();
  }
  absl::StatusOr<script> parsed = parse_script(input, limits);
  if (!parsed.ok()) {
    const std::string message(parsed.status().message());
    check_location_message(message, input);
    return 0;
  }
  // Round trip through the printer (default limits: printing adds no nesting or strings,
  // but may lengthen the script).
  const std::string printed = print(*parsed);
  parse_limits roomy;
  roomy.max_script_bytes = printed.size() + 1;
  roomy.max_string_bytes = limits.max_string_bytes;
  roomy.max_identifier_bytes = limits.max_identifier_bytes;
  absl::StatusOr<script> again = parse_script(printed, roomy);
  if (!again.ok() || print(*again) != printed) abort();

  absl::StatusOr<checked_script> checked = check_script(*parsed);
  if (!checked.ok()) {
    check_location_message(std::string(checked.status().message()), input);
    return 0;
  }
  std::span<const command> body(parsed->commands);
  while (!body.empty() && mail::equals_ignore_case(body.front().name, "require")) {
    body = body.subspan(1);
  }
  check_commands(body, checked->commands);
  return 0;
}

#include "delivery/mailstore/subscriptions.h"

#include "delivery/mailstore/format_util.h"
#include "mail/header.h"

#include <optional>

#include "absl/strings/str_join.h"
#include "delivery/mailstore/mutf7.h"

namespace ringmail::mailstore {
namespace {

constexpr std::string_view kV2Header = "V\t2\n\n";

std::optional<std::string> tab_unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\x01') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    switch (s[i]) {
      case '1': out += '\x01'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      default: return std::nullopt;
    }
  }
  return out;
}

std::string tab_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\x01': out += "\x01" "1"; break;
      case '\t': out += "\x01" "t"; break;
      case '\r': out += "\x01" "r"; break;
      case '\n': out += "\x01" "n"; break;
      default: out += c;
    }
  }
  return out;
}

// Decodes the on-disk levels into an IMAP name; nullopt if a level does not decode.
std::optional<std::string> decode_levels(const std::vector<std::string>& levels) {
  std::vector<std::string> decoded;
  for (const std::string& level : levels) {
    if (level.empty()) return std::nullopt;
    absl::StatusOr<std::string> utf8 = mutf7_to_utf8(level);
    if (!utf8.ok() || utf8->find('/') != std::string::npos) return std::nullopt;
    decoded.push_back(*std::move(utf8));
  }
  std::string name = absl::StrJoin(decoded, "/");
  if (mail::equals_ignore_case(name, "INBOX")) name = "INBOX";
  return name;
}

}  // namespace

parsed_subscriptions parse_subscriptions(std::string_view text) {
  parsed_subscriptions out;
  if (text.substr(0, kV2Header.size()) == kV2Header) {
    text.remove_prefix(kV2Header.size());
  } else {
    out.version = 1;
  }
  for (std::string_view line : format_util::split(text, '\n')) {
    if (line.empty()) continue;
    std::vector<std::string> levels;
    bool ok = true;
    if (out.version == 2) {
      for (std::string_view level : format_util::split(line, '\t')) {
        std::optional<std::string> raw = tab_unescape(level);
        if (!raw) {
          ok = false;
          break;
        }
        levels.push_back(*std::move(raw));
      }
    } else {
      for (std::string_view level : format_util::split(line, '.')) levels.emplace_back(level);
    }
    std::optional<std::string> name = ok ? decode_levels(levels) : std::nullopt;
    if (name) {
      out.names.push_back(*std::move(name));
    } else {
      ++out.skipped;
    }
  }
  return out;
}

absl::StatusOr<std::string> format_subscriptions(const std::vector<std::string>& names) {
  std::string out(kV2Header);
  for (const std::string& name : names) {
    if (name.empty() || name.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("subscription name is empty or contains NUL");
    }
    std::string line;
    bool first = true;
    for (std::string_view level : format_util::split(name, '/')) {
      if (level.empty()) return absl::InvalidArgumentError("subscription name has an empty level");
      absl::StatusOr<std::string> encoded =
          mail::equals_ignore_case(name, "INBOX") ? std::string("INBOX") : utf8_to_mutf7(level);
      if (!encoded.ok()) return encoded.status();
      if (!first) line += '\t';
      line += tab_escape(*encoded);
      first = false;
    }
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace ringmail::mailstore

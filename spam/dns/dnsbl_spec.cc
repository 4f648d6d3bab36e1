#include "spam/dns/dnsbl_spec.h"

#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ringmail::spam {
namespace {

constexpr uint32_t kLoopbackNet = 0x7f000000;  // 127.0.0.0/8
// The longest zone for which the IPv6 query name (32 nibbles and their dots, 64
// characters) still fits the 253 characters of a DNS name (RFC 1035 §2.3.4).
constexpr size_t kMaxZone = 253 - 64;
constexpr double kMaxScore = 1000;

bool in_net(uint32_t a, uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); }

// This absl's string_view is not std::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0).
absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Strict dotted quad: four decimal parts of 1-3 digits, each at most 255.
std::optional<uint32_t> parse_ipv4(std::string_view s) {
  std::vector<std::string_view> parts = split(s, '.');
  if (parts.size() != 4) return std::nullopt;
  uint32_t value = 0;
  for (std::string_view p : parts) {
    if (p.empty() || p.size() > 3) return std::nullopt;
    uint32_t octet = 0;
    for (char c : p) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      octet = octet * 10 + static_cast<uint32_t>(c - '0');
    }
    if (octet > 255) return std::nullopt;
    value = value << 8 | octet;
  }
  return value;
}

absl::StatusOr<dnsbl_code_range> parse_code(std::string_view s) {
  size_t dash = s.find('-');
  std::optional<uint32_t> first = parse_ipv4(s.substr(0, dash));
  std::optional<uint32_t> last = dash == std::string_view::npos ? first : parse_ipv4(s.substr(dash + 1));
  if (!first || !last) return absl::InvalidArgumentError(absl::StrCat("dnsbl: bad return code \"", av(s), "\""));
  if (*first > *last) return absl::InvalidArgumentError(absl::StrCat("dnsbl: empty return code range \"", av(s), "\""));
  return dnsbl_code_range{*first, *last};
}

bool looks_like_code(std::string_view token) {
  std::string_view code = token.substr(0, token.find(':'));
  return parse_code(code).ok();
}

absl::StatusOr<double> parse_score(std::string_view s) {
  double score = 0;
  if (s.empty() || !absl::SimpleAtod(av(s), &score) || !std::isfinite(score) || std::fabs(score) > kMaxScore) {
    return absl::InvalidArgumentError(absl::StrCat("dnsbl: bad score \"", av(s), "\""));
  }
  return score;
}

// Host names (RFC 1123 §2.1): labels of letters, digits and hyphens, 1-63 bytes, not
// starting or ending with a hyphen; the last label is not all-numeric (RFC 3696 §2),
// which is also what tells a zone from a return code in the spec.
absl::StatusOr<std::string> parse_zone(std::string_view s) {
  std::string zone(s);
  absl::AsciiStrToLower(&zone);
  if (!zone.empty() && zone.back() == '.') zone.pop_back();
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("dnsbl: bad zone \"", av(s), "\": ", av(why)));
  };
  if (zone.empty()) return bad("empty");
  if (zone.size() > kMaxZone) return bad(absl::StrCat("longer than ", kMaxZone, " characters"));
  bool all_numeric = true;
  for (std::string_view label : split(zone, '.')) {
    if (label.empty() || label.size() > 63) return bad("empty or overlong label");
    if (label.front() == '-' || label.back() == '-') return bad("label starts or ends with '-'");
    all_numeric = true;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return bad("invalid character");
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) all_numeric = false;
    }
  }
  if (all_numeric) return bad("the last label is numeric (an address, not a zone)");
  return zone;
}

// Splits "x:score" into x and the score (1 when absent).
absl::StatusOr<std::pair<std::string_view, double>> split_score(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return std::make_pair(s, 1.0);
  auto score = parse_score(s.substr(colon + 1));
  if (!score.ok()) return score.status();
  return std::make_pair(s.substr(0, colon), *score);
}

}  // namespace

std::string dotted_quad(uint32_t address) {
  return absl::StrCat(address >> 24, ".", (address >> 16) & 0xff, ".", (address >> 8) & 0xff, ".", address & 0xff);
}

bool dnsbl_list::accepts(uint32_t code) const {
  if (codes.empty()) return in_net(code, kLoopbackNet, 8);
  for (const dnsbl_code_range& r : codes) {
    if (code >= r.first && code <= r.last) return true;
  }
  return false;
}

absl::StatusOr<dnsbl_list> parse_dnsbl_list(std::string_view spec) {
  auto lists = parse_dnsbl_lists(spec);
  if (!lists.ok()) return lists.status();
  if (lists->size() != 1) return absl::InvalidArgumentError(absl::StrCat("dnsbl: expected one list in \"", av(spec), "\""));
  return std::move(lists->front());
}

absl::StatusOr<std::vector<dnsbl_list>> parse_dnsbl_lists(std::string_view specs) {
  std::vector<dnsbl_list> lists;
  if (trim(specs).empty()) return lists;
  bool codes_open = false;  // the last list had "=" and no score yet: codes may follow
  for (std::string_view raw : split(specs, ',')) {
    std::string_view token = trim(raw);
    if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("dnsbl: empty entry in \"", av(specs), "\""));
    if (codes_open && looks_like_code(token)) {
      auto code_and_score = split_score(token);
      if (!code_and_score.ok()) return code_and_score.status();
      auto code = parse_code(code_and_score->first);
      if (!code.ok()) return code.status();
      lists.back().codes.push_back(*code);
      if (token.find(':') != std::string_view::npos) {
        lists.back().score = code_and_score->second;
        codes_open = false;
      }
      continue;
    }
    auto body_and_score = split_score(token);
    if (!body_and_score.ok()) return body_and_score.status();
    std::string_view body = body_and_score->first;
    size_t eq = body.find('=');
    auto zone = parse_zone(body.substr(0, eq));
    if (!zone.ok()) return zone.status();
    dnsbl_list list;
    list.zone = std::move(*zone);
    list.score = body_and_score->second;
    if (eq != std::string_view::npos) {
      auto code = parse_code(body.substr(eq + 1));
      if (!code.ok()) return code.status();
      list.codes.push_back(*code);
    }
    for (const dnsbl_list& other : lists) {
      if (other.zone == list.zone) return absl::InvalidArgumentError(absl::StrCat("dnsbl: zone ", list.zone, " given twice"));
    }
    codes_open = eq != std::string_view::npos && token.find(':') == std::string_view::npos;
    lists.push_back(std::move(list));
  }
  return lists;
}

std::string to_spec(const dnsbl_list& list) {
  std::string out = list.zone;
  for (size_t i = 0; i < list.codes.size(); ++i) {
    const dnsbl_code_range& r = list.codes[i];
    absl::StrAppend(&out, i == 0 ? "=" : ",", dotted_quad(r.first));
    if (r.last != r.first) absl::StrAppend(&out, "-", dotted_quad(r.last));
  }
  absl::StrAppend(&out, ":", list.score);
  return out;
}

}  // namespace ringmail::spam

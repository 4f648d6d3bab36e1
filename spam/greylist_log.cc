#include "spam/greylist_log.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "runtime/fnv1a.h"

namespace ringmail::spam {
namespace {

constexpr std::string_view kTag = "g1 ";
constexpr size_t kChecksumDigits = 16;

bool needs_escape(unsigned char c) { return c <= 0x20 || c == 0x7f || c == '%'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is never written: one spelling per key keeps lines canonical
}

// Strict inverse of the escaping in append_greylist_record: an escape of a byte that
// needs none, or a byte that needed one, makes the key invalid.
std::optional<std::string> unescape_key(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c != '%') {
      if (needs_escape(c)) return std::nullopt;
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const auto b = static_cast<unsigned char>(hi * 16 + lo);
    if (!needs_escape(b)) return std::nullopt;
    out.push_back(static_cast<char>(b));
    i += 2;
  }
  return out;
}

bool parse_millis(std::string_view s, std::chrono::system_clock::time_point& out) {
  // Digits only (from_chars takes a sign for int64_t): one spelling per value. No more
  // than the clock's nanosecond count can hold (year 2262): a larger value would overflow
  // in the conversion.
  static constexpr int64_t max_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::duration::max()).count();
  if (s.empty() || s.size() > 15 || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  int64_t ms = 0;
  if (std::from_chars(s.data(), s.data() + s.size(), ms).ec != std::errc() || ms > max_ms) return false;
  out = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::milliseconds(ms)));
  return true;
}

int64_t to_millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Splits off the text up to the next space; false if there is none.
bool next_field(std::string_view& rest, std::string_view& field) {
  const size_t space = rest.find(' ');
  if (space == std::string_view::npos) return false;
  field = rest.substr(0, space);
  rest.remove_prefix(space + 1);
  return true;
}

}  // namespace

void append_greylist_record(std::string& out, std::string_view key, const greylist_entry& e) {
  const size_t start = out.size();
  // Times before the epoch are not real mail: clamped so every record parses back.
  out.append(kTag);
  absl::StrAppend(&out, std::max<int64_t>(0, to_millis(e.first_seen)), " ",
                  std::max<int64_t>(0, to_millis(e.last_seen)), " ", e.passed ? "1 " : "0 ");
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (needs_escape(c)) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back(' ');
  const uint64_t sum = fnv1a64(std::string_view(out).substr(start));
  absl::StrAppend(&out, absl::Hex(sum, absl::kZeroPad16), "\n");
}

std::optional<greylist_record> parse_greylist_line(std::string_view line) {
  if (line.size() > kGreylistMaxLine || line.size() < kTag.size() + kChecksumDigits + 1) return std::nullopt;
  if (line.substr(0, kTag.size()) != kTag) return std::nullopt;
  const std::string_view covered = line.substr(0, line.size() - kChecksumDigits);
  const std::string_view digits = line.substr(line.size() - kChecksumDigits);
  uint64_t sum = 0;
  for (char c : digits) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;  // absl::Hex writes lower case
  }
  if (std::from_chars(digits.data(), digits.data() + digits.size(), sum, 16).ec != std::errc() ||
      sum != fnv1a64(covered)) {
    return std::nullopt;
  }

  std::string_view rest = covered.substr(kTag.size());
  std::string_view first, last, passed, key;
  if (!next_field(rest, first) || !next_field(rest, last) || !next_field(rest, passed) || !next_field(rest, key)) {
    return std::nullopt;
  }
  if (!rest.empty() || key.empty()) return std::nullopt;
  greylist_record r;
  if (!parse_millis(first, r.entry.first_seen) || !parse_millis(last, r.entry.last_seen)) return std::nullopt;
  if (passed != "0" && passed != "1") return std::nullopt;
  r.entry.passed = passed == "1";
  auto k = unescape_key(key);
  if (!k) return std::nullopt;
  r.key = std::move(*k);
  return r;
}

greylist_log_stats parse_greylist_log(std::string_view bytes, const std::function<void(greylist_record&&)>& fn) {
  greylist_log_stats stats;
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      ++stats.skipped;  // torn last write
      break;
    }
    auto r = parse_greylist_line(bytes.substr(0, nl));
    bytes.remove_prefix(nl + 1);
    if (!r) {
      ++stats.skipped;
      continue;
    }
    ++stats.records;
    fn(std::move(*r));
  }
  return stats;
}

}  // namespace ringmail::spam

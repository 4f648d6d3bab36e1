#include "delivery/mailstore/metadata_format.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "runtime/fnv1a.h"

namespace ringmail::mailstore {
namespace {

constexpr std::string_view kHeader = "ringmail-metadata 1\n";
constexpr std::string_view kPrivate = "/private/";
constexpr std::string_view kShared = "/shared/";

std::string hex64(uint64_t h) {
  std::string hex(16, '0');
  for (int i = 0; i < 16; ++i) hex[i] = "0123456789abcdef"[(h >> (60 - 4 * i)) & 0xf];
  return hex;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Reads a decimal number up to `stop`; nullopt if there is none or it overflows.
std::optional<uint64_t> read_number(std::string_view& s, char stop) {
  size_t end = s.find(stop);
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + end, n);
  if (ec != std::errc() || ptr != s.data() + end) return std::nullopt;
  s.remove_prefix(end + 1);
  return n;
}

}  // namespace

bool valid_metadata_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxMetadataNameBytes) return false;
  if (!starts_with_ci(name, kPrivate) && !starts_with_ci(name, kShared)) return false;
  const size_t prefix = starts_with_ci(name, kPrivate) ? kPrivate.size() : kShared.size();
  if (name.size() == prefix) return false;  // "/private/": nothing under it
  char prev = '\0';
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f || c == '*' || c == '%') return false;
    if (c == '/' && prev == '/') return false;
    prev = static_cast<char>(c);
  }
  return name.back() != '/';
}

std::string canonical_metadata_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string format_metadata(const metadata_entries& entries) {
  std::string out(kHeader);
  for (const auto& [name, value] : entries) {
    absl::StrAppend(&out, name, " ", value.size(), "\n");
    out.append(value);
    out += '\n';
  }
  absl::StrAppend(&out, "end ", entries.size(), " ", hex64(fnv1a64(out)), "\n");
  return out;
}

absl::StatusOr<metadata_entries> parse_metadata(std::string_view file) {
  metadata_entries out;
  if (file.empty()) return out;
  auto damaged = [](std::string_view why) {
    return absl::DataLossError("metadata file damaged: " + std::string(why));
  };
  if (file.substr(0, kHeader.size()) != kHeader) return damaged("no header");
  std::string_view s = file.substr(kHeader.size());
  for (;;) {
    if (s.substr(0, 4) == "end ") {
      const size_t body_end = static_cast<size_t>(s.data() - file.data());
      s.remove_prefix(4);
      std::optional<uint64_t> count = read_number(s, ' ');
      if (!count || *count != out.size()) return damaged("entry count");
      if (s.size() != 17 || s[16] != '\n') return damaged("trailer");
      // Compared as text: exactly the 16 lower-case digits format_metadata writes.
      if (s.substr(0, 16) != hex64(fnv1a64(file.substr(0, body_end)))) return damaged("checksum");
      return out;
    }
    const size_t sp = s.find(' ');
    if (sp == std::string_view::npos) return damaged("truncated");
    std::string_view name = s.substr(0, sp);
    s.remove_prefix(sp + 1);
    if (!valid_metadata_name(name) || canonical_metadata_name(name) != name) return damaged("entry name");
    std::optional<uint64_t> len = read_number(s, '\n');
    if (!len || *len > kMaxMetadataValueBytes || *len + 1 > s.size()) return damaged("truncated value");
    if (s[*len] != '\n') return damaged("value end");
    // Sorted and unique, as format_metadata writes them: one file per set of entries.
    if (!out.empty() && name <= std::string_view(out.rbegin()->first)) return damaged("entry order");
    out.emplace(std::string(name), std::string(s.substr(0, *len)));
    s.remove_prefix(*len + 1);
  }
}

absl::Status apply_metadata_changes(metadata_entries& entries, const std::vector<metadata_change>& changes,
                                    size_t max_value, size_t max_entries) {
  metadata_entries next = entries;
  for (const metadata_change& c : changes) {
    if (!valid_metadata_name(c.name)) return absl::InvalidArgumentError("invalid entry name");
    std::string name = canonical_metadata_name(c.name);
    if (!c.value) {
      next.erase(name);
      continue;
    }
    if (c.value->size() > max_value) {
      return absl::OutOfRangeError(absl::StrCat("value larger than ", max_value, " bytes"));
    }
    next[std::move(name)] = *c.value;
  }
  if (next.size() > max_entries && next.size() > entries.size()) {
    return absl::ResourceExhaustedError(absl::StrCat("at most ", max_entries, " entries"));
  }
  entries = std::move(next);
  return absl::OkStatus();
}

}  // namespace ringmail::mailstore

#include "delivery/mailstore/dovecot_uidlist.h"

#include "delivery/mailstore/format_util.h"

#include <charconv>

#include "absl/strings/str_cat.h"

namespace ringmail::mailstore {
namespace {

absl::Status broken(size_t line, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("dovecot-uidlist line ", line, ": ", std::string(why)));
}

// Decimal uint32 with nothing else; false on empty, junk or overflow.
bool parse_u32(std::string_view s, uint32_t& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool is_hex32(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

bool is_ext_key(char c) { return c >= 'A' && c <= 'Z'; }

std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::string_view f : format_util::split(s, ' ')) {
    if (!f.empty()) out.push_back(f);
  }
  return out;
}

}  // namespace

absl::StatusOr<uidlist> parse_uidlist(std::string_view text) {
  uidlist out;
  std::vector<std::string_view> lines = format_util::split(text, '\n');
  // A file ends with "\n": the split leaves one empty piece after it.
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) return broken(1, "empty file");
  std::string_view header = lines[0];
  if (header.size() < 2 || header[0] < '0' || header[0] > '9' || header[1] != ' ') {
    return broken(1, "invalid version number");
  }
  out.version = header[0] - '0';
  uint32_t header_next_uid = 0;
  if (out.version == 1) {
    std::vector<std::string_view> f = fields(header.substr(2));
    if (f.size() < 2 || !parse_u32(f[0], out.uidvalidity) || !parse_u32(f[1], header_next_uid)) {
      return broken(1, "invalid version 1 header");
    }
  } else if (out.version == 3) {
    bool have_v = false, have_n = false;
    for (std::string_view f : fields(header.substr(2))) {
      char key = f[0];
      std::string_view value = f.substr(1);
      if (key == 'V') {
        if (!parse_u32(value, out.uidvalidity)) return broken(1, "invalid V (uidvalidity)");
        have_v = true;
      } else if (key == 'N') {
        if (!parse_u32(value, header_next_uid)) return broken(1, "invalid N (next uid)");
        have_n = true;
      } else if (key == 'G') {
        if (!is_hex32(value)) return broken(1, "invalid G (mailbox GUID)");
        out.guid = std::string(value);
      } else {
        out.header_ext.emplace_back(key, std::string(value));
      }
    }
    if (!have_v || !have_n) return broken(1, "header without V or N");
  } else {
    return broken(1, absl::StrCat("unsupported version ", out.version));
  }
  if (out.uidvalidity == 0 || header_next_uid == 0) return broken(1, "uidvalidity or next uid is 0");

  uint32_t prev_uid = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t lineno = i + 1;
    std::string_view line = lines[i];
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return broken(lineno, "no space after the UID");
    uidlist_entry e;
    if (!parse_u32(line.substr(0, sp), e.uid) || e.uid == 0) return broken(lineno, "invalid UID");
    if (e.uid == UINT32_MAX) return broken(lineno, "UID too high");
    if (e.uid <= prev_uid) return broken(lineno, "UIDs not in increasing order");
    if (out.version == 1 && e.uid >= header_next_uid) return broken(lineno, "UID >= next uid");
    prev_uid = e.uid;
    std::string_view rest = line.substr(sp + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    std::string_view name;
    if (out.version == 3) {
      // Key/value fields up to ':', then the name (which may contain spaces).
      while (!rest.empty() && rest.front() != ':') {
        size_t end = rest.find(' ');
        std::string_view f = rest.substr(0, end);
        if (is_ext_key(f[0])) e.ext.emplace_back(f[0], std::string(f.substr(1)));
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      }
      if (rest.empty()) return broken(lineno, "no ':' before the file name");
      name = rest.substr(1);
    } else {
      name = rest;
    }
    name = name.substr(0, name.find(':'));  // the base, as Dovecot matches files
    if (name.empty()) return broken(lineno, "empty file name");
    if (name.find('/') != std::string_view::npos) return broken(lineno, "file name contains '/'");
    e.base = std::string(name);
    out.entries.push_back(std::move(e));
  }
  out.next_uid = header_next_uid > prev_uid ? header_next_uid : prev_uid + 1;
  return out;
}

std::string format_uidlist_entry(const uidlist_entry& e) {
  std::string line = absl::StrCat(e.uid);
  for (const auto& [key, value] : e.ext) absl::StrAppend(&line, " ", std::string(1, key), value);
  absl::StrAppend(&line, " :", e.base, "\n");
  return line;
}

std::string format_uidlist(const uidlist& list) {
  uint32_t next_uid = list.next_uid;
  if (!list.entries.empty() && list.entries.back().uid >= next_uid) next_uid = list.entries.back().uid + 1;
  std::string out = absl::StrCat("3 V", list.uidvalidity, " N", next_uid);
  // Dovecot generates a GUID when it has none; a pure formatter cannot, so it leaves G out
  // (Dovecot then adds one on its next rewrite). The store sets guid before writing.
  if (!list.guid.empty()) absl::StrAppend(&out, " G", list.guid);
  for (const auto& [key, value] : list.header_ext) absl::StrAppend(&out, " ", std::string(1, key), value);
  out += '\n';
  for (const uidlist_entry& e : list.entries) out += format_uidlist_entry(e);
  return out;
}

}  // namespace ringmail::mailstore

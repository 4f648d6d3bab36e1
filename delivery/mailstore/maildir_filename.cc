#include "delivery/mailstore/maildir_filename.h"

#include "delivery/mailstore/format_util.h"

#include <array>


namespace ringmail::mailstore {
namespace {

constexpr std::array<std::pair<char, message_flag>, 5> kSystemFlags = {{
    {'D', flag_draft},
    {'F', flag_flagged},
    {'R', flag_answered},
    {'S', flag_seen},
    {'T', flag_deleted},
}};

int64_t parse_size(std::string_view digits) {
  if (digits.empty() || digits.size() > 18) return -1;  // 18 digits cannot overflow int64
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

maildir_name parse_maildir_name(std::string_view name) {
  maildir_name out;
  size_t colon = name.find(':');
  out.base = name.substr(0, colon);
  // Fields after the first ',' of the base: "<unique>,S=123,W=130".
  size_t comma = out.base.find(',');
  if (comma != std::string_view::npos) {
    for (std::string_view field : format_util::split(out.base.substr(comma + 1), ',')) {
      if (field.size() >= 2 && field[1] == '=') {
        if (field[0] == 'S') out.size = parse_size(field.substr(2));
        if (field[0] == 'W') out.vsize = parse_size(field.substr(2));
      }
    }
  }
  if (colon == std::string_view::npos) return out;
  std::string_view info = name.substr(colon + 1);
  if (info.size() < 2 || info[0] != '2' || info[1] != ',') return out;
  std::array<bool, 256> other{};
  for (char c : info.substr(2)) {
    if (c == ':' || c == '/' || c == '\0') continue;  // never written back (see format)
    if (c >= 'a' && c <= 'z') {
      out.keywords |= 1u << (c - 'a');
      continue;
    }
    bool mapped = false;
    for (auto [letter, flag] : kSystemFlags) {
      if (c == letter) {
        out.flags |= flag;
        mapped = true;
      }
    }
    if (!mapped) other[static_cast<unsigned char>(c)] = true;
  }
  for (int c = 0; c < 256; ++c) {
    if (other[c]) out.other_flags += static_cast<char>(c);
  }
  return out;
}

std::string format_maildir_name(std::string_view base, uint8_t flags, uint32_t keywords,
                                std::string_view other_flags) {
  std::array<bool, 256> present{};
  for (auto [letter, flag] : kSystemFlags) {
    if (flags & flag) present[static_cast<unsigned char>(letter)] = true;
  }
  for (int i = 0; i < 26; ++i) {
    if (keywords & (1u << i)) present['a' + i] = true;
  }
  for (char c : other_flags) {
    // ':' and '/' would change what the name means; NUL cannot be in a file name.
    if (c != ':' && c != '/' && c != '\0') present[static_cast<unsigned char>(c)] = true;
  }
  std::string out(base);
  out += ":2,";
  for (int c = 0; c < 256; ++c) {
    if (present[c]) out += static_cast<char>(c);
  }
  return out;
}

}  // namespace ringmail::mailstore

// imap4flags (RFC 5232) flag lists: the internal variable and the user variables that
// setflag/addflag/removeflag/hasflag name hold a set of flags as one string.
//
// RFC 5232 3: "the string is a space-separated list of flags"; setflag/addflag/removeflag
// take a string list "each string of which may contain space-separated flags", so every
// input is split at white space. Flags compare case-insensitively (RFC 3501 2.3.2 for
// keywords; system flags are ASCII too): addflag adds a flag only when it is not already
// there ("$List" after "$list" is no change), removeflag removes every spelling, and the
// list keeps the order flags were first added, joined by single spaces, as Pigeonhole's
// flag lists do. A flag that cannot be an IMAP flag (is_imap_flag) is dropped by
// setflag/addflag, as Pigeonhole drops it (seen with sieve-test: `addflag "\\Foo"`
// leaves the variable as it was); the checker warns about constant ones. Pure.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "mail/header.h"

namespace ringmail::sieve {

// RFC 5232 3 / RFC 3501 9: a flag is a system flag (\Seen ... \Draft; \Recent cannot
// be set) or a keyword atom (no atom-specials, ASCII). Inline: the checker (which warns
// about constant flags) and the interpreter share it without linking each other.
inline bool is_imap_flag(std::string_view flag) {
  if (flag.empty()) return false;
  if (flag[0] == '\\') {
    for (std::string_view system : {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}) {
      if (mail::equals_ignore_case(flag, system)) return true;
    }
    return false;
  }
  return std::all_of(flag.begin(), flag.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && std::strchr("(){%*\"\\]", c) == nullptr;
  });
}

// The flags of `list`, split at white space, empty ones dropped (duplicates kept).
std::vector<std::string> split_flags(std::string_view list);

// setflag: the flags of `flag_strings`, duplicates and invalid flags dropped.
std::string set_flags(const std::vector<std::string>& flag_strings);
// addflag: `current` plus the valid flags of `flag_strings` not already in it.
std::string add_flags(std::string_view current, const std::vector<std::string>& flag_strings);
// removeflag: `current` without any flag of `flag_strings`.
std::string remove_flags(std::string_view current, const std::vector<std::string>& flag_strings);

}  // namespace ringmail::sieve

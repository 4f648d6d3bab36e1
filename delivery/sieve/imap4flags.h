// imap4flags (RFC 5232) flag lists: the internal variable and the user variables that
// setflag/addflag/removeflag/hasflag name hold a set of flags as one string.
//
// RFC 5232 3: "the string is a space-separated list of flags"; setflag/addflag/removeflag
// take a string list "each string of which may contain space-separated flags", so every
// input is split at white space. Flags compare case-insensitively (RFC 3501 2.3.2 for
// keywords; system flags are ASCII too): addflag adds a flag only when it is not already
// there ("$List" after "$list" is no change), removeflag removes every spelling, and the
// list keeps the order flags were first added, joined by single spaces, as Pigeonhole's
// flag lists do. Which flags are valid IMAP flags is the checker's warning and the
// store's business (Pigeonhole ignores invalid ones when storing); they are kept here.
// Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringmail::sieve {

// The flags of `list`, split at white space, empty ones dropped (duplicates kept).
std::vector<std::string> split_flags(std::string_view list);

// setflag: the flags of `flag_strings`, duplicates dropped.
std::string set_flags(const std::vector<std::string>& flag_strings);
// addflag: `current` plus the flags of `flag_strings` not already in it.
std::string add_flags(std::string_view current, const std::vector<std::string>& flag_strings);
// removeflag: `current` without any flag of `flag_strings`.
std::string remove_flags(std::string_view current, const std::vector<std::string>& flag_strings);

}  // namespace ringmail::sieve

// Addresses for the "address" and "envelope" tests: parsing header values into addresses
// and taking the part a test compares (RFC 5228 2.7.4, RFC 5233 subaddress). Pure.
//
// Parts: :all ("local@domain"), :localpart, :domain (RFC 5228 2.7.4), :user and :detail
// (RFC 5233 4). The detail separator is configurable, as Dovecot's recipient_delimiter
// is: any character of `separators` splits, at its first occurrence in the local part
// ("+" by default; "+-" splits at the first '+' or '-'). RFC 5233 4: "If the address is
// not encoded to contain a detail part, then ":user" specifies the entire left side of
// the address (equivalent to ":localpart")" and for :detail "the address fails to match
// any of the specified keys"; a separator with nothing after it gives the empty detail.
// RFC 5228 2.7.4: "If an address is not syntactically valid, then it will not be matched
// by tests specifying ":localpart" or ":domain"": an entry we cannot read as local@domain
// yields only :all, which is then the text as written (Pigeonhole compares the raw text
// there too, so "address :all :contains "from" "undisclosed"" still works).
//
// Header values are RFC 5322 3.4 address lists, read leniently as mail readers must:
// groups ("team: a@x, b@y;") give their members and an empty group nothing; comments
// are skipped ("john@example.org (John)"), quoted local parts are unquoted
// ("\"john doe\"@example.org" has :localpart "john doe", and :all quotes it again), obsolete
// routes ("<@relay:john@example.org>") are dropped, domain literals are kept as written,
// and display names are RFC 2047-decoded when a charset converter is given (they are
// only for display: no test compares them). At most mail::max_addresses are returned.
// The IMAP server has its own address parser for ENVELOPE (protocols/imap, with
// Dovecot's MISSING_DOMAIN placeholders); the layers forbid sharing it from here, and the
// two want different answers for broken input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/charset.h"

namespace ringmail::sieve::matching {

enum class address_part { all, localpart, domain, user, detail };
// ":all", "localpart", ":DOMAIN", ... -> address_part; nullopt otherwise.
std::optional<address_part> parse_address_part(std::string_view tag);

struct parsed_address {
  bool valid = false;        // local_part and domain were read
  std::string local_part;    // unquoted
  std::string domain;        // as written (a literal keeps its brackets)
  std::string display_name;  // phrase or comment; decoded when a converter was given
  std::string raw;           // the entry as written, trimmed (what :all gives if !valid)
};

// Parses an address-list header value (folded or unfolded).
std::vector<parsed_address> parse_address_list(std::string_view value,
                                               mail::charset_converter* charsets = nullptr);

// Parses an SMTP envelope path ("<john@example.org>" or bare; "<>" is the null path,
// which is valid-less with an empty raw: :all gives "", every other part nothing).
parsed_address parse_envelope_address(std::string_view path);

// The text `part` gives for `address`, or nullopt when the address has no such part (an
// invalid address for anything but :all, :detail without a separator).
std::optional<std::string> extract_address_part(const parsed_address& address, address_part part,
                                                std::string_view separators = "+");

}  // namespace ringmail::sieve::matching

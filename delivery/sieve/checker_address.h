// One RFC 5322 mailbox, as Sieve asks of redirect (RFC 5228 4.2: "the address MUST be
// syntactically valid") and of vacation's :from (RFC 5230 4.4): an addr-spec
// ("john@example.org") or a name-addr ("John <john@example.org>"), with white space and
// comments around (RFC 5322 3.4, 3.2.2).
//
//   mailbox    = name-addr / addr-spec
//   name-addr  = [display-name] "<" addr-spec ">"
//   addr-spec  = local-part "@" domain
//   local-part = dot-atom / quoted-string / obs-local-part
//   domain     = dot-atom / domain-literal
//
// As lenient as Pigeonhole where real scripts differ from the grammar: the obsolete local
// parts with empty atoms ("a..b", ".a", "a.": RFC 5322 4.4) are accepted, and so are
// UTF-8 octets in atoms (RFC 6532); the domain must have no empty label ("a@b." and
// "a@b..c" are refused). Not a second header parser: the mail/ model reads address
// headers of messages; this reads one address a script author typed. Pure.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringmail::sieve {

// The addr-spec ("local@domain", the local part as written, quotes kept), or
// InvalidArgument with the reason ("empty address", "not a single address (found ',')",
// "missing '@'", "invalid local part", "invalid or missing domain", ...).
absl::StatusOr<std::string> parse_mailbox(std::string_view text);

}  // namespace ringmail::sieve

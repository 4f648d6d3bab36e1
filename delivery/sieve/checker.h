// The Sieve checker (Pigeonhole calls it the validator): gives a parsed script (ast.h)
// its meaning, or refuses it with one clear error. Pure: no I/O, no runtime.
//
// What it checks, with the RFC that asks for it:
//   - require (RFC 5228 3.2): only at the start of the script, before any other
//     command and never inside a block; every capability known (extensions.h);
//     "vacation-seconds" implies "vacation" and "spamtestplus" implies "spamtest"
//     (RFC 6131 and RFC 5235 say a script needs to require only the one).
//   - every command and test known and its extension required; if/elsif/else
//     (RFC 5228 3.1): elsif and else only right after if or elsif, a block on each;
//     no other command takes a block; the sub-tests each command or test needs.
//   - arguments against the command's syntax row (extensions.cc): tags first, then
//     positional arguments (RFC 5228 2.6.2); each tag known for that command, its
//     extension required, given once, at most one of a group (one COMPARATOR, one
//     MATCH-TYPE, one ADDRESS-PART, ...), with the value it takes; the number and the
//     types of the positional arguments (a string list is not a string).
//   - comparators (RFC 5228 2.7.3): i;octet and i;ascii-casemap, i;ascii-numeric only
//     with its require, and not with :contains/:matches/:regex (RFC 4790 9.1: it has
//     no substring match); :value/:count take "gt", "ge", "lt", "le", "eq" or "ne"
//     (RFC 5231 4; case-insensitively, as ABNF literals are: Pigeonhole wants lower
//     case, our one departure that accepts more); :last only with :index, whose field
//     number is at least 1 (RFC 5260 6); size takes one of :over/:under.
//   - what the extensions ask for: set's variable name is an identifier (RFC 5229 3),
//     global needs "variables" too (RFC 6609 3.3), so does the variable argument of
//     setflag/addflag/removeflag/hasflag (RFC 5232 3); addheader/deleteheader field
//     names are RFC 5322 field names (RFC 5293 4); include's script name has no '/'
//     (RFC 6609 3.2, as Pigeonhole refuses); fileinto's mailbox is UTF-8; redirect's
//     address and vacation's :from are RFC 5322 mailboxes (RFC 5228 4.2, RFC 5230 4.4;
//     checker_address.h); encoded characters decoded (RFC 5228 2.4.2.4, through
//     delivery/sieve/encoded_character.h) in every string after the require commands.
//   - warnings, not errors, as Pigeonhole: an unknown date part, a malformed :zone, a
//     header name that cannot be one (header, address, exists), an IMAP flag that
//     cannot be one (setflag/addflag/removeflag, :flags).
// Strings holding "${" when "variables" is required are expanded at run time, so the
// checks of constant strings above are skipped for them (RFC 5229 3).
// Not checked here (later, or elsewhere): :regex patterns compiling (the match code owns
// the regex engine and its limits, delivery/sieve/match_regex.h: the checker should
// compile constant keys through it), variable references naming unknown namespaces
// ("${foo.x}", delivery/sieve/variables.h), the value of :matches keys (any string is a
// valid pattern), vacation's :addresses, included scripts existing.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "delivery/sieve/ast.h"
#include "delivery/sieve/checker_tree.h"
#include "delivery/sieve/parser.h"

namespace ringmail::sieve {

// The checked tree, or InvalidArgument "line L, column C: ..." for the first error.
absl::StatusOr<checked_script> check_script(const script& parsed);

// parse_script (parser.h) then check_script: what delivery and ManageSieve's PUTSCRIPT /
// CHECKSCRIPT call with a script's bytes. Errors are the parser's or the checker's.
absl::StatusOr<checked_script> compile_script(std::string_view text,
                                              const parse_limits& limits = {});

}  // namespace ringmail::sieve

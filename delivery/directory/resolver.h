// resolver: what a recipient address means — which mailboxes of ours and which remote
// addresses get a copy — and which From addresses a logged-in user may use. Pure logic
// over a `source` (source.h); it keeps no state between calls, so one resolver per shard
// over that shard's cached_source is the intended use.
//
// Recipient resolution follows Postfix's virtual(5) as set up by the ISPmail guide:
//   1. The domain must be in virtual_domains, or the answer is not_our_domain (the SMTP
//      layer then relays only for authenticated clients).
//   2. Aliases of the exact address (without +detail) win; if there are none, a user of
//      that address is the mailbox; if neither, the catch-all aliases of "@domain"
//      apply; if none, no_such_user. A real user therefore beats the catch-all without
//      the self-mapping rows ISPmail's guide needs to get that from Postfix.
//   3. An alias whose destination is its own source ("john@x -> john@x", ISPmail's way to
//      keep a copy while forwarding) means the mailbox itself and is not expanded again.
//   4. Destinations expand recursively by the same rules (as Postfix's recursive
//      virtual_alias_maps). Destinations outside our domains are remote and expand no
//      further. Each mailbox and each remote address appears once.
//   5. A loop (an address reached again while it is being expanded) is a configuration
//      error: the looping branch contributes nothing; if nothing at all remains the
//      answer is no_such_user with reason "alias loop".
//   6. Bounds, as Postfix's virtual_alias_recursion_limit / virtual_alias_expansion_limit
//      ("unreasonable virtual_alias_maps map nesting ... try again later"): nesting
//      deeper than max_depth, more than max_destinations results, or more than
//      10 * max_destinations addresses looked at give temporary_failure, so a bad table
//      defers mail instead of bouncing it.
//   7. The recipient's +detail is carried to every local destination that has none of
//      its own ("lists@x -> john+lists@x" keeps "lists"), as Postfix's
//      propagate_unmatched_extensions does.
//   8. Any error from the source is temporary_failure — never no_such_user (451 4.3.0,
//      not 550 5.1.1, for a directory that cannot answer).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/directory/address.h"
#include "delivery/directory/source.h"
#include "runtime/task.h"

namespace ringmail::directory {

struct destination {
  std::string address;  // normalised "local@domain" (no detail)
  bool local = false;   // a mailbox of ours (virtual_users); false: remote, goes to the queue
  std::string detail;   // for local destinations: the +detail to deliver with ("" if none)
};

enum class outcome { ok, no_such_user, not_our_domain, temporary_failure };

struct resolution {
  outcome result = outcome::no_such_user;
  std::vector<destination> destinations;  // non-empty exactly when result == ok
  std::string reason;                     // why, when result != ok (for logs and replies)
};

struct resolver_options {
  int max_depth = 20;               // alias nesting (Postfix virtual_alias_recursion_limit)
  size_t max_destinations = 1000;   // results per recipient (virtual_alias_expansion_limit)
  char detail_separator = '+';      // Postfix recipient_delimiter; '\0' for none
};

class resolver {
 public:
  // `src` must outlive the resolver. Tasks are lazy: string_view arguments must stay
  // valid until the returned task completes (co_await it in the same expression).
  explicit resolver(source& src, resolver_options options = {});

  // Never fails as a task: every error is a resolution (an unparsable recipient is
  // no_such_user with the parser's message as reason).
  task<resolution> resolve(std::string_view recipient);
  // The same, for an address the caller already parsed with detail_separator(): a
  // session that parses a recipient once for its own checks hands over the result.
  task<resolution> resolve(address recipient);
  char detail_separator() const { return options_.detail_separator; }

  // The addresses `login` (a user's email) may use as MAIL FROM / From: its own address
  // and the sources of aliases whose destination is exactly that address (one level, as
  // ISPmail's smtpd_sender_login_maps query). Catch-all sources ("@domain") are left out:
  // they would let a user send as anyone in the domain. Normalised, deduplicated, own
  // address first. +detail variants are implied (see may_send_as).
  // Errors: UnavailableError (or any source error) as is; InvalidArgument for a login
  // that is not a valid address.
  task<absl::StatusOr<std::vector<std::string>>> sendable_addresses(std::string_view login);

  // Whether `login` may send as `from`. `from` may carry a +detail: john may send as
  // john+lists@… and, if sales@… is an alias to john, as sales+x@…. An unparsable `from`
  // (including the null sender "") is simply not allowed: false; the SMTP layer decides
  // about "<>" itself. Errors as sendable_addresses.
  task<absl::StatusOr<bool>> may_send_as(std::string_view login, std::string_view from);

 private:
  struct expansion;
  task<absl::Status> expand(expansion& ex, std::string addr, std::string detail, int depth);
  task<absl::StatusOr<bool>> is_our_domain(expansion& ex, const std::string& domain);

  source& src_;
  resolver_options options_;
};

}  // namespace ringmail::directory

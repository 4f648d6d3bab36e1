// Internal to spam/evals: the forms of Received header that SpamAssassin's Received.pm
// (parse_received_line) recognises, one recogniser per form, for received.cc. The
// recognisers are tried in SA's order, because the first that matches decides what is
// taken for the HELO, the rDNS and the IP, even where a later one looks more general.
#pragma once

#include <string>

namespace ringmail::spam {

// SA's my ($ip, $helo, $rdns, ...) of parse_received_line: what the shared prelude
// (id, HELO, by, auth) and then the recognisers fill in.
struct received_fields {
  std::string ip, helo, rdns, by, id, ident, envfrom, auth;
  bool has_envfrom = false;
  bool mta_looked_up_dns = false;
};

enum class received_form {
  no_match,     // not this form: try the next one
  relay,        // SA's "goto enough": the fields make a relay
  ignored,      // SA's "return 0": a handover it skips on purpose
  pop_fetcher,  // "with POP3/IMAP": ignored too, and SA's found_pop_fetcher_sig
};

// `s` is the unfolded value after the prelude (date and trailing ';' removed); its
// "from ", "FROM " or "(from " prefix is consumed. no_match leaves the caller's own
// fallback ("[IP]" anywhere, then enough if there is an IP and a by) to decide.
received_form recognise_received_form(std::string& s, received_fields& f);

}  // namespace ringmail::spam

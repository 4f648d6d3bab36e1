// SPF evaluation, RFC 7208 check_host() (§4) over a dns_client, for the MAIL FROM
// identity and for the HELO identity (§2.3, §2.4).
//
// Limits (§4.6.4), all in spf_options: at most 10 DNS-querying terms (include, a, mx, ptr,
// exists, redirect) over the whole evaluation, includes and redirects included; at most 2
// void lookups (answers NXDOMAIN or no data) — the 11th term / 3rd void lookup makes the
// result permerror; an mx term whose MX answer has more than 10 names is permerror; ptr
// and %{p} look at no more than 10 PTR names. Recursion is bounded by the term limit and,
// independently, by max_depth. A DNS timeout or server failure gives temperror, never a
// permanent result (§4.4, §5: except the PTR lookups of ptr/%{p}, whose failure only
// means "no match" / "unknown", §5.5). exp= (§6.2) is fetched only for a fail, outside the
// limits, and any failure there just leaves the explanation empty.
//
// Void lookups counted: the A/AAAA/MX/PTR queries of mechanisms and the address queries
// of an mx term's exchanges — not the address queries that validate PTR names (§5.5):
// those names belong to whoever controls the client's reverse zone, who could otherwise
// turn the domain owner's "-all" into a permerror (pyspf counts them; we do not).
#pragma once

#include <cstdint>
#include <string>

#include "spam/auth/message_auth.h"
#include "spam/dns/dns_client.h"

namespace ringmail::spam {

struct spf_request {
  std::string client_ip;  // "192.0.2.1" / "2001:db8::1" (socket_address::host())
  std::string sender;     // MAIL FROM address without <>; empty for the null sender
  std::string helo;       // the HELO/EHLO argument
  std::string receiver;   // our host name (%{r} in explanations); empty: "unknown"
  int64_t timestamp = 0;  // %{t} in explanations, seconds since the epoch (the caller's clock)
};

struct spf_options {
  unsigned max_dns_terms = 10;
  unsigned max_void_lookups = 2;
  unsigned max_mx_names = 10;
  unsigned max_ptr_names = 10;
  unsigned max_depth = 20;  // nested include/redirect, even if the term limit were raised
};

// check_host(<ip>, <domain of sender>, <sender>); for the null sender, the HELO identity
// (postmaster@helo), as RFC 7208 §2.4 says. spf_check::domain is the domain checked.
task<spf_check> check_host(dns_client& dns, const spf_request& request, const spf_options& options = {});

// The HELO identity alone (§2.3): check_host(<ip>, helo, "postmaster@" + helo).
task<spf_check> check_helo(dns_client& dns, const spf_request& request, const spf_options& options = {});

}  // namespace ringmail::spam

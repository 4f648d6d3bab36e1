#include "spam/auth/check.h"

#include <ctime>
#include <tuple>
#include <utility>
#include <vector>

#include "mail/header.h"
#include "runtime/when_all.h"
#include "spam/arc/verifier.h"
#include "spam/dmarc/check.h"

namespace ringmail::spam {
namespace {

task<spf_check> no_spf() { co_return spf_check{}; }
task<arc_check> no_arc() { co_return arc_check{}; }

// Did a check that could have aligned with the From domain (relaxed: the laxest a record
// may ask) end in temperror?
bool aligned_temperror(const message_auth& auth, const dmarc::public_suffix_list* suffixes) {
  const std::string& from = auth.dmarc.from_domain;
  if (auth.spf.result == spf_result::temperror &&
      dmarc::aligned(suffixes, auth.spf.domain, from, dmarc::alignment::relaxed)) {
    return true;
  }
  for (const dkim_signature_check& d : auth.dkim) {
    if (d.result == dkim_result::temperror && dmarc::aligned(suffixes, d.domain, from, dmarc::alignment::relaxed)) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> from_values_of(std::string_view message) {
  std::vector<std::string> values;
  const mail::header_block headers = mail::parse_header_block(message);
  for (const mail::header_field* f : headers.find_all("From")) values.push_back(mail::unfold(f->value));
  return values;
}

}  // namespace

task<message_auth> check_message_auth(dns_client& dns, const dmarc::public_suffix_list* suffixes,
                                      const auth_request& request, const auth_options& options) {
  spf_request spf;
  spf.client_ip = request.client_ip;
  spf.sender = request.mail_from;
  spf.helo = request.helo;
  spf.receiver = request.receiver;
  spf.timestamp = request.now != 0 ? request.now : static_cast<int64_t>(std::time(nullptr));
  dkim::dkim_verify_options dkim_options = options.dkim;
  if (dkim_options.now == 0) dkim_options.now = spf.timestamp;

  // The lookups of the three checks overlap: each waits on its own DNS answers.
  auto mail_from_check = check_host(dns, spf, options.spf);
  auto helo_check = options.check_helo && !request.helo.empty() ? check_helo(dns, spf, options.spf) : no_spf();
  auto signatures = dkim::verify_dkim(dns, request.message, dkim_options);
  arc::arc_verify_options arc_options;
  arc_options.keys = dkim_options;
  auto chain = options.check_arc ? arc::verify_arc(dns, request.message, arc_options) : no_arc();
  auto all = when_all(std::move(mail_from_check), std::move(helo_check), std::move(signatures), std::move(chain));
  auto results = co_await std::move(all);

  message_auth auth;
  auth.checked = true;
  auth.spf = std::move(std::get<0>(results));
  auth.helo_spf = std::move(std::get<1>(results));
  auth.dkim = std::move(std::get<2>(results));
  auth.arc = std::move(std::get<3>(results));

  dmarc::dmarc_request dmarc_request;
  dmarc_request.from_values = from_values_of(request.message);
  dmarc_request.spf = auth.spf;
  dmarc_request.dkim = auth.dkim;
  // l= with content after the signed part (RFC 6376 §8.2): the signature is good, but
  // anyone could have appended that content — to a real newsletter of a p=reject domain,
  // say. It does not authenticate the From domain for DMARC.
  for (dkim_signature_check& d : dmarc_request.dkim) {
    if (d.result == dkim_result::pass && d.body_length_limited) d.result = dkim_result::neutral;
  }
  dmarc_request.percent_roll = options.percent_roll;
  auto dmarc_check = dmarc::check_dmarc(dns, suffixes, dmarc_request);
  auth.dmarc = co_await std::move(dmarc_check);
  // A DMARC failure that an aligned SPF or DKIM check might have prevented, had DNS
  // answered, is no failure: "timeouts give temperror, never a permanent refusal" (issue
  // 16; RFC 7489 §6.6.2 leaves it to the receiver, and rejecting for our resolver's fault
  // would bounce good mail).
  if (auth.dmarc.result == dmarc_result::fail && aligned_temperror(auth, suffixes)) {
    auth.dmarc.result = dmarc_result::temperror;
    auth.dmarc.disposition = dmarc_policy::none;
    auth.dmarc.reason = "SPF or DKIM could not be checked (DNS)";
  }
  co_return auth;
}

}  // namespace ringmail::spam

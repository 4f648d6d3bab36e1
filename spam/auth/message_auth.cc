#include "spam/auth/message_auth.h"

#include "mail/header.h"

namespace ringmail::spam {

std::string_view to_string(spf_result r) {
  switch (r) {
    case spf_result::none: return "none";
    case spf_result::neutral: return "neutral";
    case spf_result::pass: return "pass";
    case spf_result::fail: return "fail";
    case spf_result::softfail: return "softfail";
    case spf_result::temperror: return "temperror";
    case spf_result::permerror: return "permerror";
  }
  return "none";
}

std::string_view to_string(dkim_result r) {
  switch (r) {
    case dkim_result::none: return "none";
    case dkim_result::pass: return "pass";
    case dkim_result::fail: return "fail";
    case dkim_result::policy: return "policy";
    case dkim_result::neutral: return "neutral";
    case dkim_result::temperror: return "temperror";
    case dkim_result::permerror: return "permerror";
  }
  return "none";
}

std::string_view to_string(dmarc_result r) {
  switch (r) {
    case dmarc_result::none: return "none";
    case dmarc_result::pass: return "pass";
    case dmarc_result::fail: return "fail";
    case dmarc_result::temperror: return "temperror";
    case dmarc_result::permerror: return "permerror";
  }
  return "none";
}

std::string_view to_string(dmarc_policy p) {
  switch (p) {
    case dmarc_policy::none: return "none";
    case dmarc_policy::quarantine: return "quarantine";
    case dmarc_policy::reject: return "reject";
  }
  return "none";
}

std::string_view to_string(arc_result r) {
  switch (r) {
    case arc_result::none: return "none";
    case arc_result::pass: return "pass";
    case arc_result::fail: return "fail";
  }
  return "none";
}

bool message_auth::dkim_pass_for(std::string_view domain) const {
  for (const auto& s : dkim) {
    if (s.result == dkim_result::pass && mail::equals_ignore_case(s.domain, domain)) return true;
  }
  return false;
}

bool message_auth::any_dkim_pass() const {
  for (const auto& s : dkim) {
    if (s.result == dkim_result::pass) return true;
  }
  return false;
}

}  // namespace ringmail::spam

// The eval functions of SpamAssassin's SPF, DKIM and DMARC plugins (Mail::SpamAssassin::
// Plugin::SPF, ::DKIM, ::DMARC of 4.0.1), ported from their Perl but reading the results
// the SMTP session's own checks left in message_auth (issue 16) instead of doing DNS and
// crypto here: SpamAssassin's "signatures supplied by the caller" path (DKIM.pm's
// suppl_attrib). Without results (eval_input::auth null, or not checked) every one is
// false, as SpamAssassin without network.
//
// Departures from the Perl, on purpose:
//  - dkim_minimum_key_bits applies to RSA keys only. Mail::DKIM reports no size for an
//    Ed25519 key, so SpamAssassin never counts an Ed25519 author signature (RFC 8463 keys
//    are 256 bits and as strong as ~3072-bit RSA); a key of unknown size (key_bits 0) is
//    accepted rather than refused. dkim_minimum_key_bits 0 means no floor (in the Perl it
//    makes DKIM_VALID_AU impossible, as the key size is then never computed).
//  - ADSP (RFC 5617, historic since 2013) is not looked up in DNS: only the rule files'
//    adsp_override entries give a domain a practice, as SpamAssassin with them and an
//    ADSP lookup that found nothing.
//  - The welcome-list settings (welcomelist_from_dkim, welcomelist_auth, ... and their
//    un- forms) are applied all additions first, then the removals: the rule set keeps
//    each directive's lines apart, so their interleaving across directives is not known.
//  - DKIM signatures are dependable (check_dkim_dependable) whenever results exist: our
//    verifier saw the whole message, as a caller that supplies signatures in the Perl.
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "spam/auth/message_auth.h"
#include "spam/evals/evals.h"

namespace ringmail::spam {

// Parsed once per rule set (eval_settings::from).
struct auth_eval_settings {
  // welcomelist_from_dkim / def_welcomelist_from_dkim: an address glob and the signing
  // domains (SDIDs) it accepts; "" asks for an author domain signature.
  struct dkim_entry {
    std::string glob;
    std::vector<std::string> sdids;
  };
  std::vector<dkim_entry> welcomelist_from_dkim, def_welcomelist_from_dkim;
  // Plain address globs (lower-case): welcomelist_auth ... def_welcomelist_from_spf.
  std::vector<std::string> welcomelist_auth, def_welcomelist_auth;
  std::vector<std::string> welcomelist_from_spf, def_welcomelist_from_spf;
  // adsp_override: author domain (or "*.suffix", "*") -> N/U/A/D/1/2/3.
  absl::flat_hash_map<std::string, char> adsp_override;
  unsigned dkim_minimum_key_bits = 1024;
};

namespace {

std::string lower(std::string_view s) { return absl::AsciiStrToLower(std::string(s)); }

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !absl::ascii_isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Parser::add_to_addrlist turns an address into ^regex$ with only '*' (any string) and
// '?' (one character) special, after replacing NUL, '\' and '(' by '_' ("paranoia").
std::string normalize_glob(std::string_view addr) {
  std::string g = lower(addr);
  for (char& c : g) {
    if (c == '\0' || c == '\\' || c == '(') c = '_';
  }
  return g;
}

// Wildcard match with backtracking to the last '*' only: O(pattern * text) at worst,
// so a hostile "*a*a*a*..." entry stays cheap.
bool glob_match(std::string_view pat, std::string_view s) {
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool any_glob_match(const std::vector<std::string>& globs, std::string_view addr) {
  for (const std::string& g : globs) {
    if (glob_match(g, addr)) return true;
  }
  return false;
}

void add_unique(std::vector<std::string>& list, std::string glob) {
  for (const std::string& g : list) {
    if (g == glob) return;
  }
  list.push_back(std::move(glob));
}

const std::vector<std::string>* lines(const rule_set& rules, const char* key) {
  auto it = rules.settings.find(key);
  return it == rules.settings.end() ? nullptr : &it->second;
}

// Every line of `key` and of its pre-4.0 alias (whitelist for welcomelist).
template <typename F>
void each_line(const rule_set& rules, std::string_view key, F&& f) {
  std::string old(key);
  size_t at = old.find("welcomelist");
  if (at != std::string::npos) old.replace(at, 11, "whitelist");
  for (const std::string& k : {std::string(key), old}) {
    if (const auto* v = lines(rules, k.c_str())) {
      for (const std::string& line : *v) f(std::string_view(line));
    }
    if (k == old) break;  // key had no welcomelist in it: do not read it twice
  }
}

void add_addrlist(const rule_set& rules, std::string_view key, std::vector<std::string>& list) {
  each_line(rules, key, [&](std::string_view line) {
    for (std::string_view a : split_ws(line)) add_unique(list, normalize_glob(a));
  });
}

// welcomelist_from_dkim's value: /^(\S+)(?:\s+(\S+))?$/, else the line is refused.
void add_dkim_list(const rule_set& rules, std::string_view key, std::vector<auth_eval_settings::dkim_entry>& list) {
  each_line(rules, key, [&](std::string_view line) {
    auto w = split_ws(line);
    if (w.empty() || w.size() > 2) return;
    std::string glob = normalize_glob(w[0]);
    std::string sdid = w.size() == 2 ? lower(w[1]) : std::string();
    for (auto& e : list) {
      if (e.glob == glob) {
        e.sdids.push_back(std::move(sdid));
        return;
      }
    }
    list.push_back({std::move(glob), {std::move(sdid)}});
  });
}

void remove_addr(std::vector<std::string>& list, std::string_view addr) {
  std::string key = normalize_glob(addr);
  std::erase(list, key);
}

void remove_dkim(std::vector<auth_eval_settings::dkim_entry>& list, const std::string& glob, const std::string& sdid) {
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (it->glob != glob) continue;
    std::erase(it->sdids, sdid);
    if (it->sdids.empty()) list.erase(it);
    return;
  }
}

// ---- per-message facts ----------------------------------------------------------------

bool have(const eval_input& in) { return in.auth != nullptr && in.auth->checked; }

// The From addresses (lower-case): $pms->get('from:addr') in list context.
std::vector<std::string> authors(const eval_input& in) { return evals::header_addresses(in.text, "From"); }

// _get_authors: /\@([^\@]+?)[ \t]*\z/ — the domain after the last '@'.
std::string domain_of(std::string_view addr) {
  size_t at = addr.rfind('@');
  if (at == std::string_view::npos || at + 1 == addr.size()) return {};
  std::string_view d = addr.substr(at + 1);
  while (!d.empty() && (d.back() == ' ' || d.back() == '\t')) d.remove_suffix(1);
  return lower(d);
}

std::vector<std::string> author_domains(const eval_input& in) {
  std::vector<std::string> out;
  for (const std::string& a : authors(in)) {
    std::string d = domain_of(a);
    if (!d.empty()) add_unique(out, std::move(d));
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  for (const std::string& x : v) {
    if (x == s) return true;
  }
  return false;
}

// The signing domain as the Perl takes it: `identity =~ /\@(\S+)/`, else d=.
std::string sdid_of(const dkim_signature_check& sig) {
  size_t at = sig.identity.find('@');
  if (at != std::string::npos) {
    std::string_view rest = std::string_view(sig.identity).substr(at + 1);
    size_t end = 0;
    while (end < rest.size() && !absl::ascii_isspace(static_cast<unsigned char>(rest[end]))) ++end;
    if (end > 0) return lower(rest.substr(0, end));
  }
  return lower(sig.domain);
}

bool is_ed25519(const dkim_signature_check& sig) {
  return absl::AsciiStrToLower(sig.algorithm).rfind("ed25519", 0) == 0;
}

// A valid signature whose key is below dkim_minimum_key_bits (RSA only, see the top).
bool weak(const eval_input& in, const dkim_signature_check& sig) {
  const unsigned min_bits = in.settings.auth ? in.settings.auth->dkim_minimum_key_bits : 1024;
  return min_bits != 0 && sig.key_bits != 0 && !is_ed25519(sig) && sig.key_bits < min_bits;
}

bool valid(const dkim_signature_check& sig) { return sig.result == dkim_result::pass; }

// "domain" or ".domain" / "*.domain" (the domain itself or a subdomain), as in
// _check_dkim_signed_by.
bool domain_matches(std::string_view sdid, std::string_view acceptable) {
  if (!acceptable.empty() && acceptable[0] == '*' && acceptable.size() > 1 && acceptable[1] == '.') {
    acceptable.remove_prefix(1);
  }
  if (!acceptable.empty() && acceptable[0] == '.') {
    std::string d = lower(acceptable.substr(1));
    return sdid == d || (sdid.size() > d.size() + 1 && sdid.substr(sdid.size() - d.size()) == d &&
                         sdid[sdid.size() - d.size() - 1] == '.');
  }
  return sdid == lower(acceptable);
}

bool signed_by(const eval_input& in, bool must_be_valid, bool must_be_author,
               const std::vector<std::string>& acceptable) {
  std::vector<std::string> author_doms;
  if (must_be_author) author_doms = author_domains(in);
  for (const dkim_signature_check& sig : in.auth->dkim) {
    if (must_be_valid && (!valid(sig) || weak(in, sig))) continue;
    std::string sdid = sdid_of(sig);
    if (sdid.empty()) continue;
    if (must_be_author && !contains(author_doms, sdid)) continue;
    if (acceptable.empty()) return true;
    for (const std::string& ad : acceptable) {
      if (domain_matches(sdid, ad)) return true;
    }
  }
  return false;
}

bool dkim_valid(const eval_input& in) {
  for (const dkim_signature_check& sig : in.auth->dkim) {
    if (valid(sig)) return true;
  }
  return false;
}

// dkim_has_valid_author_sig: a valid signature by an author domain with a strong key.
bool has_valid_author_sig(const eval_input& in, std::string_view domain) {
  for (const dkim_signature_check& sig : in.auth->dkim) {
    if (valid(sig) && !weak(in, sig) && sdid_of(sig) == domain) return true;
  }
  return false;
}

// ---- SPF ------------------------------------------------------------------------------

template <spf_result R>
bool spf_is(const eval_input& in, const std::vector<std::string>&) {
  return have(in) && in.auth->spf.result == R;
}
template <spf_result R>
bool spf_helo_is(const eval_input& in, const std::vector<std::string>&) {
  return have(in) && in.auth->helo_spf.result == R;
}

// SPF.pm _get_sender: the first external relay's envelope sender, else (when no trusted
// relay could have rewritten it) the EnvelopeFrom headers.
std::string spf_sender(const eval_input& in) {
  if (!in.relays.external.empty() && in.relays.external.front().has_envfrom) {
    return lower(in.relays.external.front().envfrom);
  }
  if (!in.relays.trusted.empty()) return {};
  return lower(evals::envelope_from(in.text, in.relays));
}

bool spf_welcomelisted(const eval_input& in, const std::vector<std::string>& list,
                       const std::vector<std::string>& auth_list) {
  if (!have(in) || in.auth->spf.result != spf_result::pass || !in.settings.auth) return false;
  std::string sender = spf_sender(in);
  if (sender.empty()) return false;
  return any_glob_match(list, sender) || any_glob_match(auth_list, sender);
}

bool check_for_spf_welcomelist_from(const eval_input& in, const std::vector<std::string>&) {
  if (!in.settings.auth) return false;
  return spf_welcomelisted(in, in.settings.auth->welcomelist_from_spf, in.settings.auth->welcomelist_auth);
}

bool check_for_def_spf_welcomelist_from(const eval_input& in, const std::vector<std::string>&) {
  if (!in.settings.auth) return false;
  return spf_welcomelisted(in, in.settings.auth->def_welcomelist_from_spf, in.settings.auth->def_welcomelist_auth);
}

// ---- DKIM -----------------------------------------------------------------------------

bool check_dkim_signed(const eval_input& in, const std::vector<std::string>& domains) {
  if (!have(in) || in.auth->dkim.empty()) return false;
  return domains.empty() || signed_by(in, false, false, domains);
}

bool check_dkim_valid(const eval_input& in, const std::vector<std::string>& domains) {
  if (!have(in) || !dkim_valid(in)) return false;
  return domains.empty() || signed_by(in, true, false, domains);
}

bool check_dkim_valid_author_sig(const eval_input& in, const std::vector<std::string>& domains) {
  if (!have(in)) return false;
  bool any = false;
  for (const std::string& d : author_domains(in)) any = any || has_valid_author_sig(in, d);
  return any && signed_by(in, true, true, domains);
}

bool check_dkim_valid_envelopefrom(const eval_input& in, const std::vector<std::string>&) {
  if (!have(in)) return false;
  // ($pms->get('EnvelopeFrom:addr')||'') =~ /\@(\S+)/
  std::string envfrom = evals::envelope_from(in.text, in.relays);
  size_t at = envfrom.find('@');
  if (at == std::string::npos) return false;
  std::string_view rest = std::string_view(envfrom).substr(at + 1);
  size_t end = 0;
  while (end < rest.size() && !absl::ascii_isspace(static_cast<unsigned char>(rest[end]))) ++end;
  if (end == 0) return false;
  return dkim_valid(in) && signed_by(in, true, false, {lower(rest.substr(0, end))});
}

bool check_dkim_dependable(const eval_input& in, const std::vector<std::string>&) { return have(in); }

// We keep no t=y flag of the keys: the key-testing rule stays off.
bool check_dkim_testing(const eval_input&, const std::vector<std::string>&) { return false; }

// Semantically always true (RFC 5617); the Perl returns 0 so DKIM_POLICY_SIGNSOME never fires.
bool check_dkim_signsome(const eval_input&, const std::vector<std::string>&) { return false; }

// The author domain's signing practice from adsp_override: the domain, then "*.parent"
// for each parent, then "*".
char adsp_of(const auth_eval_settings& s, const std::string& domain) {
  if (s.adsp_override.empty()) return 0;
  if (auto it = s.adsp_override.find(domain); it != s.adsp_override.end()) return it->second;
  std::string_view d = domain;
  while (true) {
    size_t dot = d.find('.');
    d = dot == std::string_view::npos ? std::string_view() : d.substr(dot + 1);
    std::string key = d.empty() ? std::string("*") : "*." + std::string(d);
    if (auto it = s.adsp_override.find(key); it != s.adsp_override.end()) return it->second;
    if (d.empty()) return 0;
  }
}

// _check_dkim_adsp's "collect only fully qualified domain names": /.\.[a-z-]{2,}\z/i.
bool fqdn(std::string_view d) {
  size_t dot = d.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || d.size() - dot - 1 < 2) return false;
  for (char c : d.substr(dot + 1)) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

bool check_dkim_adsp(const eval_input& in, const std::vector<std::string>& args) {
  if (!have(in) || !in.settings.auth || args.empty()) return false;
  std::string chars = args[0] == "*" ? "NAD123" : args[0];
  const std::vector<std::string> doms = author_domains(in);
  bool practice_matches = false;
  for (const std::string& d : doms) {
    if (!fqdn(d) || has_valid_author_sig(in, d)) continue;
    bool tempfailed = false;
    for (const dkim_signature_check& sig : in.auth->dkim) {
      tempfailed = tempfailed || (sig.result == dkim_result::temperror && sdid_of(sig) == d);
    }
    if (tempfailed) continue;  // "pub key tempfailed, ignored"
    char adsp = adsp_of(*in.settings.auth, d);
    if (adsp != 0 && chars.find(adsp) != std::string::npos) practice_matches = true;
  }
  if (!practice_matches) return false;
  if (args.size() == 1) return true;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view want = args[i];
    if (want.size() > 1 && want[0] == '*' && want[1] == '.') want.remove_prefix(1);
    if (!want.empty() && want[0] == '.') {
      std::string suffix = lower(want.substr(1));
      for (const std::string& d : doms) {
        if (d == suffix || (d.size() > suffix.size() && d.ends_with("." + suffix))) return true;
      }
    } else if (contains(doms, lower(want))) {
      return true;
    }
  }
  return false;
}

bool check_dkim_signall(const eval_input& in, const std::vector<std::string>&) {
  return check_dkim_adsp(in, {"A"});
}

// check_arc_signed / check_arc_valid take domains in the Perl but never match with them.
bool check_arc_signed(const eval_input& in, const std::vector<std::string>& domains) {
  return have(in) && domains.empty() && (in.auth->arc.result != arc_result::none || in.auth->arc.instances > 0);
}

bool check_arc_valid(const eval_input& in, const std::vector<std::string>& domains) {
  return have(in) && domains.empty() && in.auth->arc.result == arc_result::pass;
}

// _check_dkim_welcomelist and _wlcheck_list: which lists a valid, strong signature
// matched for an author that list names. Returns {default lists, user lists}.
struct dkim_welcome {
  bool def = false;
  bool user = false;
};

dkim_welcome dkim_welcomelisted(const eval_input& in) {
  dkim_welcome out;
  if (!have(in) || !in.settings.auth) return out;
  const auth_eval_settings& s = *in.settings.auth;
  struct tuple {
    std::string author_domain;
    std::string sdid;  // "" = author domain signature
    bool def;
  };
  std::vector<tuple> acceptable;
  for (const std::string& author : authors(in)) {
    // /\@([^\@]+)\z/
    size_t at = author.rfind('@');
    std::string author_domain = at == std::string::npos ? std::string() : lower(author.substr(at + 1));
    auto dkim_list = [&](const std::vector<auth_eval_settings::dkim_entry>& list, bool def) {
      for (const auto& e : list) {
        if (!glob_match(e.glob, author)) continue;
        for (const std::string& sdid : e.sdids) acceptable.push_back({author_domain, sdid, def});
      }
    };
    auto auth_list = [&](const std::vector<std::string>& list, bool def) {
      if (any_glob_match(list, author)) acceptable.push_back({author_domain, std::string(), def});
    };
    dkim_list(s.def_welcomelist_from_dkim, true);
    auth_list(s.def_welcomelist_auth, true);
    dkim_list(s.welcomelist_from_dkim, false);
    auth_list(s.welcomelist_auth, false);
  }
  if (acceptable.empty() || !dkim_valid(in)) return out;
  for (const dkim_signature_check& sig : in.auth->dkim) {
    if (sig.selector.empty() || !valid(sig) || weak(in, sig)) continue;
    const std::string sdid = sdid_of(sig);
    if (sdid.empty()) continue;
    for (const tuple& t : acceptable) {
      bool matches = false;
      if (t.sdid.empty()) {
        matches = sdid == t.author_domain;
      } else {
        // An address given instead of a domain: its local part is ignored.
        std::string_view want = t.sdid;
        size_t at = want.rfind('@');
        if (at != std::string_view::npos) want.remove_prefix(at + 1);
        if (want.size() > 1 && want[0] == '*' && want[1] == '.') want.remove_prefix(1);
        if (!want.empty() && want[0] == '.') {
          // s/^\*?\.// then /\.\Q$acceptable\E\z/: a proper subdomain only
          matches = sdid.ends_with(std::string(want));
        } else {
          matches = sdid == want;
        }
      }
      if (!matches) continue;
      (t.def ? out.def : out.user) = true;
    }
  }
  return out;
}

bool check_for_dkim_welcomelist_from(const eval_input& in, const std::vector<std::string>&) {
  return dkim_welcomelisted(in).user;
}

bool check_for_def_dkim_welcomelist_from(const eval_input& in, const std::vector<std::string>&) {
  return dkim_welcomelisted(in).def;
}

// ---- DMARC ----------------------------------------------------------------------------

// The Perl gives no DMARC result at all without an author address with '@'.
bool dmarc_known(const eval_input& in) { return have(in) && !in.auth->dmarc.from_domain.empty(); }

bool check_dmarc_pass(const eval_input& in, const std::vector<std::string>&) {
  return dmarc_known(in) && in.auth->dmarc.result == dmarc_result::pass;
}

template <dmarc_policy P>
bool dmarc_fail_with(const eval_input& in, const std::vector<std::string>&) {
  // Mail::DMARC's disposition: the policy after pct= sampling.
  return dmarc_known(in) && in.auth->dmarc.result == dmarc_result::fail && in.auth->dmarc.disposition == P;
}

// "no policy available": the From domain (nor its organizational domain) has no record.
bool check_dmarc_missing(const eval_input& in, const std::vector<std::string>&) {
  return dmarc_known(in) && in.auth->dmarc.result == dmarc_result::none;
}

const std::vector<eval_entry>& entries() {
  static const std::vector<eval_entry> list = {
      {"check_for_spf_pass", spf_is<spf_result::pass>},
      {"check_for_spf_neutral", spf_is<spf_result::neutral>},
      {"check_for_spf_none", spf_is<spf_result::none>},
      {"check_for_spf_fail", spf_is<spf_result::fail>},
      {"check_for_spf_softfail", spf_is<spf_result::softfail>},
      {"check_for_spf_permerror", spf_is<spf_result::permerror>},
      {"check_for_spf_temperror", spf_is<spf_result::temperror>},
      {"check_for_spf_helo_pass", spf_helo_is<spf_result::pass>},
      {"check_for_spf_helo_neutral", spf_helo_is<spf_result::neutral>},
      {"check_for_spf_helo_none", spf_helo_is<spf_result::none>},
      {"check_for_spf_helo_fail", spf_helo_is<spf_result::fail>},
      {"check_for_spf_helo_softfail", spf_helo_is<spf_result::softfail>},
      {"check_for_spf_helo_permerror", spf_helo_is<spf_result::permerror>},
      {"check_for_spf_helo_temperror", spf_helo_is<spf_result::temperror>},
      {"check_for_spf_welcomelist_from", check_for_spf_welcomelist_from},
      {"check_for_spf_whitelist_from", check_for_spf_welcomelist_from},
      {"check_for_def_spf_welcomelist_from", check_for_def_spf_welcomelist_from},
      {"check_for_def_spf_whitelist_from", check_for_def_spf_welcomelist_from},
      {"check_dkim_signed", check_dkim_signed},
      {"check_dkim_valid", check_dkim_valid},
      {"check_dkim_verified", check_dkim_valid},
      {"check_dkim_valid_author_sig", check_dkim_valid_author_sig},
      {"check_dkim_valid_envelopefrom", check_dkim_valid_envelopefrom},
      {"check_dkim_dependable", check_dkim_dependable},
      {"check_dkim_testing", check_dkim_testing},
      {"check_dkim_signsome", check_dkim_signsome},
      {"check_dkim_signall", check_dkim_signall},
      {"check_dkim_adsp", check_dkim_adsp},
      {"check_arc_signed", check_arc_signed},
      {"check_arc_valid", check_arc_valid},
      {"check_for_dkim_welcomelist_from", check_for_dkim_welcomelist_from},
      {"check_for_dkim_whitelist_from", check_for_dkim_welcomelist_from},
      {"check_for_def_dkim_welcomelist_from", check_for_def_dkim_welcomelist_from},
      {"check_for_def_dkim_whitelist_from", check_for_def_dkim_welcomelist_from},
      {"check_dmarc_pass", check_dmarc_pass},
      {"check_dmarc_reject", dmarc_fail_with<dmarc_policy::reject>},
      {"check_dmarc_quarantine", dmarc_fail_with<dmarc_policy::quarantine>},
      {"check_dmarc_none", dmarc_fail_with<dmarc_policy::none>},
      {"check_dmarc_missing", check_dmarc_missing},
  };
  return list;
}

}  // namespace

const std::vector<eval_entry>& auth_evals() { return entries(); }

bool evals::reads_message_auth(eval_function f) {
  if (f == nullptr) return false;
  for (const eval_entry& e : entries()) {
    if (e.function == f) return true;
  }
  return false;
}

std::string evals::auth_fingerprint(const message_auth& a) {
  // Every field an eval above reads, each ended by a byte no value holds unescaped.
  std::string out;
  auto field = [&](std::string_view v) {
    out.append(std::to_string(v.size()));
    out.push_back(':');
    out.append(v);
  };
  auto num = [&](unsigned v) { field(std::to_string(v)); };
  num(a.checked);
  num(static_cast<unsigned>(a.spf.result));
  num(static_cast<unsigned>(a.helo_spf.result));
  num(static_cast<unsigned>(a.dkim.size()));
  for (const dkim_signature_check& s : a.dkim) {
    num(static_cast<unsigned>(s.result));
    field(s.domain);
    field(s.selector);
    field(s.identity);
    field(s.algorithm);
    num(s.key_bits);
  }
  num(static_cast<unsigned>(a.dmarc.result));
  field(a.dmarc.from_domain);
  num(static_cast<unsigned>(a.dmarc.disposition));
  num(static_cast<unsigned>(a.arc.result));
  num(a.arc.instances);
  return out;
}

std::shared_ptr<const auth_eval_settings> make_auth_eval_settings(const rule_set& rules) {
  auto s = std::make_shared<auth_eval_settings>();
  add_dkim_list(rules, "welcomelist_from_dkim", s->welcomelist_from_dkim);
  add_dkim_list(rules, "def_welcomelist_from_dkim", s->def_welcomelist_from_dkim);
  add_addrlist(rules, "welcomelist_auth", s->welcomelist_auth);
  add_addrlist(rules, "def_welcomelist_auth", s->def_welcomelist_auth);
  add_addrlist(rules, "welcomelist_from_spf", s->welcomelist_from_spf);
  add_addrlist(rules, "def_welcomelist_from_spf", s->def_welcomelist_from_spf);
  each_line(rules, "unwelcomelist_from_dkim", [&](std::string_view line) {
    auto w = split_ws(line);
    if (w.empty() || w.size() > 2) return;
    std::string glob = normalize_glob(w[0]);
    std::string sdid = w.size() == 2 ? lower(w[1]) : std::string();
    remove_dkim(s->welcomelist_from_dkim, glob, sdid);
    remove_dkim(s->def_welcomelist_from_dkim, glob, sdid);
  });
  each_line(rules, "unwelcomelist_auth", [&](std::string_view line) {
    for (std::string_view a : split_ws(line)) {
      remove_addr(s->welcomelist_auth, a);
      remove_addr(s->def_welcomelist_auth, a);
    }
  });
  each_line(rules, "unwelcomelist_from_spf", [&](std::string_view line) {
    for (std::string_view a : split_ws(line)) {
      remove_addr(s->welcomelist_from_spf, a);
      remove_addr(s->def_welcomelist_from_spf, a);
    }
  });
  // adsp_override: /^\@?([*a-z0-9._-]+)(?:\s+(nxdomain|unknown|all|discardable|custom_*))?$/i
  each_line(rules, "adsp_override", [&](std::string_view line) {
    auto w = split_ws(line);
    if (w.empty() || w.size() > 2) return;
    std::string domain = lower(w[0]);
    if (!domain.empty() && domain[0] == '@') domain.erase(0, 1);
    if (domain.empty()) return;
    for (char c : domain) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '*' && c != '.' && c != '_' && c != '-') return;
    }
    std::string practice = w.size() == 2 ? lower(w[1]) : "discardable";
    static const absl::flat_hash_map<std::string, char> codes = {
        {"nxdomain", 'N'}, {"unknown", 'U'},    {"all", 'A'},        {"discardable", 'D'},
        {"custom_low", '1'}, {"custom_med", '2'}, {"custom_high", '3'}};
    auto it = codes.find(practice);
    if (it == codes.end()) return;
    s->adsp_override[domain] = it->second;
  });
  each_line(rules, "dkim_minimum_key_bits", [&](std::string_view line) {
    unsigned v = 0;
    if (absl::SimpleAtoi(std::string(line), &v)) s->dkim_minimum_key_bits = v;
  });
  return s;
}

}  // namespace ringmail::spam

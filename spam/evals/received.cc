// A port of SpamAssassin 4.0.1's Message/Metadata/Received.pm (parse_received_headers,
// parse_received_line, make_relay_as_string). parse_received_line is SA's in three steps:
// the prelude every form shares (date, id, HELO, by, auth), the forms themselves
// (received_forms.cc, one recogniser each, in SA's order) and SA's "enough:" clean-up.
// The patterns are SA's, as written.
#include "spam/evals/received.h"

#include "absl/strings/ascii.h"
#include "spam/evals/received_forms.h"
#include "spam/evals/regex.h"

namespace ringmail::spam {
namespace {

// Perl's s/\s+/ /g; s/^ //; s/ $//;
std::string squeeze_spaces(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool space = false;
  for (char c : in) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// $strip_chars = qr/[\s\000\#\[\]\(\)\<\>\|]/ -> '!'
void strip_chars(std::string& s) {
  for (char& c : s) {
    switch (c) {
      case ' ': case '\t': case '\n': case '\r': case '\f': case '\v': case '\0':
      case '#': case '[': case ']': case '(': case ')': case '<': case '>': case '|':
        c = '!';
        break;
      default:
        break;
    }
  }
}

void make_relay_as_string(relay& r) {
  r.as_string = "[ ip=" + r.ip + " rdns=" + r.rdns + " helo=" + r.helo + " by=" + r.by +
                " ident=" + r.ident + " envfrom=" + r.envfrom + " intl=" + (r.internal ? "1" : "0") +
                " id=" + r.id + " auth=" + r.auth + " msa=" + (r.msa ? "1" : "0") + " ]";
}

// Perl's leading checks: only "from" lines are handovers; local deliveries and
// "from X by Y;" with no IP say nothing about a relay.
bool ignored_up_front(const std::string& s) {
  fixed_regex::groups g;
  if (!RXI(R"(^\(?from )").match(s)) return true;
  if (RX(R"(\bwith local for\b)").match(s)) return true;
  return RXI(R"(^from (\S+) by [^\s;]+ ?;)").match(s, g) && !RX(R"(^\[[\d.]+\]$)").match(g.g[1]);
}

// What SA takes from any form before telling them apart: the id, the HELO, the by.
void id_helo_and_by(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (RX(R"( id <?([^\s<>;]{3,}))").match(s, g)) f.id = g.str(1);
  if (RX(R"(\bhelo=([-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]+)(?:[^-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]|$))").match(s, g)) {
    f.helo = g.str(1);
  } else if (RX(R"(\b(?:HELO|EHLO) ([-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]+)(?:[^-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]|$))").match(s, g)) {
    f.helo = g.str(1);
  }
  if (RX(R"( by (\S+)(?:[^-A-Za-z0-9\;\.]|$))").match(s, g)) f.by = g.str(1);
}

// Authenticated submissions (trust inference counts them as trusted): SA's $auth.
std::string authentication(const std::string& s) {
  fixed_regex::groups g;
  if (RX(" by ").match(s) && RXI(R"( with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$))").match(s, g)) {
    return g.str(1);
  }
  if (RX(R"( by mx\.google\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\.[0-9]{1,3}\.[0-9]{4}\.(?:[0-6][0-9]\.){4}[0-6][0-9])").match(s) &&
      RX(R"(\(version=([^ ]+) cipher=([^\)]+)\))").match(s, g)) {
    return "GMail - transport=" + g.str(1) + " cipher=" + g.str(2);
  }
  if (RX(R"(^from .*?(?:\]\)|\)\]) \(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \S+(?:, .*?)?\) by )").match(s, g)) {
    return g.str(1);
  }
  if (RX("authenticated").match(s) &&
      RX(R"(^from .*?(?:\](?: \([^)]*\))?\)|\)\]) .*?\(.*?authenticated.*?\).*? by)").match(s)) {
    return "Sendmail";
  }
  if (RX(R"(from \S* \((?:HELO|EHLO) (\S*)\) \[(${IP_ADDRESS})\] by (mail\.gmx\.(?:net|com)) \([^\)]+\) with ((?:ESMTP|SMTP)))").match(s, g)) {
    return "GMX (" + g.str(4) + " / " + g.str(3) + ")";
  }
  if (RX(" \\(authenticated as ").match(s) &&
      RX(R"(\) by .+ \(\d{1,2}\.\d\.\d{3}(?:\.\d{1,3})?\) \(authenticated as .+\) id )").match(s)) {
    return "CriticalPath";
  }
  if (RX(R"(\) \(Authenticated sender: \S+\) by \S+ \(([^\)]+)\) with )").match(s, g)) {
    return g.g[1] == "Postfix" ? g.str(1) : "Postfix (" + g.str(1) + ")";
  }
  if (RX(R"(CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP))").match(s) && RX(" \\(account ").match(s)) return "Communigate";
  if (RX(R"( with Microsoft Exchange Server HTTP-DAV\b)").match(s)) return "HTTP-DAV";
  if (RX(" by ").match(s) && RXI(R"( \(via (HTTP.?)\)(?: |;|$))").match(s, g)) return g.str(1);
  return {};
}

// SA's "enough:" label: clean the fields up and make the relay.
relay make_relay(received_fields f) {
  std::string& ip = f.ip;
  std::string& rdns = f.rdns;
  while (!rdns.empty() && rdns.back() == '.') rdns.pop_back();
  if (RXI("^unknown$").match(rdns) || (!rdns.empty() && rdns[0] == '[')) rdns.clear();
  substitute_first(RXI("^ipv6:"), ip);
  if (!ip.empty() && ip[0] == '[') ip.erase(0, 1);
  if (!ip.empty() && ip.back() == ']') ip.pop_back();
  substitute_first(RXI(R"(%[A-Z0-9._~-]*\z)"), ip);
  {
    fixed_regex::groups h;
    if (RXI(R"(^0*:0*:(?:0*:)*ffff:(\d+\.\d+\.\d+\.\d+)$)").match(ip, h)) ip = h.str(1);
  }
  if (!f.by.empty() && f.by.back() == ';') f.by.pop_back();
  strip_chars(ip);
  strip_chars(rdns);
  strip_chars(f.helo);
  strip_chars(f.by);
  strip_chars(f.ident);
  std::string& envfrom = f.envfrom;
  if (f.has_envfrom) {
    size_t a = 0;
    while (a < envfrom.size() && (envfrom[a] == ' ' || envfrom[a] == '\t' || envfrom[a] == '\n')) ++a;
    while (a < envfrom.size() && envfrom[a] == '<') ++a;
    envfrom.erase(0, a);
    while (!envfrom.empty() && (envfrom.back() == '>' || envfrom.back() == ' ' || envfrom.back() == '\t' ||
                                envfrom.back() == '\n')) {
      envfrom.pop_back();
    }
    strip_chars(envfrom);
  }

  relay r;
  r.ip = std::move(ip);
  r.by = std::move(f.by);
  r.helo = std::move(f.helo);
  r.id = std::move(f.id);
  r.ident = std::move(f.ident);
  r.envfrom = std::move(envfrom);
  r.has_envfrom = f.has_envfrom;
  r.auth = std::move(f.auth);
  r.lc_by = absl::AsciiStrToLower(r.by);
  r.lc_helo = absl::AsciiStrToLower(r.helo);
  if (rdns.empty()) {
    if (f.mta_looked_up_dns) {
      r.no_reverse_dns = true;
    } else {
      r.rdns_not_in_headers = true;
    }
  }
  r.rdns = std::move(rdns);
  r.lc_rdns = absl::AsciiStrToLower(r.rdns);
  r.ip_private = RX(std::string("^") + ip_private_pattern).match(r.ip);
  return r;
}

}  // namespace

received_parse parse_received_line(std::string_view value) {
  received_parse result;
  std::string s = squeeze_spaces(value);
  // 1 while s/\s?;$//;
  while (!s.empty() && s.back() == ';') {
    s.pop_back();
    if (!s.empty() && s.back() == ' ') s.pop_back();
  }
  if (ignored_up_front(s)) {
    result.ignored = true;
    return result;
  }
  substitute_first(
      RX(R"([\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \d+ \d+:\d+(?::\d+)? \S+$)"),
      s);
  substitute_first(RX(R"(\)by )"), s, ") by ");

  received_fields f;
  id_helo_and_by(s, f);
  f.auth = authentication(s);
  switch (recognise_received_form(s, f)) {
    case received_form::relay:
      break;
    case received_form::pop_fetcher:
      result.pop_fetcher = true;
      result.ignored = true;  // skip mail fetcher handovers
      return result;
    case received_form::ignored:
      result.ignored = true;
      return result;
    case received_form::no_match: {
      fixed_regex::groups g;
      if (f.ip.empty() && RX(R"(\[(${IP_ADDRESS})\])").match(s, g)) f.ip = g.str(1);
      if (f.ip.empty() || f.by.empty()) return result;  // unparseable
      break;
    }
  }
  result.r = make_relay(std::move(f));
  result.parsed = true;
  return result;
}

relay_info parse_relays(const mail::message_text& text) {
  relay_info info;
  bool in_trusted = true, in_internal = true;
  bool allow_mailfetch_markers = true;
  for (const mail::text_header& h : text.headers) {
    if (!mail::equals_ignore_case(h.name, "Received")) continue;
    received_parse p = parse_received_line(h.decoded);
    if (p.pop_fetcher && allow_mailfetch_markers) {
      // found_pop_fetcher_sig: the hops above were the fetcher's own; start again.
      info.trusted.clear();
      info.internal.clear();
      info.external.clear();
    }
    if (!p.parsed) {
      if (!p.ignored) ++info.unparseable;
      if (in_trusted) ++info.last_trusted_relay_index;
      continue;
    }
    relay& r = p.r;
    // No trusted_networks / internal_networks configured: infer (see received.h).
    if (in_trusted && !r.ip_private && r.auth.empty()) {
      in_trusted = false;
      in_internal = false;
    }
    r.internal = in_internal;
    make_relay_as_string(r);
    if (in_internal) info.internal.push_back(r);
    else info.external.push_back(r);
    if (in_trusted) {
      allow_mailfetch_markers = true;
      ++info.last_trusted_relay_index;
      info.trusted.push_back(std::move(r));
    } else {
      allow_mailfetch_markers = false;
      info.untrusted.push_back(std::move(r));
    }
  }
  auto join = [](const std::vector<relay>& relays) {
    std::string out;
    for (const relay& r : relays) {
      if (!out.empty()) out.push_back(' ');
      out += r.as_string;
    }
    return out;
  };
  info.trusted_str = join(info.trusted);
  info.untrusted_str = join(info.untrusted);
  info.internal_str = join(info.internal);
  info.external_str = join(info.external);
  return info;
}

}  // namespace ringmail::spam

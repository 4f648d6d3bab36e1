// A port of SpamAssassin 4.0.1's Message/Metadata/Received.pm (parse_received_headers,
// parse_received_line, make_relay_as_string). The patterns are SA's, in SA's order:
// which one matches first decides what is taken for the HELO, the rDNS and the IP, so
// the order is kept even where a later pattern looks more general.
#include "spam/evals/received.h"

#include "spam/evals/regex.h"

namespace ringmail::spam {
namespace {

// Each call site gets its own compiled constant (one lambda type per expansion).
#define RX(pat) ([]() -> const fixed_regex& { static const fixed_regex re_(pat); return re_; }())
#define RXI(pat) \
  ([]() -> const fixed_regex& { static const fixed_regex re_(pat, PCRE2_CASELESS); return re_; }())

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

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

}  // namespace

received_parse parse_received_line(std::string_view value) {
  received_parse result;
  auto ignore = [&]() {
    result.ignored = true;
    return result;
  };
  std::string s = squeeze_spaces(value);
  // 1 while s/\s?;$//;
  while (!s.empty() && s.back() == ';') {
    s.pop_back();
    if (!s.empty() && s.back() == ' ') s.pop_back();
  }

  std::string ip, helo, rdns, by, id, ident, envfrom, auth;
  bool has_envfrom = false;
  bool mta_looked_up_dns = false;
  fixed_regex::groups g;

  if (!RXI(R"(^\(?from )").match(s)) return ignore();
  if (RX(R"(\bwith local for\b)").match(s)) return ignore();
  if (RXI(R"(^from (\S+) by [^\s;]+ ?;)").match(s, g) && !RX(R"(^\[[\d.]+\]$)").match(g.g[1])) return ignore();

  substitute_first(
      RX(R"([\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \d+ \d+:\d+(?::\d+)? \S+$)"),
      s);
  substitute_first(RX(R"(\)by )"), s, ") by ");

  if (RX(R"( id <?([^\s<>;]{3,}))").match(s, g)) id = g.str(1);

  if (RX(R"(\bhelo=([-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]+)(?:[^-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]|$))").match(s, g)) {
    helo = g.str(1);
  } else if (RX(R"(\b(?:HELO|EHLO) ([-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]+)(?:[^-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]|$))").match(s, g)) {
    helo = g.str(1);
  }
  if (RX(R"( by (\S+)(?:[^-A-Za-z0-9\;\.]|$))").match(s, g)) by = g.str(1);

  // Authenticated submissions (trust inference counts them as trusted).
  if (RX(" by ").match(s) && RXI(R"( with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$))").match(s, g)) {
    auth = g.str(1);
  } else if (RX(R"( by mx\.google\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\.[0-9]{1,3}\.[0-9]{4}\.(?:[0-6][0-9]\.){4}[0-6][0-9])").match(s) &&
             RX(R"(\(version=([^ ]+) cipher=([^\)]+)\))").match(s, g)) {
    auth = "GMail - transport=" + g.str(1) + " cipher=" + g.str(2);
  } else if (RX(R"(^from .*?(?:\]\)|\)\]) \(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \S+(?:, .*?)?\) by )").match(s, g)) {
    auth = g.str(1);
  } else if (RX("authenticated").match(s) &&
             RX(R"(^from .*?(?:\](?: \([^)]*\))?\)|\)\]) .*?\(.*?authenticated.*?\).*? by)").match(s)) {
    auth = "Sendmail";
  } else if (RX(R"(from \S* \((?:HELO|EHLO) (\S*)\) \[(${IP_ADDRESS})\] by (mail\.gmx\.(?:net|com)) \([^\)]+\) with ((?:ESMTP|SMTP)))").match(s, g)) {
    auth = "GMX (" + g.str(4) + " / " + g.str(3) + ")";
  } else if (RX(" \\(authenticated as ").match(s) &&
             RX(R"(\) by .+ \(\d{1,2}\.\d\.\d{3}(?:\.\d{1,3})?\) \(authenticated as .+\) id )").match(s)) {
    auth = "CriticalPath";
  } else if (RX(R"(\) \(Authenticated sender: \S+\) by \S+ \(([^\)]+)\) with )").match(s, g)) {
    auth = g.g[1] == "Postfix" ? g.str(1) : "Postfix (" + g.str(1) + ")";
  } else if (RX(R"(CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP))").match(s) && RX(" \\(account ").match(s)) {
    auth = "Communigate";
  } else if (RX(R"( with Microsoft Exchange Server HTTP-DAV\b)").match(s)) {
    auth = "HTTP-DAV";
  } else if (RX(" by ").match(s) && RXI(R"( \(via (HTTP.?)\)(?: |;|$))").match(s, g)) {
    auth = g.str(1);
  }

  if (s.compare(0, 5, "from ") == 0) {
    s.erase(0, 5);
    if (RXI(R"((?:return-path:? |envelope-(?:sender|from)[ =])(\S+)\b)").match(s, g)) {
      envfrom = g.str(1);
      has_envfrom = true;
    }
    if (RX(R"( \((?:SquirrelMail|NaSMail) authenticated user )").match(s) &&
        RX(R"((${IP_ADDRESS})\b(?![.-]).{10,80}by (\S+) with HTTP)").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(R"(aol\.com)").match(s) && RX(R"(with HTTP \(WebMailUI\))").match(s) &&
        RX(R"((${IP_ADDRESS}) by (\S+) \(${IP_ADDRESS}\) with HTTP \(WebMailUI\))").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(" SMTPSVC").match(s)) {
      if (RX(R"(^(\S*) \(\[(${IP_ADDRESS})\][^\)]{0,40}\) by (\S+) with Microsoft SMTPSVC)").match(s, g)) {
        helo = g.str(1), ip = g.str(2), by = g.str(3);
        goto enough;
      }
      if (RX(R"(^mail pickup service by (\S+) with Microsoft SMTPSVC$)").match(s)) return ignore();
    } else if (RX(R"( with (?:Microsoft SMTP Server|mapi id) (?:\([^\)]+\) )?\d+\.\d+\.\d+\.\d+(?:$| ))").match(s)) {
      if (RX(R"(^(\S+) \(\[?(${IP_ADDRESS})(?:%[A-Z0-9._~-]*)?\]?\) by (\S+) )").match(s, g)) {
        helo = g.str(1), ip = g.str(2), by = g.str(3), id.clear();
        goto enough;
      }
    } else if (RX(R"(\[XMail )").match(s)) {
      if (RX(R"(^(\S+) \((\[?${IP_ADDRESS}\]?)(?::\d+)\) by (\S+)(?: \(\S+\))? with \[XMail)").match(s, g)) {
        helo = g.str(1), ip = g.str(2), by = g.str(3);
        if (RX(R"( id <(\S+)>)").match(s, g)) id = g.str(1);
        if (RX(R"( from <(\S+)>)").match(s, g)) envfrom = g.str(1), has_envfrom = true;
        goto enough;
      }
    } else if (RX(R"(\(ecelerity\b)").match(s)) {
      if (RX(R"(^\(\[(${IP_ADDRESS}):\d+\] helo=(\S+)\) by (\S+) )").match(s, g)) {
        ip = g.str(1), helo = g.str(2), by = g.str(3);
        goto enough;
      }
      if (RX(R"(^\S+ \(\[(${IP_ADDRESS}):\d+\]\) by (\S+) )").match(s, g)) {
        ip = g.str(1), by = g.str(2);
        goto enough;
      }
    } else if (RX("Exim").match(s)) {
      if (RX(R"(\bwith local(?:-\S+)? )").match(s)) return ignore();
      // $sub =~ s/helo=(\S+)// and $helo = $1; $sub =~ s/ident=(\S*)// and $ident = $1;
      auto from_sub = [&](std::string sub) {
        fixed_regex::groups h;
        if (RX(R"(helo=(\S+))").match(sub, h)) {
          helo = h.str(1);
          sub.erase(h.start, h.end - h.start);
        }
        if (RX(R"(ident=(\S*))").match(sub, h)) ident = h.str(1);
      };
      if (RX(R"(^\[(${IP_ADDRESS})\] \((.*?)\) by (\S+) )").match(s, g)) {
        ip = g.str(1), by = g.str(3);
        from_sub(g.str(2));
        goto enough;
      }
      if (RX(R"(^(\S+) \(\[(${IP_ADDRESS})\](.*?)\) by (\S+) )").match(s, g)) {
        rdns = g.str(1), ip = g.str(2), by = g.str(4);
        helo = rdns;  // default, apparently: bug 5112
        from_sub(g.str(3));
        goto enough;
      }
      if (RX(R"(^(\S+) \[(${IP_ADDRESS})\](:\d+)? by (\S+) )").match(s, g)) {
        rdns = g.str(1), ip = g.str(2), helo = g.str(1), by = g.str(4);
        goto enough;
      }
      if (RX(R"(^(\S+) )").match(s, g)) rdns = g.str(1);
      if (RX(R"( \((\S+)\) )").match(s, g)) helo = g.str(1);
      if (RX(R"( \[(${IP_ADDRESS})(?:\.\d+)?\] )").match(s, g)) ip = g.str(1);
      if (RX(R"(by (\S+) )").match(s, g)) {
        by = g.str(1);
        if (!ip.empty()) goto enough;
      }
    } else if (RX(R"( \(Postfix\) with)").match(s)) {
      if (RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g) ||
          RX(R"(^(\S+) \((\S+)\[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) {
        mta_looked_up_dns = true;
        helo = g.str(1), rdns = g.str(2), ip = g.str(3), by = g.str(4);
        if (rdns == "unknown") rdns.clear();
        goto enough;
      }
    } else if (RX(R"(\(Scalix SMTP Relay)").match(s)) {
      if (RX(R"(^(\S+) \( ?(${IP_ADDRESS})\) by (\S+))").match(s, g)) {
        helo = g.str(1), ip = g.str(2), by = g.str(3);
        goto enough;
      }
    } else if (RX(R"( \(Lotus Domino )").match(s)) {
      if (RX(R"(^(\S+) \(\[(${IP_ADDRESS})\]\) by (\S+) \(Lotus)").match(s, g)) {
        mta_looked_up_dns = false;
        helo = g.str(1), ip = g.str(2), by = g.str(3);
        goto enough;
      }
    }

    if (RX(R"(\bwith HTTP\b)").match(s) && RX(R"(^(${IP_ADDRESS}) \(\[${IP_ADDRESS}\]\) by (\S+))").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (!RX(R"( by \S+ \(qmail-\S+\) with )").match(s)) {
      if (RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\].*\) by (\S+) \()").match(s, g)) {
        mta_looked_up_dns = true;
        helo = g.str(1), rdns = g.str(2), ip = g.str(3), by = g.str(4);
        fixed_regex::groups h;
        if (RX(R"(^IDENT:([^\@]*)\@)").match(rdns, h)) {
          ident = h.str(1);
          rdns.erase(0, h.end);
        }
        if (RX(R"(^([^\@]*)\@)").match(rdns, h)) {
          ident = h.str(1);
          rdns.erase(0, h.end);
        }
        goto enough;
      }
    }
    if (RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\) by (\S+) with \S+ \()").match(s, g)) {
      mta_looked_up_dns = true;
      rdns = g.str(2), ip = g.str(3), helo = g.str(1), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^(\S+) \(\[(${IP_ADDRESS})\] helo=(\S+)\) by (\S+) with )").match(s, g)) {
      rdns = g.str(1), ip = g.str(2), helo = g.str(3), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^(\S+) \(<unknown\S*>\[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(\S+) \((\S+\.\S+)\[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) {
      mta_looked_up_dns = true;
      helo = g.str(1), rdns = g.str(2), ip = g.str(3), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^(\S+) \((\S*)\@\[(${IP_ADDRESS})\].*\) by (\S+) \()").match(s, g)) {
      mta_looked_up_dns = true;
      helo = g.str(1), ip = g.str(3), by = g.str(4), ident = g.str(2);
      goto enough;
    }
    if (RX(R"(by (\S+\.hotmail\.msn\.com) )").match(s, g)) {
      by = g.str(1);
      if (RX(R"(^(${IP_ADDRESS}) )").match(s, g)) ip = g.str(1);
      goto enough;
    }
    if (RX(R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \((${IP_ADDRESS})\) by (\S+) \(qpsmtpd\/\S+\) with (?:ESMTP|SMTP))").match(s, g) ||
        RX(R"(^(\S+) \(LHLO (\S*)\) \((${IP_ADDRESS})\) by (\S+) with LMTP)").match(s, g) ||
        RX(R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \[(${IP_ADDRESS})\] by (\S+) \([^\)]+\) with (?:ESMTP|SMTP))").match(s, g)) {
      rdns = g.str(1), helo = g.str(2), ip = g.str(3), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^(\S+) \(\[(${IP_ADDRESS})\]\) by (\S+) via smtpd \(for \S+\) with SMTP\()").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    // qmail
    if (RX(R"(^\S+( \((?:HELO|EHLO) \S*\))? \((\S+\@)?\[?${IP_ADDRESS}\]?\)( \(envelope-sender <\S+>\))? by \S+( \(.+\))* with (.* )?(SMTP|QMQP)(?! id ))").match(s)) {
      if (RX(R"(^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \((\S*)\@\[?(${IP_ADDRESS})\]?\)( \(envelope-sender <\S+>\))? by (\S+))").match(s, g)) {
        rdns = g.str(1), helo = g.str(2), ident = g.str(3), ip = g.str(4), by = g.str(6);
      } else if (RX(R"(^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \(\[?(${IP_ADDRESS})\]?\)( \(envelope-sender <\S+>\))? by (\S+))").match(s, g)) {
        rdns = g.str(1), helo = g.str(2), ip = g.str(3), by = g.str(5);
      } else if (RX(R"(^(\S+) \((\S*)\@\[?(${IP_ADDRESS})\]?\)( \(envelope-sender <\S+>\))? by (\S+))").match(s, g)) {
        helo = rdns = g.str(1), ident = g.str(2), ip = g.str(3), by = g.str(5);
      } else if (RX(R"(^(\S+) \(\[?(${IP_ADDRESS})\]?\)( \(envelope-sender <\S+>\))? by (\S+))").match(s, g)) {
        helo = rdns = g.str(1), ip = g.str(2), by = g.str(4);
      }
      if (rdns != "unknown") {
        mta_looked_up_dns = true;
      } else {
        rdns.clear();
      }
      goto enough;
    }
    if (RX(" via HTTP$").match(s) && RX(R"(^\[(${IP_ADDRESS})\] by (\S+) via HTTP$)").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(R"(^(\S+) \( \[(${IP_ADDRESS})\]\).*? by (\S+) )").match(s, g)) {
      ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^\((\S+) \[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^\[(${IP_ADDRESS})\] by (\S+) )").match(s, g) ||
        RX(R"(^\(\[?(${IP_ADDRESS})\]?\) by (\S+) )").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(R"(^(\S+) \[(${IP_ADDRESS})\] by (\S+) \[${IP_ADDRESS}\] with )").match(s, g)) {
      mta_looked_up_dns = true;
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(\S+) \[\((${IP_ADDRESS})\)\] by (\S+) \(${IP_ADDRESS}\) )").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(\S+) \(\[(${IP_ADDRESS})\]\) by (\S+) \()").match(s, g)) {  // sendmail
      mta_looked_up_dns = true;
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\).*? by (\S+)\b)").match(s, g)) {  // sendmail
      if (g.g[2] == "softdnserr") {
        mta_looked_up_dns = false;  // bug 2326: couriertcpd
      } else {
        mta_looked_up_dns = true;
        rdns = g.str(2);
      }
      helo = g.str(1), ip = g.str(3), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^(\S+) \(\[(${IP_ADDRESS})(?:[.:]\d+)?\]\).*? by (\S+) )").match(s, g)) {
      mta_looked_up_dns = true;
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\)(?: \(authenticated bits=\d+\))? by (\S+) \()").match(s, g)) {
      mta_looked_up_dns = true;
      helo = g.str(1), rdns = g.str(2), ip = g.str(3), by = g.str(4);
      goto enough;
    }
    if (RX(R"(with (?:POP3|IMAP))").match(s)) {
      result.pop_fetcher = true;
      return ignore();  // skip mail fetcher handovers
    }
    if (RX(R"(^(\S+) \((?:HELO|EHLO) ([^\)]*)\) \((\S*@)?\[?(${IP_ADDRESS})\]?\).* by (\S+) )").match(s, g)) {
      mta_looked_up_dns = true;
      rdns = g.str(1), helo = g.str(2), ident = g.str(3), ip = g.str(4), by = g.str(5);
      if (!ident.empty() && ident.back() == '@') ident.pop_back();
      goto enough;
    }
    if (RX(R"(^(\S+) \((\S*@)?\[?(${IP_ADDRESS})\]?\).* by (\S+) )").match(s, g)) {
      mta_looked_up_dns = true;
      rdns = g.str(1), helo = rdns, ident = g.str(2), ip = g.str(3), by = g.str(4);
      if (!ident.empty() && ident.back() == '@') ident.pop_back();
      goto enough;
    }
    if (RX(" with http for ").match(s) && RX(R"(^\[(${IP_ADDRESS})\] by (\S+) with http for )").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(" via smap ").match(s) && RX(R"(^(\S+)\((${IP_ADDRESS})\) by (\S+) via smap )").match(s, g)) {
      mta_looked_up_dns = true;
      rdns = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(\S+)\((${IP_ADDRESS}), (?:HELO|EHLO) (\S*)\) by (\S+) via smap )").match(s, g)) {
      mta_looked_up_dns = true;
      rdns = g.str(1), ip = g.str(2), helo = g.str(3), by = g.str(4);
      goto enough;
    }
    if ((RX(" \\(Post").match(s) && RX(R"(^\[(${IP_ADDRESS})\] by (\S+) \(Post)").match(s, g)) ||
        (RX(" \\(ArGoSoft").match(s) && RX(R"(^\[(${IP_ADDRESS})\] by (\S+) \(ArGoSoft)").match(s, g)) ||
        RX(R"(^(${IP_ADDRESS}) by (\S+) \((?:SMTPL|InterScan)\b)").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(" with BSMTP").match(s) && RX(R"(^\S+ by \S+ with BSMTP)").match(s)) return ignore();
    if (RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\) by (\S+) with )").match(s, g)) {
      mta_looked_up_dns = true;
      helo = g.str(1), rdns = g.str(2), ip = g.str(3), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \((?:(\S+)\@)?(${IP_ADDRESS}).*?\) by (\S+) with )").match(s, g)) {
      mta_looked_up_dns = true;
      rdns = g.str(1), helo = g.str(2), ip = g.str(4), by = g.str(5);
      if (g.set[3]) ident = g.str(3);
      goto enough;
    }
    if (RX(R"(^\[(${IP_ADDRESS})\] \((?:account \S+ )?(?:HELO|EHLO) (\S*)\) by (\S+) \()").match(s, g)) {
      ip = g.str(1), helo = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(" \\(CommuniGate Pro").match(s) && RX(R"(^(\S+) \(\[(${IP_ADDRESS})\] verified\) by (\S+) \()").match(s, g)) {
      mta_looked_up_dns = true;
      rdns = g.str(1), helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^\(\[(${IP_ADDRESS})\]\) by (\S+) with )").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(R"(^([^\d]\S+) \((${IP_ADDRESS})\) by (\S+) )").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^\S+ \(\S+\) by \S+ \(Content Technologies )").match(s)) return ignore();
    if (RX(R"(^(\S+) \(\[(${IP_ADDRESS})\] \[(\S+)\]\) by (\S+) with )").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^(${IP_ADDRESS}) by (\S+) with )").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(R"(^(\S+) \((\S+)\[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) {
      mta_looked_up_dns = true;
      helo = g.str(1), rdns = g.str(2), ip = g.str(3), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^\[(${IP_ADDRESS})\]\S+ \((?:HELO|EHLO) (\S*)\) by (\S+) )").match(s, g) ||
        RX(R"(^(${IP_ADDRESS}) \((?:HELO|EHLO) (\S*)\) by (\S+) )").match(s, g)) {
      ip = g.str(1), helo = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(\S+) \[(${IP_ADDRESS})\] by (\S+) )").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(\S+)\((${IP_ADDRESS})\) by (\S+) )").match(s, g)) {
      rdns = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^\[(${IP_ADDRESS})\] by (\S+) \(MailGate )").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(R"(^(\S+) \(unverified \[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^(${IP_ADDRESS}) \([A-Za-z][^\)]+\) by (\S+) with )").match(s, g)) {
      ip = g.str(1), by = g.str(2);
      goto enough;
    }
    if (RX(R"(^\[(${IP_ADDRESS})\] \(([^\)]+)\) by (\S+) )").match(s, g)) {
      ip = g.str(1), by = g.str(3);
      std::string sub = g.str(2);
      fixed_regex::groups h;
      if (RX(R"(helo=(\S+))").match(sub, h)) {
        helo = h.str(1);
        sub.erase(h.start, h.end - h.start);
      }
      if (RX(R"(ident=(\S*))").match(sub, h)) ident = h.str(1);
      goto enough;
    }
    if (RX(R"(^(\S+) \((?:\S+\@)?(${IP_ADDRESS})\) by (\S+) with )").match(s, g)) {
      rdns = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"re(^(\S+)\((${IP_ADDRESS})\)(?:, claiming to be "(\S+)")? via \S+ by (\S+),)re").match(s, g)) {
      rdns = g.str(1), ip = g.str(2), helo = g.str(3), by = g.str(4);
      if (g.g[1] != "UNKNOWN") mta_looked_up_dns = true;
      goto enough;
    }
    if (RX(R"(^(\S+) \((\S+)@(${IP_ADDRESS}) with login\) by (\S+\.yahoo\.com) with SMTP)").match(s, g)) {
      helo = g.str(1), ip = g.str(3), by = g.str(4);
      goto enough;
    }
    if (RX(R"(^X-Originating-IP: (${IP_ADDRESS})$)").match(s, g)) {
      ip = g.str(1), by.clear();
      goto enough;
    }
    // Local handovers and other hops SA ignores on purpose.
    if (RX(R"(^\S+ \([^\s\@]+\@${LOCALHOST}\) by \S+ \()").match(s) ||
        RX(R"(^\S+ \S+ by \S+ with local-e?smtp )").match(s) ||
        RX(R"(^127\.0\.0\.1 \(AVG SMTP \S+ \[\S+\]\))").match(s) ||
        RX(R"(^\S+\@\S+ by \S+ by uid \S+ )").match(s) || RX(R"(^\S+\@\S+ by \S+ )").match(s) ||
        RX(R"(^Unknown\/Local \()").match(s) ||
        RX(R"(^${LOCALHOST} \((?:\S+\@)?${LOCALHOST}[\)\[])").match(s) ||
        RX(R"(^\S+ \((?:\S+\@)?${LOCALHOST}\) )").match(s) ||
        RX(R"(^\S+ \(\S+\@\S+ \[${LOCALHOST}\]\) )").match(s) ||
        RX(R"(^\(AUTH: \S+\) by \S+ with )").match(s) ||
        RX(R"(^localhost \(localhost \[\[UNIX: localhost\]\]\) by )").match(s) ||
        RX(R"(^\S+\.amazon\.com by \S+\.amazon\.com with ESMTP \(peer crosscheck: )").match(s) ||
        RX(R"(^[^\.]+ by \S+ with Novell_GroupWise)").match(s) ||
        RX(R"(^no\.name\.available by \S+ via smtpd \(for )").match(s)) {
      return ignore();
    }
    if (RX(R"(^\S+ by \S+ \(.{0,100}\) with qmail-scanner)").match(s)) {
      // SA carries the envelope sender over to the next relay (qmail_scanner_env_from);
      // rare enough that we only ignore the hop.
      return ignore();
    }
    if (RX(R"(^\S+ by \S+ with local)").match(s) ||
        RX(R"(^\S+ \(\[unix socket\]\) by \S+ \(Cyrus v[0-9]*?\.[0-9]*?\.[0-9]*?\) with LMTPA)").match(s) ||
        RX(R"(^\S+ by \S+ (?:with|via|for|\())").match(s) ||
        RX(R"(^\S+ (?:(?:with|via|for) \S+|\(unverified\)) by\b)").match(s) ||
        RX(R"(^\S+ \(unknown\) by \S+ \(SG\) with \b)").match(s) ||
        RX(R"(^\S+ \(\S+ \[local\]\) by \S+ \(OpenSMTPD\) with \b)").match(s) ||
        RX(R"(\(LSMTP for)").match(s) || RX(R"(^\(\[${LOCALHOST}\]\) with MailEnable )").match(s) ||
        RX(R"(^facebook\.com \([^\)]+\) by facebook\.com with Thrift id \S+$)").match(s) ||
        RX(R"(^\S+ named \S+ by gmailapi\.google\.com with HTTPREST$)").match(s) ||
        RX(R"(^\S+ id \S+$)").match(s) || RX(R"(^\[<.*? \(Jetsend)").match(s)) {
      return ignore();
    }
    if (helo.empty() && RX(R"(^(\S+)[^-A-Za-z0-9\.])").match(s, g)) helo = g.str(1);
  } else if (s.compare(0, 5, "FROM ") == 0) {
    s.erase(0, 5);
    if (RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\) BY (\S+) (?:\([^\)]+\) WITH SMTP )?ID <?(\S+?)>?(?: FOR <[^>]+>)?$)").match(s, g)) {
      mta_looked_up_dns = true;
      helo = g.str(1), rdns = g.str(2), ip = g.str(3), by = g.str(4), id = g.str(5);
      if (rdns == "unverified") rdns.clear();
      goto enough;
    }
  } else if (s.compare(0, 6, "(from ") == 0) {
    s.erase(0, 6);
    if (RX(R"(^(\S*) \[(${IP_ADDRESS})\]\) by (\S+) \(NAVGW .*?\) with )").match(s, g)) {
      helo = g.str(1), ip = g.str(2), by = g.str(3);
      goto enough;
    }
    if (RX(R"(^\S+\@localhost\) by \S+ )").match(s) ||
        RX(R"(^[^\s\@]+\@[^)]+\) by \S+\(jqueuemail\) id [^\s;]+)").match(s)) {
      return ignore();
    }
  }
  if (ip.empty() && RX(R"(\[(${IP_ADDRESS})\])").match(s, g)) ip = g.str(1);
  if (!ip.empty() && !by.empty()) goto enough;
  return result;  // unparseable

enough:
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
  if (!by.empty() && by.back() == ';') by.pop_back();
  strip_chars(ip);
  strip_chars(rdns);
  strip_chars(helo);
  strip_chars(by);
  strip_chars(ident);
  if (has_envfrom) {
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

  relay& r = result.r;
  r.ip = std::move(ip);
  r.by = std::move(by);
  r.helo = std::move(helo);
  r.id = std::move(id);
  r.ident = std::move(ident);
  r.envfrom = std::move(envfrom);
  r.has_envfrom = has_envfrom;
  r.auth = std::move(auth);
  r.lc_by = lower(r.by);
  r.lc_helo = lower(r.helo);
  if (rdns.empty()) {
    if (mta_looked_up_dns) {
      r.no_reverse_dns = true;
    } else {
      r.rdns_not_in_headers = true;
    }
  }
  r.rdns = std::move(rdns);
  r.lc_rdns = lower(r.rdns);
  r.ip_private = RX(std::string("^") + ip_private_pattern).match(r.ip);
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

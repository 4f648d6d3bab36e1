// One recogniser per Received form of SpamAssassin 4.0.1's Received.pm, in SA's order
// (see received_forms.h). Each cites the form with an example from Received.pm's comments.
// A few of SA's forms can never match because an earlier, more general one takes every
// line they would: they are kept, as in SA, and say so.
#include "spam/evals/received_forms.h"

#include "spam/evals/regex.h"

namespace ringmail::spam {
namespace {

using form = received_form;

// Exim's "(helo=x ident=y)" part: $sub =~ s/helo=(\S+)// and $helo = $1;
// $sub =~ s/ident=(\S*)// and $ident = $1;
void helo_and_ident_from(std::string sub, received_fields& f) {
  fixed_regex::groups h;
  if (RX(R"(helo=(\S+))").match(sub, h)) {
    f.helo = h.str(1);
    sub.erase(h.start, h.end - h.start);
  }
  if (RX(R"(ident=(\S*))").match(sub, h)) f.ident = h.str(1);
}

// "return-path:" / "envelope-from" anywhere: the envelope sender, whatever the form.
void envelope_sender(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (RXI(R"((?:return-path:? |envelope-(?:sender|from)[ =])(\S+)\b)").match(s, g)) {
    f.envfrom = g.str(1);
    f.has_envfrom = true;
  }
}

// ---- webmail forms SA checks first ----------------------------------------------------

// SquirrelMail/NaSMail, e.g.
//   from 142.169.110.122 (SquirrelMail authenticated user synapse) by mail.nomis80.org with HTTP
form squirrelmail(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"( \((?:SquirrelMail|NaSMail) authenticated user )").match(s) ||
      !RX(R"((${IP_ADDRESS})\b(?![.-]).{10,80}by (\S+) with HTTP)").match(s, g)) {
    return form::no_match;
  }
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// AOL webmail: from 82.135.198.129 by FWM-M18.sysops.aol.com (64.12.168.82) with HTTP (WebMailUI)
form aol_webmail(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(aol\.com)").match(s) || !RX(R"(with HTTP \(WebMailUI\))").match(s) ||
      !RX(R"((${IP_ADDRESS}) by (\S+) \(${IP_ADDRESS}\) with HTTP \(WebMailUI\))").match(s, g)) {
    return form::no_match;
  }
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// ---- MTAs SA recognises by a marker (at most one of them is tried) ----------------------

// Microsoft SMTPSVC, which does not look the rDNS up, e.g.
//   from inet-vrs-05.redmond.corp.microsoft.com ([157.54.6.157]) by INET-IMC-05.redmond.corp.microsoft.com ...
form microsoft_smtpsvc(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (RX(R"(^(\S*) \(\[(${IP_ADDRESS})\][^\)]{0,40}\) by (\S+) with Microsoft SMTPSVC)").match(s, g)) {
    f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
    return form::relay;
  }
  if (RX(R"(^mail pickup service by (\S+) with Microsoft SMTPSVC$)").match(s)) return form::ignored;
  return form::no_match;
}

// Microsoft SMTP Server, e.g.
//   from EXC-DAG-02.global.net (10.45.252.152) by EXC-DAG-02.global.net (10.45.252.152) with Microsoft ...
form microsoft_smtp_server(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(\[?(${IP_ADDRESS})(?:%[A-Z0-9._~-]*)?\]?\) by (\S+) )").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3), f.id.clear();
  return form::relay;
}

// XMail (bugs 3791, 4053), e.g.
//   from list.brainbuzz.com (63.146.189.86:23198) by mx1.yourtech.net with [XMail 1.20 ESMTP Server] id ...
form xmail(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\[?${IP_ADDRESS}\]?)(?::\d+)\) by (\S+)(?: \(\S+\))? with \[XMail)").match(s, g)) {
    return form::no_match;
  }
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  if (RX(R"( id <(\S+)>)").match(s, g)) f.id = g.str(1);
  if (RX(R"( from <(\S+)>)").match(s, g)) f.envfrom = g.str(1), f.has_envfrom = true;
  return form::relay;
}

// ecelerity, e.g.
//   from ([192.168.1.151:49601] helo=dev1.democracyinaction.org) by m12.prod.democracyinaction.com ...
form ecelerity(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (RX(R"(^\(\[(${IP_ADDRESS}):\d+\] helo=(\S+)\) by (\S+) )").match(s, g)) {
    f.ip = g.str(1), f.helo = g.str(2), f.by = g.str(3);
    return form::relay;
  }
  if (RX(R"(^\S+ \(\[(${IP_ADDRESS}):\d+\]\) by (\S+) )").match(s, g)) {
    f.ip = g.str(1), f.by = g.str(2);
    return form::relay;
  }
  return form::no_match;
}

// Exim, e.g.
//   from sc8-sf-list1-b.sourceforge.net ([10.3.1.13] helo=sc8-sf-list1.sourceforge.net) by ...
// A partial match (rDNS, HELO, by but no IP) is kept for the generic forms after it.
form exim(const std::string& s, received_fields& f) {
  if (RX(R"(\bwith local(?:-\S+)? )").match(s)) return form::ignored;
  fixed_regex::groups g;
  if (RX(R"(^\[(${IP_ADDRESS})\] \((.*?)\) by (\S+) )").match(s, g)) {
    f.ip = g.str(1), f.by = g.str(3);
    helo_and_ident_from(g.str(2), f);
    return form::relay;
  }
  if (RX(R"(^(\S+) \(\[(${IP_ADDRESS})\](.*?)\) by (\S+) )").match(s, g)) {
    f.rdns = g.str(1), f.ip = g.str(2), f.by = g.str(4);
    f.helo = f.rdns;  // default, apparently: bug 5112
    helo_and_ident_from(g.str(3), f);
    return form::relay;
  }
  if (RX(R"(^(\S+) \[(${IP_ADDRESS})\](:\d+)? by (\S+) )").match(s, g)) {
    f.rdns = g.str(1), f.ip = g.str(2), f.helo = g.str(1), f.by = g.str(4);
    return form::relay;
  }
  // Other odd Exim formats: helene8.i.pinwand.net (helene.cats.ms) [10.0.8.6.13219] (mail) by ...
  if (RX(R"(^(\S+) )").match(s, g)) f.rdns = g.str(1);
  if (RX(R"( \((\S+)\) )").match(s, g)) f.helo = g.str(1);
  if (RX(R"( \[(${IP_ADDRESS})(?:\.\d+)?\] )").match(s, g)) f.ip = g.str(1);
  if (RX(R"(by (\S+) )").match(s, g)) {
    f.by = g.str(1);
    if (!f.ip.empty()) return form::relay;
  }
  return form::no_match;
}

// Postfix, e.g.
//   from localhost (unknown [127.0.0.1]) by cabbage.jmason.org (Postfix) with ESMTP id A96E18BD97
// and without the space before "[" (bug 2745):
//   from 207.8.214.3 (unknown[211.94.164.65]) by puzzle.pobox.com (Postfix) with SMTP
form postfix(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g) &&
      !RX(R"(^(\S+) \((\S+)\[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) {
    return form::no_match;
  }
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.rdns = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  if (f.rdns == "unknown") f.rdns.clear();
  return form::relay;
}

// Scalix: from DPLAPTOP ( 72.242.176.162) by mail.puryear-it.com (Scalix SMTP Relay 10.0.1.3) via ESMTP
form scalix(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \( ?(${IP_ADDRESS})\) by (\S+))").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// Lotus Domino, which never records the rDNS (bug 5926; Received.pm has no example):
// from pc1 ([192.0.2.3]) by mail.example.org (Lotus Domino Release 5.0.8) with ESMTP id 2003031713
form lotus_domino(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(\[(${IP_ADDRESS})\]\) by (\S+) \(Lotus)").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = false;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// SA's if/elsif chain of markers: only the first MTA whose marker the line carries is
// tried; when its shapes do not match, the generic forms after it still run.
form mta_by_marker(const std::string& s, received_fields& f) {
  if (RX(" SMTPSVC").match(s)) return microsoft_smtpsvc(s, f);
  if (RX(R"( with (?:Microsoft SMTP Server|mapi id) (?:\([^\)]+\) )?\d+\.\d+\.\d+\.\d+(?:$| ))").match(s)) {
    return microsoft_smtp_server(s, f);
  }
  if (RX(R"(\[XMail )").match(s)) return xmail(s, f);
  if (RX(R"(\(ecelerity\b)").match(s)) return ecelerity(s, f);
  if (RX("Exim").match(s)) return exim(s, f);
  if (RX(R"( \(Postfix\) with)").match(s)) return postfix(s, f);
  if (RX(R"(\(Scalix SMTP Relay)").match(s)) return scalix(s, f);
  if (RX(R"( \(Lotus Domino )").match(s)) return lotus_domino(s, f);
  return form::no_match;
}

// ---- generic forms, in Received.pm's order ---------------------------------------------

// IMP webmail with a numeric "HELO", e.g.
//   from 217.137.58.28 ([217.137.58.28]) by webmail.ukonline.net (IMP) with HTTP
form imp_http(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(\bwith HTTP\b)").match(s) || !RX(R"(^(${IP_ADDRESS}) \(\[${IP_ADDRESS}\]\) by (\S+))").match(s, g)) {
    return form::no_match;
  }
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// sendmail, unless qmail-ldap (which looks alike), e.g.
//   from mail1.insuranceiq.com (host66.insuranceiq.com [65.217.159.66] (may be forged)) by dogma.slashnull.org
form sendmail(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (RX(R"( by \S+ \(qmail-\S+\) with )").match(s) ||
      !RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\].*\) by (\S+) \()").match(s, g)) {
    return form::no_match;
  }
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.rdns = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  fixed_regex::groups h;  // remove IDENT lookups
  if (RX(R"(^IDENT:([^\@]*)\@)").match(f.rdns, h)) {
    f.ident = h.str(1);
    f.rdns.erase(0, h.end);
  }
  if (RX(R"(^([^\@]*)\@)").match(f.rdns, h)) {
    f.ident = h.str(1);
    f.rdns.erase(0, h.end);
  }
  return form::relay;
}

// Exchange Internet Mail Service, e.g.
//   from ns.elcanto.co.kr (66.161.246.58 [66.161.246.58]) by mail.ssccbelen.edu.pe with SMTP (Microsoft ...
form exchange_ims(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\) by (\S+) with \S+ \()").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.rdns = g.str(2), f.ip = g.str(3), f.helo = g.str(1), f.by = g.str(4);
  return form::relay;
}

// Exim without its name, e.g.
//   from mail2.detr.gsi.gov.uk ([51.64.35.18] helo=ahvfw.dtlr.gsi.gov.uk) by mail4.gsi.gov.uk with smtp ...
form exim_unnamed(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(\[(${IP_ADDRESS})\] helo=(\S+)\) by (\S+) with )").match(s, g)) return form::no_match;
  f.rdns = g.str(1), f.ip = g.str(2), f.helo = g.str(3), f.by = g.str(4);
  return form::relay;
}

// attbi.com, no rDNS, e.g.
//   from 12-211-5-69.client.attbi.com (<unknown.domain>[12.211.5.69]) by rwcrmhc53.attbi.com (rwcrmhc53) ...
form attbi_unknown(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(<unknown\S*>\[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// attbi.com, e.g.
//   from attbi.com (h000502e08144.ne.client2.attbi.com[24.128.27.103]) by rwcrmhc53.attbi.com ...
form attbi(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+\.\S+)\[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.rdns = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// sendmail with an ident and no rDNS, e.g.
//   from 4wtgRl (kgbxn@[211.244.147.115]) by dogma.slashnull.org (8.11.6/8.11.6) with SMTP id h8BBsUJ18848
form sendmail_ident(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S*)\@\[(${IP_ADDRESS})\].*\) by (\S+) \()").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.ip = g.str(3), f.by = g.str(4), f.ident = g.str(2);
  return form::relay;
}

// Hotmail web: from 213.123.174.21 by lw11fd.law11.hotmail.msn.com with HTTP
form hotmail_http(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(by (\S+\.hotmail\.msn\.com) )").match(s, g)) return form::no_match;
  f.by = g.str(1);
  if (RX(R"(^(${IP_ADDRESS}) )").match(s, g)) f.ip = g.str(1);
  return form::relay;
}

// qpsmtpd, e.g.
//   from x71-x56-x24-5.webspeed.dk (HELO niels) (69.96.3.15) by la.mx.develooper.com (qpsmtpd/0.27-dev) ...
form qpsmtpd(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \((${IP_ADDRESS})\) by (\S+) \(qpsmtpd\/\S+\) with (?:ESMTP|SMTP))").match(s, g)) {
    return form::no_match;
  }
  f.rdns = g.str(1), f.helo = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// LMTP, e.g.
//   from mail-backend.DDDD.com (LHLO mail-backend.DDDD.com) (10.2.2.20) by mail-backend.DDDD.com with LMTP
form lmtp(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(LHLO (\S*)\) \((${IP_ADDRESS})\) by (\S+) with LMTP)").match(s, g)) return form::no_match;
  f.rdns = g.str(1), f.helo = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// GMX, e.g.
//   from dslb-082-083-045-064.pools.arcor-ip.net (EHLO homepc) [82.83.45.64] by mail.gmx.net (mp010) ...
form gmx(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \[(${IP_ADDRESS})\] by (\S+) \([^\)]+\) with (?:ESMTP|SMTP))").match(s, g)) {
    return form::no_match;
  }
  f.rdns = g.str(1), f.helo = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// AOL's smtpd, e.g.
//   from imo-m01.mx.aol.com ([64.12.136.4]) by eagle.glenraven.com via smtpd (for [198.85.87.98]) with SMTP
form aol_smtpd(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(\[(${IP_ADDRESS})\]\) by (\S+) via smtpd \(for \S+\) with SMTP\()").match(s, g)) {
    return form::no_match;
  }
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// qmail (and qmail-ldap), e.g.
//   from postfix3-2.free.fr (HELO machine.domain.com) (foobar@213.228.0.169) by totor.bouissou.net with SMTP
// qmail does no rDNS itself; anything but "unknown" there came from tcpserver's lookup.
form qmail(const std::string& s, received_fields& f) {
  if (!RX(R"(^\S+( \((?:HELO|EHLO) \S*\))? \((\S+\@)?\[?${IP_ADDRESS}\]?\)( \(envelope-sender <\S+>\))? by \S+( \(.+\))* with (.* )?(SMTP|QMQP)(?! id ))").match(s)) {
    return form::no_match;
  }
  fixed_regex::groups g;
  if (RX(R"(^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \((\S*)\@\[?(${IP_ADDRESS})\]?\)( \(envelope-sender <\S+>\))? by (\S+))").match(s, g)) {
    f.rdns = g.str(1), f.helo = g.str(2), f.ident = g.str(3), f.ip = g.str(4), f.by = g.str(6);
  } else if (RX(R"(^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \(\[?(${IP_ADDRESS})\]?\)( \(envelope-sender <\S+>\))? by (\S+))").match(s, g)) {
    f.rdns = g.str(1), f.helo = g.str(2), f.ip = g.str(3), f.by = g.str(5);
  } else if (RX(R"(^(\S+) \((\S*)\@\[?(${IP_ADDRESS})\]?\)( \(envelope-sender <\S+>\))? by (\S+))").match(s, g)) {
    f.helo = f.rdns = g.str(1), f.ident = g.str(2), f.ip = g.str(3), f.by = g.str(5);
  } else if (RX(R"(^(\S+) \(\[?(${IP_ADDRESS})\]?\)( \(envelope-sender <\S+>\))? by (\S+))").match(s, g)) {
    f.helo = f.rdns = g.str(1), f.ip = g.str(2), f.by = g.str(4);
  }
  if (f.rdns != "unknown") {
    f.mta_looked_up_dns = true;
  } else {
    f.rdns.clear();
  }
  return form::relay;
}

// Yahoo webmail: from [193.220.176.134] by web40310.mail.yahoo.com via HTTP
form yahoo_http(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(" via HTTP$").match(s) || !RX(R"(^\[(${IP_ADDRESS})\] by (\S+) via HTTP$)").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// webmail "as user", e.g.
//   from 192.168.5.158 ( [192.168.5.158]) as user jason@localhost by mail.reusch.net with HTTP
form http_as_user(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \( \[(${IP_ADDRESS})\]\).*? by (\S+) )").match(s, g)) return form::no_match;
  f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// no HELO word: from (64.52.135.194 [64.52.135.194]) by mail.unearthed.com with ESMTP id BQB0hUH2
form paren_helo_ip(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^\((\S+) \[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// MessageWall: from [65.167.180.251] by relent.cedata.com (MessageWall 1.1.0) with SMTP
form bracketed_ip(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^\[(${IP_ADDRESS})\] by (\S+) )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// no HELO at all: from ([172.21.2.10]) by out-relay4.mtahq.org with ESMTP id 4420961.8281
form parenthesised_ip(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^\(\[?(${IP_ADDRESS})\]?\) by (\S+) )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// MDaemon, e.g.
//   from acecomms [202.83.84.95] by mailscan.acenet.net.au [202.83.84.27] with SMTP (MDaemon.PRO.v5.0.6.R)
form mdaemon(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \[(${IP_ADDRESS})\] by (\S+) \[${IP_ADDRESS}\] with )").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// MDaemon 19, e.g.
//   from smtp510.aspkunden.de [(134.97.4.21)] by mail.aspemail.de (134.97.4.24) (MDaemon PRO v19.0.2) ...
form mdaemon_19(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \[\((${IP_ADDRESS})\)\] by (\S+) \(${IP_ADDRESS}\) )").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// sendmail without rDNS, e.g.
//   from mail.sxptt.zj.cn ([218.0.185.24]) by dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id h2FH0Zx11330
form sendmail_no_rdns(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(\[(${IP_ADDRESS})\]\) by (\S+) \()").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// sendmail and kin with text between ")" and "by", e.g.
//   from umr-mail7.umr.edu (umr-mail7.umr.edu [131.151.1.64]) via ESMTP by mrelay1.cc.umr.edu (8.12.1/) ...
// couriertcpd writes "softdnserr" where the lookup failed (bug 2326).
form sendmail_loose(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\).*? by (\S+)\b)").match(s, g)) return form::no_match;
  if (g.g[2] == "softdnserr") {
    f.mta_looked_up_dns = false;
  } else {
    f.mta_looked_up_dns = true;
    f.rdns = g.str(2);
  }
  f.helo = g.str(1), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// IP with a port, e.g.
//   from jsoliday.acs.internap.com ([63.251.66.24.63559]) by mailhost.acs.internap.com with esmtp ...
form ip_with_port(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(\[(${IP_ADDRESS})(?:[.:]\d+)?\]\).*? by (\S+) )").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// sendmail with AUTH, e.g.
//   from roissy (p573.as1.exs.dublin.eircom.net [159.134.226.61]) (authenticated bits=0) by ...
// Reached only for qmail- lines whose by has no letter or digit: sendmail or
// sendmail_loose take the rest.
form sendmail_authenticated(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\)(?: \(authenticated bits=\d+\))? by (\S+) \()").match(s, g)) {
    return form::no_match;
  }
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.rdns = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// fetchmail/getmail handovers: from pop3.mail.dk (195.41.46.251) by loki.valhalla with POP3
form mail_fetcher(const std::string& s, received_fields&) {
  return RX(R"(with (?:POP3|IMAP))").match(s) ? form::pop_fetcher : form::no_match;
}

// qmail-ish with HELO (bug 2744), e.g.
//   from unknown (HELO feux01a-isp) (213.199.4.210) by totor.bouissou.net with SMTP
form qmailish_helo(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((?:HELO|EHLO) ([^\)]*)\) \((\S*@)?\[?(${IP_ADDRESS})\]?\).* by (\S+) )").match(s, g)) {
    return form::no_match;
  }
  f.mta_looked_up_dns = true;
  f.rdns = g.str(1), f.helo = g.str(2), f.ident = g.str(3), f.ip = g.str(4), f.by = g.str(5);
  if (!f.ident.empty() && f.ident.back() == '@') f.ident.pop_back();
  return form::relay;
}

// qmail-ish, HELO equal to the rDNS, e.g.
//   from x1-6-00-04-bd-d2-e0-a3.k317.webspeed.dk (benelli@80.167.158.170) by totor.bouissou.net with SMTP
form qmailish(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S*@)?\[?(${IP_ADDRESS})\]?\).* by (\S+) )").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.rdns = g.str(1), f.helo = f.rdns, f.ident = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  if (!f.ident.empty() && f.ident.back() == '@') f.ident.pop_back();
  return form::relay;
}

// Outblaze webmail: from [129.24.215.125] by ws1-7.us4.outblaze.com with http for _bushisevil_@mail.com
// Never reached: bracketed_ip, before it in SA's order, takes every line this matches.
form outblaze_http(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(" with http for ").match(s) || !RX(R"(^\[(${IP_ADDRESS})\] by (\S+) with http for )").match(s, g)) {
    return form::no_match;
  }
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// smap: from snake.corp.yahoo.com(216.145.52.229) by x.x.org via smap (V1.3) id xma093673
form smap(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(" via smap ").match(s) || !RX(R"(^(\S+)\((${IP_ADDRESS})\) by (\S+) via smap )").match(s, g)) {
    return form::no_match;
  }
  f.mta_looked_up_dns = true;
  f.rdns = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// smap with HELO, e.g.
//   from smtp.greyware.com(208.14.208.51, HELO smtp.sff.net) by x.x.org via smap (V1.3) id xma002908
form smap_helo(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+)\((${IP_ADDRESS}), (?:HELO|EHLO) (\S*)\) by (\S+) via smap )").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.rdns = g.str(1), f.ip = g.str(2), f.helo = g.str(3), f.by = g.str(4);
  return form::relay;
}

// Post.Office, e.g.
//   from [192.168.0.71] by web01-nyc.clicvu.com (Post.Office MTA v3.5.3 release 223 ID# ...
// Never reached: bracketed_ip takes every line this matches.
form post_office(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(" \\(Post").match(s) || !RX(R"(^\[(${IP_ADDRESS})\] by (\S+) \(Post)").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// ArGoSoft: from [127.0.0.1] by euphoria (ArGoSoft Mail Server Freeware, Version 1.8 (1.8.2.5))
// Never reached: bracketed_ip takes every line this matches.
form argosoft(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(" \\(ArGoSoft").match(s) || !RX(R"(^\[(${IP_ADDRESS})\] by (\S+) \(ArGoSoft)").match(s, g)) {
    return form::no_match;
  }
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// SMTPL and InterScan: from 10.165.130.62 by CNNIMAIL12.CNN.COM (SMTPL release 1.0d) with TCP
form smtpl_interscan(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(${IP_ADDRESS}) by (\S+) \((?:SMTPL|InterScan)\b)").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// BSMTP, not a TCP/IP handover: from faerber.muc.de by slarti.muc.de with BSMTP (rsmtp-qm-ot 0.4)
form bsmtp(const std::string& s, received_fields&) {
  return RX(" with BSMTP").match(s) && RX(R"(^\S+ by \S+ with BSMTP)").match(s) ? form::ignored : form::no_match;
}

// rDNS [IP] then "with", e.g.
//   from spike (spike.ig.co.uk [193.32.60.32]) by mail.ig.co.uk with SMTP id h27CrCD03362
// Reached only when the by has no letter or digit: sendmail_loose takes the rest.
form rdns_ip_with(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\) by (\S+) with )").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.rdns = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// Yahoo SMTP, e.g.
//   from customer254-217.iplannetworks.net (HELO AGAMENON) (baldusi@200.69.254.217 with plain) by ...
form helo_ident_ip_with(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \((?:(\S+)\@)?(${IP_ADDRESS}).*?\) by (\S+) with )").match(s, g)) {
    return form::no_match;
  }
  f.mta_looked_up_dns = true;
  f.rdns = g.str(1), f.helo = g.str(2), f.ip = g.str(4), f.by = g.str(5);
  if (g.set[3]) f.ident = g.str(3);
  return form::relay;
}

// CommuniGate Pro with an account, e.g.
//   from [192.168.1.104] (account nazgul HELO [192.168.1.104]) by somewhere.com (CommuniGate Pro SMTP ...
form communigate_account(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^\[(${IP_ADDRESS})\] \((?:account \S+ )?(?:HELO|EHLO) (\S*)\) by (\S+) \()").match(s, g)) {
    return form::no_match;
  }
  f.ip = g.str(1), f.helo = g.str(2), f.by = g.str(3);
  return form::relay;
}

// CommuniGate Pro, verified, e.g.
//   from host.example.com ([192.0.2.1] verified) by mail.example.net (CommuniGate Pro SMTP 5.1.13) with ...
form communigate_verified(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(" \\(CommuniGate Pro").match(s) ||
      !RX(R"(^(\S+) \(\[(${IP_ADDRESS})\] verified\) by (\S+) \()").match(s, g)) {
    return form::no_match;
  }
  f.mta_looked_up_dns = true;
  f.rdns = g.str(1), f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// CipherTrust: from ([10.0.0.6]) by mail0.ciphertrust.com with ESMTP
// Never reached: parenthesised_ip takes every line this matches.
form ciphertrust(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^\(\[(${IP_ADDRESS})\]\) by (\S+) with )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// IronPort: from ironport.com (10.1.1.5) by a50.ironport.com with ESMTP
// Never reached: qmailish takes every line this matches.
form ironport(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^([^\d]\S+) \((${IP_ADDRESS})\) by (\S+) )").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// Content Technologies, useless without an IP (bug 4704), e.g.
//   from scv3.apple.com (scv3.apple.com) by mailgate2.apple.com (Content Technologies SMTPRS 4.2.1) with ...
form content_technologies(const std::string& s, received_fields&) {
  return RX(R"(^\S+ \(\S+\) by \S+ \(Content Technologies )").match(s) ? form::ignored : form::no_match;
}

// An IP and something else in brackets (SA: "not sure what $3 is"), e.g.
//   from 01al10015010057.ad.bls.com ([90.152.5.141] [90.152.5.141]) by aismtp3g.bls.com with ESMTP
// When the second is an IP too, as there, sendmail_loose takes the line first.
form ip_twice(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(\[(${IP_ADDRESS})\] \[(\S+)\]\) by (\S+) with )").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(4);
  return form::relay;
}

// Tumbleweed: from 206.47.0.153 by dm3cn8.bell.ca with ESMTP (Tumbleweed MMS SMTP Relay (MMS v5.0))
form tumbleweed(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(${IP_ADDRESS}) by (\S+) with )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// rDNS[IP] without a dot required, e.g.
//   from pobox.com (h005018086b3b.ne.client2.attbi.com[66.31.45.164]) by rwcrmhc53.attbi.com (rwcrmhc53) ...
form rdns_glued_ip(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+)\[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) return form::no_match;
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.rdns = g.str(2), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// F-Secure, e.g.
//   from [10.128.128.81]:50999 (HELO dfintra.f-secure.com) by fsav4im2 ([10.128.128.74]:25) (F-Secure ...
form fsecure(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^\[(${IP_ADDRESS})\]\S+ \((?:HELO|EHLO) (\S*)\) by (\S+) )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.helo = g.str(2), f.by = g.str(3);
  return form::relay;
}

// AltaVista: from 62.180.7.250 (HELO daisy) by smtp.altavista.de (209.228.22.152) with SMTP
form ip_then_helo(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(${IP_ADDRESS}) \((?:HELO|EHLO) (\S*)\) by (\S+) )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.helo = g.str(2), f.by = g.str(3);
  return form::relay;
}

// SMTPD32: from oemcomputer [63.232.189.195] by highstream.net (SMTPD32-7.07) id A4CE7F2A0028
form smtpd32(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \[(${IP_ADDRESS})\] by (\S+) )").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// csmap: from nodnsquery(192.100.64.12) by herbivore.monmouth.edu via csmap (V4.1) id srcAAAyHaywy
form csmap(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+)\((${IP_ADDRESS})\) by (\S+) )").match(s, g)) return form::no_match;
  f.rdns = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// MailGate: from [192.168.0.13] by <server> (MailGate 3.5.172) with SMTP
// Never reached: bracketed_ip takes every line this matches.
form mailgate(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^\[(${IP_ADDRESS})\] by (\S+) \(MailGate )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// unverified, e.g.
//   from jmason.org (unverified [195.218.107.131]) by ni-mail1.dna.utvinternet.net ...
// Reached only when the by has no letter or digit: sendmail_loose takes the rest.
form unverified(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \(unverified \[(${IP_ADDRESS})\]\) by (\S+) )").match(s, g)) return form::no_match;
  f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// IP and a comment: from 165.228.131.11 (proxying for 139.130.20.189) by jmason.org with HTTP
form ip_and_comment(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(${IP_ADDRESS}) \([A-Za-z][^\)]+\) by (\S+) with )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(2);
  return form::relay;
}

// [IP] (helo=...), e.g.
//   from [206.51.230.145] (helo=t-online.de) by mxeu2.kundenserver.de with ESMTP (Nemesis), id ...
form bracketed_ip_helo(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^\[(${IP_ADDRESS})\] \(([^\)]+)\) by (\S+) )").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by = g.str(3);
  helo_and_ident_from(g.str(2), f);
  return form::relay;
}

// rDNS (ident@IP), e.g.
//   from mtsbp606.email-info.net (?dXqpg3b0hiH9faI2OxLT94P/YKDD3rQ1?@64.253.199.166) by ...
// Never reached: qmailish takes every line this matches.
form rdns_ident_ip(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((?:\S+\@)?(${IP_ADDRESS})\) by (\S+) with )").match(s, g)) return form::no_match;
  f.rdns = g.str(1), f.ip = g.str(2), f.by = g.str(3);
  return form::relay;
}

// Obtuse smtpd, e.g.
//   from pl027.nas934.d-osaka.nttpc.ne.jp(61.197.82.27), claiming to be "foo.woas.net" via SMTP by ...
form obtuse_smtpd(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"re(^(\S+)\((${IP_ADDRESS})\)(?:, claiming to be "(\S+)")? via \S+ by (\S+),)re").match(s, g)) {
    return form::no_match;
  }
  f.rdns = g.str(1), f.ip = g.str(2), f.helo = g.str(3), f.by = g.str(4);
  if (g.g[1] != "UNKNOWN") f.mta_looked_up_dns = true;
  return form::relay;
}

// Yahoo authenticated SMTP (bug 6535), e.g.
//   from itrqtnlnq (lucilleskinner@93.124.107.183 with login) by smtp111.mail.ne1.yahoo.com with SMTP
form yahoo_login(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+)@(${IP_ADDRESS}) with login\) by (\S+\.yahoo\.com) with SMTP)").match(s, g)) {
    return form::no_match;
  }
  f.helo = g.str(1), f.ip = g.str(3), f.by = g.str(4);
  return form::relay;
}

// SA's synthetic header: Received: X-Originating-IP: 1.2.3.4
form x_originating_ip(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^X-Originating-IP: (${IP_ADDRESS})$)").match(s, g)) return form::no_match;
  f.ip = g.str(1), f.by.clear();
  return form::relay;
}

// Local handovers SA ignores on purpose, e.g.
//   from raptor.research.att.com (bala@localhost) by raptor.research.att.com (SGI-8.9.3/8.8.7) with ESMTP
form local_handover(const std::string& s, received_fields&) {
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
    return form::ignored;
  }
  return form::no_match;
}

// qmail-scanner, e.g.
//   from qmail-scanner-general-admin@lists.sourceforge.net by alpha by uid 7791 with qmail-scanner-1.14
// SA carries the envelope sender over to the next relay (qmail_scanner_env_from); rare
// enough that we only ignore the hop.
form qmail_scanner(const std::string& s, received_fields&) {
  return RX(R"(^\S+ by \S+ \(.{0,100}\) with qmail-scanner)").match(s) ? form::ignored : form::no_match;
}

// Handovers with no IP to take, ignored, e.g.
//   from CATHY.IJS.SI by CATHY.IJS.SI (PMDF V4.3-10 #8779) id <01KTSSR50NSW001MXN@CATHY.IJS.SI>
form no_ip_handover(const std::string& s, received_fields&) {
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
    return form::ignored;
  }
  return form::no_match;
}

using recogniser = form (*)(const std::string&, received_fields&);

// After "from ", in Received.pm's order.
constexpr recogniser from_forms[] = {
    squirrelmail, aol_webmail, mta_by_marker, imp_http, sendmail, exchange_ims, exim_unnamed,
    attbi_unknown, attbi, sendmail_ident, hotmail_http, qpsmtpd, lmtp, gmx, aol_smtpd, qmail,
    yahoo_http, http_as_user, paren_helo_ip, bracketed_ip, parenthesised_ip, mdaemon, mdaemon_19,
    sendmail_no_rdns, sendmail_loose, ip_with_port, sendmail_authenticated, mail_fetcher,
    qmailish_helo, qmailish, outblaze_http, smap, smap_helo, post_office, argosoft,
    smtpl_interscan, bsmtp, rdns_ip_with, helo_ident_ip_with, communigate_account,
    communigate_verified, ciphertrust, ironport, content_technologies, ip_twice, tumbleweed,
    rdns_glued_ip, fsecure, ip_then_helo, smtpd32, csmap, mailgate, unverified, ip_and_comment,
    bracketed_ip_helo, rdns_ident_ip, obtuse_smtpd, yahoo_login, x_originating_ip,
    local_handover, qmail_scanner, no_ip_handover,
};

form after_from(const std::string& s, received_fields& f) {
  envelope_sender(s, f);
  for (recogniser r : from_forms) {
    form result = r(s, f);
    if (result != form::no_match) return result;
  }
  fixed_regex::groups g;
  if (f.helo.empty() && RX(R"(^(\S+)[^-A-Za-z0-9\.])").match(s, g)) f.helo = g.str(1);
  return form::no_match;
}

// simta and Rockliffe, all in capitals, e.g.
//   FROM hackers.mr.itd.umich.edu (smtp.mail.umich.edu [141.211.14.81]) BY madman.mr.itd.umich.edu ID ...
form after_capital_from(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (!RX(R"(^(\S+) \((\S+) \[(${IP_ADDRESS})\]\) BY (\S+) (?:\([^\)]+\) WITH SMTP )?ID <?(\S+?)>?(?: FOR <[^>]+>)?$)").match(s, g)) {
    return form::no_match;
  }
  f.mta_looked_up_dns = true;
  f.helo = g.str(1), f.rdns = g.str(2), f.ip = g.str(3), f.by = g.str(4), f.id = g.str(5);
  if (f.rdns == "unverified") f.rdns.clear();
  return form::relay;
}

// "(from ...": the Norton AntiVirus Gateway; sendmail -t and jqueuemail submissions ignored.
// (from localhost [24.180.47.240]) by host.name (NAVGW 2.5.2.12) with SMTP id M2006060503484615455
form after_parenthesised_from(const std::string& s, received_fields& f) {
  fixed_regex::groups g;
  if (RX(R"(^(\S*) \[(${IP_ADDRESS})\]\) by (\S+) \(NAVGW .*?\) with )").match(s, g)) {
    f.helo = g.str(1), f.ip = g.str(2), f.by = g.str(3);
    return form::relay;
  }
  if (RX(R"(^\S+\@localhost\) by \S+ )").match(s) ||
      RX(R"(^[^\s\@]+\@[^)]+\) by \S+\(jqueuemail\) id [^\s;]+)").match(s)) {
    return form::ignored;
  }
  return form::no_match;
}

}  // namespace

received_form recognise_received_form(std::string& s, received_fields& f) {
  if (s.compare(0, 5, "from ") == 0) {
    s.erase(0, 5);
    return after_from(s, f);
  }
  if (s.compare(0, 5, "FROM ") == 0) {
    s.erase(0, 5);
    return after_capital_from(s, f);
  }
  if (s.compare(0, 6, "(from ") == 0) {
    s.erase(0, 6);
    return after_parenthesised_from(s, f);
  }
  return form::no_match;
}

}  // namespace ringmail::spam

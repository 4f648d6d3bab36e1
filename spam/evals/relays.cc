// RelayEval.pm and the Received-header forgery checks of HeaderEval.pm.
#include "absl/strings/ascii.h"
#include "spam/evals/regex.h"
#include "spam/evals/evals.h"

namespace ringmail::spam {
namespace {

std::string get(const eval_input& in, std::string_view name) { return in.text.header_values(name); }

// $pms->get('Received') with s/\s+/ /gs.
std::string received_one_line(const eval_input& in) {
  std::string out;
  bool sp = false;
  for (char c : get(in, "Received")) {
    bool is_space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (is_space) {
      if (!sp) out.push_back(' ');
      sp = true;
    } else {
      out.push_back(c);
      sp = false;
    }
  }
  return out;
}

std::string from_addr(const eval_input& in) {
  auto a = evals::header_addresses(in.text, "From");
  return a.empty() ? std::string() : a[0];
}

bool gated_through_received_hdr_remover(const eval_input& in) {
  std::string ml = get(in, "Mailing-List");
  if (!ml.empty() && RX(R"((?m)^contact \S+\@\S+\; run by ezmlm$)").match(ml)) {
    if (RX(R"((?m)^mailing list \S+\@\S+)").match(get(in, "Delivered-To")) &&
        RX(R"(qmail \d+ invoked (?:from network|by .{3,20})\); \d+ ... \d+)").match(get(in, "Received"))) {
      return true;
    }
  }
  if (!in.text.has_header("Received")) return true;
  return RX(R"(from groups\.msn\.com \(\S+\.msn\.com )").match(get(in, "Received"));
}

bool helo_ip_mismatch(const eval_input& in, const std::vector<std::string>&) {
  static const fixed_regex is_ipv4(R"(^(?:(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.){3}(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)$)");
  static const fixed_regex is_private(std::string("^") + ip_private_pattern + "$");
  static const fixed_regex prefix(R"(^(\d+\.\d+\.\d+\.))");
  for (const relay& r : in.relays.untrusted) {
    if (!is_ipv4.match(r.helo) || is_private.match(r.helo)) continue;
    fixed_regex::groups g;
    if (is_ipv4.match(r.ip) && !is_private.match(r.ip) && r.helo != r.ip && prefix.match(r.helo, g) &&
        r.ip.compare(0, g.g[1].size(), g.g[1]) != 0) {
      return true;
    }
  }
  return false;
}

bool check_for_no_rdns_dotcom_helo(const eval_input& in, const std::vector<std::string>&) {
  bool result = false;
  for (const relay& r : in.relays.untrusted) {
    if (r.ip_private) continue;
    result = false;  // $pms->{no_rdns_dotcom_helo} = 0 for each relay looked at
    if (RXI(R"((?:\.|^)(lycos\.com|lycos\.co\.uk|hotmail\.com|localhost\.com|excite\.com|caramail\.com|cs\.com|aol\.com|msn\.com|yahoo\.com|drizzle\.com)$)")
            .match(r.helo) &&
        r.no_reverse_dns) {
      result = true;
    }
  }
  return result;
}

bool check_relays_unparseable(const eval_input& in, const std::vector<std::string>&) {
  return in.relays.unparseable > 0;
}

bool check_for_forged_yahoo_received_headers(const eval_input& in, const std::vector<std::string>&) {
  std::string from = from_addr(in);
  if (!RXI(R"(\byahoo\.com$)").match(from)) return false;
  std::string rcvd = received_one_line(in);
  if (!get(in, "Resent-From").empty() && !get(in, "Resent-To").empty()) {
    std::string x = get(in, "X-Received");
    if (!x.empty()) {
      rcvd.clear();
      bool sp = false;
      for (char c : x) {
        bool is_space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (is_space) {
          if (!sp) rcvd.push_back(' ');
          sp = true;
        } else {
          rcvd.push_back(c);
          sp = false;
        }
      }
    }
  }
  if (gated_through_received_hdr_remover(in)) return false;
  if (RX(R"( rdns=\S+\.yahoo\.com )").match(in.relays.trusted_str) ||
      RX(R"(^[^\]]+ rdns=\S+\.yahoo\.com )").match(in.relays.untrusted_str)) {
    return false;
  }
  if (RX(R"(by web\S+\.mail\S*\.yahoo\.com via HTTP)").match(rcvd)) return false;
  if (RX(R"(by sonic\S+\.consmr\.mail\S*\.yahoo\.com with HTTP)").match(rcvd)) return false;
  if (RX(R"(by smtp\S+\.yahoo\.com with SMTP)").match(rcvd)) return false;
  if (RX(R"(from \[${IP_ADDRESS}\] by \S+\.(?:groups|scd|dcn)\.yahoo\.com with NNFMP)").match(rcvd)) return false;
  if (RX(R"(\bmailer\d+\.bulk\.scd\.yahoo\.com\b)").match(rcvd) && RXI(R"(\@reply\.yahoo\.com$)").match(from)) {
    return false;
  }
  if (RX(R"(by \w+\.\w+\.yahoo\.com \(\d+\.\d+\.\d+\/\d+\.\d+\.\d+\)(?: with ESMTP)? id \w+)").match(rcvd)) return false;
  return true;
}

// _check_for_forged_hotmail_received_headers: 0 none, 1 hotmail address but no hotmail
// Received, 2 hotmail-looking Received that is forged.
int forged_hotmail(const eval_input& in) {
  std::string rcvd = received_one_line(in);
  if (RX(R"(from mail pickup service by hotmail\.com with Microsoft SMTPSVC;)").match(rcvd)) return 0;
  // check_for_msn_groups_headers
  {
    fixed_regex::groups g;
    if (RXI(R"(<(\S+)\@groups\.msn\.com>)").match(get(in, "To"), g) &&
        RX(R"(from mail pickup service by ((?:p\d\d\.)groups\.msn\.com)\b)").match(get(in, "Received"))) {
      return 0;  // (SA checks the Message-Id further; a rare case)
    }
  }
  bool ip = RX(R"(${IP_ADDRESS})").match(get(in, "X-Originating-Ip"));
  bool orig = RX(R"(hotmail\.com|msonline\-outlook)").match(get(in, "X-OriginatorOrg"));
  if (gated_through_received_hdr_remover(in)) return 0;
  if (ip && RX(R"(from (?:\S*\.)?hotmail.com \(\S+\.hotmail(?:\.msn)?\.com[ \)])").match(rcvd)) return 0;
  if (orig && RX(R"(from \S*\.outbound\.protection\.outlook\.com \(\S+\.outbound\.protection\.outlook\.com[ \)])").match(rcvd)) return 0;
  if (orig && RX(R"(from \S*\.(?:eur|nam)prd\d+\.prod\.outlook\.com \(${IP_ADDRESS}\))").match(rcvd)) return 0;
  if (ip && RX(R"(from \S*\.hotmail.com \(\[${IP_ADDRESS}\][ \):])").match(rcvd)) return 0;
  if (ip && RX(R"(from \S+ by \S+\.hotmail(?:\.msn)?\.com with HTTP\;)").match(rcvd)) return 0;
  if (ip && RX(R"(from \[66\.218.\S+\] by \S+\.yahoo\.com)").match(rcvd)) return 0;
  if (RX(R"((?:from |HELO |helo=)\S*hotmail\.com\b)").match(rcvd)) return 2;
  if (!RXI(R"(\bhotmail\.com$)").match(from_addr(in))) return 0;
  return 1;
}

bool check_for_no_hotmail_received_headers(const eval_input& in, const std::vector<std::string>&) {
  return forged_hotmail(in) == 1;
}
bool check_for_forged_hotmail_received_headers(const eval_input& in, const std::vector<std::string>&) {
  return forged_hotmail(in) == 2;
}

}  // namespace

const std::vector<eval_entry>& relay_evals() {
  static const std::vector<eval_entry> entries = {
      {"helo_ip_mismatch", helo_ip_mismatch},
      {"check_for_no_rdns_dotcom_helo", check_for_no_rdns_dotcom_helo},
      {"check_relays_unparseable", check_relays_unparseable},
      {"check_for_forged_yahoo_received_headers", check_for_forged_yahoo_received_headers},
      {"check_for_no_hotmail_received_headers", check_for_no_hotmail_received_headers},
      {"check_for_forged_hotmail_received_headers", check_for_forged_hotmail_received_headers},
  };
  return entries;
}

}  // namespace ringmail::spam

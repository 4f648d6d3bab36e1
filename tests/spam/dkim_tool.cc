// dkim_tool: signs and verifies message files with the DKIM code, for the differential
// test against python3-dkim (tests/spam/dkim_differential_test.sh). Not installed.
//
//   dkim_tool sign KEY.pem DOMAIN SELECTOR MESSAGE    prints the DKIM-Signature field
//   dkim_tool verify ZONE MESSAGE [NOW]               one line per signature:
//                                                     "<result> d=<domain> <reason>"
//   dkim_tool arc-seal KEY.pem DOMAIN SELECTOR AUTHSERV-ID CHAIN MESSAGE
//                                                     prints the three ARC fields; CHAIN
//                                                     none|pass|fail; A-R payload fixed
//   dkim_tool arc-verify ZONE MESSAGE                 "<cv> <instances> <reason>"
// ZONE is a text zone for static_dns_client: "<name> TXT <text to the line end>" lines.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "runtime/task.h"
#include "spam/arc/sealer.h"
#include "spam/arc/verifier.h"
#include "spam/dkim/signer.h"
#include "spam/dkim/verifier.h"
#include "spam/dns/dns_client.h"

namespace {

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void load_zone(const char* path, ringmail::spam::static_dns_client& dns) {
  std::istringstream zone(read_file(path));
  for (std::string line; std::getline(zone, line);) {
    size_t sp = line.find(" TXT ");
    if (sp == std::string::npos) continue;
    dns.add_txt(line.substr(0, sp), line.substr(sp + 5));
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringmail::spam;
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "arc-seal" && argc == 8) {
    auto key = dkim::load_private_key(read_file(argv[2]));
    if (!key.ok()) {
      std::cerr << "dkim_tool: " << key.status() << "\n";
      return 2;
    }
    arc::arc_seal_options o;
    o.domain = argv[3];
    o.selector = argv[4];
    o.authserv_id = argv[5];
    std::string chain = argv[6];
    o.chain = chain == "pass" ? arc_result::pass : chain == "fail" ? arc_result::fail : arc_result::none;
    o.auth_results = "spf=pass smtp.mailfrom=example.org";
    o.key = &*key;
    auto fields = arc::arc_seal(read_file(argv[7]), o);
    if (!fields.ok()) {
      std::cerr << "dkim_tool: " << fields.status() << "\n";
      return 1;
    }
    std::cout << fields->all();
    return 0;
  }
  if (mode == "arc-verify" && argc == 4) {
    static_dns_client dns;
    load_zone(argv[2], dns);
    arc_check c = ringmail::run_inline(arc::verify_arc(dns, read_file(argv[3])));
    std::cout << to_string(c.result) << " " << c.instances << " " << c.reason << "\n";
    return 0;
  }
  if (mode == "sign" && argc == 6) {
    auto key = dkim::load_private_key(read_file(argv[2]));
    if (!key.ok()) {
      std::cerr << "dkim_tool: " << key.status() << "\n";
      return 2;
    }
    dkim::dkim_sign_options o;
    o.domain = argv[3];
    o.selector = argv[4];
    o.key = &*key;
    auto field = dkim::sign_dkim(read_file(argv[5]), o);
    if (!field.ok()) {
      std::cerr << "dkim_tool: " << field.status() << "\n";
      return 1;
    }
    std::cout << *field;
    return 0;
  }
  if (mode == "verify" && (argc == 4 || argc == 5)) {
    static_dns_client dns;
    load_zone(argv[2], dns);
    dkim::dkim_verify_options options;
    if (argc == 5) options.now = std::stoll(argv[4]);
    auto results = run_inline(dkim::verify_dkim(dns, read_file(argv[3]), options));
    for (const dkim_signature_check& r : results) {
      std::cout << to_string(r.result) << " d=" << r.domain << " " << r.reason << "\n";
    }
    return 0;
  }
  std::cerr << "usage: dkim_tool sign KEY.pem DOMAIN SELECTOR MESSAGE | verify ZONE MESSAGE [NOW] |\n"
               "       arc-seal KEY.pem DOMAIN SELECTOR AUTHSERV-ID CHAIN MESSAGE | arc-verify ZONE MESSAGE\n";
  return 2;
}

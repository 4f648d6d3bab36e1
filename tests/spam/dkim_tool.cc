// dkim_tool: signs and verifies message files with the DKIM code, for the differential
// test against python3-dkim (tests/spam/dkim_differential_test.sh). Not installed.
//
//   dkim_tool sign KEY.pem DOMAIN SELECTOR MESSAGE    prints the DKIM-Signature field
//   dkim_tool verify ZONE MESSAGE [NOW]               one line per signature:
//                                                     "<result> d=<domain> <reason>"
// ZONE is a text zone for static_dns_client: "<name> TXT <text to the line end>" lines.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "runtime/task.h"
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

}  // namespace

int main(int argc, char** argv) {
  using namespace ringmail::spam;
  std::string mode = argc > 1 ? argv[1] : "";
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
    std::istringstream zone(read_file(argv[2]));
    for (std::string line; std::getline(zone, line);) {
      size_t sp = line.find(" TXT ");
      if (sp == std::string::npos) continue;
      dns.add_txt(line.substr(0, sp), line.substr(sp + 5));
    }
    dkim::dkim_verify_options options;
    if (argc == 5) options.now = std::stoll(argv[4]);
    auto results = run_inline(dkim::verify_dkim(dns, read_file(argv[3]), options));
    for (const dkim_signature_check& r : results) {
      std::cout << to_string(r.result) << " d=" << r.domain << " " << r.reason << "\n";
    }
    return 0;
  }
  std::cerr << "usage: dkim_tool sign KEY.pem DOMAIN SELECTOR MESSAGE | verify ZONE MESSAGE [NOW]\n";
  return 2;
}

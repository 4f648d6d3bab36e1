// spf_zone_check: runs SPF cases from a case file against static_dns_client zones and
// compares with the expected results — the driver behind the RFC 7208 test suite and the
// pyspf differential (spf_suite_test.sh, spf_pyspf_test.sh write the case files).
//
//   spf_zone_check CASES [DIFFERENCES]
//
// CASES: tab-separated lines, strings hex-encoded (any byte can travel):
//   zone                                   start a new, empty zone
//   A|AAAA|MX|TXT|PTR  name  value         (MX: name  preference  exchange)
//   STATUS  name  a|aaaa|mx|txt|ptr|*  timeout|servfail
//   CASE  id  client-ip  mailfrom  helo  result[,result...]  explanation|-
// DIFFERENCES: "id<TAB>reason" lines; those cases may differ (reported, not failed).
// Prints one line per unexpected result and "N/M passed"; exit 1 on an unexplained one.
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "runtime/task.h"
#include "spam/spf/check.h"

namespace {

using namespace ringmail;
using namespace ringmail::spam;

std::string unhex(const std::string& s) { return absl::HexStringToBytes(s); }

dns_type type_of(const std::string& t) {
  if (t == "aaaa") return dns_type::aaaa;
  if (t == "mx") return dns_type::mx;
  if (t == "txt") return dns_type::txt;
  if (t == "ptr") return dns_type::ptr;
  return dns_type::a;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: spf_zone_check CASES [DIFFERENCES]\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 2;
  }
  std::map<std::string, std::string> explained;
  if (argc > 2) {
    std::ifstream diff(argv[2]);
    std::string line;
    while (std::getline(diff, line)) {
      if (line.empty() || line[0] == '#') continue;
      size_t tab = line.find('\t');
      explained[line.substr(0, tab)] = tab == std::string::npos ? "" : line.substr(tab + 1);
    }
  }
  auto zone = std::make_unique<static_dns_client>();
  int total = 0, passed = 0, unexplained = 0;
  std::set<std::string> seen;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    const std::string& kind = f[0];
    if (kind == "zone") {
      zone = std::make_unique<static_dns_client>();
    } else if (kind == "A" && f.size() == 3) {
      zone->add_a(unhex(f[1]), f[2]);
    } else if (kind == "AAAA" && f.size() == 3) {
      zone->add_aaaa(unhex(f[1]), f[2]);
    } else if (kind == "MX" && f.size() == 4) {
      zone->add_mx(unhex(f[1]), static_cast<uint16_t>(std::stoi(f[2])), unhex(f[3]));
    } else if (kind == "TXT" && f.size() == 3) {
      zone->add_txt(unhex(f[1]), unhex(f[2]));
    } else if (kind == "PTR" && f.size() == 3) {
      zone->add_ptr(unhex(f[1]), unhex(f[2]));
    } else if (kind == "STATUS" && f.size() == 4) {
      dns_status status = f[3] == "servfail" ? dns_status::servfail : dns_status::timeout;
      if (f[2] == "*") {
        for (const char* t : {"a", "aaaa", "mx", "txt", "ptr"}) zone->set_status(unhex(f[1]), type_of(t), status);
      } else {
        zone->set_status(unhex(f[1]), type_of(f[2]), status);
      }
    } else if (kind == "CASE" && f.size() == 7) {
      std::string id = unhex(f[1]);
      seen.insert(id);
      spf_request request;
      request.client_ip = f[2];
      request.sender = unhex(f[3]);
      request.helo = unhex(f[4]);
      request.receiver = "receiver.example";
      spf_check got = run_inline(check_host(*zone, request));
      std::vector<std::string> want = absl::StrSplit(f[5], ',');
      std::string result(to_string(got.result));
      bool ok = false;
      for (const std::string& w : want) ok = ok || w == result;
      if (ok && f[6] != "-" && got.result == spf_result::fail && got.explanation != unhex(f[6])) ok = false;
      ++total;
      if (ok) {
        ++passed;
        if (explained.count(id)) std::cout << "now passing (listed as a difference): " << id << "\n";
        continue;
      }
      bool listed = explained.count(id) > 0;
      if (!listed) ++unexplained;
      std::cout << (listed ? "differs (explained): " : "FAIL: ") << id << ": got " << result << " ("
                << got.explanation << "), want " << f[5]
                << (f[6] != "-" ? " exp '" + unhex(f[6]) + "'" : std::string()) << "\n";
    } else if (!line.empty()) {
      std::cerr << "bad line: " << line.substr(0, 80) << "\n";
      return 2;
    }
  }
  for (const auto& [id, reason] : explained) {
    if (!seen.count(id)) std::cout << "difference listed for an unknown case: " << id << "\n";
  }
  std::cout << passed << "/" << total << " passed, " << unexplained << " unexplained\n";
  return unexplained == 0 && total > 0 ? 0 : 1;
}

// The DNSBL list specification (the --dnsbl flag): which zones, which return codes
// count as a listing, and what a listing scores. Pure parsing, no runtime (fuzzed by
// fuzz/dnsbl_spec_fuzz.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::spam {

// Inclusive range of return codes, host byte order (127.0.0.2 == 0x7f000002).
struct dnsbl_code_range {
  uint32_t first = 0;
  uint32_t last = 0;
  bool operator==(const dnsbl_code_range&) const = default;
};

struct dnsbl_list {
  std::string zone;  // "zen.spamhaus.org": lower case, no trailing dot
  double score = 1.0;
  // Accepted return codes; empty accepts any 127.0.0.0/8 answer (except the error block).
  std::vector<dnsbl_code_range> codes;

  bool accepts(uint32_t code) const;
};

// One list: "zone[=code[,code...]][:score]", a code being "127.0.0.2" or
// "127.0.0.2-127.0.0.11". Score defaults to 1.
absl::StatusOr<dnsbl_list> parse_dnsbl_list(std::string_view spec);
// The --dnsbl value: lists separated by commas, e.g.
// "zen.spamhaus.org=127.0.0.2-127.0.0.11:3,bl.spamcop.net:2". Commas also separate
// return codes; a token that is a code (a zone never is: its last label is not numeric,
// RFC 3696 §2) continues the previous list's codes. Empty input: no lists.
absl::StatusOr<std::vector<dnsbl_list>> parse_dnsbl_lists(std::string_view specs);
// The spec a list was parsed from, in canonical form (parse_dnsbl_list reads it back).
std::string to_spec(const dnsbl_list& list);

// "127.0.0.2" from a host-order address.
std::string dotted_quad(uint32_t address);

}  // namespace ringmail::spam

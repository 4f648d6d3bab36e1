// The compact sequence-set form of a list of numbers ("1:3,5,7:9"), for ESEARCH ALL,
// COPYUID and MODIFIED (RFC 4731, RFC 4315, RFC 7162).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringmail::imap {

// `numbers` in the order given; runs of consecutive ascending numbers become a:b. COPYUID
// pairs source and destination lists by position, so the order is kept, not sorted.
std::string format_number_set(const std::vector<uint32_t>& numbers);

}  // namespace ringmail::imap

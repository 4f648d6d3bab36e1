// A dns_client for the DKIM and ARC fuzz targets: every lookup, whatever name the message
// made up, answers one TXT record (the first part of the input), or NXDOMAIN when it is
// empty. Counts lookups, for the targets' bounds.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/task.h"
#include "spam/dns/dns_client.h"

namespace ringmail::fuzz {

class any_name_zone final : public spam::dns_client {
 public:
  explicit any_name_zone(std::string record) : record_(std::move(record)) {}
  task<dns_answer> lookup(spam::dns_type, std::string) override {
    ++lookups;
    dns_answer a;
    a.status = record_.empty() ? dns_status::nxdomain : dns_status::ok;
    if (!record_.empty()) a.texts.push_back(record_);
    co_return a;
  }
  size_t lookups = 0;

 private:
  std::string record_;
};

// The input split at its first NUL: (key record, message); no NUL: no record.
inline std::pair<std::string, std::string_view> split_record_and_message(std::string_view input) {
  size_t nul = input.find('\0');
  if (nul == std::string_view::npos) return {std::string(), input};
  return {std::string(input.substr(0, nul)), input.substr(nul + 1)};
}

}  // namespace ringmail::fuzz

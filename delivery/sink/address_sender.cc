#include "delivery/sink/address_sender.h"

#include <utility>
#include <vector>

namespace ringmail::delivery {
namespace {

using result = delivery_result;

result make_result(result::status st, std::string enhanced, std::string reason) {
  result r;
  r.st = st;
  r.enhanced = std::move(enhanced);
  r.reason = std::move(reason);
  return r;
}

// Kept out of the coroutine body: g++ 12 miscompiles some braced lists inside coroutines.
sink_message message_of(const std::string& reverse_path, const std::string& bytes) {
  sink_message m;
  m.reverse_path = reverse_path;
  m.message = bytes;
  return m;
}

result combine(const std::vector<result>& copies) {
  const result* first_ok = nullptr;
  const result* first_permanent = nullptr;
  for (const result& c : copies) {
    if (c.st == result::temporary) return c;
    if (c.st == result::ok && first_ok == nullptr) first_ok = &c;
    if (c.st == result::permanent && first_permanent == nullptr) first_permanent = &c;
  }
  if (first_ok != nullptr) return *first_ok;
  if (first_permanent != nullptr) return *first_permanent;
  return make_result(result::temporary, "4.3.0", "no copy was made");
}

}  // namespace

task<delivery_result> address_sender::send(std::string reverse_path, std::string recipient,
                                                     std::string bytes) {
  directory::resolution where = co_await resolver_.resolve(recipient);
  if (where.result == directory::outcome::temporary_failure) {
    co_return make_result(result::temporary, "4.3.0", "directory unavailable: " + where.reason);
  }
  if (where.result == directory::outcome::no_such_user) {
    co_return make_result(result::permanent, "5.1.1", "no such local user: " + where.reason);
  }
  std::vector<sink_recipient> local;
  std::vector<sink_recipient> remote;
  if (where.result == directory::outcome::not_our_domain) {
    remote.push_back(sink_recipient{recipient, ""});
  } else {
    for (directory::destination& d : where.destinations) {
      (d.local ? local : remote).push_back(sink_recipient{std::move(d.address), std::move(d.detail)});
    }
  }
  const sink_message message = message_of(reverse_path, bytes);
  std::vector<result> copies;
  if (!local.empty()) {
    std::vector<result> r = co_await local_.deliver(message, std::move(local));
    copies.insert(copies.end(), r.begin(), r.end());
  }
  if (!remote.empty()) {
    if (queue_ == nullptr) {
      copies.push_back(make_result(result::temporary, "4.3.2", "remote address and no outbound queue on this shard"));
    } else {
      std::vector<result> r = co_await queue_->deliver(message, std::move(remote));
      copies.insert(copies.end(), r.begin(), r.end());
    }
  }
  co_return combine(copies);
}

}  // namespace ringmail::delivery

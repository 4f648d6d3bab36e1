#include "delivery/relay/notice_sender.h"

#include <utility>
#include <vector>

#include "delivery/relay/dsn.h"
#include "runtime/log.h"

namespace ringmail::relay {
namespace {

delivery::delivery_result result(delivery::delivery_result::status st, std::string enhanced, std::string reason) {
  delivery::delivery_result r;
  r.st = st;
  r.enhanced = std::move(enhanced);
  r.reason = std::move(reason);
  return r;
}

// Kept out of the coroutine body: g++ 12 miscompiles some braced lists inside coroutines.
delivery::sink_message null_sender_message(const std::string& message) {
  delivery::sink_message m;
  m.reverse_path = "";
  m.message = message;
  return m;
}

// The result of all copies (see the header): a temporary failure wins, then any delivered
// copy, then the first permanent failure.
delivery::delivery_result combine(const std::vector<delivery::delivery_result>& copies) {
  const delivery::delivery_result* first_permanent = nullptr;
  const delivery::delivery_result* first_ok = nullptr;
  for (const auto& c : copies) {
    if (c.st == delivery::delivery_result::temporary) return c;
    if (c.st == delivery::delivery_result::ok && !first_ok) first_ok = &c;
    if (c.st == delivery::delivery_result::permanent && !first_permanent) first_permanent = &c;
  }
  if (first_ok) return *first_ok;
  if (first_permanent) return *first_permanent;
  return result(delivery::delivery_result::temporary, "4.3.0", "no copy was made");
}

}  // namespace

task<delivery::delivery_result> notice_sender::send(std::string recipient, std::string message) {
  using st = delivery::delivery_result;
  if (!wants_dsn(recipient)) {
    log::warn("notice_dropped", {{"to", recipient}, {"reason", "sender takes no notices"}});
    co_return result(st::permanent, "5.1.3", "no notice to the null sender or a mailer daemon");
  }
  directory::resolution where = co_await resolver_.resolve(recipient);
  if (where.result == directory::outcome::temporary_failure) {
    co_return result(st::temporary, "4.3.0", "directory unavailable: " + where.reason);
  }
  if (where.result == directory::outcome::no_such_user) {
    log::warn("notice_dropped", {{"to", recipient}, {"reason", where.reason}});
    co_return result(st::permanent, "5.1.1", "no such local user: " + where.reason);
  }

  std::vector<delivery::sink_recipient> local;
  std::vector<delivery::sink_recipient> remote;
  if (where.result == directory::outcome::not_our_domain) {
    remote.push_back(delivery::sink_recipient{recipient, ""});
  } else {
    for (directory::destination& d : where.destinations) {
      (d.local ? local : remote).push_back(delivery::sink_recipient{std::move(d.address), std::move(d.detail)});
    }
  }

  const delivery::sink_message notice = null_sender_message(message);
  std::vector<st> copies;
  if (!local.empty()) {
    std::vector<st> r = co_await local_.deliver(notice, std::move(local));
    copies.insert(copies.end(), r.begin(), r.end());
  }
  if (!remote.empty()) {
    if (queue_ == nullptr) {
      copies.push_back(result(st::temporary, "4.3.2", "remote sender and no outbound queue on this shard"));
    } else {
      std::vector<st> r = co_await queue_->deliver(notice, std::move(remote));
      copies.insert(copies.end(), r.begin(), r.end());
    }
  }
  st outcome = combine(copies);
  if (outcome.st == st::permanent) {
    log::warn("notice_dropped", {{"to", recipient}, {"status", outcome.enhanced}, {"reason", outcome.reason}});
  } else if (outcome.st == st::ok) {
    log::info("notice_sent", {{"to", recipient}, {"copies", copies.size()}});
  }
  co_return outcome;
}

}  // namespace ringmail::relay

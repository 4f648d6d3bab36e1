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

}  // namespace

task<delivery::delivery_result> notice_sender::send(std::string recipient, std::string message) {
  using st = delivery::delivery_result;
  if (!wants_dsn(recipient)) {
    log::warn("notice_dropped", {{"to", recipient}, {"reason", "sender takes no notices"}});
    co_return result(st::permanent, "5.1.3", "no notice to the null sender or a mailer daemon");
  }
  auto sent = to_address_.send("", recipient, std::move(message));  // named: g++ 12
  st outcome = co_await std::move(sent);
  if (outcome.st == st::permanent) {
    log::warn("notice_dropped", {{"to", recipient}, {"status", outcome.enhanced}, {"reason", outcome.reason}});
  } else if (outcome.st == st::ok) {
    log::info("notice_sent", {{"to", recipient}});
  }
  co_return outcome;
}

}  // namespace ringmail::relay

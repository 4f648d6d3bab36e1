#include "delivery/queue/queue_sink.h"

#include <chrono>
#include <utility>

#include "delivery/queue/retry_policy.h"

namespace ringmail::queue {

task<std::vector<delivery::delivery_result>> queue_sink::deliver(const delivery::sink_message& message,
                                                                  std::vector<delivery::sink_recipient> recipients) {
  const size_t n = recipients.size();
  std::vector<recipient_state> rcpts;
  rcpts.reserve(n);
  for (delivery::sink_recipient& r : recipients) {
    recipient_state s;
    s.address = std::move(r.address);
    s.detail = std::move(r.detail);
    rcpts.push_back(std::move(s));
  }
  const int64_t now = unix_now();
  // A named vector: g++ 12 cannot keep a braced initializer list in a coroutine frame.
  std::vector<std::string_view> pieces;
  pieces.push_back(message.trace);
  pieces.push_back(message.message);
  enqueue_result queued = co_await store_.enqueue(std::move(pieces), message.reverse_path, std::move(rcpts), now);
  if (queued.result.delivered() && on_queued_) on_queued_(queued.id);
  co_return std::vector<delivery::delivery_result>(n, queued.result);
}

}  // namespace ringmail::queue

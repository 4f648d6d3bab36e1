// queue_sink: the message sink for remote recipients (message_sink.h, DESIGN.md "Message
// sinks"): deliver() puts the message into this shard's durable queue (queue_store.h)
// for the relay, so a submission or SMTP session can hand remote recipients over and
// answer 250 once the queue file is on disk.
//
// One enqueue per transaction, whatever the number of recipients: every recipient gets
// the same result (all queued, or all to be retried), as Postfix's cleanup makes one
// queue file per message. The stored message is the trace lines followed by the message
// as received. The Junk verdict does not apply to mail leaving the server and is ignored.
//
// Threading: one sink per shard over that shard's store, used on that shard only.
#pragma once

#include <functional>
#include <string>

#include <vector>

#include "delivery/queue/queue_store.h"
#include "delivery/sink/message_sink.h"

namespace ringmail::queue {

class queue_sink : public delivery::message_sink {
 public:
  // `on_queued` is told each new queue id once it is durable (the shard's relay agent
  // schedules it at once instead of waiting for a queue scan).
  explicit queue_sink(queue_store& store, std::function<void(const std::string& id)> on_queued = {})
      : store_(store), on_queued_(std::move(on_queued)) {}

  task<std::vector<delivery::delivery_result>> deliver(const delivery::sink_message& message,
                                                       std::vector<delivery::sink_recipient> recipients) override;

 private:
  queue_store& store_;
  std::function<void(const std::string& id)> on_queued_;
};

}  // namespace ringmail::queue

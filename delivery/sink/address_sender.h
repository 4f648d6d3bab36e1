// address_sender: how a message the server makes itself reaches one address: a DSN or
// delay notice (relay/notice_sender.h), a Sieve `redirect` (RFC 5228 4.2) with the
// original envelope sender, a vacation reply (RFC 5230 5) and a rejection notice
// (RFC 5429 2.1) from the null sender (sieve/sieve_delivery.h). The address goes where
// any other mail to it would: the directory says what it means (directory/resolver.h);
// mailboxes of ours get it through the local sink (so their own Sieve scripts run),
// everything else through this shard's outbound queue.
//
// Outcome per send: ok when every copy is durable; temporary when the directory cannot
// answer, a sink asks to retry, or the address is remote and there is no queue; permanent
// for an unknown local user or a refusal for good. An alias with several destinations:
// a temporary failure anywhere wins, then any delivered copy.
//
// Threading: one per shard, used on that shard only; no state between calls.
#pragma once

#include <string>

#include "delivery/directory/resolver.h"
#include "delivery/sink/message_sink.h"
#include "runtime/task.h"

namespace ringmail::delivery {

class address_sender {
 public:
  // `resolver` and `local` must outlive this; `queue` may be null (no relay here).
  address_sender(directory::resolver& resolver, message_sink& local, message_sink* queue)
      : resolver_(resolver), local_(local), queue_(queue) {}

  // Sends `bytes` (a whole message, CRLF) from `reverse_path` ("" = <>) to `recipient`.
  task<delivery_result> send(std::string reverse_path, std::string recipient, std::string bytes);

 private:
  directory::resolver& resolver_;
  message_sink& local_;
  message_sink* queue_;
};

}  // namespace ringmail::delivery

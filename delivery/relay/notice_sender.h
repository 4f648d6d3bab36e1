// notice_sender: delivers a notice the relay built (a bounce or delay DSN, dsn.h) to the
// original sender, the way any other mail to that address would go: the directory says
// what the address means (resolver.h), mailboxes of ours get it through the local sink,
// everything else through the outbound queue. The reverse path is always null (RFC 5321
// 4.5.5 and RFC 3461 6.2: a DSN is sent with MAIL FROM:<>), so a notice that cannot be
// delivered is never answered by another.
//
// Outcomes, as the relay agent needs them:
//   ok         every copy is durable (in a Maildir, or in the queue: "250 means on disk")
//   temporary  the directory could not answer, a sink asked to retry, or the address is
//              remote and this shard has no outbound queue (as the SMTP session's
//              451 4.3.2): call send() again later (a copy that did arrive may then
//              arrive twice, never be lost)
//   permanent  dropped, with a log::warn: a sender wants_dsn() refuses (null,
//              MAILER-DAEMON), an unknown local user, or a sink that refused it for good —
//              there is no DSN about a DSN (RFC 3461 6.2; Postfix's "2bounce" goes to the
//              postmaster, which we leave out)
// An address the resolver expands to several destinations (an alias) gets one copy per
// destination; when some are delivered and others fail for good, the result is ok
// (someone got the notice), a temporary failure anywhere wins over both.
//
// Threading: one per shard, used on that shard only; it keeps no state between calls.
#pragma once

#include <string>

#include "delivery/directory/resolver.h"
#include "delivery/sink/address_sender.h"
#include "delivery/sink/message_sink.h"
#include "runtime/task.h"

namespace ringmail::relay {

class notice_sender {
 public:
  // `resolver` and `local` must outlive the sender; `queue` may be null (no relay on this
  // shard: remote senders get temporary failures).
  notice_sender(directory::resolver& resolver, delivery::message_sink& local, delivery::message_sink* queue)
      : to_address_(resolver, local, queue) {}

  // Sends `message` (the notice's bytes, CRLF line ends) to `recipient` (the original
  // message's reverse path) from the null reverse path.
  task<delivery::delivery_result> send(std::string recipient, std::string message);

 private:
  delivery::address_sender to_address_;  // the routing, shared with Sieve's replies
};

}  // namespace ringmail::relay

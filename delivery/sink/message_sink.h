// message_sink: where a finished SMTP, LMTP or submission transaction hands its message
// (DESIGN.md "Message sinks"). Sessions never write mail themselves: they parse, ask the
// directory and the scanner, and give the message and its resolved recipients to a sink.
//
//   local_sink  the mail store: each recipient's owner shard writes the file, indexes it
//               and tells the sessions following that folder (local_sink.h)
//   queue       remote recipients, relayed later (the outbound queue issue)
//
// Contract: deliver() returns one result per recipient, in order, and returns only when
// every copy it reports as delivered is durable ("250 means on disk"). A temporary result
// means the sender must retry that recipient; copies already made may then arrive twice,
// never be lost.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "delivery/mailstore/maildir_writer.h"
#include "runtime/task.h"

namespace ringmail::delivery {

struct sink_recipient {
  std::string address;  // normalised local@domain (a local mailbox, or a remote address)
  std::string detail;   // +detail the mail was addressed with, "" if none
};

struct sink_message {
  std::string_view reverse_path;  // MAIL FROM, without brackets ("" for bounces)
  std::string_view trace;         // header lines the receiving session adds (Received:,
                                  // X-Spam-*), the same for every copy, CRLF-terminated
  std::string_view message;       // the message as received
  bool junk = false;              // the spam verdict asks for the Junk folder
  // RFC 5429 2.1: may a Sieve `ereject` refuse one recipient in protocol? True when the
  // session gives each recipient its own reply (LMTP, RFC 2033 4.2) or the transaction
  // has this one copy only (SMTP's single reply then concerns nobody else); otherwise
  // ereject falls back to a rejection notice (delivery/sieve/delivery_plan.h).
  bool refuse_in_protocol = false;
};

using delivery_result = mailstore::delivery_result;

class message_sink {
 public:
  virtual ~message_sink() = default;
  // `message` and its views must stay valid until the task is done.
  virtual task<std::vector<delivery_result>> deliver(const sink_message& message,
                                                     std::vector<sink_recipient> recipients) = 0;
};

}  // namespace ringmail::delivery

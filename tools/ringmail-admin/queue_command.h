// `ringmail-admin queue ...`: the outbound queue, like Postfix's postqueue and postsuper,
// against the RUNNING server through its control socket <data_dir>/queue/control.sock
// (delivery/queue/queue_control.h):
//   queue list                  postqueue -p: one block per message, "<id>[!] size arrival
//                               sender" ('!' = held, as Postfix marks it), then each
//                               recipient not yet delivered or bounced, with its state and
//                               last error; a total line
//   queue show ID               postcat -q: envelope, recipient states, the message
//   queue flush [ID]            postqueue -f / -i: try every deferred message (or one) now
//   queue delete ID|ALL         postsuper -d
//   queue hold ID|ALL           postsuper -h
//   queue release ID|ALL        postsuper -H (and the relay tries the message now)
// When the server is not running, list and show read the spool offline
// (queue_control_client.h, saying so on stderr); the changing commands refuse, since the
// server is the spool's only writer (see queue_control_client.h). This file only parses
// the arguments and prints.
#pragma once

#include <string>
#include <vector>

#include "delivery/queue/queue_control_client.h"

namespace ringmail::tools {

// What `queue list` prints.
std::string format_queue_listing(const std::vector<queue::control_message>& messages);
// What `queue show` prints for an ok reply (one message and its text).
std::string format_queue_message(const queue::control_reply& reply);

// Returns the exit status: 0, 1 (failed; the reason on stderr), 2 (usage).
int queue_command(const std::string& data_dir, const std::vector<std::string>& args);

}  // namespace ringmail::tools

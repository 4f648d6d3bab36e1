// `ringmail-admin queue list`: the outbound queue read offline from <data_dir>/queue
// (delivery/queue/spool_reader.h), like Postfix's mailq / postqueue -p. One block per
// message: "<id>  <size>  <arrival, UTC>  <sender>" ("<>" for a bounce), then one line per
// recipient with its state, and a total line.
#pragma once

#include <string>
#include <vector>

#include "delivery/queue/spool_reader.h"

namespace ringmail::tools {

// The listing as text (what `queue list` prints).
std::string format_queue_listing(const std::vector<queue::spool_entry>& entries);

// Returns the exit status; 2 for a usage error.
int queue_command(const std::string& data_dir, const std::vector<std::string>& args);

}  // namespace ringmail::tools

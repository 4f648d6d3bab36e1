// The outbound relay's flags (issue 13): where remote mail goes (--relayhost,
// --transport, --transport_maps, MX lookup through --dns_servers), how the client talks
// (--relay_tls), and the queue's schedule (--queue_*), turned into the settings the
// per-shard relay agent and route resolver take. Postfix's names are given in each flag's
// help, since its users know them.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "delivery/relay/relay_agent.h"
#include "delivery/relay/route.h"

namespace ringmail::tools {

struct relay_settings {
  relay::route_options routes;
  relay::relay_options agent;
};

// `hostname` is the server's own name (EHLO, the MX loop check, the notices' sender).
// Errors name the flag ("--relayhost: ...") and stop the server from starting.
absl::StatusOr<relay_settings> relay_settings_from_flags(const std::string& hostname);

}  // namespace ringmail::tools

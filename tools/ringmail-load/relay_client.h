// The SMTP/LMTP client the load generator drives is the relay's (delivery/relay/
// smtp_client.h, issue 13: one client for both); these names bring it into the tool's
// namespace so the tool's sources read as before.
#pragma once

#include "delivery/relay/smtp_client.h"

namespace ringmail::load {

using relay::client_options;
using relay::client_timeouts;
using relay::envelope;
using relay::failure;
using relay::open_result;
using relay::outcome;
using relay::smtp_client;
using relay::tls_policy;
using relay::transaction_result;

}  // namespace ringmail::load

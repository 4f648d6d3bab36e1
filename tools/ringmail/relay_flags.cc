#include "tools/ringmail/relay_flags.h"

#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "runtime/tls_context.h"

ABSL_FLAG(std::string, relayhost, "",
          "Send all remote mail through this smart host, \"[host]:port\" (no MX lookup) or \"host:port\" "
          "(Postfix relayhost); empty: the recipient domain's MX hosts");
ABSL_FLAG(std::string, relayhost_auth_file, "",
          "File holding one line \"user:password\" for AUTH PLAIN to --relayhost (Postfix "
          "smtp_sasl_password_maps); empty: no AUTH");
ABSL_FLAG(std::string, transport, "",
          "Per-domain routes, Postfix's inline transport table: \"example.com=smtp:[10.0.0.1]:2525, "
          ".example.org=relay:gw.example.net, spam.test=error:5.7.1 refused\"");
ABSL_FLAG(std::string, transport_maps, "",
          "File with per-domain routes, Postfix transport(5) syntax (\"domain transport:nexthop\" per line)");
ABSL_FLAG(std::string, relay_bind_address, "",
          "Local IP address outbound SMTP connects from (Postfix: smtp_bind_address), the one "
          "the domains' SPF records and its PTR name give; empty: the kernel's choice");
ABSL_FLAG(uint16_t, relay_smtp_port, 25, "Port MX hosts are contacted on (25; tests use a high port)");
ABSL_FLAG(std::string, relay_tls, "may",
          "STARTTLS to other servers (Postfix smtp_tls_security_level): none, may (when offered; "
          "plaintext if the handshake fails), encrypt (required, any certificate), verify "
          "(required, certificate valid for the MX host name)");
ABSL_FLAG(std::string, relay_tls_ca_file, "", "CA bundle for --relay_tls=verify; empty: the system's");
ABSL_FLAG(absl::Duration, queue_minimal_backoff, absl::Seconds(300),
          "First wait before a deferred recipient is tried again, doubling per attempt (Postfix minimal_backoff_time)");
ABSL_FLAG(absl::Duration, queue_maximal_backoff, absl::Seconds(4000),
          "Longest wait between attempts (Postfix maximal_backoff_time)");
ABSL_FLAG(absl::Duration, queue_lifetime, absl::Hours(24 * 5),
          "A recipient still deferred this long after arrival bounces (Postfix maximal_queue_lifetime)");
ABSL_FLAG(absl::Duration, queue_delay_warning, absl::ZeroDuration(),
          "Send the sender a delay notice once a message has waited this long; 0 = never "
          "(Postfix delay_warning_time)");
ABSL_FLAG(uint32_t, relay_destination_concurrency, 20,
          "Deliveries at once to one destination per shard (Postfix default_destination_concurrency_limit)");
ABSL_FLAG(uint32_t, relay_max_deliveries, 100, "Messages being delivered at once per shard");
ABSL_FLAG(uint32_t, relay_session_messages, 100, "Messages one outbound SMTP session carries before it reconnects");
ABSL_FLAG(absl::Duration, relay_connection_idle, absl::Seconds(2),
          "Keep an idle outbound session this long for the next message to the same server "
          "(Postfix smtp_connection_cache_time_limit)");

namespace ringmail::tools {

absl::StatusOr<relay_settings> relay_settings_from_flags(const std::string& hostname) {
  relay_settings s;
  s.routes.my_hostname = hostname;
  s.routes.smtp_port = absl::GetFlag(FLAGS_relay_smtp_port);
  if (const std::string relayhost = absl::GetFlag(FLAGS_relayhost); !relayhost.empty()) {
    auto hop = relay::parse_next_hop(relayhost);
    if (!hop.ok()) return absl::InvalidArgumentError(absl::StrCat("--relayhost: ", hop.status().message()));
    s.routes.relayhost = *hop;
  }
  const std::string inline_table = absl::GetFlag(FLAGS_transport);
  const std::string table_file = absl::GetFlag(FLAGS_transport_maps);
  if (!inline_table.empty() && !table_file.empty()) {
    return absl::InvalidArgumentError("--transport and --transport_maps: give one of them");
  }
  if (!inline_table.empty()) {
    auto table = relay::transport_table::parse_flag(inline_table);
    if (!table.ok()) return absl::InvalidArgumentError(absl::StrCat("--transport: ", table.status().message()));
    s.routes.transports = std::move(*table);
  } else if (!table_file.empty()) {
    std::ifstream in(table_file);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("--transport_maps: cannot read ", table_file));
    std::stringstream text;
    text << in.rdbuf();
    auto table = relay::transport_table::parse(text.str());
    if (!table.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--transport_maps ", table_file, ": ", table.status().message()));
    }
    s.routes.transports = std::move(*table);
  }

  relay::relay_options& a = s.agent;
  a.hostname = hostname;
  if (const std::string bind = absl::GetFlag(FLAGS_relay_bind_address); !bind.empty()) {
    auto source = socket_address::parse(bind, 0);
    if (!source.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--relay_bind_address: \"", bind, "\" is not an IP address"));
    }
    a.source = *source;
  }
  a.retry.minimal_backoff = absl::ToChronoSeconds(absl::GetFlag(FLAGS_queue_minimal_backoff));
  a.retry.maximal_backoff = absl::ToChronoSeconds(absl::GetFlag(FLAGS_queue_maximal_backoff));
  a.retry.maximal_lifetime = absl::ToChronoSeconds(absl::GetFlag(FLAGS_queue_lifetime));
  a.retry.delay_warning = absl::ToChronoSeconds(absl::GetFlag(FLAGS_queue_delay_warning));
  if (a.retry.minimal_backoff.count() < 1 || a.retry.maximal_backoff < a.retry.minimal_backoff) {
    return absl::InvalidArgumentError("--queue_minimal_backoff must be at least 1s and not above --queue_maximal_backoff");
  }
  const std::string policy = absl::GetFlag(FLAGS_relay_tls);
  bool verify = false;
  if (policy == "none") {
    a.starttls = relay::tls_policy::none;
  } else if (policy == "may") {
    a.starttls = relay::tls_policy::opportunistic;
  } else if (policy == "encrypt") {
    a.starttls = relay::tls_policy::required;
  } else if (policy == "verify") {
    a.starttls = relay::tls_policy::required;
    verify = true;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--relay_tls: \"", policy, "\" is not none, may, encrypt or verify"));
  }
  if (a.starttls != relay::tls_policy::none) {
    auto context = tls::context::make_client(verify, absl::GetFlag(FLAGS_relay_tls_ca_file));
    if (!context.ok()) return absl::InvalidArgumentError(absl::StrCat("--relay_tls: ", context.status().message()));
    a.tls = std::move(*context);
  }
  if (const std::string file = absl::GetFlag(FLAGS_relayhost_auth_file); !file.empty()) {
    std::ifstream in(file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return absl::InvalidArgumentError(absl::StrCat("--relayhost_auth_file: cannot read ", file));
    }
    absl::string_view text = absl::StripTrailingAsciiWhitespace(line);
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--relayhost_auth_file ", file, ": expected \"user:password\""));
    }
    a.relayhost_auth = relay::auth_credentials{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  }
  a.destination_concurrency = std::max<uint32_t>(1, absl::GetFlag(FLAGS_relay_destination_concurrency));
  a.max_deliveries = std::max<uint32_t>(1, absl::GetFlag(FLAGS_relay_max_deliveries));
  a.max_messages_per_session = std::max<uint32_t>(1, absl::GetFlag(FLAGS_relay_session_messages));
  a.connection_idle = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_relay_connection_idle));
  return s;
}

}  // namespace ringmail::tools

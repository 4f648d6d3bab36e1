// How a load client's sessions use TLS (--tls), shared by the IMAP and POP3 modes: none,
// STARTTLS/STLS on the plain port, or TLS from the first byte (IMAPS, POP3S).
#pragma once

#include <optional>
#include <string_view>

namespace ringmail::load {

enum class client_tls { none, starttls, implicit };

// "none", "starttls" or "implicit"; nullopt for anything else.
inline std::optional<client_tls> parse_client_tls(std::string_view name) {
  if (name == "none") return client_tls::none;
  if (name == "starttls") return client_tls::starttls;
  if (name == "implicit") return client_tls::implicit;
  return std::nullopt;
}

}  // namespace ringmail::load

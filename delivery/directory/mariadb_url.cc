#include "delivery/directory/mariadb_url.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ringmail::directory {
namespace {

absl::StatusOr<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= s.size()) return absl::InvalidArgumentError("truncated %-escape");
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("bad %-escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

absl::StatusOr<mariadb_config> parse_mariadb_url(std::string_view url) {
  constexpr std::string_view kScheme = "mariadb://";
  constexpr std::string_view kMysqlScheme = "mysql://";
  mariadb_config c;
  std::string_view rest;
  if (url.substr(0, kScheme.size()) == kScheme) {
    rest = url.substr(kScheme.size());
  } else if (url.substr(0, kMysqlScheme.size()) == kMysqlScheme) {
    rest = url.substr(kMysqlScheme.size());
  } else {
    return absl::InvalidArgumentError("--directory must start with mariadb:// (or be empty for the SQLite default)");
  }
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    if (!user.ok()) return user.status();
    c.user = *user;
    if (colon != std::string_view::npos) {
      auto pass = percent_decode(userinfo.substr(colon + 1));
      if (!pass.ok()) return pass.status();
      c.password = *pass;
    }
  }
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return absl::InvalidArgumentError("mariadb URL lacks /database");
  std::string_view hostport = rest.substr(0, slash);
  std::string_view path = rest.substr(slash + 1);
  size_t query = path.find('?');
  std::string_view params = query == std::string_view::npos ? std::string_view() : path.substr(query + 1);
  c.database = std::string(path.substr(0, query));
  if (c.database.empty()) return absl::InvalidArgumentError("mariadb URL lacks a database name");
  if (!hostport.empty()) {
    size_t colon = hostport.rfind(':');
    // host:port or [v6]:port; a bare [v6] has its colons inside the brackets.
    if (colon != std::string_view::npos && colon > 0 && (hostport.front() != '[' || hostport[colon - 1] == ']')) {
      uint32_t port = 0;
      if (!absl::SimpleAtoi(std::string(hostport.substr(colon + 1)), &port) || port == 0 || port > 65535) {
        return absl::InvalidArgumentError("mariadb URL has a bad port");
      }
      c.port = static_cast<uint16_t>(port);
      hostport = hostport.substr(0, colon);
    }
    if (hostport.size() >= 2 && hostport.front() == '[' && hostport.back() == ']') {
      hostport = hostport.substr(1, hostport.size() - 2);
    }
    c.host = std::string(hostport);
  }
  while (!params.empty()) {
    size_t amp = params.find('&');
    std::string_view kv = params.substr(0, amp);
    params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
    size_t eq = kv.find('=');
    std::string_view key = kv.substr(0, eq);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
    if (!value.ok()) return value.status();
    if (key == "socket") {
      c.socket = *value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown mariadb URL parameter '", std::string(key), "'"));
    }
  }
  return c;
}

std::string describe(const mariadb_config& c) {
  if (!c.socket.empty()) return absl::StrCat("mariadb://", c.user, ":***@", c.host, "/", c.database, "?socket=", c.socket);
  return absl::StrCat("mariadb://", c.user, ":***@", c.host, ":", c.port, "/", c.database);
}

}  // namespace ringmail::directory

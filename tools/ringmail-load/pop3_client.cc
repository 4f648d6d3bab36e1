#include "tools/ringmail-load/pop3_client.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "mail/header.h"

namespace ringmail::load {
namespace {

using mail::equals_ignore_case;

// Longest status or list line we accept. RFC 2449 section 4 caps responses at 512
// octets; a server's greeting or CAPA line beyond a few KiB is broken.
// RETR bodies are not read line by line (dot_body_counter walks the buffer), so a long
// line inside a message is no error.
constexpr size_t kMaxLine = 64u << 10;

io_status protocol_error() { return {io_kind::error, EPROTO}; }

pop3_reply io_reply(const io_status& s) {
  pop3_reply r;
  r.io = s;
  r.text = s.to_string();
  return r;
}

std::string_view strip_crlf(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with("\n")) {
    line.remove_suffix(1);
  }
  return line;
}

// Splits "word rest" at the first space.
std::pair<std::string_view, std::string_view> split_word(std::string_view s) {
  size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return {s, {}};
  return {s.substr(0, sp), s.substr(sp + 1)};
}

}  // namespace

// ---- pure parsing ---------------------------------------------------------------------

std::optional<pop3_status_line> parse_pop3_status(std::string_view line) {
  pop3_status_line r;
  std::string_view rest;
  if (line.starts_with("+OK")) {
    r.ok = true;
    rest = line.substr(3);
  } else if (line.starts_with("-ERR")) {
    rest = line.substr(4);
  } else {
    return std::nullopt;
  }
  // RFC 1939 section 3: the indicator may be followed by a space and text, or by nothing.
  if (!rest.empty() && rest[0] != ' ') return std::nullopt;
  if (!rest.empty()) rest.remove_prefix(1);
  r.text = rest;
  return r;
}

void add_capability_line(std::string_view line, pop3_capabilities& caps) {
  auto [name, args] = split_word(line);
  if (equals_ignore_case(name, "TOP")) caps.top = true;
  if (equals_ignore_case(name, "UIDL")) caps.uidl = true;
  if (equals_ignore_case(name, "USER")) caps.user = true;
  if (equals_ignore_case(name, "PIPELINING")) caps.pipelining = true;
  if (equals_ignore_case(name, "STLS")) caps.stls = true;
  if (equals_ignore_case(name, "RESP-CODES")) caps.resp_codes = true;
  if (equals_ignore_case(name, "SASL")) {
    while (!args.empty()) {
      auto [mech, more] = split_word(args);
      if (equals_ignore_case(mech, "PLAIN")) caps.sasl_plain = true;
      args = more;
    }
  }
}

std::optional<uint64_t> parse_decimal(std::string_view digits) {
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::optional<pop3_numbered> parse_numbered_line(std::string_view line) {
  auto [number, rest] = split_word(line);
  auto n = parse_decimal(number);
  if (!n || *n == 0 || rest.empty()) return std::nullopt;
  // RFC 1939 section 7 (UIDL): the unique-id is 0x21..0x7E; a size is digits. Either way
  // no spaces or controls; trailing text after another space is allowed by neither.
  for (char c : rest) {
    if (c < 0x21 || c > 0x7e) return std::nullopt;
  }
  return pop3_numbered{*n, rest};
}

size_t dot_body_counter::feed(std::string_view bytes) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n && state_ != state::done) {
    switch (state_) {
      case state::line_start:
        if (bytes[i] == '.') {
          state_ = state::dot;  // a stuffing dot or the terminator: not counted yet
          ++i;
        } else {
          state_ = state::middle;
        }
        break;
      case state::dot:
        if (bytes[i] == '\r') {
          state_ = state::dot_cr;
          ++i;
        } else {
          state_ = state::middle;  // the dot was stuffing: dropped; this byte is content
        }
        break;
      case state::dot_cr:
        if (bytes[i] == '\n') {
          state_ = state::done;
          ++i;
        } else {
          octets_ += 1;  // "." CR then not LF: the dot was stuffing, the CR is content
          state_ = state::middle;
        }
        break;
      case state::middle: {
        const void* lf = std::memchr(bytes.data() + i, '\n', n - i);
        if (lf == nullptr) {
          octets_ += n - i;
          i = n;
        } else {
          const size_t end = static_cast<size_t>(static_cast<const char*>(lf) - bytes.data()) + 1;
          octets_ += end - i;
          i = end;
          state_ = state::line_start;
        }
        break;
      }
      case state::done:
        break;
    }
  }
  return i;
}

std::string pop3_reply::describe() const {
  if (!io.ok()) return absl::StrCat("error: ", io.to_string());
  return absl::StrCat(positive ? "+OK " : "-ERR ", text);
}

// ---- pop3_client ----------------------------------------------------------------------

pop3_client::pop3_client(connection conn, const pop3_client_options& options, cancel_source* cancel)
    : options_(options), io_(std::move(conn), stream_options{options.timeout, options.timeout}, cancel) {}

pop3_client::~pop3_client() = default;

task<pop3_open_result> pop3_client::open(const socket_address& server, const pop3_client_options& options,
                                         cancel_source* cancel) {
  pop3_open_result result;
  io_result<connection> conn = co_await connect_to(server, options.timeout, cancel);
  if (!conn.ok()) {
    result.stage = "connect";
    result.why = io_reply(conn.status());
    co_return result;
  }
  std::unique_ptr<pop3_client> client(new pop3_client(std::move(conn).value(), options, cancel));
  auto fail = [&](std::string stage, pop3_reply why) -> task<pop3_open_result> {
    result.stage = std::move(stage);
    result.why = std::move(why);
    co_await client->close();
    co_return std::move(result);
  };
  if (options.tls == client_tls::implicit) {
    if (options.tls_context == nullptr) co_return co_await fail("tls_handshake", io_reply(protocol_error()));
    io_status st = co_await client->io_.start_tls(options.tls_context, tls::role::client);
    if (!st.ok()) co_return co_await fail("tls_handshake", io_reply(st));
  }
  pop3_reply greeting = co_await client->read_status();
  if (!greeting.ok()) co_return co_await fail("greeting", std::move(greeting));
  pop3_reply caps = co_await client->capa();
  if (!caps.ok()) co_return co_await fail("capa", std::move(caps));
  if (options.tls == client_tls::starttls) {
    if (!client->caps_.stls) {
      pop3_reply r;
      r.text = "STLS not offered in CAPA";
      co_return co_await fail("stls", std::move(r));
    }
    if (options.tls_context == nullptr) co_return co_await fail("stls", io_reply(protocol_error()));
    pop3_reply reply = co_await client->command("STLS");
    if (!reply.ok()) co_return co_await fail("stls", std::move(reply));
    io_status st = co_await client->io_.start_tls(options.tls_context, tls::role::client);
    if (!st.ok()) co_return co_await fail("tls_handshake", io_reply(st));
    caps = co_await client->capa();
    if (!caps.ok()) co_return co_await fail("capa", std::move(caps));
  }
  result.client = std::move(client);
  co_return result;
}

task<io_status> pop3_client::send(std::string_view bytes) { co_return co_await io_.write(bytes); }

task<pop3_reply> pop3_client::read_status() {
  auto line = co_await io_.read_line(kMaxLine);
  if (!line.ok()) co_return io_reply(line.status().kind == io_kind::too_long ? protocol_error() : line.status());
  std::optional<pop3_status_line> status = parse_pop3_status(strip_crlf(*line));
  if (!status) {
    pop3_reply r = io_reply(protocol_error());
    r.text = absl::StrCat("unparsable reply: ", std::string(strip_crlf(*line).substr(0, 120)));
    co_return r;
  }
  pop3_reply r;
  r.positive = status->ok;
  r.text = std::string(status->text);
  co_return r;
}

task<pop3_reply> pop3_client::command(std::string_view command) {
  out_.clear();
  out_.append(command).append("\r\n");
  if (io_status s = co_await io_.write(out_); !s.ok()) co_return io_reply(s);
  co_return co_await read_status();
}

task<io_status> pop3_client::read_lines(std::vector<std::string>& lines) {
  lines.clear();
  for (;;) {
    auto line = co_await io_.read_line(kMaxLine);
    if (!line.ok()) co_return line.status().kind == io_kind::too_long ? protocol_error() : line.status();
    std::string_view l = strip_crlf(*line);
    if (l == ".") co_return io_status::success();
    if (l.starts_with('.')) l.remove_prefix(1);  // RFC 1939 section 3: byte-stuffing
    lines.emplace_back(l);
  }
}

task<io_result<uint64_t>> pop3_client::read_body() {
  dot_body_counter counter;
  for (;;) {
    std::string_view have = io_.buffered();
    if (!have.empty()) {
      io_.consume(counter.feed(have));
      if (counter.done()) co_return counter.octets();
      continue;
    }
    io_status st = co_await io_.read_more();
    if (!st.ok()) co_return st;
  }
}

task<pop3_reply> pop3_client::capa() {
  pop3_reply r = co_await command("CAPA");
  if (!r.ok()) co_return r;
  std::vector<std::string> lines;
  io_status st = co_await read_lines(lines);
  if (!st.ok()) co_return io_reply(st);
  caps_ = pop3_capabilities{};
  caps_.known = true;
  for (const std::string& l : lines) add_capability_line(l, caps_);
  co_return r;
}

task<pop3_reply> pop3_client::login(std::string_view user, std::string_view password) {
  if (options_.auth_plain) {
    // RFC 4616: [authzid] NUL authcid NUL passwd; RFC 5034 section 4: the initial
    // response on the AUTH line.
    std::string plain;
    plain.push_back('\0');
    plain.append(user);
    plain.push_back('\0');
    plain.append(password);
    std::string encoded;
    absl::Base64Escape(plain, &encoded);
    co_return co_await command(absl::StrCat("AUTH PLAIN ", encoded));
  }
  pop3_reply r = co_await command(absl::StrCat("USER ", std::string(user)));
  if (!r.ok()) co_return r;
  co_return co_await command(absl::StrCat("PASS ", std::string(password)));
}

task<pop3_reply> pop3_client::quit() {
  pop3_reply r = co_await command("QUIT");
  co_await io_.close();
  co_return r;
}

task<void> pop3_client::close() { co_await io_.close(); }

}  // namespace ringmail::load

#include "tools/ringmail-load/imap_client.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "runtime/poll.h"

namespace ringmail::load {
namespace {

// Longest response line we accept. A SEARCH over a 100,000-message folder is ~600 KB on
// one line; anything longer is a runaway server.
constexpr size_t kMaxLine = 4u << 20;
// Largest literal we skip (a whole message in FETCH BODY[]); beyond it the server is broken.
constexpr uint64_t kMaxLiteral = 1ull << 30;

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) != absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

io_status protocol_error() { return {io_kind::error, EPROTO}; }

imap_reply io_reply(const io_status& s) {
  imap_reply r;
  r.io = s;
  r.text = s.to_string();
  return r;
}

imap_status status_of(std::string_view word) {
  if (equals_ignore_case(word, "OK")) return imap_status::ok;
  if (equals_ignore_case(word, "NO")) return imap_status::no;
  if (equals_ignore_case(word, "BAD")) return imap_status::bad;
  if (equals_ignore_case(word, "BYE")) return imap_status::bye;
  if (equals_ignore_case(word, "PREAUTH")) return imap_status::preauth;
  return imap_status::none;
}

// Splits "word rest" at the first space.
std::pair<std::string_view, std::string_view> split_word(std::string_view s) {
  size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return {s, {}};
  return {s.substr(0, sp), s.substr(sp + 1)};
}

std::string_view strip_crlf(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with("\n")) {
    line.remove_suffix(1);
  }
  return line;
}

// A TCP connection from `source` (port 0: the kernel picks one when connecting, which
// IP_BIND_ADDRESS_NO_PORT allows per destination rather than per bind, so one source
// address can carry more than the ~28,000 sessions of the ephemeral range in total).
// The runtime's connect_to cannot bind, so the connect is done non-blocking here and
// its completion awaited on the ring.
task<io_result<connection>> connect_from(const socket_address& source, const socket_address& server,
                                         duration deadline, cancel_source* cancel) {
  int fd = ::socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) co_return io_status::from_errno(errno);
  connection c(fd, server);
  int one = 1;
#ifdef IP_BIND_ADDRESS_NO_PORT
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  if (::bind(fd, source.native(), source.length()) != 0) co_return io_status::from_errno(errno);
  if (::connect(fd, server.native(), server.length()) != 0) {
    if (errno != EINPROGRESS) co_return io_status::from_errno(errno);
    auto ready = co_await wait_ready(fd, POLLOUT, deadline, cancel);
    if (!ready.ok()) co_return ready.status();
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) co_return io_status::from_errno(err);
  }
  // The ring's recv/send expect a blocking socket (they wait inside the kernel).
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  co_return std::move(c);
}

}  // namespace

const char* imap_status_name(imap_status s) {
  switch (s) {
    case imap_status::none: return "none";
    case imap_status::ok: return "OK";
    case imap_status::no: return "NO";
    case imap_status::bad: return "BAD";
    case imap_status::bye: return "BYE";
    case imap_status::preauth: return "PREAUTH";
  }
  return "?";
}

std::optional<imap_line> parse_imap_line(std::string_view line) {
  imap_line r;
  if (line.empty()) return std::nullopt;
  if (line[0] == '+') {
    // RFC 9051 section 7.5: "+" SP (resp-text / base64); some servers omit the text.
    r.type = imap_line::kind::continuation;
    r.text = line.size() > 2 ? line.substr(2) : std::string_view{};
    return r;
  }
  if (line.starts_with("* ")) {
    r.type = imap_line::kind::untagged;
    auto [first, rest] = split_word(line.substr(2));
    if (first.empty()) return std::nullopt;
    if (absl::ascii_isdigit(static_cast<unsigned char>(first[0]))) {
      uint64_t n = 0;
      for (char c : first) {
        if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(c - '0');
        if (n > 0xffffffffull) return std::nullopt;
      }
      r.number = static_cast<uint32_t>(n);
      auto [keyword, text] = split_word(rest);
      if (keyword.empty()) return std::nullopt;
      r.keyword = keyword;
      r.text = text;
      return r;
    }
    r.keyword = first;
    r.status = status_of(first);
    r.text = rest;
    return r;
  }
  r.type = imap_line::kind::tagged;
  auto [tag, rest] = split_word(line);
  if (tag.empty() || rest.empty()) return std::nullopt;
  auto [word, text] = split_word(rest);
  r.tag = tag;
  r.keyword = word;
  r.status = status_of(word);
  if (r.status != imap_status::ok && r.status != imap_status::no && r.status != imap_status::bad) return std::nullopt;
  r.text = text;
  return r;
}

std::optional<uint64_t> trailing_literal(std::string_view line) {
  if (!line.ends_with('}')) return std::nullopt;
  size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);  // LITERAL+ (RFC 7888)
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

imap_capabilities parse_capabilities(std::string_view atoms) {
  imap_capabilities c;
  c.known = true;
  while (!atoms.empty()) {
    auto [word, rest] = split_word(atoms);
    atoms = rest;
    if (equals_ignore_case(word, "STARTTLS")) c.starttls = true;
    if (equals_ignore_case(word, "LOGINDISABLED")) c.login_disabled = true;
    if (equals_ignore_case(word, "AUTH=PLAIN")) c.auth_plain = true;
    if (equals_ignore_case(word, "SASL-IR")) c.sasl_ir = true;
    if (equals_ignore_case(word, "LITERAL+")) c.literal_plus = true;
    if (equals_ignore_case(word, "LITERAL-")) c.literal_minus = true;
    if (equals_ignore_case(word, "IDLE")) c.idle = true;
    if (equals_ignore_case(word, "UIDPLUS")) c.uidplus = true;
  }
  return c;
}

std::optional<std::string_view> capability_code(std::string_view text) {
  if (!text.starts_with('[')) return std::nullopt;
  size_t close = text.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  auto [word, rest] = split_word(text.substr(1, close - 1));
  if (!equals_ignore_case(word, "CAPABILITY")) return std::nullopt;
  return rest;
}

std::string imap_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string imap_reply::describe() const {
  if (!io.ok()) return absl::StrCat("error: ", io.to_string());
  return absl::StrCat(imap_status_name(status), " ", text);
}

// ---- imap_client ----------------------------------------------------------------------

imap_client::imap_client(connection conn, const imap_client_options& options, cancel_source* cancel)
    : options_(options), io_(std::move(conn), stream_options{options.timeout, options.timeout}, cancel) {}

imap_client::~imap_client() = default;

task<imap_open_result> imap_client::open(const socket_address& server, const imap_client_options& options,
                                         const socket_address* source, cancel_source* cancel) {
  imap_open_result result;
  io_result<connection> conn = io_status::from(io_kind::error);
  if (source != nullptr) {
    conn = co_await connect_from(*source, server, options.timeout, cancel);
  } else {
    conn = co_await connect_to(server, options.timeout, cancel);
  }
  if (!conn.ok()) {
    result.stage = "connect";
    result.why = io_reply(conn.status());
    co_return result;
  }
  std::unique_ptr<imap_client> client(new imap_client(std::move(conn).value(), options, cancel));
  auto fail = [&](std::string stage, imap_reply why) -> task<imap_open_result> {
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
  // RFC 9051 section 7.1.1/7.1.4/7.1.5: the greeting is an untagged OK, PREAUTH or BYE.
  io_status got = co_await client->read_response();
  if (!got.ok()) co_return co_await fail("greeting", io_reply(got));
  const imap_line& greeting = client->last_;
  if (greeting.type != imap_line::kind::untagged ||
      (greeting.status != imap_status::ok && greeting.status != imap_status::preauth)) {
    imap_reply r;
    r.status = greeting.status == imap_status::none ? imap_status::bad : greeting.status;
    r.text = client->last_line_;
    co_return co_await fail("greeting", std::move(r));
  }
  if (!client->caps_.known) {
    imap_reply caps = co_await client->command("CAPABILITY");
    if (!caps.ok()) co_return co_await fail("capability", std::move(caps));
  }
  if (options.tls == client_tls::starttls) {
    if (!client->caps_.starttls) {
      imap_reply r;
      r.status = imap_status::no;
      r.text = "STARTTLS not offered";
      co_return co_await fail("starttls", std::move(r));
    }
    if (options.tls_context == nullptr) co_return co_await fail("starttls", io_reply(protocol_error()));
    imap_reply reply = co_await client->command("STARTTLS");
    if (!reply.ok()) co_return co_await fail("starttls", std::move(reply));
    io_status st = co_await client->io_.start_tls(options.tls_context, tls::role::client);
    if (!st.ok()) co_return co_await fail("tls_handshake", io_reply(st));
    // RFC 9051 section 6.2.1: forget the capabilities learnt before TLS.
    client->caps_ = imap_capabilities{};
    imap_reply caps = co_await client->command("CAPABILITY");
    if (!caps.ok()) co_return co_await fail("capability", std::move(caps));
  }
  result.client = std::move(client);
  co_return result;
}

std::string imap_client::next_tag() { return absl::StrCat("a", ++tag_counter_); }

task<io_status> imap_client::send_line(std::string_view command) {
  tag_ = next_tag();
  out_.clear();
  out_.append(tag_).append(" ").append(command).append("\r\n");
  co_return co_await io_.write(out_);
}

task<io_status> imap_client::skip_octets(uint64_t n) {
  while (n > 0) {
    std::string_view have = io_.buffered();
    if (have.empty()) {
      io_status st = co_await io_.read_more();
      if (!st.ok()) co_return st;
      continue;
    }
    size_t take = have.size() < n ? have.size() : static_cast<size_t>(n);
    io_.consume(take);
    n -= take;
  }
  co_return io_status::success();
}

void imap_client::note_untagged(const imap_line& head) {
  if (head.number) {
    if (equals_ignore_case(head.keyword, "EXISTS")) exists_ = *head.number;
    if (equals_ignore_case(head.keyword, "EXPUNGE") && exists_ > 0) --exists_;
    return;
  }
  if (equals_ignore_case(head.keyword, "CAPABILITY")) {
    caps_ = parse_capabilities(head.text);
  } else if (head.status != imap_status::none) {
    if (auto code = capability_code(head.text)) caps_ = parse_capabilities(*code);
  }
}

task<io_status> imap_client::read_response() {
  auto line = co_await io_.read_line(kMaxLine);
  if (!line.ok()) co_return line.status().kind == io_kind::too_long ? protocol_error() : line.status();
  last_line_.assign(strip_crlf(*line));
  std::optional<imap_line> head = parse_imap_line(last_line_);
  if (!head) co_return protocol_error();
  last_ = *head;
  // A response continues after each literal until a line that does not end in one.
  std::optional<uint64_t> literal = trailing_literal(last_line_);
  while (literal) {
    if (*literal > kMaxLiteral) co_return protocol_error();
    io_status st = co_await skip_octets(*literal);
    if (!st.ok()) co_return st;
    auto more = co_await io_.read_line(kMaxLine);
    if (!more.ok()) co_return more.status().kind == io_kind::too_long ? protocol_error() : more.status();
    literal = trailing_literal(strip_crlf(*more));
  }
  if (last_.type == imap_line::kind::untagged) note_untagged(last_);
  co_return io_status::success();
}

task<imap_reply> imap_client::read_until_tagged() {
  imap_reply bye;
  for (;;) {
    io_status st = co_await read_response();
    if (!st.ok()) {
      // RFC 9051 section 7.1.5: after BYE the server closes; report the BYE, not the close.
      if (bye.status == imap_status::bye) co_return bye;
      co_return io_reply(st);
    }
    switch (last_.type) {
      case imap_line::kind::untagged:
        if (last_.status == imap_status::bye) {
          bye.status = imap_status::bye;
          bye.text = std::string(last_.text);
        }
        break;
      case imap_line::kind::continuation:
        co_return io_reply(protocol_error());  // nothing we send waits for one here
      case imap_line::kind::tagged: {
        if (last_.tag != tag_) co_return io_reply(protocol_error());
        if (auto code = capability_code(last_.text)) caps_ = parse_capabilities(*code);
        imap_reply r;
        r.status = last_.status;
        r.text = std::string(last_.text);
        co_return r;
      }
    }
  }
}

task<imap_reply> imap_client::command(std::string_view command) {
  io_status sent = co_await send_line(command);
  if (!sent.ok()) co_return io_reply(sent);
  co_return co_await read_until_tagged();
}

task<imap_reply> imap_client::login(std::string_view user, std::string_view password) {
  if (!options_.authenticate_plain) {
    co_return co_await command(absl::StrCat("LOGIN ", imap_quote(user), " ", imap_quote(password)));
  }
  // RFC 4616: [authzid] NUL authcid NUL passwd, base64 on the wire (RFC 9051 6.2.2).
  std::string plain;
  plain.push_back('\0');
  plain.append(user);
  plain.push_back('\0');
  plain.append(password);
  std::string encoded;
  absl::Base64Escape(plain, &encoded);
  if (caps_.sasl_ir) co_return co_await command(absl::StrCat("AUTHENTICATE PLAIN ", encoded));
  io_status sent = co_await send_line("AUTHENTICATE PLAIN");
  if (!sent.ok()) co_return io_reply(sent);
  for (;;) {
    io_status st = co_await read_response();
    if (!st.ok()) co_return io_reply(st);
    if (last_.type == imap_line::kind::continuation) break;
    if (last_.type == imap_line::kind::tagged) {
      if (last_.tag != tag_) co_return io_reply(protocol_error());
      imap_reply r;
      r.status = last_.status;
      r.text = std::string(last_.text);
      co_return r;
    }
  }
  encoded.append("\r\n");
  if (io_status s = co_await io_.write(encoded); !s.ok()) co_return io_reply(s);
  co_return co_await read_until_tagged();
}

task<imap_reply> imap_client::append(std::string_view mailbox, std::string_view flags, std::string_view message) {
  // RFC 7888: LITERAL+ allows a non-synchronizing literal of any size, LITERAL- up to 4096.
  const bool non_sync = caps_.literal_plus || (caps_.literal_minus && message.size() <= 4096);
  std::string head = absl::StrCat("APPEND ", imap_quote(mailbox));
  if (!flags.empty()) head.append(" ").append(flags);
  absl::StrAppend(&head, " {", message.size(), non_sync ? "+}" : "}");
  if (non_sync) {
    tag_ = next_tag();
    out_.clear();
    out_.append(tag_).append(" ").append(head).append("\r\n").append(message).append("\r\n");
    if (io_status s = co_await io_.write(out_); !s.ok()) co_return io_reply(s);
    co_return co_await read_until_tagged();
  }
  if (io_status s = co_await send_line(head); !s.ok()) co_return io_reply(s);
  for (;;) {
    io_status st = co_await read_response();
    if (!st.ok()) co_return io_reply(st);
    if (last_.type == imap_line::kind::continuation) break;
    if (last_.type == imap_line::kind::tagged) {
      if (last_.tag != tag_) co_return io_reply(protocol_error());
      imap_reply r;  // the server refused the literal (too big, no such mailbox, ...)
      r.status = last_.status;
      r.text = std::string(last_.text);
      co_return r;
    }
  }
  out_.clear();
  out_.append(message).append("\r\n");
  if (io_status s = co_await io_.write(out_); !s.ok()) co_return io_reply(s);
  co_return co_await read_until_tagged();
}

task<imap_reply> imap_client::idle() {
  if (io_status s = co_await send_line("IDLE"); !s.ok()) co_return io_reply(s);
  for (;;) {
    io_status st = co_await read_response();
    if (!st.ok()) co_return io_reply(st);
    if (last_.type == imap_line::kind::continuation) {
      imap_reply r;
      r.status = imap_status::ok;
      r.text = std::string(last_.text);
      co_return r;
    }
    if (last_.type == imap_line::kind::tagged) {
      if (last_.tag != tag_) co_return io_reply(protocol_error());
      imap_reply r;
      r.status = last_.status;
      r.text = std::string(last_.text);
      co_return r;
    }
  }
}

task<io_result<uint32_t>> imap_client::wait_exists(duration timeout) {
  const uint32_t before = exists_;
  io_.set_read_timeout(timeout);
  for (;;) {
    io_status st = co_await read_response();
    if (!st.ok()) {
      io_.set_read_timeout(options_.timeout);
      co_return st;
    }
    // Only untagged data belongs inside IDLE (RFC 2177); a tagged line or BYE ends it.
    if (last_.type != imap_line::kind::untagged || last_.status == imap_status::bye) {
      io_.set_read_timeout(options_.timeout);
      co_return last_.status == imap_status::bye ? io_status::from(io_kind::closed) : protocol_error();
    }
    if (last_.number && equals_ignore_case(last_.keyword, "EXISTS") && exists_ > before) {
      io_.set_read_timeout(options_.timeout);
      co_return exists_;
    }
  }
}

task<imap_reply> imap_client::done() {
  if (io_status s = co_await io_.write("DONE\r\n"); !s.ok()) co_return io_reply(s);
  co_return co_await read_until_tagged();
}

task<void> imap_client::logout() {
  // The BYE and the tagged OK (or a server that hangs up first) end the session.
  io_status sent = co_await send_line("LOGOUT");
  if (sent.ok()) (void)co_await read_until_tagged();
  co_await io_.close();
}

task<void> imap_client::close() { co_await io_.close(); }

}  // namespace ringmail::load

#include "tools/ringmail-load/smtp_client.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::load {
namespace {

// RFC 5321 section 4.5.3.1.5 allows 512 octets per reply line; servers that send more
// get some slack before the reply counts as malformed.
constexpr size_t kMaxReplyLine = 4096;
// A reply with more lines than this is treated as malformed (a runaway server).
constexpr size_t kMaxReplyLines = 200;

// ASCII case-insensitive comparison (Debian's abseil takes its own string_view type).
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

failure io_failure(stage at, const io_status& s) { return {outcome::error, at, s.to_string()}; }
failure reply_failure(stage at, const smtp_reply& r) {
  outcome kind = outcome_of(r.code);
  // A reply that is not a failure where one was needed (e.g. 250 to DATA) is a protocol error.
  if (kind == outcome::ok) kind = outcome::error;
  return {kind, at, r.describe()};
}

bool positive(const smtp_reply& r) { return r.code >= 200 && r.code < 300; }
// 421: the server is closing the channel (RFC 5321 section 3.8); nothing more may be sent.
bool closing(const smtp_reply& r) { return r.code == 421; }

}  // namespace

std::optional<reply_line> parse_reply_line(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with("\n")) {
    line.remove_suffix(1);
  }
  if (line.size() < 3) return std::nullopt;
  if (line[0] < '2' || line[0] > '5' || !absl::ascii_isdigit(line[1]) || !absl::ascii_isdigit(line[2])) {
    return std::nullopt;
  }
  reply_line r;
  r.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (line.size() == 3) {
    r.last = true;
    return r;
  }
  if (line[3] != ' ' && line[3] != '-') return std::nullopt;
  r.last = line[3] == ' ';
  r.text = line.substr(4);
  return r;
}

std::string smtp_reply::describe() const {
  std::string out = absl::StrCat(code);
  size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view part = std::string_view(text).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    out.append(first ? " " : " / ");
    out.append(part);
    first = false;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

extensions parse_extensions(const smtp_reply& ehlo) {
  extensions e;
  size_t pos = ehlo.text.find('\n');  // the first line is the greeting, not an extension
  while (pos != std::string::npos) {
    ++pos;
    size_t nl = ehlo.text.find('\n', pos);
    std::string_view line = std::string_view(ehlo.text).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    std::string_view keyword = line.substr(0, line.find(' '));
    if (equals_ignore_case(keyword, "PIPELINING")) e.pipelining = true;
    if (equals_ignore_case(keyword, "STARTTLS")) e.starttls = true;
    if (equals_ignore_case(keyword, "8BITMIME")) e.eight_bit_mime = true;
    if (equals_ignore_case(keyword, "SIZE")) e.size = true;
    pos = nl;
  }
  return e;
}

outcome outcome_of(int code) {
  if (code >= 200 && code < 400) return outcome::ok;
  if (code >= 400 && code < 500) return outcome::temp_fail;
  if (code >= 500 && code < 600) return outcome::perm_fail;
  return outcome::error;
}

const char* stage_name(stage s) {
  switch (s) {
    case stage::connect: return "connect";
    case stage::greeting: return "greeting";
    case stage::hello: return "hello";
    case stage::starttls: return "starttls";
    case stage::tls_handshake: return "tls_handshake";
    case stage::mail: return "mail";
    case stage::rcpt: return "rcpt";
    case stage::data: return "data";
    case stage::message: return "message";
    case stage::rset: return "rset";
    case stage::quit: return "quit";
  }
  return "?";
}

std::string failure::describe() const {
  const char* key = kind == outcome::error ? "error" : "reply";
  std::string quoted;
  for (char c : detail) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return absl::StrCat("stage=", stage_name(at), " ", key, "=\"", quoted, "\"");
}

smtp_client::smtp_client(connection conn, const client_options& options)
    : options_(options), io_(std::move(conn), stream_options{options.timeout, options.timeout}) {}

smtp_client::~smtp_client() = default;

task<open_result> smtp_client::open(const socket_address& server, const client_options& options) {
  open_result result;
  auto conn = co_await connect_to(server, options.timeout);
  if (!conn.ok()) {
    result.why = io_failure(stage::connect, conn.status());
    co_return result;
  }
  std::unique_ptr<smtp_client> client(new smtp_client(std::move(conn).value(), options));
  // RFC 5321 section 3.1: wait for the greeting; 554 means "no service here" and the
  // client should still QUIT; 421 means the server is closing.
  auto greeting = co_await client->read_reply();
  if (!greeting.ok()) {
    result.why = io_failure(stage::greeting, greeting.status());
    co_await client->close();
    co_return result;
  }
  if (greeting->code != 220) {
    result.why = reply_failure(stage::greeting, *greeting);
    if (closing(*greeting)) {
      co_await client->close();
    } else {
      co_await client->quit();
    }
    co_return result;
  }
  if (auto f = co_await client->hello()) {
    result.why = std::move(*f);
    co_await client->close();
    co_return result;
  }
  if (options.starttls) {
    if (auto f = co_await client->starttls()) {
      result.why = std::move(*f);
      co_await client->close();
      co_return result;
    }
  }
  result.client = std::move(client);
  co_return result;
}

task<io_result<smtp_reply>> smtp_client::read_reply() {
  smtp_reply reply;
  for (size_t lines = 0;; ++lines) {
    if (lines == kMaxReplyLines) co_return protocol_error();
    auto line = co_await io_.read_line(kMaxReplyLine);
    if (!line.ok()) co_return line.status().kind == io_kind::too_long ? protocol_error() : line.status();
    std::optional<reply_line> parsed = parse_reply_line(*line);
    // Every line of a reply carries the same code (RFC 5321 section 4.2.1).
    if (!parsed || (lines > 0 && parsed->code != reply.code)) co_return protocol_error();
    if (lines > 0) reply.text.push_back('\n');
    reply.code = parsed->code;
    reply.text.append(parsed->text);
    if (parsed->last) co_return reply;
  }
}

task<io_result<smtp_reply>> smtp_client::command(std::string_view line) {
  io_status sent = co_await io_.write(line);
  if (!sent.ok()) co_return sent;
  co_return co_await read_reply();
}

task<std::optional<failure>> smtp_client::hello() {
  out_.clear();
  absl::StrAppend(&out_, options_.lmtp ? "LHLO " : "EHLO ", options_.helo_name, "\r\n");
  auto reply = co_await command(out_);
  if (!reply.ok()) co_return io_failure(stage::hello, reply.status());
  if (positive(*reply)) {
    offered_ = parse_extensions(*reply);
    co_return std::nullopt;
  }
  // RFC 5321 section 3.2: a server that does not know EHLO answers 5xx; fall back to HELO
  // (LMTP has no such fallback: RFC 2033 section 4.1).
  if (options_.lmtp || reply->code / 100 != 5) co_return reply_failure(stage::hello, *reply);
  out_.clear();
  absl::StrAppend(&out_, "HELO ", options_.helo_name, "\r\n");
  auto helo = co_await command(out_);
  if (!helo.ok()) co_return io_failure(stage::hello, helo.status());
  if (!positive(*helo)) co_return reply_failure(stage::hello, *helo);
  offered_ = extensions{};
  co_return std::nullopt;
}

task<std::optional<failure>> smtp_client::starttls() {
  if (!offered_.starttls) co_return failure{outcome::error, stage::starttls, "STARTTLS not offered"};
  if (options_.tls == nullptr) co_return failure{outcome::error, stage::starttls, "no TLS context"};
  auto reply = co_await command("STARTTLS\r\n");
  if (!reply.ok()) co_return io_failure(stage::starttls, reply.status());
  if (reply->code != 220) co_return reply_failure(stage::starttls, *reply);
  // No SNI: the server is named by address, and SNI carries no IP literals (RFC 6066 §3).
  io_status st = co_await io_.start_tls(options_.tls, tls::role::client);
  if (!st.ok()) co_return io_failure(stage::tls_handshake, st);
  // RFC 3207 section 4.2: forget what was learnt before TLS and ask again.
  offered_ = extensions{};
  co_return co_await hello();
}

void smtp_client::append_mail(const envelope& env) {
  out_.append("MAIL FROM:<").append(env.from).append(">");
  if (offered_.size) absl::StrAppend(&out_, " SIZE=", env.size);
  if (env.eight_bit && offered_.eight_bit_mime) out_.append(" BODY=8BITMIME");
  out_.append("\r\n");
}

void smtp_client::append_rcpt(std::string_view rcpt) { out_.append("RCPT TO:<").append(rcpt).append(">\r\n"); }

task<transaction_result> smtp_client::send(const envelope& env, std::string_view payload) {
  transaction_result r;
  const size_t n = env.recipients.size();
  r.delivered.assign(n, false);
  auto fail_io = [&r](stage at, const io_status& s) {
    if (r.kind == outcome::ok) {
      r.why = io_failure(at, s);
      r.kind = outcome::error;
    } else {
      r.kind = outcome::error;  // whatever the replies said, the session broke
    }
    r.session_usable = false;
    return std::move(r);
  };
  auto note = [&r](stage at, const smtp_reply& reply) {
    if (r.kind != outcome::ok) return;  // the first failure is the one reported
    r.why = reply_failure(at, reply);
    r.kind = r.why.kind;
  };

  // RFC 2920 section 3.1: MAIL and RCPT may go anywhere in a group, DATA only last.
  const bool pipelined = options_.pipelining && offered_.pipelining;
  out_.clear();
  append_mail(env);
  if (pipelined) {
    for (const std::string& rcpt : env.recipients) append_rcpt(rcpt);
    out_.append("DATA\r\n");
  }
  if (io_status s = co_await io_.write(out_); !s.ok()) co_return fail_io(stage::mail, s);

  auto mail = co_await read_reply();
  if (!mail.ok()) co_return fail_io(stage::mail, mail.status());
  const bool mail_ok = positive(*mail);
  if (!mail_ok) {
    note(stage::mail, *mail);
    if (closing(*mail)) r.session_usable = false;
    // Unpipelined, nothing else was sent and no transaction is open.
    if (!pipelined || closing(*mail)) co_return r;
  }

  std::vector<bool> accepted(n, false);
  size_t accepted_count = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!pipelined) {
      out_.clear();
      append_rcpt(env.recipients[i]);
      if (io_status s = co_await io_.write(out_); !s.ok()) co_return fail_io(stage::rcpt, s);
    }
    auto rcpt = co_await read_reply();
    if (!rcpt.ok()) co_return fail_io(stage::rcpt, rcpt.status());
    if (positive(*rcpt)) {
      accepted[i] = true;
      ++accepted_count;
      continue;
    }
    note(stage::rcpt, *rcpt);
    if (closing(*rcpt)) {
      r.session_usable = false;
      co_return r;
    }
  }

  bool needs_reset = mail_ok;  // until the transaction completes, the server holds it open
  bool send_data = true;
  if (!pipelined) {
    if (accepted_count == 0) {
      send_data = false;
    } else if (io_status s = co_await io_.write("DATA\r\n"); !s.ok()) {
      co_return fail_io(stage::data, s);
    }
  }
  if (send_data) {
    auto data = co_await read_reply();
    if (!data.ok()) co_return fail_io(stage::data, data.status());
    if (closing(*data)) {
      note(stage::data, *data);
      r.session_usable = false;
      co_return r;
    }
    if (data->code == 354 && (!mail_ok || accepted_count == 0)) {
      // RFC 2920 section 3.1: a server may answer a pipelined DATA with 354 although no
      // recipient was accepted; the client then sends the end-of-data line alone.
      if (io_status s = co_await io_.write(".\r\n"); !s.ok()) co_return fail_io(stage::message, s);
      auto end = co_await read_reply();
      if (!end.ok()) co_return fail_io(stage::message, end.status());
      needs_reset = false;
    } else if (data->code == 354) {
      if (io_status s = co_await io_.write(payload); !s.ok()) co_return fail_io(stage::message, s);
      needs_reset = false;  // after the final reply(ies) the transaction is over either way
      // RFC 2033 section 4.2: LMTP answers once per accepted recipient, in RCPT order.
      const size_t replies = options_.lmtp ? accepted_count : 1;
      size_t next = 0;
      for (size_t k = 0; k < replies; ++k) {
        auto done = co_await read_reply();
        if (!done.ok()) co_return fail_io(stage::message, done.status());
        if (options_.lmtp) {
          while (!accepted[next]) ++next;
          if (positive(*done)) r.delivered[next] = true;
          ++next;
        } else if (positive(*done)) {
          r.delivered = accepted;
        }
        if (!positive(*done)) note(stage::message, *done);
        if (closing(*done)) {
          r.session_usable = false;
          co_return r;
        }
      }
    } else {
      note(stage::data, *data);
    }
  }

  if (needs_reset) {
    // The server still holds the envelope: RSET (RFC 5321 section 4.1.1.5) before the next MAIL.
    auto rset = co_await command("RSET\r\n");
    if (!rset.ok() || !positive(*rset)) r.session_usable = false;
  }
  co_return r;
}

task<void> smtp_client::quit() {
  // The 221 (or anything else) ends the session; a server that hangs up first is fine too.
  io_status sent = co_await io_.write("QUIT\r\n");
  if (sent.ok()) (void)co_await read_reply();
  co_await io_.close();
}

task<void> smtp_client::close() { co_await io_.close(); }

}  // namespace ringmail::load

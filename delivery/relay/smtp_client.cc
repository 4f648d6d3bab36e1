#include "delivery/relay/smtp_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "mail/dot_stuffing.h"

namespace ringmail::relay {
namespace {

// Payload bytes dot-stuffed and written per write (send_message): large enough that the
// write count stays small, small enough that a big message is never copied whole.
constexpr size_t kDataBlock = 64 * 1024;

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

// A reply the client makes up for itself (it refuses before sending anything).
smtp_reply local_reply(int code, enhanced_status e, std::string_view text) {
  smtp_reply r;
  r.code = code;
  r.enhanced = e;
  r.text = e.str();
  r.text.push_back(' ');
  r.text.append(text);
  return r;
}

}  // namespace

const char* stage_name(stage s) {
  switch (s) {
    case stage::connect: return "connect";
    case stage::greeting: return "greeting";
    case stage::hello: return "hello";
    case stage::starttls: return "starttls";
    case stage::tls_handshake: return "tls_handshake";
    case stage::auth: return "auth";
    case stage::mail: return "mail";
    case stage::rcpt: return "rcpt";
    case stage::data: return "data";
    case stage::message: return "message";
    case stage::rset: return "rset";
    case stage::quit: return "quit";
  }
  return "?";
}

std::string failure::text() const {
  std::string_view d = detail;
  std::string what;
  if (kind != outcome::error) {
    what = detail;
  } else if (d.starts_with("error:")) {
    what = d.substr(6);
  } else if (d == "closed") {
    what = "connection closed by the server";
  } else if (d == "reset") {
    what = "connection reset by the server";
  } else if (d == "timeout") {
    what = "timed out";
  } else if (d == "tls_error") {
    what = "TLS handshake failed";
  } else {
    what = detail;
  }
  return absl::StrCat(what, " (at ", stage_name(at), ")");
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
    : options_(options),
      io_(std::move(conn), stream_options{options.timeouts.greeting, options.timeouts.data_block}, options.cancel) {}

smtp_client::~smtp_client() = default;

tls_details smtp_client::tls_info() const {
  if (!io_.tls_active()) return {};
  return {io_.tls_version(), io_.tls_cipher()};
}

task<open_result> smtp_client::open(const socket_address& server, const client_options& options) {
  open_result result;
  auto conn = co_await connect_to(server, options.timeouts.connect, options.cancel,
                                  options.source ? &*options.source : nullptr);
  if (!conn.ok()) {
    result.why = io_failure(stage::connect, conn.status());
    co_return result;
  }
  std::unique_ptr<smtp_client> client(new smtp_client(std::move(conn).value(), options));
  // RFC 5321 section 3.1: wait for the greeting; 554 means "no service here" and the
  // client should still QUIT; 421 means the server is closing.
  auto greeting = co_await client->read_reply(options.timeouts.greeting);
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
  std::optional<failure> f = co_await client->hello();
  if (!f && options.starttls != tls_policy::none) f = co_await client->starttls();
  if (!f && options.auth) f = co_await client->authenticate();
  if (f) {
    result.why = std::move(*f);
    // A refusal leaves the session open: say goodbye. Broken ones just close.
    if (result.why.kind == outcome::error) {
      co_await client->close();
    } else {
      co_await client->quit();
    }
    co_return result;
  }
  result.client = std::move(client);
  co_return result;
}

task<io_result<smtp_reply>> smtp_client::read_reply(duration timeout) {
  io_.set_read_timeout(timeout);
  reply_assembler assembler;
  for (;;) {
    auto line = co_await io_.read_line(kMaxReplyLine);
    if (!line.ok()) co_return line.status().kind == io_kind::too_long ? protocol_error() : line.status();
    switch (assembler.add(*line)) {
      case reply_assembler::status::need_more: break;
      case reply_assembler::status::complete: co_return assembler.take();
      case reply_assembler::status::error: co_return protocol_error();
    }
  }
}

task<io_result<smtp_reply>> smtp_client::command(std::string_view line, duration timeout) {
  io_status sent = co_await io_.write(line);
  if (!sent.ok()) co_return sent;
  co_return co_await read_reply(timeout);
}

task<std::optional<failure>> smtp_client::hello() {
  out_.clear();
  absl::StrAppend(&out_, options_.lmtp ? "LHLO " : "EHLO ", options_.helo_name, "\r\n");
  auto reply = co_await command(out_, options_.timeouts.command);
  if (!reply.ok()) co_return io_failure(stage::hello, reply.status());
  if (positive(*reply)) {
    offered_ = parse_extensions(*reply);
    co_return std::nullopt;
  }
  // RFC 5321 section 3.2: a server that does not know EHLO answers "command not
  // recognized" (500) or "not implemented" (502); fall back to HELO. LMTP has no such
  // fallback (RFC 2033 section 4.1).
  if (options_.lmtp || (reply->code != 500 && reply->code != 502)) co_return reply_failure(stage::hello, *reply);
  out_.clear();
  absl::StrAppend(&out_, "HELO ", options_.helo_name, "\r\n");
  auto helo = co_await command(out_, options_.timeouts.command);
  if (!helo.ok()) co_return io_failure(stage::hello, helo.status());
  if (!positive(*helo)) co_return reply_failure(stage::hello, *helo);
  offered_ = extensions{};
  co_return std::nullopt;
}

task<std::optional<failure>> smtp_client::starttls() {
  if (!offered_.starttls) {
    if (options_.starttls == tls_policy::opportunistic) co_return std::nullopt;
    co_return failure{outcome::error, stage::starttls, "STARTTLS not offered"};
  }
  if (options_.tls == nullptr) co_return failure{outcome::error, stage::starttls, "no TLS context"};
  auto reply = co_await command("STARTTLS\r\n", options_.timeouts.command);
  if (!reply.ok()) co_return io_failure(stage::starttls, reply.status());
  if (reply->code != 220) {
    // RFC 3207 section 4: a refused STARTTLS (454 TLS not available) leaves the session
    // in plaintext; the opportunistic policy goes on without it.
    if (options_.starttls == tls_policy::opportunistic && !closing(*reply)) co_return std::nullopt;
    co_return reply_failure(stage::starttls, *reply);
  }
  // SNI only with a name: the relay knows the MX host name, tests and ringmail-load may
  // connect by address, and SNI carries no IP literals (RFC 6066 section 3).
  io_status st = co_await io_.start_tls(options_.tls, tls::role::client, options_.tls_host);
  if (!st.ok()) co_return io_failure(stage::tls_handshake, st);
  // RFC 3207 section 4.2: forget what was learnt before TLS and ask again.
  offered_ = extensions{};
  co_return co_await hello();
}

task<std::optional<failure>> smtp_client::authenticate() {
  if (!io_.tls_active() && !options_.auth_without_tls) {
    co_return failure{outcome::error, stage::auth, "refusing AUTH without TLS"};
  }
  if (!offered_.offers_auth("PLAIN")) co_return failure{outcome::error, stage::auth, "AUTH PLAIN not offered"};
  // RFC 4616 section 2: authzid NUL authcid NUL passwd; RFC 4954 section 4 lets the
  // initial response ride on the AUTH command.
  std::string secret;
  secret.push_back('\0');
  secret.append(options_.auth->user);
  secret.push_back('\0');
  secret.append(options_.auth->password);
  out_.clear();
  absl::StrAppend(&out_, "AUTH PLAIN ", absl::Base64Escape(secret), "\r\n");
  // Do not leave the password in buffers that outlive this call.
  std::fill(secret.begin(), secret.end(), '\0');
  auto reply = co_await command(out_, options_.timeouts.command);
  std::fill(out_.begin(), out_.end(), '\0');
  out_.clear();
  if (!reply.ok()) co_return io_failure(stage::auth, reply.status());
  if (reply->code != 235) co_return reply_failure(stage::auth, *reply);
  authenticated_ = true;
  co_return std::nullopt;
}

void smtp_client::append_mail(const envelope& env) {
  out_.append("MAIL FROM:<").append(env.from).append(">");
  if (offered_.size) absl::StrAppend(&out_, " SIZE=", env.size);
  if (env.eight_bit && offered_.eight_bit_mime) out_.append(" BODY=8BITMIME");
  // RFC 6531 section 3.4: the parameter goes on MAIL only when the message needs it.
  if (env.smtputf8 && offered_.smtputf8) out_.append(" SMTPUTF8");
  out_.append("\r\n");
}

void smtp_client::append_rcpt(std::string_view rcpt) { out_.append("RCPT TO:<").append(rcpt).append(">\r\n"); }

task<io_status> smtp_client::write_body(std::string_view body, bool stuff) {
  if (!stuff) co_return co_await io_.write(body);
  mail::dot_stuffer stuffer;  // SMTP: a bare CR or LF goes out as CRLF
  do {
    std::string_view block = body.substr(0, kDataBlock);
    body.remove_prefix(block.size());
    out_.clear();
    stuffer.append(block, out_);
    if (body.empty()) stuffer.finish(out_);
    if (io_status s = co_await io_.write(out_); !s.ok()) co_return s;
  } while (!body.empty());
  co_return io_status{};
}

task<transaction_result> smtp_client::send(const envelope& env, std::string_view payload) {
  return transact(env, payload, false);
}

task<transaction_result> smtp_client::send_message(const envelope& env, std::string_view message) {
  return transact(env, message, true);
}

task<transaction_result> smtp_client::transact(const envelope& env, std::string_view body, bool stuff) {
  transaction_result r;
  const size_t n = env.recipients.size();
  r.delivered.assign(n, false);
  r.replies.assign(n, smtp_reply{});
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
  // Refusals decided before anything is sent apply to every recipient alike.
  auto refuse_all = [&](smtp_reply reply) {
    note(stage::mail, reply);
    r.replies.assign(n, reply);
    return std::move(r);
  };

  // RFC 6531 section 3.2: a message that needs SMTPUTF8 must not go to a server that
  // lacks it; the sender gets a non-delivery report with 5.6.7 (RFC 6531 section 3.6).
  if (env.smtputf8 && !offered_.smtputf8) {
    co_return refuse_all(local_reply(553, {5, 6, 7}, "SMTPUTF8 is required but the server does not offer it"));
  }
  // RFC 1870 section 6.1: a message larger than the announced limit is not sent.
  if (offered_.size && offered_.size_limit > 0 && env.size > offered_.size_limit) {
    co_return refuse_all(local_reply(552, {5, 3, 4}, absl::StrCat("message size ", env.size,
                                                                  " exceeds the server's limit of ",
                                                                  offered_.size_limit)));
  }

  // RFC 2920 section 3.1: MAIL and RCPT may go anywhere in a group, DATA only last.
  const bool pipelined = options_.pipelining && offered_.pipelining;
  out_.clear();
  append_mail(env);
  if (pipelined) {
    for (const std::string& rcpt : env.recipients) append_rcpt(rcpt);
    out_.append("DATA\r\n");
  }
  if (io_status s = co_await io_.write(out_); !s.ok()) co_return fail_io(stage::mail, s);

  auto mail = co_await read_reply(options_.timeouts.mail);
  if (!mail.ok()) co_return fail_io(stage::mail, mail.status());
  const bool mail_ok = positive(*mail);
  if (!mail_ok) {
    note(stage::mail, *mail);
    r.replies.assign(n, *mail);
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
    auto rcpt = co_await read_reply(options_.timeouts.rcpt);
    if (!rcpt.ok()) co_return fail_io(stage::rcpt, rcpt.status());
    if (positive(*rcpt)) {
      // Without a MAIL transaction the recipient is not really accepted; it keeps MAIL's reply.
      if (mail_ok) {
        accepted[i] = true;
        ++accepted_count;
        r.replies[i] = std::move(*rcpt);
      }
      continue;
    }
    note(stage::rcpt, *rcpt);
    r.replies[i] = *rcpt;
    if (closing(*rcpt)) {
      r.session_usable = false;
      co_return r;
    }
  }
  // The replies of accepted recipients are replaced below by what decides them.
  auto decide_accepted = [&](const smtp_reply& reply) {
    for (size_t i = 0; i < n; ++i) {
      if (accepted[i]) r.replies[i] = reply;
    }
  };

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
    auto data = co_await read_reply(options_.timeouts.data_init);
    if (!data.ok()) co_return fail_io(stage::data, data.status());
    if (closing(*data)) {
      note(stage::data, *data);
      decide_accepted(*data);
      r.session_usable = false;
      co_return r;
    }
    if (data->code == 354 && accepted_count == 0) {
      // RFC 2920 section 3.1: a server may answer a pipelined DATA with 354 although no
      // recipient was accepted; the client then sends the end-of-data line alone.
      if (io_status s = co_await io_.write(".\r\n"); !s.ok()) co_return fail_io(stage::message, s);
      auto end = co_await read_reply(options_.timeouts.data_end);
      if (!end.ok()) co_return fail_io(stage::message, end.status());
      needs_reset = false;
    } else if (data->code == 354) {
      if (io_status s = co_await write_body(body, stuff); !s.ok()) co_return fail_io(stage::message, s);
      needs_reset = false;  // after the final reply(ies) the transaction is over either way
      // RFC 2033 section 4.2: LMTP answers once per accepted recipient, in RCPT order.
      const size_t replies = options_.lmtp ? accepted_count : 1;
      size_t next = 0;
      for (size_t k = 0; k < replies; ++k) {
        auto done = co_await read_reply(options_.timeouts.data_end);
        if (!done.ok()) co_return fail_io(stage::message, done.status());
        if (options_.lmtp) {
          while (!accepted[next]) ++next;
          if (positive(*done)) r.delivered[next] = true;
          r.replies[next] = *done;
          ++next;
        } else {
          if (positive(*done)) r.delivered = accepted;
          decide_accepted(*done);
        }
        if (!positive(*done)) note(stage::message, *done);
        if (closing(*done)) {
          r.session_usable = false;
          co_return r;
        }
      }
    } else {
      note(stage::data, *data);
      decide_accepted(*data);
    }
  }

  if (needs_reset) {
    // The server still holds the envelope: RSET (RFC 5321 section 4.1.1.5) before the next MAIL.
    auto rset = co_await command("RSET\r\n", options_.timeouts.command);
    if (!rset.ok() || !positive(*rset)) r.session_usable = false;
  }
  co_return r;
}

task<void> smtp_client::quit() {
  // The 221 (or anything else) ends the session; a server that hangs up first is fine too.
  io_status sent = co_await io_.write("QUIT\r\n");
  if (sent.ok()) (void)co_await read_reply(options_.timeouts.command);
  co_await io_.close();
}

task<void> smtp_client::close() { co_await io_.close(); }

}  // namespace ringmail::relay

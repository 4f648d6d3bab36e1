#include "protocols/pop3/session.h"

#include <fcntl.h>

#include <optional>

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "protocols/pop3/command.h"
#include "protocols/pop3/maildrop.h"
#include "protocols/pop3/maildrop_store.h"
#include "protocols/pop3/transfer_encoder.h"
#include "protocols/sasl/sasl_server.h"
#include "runtime/file.h"
#include "runtime/log.h"
#include "runtime/stream.h"

namespace ringmail::pop3 {
namespace {

// Output is written when the client has no further pipelined command buffered, or when
// this much has piled up (a RETR of a big message streams out in pieces of this size).
constexpr size_t kFlushBytes = 256 * 1024;
// A file is read in pieces of at most this size.
constexpr size_t kReadChunk = 256 * 1024;
// AUTH continuation lines are not commands: RFC 5034 section 4 bounds only the AUTH
// command line itself by RFC 2449's 255 octets. PLAIN with 255-octet fields fits.
constexpr size_t kMaxSaslLine = 2048;

constexpr std::string_view kPlaintextRefused =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n";

// RFC 2449 section 8.1.2 / RFC 3206: SYS/TEMP for a problem that may go away, SYS/PERM for
// one an administrator must fix.
bool is_temporary(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kOutOfRange:
      return false;
    default:
      return true;
  }
}

class pop3_session {
 public:
  pop3_session(session& s, const server_config& config, shard_context& shard)
      : s_(s), config_(config), shard_(shard), io_(std::move(s.conn), {config.login_timeout, config.idle_timeout}, &s.cancel) {
    peer_ = io_.conn().peer().host();
    sid_ = log::session_id_string(s.id);
  }

  task<void> run();

 private:
  void ok(std::string_view text) {
    out_.append(text.empty() ? "+OK" : "+OK ").append(text).append("\r\n");
  }
  void err(std::string_view text) { out_.append("-ERR ").append(text).append("\r\n"); }
  // An -ERR for a client's mistake (unknown command, wrong state, bad syntax, failed
  // login): config_.max_errors of them end the session.
  void bad(std::string_view text) {
    err(text);
    ++errors_;
  }
  task<bool> flush();
  bool auth_allowed() const { return io_.tls_active() || config_.allow_plaintext_auth; }

  // false: end the session (QUIT, a failed STLS, a lost connection).
  task<bool> dispatch(const command& c);
  void on_capa();
  task<bool> on_stls();
  void on_user(const command& c);
  task<void> on_pass(const command& c);
  task<void> on_auth(const command& c);
  task<void> finish_login(auth::login_result r);
  // One SASL response line (without its line end); nullopt when the client left.
  task<std::optional<std::string>> read_sasl_line();
  task<bool> on_quit();

  // TRANSACTION
  // The message a RETR/DELE/TOP/LIST n/UIDL n names, or nullopt after an -ERR.
  std::optional<uint32_t> message_arg(std::string_view arg);
  void on_list(const command& c, bool uidl);
  task<bool> on_retr(const command& c, bool top);
  // Streams message `number` (TOP: `body_lines` of its body) after "+OK"; false if the
  // connection failed.
  task<bool> send_message(uint32_t number, std::optional<uint32_t> body_lines);

  session& s_;
  const server_config& config_;
  shard_context& shard_;
  stream io_;
  std::string out_;
  std::string peer_;
  std::string sid_;
  pop3_state state_ = pop3_state::authorization;
  std::string pending_user_;  // USER's argument, until PASS
  std::string user_;          // the normalised login in TRANSACTION
  bool locked_ = false;       // holds the maildrop lock of user_
  maildrop drop_;
  size_t errors_ = 0;
  uint64_t retrieved_ = 0, retrieved_octets_ = 0;
};

task<bool> pop3_session::flush() {
  if (out_.empty()) co_return true;
  io_status st = co_await io_.write(out_);
  out_.clear();
  co_return st.ok();
}

task<void> pop3_session::run() {
  if (config_.implicit_tls) {
    if (!config_.tls) co_return;
    io_status st = co_await io_.start_tls(config_.tls, tls::role::server);
    if (!st.ok()) {
      co_await io_.close();
      co_return;
    }
  }
  ok(absl::StrCat(config_.hostname, " ringmail POP3 ready."));
  bool alive = co_await flush();
  std::string line;
  while (alive) {
    if (s_.stopping()) {
      out_ += "-ERR [SYS/TEMP] Server shutting down.\r\n";
      break;
    }
    // PIPELINING (RFC 2449 section 6.6): answers go out together once no complete
    // command is left in the buffer.
    if (io_.buffered().find('\n') == std::string_view::npos || out_.size() >= kFlushBytes) {
      if (!co_await flush()) break;
    }
    io_.set_read_timeout(state_ == pop3_state::authorization ? config_.login_timeout : config_.idle_timeout);
    io_result<std::string_view> r = co_await io_.read_line(kMaxCommandLine);
    if (!r.ok()) {
      if (r.status().kind == io_kind::too_long) {
        // RFC 2449 section 4: 255 octets with the CRLF. The rest of the line is skipped.
        bad("Input line too long.");
        // Now: the buffer still holds the rest of the long line (skipped by the next
        // read), which would otherwise look like a pipelined command and hold this back.
        if (!co_await flush()) break;
      } else {
        if (r.status().kind == io_kind::timeout) out_ += "-ERR Disconnected for inactivity.\r\n";
        if (s_.stopping()) out_ += "-ERR [SYS/TEMP] Server shutting down.\r\n";
        log::debug("pop3_input_ended", {{"sid", sid_}, {"why", r.status().to_string()}});
        break;
      }
    } else {
      line.assign(*r);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      command c = parse_command(line);
      alive = co_await dispatch(c);
      OPENSSL_cleanse(line.data(), line.size());  // PASS and AUTH lines hold secrets
    }
    if (errors_ >= config_.max_errors) {
      out_ += "-ERR Too many bad commands.\r\n";
      break;
    }
  }
  co_await flush();
  if (locked_) co_await unlock_maildrop(shard_, user_);
  if (!user_.empty()) {
    log::info("pop3_logout", {{"sid", sid_}, {"user", user_}, {"retrieved", std::to_string(retrieved_)},
                              {"octets", std::to_string(retrieved_octets_)}});
  }
  co_await io_.close();
}

task<bool> pop3_session::dispatch(const command& c) {
  const command_info& i = info(c.v);
  if (c.v == verb::unknown) {
    bad("Unknown command.");
    co_return true;
  }
  const bool allowed = state_ == pop3_state::authorization ? i.in_authorization : i.in_transaction;
  if (!allowed) {
    bad(state_ == pop3_state::authorization ? "Unknown command in AUTHORIZATION state (log in first)."
                                            : "Unknown command in TRANSACTION state (already logged in).");
    co_return true;
  }
  switch (c.v) {
    case verb::capa:
      on_capa();
      break;
    case verb::quit:
      co_return co_await on_quit();
    case verb::stls:
      co_return co_await on_stls();
    case verb::user:
      on_user(c);
      break;
    case verb::pass:
      co_await on_pass(c);
      break;
    case verb::apop:
      // Not offered (no APOP timestamp in the greeting): it needs the password in the clear
      // on the server, which Dovecot-style hashes cannot give.
      bad("APOP is not supported; use USER/PASS or AUTH over TLS.");
      break;
    case verb::auth:
      co_await on_auth(c);
      break;
    case verb::stat:
      ok(absl::StrCat(drop_.count(), " ", drop_.octets()));
      break;
    case verb::list:
      on_list(c, false);
      break;
    case verb::uidl:
      on_list(c, true);
      break;
    case verb::retr:
      co_return co_await on_retr(c, false);
    case verb::top:
      co_return co_await on_retr(c, true);
    case verb::dele: {
      if (c.args.size() != 1) {
        bad("DELE takes one message number.");
        break;
      }
      auto n = message_arg(c.args[0]);
      if (!n) break;
      drop_.dele(*n);
      ok("Marked to be deleted.");
      break;
    }
    case verb::noop:
      ok("");
      break;
    case verb::rset:
      drop_.rset();
      ok(absl::StrCat(drop_.count(), " messages (", drop_.octets(), " octets)."));
      break;
    case verb::unknown:
      break;
  }
  co_return true;
}

void pop3_session::on_capa() {
  out_ += "+OK Capability list follows\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n";
  if (state_ == pop3_state::authorization) {
    if (config_.tls && !config_.implicit_tls && !io_.tls_active()) out_ += "STLS\r\n";
    if (auth_allowed()) out_ += "USER\r\nSASL PLAIN LOGIN\r\n";
  }
  out_ += "IMPLEMENTATION ringmail\r\n.\r\n";
}

task<bool> pop3_session::on_stls() {
  if (!config_.tls || config_.implicit_tls || io_.tls_active()) {
    bad(io_.tls_active() ? "TLS is already active." : "STLS is not available.");
    co_return true;
  }
  ok("Begin TLS negotiation now.");
  if (!co_await flush()) co_return false;
  // start_tls drops whatever the client pipelined in plaintext after STLS (RFC 2595
  // section 4: the client "MUST discard cached information"; the server does likewise).
  io_status st = co_await io_.start_tls(config_.tls, tls::role::server);
  if (!st.ok()) co_return false;
  pending_user_.clear();
  co_return true;
}

void pop3_session::on_user(const command& c) {
  if (!auth_allowed()) {
    out_ += kPlaintextRefused;
    ++errors_;
    return;
  }
  if (c.rest.empty()) {
    bad("USER takes a name.");
    return;
  }
  pending_user_.assign(c.rest);
  ok("");
}

task<void> pop3_session::on_pass(const command& c) {
  if (!auth_allowed()) {
    out_ += kPlaintextRefused;
    ++errors_;
    co_return;
  }
  if (pending_user_.empty()) {
    bad("No username given.");
    co_return;
  }
  // RFC 1939 section 7: the server "may treat spaces in the argument as part of the
  // password": the whole rest of the line is the password.
  std::string password(c.rest);
  std::string name = std::move(pending_user_);
  pending_user_.clear();
  const std::string client = auth::client_key(io_.conn().peer().native());
  auto login = shard_.auth->login(std::move(name), std::move(password), client);
  auth::login_result r = co_await std::move(login);
  co_await finish_login(std::move(r));
}

task<std::optional<std::string>> pop3_session::read_sasl_line() {
  if (!co_await flush()) co_return std::nullopt;
  io_result<std::string_view> r = co_await io_.read_line(kMaxSaslLine);
  if (!r.ok()) co_return std::nullopt;
  std::string line(*r);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  co_return line;
}

task<void> pop3_session::on_auth(const command& c) {
  if (c.args.empty()) {
    // The mechanism list of RFC 1734, which clients before CAPA still ask for.
    if (auth_allowed()) {
      out_ += "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n";
    } else {
      out_ += "+OK\r\n.\r\n";
    }
    co_return;
  }
  if (!auth_allowed()) {
    out_ += kPlaintextRefused;
    ++errors_;
    co_return;
  }
  auto mech = sasl::parse_mechanism(c.args[0]);
  if (!mech || c.args.size() > 2) {
    bad(mech ? "AUTH takes a mechanism and an optional initial response." : "Unsupported authentication mechanism.");
    co_return;
  }
  sasl::server exchange(*mech);
  std::optional<std::string_view> initial;
  if (c.args.size() == 2) initial = c.args[1];
  sasl::step step = exchange.start(initial);
  while (step.k == sasl::step::kind::challenge) {
    absl::StrAppend(&out_, "+ ", step.challenge_base64, "\r\n");
    std::optional<std::string> line = co_await read_sasl_line();
    if (!line) {
      bad("Authentication response too long or connection lost.");
      co_return;
    }
    step = exchange.feed(*line);
    OPENSSL_cleanse(line->data(), line->size());
  }
  if (step.k == sasl::step::kind::error) {
    if (step.code == sasl::error_code::cancelled) {
      err("Authentication cancelled.");
    } else if (step.code == sasl::error_code::authzid_not_allowed) {
      bad("[AUTH] Proxy authorization is not allowed.");
    } else {
      bad("Invalid authentication response.");
    }
    co_return;
  }
  const std::string client = auth::client_key(io_.conn().peer().native());
  std::string password = step.creds.password;
  auto login = shard_.auth->login(step.creds.authcid, std::move(password), client);
  auth::login_result r = co_await std::move(login);
  co_await finish_login(std::move(r));
}

task<void> pop3_session::finish_login(auth::login_result r) {
  switch (r.outcome) {
    case auth::login_outcome::ok:
      break;
    case auth::login_outcome::temporary_failure:
      err("[SYS/TEMP] Temporary authentication failure, try again later.");
      co_return;
    case auth::login_outcome::throttled:
    case auth::login_outcome::bad_credentials:
      bad("[AUTH] Authentication failed.");
      log::info("pop3_login_failed", {{"sid", sid_}, {"ip", peer_}, {"reason", r.reason}});
      co_return;
  }
  if (!co_await lock_maildrop(shard_, r.user)) {
    err("[IN-USE] Mailbox is locked by another POP3 session.");
    log::info("pop3_login_in_use", {{"sid", sid_}, {"ip", peer_}, {"user", r.user}});
    co_return;
  }
  absl::StatusOr<maildrop> drop = co_await load_maildrop(*shard_.stores, r.user);
  if (!drop.ok()) {
    co_await unlock_maildrop(shard_, r.user);
    err(is_temporary(drop.status()) ? "[SYS/TEMP] Mailbox cannot be opened, try again later."
                                    : "[SYS/PERM] Mailbox cannot be opened.");
    log::warn("pop3_maildrop_failed", {{"sid", sid_}, {"user", r.user}, {"reason", drop.status().ToString()}});
    co_return;
  }
  drop_ = std::move(*drop);
  user_ = std::move(r.user);
  locked_ = true;
  state_ = pop3_state::transaction;
  errors_ = 0;  // a client that logged in gets its full allowance of mistakes
  log::info("pop3_login", {{"sid", sid_}, {"ip", peer_}, {"user", user_}, {"messages", std::to_string(drop_.size())}});
  ok("Logged in.");
}

task<bool> pop3_session::on_quit() {
  if (state_ == pop3_state::transaction) {
    // The UPDATE state (RFC 1939 section 6).
    std::vector<uint32_t> deleted = drop_.deleted_uids();
    const size_t count = deleted.size();
    absl::Status st = co_await apply_update(*shard_.stores, user_, std::move(deleted), drop_.retrieved_uids());
    if (!st.ok()) {
      log::warn("pop3_update_failed", {{"sid", sid_}, {"user", user_}, {"reason", st.ToString()}});
      out_ += "-ERR [SYS/TEMP] Some deleted messages were not removed.\r\n";
      co_return false;
    }
    if (count > 0) log::info("pop3_expunged", {{"sid", sid_}, {"user", user_}, {"messages", std::to_string(count)}});
    // Released before the reply: a fetcher that reconnects as soon as it reads +OK must
    // not find its own maildrop still locked.
    co_await unlock_maildrop(shard_, user_);
    locked_ = false;
  }
  out_ += "+OK Logging out.\r\n";
  co_return false;
}

std::optional<uint32_t> pop3_session::message_arg(std::string_view arg) {
  std::optional<uint32_t> n = parse_message_number(arg);
  if (!n) {
    bad("Invalid message number.");
    return std::nullopt;
  }
  switch (drop_.find(*n)) {
    case maildrop::lookup::ok:
      return n;
    case maildrop::lookup::no_such_message:
      err("There's no message " + std::to_string(*n) + ".");
      return std::nullopt;
    case maildrop::lookup::deleted:
      err("Message is deleted.");
      return std::nullopt;
  }
  return std::nullopt;
}

void pop3_session::on_list(const command& c, bool uidl) {
  if (c.args.size() > 1) {
    bad(uidl ? "UIDL takes at most one message number." : "LIST takes at most one message number.");
    return;
  }
  if (c.args.size() == 1) {
    auto n = message_arg(c.args[0]);
    if (!n) return;
    if (uidl) {
      ok(absl::StrCat(*n, " ", drop_.uidl(*n)));
    } else {
      ok(absl::StrCat(*n, " ", drop_.at(*n).size));
    }
    return;
  }
  if (uidl) {
    out_ += "+OK\r\n";
  } else {
    absl::StrAppend(&out_, "+OK ", drop_.count(), " messages (", drop_.octets(), " octets)\r\n");
  }
  for (uint32_t n = 1; n <= drop_.size(); ++n) {
    if (drop_.find(n) != maildrop::lookup::ok) continue;
    if (uidl) {
      absl::StrAppend(&out_, n, " ", drop_.uidl(n), "\r\n");
    } else {
      absl::StrAppend(&out_, n, " ", drop_.at(n).size, "\r\n");
    }
  }
  out_ += ".\r\n";
}

task<bool> pop3_session::on_retr(const command& c, bool top) {
  if (c.args.size() != (top ? 2u : 1u)) {
    bad(top ? "TOP takes a message number and a line count." : "RETR takes one message number.");
    co_return true;
  }
  std::optional<uint32_t> lines;
  if (top) {
    lines = parse_line_count(c.args[1]);
    if (!lines) {
      bad("Invalid line count.");
      co_return true;
    }
  }
  auto n = message_arg(c.args[0]);
  if (!n) co_return true;
  co_return co_await send_message(*n, lines);
}

task<bool> pop3_session::send_message(uint32_t number, std::optional<uint32_t> body_lines) {
  maildrop_message& m = drop_.at(number);
  auto f = co_await file::open(m.path, O_RDONLY | O_CLOEXEC);
  // Another session's flag change renames the file: ask the owner where it is now, a
  // few times; gone for good means another session expunged it.
  for (int attempt = 0; !f.ok() && attempt < 3; ++attempt) {
    std::string path = co_await current_path(*shard_.stores, user_, m.uid);
    if (path.empty()) break;
    m.path = std::move(path);
    f = co_await file::open(m.path, O_RDONLY | O_CLOEXEC);
  }
  if (!f.ok()) {
    err("Message has been removed by another session.");
    co_return true;
  }
  if (body_lines) {
    out_ += "+OK\r\n";
  } else {
    absl::StrAppend(&out_, "+OK ", m.size, " octets\r\n");
  }
  transfer_encoder encoder(body_lines);
  std::string chunk;
  uint64_t offset = 0;
  // One byte more than the file's size, so a file of that size ends in one read.
  size_t want = m.file_size > 0 && m.file_size < kReadChunk ? static_cast<size_t>(m.file_size) + 1 : kReadChunk;
  bool failed = false;
  while (!encoder.done()) {
    chunk.resize(want);
    auto got = co_await f->read_at(std::span<char>(chunk.data(), want), offset);
    if (!got.ok()) {
      // The "+OK" is already out: the response can only be cut short. The client sees a
      // connection that ends without the terminating dot, so it keeps nothing half-read.
      log::warn("pop3_read_failed", {{"sid", sid_}, {"user", user_}, {"path", m.path}, {"error", got.status().to_string()}});
      failed = true;
      break;
    }
    encoder.feed(std::string_view(chunk.data(), *got), &out_);
    offset += *got;
    if (*got == 0 || (*got < want && offset >= m.file_size)) break;
    want = kReadChunk;
    if (out_.size() >= kFlushBytes && !co_await flush()) {
      failed = true;
      break;
    }
  }
  co_await f->close();
  if (failed) {
    out_.clear();
    co_return false;
  }
  encoder.finish(&out_);
  if (!body_lines) {
    m.retrieved = true;
    ++retrieved_;
    retrieved_octets_ += m.size;
  }
  co_return true;
}

}  // namespace

task<void> run_session(session& s, const server_config& config, shard_context& shard) {
  pop3_session session(s, config, shard);
  co_await session.run();
}

}  // namespace ringmail::pop3

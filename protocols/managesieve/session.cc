#include "protocols/managesieve/session.h"

#include <optional>

#include <openssl/crypto.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "delivery/sieve/checker.h"
#include "delivery/sieve/extensions.h"
#include "protocols/managesieve/command.h"
#include "protocols/sasl/sasl_server.h"
#include "runtime/log.h"
#include "runtime/stream.h"

namespace ringmail::managesieve {
namespace {

// Output goes out when no further complete command is buffered, or past this much.
constexpr size_t kFlushBytes = 256 * 1024;

// Before login only AUTHENTICATE carries a string worth having (a PLAIN response of two
// 255-octet fields is under 700 octets of base64): small limits keep an anonymous client
// from making us buffer a megabyte.
parser_limits login_limits() {
  parser_limits l;
  l.max_line = 4096;
  l.max_literal = 4096;
  l.max_command = 8192;
  return l;
}
// After login: a script literal up to twice the store's limit is read and answered with
// NO (QUOTA/MAXSIZE); only beyond that is the client cut off.
parser_limits user_limits(size_t max_script_bytes) {
  parser_limits l;
  l.max_literal = std::max<size_t>(2 * max_script_bytes, 64 * 1024);
  l.max_command = l.max_literal + 64 * 1024;
  return l;
}

enum class state { non_authenticated, authenticated };

// A quoted string for the human-readable part of a response (never a literal: every
// client reads those; control characters cannot occur in our own texts).
std::string text(std::string_view s) {
  std::string out;
  append_string(out, s);
  return out;
}

class managesieve_session {
 public:
  managesieve_session(session& s, const server_config& config, shard_context& shard)
      : s_(s),
        config_(config),
        shard_(shard),
        io_(std::move(s.conn), {config.login_timeout, config.idle_timeout}, &s.cancel),
        reader_(login_limits()) {
    peer_ = io_.conn().peer().host();
    sid_ = log::session_id_string(s.id);
  }

  task<void> run();

 private:
  // "OK", "NO" or "BYE", with an optional response code (without its parentheses) and
  // human-readable text (RFC 5804 section 4 `response-oknobye`).
  void reply(std::string_view kind, std::string_view code, std::string_view human) {
    out_.append(kind);
    if (!code.empty()) out_.append(" (").append(code).append(")");
    if (!human.empty()) out_.append(" ").append(text(human));
    out_.append("\r\n");
  }
  void ok(std::string_view human, std::string_view code = {}) { reply("OK", code, human); }
  void no(std::string_view human, std::string_view code = {}) { reply("NO", code, human); }
  // A NO for the client's mistake: config_.max_errors of them end the session.
  void bad(std::string_view human, std::string_view code = {}) {
    no(human, code);
    ++errors_;
  }
  task<bool> flush();
  bool auth_allowed() const { return io_.tls_active() || config_.allow_plaintext_auth; }
  bool starttls_offered() const { return config_.tls && !io_.tls_active() && state_ == state::non_authenticated; }
  void capabilities();
  // Maps a store error onto a NO with its response code (RFC 5804 1.3).
  void store_error(const absl::Status& st, std::string_view what);

  // false: end the session (LOGOUT, a failed STARTTLS, a lost connection).
  task<bool> dispatch(command& c);
  task<bool> on_starttls(const command& c);
  task<bool> on_authenticate(command& c);
  // One AUTHENTICATE response (RFC 5804 2.1): the string, or nullopt when the client
  // cancelled (`cancelled`) or the connection failed.
  task<std::optional<std::string>> read_response(bool& cancelled, bool& alive);
  task<void> on_havespace(const command& c);
  task<void> on_putscript(command& c);
  void on_checkscript(const command& c);
  task<void> on_listscripts(const command& c);
  task<void> on_setactive(const command& c);
  task<void> on_getscript(const command& c);
  task<void> on_deletescript(const command& c);
  task<void> on_renamescript(const command& c);
  void on_noop(const command& c);

  // Argument checks: `count` arguments, each a string (RFC 5804's sieve-name and
  // script are strings; HAVESPACE's size is a number, checked there). A NO if not.
  bool expect_strings(const command& c, size_t count, const char* usage);
  // Compiles `script` for PUTSCRIPT/CHECKSCRIPT: the warnings' text ("" for none), or
  // nullopt after a NO with the checker's error.
  std::optional<std::string> validate(std::string_view script);

  session& s_;
  const server_config& config_;
  shard_context& shard_;
  stream io_;
  command_reader reader_;
  std::string out_;
  std::string peer_;
  std::string sid_;
  state state_ = state::non_authenticated;
  std::string user_;
  size_t errors_ = 0;
};

task<bool> managesieve_session::flush() {
  if (out_.empty()) co_return true;
  io_status st = co_await io_.write(out_);
  out_.clear();
  co_return st.ok();
}

void managesieve_session::capabilities() {
  // RFC 5804 1.7: one capability per line, name and value quoted.
  out_ += "\"IMPLEMENTATION\" \"ringmail\"\r\n";
  if (state_ == state::non_authenticated) {
    out_ += auth_allowed() ? "\"SASL\" \"PLAIN LOGIN\"\r\n" : "\"SASL\" \"\"\r\n";
  }
  absl::StrAppend(&out_, "\"SIEVE\" ", text(sieve::capability_string()), "\r\n");
  if (starttls_offered()) out_ += "\"STARTTLS\"\r\n";
  absl::StrAppend(&out_, "\"MAXREDIRECTS\" \"", config_.max_redirects, "\"\r\n");
  if (state_ == state::authenticated) absl::StrAppend(&out_, "\"OWNER\" ", text(user_), "\r\n");
  out_ += "\"UNAUTHENTICATE\"\r\n";
  out_ += "\"VERSION\" \"1.0\"\r\n";
}

task<void> managesieve_session::run() {
  capabilities();
  ok(absl::StrCat(config_.hostname, " ringmail ManageSieve ready."));
  bool alive = co_await flush();
  while (alive) {
    if (s_.stopping()) {
      reply("BYE", "TRYLATER", "Server shutting down.");
      break;
    }
    command_reader::result r = reader_.next(io_.buffered());
    if (r.k == command_reader::result::kind::need_more) {
      if (!co_await flush()) break;
      io_.set_read_timeout(state_ == state::non_authenticated ? config_.login_timeout : config_.idle_timeout);
      io_status st = co_await io_.read_more();
      if (!st.ok()) {
        if (st.kind == io_kind::timeout) reply("BYE", "", "Disconnected for inactivity.");
        if (s_.stopping()) reply("BYE", "TRYLATER", "Server shutting down.");
        log::debug("managesieve_input_ended", {{"sid", sid_}, {"why", st.to_string()}});
        break;
      }
      continue;
    }
    io_.consume(r.consumed);
    if (r.k == command_reader::result::kind::error) {
      if (r.close) {
        reply("BYE", "", r.message);
        break;
      }
      bad(r.message);
    } else {
      alive = co_await dispatch(r.cmd);
      // AUTHENTICATE's initial response and PUTSCRIPT's script are not logged or kept.
      for (argument& a : r.cmd.args) OPENSSL_cleanse(a.value.data(), a.value.size());
    }
    if (errors_ >= config_.max_errors) {
      reply("BYE", "", "Too many errors.");
      break;
    }
    if (out_.size() >= kFlushBytes && !co_await flush()) break;
  }
  co_await flush();
  if (!user_.empty()) log::info("managesieve_logout", {{"sid", sid_}, {"user", user_}});
  co_await io_.close();
}

bool managesieve_session::expect_strings(const command& c, size_t count, const char* usage) {
  bool fine = c.args.size() == count;
  for (size_t i = 0; fine && i < count; ++i) fine = c.args[i].k == argument::kind::string;
  if (!fine) bad(usage);
  return fine;
}

task<bool> managesieve_session::dispatch(command& c) {
  const std::string& n = c.name;
  // Any state (RFC 5804 2.4, 2.3, 2.11).
  if (n == "CAPABILITY") {
    if (!c.args.empty()) {
      bad("CAPABILITY takes no arguments.");
      co_return true;
    }
    capabilities();
    ok("Capability completed.");
    co_return true;
  }
  if (n == "LOGOUT") {
    ok("Logout completed.");
    co_return false;
  }
  if (n == "NOOP") {
    on_noop(c);
    co_return true;
  }
  if (state_ == state::non_authenticated) {
    if (n == "STARTTLS") co_return co_await on_starttls(c);
    if (n == "AUTHENTICATE") co_return co_await on_authenticate(c);
    static constexpr std::string_view kAfterLogin[] = {"HAVESPACE",    "PUTSCRIPT",      "CHECKSCRIPT",
                                                       "LISTSCRIPTS",  "SETACTIVE",      "GETSCRIPT",
                                                       "DELETESCRIPT", "RENAMESCRIPT",   "UNAUTHENTICATE"};
    for (std::string_view known : kAfterLogin) {
      if (n == known) {
        bad("Authenticate first.");
        co_return true;
      }
    }
    bad("Unknown command.");
    co_return true;
  }
  if (n == "HAVESPACE") {
    co_await on_havespace(c);
  } else if (n == "PUTSCRIPT") {
    co_await on_putscript(c);
  } else if (n == "CHECKSCRIPT") {
    on_checkscript(c);
  } else if (n == "LISTSCRIPTS") {
    co_await on_listscripts(c);
  } else if (n == "SETACTIVE") {
    co_await on_setactive(c);
  } else if (n == "GETSCRIPT") {
    co_await on_getscript(c);
  } else if (n == "DELETESCRIPT") {
    co_await on_deletescript(c);
  } else if (n == "RENAMESCRIPT") {
    co_await on_renamescript(c);
  } else if (n == "UNAUTHENTICATE") {
    // RFC 5804 2.14: back to the non-authenticated state; TLS stays.
    if (!c.args.empty()) {
      bad("UNAUTHENTICATE takes no arguments.");
      co_return true;
    }
    log::info("managesieve_unauthenticate", {{"sid", sid_}, {"user", user_}});
    user_.clear();
    state_ = state::non_authenticated;
    reader_.set_limits(login_limits());
    ok("Unauthenticate completed.");
  } else if (n == "AUTHENTICATE" || n == "STARTTLS") {
    bad(n == "STARTTLS" ? "STARTTLS only before authentication." : "Already authenticated.");
  } else {
    bad("Unknown command.");
  }
  co_return true;
}

void managesieve_session::on_noop(const command& c) {
  // RFC 5804 2.11: an optional string, echoed in the TAG response code.
  if (c.args.size() > 1 || (c.args.size() == 1 && c.args[0].k != argument::kind::string)) {
    bad("NOOP takes an optional string.");
    return;
  }
  if (c.args.empty()) {
    ok("NOOP completed.");
    return;
  }
  ok("Done", absl::StrCat("TAG ", text(c.args[0].value)));
}

task<bool> managesieve_session::on_starttls(const command& c) {
  if (!c.args.empty()) {
    bad("STARTTLS takes no arguments.");
    co_return true;
  }
  if (!config_.tls || io_.tls_active()) {
    bad(io_.tls_active() ? "TLS is already active." : "STARTTLS is not available.");
    co_return true;
  }
  ok("Begin TLS negotiation now.");
  if (!co_await flush()) co_return false;
  // start_tls drops whatever the client pipelined in plaintext after STARTTLS.
  io_status st = co_await io_.start_tls(config_.tls, tls::role::server);
  if (!st.ok()) {
    log::debug("managesieve_starttls_failed", {{"sid", sid_}, {"ip", peer_}, {"why", st.to_string()}});
    co_return false;
  }
  // RFC 5804 2.2: "After the TLS layer is established, the server MUST re-issue the
  // capability results, followed by an OK response."
  capabilities();
  ok("TLS negotiation successful.");
  co_return true;
}

task<std::optional<std::string>> managesieve_session::read_response(bool& cancelled, bool& alive) {
  cancelled = false;
  if (!co_await flush()) {
    alive = false;
    co_return std::nullopt;
  }
  for (;;) {
    command_reader::result r = reader_.next_response(io_.buffered());
    if (r.k == command_reader::result::kind::need_more) {
      io_status st = co_await io_.read_more();
      if (!st.ok()) {
        alive = false;
        co_return std::nullopt;
      }
      continue;
    }
    io_.consume(r.consumed);
    if (r.k == command_reader::result::kind::error) {
      if (r.close) alive = false;
      co_return std::nullopt;
    }
    // RFC 5804 2.1: a client cancels with "*" (quoted or not, as clients differ).
    if (r.cmd.args.size() == 1 && r.cmd.args[0].value == "*") {
      cancelled = true;
      co_return std::nullopt;
    }
    if (r.cmd.args.size() != 1 || r.cmd.args[0].k != argument::kind::string) {
      for (argument& a : r.cmd.args) OPENSSL_cleanse(a.value.data(), a.value.size());
      co_return std::nullopt;
    }
    co_return std::move(r.cmd.args[0].value);
  }
}

task<bool> managesieve_session::on_authenticate(command& c) {
  if (c.args.empty() || c.args.size() > 2 || c.args[0].k != argument::kind::string ||
      (c.args.size() == 2 && c.args[1].k != argument::kind::string)) {
    bad("AUTHENTICATE takes a mechanism name and an optional initial response, as strings.");
    co_return true;
  }
  if (!auth_allowed()) {
    bad("Plaintext authentication disallowed on non-secure connections.", "ENCRYPT-NEEDED");
    co_return true;
  }
  auto mech = sasl::parse_mechanism(c.args[0].value);
  if (!mech) {
    bad("Unsupported authentication mechanism.");
    co_return true;
  }
  sasl::server exchange(*mech);
  std::optional<std::string_view> initial;
  // An empty string is an empty initial response; the SASL code spells that "=".
  if (c.args.size() == 2) initial = c.args[1].value.empty() ? std::string_view("=") : std::string_view(c.args[1].value);
  sasl::step step = exchange.start(initial);
  bool alive = true;
  while (step.k == sasl::step::kind::challenge) {
    // RFC 5804 2.1: the challenge is a string, on a line of its own.
    absl::StrAppend(&out_, text(step.challenge_base64), "\r\n");
    bool cancelled = false;
    std::optional<std::string> line = co_await read_response(cancelled, alive);
    if (!alive) co_return false;
    if (!line) {
      if (cancelled) {
        no("Authentication cancelled.");
      } else {
        bad("Invalid authentication response.");
      }
      co_return true;
    }
    step = exchange.feed(*line);
    OPENSSL_cleanse(line->data(), line->size());
  }
  if (step.k == sasl::step::kind::error) {
    if (step.code == sasl::error_code::cancelled) {
      no("Authentication cancelled.");
    } else if (step.code == sasl::error_code::authzid_not_allowed) {
      bad("Proxy authorization is not allowed.");
    } else {
      bad("Invalid authentication response.");
    }
    co_return true;
  }
  const std::string client = auth::client_key(io_.conn().peer().native());
  std::string password = step.creds.password;
  auto login = shard_.auth->login(step.creds.authcid, std::move(password), client);
  auth::login_result r = co_await std::move(login);
  switch (r.outcome) {
    case auth::login_outcome::ok:
      break;
    case auth::login_outcome::temporary_failure:
      no("Temporary authentication failure, try again later.", "TRYLATER");
      co_return true;
    case auth::login_outcome::throttled:
    case auth::login_outcome::bad_credentials:
      bad("Authentication failed.");
      log::info("managesieve_login_failed", {{"sid", sid_}, {"ip", peer_}, {"reason", r.reason}});
      co_return true;
  }
  user_ = std::move(r.user);
  state_ = state::authenticated;
  errors_ = 0;
  reader_.set_limits(user_limits(config_.max_script_bytes));
  log::info("managesieve_login", {{"sid", sid_}, {"ip", peer_}, {"user", user_}});
  ok("Logged in.");
  co_return true;
}

void managesieve_session::store_error(const absl::Status& st, std::string_view what) {
  switch (st.code()) {
    case absl::StatusCode::kNotFound:
      no("There is no script by that name.", "NONEXISTENT");
      return;
    case absl::StatusCode::kAlreadyExists:
      no("A script by that name already exists.", "ALREADYEXISTS");
      return;
    case absl::StatusCode::kFailedPrecondition:
      // The store's one precondition a client can meet: deleting the active script.
      no(std::string(st.message()), "ACTIVE");
      return;
    case absl::StatusCode::kResourceExhausted: {
      // RFC 5804 1.3: QUOTA/MAXSCRIPTS for the count, QUOTA/MAXSIZE for one script's
      // size, plain QUOTA for the total. The store says which in its message
      // (script_store.cc check_space: "too many scripts", "script of N bytes").
      std::string_view code = "QUOTA";
      const std::string message(st.message());
      if (absl::StartsWith(message, "too many scripts")) code = "QUOTA/MAXSCRIPTS";
      if (absl::StartsWith(message, "script of")) code = "QUOTA/MAXSIZE";
      no(std::string(st.message()), code);
      return;
    }
    case absl::StatusCode::kInvalidArgument:
      // A script name RFC 5804 1.6 (and our file names) do not allow; script text was
      // checked before (validate).
      no(std::string(st.message()));
      return;
    default:
      log::warn("managesieve_store_failed", {{"sid", sid_}, {"user", user_}, {"op", std::string(what)},
                                             {"reason", st.ToString()}});
      no("The scripts cannot be reached now, try again later.", "TRYLATER");
      return;
  }
}

std::optional<std::string> managesieve_session::validate(std::string_view script) {
  sieve::parse_limits limits;
  limits.max_script_bytes = config_.max_script_bytes;
  auto checked = sieve::compile_script(script, limits);
  if (!checked.ok()) {
    // The checker's "line L, column C: ..." (RFC 5804 2.6: the human-readable text of
    // the NO should say what is wrong and where).
    no(std::string(checked.status().message()));
    return std::nullopt;
  }
  std::string warnings;
  for (const sieve::diagnostic& d : checked->warnings) {
    if (!warnings.empty()) warnings += "; ";
    warnings += d.message;
  }
  return warnings;
}

task<void> managesieve_session::on_havespace(const command& c) {
  if (c.args.size() != 2 || c.args[0].k != argument::kind::string || c.args[1].k != argument::kind::atom) {
    bad("HAVESPACE takes a script name and a size.");
    co_return;
  }
  std::optional<uint32_t> size = parse_number(c.args[1].value);
  if (!size) {
    bad("Invalid size.");
    co_return;
  }
  if (*size > config_.max_script_bytes) {
    no(absl::StrCat("Script is larger than the limit of ", config_.max_script_bytes, " bytes."), "QUOTA/MAXSIZE");
    co_return;
  }
  absl::Status st = co_await shard_.scripts->have_space(user_, c.args[0].value, *size);
  if (!st.ok()) {
    store_error(st, "havespace");
    co_return;
  }
  ok("Putscript would succeed.");
}

task<void> managesieve_session::on_putscript(command& c) {
  if (!expect_strings(c, 2, "PUTSCRIPT takes a script name and a script, as strings.")) co_return;
  const std::string& name = c.args[0].value;
  if (c.args[1].value.size() > config_.max_script_bytes) {
    no(absl::StrCat("Script is larger than the limit of ", config_.max_script_bytes, " bytes."), "QUOTA/MAXSIZE");
    co_return;
  }
  std::optional<std::string> warnings = validate(c.args[1].value);
  if (!warnings) co_return;
  absl::Status st = co_await shard_.scripts->put(user_, name, std::move(c.args[1].value));
  if (!st.ok()) {
    store_error(st, "putscript");
    co_return;
  }
  log::info("managesieve_putscript", {{"sid", sid_}, {"user", user_}, {"script", name}});
  if (!warnings->empty()) {
    ok(*warnings, "WARNINGS");
  } else {
    ok("PUTSCRIPT completed.");
  }
}

void managesieve_session::on_checkscript(const command& c) {
  if (!expect_strings(c, 1, "CHECKSCRIPT takes a script, as a string.")) return;
  if (c.args[0].value.size() > config_.max_script_bytes) {
    no(absl::StrCat("Script is larger than the limit of ", config_.max_script_bytes, " bytes."), "QUOTA/MAXSIZE");
    return;
  }
  std::optional<std::string> warnings = validate(c.args[0].value);
  if (!warnings) return;
  if (!warnings->empty()) {
    ok(*warnings, "WARNINGS");
  } else {
    ok("Script is valid.");
  }
}

task<void> managesieve_session::on_listscripts(const command& c) {
  if (!c.args.empty()) {
    bad("LISTSCRIPTS takes no arguments.");
    co_return;
  }
  auto scripts = co_await shard_.scripts->list(user_);
  if (!scripts.ok()) {
    store_error(scripts.status(), "listscripts");
    co_return;
  }
  // RFC 5804 2.7: one script name per line, the active one followed by " ACTIVE".
  for (const sieve::script_info& s : *scripts) {
    append_string(out_, s.name);
    out_ += s.active ? " ACTIVE\r\n" : "\r\n";
  }
  ok("Listscripts completed.");
}

task<void> managesieve_session::on_setactive(const command& c) {
  if (!expect_strings(c, 1, "SETACTIVE takes a script name (\"\" for none).")) co_return;
  const std::string& name = c.args[0].value;
  absl::Status st = co_await shard_.scripts->set_active(user_, name);
  if (!st.ok()) {
    store_error(st, "setactive");
    co_return;
  }
  log::info("managesieve_setactive", {{"sid", sid_}, {"user", user_}, {"script", name}});
  ok(name.empty() ? "No script is active." : "Setactive completed.");
}

task<void> managesieve_session::on_getscript(const command& c) {
  if (!expect_strings(c, 1, "GETSCRIPT takes a script name.")) co_return;
  auto script = co_await shard_.scripts->get(user_, c.args[0].value);
  if (!script.ok()) {
    store_error(script.status(), "getscript");
    co_return;
  }
  // RFC 5804 2.9: the script as a string (a literal: it has line ends), then CRLF, OK.
  append_literal(out_, *script);
  out_ += "\r\n";
  ok("Getscript completed.");
}

task<void> managesieve_session::on_deletescript(const command& c) {
  if (!expect_strings(c, 1, "DELETESCRIPT takes a script name.")) co_return;
  absl::Status st = co_await shard_.scripts->remove(user_, c.args[0].value);
  if (!st.ok()) {
    store_error(st, "deletescript");
    co_return;
  }
  log::info("managesieve_deletescript", {{"sid", sid_}, {"user", user_}, {"script", c.args[0].value}});
  ok("Deletescript completed.");
}

task<void> managesieve_session::on_renamescript(const command& c) {
  if (!expect_strings(c, 2, "RENAMESCRIPT takes the old and the new script name.")) co_return;
  absl::Status st = co_await shard_.scripts->rename(user_, c.args[0].value, c.args[1].value);
  if (!st.ok()) {
    store_error(st, "renamescript");
    co_return;
  }
  log::info("managesieve_renamescript",
            {{"sid", sid_}, {"user", user_}, {"from", c.args[0].value}, {"to", c.args[1].value}});
  ok("Renamescript completed.");
}

}  // namespace

task<void> run_session(session& s, const server_config& config, shard_context& shard) {
  managesieve_session session(s, config, shard);
  co_await session.run();
}

}  // namespace ringmail::managesieve

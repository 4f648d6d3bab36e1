#include "protocols/smtp/session.h"

#include <sys/random.h>

#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "delivery/auth/login_throttle.h"
#include "delivery/directory/address.h"
#include "mail/date.h"
#include "mail/header.h"
#include "openssl/crypto.h"
#include "protocols/smtp/command.h"
#include "protocols/smtp/command_reader.h"
#include "protocols/smtp/data_reader.h"
#include "protocols/sasl/sasl_server.h"
#include "protocols/smtp/trace_headers.h"
#include "runtime/log.h"
#include "runtime/stream.h"
#include "runtime/when_all.h"
#include "spam/evals/evals.h"

namespace ringmail::smtp {
namespace {

// One recipient the client gave (RCPT TO) and where the directory says it goes.
struct recipient {
  std::string address;  // as given, without the angle brackets
  std::vector<directory::destination> destinations;
};

// MAIL … DATA/BDAT LAST. Reset by RSET, HELO/EHLO, STARTTLS and after each message.
struct transaction {
  bool active = false;
  std::string reverse_path;
  bool smtputf8 = false;
  body_type body = body_type::seven_bit;
  std::vector<recipient> recipients;
  bool used_bdat = false;
  std::string bdat_message;              // chunks so far
  std::optional<bdat_reader> bdat;       // across the chunks of one message
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class smtp_session {
 public:
  smtp_session(session& s, const server_config& config, shard_context& shard)
      : s_(s),
        config_(config),
        shard_(shard),
        io_(std::move(s.conn), {config.command_timeout, config.command_timeout}, &s.cancel),
        reader_(command_reader::limits{command_reader::default_max_line, config.allow_bare_lf}),
        auth_reader_(command_reader::limits{max_auth_line, config.allow_bare_lf}) {
    peer_ = io_.conn().peer().host();
    role_ = config.role();
    sid_ = log::session_id_string(s.id);
  }

  task<void> run();

 private:
  void reply(int code, std::string_view enhanced, std::string_view text) {
    absl::StrAppend(&out_, code, " ", std::string(enhanced), " ", std::string(text), "\r\n");
  }
  void reply_error(const reply_error& e) { reply(e.code, e.enhanced, e.text); }
  task<bool> flush() {
    if (out_.empty()) co_return true;
    io_status st = co_await io_.write(out_);
    out_.clear();
    co_return st.ok();
  }
  void reset_transaction() { tx_ = transaction{}; }
  void count_error() { ++errors_; }
  void enter(const char* state) {
    log::debug("smtp_state", {{"sid", sid_}, {"from", state_}, {"to", state}});
    state_ = state;
  }

  task<bool> dispatch(const command& c);
  command_state gate_state() const {
    return command_state{!helo_.empty(), io_.tls_active(), !user_.empty(), config_.mx_auth};
  }
  // AUTH is offered in EHLO, and may be used, only where the role's rules allow it now.
  bool auth_usable() const {
    if (shard_.auth == nullptr) return false;
    command_state st = gate_state();
    st.helo = true;
    return !check_command(role_, verb::auth, st).has_value();
  }
  void on_hello(const command& c);
  task<void> on_mail(const command& c);
  // False when the session must end (a response line too long to resynchronise after).
  task<bool> on_auth(const command& c);
  // One SASL response line (RFC 4954 section 4: up to 12288 octets, more than a command
  // line); nullopt when the client left, or when the line was refused (too long, bare
  // LF/CR, NUL: `refusal` set, and the session must end: the rest of the line is still
  // coming and would be read as commands).
  task<std::optional<std::string>> read_auth_line(std::optional<smtp::reply_error>& refusal);
  // The sender check of submission: may the authenticated user send as `address`?
  // A directory fault is a temporary failure (451 4.3.0), never a refusal.
  task<std::optional<smtp::reply_error>> check_sender(const std::string& address, const char* what);
  task<void> on_rcpt(const command& c);
  task<bool> on_data();
  task<bool> on_bdat(const command& c, std::optional<smtp::reply_error> refusal = std::nullopt);
  task<bool> on_starttls();
  task<void> finish_message(std::string message);
  // Date: and Message-ID: for submitted mail that lacks them (RFC 6409 sections 8.2, 8.3).
  std::string missing_submission_headers(const mail::header_block& headers, const std::string& id) const;
  task<bool> over_quota(const std::string& mailbox);
  void reply_copies(const std::vector<delivery::delivery_result>& results, const std::vector<size_t>& owner,
                    const std::string& id);
  // Plain members, not coroutines: they build what the spam step needs and log its refusals.
  filter_input filter_input_for(const std::string& message, const std::string& id) {
    filter_input in;
    in.message = message;
    in.client = io_.conn().peer();
    in.client_ip = peer_;
    in.sender = tx_.reverse_path;
    for (const auto& r : tx_.recipients) in.recipients.push_back(r.address);
    in.session_id = id;
    return in;
  }
  // The local copies whose mailbox has its own Bayes verdict (issue 15), taken out of
  // `copies` (which keeps the global-verdict ones): one group per such mailbox.
  struct own_verdicts {
    std::vector<std::vector<delivery::sink_recipient>> copies;
    std::vector<std::string> traces;
    std::vector<bool> junk;
    std::vector<delivery::sink_message> messages;  // filled by the caller, views into traces
    std::vector<size_t> global_index;              // copy index (before the split) of each kept copy
    std::vector<size_t> own_index;                 // copy index of each group's copy
  };
  own_verdicts split_by_own_verdict(std::vector<delivery::sink_recipient>& copies, const spam_decision& verdict,
                                    const std::string& trace_head, const std::string& id) {
    own_verdicts own;
    std::vector<delivery::sink_recipient> kept;
    for (size_t k = 0; k < copies.size(); ++k) {
      std::optional<recipient_verdict> v = recipient_verdict_for(*shard_.spam, verdict, copies[k].address, id);
      if (!v) {
        kept.push_back(std::move(copies[k]));
        own.global_index.push_back(k);
        continue;
      }
      own.copies.emplace_back();
      own.copies.back().push_back(std::move(copies[k]));
      own.traces.push_back(trace_head + v->header_lines);
      own.junk.push_back(v->junk);
      own.own_index.push_back(k);
    }
    copies = std::move(kept);
    return own;
  }
  // The results of the groups (the global one first when it had copies) back in the
  // order of the copies before the split, which the caller's `owner` indexes.
  std::vector<delivery::delivery_result> merge_own_verdicts(std::vector<std::vector<delivery::delivery_result>>& done,
                                                           own_verdicts& own, size_t global_copies) {
    const size_t total = global_copies + own.copies.size();
    std::vector<delivery::delivery_result> merged(total);
    size_t g = 0;
    if (global_copies > 0) {
      for (size_t k = 0; k < global_copies; ++k) merged[own.global_index[k]] = std::move(done[0][k]);
      g = 1;
    }
    for (size_t j = 0; j < own.copies.size(); ++j, ++g) merged[own.own_index[j]] = std::move(done[g][0]);
    return merged;
  }
  // The domain of the first recipient whose destinations went remote (an alias's domain).
  std::string forwarding_domain(const std::vector<size_t>& remote_owner) const {
    if (remote_owner.empty()) return "";
    const std::string& address = tx_.recipients[remote_owner.front()].address;
    size_t at = address.rfind('@');
    return at == std::string::npos ? "" : address.substr(at + 1);
  }
  inbound_request inbound_request_for(const std::string& message) const {
    inbound_request in;
    in.message = message;
    in.client_ip = peer_;
    in.helo = helo_;
    in.mail_from = tx_.reverse_path;
    in.receiver = config_.hostname;
    return in;
  }
  void log_dmarc_refusal(const std::string& id, const spam::dmarc_check& dmarc) const {
    log::info("smtp_dmarc_refused", {{"sid", sid_},
                                     {"id", id},
                                     {"from_domain", dmarc.from_domain},
                                     {"policy_domain", dmarc.policy_domain},
                                     {"reason", dmarc.reason}});
  }
  void log_spam_refusal(const std::string& id, const char* action, double score) const {
    log::info("smtp_spam_refused", {{"sid", sid_}, {"id", id}, {"action", action}, {"score", absl::StrCat(score)}});
  }

  session& s_;
  const server_config& config_;
  shard_context& shard_;
  stream io_;
  command_reader reader_;
  static constexpr size_t max_auth_line = 12288 + 2;  // RFC 4954 section 4, plus CRLF
  command_reader auth_reader_;  // AUTH responses; at a line boundary between exchanges
  std::string out_;
  std::string peer_;
  std::string sid_;
  std::string helo_;
  std::string user_;  // the authenticated login (local@domain); "" before AUTH
  session_role role_;
  bool esmtp_ = false;
  const char* state_ = "connected";
  size_t errors_ = 0;
  uint64_t messages_ = 0;
  transaction tx_;
};

// See the burst note in run(): commands handled between two forced suspensions.
constexpr size_t kCommandsPerYield = 32;

task<void> smtp_session::run() {
  if (role_ == session_role::submissions) {
    // RFC 8314 section 3.3: the TLS handshake comes first, the greeting inside it.
    if (!config_.tls) co_return;
    io_status st = co_await io_.start_tls(config_.tls, tls::role::server);
    if (!st.ok()) {
      co_await io_.close();
      co_return;
    }
  }
  // The greeting carries no enhanced code (RFC 2034 section 3).
  out_ = absl::StrCat("220 ", config_.hostname, config_.lmtp ? " LMTP ringmail\r\n" : " ESMTP ringmail\r\n");
  if (!co_await flush()) co_return;
  enter("greeted");
  const auto session_deadline = std::chrono::steady_clock::now() + config_.session_timeout;
  std::optional<std::chrono::steady_clock::time_point> command_deadline;
  size_t buffered_commands = 0;  // commands taken from the buffer since the last read
  for (;;) {
    if (std::chrono::steady_clock::now() >= session_deadline) {
      reply(421, "4.4.2", config_.hostname + " session time limit exceeded");
      break;
    }
    if (s_.stopping()) {
      reply(421, "4.3.2", config_.hostname + " service shutting down");
      break;
    }
    command_reader::result r = reader_.next(io_.buffered());
    if (r.k == command_reader::result::kind::need_more) {
      io_.consume(r.consumed);
      buffered_commands = 0;
      if (!co_await flush()) co_return;
      // The command timeout bounds the whole command, not each read: a client dripping
      // one byte at a time must not hold the session open forever.
      const auto now = std::chrono::steady_clock::now();
      if (!command_deadline) command_deadline = now + config_.command_timeout;
      auto left = std::chrono::duration_cast<duration>(*command_deadline - now);
      io_.set_read_timeout(std::max(left, duration(1)));
      io_status st = co_await io_.read_more();
      if (!st.ok()) {
        if (st.kind == io_kind::timeout) reply(421, "4.4.2", config_.hostname + " timeout exceeded");
        log::debug("smtp_input_ended", {{"sid", sid_}, {"why", st.to_string()}});
        break;
      }
      continue;
    }
    if (r.k == command_reader::result::kind::error) {
      io_.consume(r.consumed);
      reply(r.code != 0 ? r.code : 500, *r.enhanced ? r.enhanced : "5.5.2", "Syntax error: " + r.error);
      count_error();
    } else {
      std::string line(r.line);
      io_.consume(r.consumed);
      // A burst of pipelined commands whose lookups all complete at once (cached) would
      // run each next one deeper on this stack where the compiler makes no tail call out
      // of a finished coroutine (sanitizer builds): 500 RCPTs in one write overflowed it.
      // A real suspension now and then unwinds the stack.
      if (++buffered_commands % kCommandsPerYield == 0) co_await yield();
      command_deadline.reset();
      if (!co_await dispatch(parse_command(line))) break;
    }
    if (errors_ >= config_.max_errors) {
      reply(421, "4.7.0", config_.hostname + " too many errors");
      break;
    }
  }
  co_await flush();
  co_await io_.close();
}

task<bool> smtp_session::dispatch(const command& c) {
  // The one place the role's rules (command.h) are enforced. BDAT's chunk is on the wire
  // whatever the answer: on_bdat reads it before refusing, or its bytes would be taken
  // for commands.
  if (std::optional<smtp::reply_error> refusal = check_command(role_, c.v, gate_state())) {
    if (c.v == verb::bdat) co_return co_await on_bdat(c, std::move(refusal));
    reply_error(*refusal);
    count_error();
    co_return true;
  }
  switch (c.v) {
    case verb::ehlo:
    case verb::helo:
    case verb::lhlo:
      on_hello(c);
      co_return true;
    case verb::mail:
      co_await on_mail(c);
      co_return true;
    case verb::rcpt:
      co_await on_rcpt(c);
      co_return true;
    case verb::data:
      co_return co_await on_data();
    case verb::bdat:
      co_return co_await on_bdat(c);
    case verb::rset:
      reset_transaction();
      reply(250, "2.0.0", "Ok");
      co_return true;
    case verb::noop:
      reply(250, "2.0.0", "Ok");
      co_return true;
    case verb::quit:
      reply(221, "2.0.0", config_.hostname + " closing connection");
      co_return false;
    case verb::vrfy:
      // RFC 5321 3.5.3: 252 when we will not say; no address enumeration.
      reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
      co_return true;
    case verb::help:
      reply(214, "2.0.0", "See RFC 5321");
      co_return true;
    case verb::starttls:
      co_return co_await on_starttls();
    case verb::auth:
      co_return co_await on_auth(c);
    case verb::unknown:
      reply(500, "5.5.2", "Command unrecognized");
      count_error();
      co_return true;
  }
  co_return true;
}

void smtp_session::on_hello(const command& c) {
  std::string_view arg = trim(c.argument);
  if (arg.empty()) {
    reply(501, "5.5.4", "Syntax: " + std::string(info(c.v).name) + " hostname");
    return;
  }
  reset_transaction();
  helo_ = std::string(arg);
  esmtp_ = c.v != verb::helo;
  enter("hello");
  if (c.v == verb::helo) {
    out_ += "250 " + config_.hostname + "\r\n";
    return;
  }
  std::vector<std::string> lines = {config_.hostname,
                                    "PIPELINING",
                                    absl::StrCat("SIZE ", config_.max_message_size),
                                    "8BITMIME",
                                    "SMTPUTF8",
                                    "ENHANCEDSTATUSCODES",
                                    "CHUNKING"};
  if (config_.tls && !io_.tls_active() && !(role_flags(role_, verb::starttls) & not_in_role)) {
    lines.push_back("STARTTLS");
  }
  // RFC 4954 section 3: only where AUTH may be used now (after STARTTLS on 587, on 465,
  // never on 25 unless mx_auth), so no client is invited to send a password in the clear.
  if (auth_usable()) lines.push_back("AUTH PLAIN LOGIN");
  for (size_t i = 0; i < lines.size(); ++i) {
    out_ += (i + 1 < lines.size() ? "250-" : "250 ") + lines[i] + "\r\n";
  }
}

task<void> smtp_session::on_mail(const command& c) {
  if (tx_.active) {
    reply(503, "5.5.1", "Error: nested MAIL command");
    count_error();
    co_return;
  }
  auto m = parse_mail_from(c.argument);
  if (!m.ok()) {
    reply_error(m.error());
    count_error();
    co_return;
  }
  if (m->size && *m->size > config_.max_message_size) {
    reply(552, "5.3.4", "Message size exceeds fixed limit");
    co_return;
  }
  for (const auto& [key, value] : m->other_params) {
    // AUTH= (RFC 4954 section 5) belongs to the AUTH extension: accepted where AUTH is
    // offered, and ignored - the identity that counts is this session's own login, and
    // ringmail does not relay for other servers that could vouch for one.
    if (key == "AUTH" && (auth_usable() || !user_.empty())) continue;
    reply(555, "5.5.4", "Unsupported MAIL parameter " + key);
    co_return;
  }
  if (!user_.empty() && !m->reverse_path.empty()) {
    // The null sender stays allowed (delivery reports, vacation replies), as Postfix's
    // reject_sender_login_mismatch allows it.
    if (auto refusal = co_await check_sender(m->reverse_path, "Sender address")) {
      reply_error(*refusal);
      co_return;
    }
  }
  tx_.active = true;
  tx_.reverse_path = m->reverse_path;
  tx_.smtputf8 = m->smtputf8;
  tx_.body = m->body;
  enter("mail");
  reply(250, "2.1.0", "Ok");
}

task<std::optional<smtp::reply_error>> smtp_session::check_sender(const std::string& address, const char* what) {
  absl::StatusOr<bool> allowed = co_await shard_.resolver->may_send_as(user_, address);
  if (!allowed.ok()) {
    log::warn("smtp_sender_lookup_failed", {{"sid", sid_}, {"user", user_}, {"reason", allowed.status().ToString()}});
    co_return smtp::reply_error{451, "4.3.0", "Temporary lookup failure, try again later"};
  }
  if (*allowed) co_return std::nullopt;
  log::info("smtp_sender_refused", {{"sid", sid_}, {"user", user_}, {"what", what}});
  // Client bytes are not quoted: the address may be anything the parser let through.
  co_return smtp::reply_error{553, "5.7.1", std::string(what) + " rejected: not owned by user " + user_};
}

task<std::optional<std::string>> smtp_session::read_auth_line(std::optional<smtp::reply_error>& refusal) {
  for (;;) {
    command_reader::result r = auth_reader_.next(io_.buffered());
    if (r.k == command_reader::result::kind::line) {
      std::string line(r.line);
      io_.consume(r.consumed);
      co_return line;
    }
    io_.consume(r.consumed);
    if (r.k == command_reader::result::kind::error) {
      refusal = r.error == "line too long"
                    ? smtp::reply_error{500, "5.5.6", "Authentication Exchange line is too long"}
                    : smtp::reply_error{500, "5.5.2", "Syntax error: " + r.error};
      co_return std::nullopt;
    }
    if (!co_await flush()) co_return std::nullopt;
    io_status st = co_await io_.read_more();
    if (!st.ok()) co_return std::nullopt;
  }
}

task<bool> smtp_session::on_auth(const command& c) {
  if (tx_.active) {
    reply(503, "5.5.1", "Error: MAIL transaction in progress");  // RFC 4954 section 4
    count_error();
    co_return true;
  }
  if (shard_.auth == nullptr) {
    reply(502, "5.5.1", "AUTH is not available on this port");
    count_error();
    co_return true;
  }
  // "AUTH" SP sasl-mech [SP initial-response] (RFC 4954 section 4).
  std::string_view arg = c.argument;
  size_t sp = arg.find(' ');
  std::string_view name = arg.substr(0, sp);
  std::optional<std::string_view> initial;
  if (sp != std::string_view::npos) initial = arg.substr(sp + 1);
  auto mech = sasl::parse_mechanism(name);
  if (!mech) {
    reply(504, "5.5.4", "Unrecognized authentication type");
    count_error();
    co_return true;
  }
  sasl::server exchange(*mech);
  sasl::step step = exchange.start(initial);
  while (step.k == sasl::step::kind::challenge) {
    absl::StrAppend(&out_, "334 ", step.challenge_base64, "\r\n");
    std::optional<smtp::reply_error> refusal;
    std::optional<std::string> line = co_await read_auth_line(refusal);
    if (!line) {
      if (refusal) reply_error(*refusal);
      co_return false;
    }
    step = exchange.feed(*line);
    OPENSSL_cleanse(line->data(), line->size());
  }
  if (step.k == sasl::step::kind::error) {
    switch (step.code) {
      case sasl::error_code::cancelled:
        reply(501, "5.0.0", "Authentication cancelled");
        break;
      case sasl::error_code::line_too_long:
        reply(500, "5.5.6", "Authentication Exchange line is too long");
        break;
      case sasl::error_code::authzid_not_allowed:
        reply(535, "5.7.8", "Authentication credentials invalid");
        break;
      default:
        reply(501, "5.5.2", "Cannot decode response");
        break;
    }
    count_error();
    co_return true;
  }
  const std::string client = auth::client_key(io_.conn().peer().native());
  std::string password = step.creds.password;
  auto login = shard_.auth->login(step.creds.authcid, std::move(password), client);
  auth::login_result r = co_await std::move(login);
  switch (r.outcome) {
    case auth::login_outcome::ok:
      user_ = std::move(r.user);
      errors_ = 0;  // a user who logged in gets the full allowance of mistakes
      log::info("smtp_login", {{"sid", sid_}, {"ip", peer_}, {"user", user_}});
      reply(235, "2.7.0", "Authentication successful");
      break;
    case auth::login_outcome::temporary_failure:
      reply(454, "4.7.0", "Temporary authentication failure");
      break;
    case auth::login_outcome::throttled:
    case auth::login_outcome::bad_credentials:
      log::info("smtp_login_failed", {{"sid", sid_}, {"ip", peer_}, {"reason", r.reason}});
      reply(535, "5.7.8", "Authentication credentials invalid");
      count_error();
      break;
  }
  co_return true;
}

task<void> smtp_session::on_rcpt(const command& c) {
  if (!tx_.active) {
    reply(503, "5.5.1", "Error: need MAIL command");
    count_error();
    co_return;
  }
  auto r = parse_rcpt_to(c.argument, tx_.smtputf8);
  if (!r.ok()) {
    reply_error(r.error());
    count_error();
    co_return;
  }
  if (!r->params.empty()) {
    reply(555, "5.5.4", "Unsupported RCPT parameter " + r->params.front().first);
    co_return;
  }
  if (tx_.recipients.size() >= config_.max_recipients) {
    reply(452, "4.5.3", "Error: too many recipients");
    co_return;
  }
  const std::string& rcpt = r->forward_path;
  // Address forms that route through us (user%host@ours, user!host@ours, quoted
  // "a@b"@ours) are relay attempts, not local parts: refuse them as relaying.
  // Parsed once, here; the resolver takes the result (same detail separator).
  auto parsed = directory::parse_address(rcpt, shard_.resolver->detail_separator());
  if (!parsed.ok()) {
    bool routing = rcpt.find_first_of("%!\"") != std::string::npos || rcpt.find('@') == std::string::npos;
    if (routing) {
      reply(554, "5.7.1", "<" + rcpt + ">: Relay access denied");
    } else {
      reply(553, "5.1.3", "<" + rcpt + ">: Bad recipient address syntax");
    }
    co_return;
  }
  directory::resolution res = co_await shard_.resolver->resolve(std::move(*parsed));
  switch (res.result) {
    case directory::outcome::not_our_domain:
      if (user_.empty()) {
        reply(554, "5.7.1", "<" + rcpt + ">: Relay access denied");
        co_return;
      }
      // An authenticated user's mail to the internet: the outbound queue's.
      if (shard_.queue == nullptr) {
        reply(451, "4.3.2", "<" + rcpt + ">: Relay not available yet, try again later");
        co_return;
      }
      res.destinations = {directory::destination{rcpt, /*local=*/false, ""}};
      break;
    case directory::outcome::no_such_user:
      reply(550, "5.1.1", "<" + rcpt + ">: Recipient address rejected: User unknown");
      co_return;
    case directory::outcome::temporary_failure:
      log::warn("smtp_lookup_failed", {{"sid", sid_}, {"rcpt", rcpt}, {"reason", res.reason}});
      reply(451, "4.3.0", "<" + rcpt + ">: Temporary lookup failure");
      co_return;
    case directory::outcome::ok:
      break;
  }
  for (const auto& d : res.destinations) {
    if (!d.local && shard_.queue == nullptr) {
      // Remote alias destinations need the outbound queue (delivery/queue).
      reply(451, "4.4.0", "<" + rcpt + ">: Remote delivery is not available yet, try again later");
      co_return;
    }
  }
  for (const auto& d : res.destinations) {
    if (d.local && co_await over_quota(d.address)) {
      // 452 4.2.2 (RFC 3463 "mailbox full"): temporary, the sender retries later.
      reply(452, "4.2.2", "<" + rcpt + ">: Mailbox full, try again later");
      co_return;
    }
  }
  tx_.recipients.push_back(recipient{rcpt, std::move(res.destinations)});
  enter("rcpt");
  reply(250, "2.1.5", "Ok");
}

task<bool> smtp_session::over_quota(const std::string& mailbox) {
  if (shard_.directory == nullptr || shard_.local == nullptr) co_return false;
  auto user = co_await shard_.directory->find_user(mailbox);
  if (!user.ok() || !user->has_value() || (*user)->quota_bytes <= 0) co_return false;
  // The owner's running totals from the mail store's index: no directory listing.
  co_return co_await shard_.local->over_quota(mailbox, static_cast<uint64_t>((*user)->quota_bytes));
}

task<bool> smtp_session::on_data() {
  if (!tx_.active) {
    reply(503, "5.5.1", "Error: need MAIL command");
    count_error();
    co_return true;
  }
  if (tx_.recipients.empty()) {
    reply(554, "5.5.1", "Error: no valid recipients");
    count_error();
    co_return true;
  }
  if (tx_.used_bdat || tx_.body == body_type::binary_mime) {
    // RFC 3030 sec. 3: DATA after BDAT, or for BINARYMIME, is a sequence error.
    reply(503, "5.5.1", "Error: DATA cannot be used with BDAT or BODY=BINARYMIME");
    reset_transaction();
    count_error();
    co_return true;
  }
  // 354 has no enhanced code; replies still queued from the pipelined group go first.
  out_ += "354 End data with <CR><LF>.<CR><LF>\r\n";
  if (!co_await flush()) co_return false;
  enter("data");
  data_reader reader(data_reader::limits{config_.max_message_size, config_.allow_bare_lf});
  std::string message;
  io_.set_read_timeout(config_.data_timeout);
  for (;;) {
    std::string_view input = io_.buffered();
    if (!input.empty()) {
      data_reader::result r = reader.feed(input, message);
      io_.consume(r.consumed);
      if (r.k == data_reader::result::kind::done) {
        if (r.code != 0) {
          reply(r.code, r.enhanced, r.error);
          reset_transaction();
          co_return true;
        }
        break;
      }
      if (r.k == data_reader::result::kind::error) {
        reply(r.code != 0 ? r.code : 550, *r.enhanced ? r.enhanced : "5.5.2", r.error);
        reset_transaction();
        co_return true;
      }
      if (r.consumed > 0 && r.consumed == input.size()) continue;
    }
    io_status st = co_await io_.read_more();
    if (!st.ok()) {
      if (st.kind == io_kind::timeout) {
        reply(421, "4.4.2", config_.hostname + " timeout exceeded");
        co_await flush();
      }
      co_return false;
    }
  }
  co_await finish_message(std::move(message));
  co_return true;
}

task<bool> smtp_session::on_bdat(const command& c, std::optional<smtp::reply_error> refusal) {
  auto b = parse_bdat(c.argument);
  if (!b.ok()) {
    // Without a valid size we cannot find the end of the chunk: the stream is lost.
    reply_error(b.error());
    reply(421, "4.5.0", config_.hostname + " closing: cannot resynchronise after a bad BDAT");
    co_return false;
  }
  // The chunk is read whatever happens to it: its bytes are on the wire. Out of a
  // transaction it goes to a reader whose output is dropped.
  const bool accepting = !refusal && tx_.active && !tx_.recipients.empty();
  if (accepting && !tx_.bdat) {
    tx_.bdat.emplace(bdat_reader::limits{config_.max_message_size, config_.allow_bare_lf,
                                         tx_.body == body_type::binary_mime});
  }
  std::optional<bdat_reader> discard;
  std::string dropped;
  bdat_reader& reader = accepting ? *tx_.bdat : discard.emplace(bdat_reader::limits{0, true, true});
  std::string& out = accepting ? tx_.bdat_message : dropped;
  reader.begin_chunk(b->size, b->last);
  io_.set_read_timeout(config_.data_timeout);
  bdat_reader::result r;
  for (;;) {
    r = reader.feed(io_.buffered(), out);
    io_.consume(r.consumed);
    if (!accepting) dropped.clear();
    if (r.k != bdat_reader::result::kind::need_more) break;
    io_status st = co_await io_.read_more();
    if (!st.ok()) co_return false;
  }
  if (refusal) {
    reply_error(*refusal);
    count_error();
    co_return true;
  }
  if (!accepting) {
    reply(503, "5.5.1", tx_.active ? "Error: no valid recipients" : "Error: need MAIL command");
    reset_transaction();
    count_error();
    co_return true;
  }
  tx_.used_bdat = true;
  if (!b->last) {
    reply(250, "2.0.0", absl::StrCat(b->size, " octets received"));
    co_return true;
  }
  if (r.k == bdat_reader::result::kind::error) {
    reply(r.code != 0 ? r.code : 550, *r.enhanced ? r.enhanced : "5.5.2", r.error);
    reset_transaction();
    co_return true;
  }
  std::string message = std::move(tx_.bdat_message);
  co_await finish_message(std::move(message));
  co_return true;
}

task<bool> smtp_session::on_starttls() {
  if (!config_.tls || config_.lmtp) {
    reply(502, "5.5.1", "STARTTLS not available");
    count_error();
    co_return true;
  }
  if (io_.tls_active()) {
    reply(503, "5.5.1", "Error: TLS already active");
    count_error();
    co_return true;
  }
  reply(220, "2.0.0", "Ready to start TLS");
  if (!co_await flush()) co_return false;
  // Anything pipelined after STARTTLS was sent in plaintext: start_tls drops it
  // (RFC 3207 sec. 4.2 and the "STARTTLS command injection" attacks).
  io_status st = co_await io_.start_tls(config_.tls, tls::role::server);
  if (!st.ok()) co_return false;
  reader_ = command_reader(command_reader::limits{command_reader::default_max_line, config_.allow_bare_lf});
  reset_transaction();
  helo_.clear();  // RFC 3207 sec. 4.2: the client must say EHLO again
  user_.clear();  // ... and forget what it learnt before (AUTH needs TLS anyway)
  enter("tls");
  co_return true;
}

std::string smtp_session::missing_submission_headers(const mail::header_block& headers, const std::string& id) const {
  std::string out;
  if (headers.find("Date") == nullptr) absl::StrAppend(&out, "Date: ", mail::format_message_date(std::time(nullptr)), "\r\n");
  if (headers.find("Message-ID") == nullptr) {
    // <time.random.id@hostname>: the session id alone repeats after a restart.
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != sizeof nonce) nonce = uint64_t(std::time(nullptr)) * 2654435761u;
    absl::StrAppend(&out, "Message-ID: <", std::time(nullptr), ".", absl::Hex(nonce), ".", id, "@", config_.hostname,
                    ">\r\n");
  }
  return out;
}

task<void> smtp_session::finish_message(std::string message) {
  ++messages_;
  const std::string id = absl::StrCat(sid_, ".", messages_);
  const bool submitted = !user_.empty();
  std::string added_headers;
  if (submitted) {
    const mail::header_block headers = mail::parse_header_block(message);
    // From: may name only addresses the user owns, as MAIL FROM (see session.h). Sender:
    // is not checked: RFC 5322 3.6.2 lets it differ from From:, and mail clients rarely
    // set it.
    for (const mail::header_field* f : headers.find_all("From")) {
      for (const std::string& from : spam::evals::addresses_in(mail::unfold(f->value))) {
        if (auto refusal = co_await check_sender(from, "From: header address")) {
          reply_error(*refusal);
          reset_transaction();
          enter("hello");
          co_return;
        }
      }
    }
    added_headers = missing_submission_headers(headers, id);
  }
  // DKIM signatures of submitted mail, over the message as it leaves (our Date:/Message-ID:
  // included; the Received: above them is not in the signed header set).
  std::string signatures;
  if (submitted && shard_.mail_auth != nullptr) {
    signatures = added_headers.empty()
                     ? dkim_signatures_for(*shard_.mail_auth->settings, message, id)
                     : dkim_signatures_for(*shard_.mail_auth->settings, added_headers + message, id);
  }
  // Mail from the internet: SPF, DKIM, ARC and DMARC, before the spam verdict (its evals
  // read the results).
  spam::message_auth auth;
  std::string auth_header;
  bool dmarc_junk = false;
  if (!submitted && role_ == session_role::mx && shard_.mail_auth != nullptr &&
      shard_.mail_auth->settings->check_inbound &&
      (shard_.mail_auth->settings->check_local || !spam::is_private_address(io_.conn().peer()))) {
    const inbound_request request = inbound_request_for(message);  // named: g++ 12 and temporaries in co_await
    inbound_auth checked = co_await check_inbound(*shard_.mail_auth, request);
    if (checked.action == dmarc_action::reject) {
      log_dmarc_refusal(id, checked.auth.dmarc);
      reply(550, "5.7.1", absl::StrCat("Message rejected: DMARC policy of ", checked.auth.dmarc.policy_domain,
                                       " says reject (From domain not authenticated)"));
      reset_transaction();
      enter("hello");
      co_return;
    }
    // RFC 8601 §5: fields that claim to be ours came from outside and are dropped.
    if (!checked.forged.empty()) message = spam::without_ranges(message, checked.forged);
    dmarc_junk = checked.action == dmarc_action::junk;
    auth = std::move(checked.auth);
    auth_header = std::move(checked.header);
  }
  received_info info;
  info.helo = helo_;
  info.peer_ip = peer_;
  info.by = config_.hostname;
  // RFC 3848: ESMTPA / ESMTPSA when the client authenticated.
  info.protocol = config_.lmtp ? "LMTP"
                  : !esmtp_    ? "SMTP"
                               : absl::StrCat("ESMTP", io_.tls_active() ? "S" : "", submitted ? "A" : "");
  info.authenticated_sender = user_;
  info.hide_client = submitted && config_.hide_client;
  info.id = id;
  info.tls_version = io_.tls_version();
  info.tls_cipher = io_.tls_cipher();
  if (tx_.recipients.size() == 1) info.for_recipient = tx_.recipients.front().address;
  info.when = std::time(nullptr);
  const std::string received = received_header(info);

  spam_decision verdict;
  // Authenticated mail is the user's own and not scanned, as LMTP's default (issue 13).
  if (shard_.spam != nullptr && config_.spam_scan && !submitted) {
    filter_input input = filter_input_for(message, id);  // named: g++ 12 and temporaries in co_await
    if (auth.checked) input.auth = &auth;
    verdict = co_await filter_message(*shard_.spam, input);
    if (verdict.action == spam::spam_action::reject) {
      reply(554, "5.7.1", "Message rejected as spam");
      log_spam_refusal(id, "reject", verdict.score);
      reset_transaction();
      enter("hello");
      co_return;
    }
    if (verdict.action == spam::spam_action::greylist) {
      // RFC 6647 sec. 2.1: a temporary failure; the sender's retry after the delay passes.
      reply(451, "4.7.1", "Greylisted, please try again later");
      log_spam_refusal(id, "greylist", verdict.score);
      reset_transaction();
      enter("hello");
      co_return;
    }
  }

  // Every copy is written and fsynced (with group commit on each owner shard) before any
  // reply: "250 means on disk" (DESIGN.md). A mailbox reached twice in one transaction
  // (directly and through an alias) gets one copy, as Postfix's duplicate filter does.
  // Remote destinations (authenticated mail, remote alias targets) go to the queue;
  // RCPT accepted none while there is no queue.
  std::vector<delivery::sink_recipient> copies, remote;
  std::vector<size_t> owner, remote_owner;  // recipient index of each copy
  std::set<std::string> seen;
  for (size_t i = 0; i < tx_.recipients.size(); ++i) {
    for (const auto& d : tx_.recipients[i].destinations) {
      if (!seen.insert(d.address + '\0' + d.detail).second) continue;
      (d.local ? copies : remote).push_back({d.address, d.detail});
      (d.local ? owner : remote_owner).push_back(i);
    }
  }
  delivery::sink_message out;
  out.reverse_path = tx_.reverse_path;
  // DMARC p=quarantine: marked and filed as spam (rspamd's "add header" action), so the
  // built-in sieve_after and users' own scripts see it as they see the scanner's verdict.
  std::string quarantine_flag;
  if (dmarc_junk && verdict.header_lines.find("X-Spam-Flag: YES") == std::string::npos) {
    quarantine_flag = "X-Spam-Flag: YES\r\n";
  }
  const std::string trace = received + signatures + auth_header + added_headers + verdict.header_lines + quarantine_flag;
  out.trace = trace;
  out.message = message;
  out.junk = verdict.action == spam::spam_action::junk || dmarc_junk;
  // RFC 5429 2.1: a Sieve ereject may refuse in protocol when this recipient's reply is
  // its own (LMTP) or SMTP's one reply concerns this copy alone.
  out.refuse_in_protocol = config_.lmtp || copies.size() + remote.size() == 1;
  std::vector<delivery::delivery_result> results;
  // Bayes per recipient (issue 15): a mailbox whose own store has enough training gets its
  // own copy message (its X-Spam-* lines, Junk or INBOX); remote copies keep the global
  // lines (the receiving system is not ours to judge for).
  own_verdicts own;
  if (shard_.spam != nullptr && verdict.state && !dmarc_junk) {
    own = split_by_own_verdict(copies, verdict, received + auth_header + added_headers, id);
  }
  if (!own.copies.empty()) {
    own.messages.reserve(own.copies.size());
    for (size_t g = 0; g < own.copies.size(); ++g) {
      own.messages.push_back(out);
      own.messages.back().trace = own.traces[g];
      own.messages.back().junk = own.junk[g];
    }
    std::vector<task<std::vector<delivery::delivery_result>>> groups;
    if (!copies.empty()) groups.push_back(shard_.local->deliver(out, copies));
    for (size_t g = 0; g < own.copies.size(); ++g) groups.push_back(shard_.local->deliver(own.messages[g], own.copies[g]));
    auto all = when_all(std::move(groups));  // named: g++ 12
    std::vector<std::vector<delivery::delivery_result>> done = co_await std::move(all);
    results = merge_own_verdicts(done, own, copies.size());  // in copy order: `owner` still holds
  } else if (!copies.empty()) {
    results = co_await shard_.local->deliver(out, std::move(copies));
  }
  if (!remote.empty() && shard_.queue != nullptr) {
    // Forwarded through an alias (mail from outside to a remote address): sealed with ARC,
    // so the next receiver can trust what we found when SPF no longer passes there.
    delivery::sink_message forwarded = out;
    std::string sealed_trace;
    if (auth.checked && shard_.mail_auth != nullptr) {
      const std::string outgoing = trace + message;
      std::string seal = arc_seal_for_forward(*shard_.mail_auth->settings, forwarding_domain(remote_owner), outgoing,
                                              auth_header, auth, id);
      if (!seal.empty()) {
        sealed_trace = seal + trace;
        forwarded.trace = sealed_trace;
      }
    }
    std::vector<delivery::delivery_result> queued = co_await shard_.queue->deliver(forwarded, std::move(remote));
    results.insert(results.end(), queued.begin(), queued.end());
    owner.insert(owner.end(), remote_owner.begin(), remote_owner.end());
  }
  reply_copies(results, owner, id);
  log::info("smtp_message", {{"sid", sid_},
                             {"id", id},
                             {"from", tx_.reverse_path},
                             {"rcpts", tx_.recipients.size()},
                             {"size", message.size()}});
  reset_transaction();
  enter("hello");
}

// The reply code for a copy that failed: `permanent` for a permanent failure; for a
// temporary one 452 when the disk is full (RFC 5321 4.2.3 "452 Requested action not
// taken: insufficient system storage", RFC 3463 4.3.1), else 451.
int reply_code_for(const delivery::delivery_result& r, int permanent) {
  if (r.st == delivery::delivery_result::permanent) return permanent;
  return r.enhanced == "4.3.1" ? 452 : 451;
}

void smtp_session::reply_copies(const std::vector<delivery::delivery_result>& results,
                                const std::vector<size_t>& owner, const std::string& id) {
  std::vector<const delivery::delivery_result*> failed(tx_.recipients.size(), nullptr);
  for (size_t k = 0; k < results.size(); ++k) {
    if (!results[k].delivered() && failed[owner[k]] == nullptr) failed[owner[k]] = &results[k];
  }
  if (config_.lmtp) {
    // RFC 2033 sec. 4.2: one reply per accepted recipient, in RCPT order.
    for (size_t i = 0; i < tx_.recipients.size(); ++i) {
      const delivery::delivery_result* f = failed[i];
      if (f == nullptr) {
        reply(250, "2.0.0", absl::StrCat("<", tx_.recipients[i].address, "> ", id, " Saved"));
      } else {
        reply(reply_code_for(*f, 550), f->enhanced,
              absl::StrCat("<", tx_.recipients[i].address, "> ", f->reason));
      }
    }
    return;
  }
  const delivery::delivery_result* any = nullptr;
  for (const auto* f : failed) {
    if (f != nullptr && any == nullptr) any = f;
  }
  if (any == nullptr) {
    reply(250, "2.0.0", "Ok: queued as " + id);
    return;
  }
  // SMTP has one reply for all recipients: a copy that failed must make the client retry
  // (copies already written may then arrive twice: never lost, DESIGN.md).
  log::warn("smtp_delivery_failed", {{"sid", sid_}, {"id", id}, {"reason", any->reason}});
  reply(reply_code_for(*any, 554), any->enhanced.empty() ? "4.3.0" : any->enhanced,
        "Delivery failed: " + any->reason);
}

}  // namespace

task<void> run_session(session& s, const server_config& config, shard_context& shard) {
  smtp_session session(s, config, shard);
  co_await session.run();
}

}  // namespace ringmail::smtp

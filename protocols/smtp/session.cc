#include "protocols/smtp/session.h"

#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "delivery/directory/address.h"
#include "protocols/smtp/command.h"
#include "protocols/smtp/command_reader.h"
#include "protocols/smtp/data_reader.h"
#include "protocols/smtp/trace_headers.h"
#include "runtime/log.h"
#include "runtime/stream.h"
#include "runtime/when_all.h"

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
        reader_(command_reader::limits{command_reader::default_max_line, config.allow_bare_lf}) {
    peer_ = io_.conn().peer().host();
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
  void on_hello(const command& c);
  void on_mail(const command& c);
  task<void> on_rcpt(const command& c);
  task<bool> on_data();
  task<bool> on_bdat(const command& c);
  task<bool> on_starttls();
  task<void> finish_message(std::string message);
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
  void log_spam_refusal(const std::string& id, const char* action, double score) const {
    log::info("smtp_spam_refused", {{"sid", sid_}, {"id", id}, {"action", action}, {"score", absl::StrCat(score)}});
  }

  session& s_;
  const server_config& config_;
  shard_context& shard_;
  stream io_;
  command_reader reader_;
  std::string out_;
  std::string peer_;
  std::string sid_;
  std::string helo_;
  bool esmtp_ = false;
  const char* state_ = "connected";
  size_t errors_ = 0;
  uint64_t messages_ = 0;
  transaction tx_;
};

task<void> smtp_session::run() {
  // The greeting carries no enhanced code (RFC 2034 section 3).
  out_ = absl::StrCat("220 ", config_.hostname, config_.lmtp ? " LMTP ringmail\r\n" : " ESMTP ringmail\r\n");
  if (!co_await flush()) co_return;
  enter("greeted");
  const auto session_deadline = std::chrono::steady_clock::now() + config_.session_timeout;
  std::optional<std::chrono::steady_clock::time_point> command_deadline;
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
  const bool lmtp = config_.lmtp;
  switch (c.v) {
    case verb::ehlo:
    case verb::helo:
    case verb::lhlo:
      if (lmtp != (c.v == verb::lhlo)) {
        reply(500, "5.5.1", lmtp ? "This is LMTP: use LHLO" : "Command unrecognized: LHLO is LMTP");
        count_error();
        co_return true;
      }
      on_hello(c);
      co_return true;
    case verb::mail:
      on_mail(c);
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
      reply(502, "5.5.1", "AUTH is not available on this port");
      count_error();
      co_return true;
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
  if (config_.tls && !io_.tls_active() && !config_.lmtp) lines.push_back("STARTTLS");
  for (size_t i = 0; i < lines.size(); ++i) {
    out_ += (i + 1 < lines.size() ? "250-" : "250 ") + lines[i] + "\r\n";
  }
}

void smtp_session::on_mail(const command& c) {
  if (helo_.empty()) {
    reply(503, "5.5.1", "Error: send " + std::string(config_.lmtp ? "LHLO" : "HELO/EHLO") + " first");
    count_error();
    return;
  }
  if (tx_.active) {
    reply(503, "5.5.1", "Error: nested MAIL command");
    count_error();
    return;
  }
  auto m = parse_mail_from(c.argument);
  if (!m.ok()) {
    reply_error(m.error());
    count_error();
    return;
  }
  if (m->size && *m->size > config_.max_message_size) {
    reply(552, "5.3.4", "Message size exceeds fixed limit");
    return;
  }
  if (!m->other_params.empty()) {
    reply(555, "5.5.4", "Unsupported MAIL parameter " + m->other_params.front().first);
    return;
  }
  tx_.active = true;
  tx_.reverse_path = m->reverse_path;
  tx_.smtputf8 = m->smtputf8;
  tx_.body = m->body;
  enter("mail");
  reply(250, "2.1.0", "Ok");
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
      reply(554, "5.7.1", "<" + rcpt + ">: Relay access denied");
      co_return;
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
    if (!d.local) {
      // Remote alias destinations need the outbound queue (a later issue).
      reply(451, "4.4.0", "<" + rcpt + ">: Remote delivery is not available yet, try again later");
      co_return;
    }
  }
  for (const auto& d : res.destinations) {
    if (co_await over_quota(d.address)) {
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

task<bool> smtp_session::on_bdat(const command& c) {
  auto b = parse_bdat(c.argument);
  if (!b.ok()) {
    // Without a valid size we cannot find the end of the chunk: the stream is lost.
    reply_error(b.error());
    reply(421, "4.5.0", config_.hostname + " closing: cannot resynchronise after a bad BDAT");
    co_return false;
  }
  // The chunk is read whatever happens to it: its bytes are on the wire. Out of a
  // transaction it goes to a reader whose output is dropped.
  const bool accepting = tx_.active && !tx_.recipients.empty();
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
  enter("tls");
  co_return true;
}

task<void> smtp_session::finish_message(std::string message) {
  ++messages_;
  const std::string id = absl::StrCat(sid_, ".", messages_);
  received_info info;
  info.helo = helo_;
  info.peer_ip = peer_;
  info.by = config_.hostname;
  info.protocol = config_.lmtp ? "LMTP" : (esmtp_ ? (io_.tls_active() ? "ESMTPS" : "ESMTP") : "SMTP");
  info.id = id;
  info.tls_version = io_.tls_version();
  info.tls_cipher = io_.tls_cipher();
  if (tx_.recipients.size() == 1) info.for_recipient = tx_.recipients.front().address;
  info.when = std::time(nullptr);
  const std::string received = received_header(info);

  spam_decision verdict;
  if (shard_.spam != nullptr && config_.spam_scan) {
    const filter_input input = filter_input_for(message, id);  // named: g++ 12 and temporaries in co_await
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
  std::vector<delivery::sink_recipient> copies;
  std::vector<size_t> owner;  // recipient index of each copy
  std::set<std::string> seen;
  for (size_t i = 0; i < tx_.recipients.size(); ++i) {
    for (const auto& d : tx_.recipients[i].destinations) {
      if (!seen.insert(d.address + '\0' + d.detail).second) continue;
      copies.push_back({d.address, d.detail});
      owner.push_back(i);
    }
  }
  delivery::sink_message out;
  out.reverse_path = tx_.reverse_path;
  const std::string trace = received + verdict.header_lines;
  out.trace = trace;
  out.message = message;
  out.junk = verdict.action == spam::spam_action::junk;
  std::vector<delivery::delivery_result> results = co_await shard_.local->deliver(out, std::move(copies));
  reply_copies(results, owner, id);
  log::info("smtp_message", {{"sid", sid_},
                             {"id", id},
                             {"from", tx_.reverse_path},
                             {"rcpts", tx_.recipients.size()},
                             {"size", message.size()}});
  reset_transaction();
  enter("hello");
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
        reply(f->st == delivery::delivery_result::permanent ? 550 : 451, f->enhanced,
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
  reply(any->st == delivery::delivery_result::permanent ? 554 : 451, any->enhanced.empty() ? "4.3.0" : any->enhanced,
        "Delivery failed: " + any->reason);
}

}  // namespace

task<void> run_session(session& s, const server_config& config, shard_context& shard) {
  smtp_session session(s, config, shard);
  co_await session.run();
}

}  // namespace ringmail::smtp

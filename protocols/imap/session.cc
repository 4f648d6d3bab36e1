#include "protocols/imap/session.h"

#include <algorithm>

#include <openssl/crypto.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "delivery/auth/login_throttle.h"
#include "mail/header.h"
#include "protocols/imap/session_impl.h"
#include "protocols/sasl/sasl_server.h"
#include "runtime/log.h"
#include "runtime/task_scope.h"

namespace ringmail::imap {

imap_session::imap_session(session& s, const server_config& config, shard_context& shard)
    : s_(s),
      config_(config),
      shard_(shard),
      io_(std::move(s.conn), {config.login_timeout, config.idle_timeout}, &s.cancel) {
  peer_ = io_.conn().peer().host();
  sid_ = log::session_id_string(s.id);
  set_reader_limits();
}

task<bool> imap_session::flush() {
  if (out_.empty()) co_return true;
  io_status st = co_await io_.write(out_);
  out_.clear();
  co_return st.ok();
}

void imap_session::set_reader_limits() {
  command_reader::limits l;
  if (state_ == state::not_authenticated) {
    // Before login a client has proved nothing: small lines, small literals, and
    // LITERAL- (RFC 7888): a non-synchronizing literal over 4096 octets is refused.
    l.max_line = config_.max_line_before_auth;
    l.max_literal = config_.max_literal_before_auth;
    l.max_nonsync_literal = std::min<size_t>(4096, config_.max_literal_before_auth);
    l.literal_plus = false;
    l.max_command = config_.max_line_before_auth + config_.max_literal_before_auth * 4;
  } else {
    l.max_line = config_.max_line;
    l.max_literal = config_.max_append;
    l.literal_plus = true;
    l.max_command = config_.max_append + config_.max_line * 4;
  }
  reader_.set_limits(l);
}

std::string imap_session::capabilities() const {
  std::string caps = "IMAP4rev1 IMAP4rev2 SASL-IR ID ENABLE IDLE";
  const bool tls_possible = config_.tls && !io_.tls_active() && !config_.implicit_tls;
  if (state_ == state::not_authenticated) {
    caps += " LITERAL-";
    if (tls_possible) caps += " STARTTLS";
    if (io_.tls_active() || config_.allow_plaintext_auth) {
      caps += " AUTH=PLAIN AUTH=LOGIN";
    } else {
      caps += " LOGINDISABLED";
    }
    return caps;
  }
  caps +=
      " LITERAL+ NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH"
      " SEARCHRES BINARY STATUS=SIZE";
  // RFC 3502, 4469, 7889, 6855 (append_commands.cc).
  absl::StrAppend(&caps, " MULTIAPPEND CATENATE APPENDLIMIT=", config_.max_append, " UTF8=ACCEPT");
  caps += " CONDSTORE QRESYNC";  // RFC 7162 (condstore_commands.cc)
  caps += " OBJECTID SAVEDATE PREVIEW WITHIN";  // RFC 8474, 8514, 8970, 5032 (object_fetch.h)
  // RFC 4978 (compress_command.cc), RFC 9208 (quota_commands.cc).
  if (config_.compress) caps += " COMPRESS=DEFLATE";
  caps += " QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE";
  caps += " METADATA NOTIFY";  // RFC 5464 (metadata_commands.cc), RFC 5465 (notify_commands.cc)
  caps += " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS";  // RFC 5256, 5957, 5267 (sort_commands.cc)
  return caps;
}

task<void> imap_session::run() {
  if (config_.implicit_tls) {
    if (!config_.tls) co_return;
    io_status st = co_await io_.start_tls(config_.tls, tls::role::server);
    if (!st.ok()) {
      co_await io_.close();
      co_return;
    }
  }
  out_ = absl::StrCat("* OK [CAPABILITY ", capabilities(), "] ", config_.hostname, " ringmail IMAP ready\r\n");
  if (!co_await flush()) co_return;
  for (;;) {
    if (s_.stopping()) {
      untagged("BYE Server shutting down");
      break;
    }
    command_reader::result r = reader_.next(io_.buffered());
    if (r.k == command_reader::result::kind::need_more || r.k == command_reader::result::kind::continue_literal) {
      io_.consume(r.consumed);
      if (r.k == command_reader::result::kind::continue_literal) out_ += "+ Ready for literal data\r\n";
      // Between commands (not inside a literal) is where news of the selected folder
      // may be told (RFC 9051 5.2: EXISTS/EXPUNGE only when a command is in progress or
      // during IDLE; a client that wants news sends NOOP).
      if (!co_await flush()) co_return;
      const bool before_login = state_ == state::not_authenticated;
      io_.set_read_timeout(before_login ? config_.login_timeout : config_.idle_timeout);
      io_status st;
      if (notify_active() && r.k == command_reader::result::kind::need_more && io_.buffered().empty()) {
        st = co_await read_more_notifying();  // NOTIFY: news while no command is in progress
      } else {
        st = co_await io_.read_more();
      }
      if (!st.ok()) {
        if (st.kind == io_kind::timeout) untagged("BYE Autologout; idle for too long");
        log::debug("imap_input_ended", {{"sid", sid_}, {"why", st.to_string()}});
        break;
      }
      continue;
    }
    if (r.k == command_reader::result::kind::error) {
      io_.consume(r.consumed);
      const char* code = r.too_big ? "NO [TOOBIG] " : "BAD ";
      out_ += r.tag.empty() ? std::string("*") : r.tag;
      absl::StrAppend(&out_, " ", code, r.message, "\r\n");
      ++errors_;
      // Under COMPRESS an over-long line is not skipped: skipping would inflate a deflate
      // bomb to its end for nothing (compress_command.cc).
      if (r.close || (io_.compression_active() && !r.too_big)) {
        untagged("BYE Protocol error");
        break;
      }
    } else {
      parse_options po;
      po.utf8 = rev2_ || utf8_accept_;  // RFC 6855 section 3: UTF-8 in quoted strings
      parse_result p = parse_command(r.bytes, po);
      io_.consume(r.consumed);
      if (!p.cmd) {
        const std::string tag = p.error.tag.empty() ? "*" : p.error.tag;
        absl::StrAppend(&out_, tag, " BAD ", p.error.message, "\r\n");
        ++errors_;
      } else {
        last_command_ = std::chrono::steady_clock::now();
        if (!co_await dispatch(*p.cmd)) break;
        // NOTIFY (RFC 5465 section 5): other folders' news, now that the command is done.
        if (notify_pending()) co_await report_notify();
      }
    }
    if (errors_ >= config_.max_errors) {
      untagged("BYE Too many invalid commands");
      break;
    }
  }
  co_await flush();
  deselect();
  drop_notify();
  co_await io_.close();
}

bool imap_session::check_state(const command& c) {
  auto need = [&](bool ok_state, const char* what) {
    if (ok_state) return true;
    bad(c, what);
    return false;
  };
  switch (c.name) {
    case command_name::capability:
    case command_name::noop:
    case command_name::logout:
    case command_name::id:
      return true;
    case command_name::starttls:
    case command_name::authenticate:
    case command_name::login:
      return need(state_ == state::not_authenticated, "Already authenticated");
    case command_name::enable:
    case command_name::getmetadata:  // RFC 5464, RFC 5465
    case command_name::setmetadata:
    case command_name::notify:
    case command_name::select:
    case command_name::examine:
    case command_name::create:
    case command_name::delete_:
    case command_name::rename:
    case command_name::subscribe:
    case command_name::unsubscribe:
    case command_name::list:
    case command_name::lsub:
    case command_name::namespace_:
    case command_name::status:
    case command_name::append:
    case command_name::idle:
    case command_name::compress:  // RFC 4978 3: authenticated or selected
    case command_name::getquota:
    case command_name::getquotaroot:
    case command_name::setquota:
      return need(state_ == state::authenticated || state_ == state::selected, "Log in first");
    case command_name::check:
    case command_name::close:
    case command_name::unselect:
    case command_name::expunge:
    case command_name::search:
    case command_name::sort:
    case command_name::thread:
    case command_name::fetch:
    case command_name::store:
    case command_name::copy:
    case command_name::move:
      if (state_ == state::not_authenticated) return need(false, "Log in first");
      return need(state_ == state::selected, "No mailbox selected");
  }
  return true;
}

task<bool> imap_session::dispatch(command& c) {
  if (!check_state(c)) co_return true;
  if (!co_await condstore_before(c)) co_return true;  // RFC 7162 (condstore_commands.cc)
  // Commands during which EXPUNGE may not be told (RFC 9051 7.5.1); the UID forms may.
  const bool numbers_in_use = !c.uid && (c.name == command_name::fetch || c.name == command_name::store ||
                                         c.name == command_name::search || c.name == command_name::sort ||
                                         c.name == command_name::thread);
  switch (c.name) {
    case command_name::capability:
      untagged("CAPABILITY " + capabilities());
      ok(c, "Capability completed");
      break;
    case command_name::noop:
    case command_name::check:
      if (state_ == state::selected) {
        co_await sync_selected(false);
        report_updates(true, false);
      }
      ok(c, c.name == command_name::noop ? "NOOP completed" : "CHECK completed");
      co_return true;
    case command_name::logout:
      untagged("BYE Logging out");
      ok(c, "Logout completed");
      state_ = state::logout;
      co_return false;
    case command_name::starttls:
      co_return co_await on_starttls(c);
    case command_name::login:
      co_await on_login(c);
      break;
    case command_name::authenticate:
      co_await on_authenticate(c);
      break;
    case command_name::enable:
      on_enable(c);
      break;
    case command_name::id:
      on_id(c);
      break;
    case command_name::getmetadata:  // RFC 5464 (metadata_commands.cc)
      co_await on_getmetadata(c);
      break;
    case command_name::setmetadata:
      co_await on_setmetadata(c);
      break;
    case command_name::notify:  // RFC 5465 (notify_commands.cc)
      co_await on_notify(c);
      break;
    case command_name::select:
      co_await on_select(c, false);
      co_return true;
    case command_name::examine:
      co_await on_select(c, true);
      co_return true;
    case command_name::create:
      co_await on_create(c);
      break;
    case command_name::delete_:
      co_await on_delete(c);
      break;
    case command_name::rename:
      co_await on_rename(c);
      break;
    case command_name::subscribe:
      co_await on_subscribe(c, true);
      break;
    case command_name::unsubscribe:
      co_await on_subscribe(c, false);
      break;
    case command_name::list:
      co_await on_list(c, false);
      break;
    case command_name::lsub:
      co_await on_list(c, true);
      break;
    case command_name::namespace_:
      untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
      ok(c, "Namespace completed");
      break;
    case command_name::status:
      co_await on_status(c);
      break;
    case command_name::append:
      co_await on_append(c);
      break;
    case command_name::idle:
      co_return co_await on_idle(c);
    case command_name::close:
      co_await on_close(c, true);
      co_return true;
    case command_name::unselect:
      co_await on_close(c, false);
      co_return true;
    case command_name::expunge:
      co_await on_expunge(c);
      co_return true;
    case command_name::search:
      co_await on_search(c);
      break;
    case command_name::sort:
      co_await on_sort(c);
      break;
    case command_name::thread:
      co_await on_thread(c);
      break;
    case command_name::fetch:
      co_await on_fetch(c);
      break;
    case command_name::store:
      co_await on_store(c);
      break;
    case command_name::copy:
      co_await on_copy(c, false);
      break;
    case command_name::move:
      co_await on_copy(c, true);
      co_return true;
    case command_name::compress:  // RFC 4978 (compress_command.cc)
      co_return co_await on_compress(c);
    case command_name::getquota:  // RFC 9208 (quota_commands.cc)
    case command_name::getquotaroot:
    case command_name::setquota:
      co_await on_quota(c);
      break;
  }
  // News of the selected folder (another session's flag change, new mail) goes out with
  // this command's responses, before its tagged reply, when the owner has woken us.
  if (state_ == state::selected && selected_ && selected_->watch->pending) {
    co_await sync_selected(false);
    const size_t end = out_.size() >= 3 ? out_.rfind("\r\n", out_.size() - 3) : std::string::npos;
    const size_t start = end == std::string::npos ? 0 : end + 2;
    std::string tagged_line = out_.substr(start);
    out_.resize(start);
    report_updates(!numbers_in_use, c.uid);
    out_ += tagged_line;
  }
  co_return true;
}

task<bool> imap_session::on_starttls(const command& c) {
  if (!config_.tls || config_.implicit_tls || io_.tls_active()) {
    bad(c, io_.tls_active() ? "TLS is already active" : "STARTTLS is not available");
    co_return true;
  }
  ok(c, "Begin TLS negotiation now");
  if (!co_await flush()) co_return false;
  // start_tls drops anything pipelined in plaintext after STARTTLS (RFC 9051 6.2.1).
  io_status st = co_await io_.start_tls(config_.tls, tls::role::server);
  if (!st.ok()) co_return false;
  reader_ = command_reader();
  set_reader_limits();
  co_return true;
}

task<void> imap_session::on_login(command& c) {
  if (!io_.tls_active() && !config_.allow_plaintext_auth) {
    no(c, "[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections");
    sasl::credentials wipe_me;
    wipe_me.password = std::move(c.password);
    co_return;
  }
  const std::string client = auth::client_key(io_.conn().peer().native());
  auto login = shard_.auth->login(c.user, std::move(c.password), client);
  auth::login_result r = co_await std::move(login);
  co_await finish_login(c, std::move(r));
}

task<std::optional<std::string>> imap_session::read_line() {
  for (;;) {
    command_reader::result r = reader_.next_line(io_.buffered());
    if (r.k == command_reader::result::kind::command) {
      std::string line(r.bytes);
      io_.consume(r.consumed);
      co_return line;
    }
    io_.consume(r.consumed);
    if (r.k == command_reader::result::kind::error) co_return std::nullopt;
    if (!co_await flush()) co_return std::nullopt;
    io_status st = co_await io_.read_more();
    if (!st.ok()) co_return std::nullopt;
  }
}

task<void> imap_session::on_authenticate(command& c) {
  if (!io_.tls_active() && !config_.allow_plaintext_auth) {
    no(c, "[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections");
    co_return;
  }
  auto mech = sasl::parse_mechanism(c.mechanism);
  if (!mech) {
    no(c, "Unsupported authentication mechanism");
    co_return;
  }
  sasl::server exchange(*mech);
  std::optional<std::string_view> initial;
  if (c.initial_response) initial = *c.initial_response;
  sasl::step step = exchange.start(initial);
  while (step.k == sasl::step::kind::challenge) {
    absl::StrAppend(&out_, "+ ", step.challenge_base64, "\r\n");
    std::optional<std::string> line = co_await read_line();
    if (!line) {
      bad(c, "Authentication response too long or connection lost");
      co_return;
    }
    step = exchange.feed(*line);
    OPENSSL_cleanse(line->data(), line->size());
  }
  if (step.k == sasl::step::kind::error) {
    if (step.code == sasl::error_code::cancelled) {
      bad(c, "Authentication cancelled");
    } else if (step.code == sasl::error_code::authzid_not_allowed) {
      no(c, "[AUTHORIZATIONFAILED] Proxy authorization is not allowed");
    } else {
      bad(c, "Invalid authentication response");
    }
    co_return;
  }
  const std::string client = auth::client_key(io_.conn().peer().native());
  std::string password = step.creds.password;
  auto login = shard_.auth->login(step.creds.authcid, std::move(password), client);
  auth::login_result r = co_await std::move(login);
  co_await finish_login(c, std::move(r));
}

task<void> imap_session::finish_login(const command& c, auth::login_result r) {
  switch (r.outcome) {
    case auth::login_outcome::ok:
      break;
    case auth::login_outcome::temporary_failure:
      no(c, "[UNAVAILABLE] Temporary authentication failure, try again later");
      co_return;
    case auth::login_outcome::throttled:
    case auth::login_outcome::bad_credentials:
      no(c, "[AUTHENTICATIONFAILED] Authentication failed.");
      log::info("imap_login_failed", {{"sid", sid_}, {"ip", peer_}, {"reason", r.reason}});
      co_return;
  }
  user_ = r.user;
  state_ = state::authenticated;
  set_reader_limits();
  log::info("imap_login", {{"sid", sid_}, {"ip", peer_}, {"user", user_}});
  if (!shard_.provisioned.contains(user_)) co_await provision_folders();
  ok(c, absl::StrCat("[CAPABILITY ", capabilities(), "] Logged in"));
}

task<void> imap_session::provision_folders() {
  std::vector<std::string> wanted = config_.special_folders;
  auto make = [wanted](mailstore::mailbox& box) -> task<absl::Status> {
    auto names = co_await box.list_folders();
    if (!names.ok()) co_return names.status();
    bool changed = false;
    for (const auto& w : wanted) {
      if (std::find(names->begin(), names->end(), w) != names->end()) continue;
      absl::Status st = co_await box.create_folder(w);
      if (!st.ok() && st.code() != absl::StatusCode::kAlreadyExists) co_return st;
      auto sub = box.subscribe(w, true);
      absl::Status ss = co_await std::move(sub);
      if (!ss.ok()) co_return ss;
      changed = true;
    }
    (void)changed;
    co_return absl::OkStatus();
  };
  auto hop = on_mailbox(std::move(make));
  absl::Status st = co_await std::move(hop);
  if (st.ok()) {
    shard_.provisioned.insert(user_);
  } else {
    log::warn("imap_provision_failed", {{"sid", sid_}, {"user", user_}, {"reason", st.ToString()}});
  }
}

void imap_session::on_enable(const command& c) {
  std::string enabled;
  for (const auto& cap : c.atoms) {
    if (cap == "IMAP4REV2" && !rev2_) {
      rev2_ = true;
      enabled += " IMAP4rev2";
    }
    enable_condstore(cap, &enabled);  // CONDSTORE, QRESYNC (RFC 7162)
    if (cap == "UTF8=ACCEPT" && !utf8_accept_) {
      utf8_accept_ = true;
      enabled += " UTF8=ACCEPT";
    }
  }
  untagged("ENABLED" + enabled);
  ok(c, "Enabled");
}

void imap_session::on_id(const command& c) {
  untagged("ID (\"name\" \"ringmail\" \"vendor\" \"ringmail\")");
  if (!c.id_params.empty()) {
    std::string seen;
    for (const auto& [k, v] : c.id_params) {
      if (seen.size() > 200) break;
      absl::StrAppend(&seen, seen.empty() ? "" : " ", k, "=", v.value_or("NIL"));
    }
    log::debug("imap_client_id", {{"sid", sid_}, {"id", seen}});
  }
  ok(c, "ID completed");
}

task<bool> imap_session::on_idle(const command& c) {
  out_ += "+ idling\r\n";
  if (state_ == state::selected) {
    co_await sync_selected(false);
    report_updates(true, false);
  }
  if (!co_await flush()) co_return false;
  // An idle session should not pin the capacity of its largest FETCH.
  std::string().swap(out_);
  // One wake-up for everything IDLE waits on: the folder's watch (the owner posts to it
  // after each durable change) and the client's input, read by a child task that
  // notifies the same notifier. Both run on this shard.
  notifier local;
  notifier& wake = selected_ ? selected_->watch->wake : local;
  bool input_done = false;
  io_status input_status;
  io_.set_read_timeout(config_.idle_timeout);
  task_scope reader;
  auto read_input = [this, &wake, &input_done, &input_status]() -> task<void> {
    input_status = co_await io_.read_more();
    input_done = true;
    wake.notify_all();
  };
  bool idle_over = false;
  relay_notify(reader, wake, idle_over);  // NOTIFY's folders wake us too (notify_commands.cc)
  bool need_read = io_.buffered().empty();
  if (need_read) {
    reader.spawn(read_input());
  } else {
    input_done = true;
  }
  bool alive = true;
  for (;;) {
    if (selected_ && selected_->watch->pending) {
      co_await sync_selected(false);
      report_updates(true, false);
      if (!co_await flush()) {
        alive = false;
        break;
      }
    }
    if (notify_pending()) {
      co_await report_notify();
      if (!co_await flush()) {
        alive = false;
        break;
      }
    }
    if (input_done) {
      if (!input_status.ok()) {
        if (input_status.kind == io_kind::timeout) untagged("BYE Autologout; idle for too long");
        alive = false;
        break;
      }
      command_reader::result r = reader_.next_line(io_.buffered());
      if (r.k == command_reader::result::kind::command) {
        const bool done = mail::equals_ignore_case(r.bytes, "DONE");
        io_.consume(r.consumed);
        if (done) {
          ok(c, "Idle completed");
        } else {
          bad(c, "Expected DONE");
        }
        break;
      }
      io_.consume(r.consumed);
      if (r.k == command_reader::result::kind::error) {
        bad(c, "Line too long");
        break;
      }
      input_done = false;
      reader.spawn(read_input());
    }
    if (s_.stopping()) {
      untagged("BYE Server shutting down");
      alive = false;
      break;
    }
    co_await wake.wait();
  }
  if (!alive) {
    // The child read may still be in flight: cancel the session's I/O and let it finish.
    s_.cancel.request_cancel();
  }
  idle_over = true;
  release_notify_relays();
  co_await reader.join();
  co_return alive;
}

task<void> run_session(session& s, const server_config& config, shard_context& shard) {
  imap_session session(s, config, shard);
  co_await session.run();
}

}  // namespace ringmail::imap

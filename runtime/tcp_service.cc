#include "runtime/tcp_service.h"

#include "runtime/log.h"

namespace ringmail {

bool session::stopping() const { return service->stopping(); }

absl::StatusOr<std::unique_ptr<tcp_service>> tcp_service::start(service_options options, session_handler handler,
                                                                std::shared_ptr<conn_limits> limits) {
  auto l = listener::open(options.address, options.listen);
  if (!l.ok()) return l.status();
  std::unique_ptr<tcp_service> s(new tcp_service());
  s->options_ = std::move(options);
  s->handler_ = std::move(handler);
  s->limits_ = limits ? std::move(limits) : std::make_shared<conn_limits>(0, 0);
  s->listener_ = std::move(*l);
  s->scope_.spawn(s->accept_loop());
  return s;
}

tcp_service::~tcp_service() {
  // Owners call stop_accepting() and co_await drain() first; this only covers errors.
  if (listener_) listener_->close();
}

task<void> tcp_service::accept_loop() {
  for (;;) {
    auto accepted = co_await listener_->accept();
    if (!accepted.ok()) {
      if (accepted.status().kind == io_kind::cancelled) co_return;
      continue;
    }
    connection conn = std::move(accepted).value();
    auto [verdict, permit] = limits_->admit(conn.peer());
    if (verdict != conn_limits::verdict::admitted) {
      ++refused_;
      scope_.spawn(refuse(std::move(conn), verdict));
      continue;
    }
    scope_.spawn(run_session(std::move(conn), std::move(permit)));
  }
}

task<void> tcp_service::refuse(connection conn, conn_limits::verdict why) {
  // warn: an operator must see a limit that turns clients away.
  log::warn("connection_refused", {{"service", options_.name},
                                   {"peer", conn.peer().to_string()},
                                   {"reason", why == conn_limits::verdict::refused_total ? "total" : "per_client"}});
  if (!options_.refusal_message.empty()) {
    co_await conn.send_all(options_.refusal_message, std::chrono::seconds(5));
  }
  co_await conn.close();
}

task<void> tcp_service::run_session(connection conn, conn_limits::permit permit) {
  session s;
  s.conn = std::move(conn);
  s.id = reactor::current()->next_session_id();
  s.service = this;
  s.next = sessions_;
  if (sessions_ != nullptr) sessions_->prev = &s;
  sessions_ = &s;
  ++session_count_;
  const std::string peer = s.conn.peer().to_string();
  log::debug("session_started", {{"service", options_.name}, {"sid", log::session_id_string(s.id)}, {"peer", peer}});
  try {
    co_await handler_(s);
  } catch (const std::exception& e) {
    log::error("session_failed", {{"service", options_.name}, {"sid", log::session_id_string(s.id)}, {"what", e.what()}});
  }
  if (s.prev != nullptr) {
    s.prev->next = s.next;
  } else {
    sessions_ = s.next;
  }
  if (s.next != nullptr) s.next->prev = s.prev;
  --session_count_;
  if (s.conn.is_open()) co_await s.conn.close();
  log::debug("session_ended", {{"service", options_.name}, {"sid", log::session_id_string(s.id)}});
}

void tcp_service::stop_accepting() {
  if (stopping_) return;
  stopping_ = true;
  listener_->close();
}

task<void> tcp_service::drain(duration grace) {
  stop_accepting();
  // Poll at a coarse tick: shutdown is rare, and a tick keeps sessions free of wake-up hooks.
  const auto until = std::chrono::steady_clock::now() + grace;
  while (session_count_ > 0 && std::chrono::steady_clock::now() < until) {
    co_await sleep_for(std::chrono::milliseconds(20));
  }
  if (session_count_ > 0) {
    log::info("sessions_cancelled", {{"service", options_.name}, {"count", session_count_}});
    for (session* s = sessions_; s != nullptr; s = s->next) s->cancel.request_cancel();
  }
  co_await scope_.join();
}

}  // namespace ringmail

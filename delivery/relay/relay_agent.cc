#include "delivery/relay/relay_agent.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "absl/strings/str_cat.h"
#include "delivery/relay/dsn.h"
#include "delivery/relay/notice_sender.h"
#include "runtime/log.h"
#include "runtime/reactor.h"

namespace ringmail::relay {
namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The domain the recipient's mail is routed by: what follows the last '@', in the form
// transport keys and MX names are compared in (an address literal "[192.0.2.1]" keeps
// its brackets).
std::string recipient_domain(std::string_view address) {
  const size_t at = address.rfind('@');
  return canonical_domain(at == std::string_view::npos ? std::string_view() : address.substr(at + 1));
}

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

bool due(const queue::recipient_state& r, int64_t now, bool forced) {
  if (r.status == queue::rcpt_status::pending) return true;
  return r.status == queue::rcpt_status::deferred && (forced || r.next_attempt <= now);
}

// When the message should next be looked at: its earliest deferred recipient's next
// attempt, or "now" when one is still pending; nullopt when every recipient is final.
std::optional<int64_t> next_due(const queue::queue_record& record) {
  std::optional<int64_t> when;
  for (const queue::recipient_state& r : record.recipients) {
    if (queue::is_final(r.status)) continue;
    const int64_t t = r.status == queue::rcpt_status::pending ? 0 : r.next_attempt;
    when = when ? std::min(*when, t) : t;
  }
  return when;
}

}  // namespace

// The recipients of one message that share a domain, and what this attempt decided for
// each of them (an undecided one is deferred with the last failure when every address
// has been tried).
struct relay_agent::delivery_group {
  std::string domain;
  std::vector<size_t> indexes;  // into the record's recipients
  std::vector<std::string> addresses;
  std::vector<bool> decided;
  std::vector<disposition> result;
  std::vector<std::string> text;    // the reply or failure, for the state file and the notice
  std::vector<std::string> status;  // RFC 3463 code for the notice
  std::vector<std::string> remote_mta;  // "mx.example.com" when a server answered
  std::vector<std::string> reply;       // that server's reply, for the notice's Diagnostic-Code

  void add(size_t index, std::string address) {
    indexes.push_back(index);
    addresses.push_back(std::move(address));
    decided.push_back(false);
    result.push_back(disposition::deferred);
    text.emplace_back();
    status.emplace_back();
    remote_mta.emplace_back();
    reply.emplace_back();
  }
  void decide(size_t k, disposition d, std::string why, std::string code, const std::string& mta = "",
              std::string answer = "") {
    decided[k] = d != disposition::deferred;
    result[k] = d;
    text[k] = std::move(why);
    status[k] = std::move(code);
    remote_mta[k] = mta;
    reply[k] = std::move(answer);
  }
  // The notice's entry for recipient k.
  dsn_recipient notice(size_t k, const std::string& address, int64_t now) const {
    dsn_recipient d;
    d.address = address;
    d.status = status[k].empty() ? "4.0.0" : status[k];
    d.remote_mta = remote_mta[k];
    d.diagnostic = reply[k].empty() ? text[k] : reply[k];
    d.last_attempt = now;
    return d;
  }
  bool not_tried = false;  // the relay stopped before this group was attempted
  bool all_decided() const { return std::all_of(decided.begin(), decided.end(), [](bool b) { return b; }); }
};

relay_agent::relay_agent(queue::queue_store& store, route_resolver& routes, notice_sender& notices,
                         relay_options options)
    : store_(store), routes_(routes), notices_(notices), options_(std::move(options)) {}

relay_agent::~relay_agent() = default;

void relay_agent::push(int64_t when, std::string id) { due_.push(due_entry{when, std::move(id)}); }

void relay_agent::wake() {
  if (sleeping_ != nullptr) sleeping_->request_cancel();
}

void relay_agent::schedule(std::string id) {
  forced_.insert(id);
  push(0, std::move(id));
  wake();
}

void relay_agent::flush() {
  for (const queue::queue_record& r : store_.list()) {
    if (!next_due(r)) continue;
    forced_.insert(r.id);
    push(0, r.id);
  }
  wake();
}

void relay_agent::stop() {
  stopping_ = true;
  wake();
  // Each waiter for a slot wakes the next one as it gives up (deliver_group). A woken
  // waiter may change the map: look each destination up again.
  std::vector<std::string> names;
  for (const auto& [name, slots] : destinations_) names.push_back(name);
  for (const std::string& name : names) {
    if (auto it = destinations_.find(name); it != destinations_.end()) it->second->freed.notify_one();
  }
}

task<void> relay_agent::run() {
  for (const queue::queue_record& r : store_.list()) {
    if (std::optional<int64_t> when = next_due(r)) push(*when, r.id);
    else push(0, r.id);  // every recipient final: a crash left it; deliver() removes it
  }
  co_await dispatch();
  // Deliveries in flight get a moment to finish their transaction (a remote 250 whose
  // update is not written means a duplicate later); then their connections are cut, so
  // a stalled server cannot hold the shutdown for its 10-minute timeouts. A cut delivery
  // ends deferred, its state written.
  for (int i = 0; i < 50 && !in_flight_.empty(); ++i) co_await sleep_for(std::chrono::milliseconds(100));
  if (!in_flight_.empty()) cut_connections_.request_cancel();
  co_await deliveries_.join();
  co_await close_idle(true);
}

task<void> relay_agent::dispatch() {
  while (!stopping_) {
    const int64_t now = queue::unix_now();
    while (in_flight_.size() < options_.max_deliveries && !due_.empty() && due_.top().when <= now) {
      std::string id = due_.top().id;
      due_.pop();
      if (in_flight_.contains(id)) continue;  // it reschedules itself when done
      if (store_.find(id) == nullptr) continue;
      in_flight_.insert(id);
      deliveries_.spawn(deliver(std::move(id)));
    }
    co_await close_idle(false);
    // Sleep until the next due message, a new one, a finished delivery (a free slot) or
    // the idle-session sweep, whichever comes first.
    int64_t wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.connection_idle).count();
    if (wait_ms <= 0) wait_ms = 1000;
    if (!due_.empty() && in_flight_.size() < options_.max_deliveries) {
      wait_ms = std::min<int64_t>(wait_ms, std::max<int64_t>(0, (due_.top().when - now) * 1000));
    }
    if (wait_ms == 0) continue;
    cancel_source sleep;
    sleeping_ = &sleep;
    co_await sleep_for(std::chrono::milliseconds(wait_ms), &sleep);
    sleeping_ = nullptr;
  }
}

task<void> relay_agent::close_idle(bool all) {
  const int64_t now = steady_ms();
  const int64_t limit = std::chrono::duration_cast<std::chrono::milliseconds>(options_.connection_idle).count();
  std::vector<std::unique_ptr<smtp_client>> closing;
  std::vector<std::unique_ptr<client_options>> options;
  for (auto it = idle_sessions_.begin(); it != idle_sessions_.end();) {
    auto& list = it->second;
    for (size_t k = 0; k < list.size();) {
      if (all || now - list[k].idle_since_ms >= limit) {
        closing.push_back(std::move(list[k].client));
        options.push_back(std::move(list[k].options));
        list.erase(list.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        ++k;
      }
    }
    if (list.empty()) {
      idle_sessions_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto& c : closing) co_await c->quit();
}

std::unique_ptr<client_options> relay_agent::session_options(const route& r, const route_host& host, bool tls) {
  auto o = std::make_unique<client_options>();
  o->helo_name = options_.hostname;
  o->source = options_.source;
  o->cancel = &cut_connections_;
  o->pipelining = options_.pipelining;
  o->timeouts = options_.timeouts;
  if (tls && options_.tls) {
    o->starttls = options_.starttls;
    o->tls = options_.tls;
    o->tls_host = host.name;
  }
  if (r.relayhost && options_.relayhost_auth) o->auth = options_.relayhost_auth;
  return o;
}

task<void> relay_agent::deliver(std::string id) {
  // Whatever happens below, the message leaves in_flight_ and the dispatcher looks again.
  struct done_guard {
    relay_agent* agent;
    std::string id;
    ~done_guard() {
      agent->in_flight_.erase(id);
      agent->wake();
    }
  } guard{this, id};

  const queue::queue_record* found = store_.find(id);
  if (found == nullptr) co_return;
  if (store_.held(id)) co_return;  // released later with schedule()
  const queue::queue_record before = *found;
  const bool forced = forced_.erase(id) > 0;
  const int64_t now = queue::unix_now();

  if (before.all_final()) {
    absl::Status removed = co_await store_.remove(id);
    if (!removed.ok()) log::warn("relay_remove_failed", {{"id", id}, {"error", removed.ToString()}});
    co_return;
  }
  std::vector<delivery_group> groups;
  for (size_t i = 0; i < before.recipients.size(); ++i) {
    const queue::recipient_state& r = before.recipients[i];
    if (!due(r, now, forced)) continue;
    std::string domain = recipient_domain(r.address);
    auto g = std::find_if(groups.begin(), groups.end(), [&](const delivery_group& x) { return x.domain == domain; });
    if (g == groups.end()) {
      groups.emplace_back();
      g = groups.end() - 1;
      g->domain = std::move(domain);
    }
    g->add(i, r.address);
  }
  if (groups.empty()) {
    if (std::optional<int64_t> when = next_due(before)) push(*when, id);
    co_return;
  }
  ++counters_.attempts;
  absl::StatusOr<std::string> message = co_await store_.read_message(id);
  if (!message.ok()) {
    // A file damaged after start-up: leave it for the administrator (queue show/delete),
    // and look again after the back-off rather than spinning on it.
    log::error("relay_read_failed", {{"id", id}, {"error", message.status().ToString()}});
    push(now + options_.retry.minimal_backoff.count(), id);
    co_return;
  }
  for (delivery_group& g : groups) co_await deliver_group(g, *message, before);

  // Outcomes, durably, then notices.
  std::vector<queue::recipient_outcome> outcomes;
  std::vector<dsn_recipient> bounced, delayed;
  for (const delivery_group& g : groups) {
    if (g.not_tried) continue;
    for (size_t k = 0; k < g.indexes.size(); ++k) {
      const size_t i = g.indexes[k];
      const queue::recipient_state& r = before.recipients[i];
      queue::recipient_outcome o;
      o.index = i;
      o.text = g.text[k];
      switch (g.result[k]) {
        case disposition::delivered:
          o.status = queue::rcpt_status::delivered;
          o.text.clear();
          ++counters_.delivered;
          break;
        case disposition::bounced:
          o.status = queue::rcpt_status::bounced;
          bounced.push_back(g.notice(k, r.address, now));
          ++counters_.bounced;
          break;
        case disposition::deferred: {
          queue::retry_decision d = queue::after_temporary_failure(options_.retry, before.arrival, now, r.attempts + 1);
          if (d.bounce) {
            o.status = queue::rcpt_status::bounced;
            o.text = absl::StrCat("delivery time expired: ", o.text);
            bounced.push_back(g.notice(k, r.address, now));
            bounced.back().status = "5.4.7";  // RFC 3463 X.4.7 "Delivery time expired"
            ++counters_.bounced;
          } else {
            o.status = queue::rcpt_status::deferred;
            o.next_attempt = d.next_attempt;
            ++counters_.deferred;
            const int64_t previous =
                r.attempts == 0 ? 0 : r.next_attempt - queue::backoff_after(options_.retry, r.attempts).count();
            if (queue::delay_notice_due(options_.retry, before.arrival, previous, now)) {
              delayed.push_back(g.notice(k, r.address, now));
            }
          }
          break;
        }
      }
      if (o.text.size() > queue::kMaxQueueTextBytes) o.text.resize(queue::kMaxQueueTextBytes);
      log::info("relay_recipient", {{"id", id},
                                    {"to", r.address},
                                    {"status", queue::status_name(o.status)},
                                    {"relay", g.remote_mta[k]},
                                    {"reason", o.text}});
      outcomes.push_back(std::move(o));
    }
  }
  // Every recipient that was still open is final now: the states need not be written,
  // the message is removed once its notices are out (as Postfix deletes a queue file
  // after its last recipient, without an fsync). A crash before the removal is on disk
  // resends it: a duplicate at worst, and two fsync rounds fewer per message on the
  // common path.
  if (outcomes.empty()) co_return;  // stopped before any attempt: nothing changed
  size_t open_before = 0;
  for (const queue::recipient_state& r : before.recipients) open_before += queue::is_final(r.status) ? 0 : 1;
  const bool all_final_now = outcomes.size() == open_before &&
                             std::all_of(outcomes.begin(), outcomes.end(),
                                         [](const queue::recipient_outcome& o) { return queue::is_final(o.status); });
  if (all_final_now) {
    if (!bounced.empty() || !delayed.empty()) {
      co_await send_notices(before, std::move(bounced), std::move(delayed), *message);
    }
    absl::Status removed = co_await store_.remove_delivered(id);
    if (removed.ok() || absl::IsNotFound(removed)) co_return;
    // Not removed (I/O trouble, or an admin command on it right now): record the
    // outcomes instead, so the recipients are not tried again, and look later.
    log::warn("relay_remove_failed", {{"id", id}, {"error", removed.ToString()}});
    bounced.clear();
    delayed.clear();
  }
  absl::Status updated = co_await store_.update(id, std::move(outcomes));
  if (!updated.ok()) {
    if (absl::IsNotFound(updated)) co_return;  // deleted by the administrator meanwhile
    // Not durable: the same recipients are tried again later (a duplicate at worst).
    log::error("relay_update_failed", {{"id", id}, {"error", updated.ToString()}});
    push(now + options_.retry.minimal_backoff.count(), id);
    co_return;
  }
  if (!bounced.empty() || !delayed.empty()) {
    co_await send_notices(before, std::move(bounced), std::move(delayed), *message);
  }
  const queue::queue_record* after = store_.find(id);
  if (after == nullptr) co_return;
  if (after->all_final()) {
    absl::Status removed = co_await store_.remove(id);
    if (!removed.ok() && !absl::IsNotFound(removed)) {
      log::warn("relay_remove_failed", {{"id", id}, {"error", removed.ToString()}});
    }
    co_return;
  }
  if (std::optional<int64_t> when = next_due(*after)) push(*when, id);
}

task<void> relay_agent::deliver_group(delivery_group& group, std::string_view message,
                                      const queue::queue_record& record) {
  route r = co_await routes_.resolve(group.domain);
  if (!r.ok()) {
    const disposition d = r.status == route_status::permanent ? disposition::bounced : disposition::deferred;
    for (size_t k = 0; k < group.indexes.size(); ++k) group.decide(k, d, r.reason, r.enhanced_code);
    co_return;
  }
  // One destination's concurrency slot for the whole attempt.
  const std::string destination = r.relayhost ? std::string("relayhost") : r.hosts.front().name;
  std::unique_ptr<destination_slots>& boxed = destinations_[destination];
  if (!boxed) boxed = std::make_unique<destination_slots>();
  destination_slots* slots = boxed.get();  // stable while anyone holds or waits for a slot
  while (slots->active >= options_.destination_concurrency && !stopping_) co_await slots->freed.wait();
  if (stopping_) {
    // No attempt: the states stay as they were. The next waiter learns of the stop too.
    group.not_tried = true;
    slots->freed.notify_one();
    co_return;
  }
  ++slots->active;
  struct slot_guard {
    relay_agent* agent;
    const std::string& destination;
    destination_slots* slots;
    ~slot_guard() {
      --slots->active;
      if (slots->freed.notify_one()) return;  // the slot went to the next waiter
      if (slots->active == 0) agent->destinations_.erase(destination);
    }
  } slot{this, destination, slots};

  bool needs_utf8 = has_non_ascii(record.reverse_path);
  for (const std::string& a : group.addresses) needs_utf8 = needs_utf8 || has_non_ascii(a);
  const bool eight_bit = has_non_ascii(message);
  std::string last_failure = "no address to try";
  std::string last_code = "4.4.1";

  for (const route_host& host : r.hosts) {
    for (const socket_address& address : host.addresses) {
      if (group.all_decided()) co_return;
      std::vector<size_t> open_k;  // undecided recipients, by position in the group
      std::vector<std::string> rcpts;
      for (size_t k = 0; k < group.indexes.size(); ++k) {
        if (group.decided[k]) continue;
        open_k.push_back(k);
        rcpts.push_back(group.addresses[k]);
      }
      const std::string key = address.to_string();
      const std::string mta = absl::StrCat(host.name, "[", key, "]");
      cached_session session;
      if (auto it = idle_sessions_.find(key); it != idle_sessions_.end() && !it->second.empty()) {
        session = std::move(it->second.back());
        it->second.pop_back();
        if (it->second.empty()) idle_sessions_.erase(it);
      } else {
        const bool tls = options_.starttls != tls_policy::none && options_.tls != nullptr;
        session.options = session_options(r, host, tls);
        open_result opened = co_await smtp_client::open(address, *session.options);
        if (!opened.client && tls && options_.starttls == tls_policy::opportunistic &&
            opened.why.at == stage::tls_handshake) {
          // RFC 7435 opportunistic security: a failed handshake is no reason not to deliver.
          log::info("relay_tls_fallback", {{"relay", mta}, {"error", opened.why.text()}});
          session.options = session_options(r, host, false);
          opened = co_await smtp_client::open(address, *session.options);
        }
        if (!opened.client) {
          last_failure = absl::StrCat("connect to ", mta, ": ", opened.why.text());
          last_code = opened.why.kind == outcome::perm_fail ? "5.4.0" : "4.4.1";
          if (opened.why.kind == outcome::perm_fail && opened.why.at == stage::starttls) {
            last_code = "4.7.5";  // TLS required but not offered: defer, the policy may change
          }
          continue;
        }
        session.client = std::move(opened.client);
        ++counters_.sessions;
        if (session.client->tls_active()) {
          tls_details t = session.client->tls_info();
          log::info("relay_tls", {{"relay", mta}, {"version", t.version}, {"cipher", t.cipher}});
        }
      }

      // The open recipients in transactions of at most recipients_per_transaction on
      // this session (Postfix's smtp_destination_recipient_limit), while it lasts.
      bool usable = true;
      for (size_t first = 0; first < open_k.size() && usable; first += options_.recipients_per_transaction) {
        const size_t count = std::min(options_.recipients_per_transaction, open_k.size() - first);
        std::span<const std::string> chunk(rcpts.data() + first, count);
        envelope env;
        env.from = record.reverse_path;
        env.recipients = chunk;
        env.size = message.size();
        env.eight_bit = eight_bit;
        env.smtputf8 = needs_utf8;
        transaction_result t = co_await session.client->send_message(env, message);
        for (size_t j = 0; j < count; ++j) {
          const size_t k = open_k[first + j];
          const smtp_reply& reply = t.replies[j];
          if (t.delivered[j]) {
            group.decide(k, disposition::delivered, "", "2.0.0", host.name);
            continue;
          }
          std::string why = reply.code != 0 ? absl::StrCat(mta, " said: ", reply.describe())
                                            : absl::StrCat("lost connection with ", mta, ": ", t.why.text());
          std::string code = reply.enhanced.present() ? reply.enhanced.str()
                                                      : (reply.code >= 500 ? std::string("5.0.0") : std::string("4.4.2"));
          std::string answer = reply.code != 0 ? reply.describe() : std::string();
          if (reply.code >= 500) {
            group.decide(k, disposition::bounced, std::move(why), std::move(code), host.name, std::move(answer));
          } else {
            // 4xx or no reply: undecided, the next address may take it (RFC 5321 5.1).
            group.decide(k, disposition::deferred, why, code, host.name, std::move(answer));
            last_failure = std::move(why);
            last_code = std::move(code);
          }
        }
        ++session.messages;
        usable = t.session_usable && t.kind != outcome::error;
      }
      if (usable && session.messages < options_.max_messages_per_session && !stopping_) {
        session.idle_since_ms = steady_ms();
        idle_sessions_[key].push_back(std::move(session));
      } else if (usable) {
        co_await session.client->quit();
      } else {
        co_await session.client->close();
      }
    }
  }
  // Every address tried: whoever is still undecided waits for the next attempt.
  for (size_t k = 0; k < group.indexes.size(); ++k) {
    if (!group.decided[k] && group.text[k].empty()) {
      group.decide(k, disposition::deferred, last_failure, last_code);
    }
  }
}

task<void> relay_agent::send_notices(const queue::queue_record& record, std::vector<dsn_recipient> bounced,
                                     std::vector<dsn_recipient> delayed, std::string_view message) {
  if (!wants_dsn(record.reverse_path)) {
    // RFC 5321 6.1 / RFC 3461: never a notice to the null sender (it would loop).
    if (!bounced.empty()) log::info("relay_bounce_dropped", {{"id", record.id}, {"reason", "null sender"}});
    co_return;
  }
  const int64_t now = queue::unix_now();
  auto make = [&](dsn_kind kind, std::vector<dsn_recipient> which) {
    dsn_request req;
    req.kind = kind;
    req.reporting_mta = options_.hostname;
    req.queue_id = record.id;
    req.sender = record.reverse_path;
    req.arrival = record.arrival;
    req.now = now;
    req.retry_until = record.arrival + options_.retry.maximal_lifetime.count();
    req.original = message;
    req.recipients = std::move(which);
    return build_dsn(req);
  };
  if (!bounced.empty()) {
    delivery::delivery_result sent = co_await notices_.send(record.reverse_path, make(dsn_kind::failure, std::move(bounced)));
    ++counters_.notices;
    log::info("relay_bounce", {{"id", record.id}, {"to", record.reverse_path}, {"ok", sent.delivered()}});
  }
  if (!delayed.empty()) {
    delivery::delivery_result sent = co_await notices_.send(record.reverse_path, make(dsn_kind::delay, std::move(delayed)));
    ++counters_.notices;
    log::info("relay_delay_notice", {{"id", record.id}, {"to", record.reverse_path}, {"ok", sent.delivered()}});
  }
}

}  // namespace ringmail::relay

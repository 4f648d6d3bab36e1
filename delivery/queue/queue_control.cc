#include "delivery/queue/queue_control.h"

/* System library. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
/* Delivery. */
#include "delivery/queue/queue_control_protocol.h"
#include "delivery/queue/queue_store.h"
/* Runtime. */
#include "runtime/log.h"
#include "runtime/shard_set.h"
#include "runtime/stream.h"

namespace ringmail::queue {
namespace {

// An operator types a command and waits for the answer; a peer silent this long is gone.
constexpr auto kControlIdle = std::chrono::seconds(60);

using shard_list = std::vector<control_shard>;

absl::Status not_loaded(unsigned shard) {
  return absl::UnavailableError(absl::StrCat("the queue of shard ", shard, " is not loaded yet; try again"));
}

// absl::string_view is not std::string_view in this build.
std::string error_item(const absl::Status& st) { return encode_error_item(std::string(st.message())); }

absl::Status no_such_id(std::string_view id) {
  return absl::NotFoundError(absl::StrCat("no such queue id: ", std::string(id)));
}

// Root, or the uid the server runs as: the socket's mode says the same, this says it
// again should the socket or its directory ever be made wider.
bool peer_allowed(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == 0 || cred.uid == ::geteuid();
}

// ---- what runs on the owning shard (entry i of `shards` is read only there) ----------

struct shard_listing {
  absl::Status status;
  std::vector<control_message> messages;
};

shard_listing list_here(const shard_list* shards, unsigned i) {
  shard_listing out;
  queue_store* store = (*shards)[i].store;
  if (store == nullptr) {
    out.status = not_loaded(i);
    return out;
  }
  for (queue_record& r : store->list()) {
    control_message m;
    m.shard = i;
    m.size = store->message_size(r.id);
    m.held = store->held(r.id);
    m.record = std::move(r);
    out.messages.push_back(std::move(m));
  }
  return out;
}

struct shown {
  absl::Status status;
  control_message message;
  std::string text;
};

task<shown> show_here(const shard_list* shards, unsigned i, std::string id) {
  shown out;
  queue_store* store = (*shards)[i].store;
  const queue_record* r = store != nullptr ? store->find(id) : nullptr;
  if (store == nullptr) {
    out.status = not_loaded(i);
    co_return out;
  }
  if (r == nullptr) {
    out.status = no_such_id(id);
    co_return out;
  }
  out.message.shard = i;
  out.message.record = *r;
  out.message.size = store->message_size(id);
  out.message.held = store->held(id);
  auto text = co_await store->read_message(id);
  if (!text.ok()) {
    // Removed while it was read (the relay finished it, or a delete): NotFound as well.
    out.status = text.status().code() == absl::StatusCode::kNotFound ? no_such_id(id) : text.status();
    co_return out;
  }
  out.text = std::move(*text);
  co_return out;
}

// One id on its shard: delete, hold, release or flush.
task<absl::Status> act_here(const shard_list* shards, unsigned i, control_verb verb, std::string id) {
  const control_shard& cs = (*shards)[i];
  if (cs.store == nullptr) co_return not_loaded(i);
  queue_store& store = *cs.store;
  if (store.find(id) == nullptr) co_return no_such_id(id);
  absl::Status st;
  switch (verb) {
    case control_verb::remove:
      st = co_await store.remove(id, true);
      break;
    case control_verb::hold:
      st = co_await store.set_held(id, true);
      break;
    case control_verb::release: {
      const bool was_held = store.held(id);
      st = co_await store.set_held(id, false);
      // Postfix's postsuper -H puts the message back in the deferred queue for the next
      // run; ours asks the relay to try it now, as a release usually means "send it".
      if (st.ok() && was_held && cs.runner != nullptr) cs.runner->schedule(id);
      break;
    }
    case control_verb::flush:
      if (store.held(id)) {
        st = absl::FailedPreconditionError(absl::StrCat("queue id ", id, " is on hold; release it instead"));
      } else if (cs.runner == nullptr) {
        st = absl::UnavailableError("this server runs no relay");
      } else {
        cs.runner->schedule(id);
      }
      break;
    default:
      st = absl::InvalidArgumentError("not an action on one message");
  }
  if (st.code() == absl::StatusCode::kNotFound) st = no_such_id(id);  // the store's own wording differs
  co_return st;
}

struct shard_results {
  absl::Status status;  // the shard could not be asked at all
  std::vector<std::pair<std::string, absl::Status>> results;
};

// delete|hold|release ALL on one shard: every message the verb would change.
task<shard_results> act_all_here(const shard_list* shards, unsigned i, control_verb verb) {
  shard_results out;
  queue_store* store = (*shards)[i].store;
  if (store == nullptr) {
    out.status = not_loaded(i);
    co_return out;
  }
  std::vector<std::string> ids;
  for (const queue_record& r : store->list()) {
    if (verb == control_verb::hold && store->held(r.id)) continue;
    if (verb == control_verb::release && !store->held(r.id)) continue;
    ids.push_back(r.id);
  }
  for (std::string& id : ids) {
    absl::Status st = co_await act_here(shards, i, verb, id);
    // Gone meanwhile (the relay finished it): nothing left to act on, not a failure.
    if (st.code() == absl::StatusCode::kNotFound) continue;
    out.results.emplace_back(std::move(id), std::move(st));
  }
  co_return out;
}

absl::Status flush_here(const shard_list* shards, unsigned i) {
  const control_shard& cs = (*shards)[i];
  if (cs.store == nullptr) return not_loaded(i);
  if (cs.runner == nullptr) return absl::UnavailableError("this server runs no relay");
  cs.runner->flush();
  return absl::OkStatus();
}

// ---- on shard 0: one request, its whole reply --------------------------------------

task<std::string> execute(const control_request& req, const shard_list& shards) {
  const shard_list* all = &shards;
  const unsigned n = static_cast<unsigned>(shards.size());
  std::string reply;
  switch (req.verb) {
    case control_verb::list: {
      std::vector<control_message> messages;
      for (unsigned i = 0; i < n; ++i) {
        shard_listing part = co_await on_shard(i, [all, i] { return list_here(all, i); });
        if (!part.status.ok()) co_return error_item(part.status);
        std::move(part.messages.begin(), part.messages.end(), std::back_inserter(messages));
      }
      std::sort(messages.begin(), messages.end(), [](const control_message& a, const control_message& b) {
        return a.record.arrival != b.record.arrival ? a.record.arrival < b.record.arrival : a.record.id < b.record.id;
      });
      for (const control_message& m : messages) reply += encode_message_item(m);
      reply += encode_ok_item();
      co_return reply;
    }
    case control_verb::flush:
      if (req.id.empty()) {
        for (unsigned i = 0; i < n; ++i) {
          absl::Status st = co_await on_shard(i, [all, i] { return flush_here(all, i); });
          if (!st.ok()) co_return error_item(st);
        }
        co_return encode_ok_item();
      }
      break;
    default:
      break;
  }
  if (req.all) {
    size_t failed = 0;
    std::string first_error;
    for (unsigned i = 0; i < n; ++i) {
      const control_verb verb = req.verb;
      shard_results part = co_await on_shard(i, [all, i, verb] { return act_all_here(all, i, verb); });
      if (!part.status.ok()) co_return reply + error_item(part.status);
      for (const auto& [id, st] : part.results) {
        if (st.ok()) {
          reply += encode_done_item(id);
        } else {
          if (failed++ == 0) first_error = absl::StrCat(id, ": ", st.message());
        }
      }
    }
    if (failed > 0) {
      co_return reply + encode_error_item(absl::StrCat(failed, " message", failed == 1 ? "" : "s",
                                                       " not changed; first: ", first_error));
    }
    co_return reply + encode_ok_item();
  }
  // One id: its shard, from the id itself.
  const std::optional<unsigned> owner = shard_of_queue_id(req.id);
  if (!owner || *owner >= n) co_return error_item(no_such_id(req.id));
  const unsigned i = *owner;
  if (req.verb == control_verb::show) {
    // Only pointers and numbers in the capture: g++ 12 destroys a std::string captured by
    // a lambda that on_shard's coroutine frame holds twice. req outlives the call.
    const std::string* id = &req.id;
    shown s = co_await on_shard(i, [all, i, id] { return show_here(all, i, *id); });
    if (!s.status.ok()) co_return error_item(s.status);
    co_return encode_message_item(s.message) + encode_text_item(s.text) + encode_ok_item();
  }
  const std::string* id = &req.id;
  const control_verb verb = req.verb;
  absl::Status st = co_await on_shard(i, [all, i, verb, id] { return act_here(all, i, verb, *id); });
  if (!st.ok()) co_return error_item(st);
  co_return encode_done_item(req.id) + encode_ok_item();
}

}  // namespace

std::string control_socket_path(std::string_view data_dir) {
  std::string dir(data_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/queue/control.sock";
}

task<void> run_control_session(session& s, const std::vector<control_shard>& shards) {
  if (!peer_allowed(s.conn.fd())) {
    log::warn("queue_control_refused", {{"reason", "peer uid"}});
    co_await s.conn.close();
    co_return;
  }
  stream io(std::move(s.conn), {kControlIdle, kControlIdle}, &s.cancel);
  while (!s.stopping()) {
    io_result<std::string_view> line = co_await io.read_line(kMaxControlLine + 2);
    if (!line.ok()) {
      if (line.status().kind == io_kind::too_long) co_await io.write(encode_error_item("command line too long"));
      break;
    }
    auto req = parse_control_request(*line);
    std::string reply;
    if (!req.ok()) {
      reply = error_item(req.status());
    } else {
      log::info("queue_control", {{"command", control_verb_name(req->verb)},
                                  {"id", req->all ? std::string("ALL") : req->id}});
      reply = co_await execute(*req, shards);
    }
    if (!(co_await io.write(reply)).ok()) break;
  }
  co_await io.close();
}

absl::StatusOr<std::unique_ptr<tcp_service>> start_queue_control(std::string_view data_dir,
                                                                 const std::vector<control_shard>* shards) {
  const std::string path = control_socket_path(data_dir);
  const std::string dir = path.substr(0, path.rfind('/'));
  // At start-up, before the shard serves anything: a plain mkdir is fine here.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("queue control: mkdir ", dir, ": ", std::strerror(errno)));
  }
  auto addr = socket_address::unix_path(path);
  if (!addr.ok()) return addr.status();
  service_options so;
  so.name = "queue-control";
  so.address = *addr;
  // Few operators at once; the limit only keeps a runaway script from piling up sessions.
  auto limits = std::make_shared<conn_limits>(64, 0);
  auto svc = tcp_service::start(
      so, [shards](session& s) { return run_control_session(s, *shards); }, std::move(limits));
  if (!svc.ok()) return svc.status();
  if (::chmod(path.c_str(), 0600) != 0) {
    return absl::UnavailableError(absl::StrCat("queue control: chmod ", path, ": ", std::strerror(errno)));
  }
  log::info("queue_control_listening", {{"socket", path}});
  return svc;
}

}  // namespace ringmail::queue

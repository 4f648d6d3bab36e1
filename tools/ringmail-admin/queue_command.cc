#include "tools/ringmail-admin/queue_command.h"

#include <time.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "delivery/queue/queue_control.h"

namespace ringmail::tools {
namespace {

constexpr char kQueueUsage[] =
    "usage: ringmail-admin [--data_dir=DIR] queue list | show ID | flush [ID] | delete ID|ALL | hold ID|ALL | "
    "release ID|ALL";

std::string utc(int64_t t) {
  const time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// Error texts may hold CR LF (a multi-line remote reply): one line each in the listing.
std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  return out;
}

std::string sender(const queue::queue_record& r) { return r.reverse_path.empty() ? "<>" : r.reverse_path; }

// "<status>  <address>[ (+detail)][  attempts=N][  next=T][  (text)]"
std::string recipient_line(const queue::recipient_state& r) {
  std::string out = absl::StrCat(std::string(queue::status_name(r.status)), "  ", r.address);
  if (!r.detail.empty()) absl::StrAppend(&out, " (+", r.detail, ")");
  if (r.attempts > 0) absl::StrAppend(&out, "  attempts=", r.attempts);
  if (r.status == queue::rcpt_status::deferred) absl::StrAppend(&out, "  next=", utc(r.next_attempt));
  if (!r.text.empty()) absl::StrAppend(&out, "  (", one_line(r.text), ")");
  return out;
}

int fail(std::string_view text) {
  std::fprintf(stderr, "ringmail-admin: %.*s\n", static_cast<int>(text.size()), text.data());
  return 1;
}

int fail(const absl::Status& st) { return fail(std::string(st.message())); }

// What the server says it did, one line per id, as postsuper reports its counts.
void print_done(const queue::control_request& req, const queue::control_reply& reply) {
  const char* verb = req.verb == queue::control_verb::remove    ? "deleted"
                     : req.verb == queue::control_verb::hold    ? "held"
                     : req.verb == queue::control_verb::release ? "released"
                                                                : "scheduled";
  for (const std::string& id : reply.done) std::printf("%s: %s\n", verb, id.c_str());
  if (req.all) {
    std::printf("-- %s %zu message%s\n", verb, reply.done.size(), reply.done.size() == 1 ? "" : "s");
  }
}

}  // namespace

std::string format_queue_listing(const std::vector<queue::control_message>& messages) {
  std::string out;
  uint64_t bytes = 0;
  for (const queue::control_message& m : messages) {
    if (!m.problem.empty() && m.record.recipients.empty()) {
      absl::StrAppend(&out, m.record.id, "  (shard ", m.shard, ") DAMAGED: ", m.problem, "\n\n");
      continue;
    }
    bytes += m.size;
    // '!' marks a held message, as in Postfix's postqueue -p.
    absl::StrAppend(&out, m.record.id, m.held ? "!" : "", "  ", m.size, "  ", utc(m.record.arrival), "  ",
                    sender(m.record), "\n");
    if (!m.problem.empty()) absl::StrAppend(&out, "    (", m.problem, ")\n");
    // As Postfix, only the recipients still to be tried: delivered and bounced ones are done.
    for (const queue::recipient_state& r : m.record.recipients) {
      if (!queue::is_final(r.status)) absl::StrAppend(&out, "    ", recipient_line(r), "\n");
    }
    out += "\n";
  }
  absl::StrAppend(&out, "-- ", bytes, " bytes in ", messages.size(), messages.size() == 1 ? " message" : " messages",
                  "\n");
  return out;
}

std::string format_queue_message(const queue::control_reply& reply) {
  if (reply.messages.empty()) return "";
  const queue::control_message& m = reply.messages[0];
  std::string out = absl::StrCat("queue id: ", m.record.id, "\nshard: ", m.shard, "\nheld: ", m.held ? "yes" : "no",
                                 "\nsize: ", m.size, "\narrival: ", utc(m.record.arrival), " UTC\nsender: ",
                                 sender(m.record), "\n");
  for (const queue::recipient_state& r : m.record.recipients) absl::StrAppend(&out, "recipient: ", recipient_line(r), "\n");
  // postcat's separator, so the message that follows cannot be taken for the envelope.
  absl::StrAppend(&out, "*** MESSAGE CONTENTS ", m.record.id, " ***\n", reply.text);
  if (!reply.text.empty() && reply.text.back() != '\n') out += "\n";
  return out;
}

int queue_command(const std::string& data_dir, const std::vector<std::string>& args) {
  // The arguments are the protocol's request line ("hold ID"): one grammar, one parser.
  auto req = queue::parse_control_request(absl::StrJoin(args, " "));
  if (args.empty() || !req.ok()) {
    if (!args.empty()) std::fprintf(stderr, "ringmail-admin: queue: %s\n", std::string(req.status().message()).c_str());
    std::fprintf(stderr, "%s\n", kQueueUsage);
    return 2;
  }
  const std::string queue_root = data_dir + "/queue";
  auto reply = queue::call_queue_control(queue::control_socket_path(data_dir), *req);
  const bool offline = !reply.ok() && reply.status().code() == absl::StatusCode::kFailedPrecondition;
  if (offline && (req->verb == queue::control_verb::list || req->verb == queue::control_verb::show)) {
    std::fprintf(stderr, "ringmail-admin: %s; reading the spool offline\n", std::string(reply.status().message()).c_str());
    if (req->verb == queue::control_verb::list) {
      auto messages = queue::read_spool_messages(queue_root);
      if (!messages.ok() && messages.status().code() != absl::StatusCode::kNotFound) return fail(messages.status());
      queue::control_reply r;
      r.ok = true;
      if (messages.ok()) r.messages = std::move(*messages);
      reply = std::move(r);
    } else {
      reply = queue::read_spool_message(queue_root, req->id);
    }
  } else if (offline) {
    return fail(absl::StrCat(reply.status().message(),
                             "; queue ", std::string(queue::control_verb_name(req->verb)),
                             " needs the running server (it is the only writer of the spool)"));
  }
  if (!reply.ok()) return fail(reply.status());
  if (req->verb == queue::control_verb::list) {
    if (!reply->ok) return fail(reply->error);
    if (reply->messages.empty()) {
      std::printf("-- queue is empty\n");
    } else {
      std::fputs(format_queue_listing(reply->messages).c_str(), stdout);
    }
    return 0;
  }
  if (req->verb == queue::control_verb::show) {
    if (!reply->ok) return fail(reply->error);
    std::fputs(format_queue_message(*reply).c_str(), stdout);
    return 0;
  }
  print_done(*req, *reply);
  if (!reply->ok) return fail(reply->error);
  if (req->verb == queue::control_verb::flush && req->id.empty()) {
    std::printf("flush: every deferred message is being tried now\n");
  }
  return 0;
}

}  // namespace ringmail::tools

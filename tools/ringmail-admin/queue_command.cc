#include "tools/ringmail-admin/queue_command.h"

#include <time.h>

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace ringmail::tools {
namespace {

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

}  // namespace

std::string format_queue_listing(const std::vector<queue::spool_entry>& entries) {
  std::string out;
  uint64_t bytes = 0;
  for (const queue::spool_entry& e : entries) {
    if (!e.problem.empty() && e.record.recipients.empty()) {
      absl::StrAppend(&out, e.record.id, "  (shard ", e.shard, ") DAMAGED: ", e.problem, "\n\n");
      continue;
    }
    bytes += e.message_size;
    absl::StrAppend(&out, e.record.id, "  ", e.message_size, "  ", utc(e.record.arrival), "  ",
                    e.record.reverse_path.empty() ? std::string("<>") : e.record.reverse_path, "\n");
    if (!e.problem.empty()) absl::StrAppend(&out, "    (", e.problem, ")\n");
    for (const queue::recipient_state& r : e.record.recipients) {
      std::string address = r.address;
      if (!r.detail.empty()) absl::StrAppend(&address, " (+", r.detail, ")");
      absl::StrAppend(&out, "    ", std::string(queue::status_name(r.status)), "  ", address);
      if (r.attempts > 0) absl::StrAppend(&out, "  attempts=", r.attempts);
      if (r.status == queue::rcpt_status::deferred) absl::StrAppend(&out, "  next=", utc(r.next_attempt));
      if (!r.text.empty()) absl::StrAppend(&out, "  (", one_line(r.text), ")");
      out += "\n";
    }
    out += "\n";
  }
  absl::StrAppend(&out, "-- ", bytes, " bytes in ", entries.size(), entries.size() == 1 ? " message" : " messages",
                  "\n");
  return out;
}

int queue_command(const std::string& data_dir, const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0] != "list") return 2;
  auto entries = queue::read_spool(data_dir + "/queue");
  if (!entries.ok()) {
    if (entries.status().code() == absl::StatusCode::kNotFound) {
      std::printf("-- queue is empty\n");
      return 0;
    }
    std::fprintf(stderr, "ringmail-admin: %s\n", std::string(entries.status().message()).c_str());
    return 1;
  }
  if (entries->empty()) {
    std::printf("-- queue is empty\n");
    return 0;
  }
  std::fputs(format_queue_listing(*entries).c_str(), stdout);
  return 0;
}

}  // namespace ringmail::tools

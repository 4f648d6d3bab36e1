// Mail store micro figures on one shard, in-process (no process start, no directory
// lookup), over a folder that bench/mailstore/run.sh prepared:
//
//   open      mailbox::folder("INBOX") in a fresh mailbox: the first open builds the
//             index (from the files and any dovecot-uidlist), later ones load the
//             checkpoint (and the log) and stat new/ and cur/.
//   close     mail_store::close_all(): a checkpoint of every open folder and
//             dovecot-uidlist brought up to date (what a server stop or ringmail-admin does).
//   flags     mailbox::store(), the owner-shard call IMAP STORE will make: each change is a
//             rename in the Maildir, the directory fsynced, and one index log record,
//             group-committed with fdatasync. Three shapes:
//               single  one UID per call, one call at a time (an IMAP client that waits
//                       for each tagged OK): changes/s
//               conc    one UID per call, --concurrency calls in flight (many sessions of
//                       the user, or pipelined STOREs): changes/s, fdatasyncs per change
//               range   one call over the top --range_size UIDs (UID STORE N:*): changes/s
//
// Usage: mailstore_bench --mail_root=R --address=u@example.org [--mode=open|flags]
// Prints one key=value line per figure (run.sh turns them into a table).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/mailstore/maildir_filename.h"
#include "runtime/log.h"
#include "runtime/shard_set.h"
#include "runtime/when_all.h"

ABSL_FLAG(std::string, mail_root, "", "mail root holding <domain>/<local>/Maildir");
ABSL_FLAG(std::string, address, "u@example.org", "the user whose INBOX is measured");
ABSL_FLAG(std::string, mode, "open", "open: one open + close; flags: the three flag-change shapes");
ABSL_FLAG(bool, fsync, true, "false: no fsync/fdatasync at all (not durable; like-for-like with a peer that skips them)");
ABSL_FLAG(int, changes, 2000, "flag changes for the single and conc shapes");
ABSL_FLAG(int, concurrency, 16, "store() calls in flight for the conc shape");
ABSL_FLAG(int, range_size, 10000, "UIDs in the range shape's one call");

namespace {

using namespace ringmail;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// UIDs of messages that do not yet carry \Flagged, so every call really renames a file.
std::vector<uint32_t> unflagged_uids(const mailstore::folder_state& s) {
  std::vector<uint32_t> out;
  for (const auto& m : s.messages) {
    if (!(m.flags & mailstore::flag_flagged)) out.push_back(m.uid);
  }
  return out;
}

task<int> run_open(mailstore::mail_store& store, std::string address) {
  auto box = store.mailbox_for(address);
  if (!box.ok()) co_return 1;
  auto t = clock_type::now();
  auto f = co_await (*box)->folder(std::string("INBOX"));
  const double open_s = seconds_since(t);
  if (!f.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(f.status().message()).c_str());
    co_return 1;
  }
  const auto summary = (*f)->summary();
  t = clock_type::now();
  absl::Status closed = co_await store.close_all();
  const double close_s = seconds_since(t);
  std::printf("ringmail_open_seconds=%.4f messages=%u unseen=%u\n", open_s, summary.messages, summary.unseen);
  std::printf("ringmail_close_seconds=%.4f\n", close_s);
  co_return closed.ok() ? 0 : 1;
}

task<int> run_flags(mailstore::mail_store& store, std::string address) {
  auto box = store.mailbox_for(address);
  if (!box.ok()) co_return 1;
  mailstore::mailbox& mb = **box;
  auto f = co_await mb.folder(std::string("INBOX"));
  if (!f.ok()) co_return 1;
  std::shared_ptr<mailstore::open_folder> folder = *f;
  std::vector<uint32_t> unflagged = unflagged_uids(folder->state());
  const size_t changes = static_cast<size_t>(absl::GetFlag(FLAGS_changes));
  const size_t range = static_cast<size_t>(absl::GetFlag(FLAGS_range_size));
  if (unflagged.size() < 2 * changes + range) {
    std::fprintf(stderr, "flags: only %zu unflagged messages\n", unflagged.size());
    co_return 1;
  }
  size_t next = 0;
  auto flag_one = [&mb](uint32_t uid) -> task<bool> {
    // Named arguments: g++ 12 rejects braced temporaries in a coroutine lambda's co_await.
    std::vector<uint32_t> one(1, uid);
    std::vector<std::string> no_keywords;
    auto r = co_await mb.store(std::string("INBOX"), std::move(one), mailstore::flag_op::add, mailstore::flag_flagged,
                               std::move(no_keywords));
    co_return r.ok() && r->size() == 1;
  };

  // single: one at a time.
  size_t ok = 0;
  auto t = clock_type::now();
  for (size_t i = 0; i < changes; ++i) ok += co_await flag_one(unflagged[next++]) ? 1 : 0;
  double s = seconds_since(t);
  std::printf("ringmail_flags_single_per_second=%.0f changes=%zu ok=%zu seconds=%.3f\n", changes / s, changes, ok, s);

  // conc: `concurrency` callers, each taking the next UID.
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const size_t first = next, last = next + changes;
  next = last;
  size_t cursor = first;
  ok = 0;
  auto worker = [&]() -> task<void> {
    while (cursor < last) {
      const uint32_t uid = unflagged[cursor++];
      ok += co_await flag_one(uid) ? 1 : 0;
    }
  };
  t = clock_type::now();
  std::vector<task<void>> workers;
  for (int w = 0; w < concurrency; ++w) workers.push_back(worker());
  co_await when_all(std::move(workers));
  s = seconds_since(t);
  std::printf("ringmail_flags_conc_per_second=%.0f changes=%zu ok=%zu concurrency=%d seconds=%.3f\n", changes / s,
              changes, ok, concurrency, s);

  // range: one call.
  // The top `range_size` UIDs (UID STORE <uidnext-range>:*), as the Dovecot side does;
  // the few already flagged are skipped by both.
  const uint32_t low = folder->state().uid_next - static_cast<uint32_t>(range);
  std::vector<uint32_t> uids;
  for (size_t i = next; i < unflagged.size(); ++i) {
    if (unflagged[i] >= low) uids.push_back(unflagged[i]);
  }
  const size_t range_changes = uids.size();
  t = clock_type::now();
  std::vector<std::string> no_keywords;
  auto r = co_await mb.store(std::string("INBOX"), std::move(uids), mailstore::flag_op::add, mailstore::flag_flagged,
                             std::move(no_keywords));
  s = seconds_since(t);
  ok = r.ok() ? r->size() : 0;
  std::printf("ringmail_flags_range_per_second=%.0f changes=%zu ok=%zu seconds=%.3f\n", range_changes / s, range_changes,
              ok, s);
  absl::Status closed = co_await store.close_all();
  co_return closed.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  log::set_level(log::level::warn);
  shard_options options;
  options.shards = 1;
  options.pin = false;
  options.offload_threads = 1;
  auto shards = shard_set::start(options);
  if (!shards.ok()) {
    std::fprintf(stderr, "%s\n", std::string(shards.status().message()).c_str());
    return 1;
  }
  const bool fsync = absl::GetFlag(FLAGS_fsync);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  int rc = block_on_shard(**shards, 0, [&]() -> task<int> {
    mailstore::writer_options wo;
    wo.fsync = fsync;
    mailstore::maildir_writer writer(wo);
    mailstore::store_options so;
    so.fsync = fsync;
    so.index.fsync = fsync;
    mailstore::mail_store store(absl::GetFlag(FLAGS_mail_root), so, writer, (*shards)->offload());
    if (mode == "flags") co_return co_await run_flags(store, absl::GetFlag(FLAGS_address));
    co_return co_await run_open(store, absl::GetFlag(FLAGS_address));
  });
  (*shards)->stop();
  return rc;
}

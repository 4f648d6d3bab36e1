#include "spam/greylist_journal.h"

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "runtime/log.h"
#include "runtime/reactor.h"
#include "spam/greylist_log.h"
#include "spam/greylist_store.h"

namespace ringmail::spam {
namespace {

// Kept out of the coroutine: g++ 12 miscompiles some braced lists inside coroutine bodies.
void log_write_failure(const std::string& path, const absl::Status& st) {
  log::warn("greylist_write_failed", {{"path", path}, {"reason", st.message()}});
}

void log_write_recovered(const std::string& path) { log::info("greylist_write_recovered", {{"path", path}}); }

}  // namespace

greylist_journal::greylist_journal(offload_pool& pool, std::string path, greylist_options table_options,
                                   greylist_journal_options options, size_t records_on_disk)
    : pool_(pool), path_(std::move(path)), table_options_(table_options), options_(options), on_disk_(records_on_disk) {}

void greylist_journal::record(std::string_view key, const greylist_entry& e) {
  append_greylist_record(pending_, key, e);
  ++pending_records_;
}

task<void> greylist_journal::flush(size_t live_entries) {
  // Against the larger of the live entries and what the last compaction left: entries
  // the table evicted stay in the file until they expire, and must not make every flush
  // compact again. So the file at least doubles between compactions (amortized O(1)).
  const size_t base = std::max(live_entries, compacted_size_);
  const bool compact = on_disk_ + pending_records_ > 2 * base + options_.compact_floor;
  if (pending_records_ == 0 && !compact) co_return;
  const size_t batch_records = pending_records_;
  pending_records_ = 0;
  // -1: the write failed; else the records the file holds afterwards.
  auto write = [path = path_, batch = std::exchange(pending_, std::string()), compact, batch_records,
                options = table_options_, before = on_disk_]() -> absl::StatusOr<size_t> {
    absl::Status st = append_greylist_file(path, batch);
    if (!st.ok()) return st;
    if (!compact) return before + batch_records;
    return compact_greylist_file(path, options, std::chrono::system_clock::now());
  };
  task<absl::StatusOr<size_t>> job = offload(pool_, std::move(write));
  absl::StatusOr<size_t> written = co_await job;
  if (!written.ok()) {
    // The batch is dropped rather than kept: memory stays bounded while the disk is
    // full, and the table itself is untouched (the server greylists on from memory).
    if (!failing_) log_write_failure(path_, written.status());
    failing_ = true;
    co_return;
  }
  if (failing_) log_write_recovered(path_);
  failing_ = false;
  on_disk_ = *written;
  if (compact) compacted_size_ = on_disk_;
}

task<void> greylist_journal::run(const greylist_table& table, cancel_source& stop) {
  // Named tasks (common.md's g++ 12 rule): with `co_await flush(...)` on temporaries this
  // coroutine's body was never entered once spawned, and shutdown waited for it forever.
  for (;;) {
    sleep_awaiter tick = sleep_for(options_.period, &stop);
    const bool slept = co_await tick;
    if (!slept) break;
    task<void> periodic = flush(table.size());
    co_await periodic;
  }
  task<void> last = flush(table.size());
  co_await last;
}

}  // namespace ringmail::spam

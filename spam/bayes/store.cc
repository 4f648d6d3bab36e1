// bayes_store: SpamAssassin's learning rules over any token store (bayes_backend.h) —
// sa-learn's seen/unlearn semantics, and a batch's token counts summed in memory and
// written at once.
//
// One backend connection, serialised by a mutex: learning and loading are rare and run on
// the offload pool or in tools; the scanner classifies against a loaded bayes_model.
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spam/bayes/bayes.h"
#include "spam/bayes/sqlite.h"

namespace ringmail::spam {
namespace {

// Token deltas are summed in memory per batch; past this many distinct (user, token)
// entries (about 100 MB) they are written out early, inside the same transaction.
constexpr size_t kMaxPendingTokens = 2'000'000;

// The pending changes of one batch for one user.
struct user_delta {
  int64_t spam = 0;
  int64_t ham = 0;
  absl::flat_hash_map<uint64_t, std::pair<int32_t, int32_t>> tokens;  // token -> (dspam, dham)
};

class delta_batch final : public bayes_store::batch {
 public:
  // `atime`: what every token the batch writes is stamped with (the batch's start; a bulk
  // batch runs for minutes at most, well under the 12 h granularity of expiry).
  delta_batch(bayes_backend& store, std::unique_lock<std::mutex> lock, int64_t atime)
      : store_(store), lock_(std::move(lock)), atime_(atime) {}

  ~delta_batch() override {
    if (open_) store_.rollback();
  }

  absl::Status start() {
    if (absl::Status s = store_.begin(); !s.ok()) return s;
    open_ = true;
    return absl::OkStatus();
  }

  absl::Status learn(std::string_view user, std::string_view msg_id, const std::vector<uint64_t>& tokens,
                     bool is_spam) override {
    if (!open_) return absl::FailedPreconditionError("bayes store: batch already committed");
    if (!failed_.ok()) return failed_;
    absl::Status s = learn_one(user, msg_id, tokens, is_spam);
    // A failure may leave this message half-recorded (seen row vs summed counts): the
    // batch refuses to go on or commit, and rolls back when destroyed.
    if (!s.ok()) failed_ = s;
    return s;
  }

  absl::Status commit() override {
    if (!open_) return absl::FailedPreconditionError("bayes store: batch already committed");
    if (!failed_.ok()) return failed_;
    if (absl::Status s = flush(); !s.ok()) {
      failed_ = s;
      return s;
    }
    if (absl::Status s = store_.commit(); !s.ok()) {
      failed_ = s;
      return s;
    }
    open_ = false;
    lock_.unlock();
    return absl::OkStatus();
  }

 private:
  absl::Status learn_one(std::string_view user, std::string_view msg_id, const std::vector<uint64_t>& tokens,
                         bool is_spam) {
    // sa-learn semantics (Plugin/Bayes.pm _learn_trapped): seen the same way -> nothing
    // to do; seen the other way -> forget it first.
    absl::StatusOr<std::optional<bool>> seen = store_.seen(user, msg_id);
    if (!seen.ok()) return seen.status();
    const int previous = !seen->has_value() ? -1 : (**seen ? 1 : 0);
    if (previous == (is_spam ? 1 : 0)) return absl::OkStatus();

    user_delta& d = pending_[std::string(user)];
    if (previous >= 0) add(d, tokens, previous == 1, -1);
    add(d, tokens, is_spam, +1);
    if (absl::Status s = store_.record_seen(user, msg_id, is_spam); !s.ok()) return s;
    pending_tokens_ += tokens.size();
    if (pending_tokens_ >= kMaxPendingTokens) return flush();
    return absl::OkStatus();
  }

  static void add(user_delta& d, const std::vector<uint64_t>& tokens, bool spam, int sign) {
    (spam ? d.spam : d.ham) += sign;
    for (uint64_t t : tokens) {
      auto& [ds, dh] = d.tokens[t];
      (spam ? ds : dh) += sign;
    }
  }

  // Writes the summed deltas (the backend clamps at zero and drops emptied tokens).
  absl::Status flush() {
    std::vector<token_delta> deltas;
    for (auto& [user, d] : pending_) {
      if (d.spam != 0 || d.ham != 0) {
        if (absl::Status s = store_.add_totals(user, d.spam, d.ham); !s.ok()) return s;
      }
      deltas.clear();
      deltas.reserve(d.tokens.size());
      for (const auto& [token, delta] : d.tokens) {
        if (delta.first != 0 || delta.second != 0) deltas.push_back({token, delta.first, delta.second});
      }
      if (absl::Status s = store_.add_tokens(user, deltas, atime_); !s.ok()) return s;
    }
    pending_.clear();
    pending_tokens_ = 0;
    return absl::OkStatus();
  }

  bayes_backend& store_;
  std::unique_lock<std::mutex> lock_;
  const int64_t atime_;
  bool open_ = false;
  absl::Status failed_;
  absl::flat_hash_map<std::string, user_delta> pending_;
  size_t pending_tokens_ = 0;
};

}  // namespace

bayes_store::bayes_store(std::unique_ptr<bayes_backend> backend)
    : backend_(std::move(backend)), now_([] { return static_cast<int64_t>(std::time(nullptr)); }) {}
bayes_store::~bayes_store() = default;

std::unique_ptr<bayes_store> bayes_store::over(std::unique_ptr<bayes_backend> backend) {
  return std::unique_ptr<bayes_store>(new bayes_store(std::move(backend)));
}

absl::StatusOr<std::unique_ptr<bayes_store>> bayes_store::open(const std::string& sqlite_path) {
  absl::StatusOr<std::unique_ptr<bayes_backend>> backend = open_sqlite_bayes_backend(sqlite_path);
  if (!backend.ok()) return backend.status();
  return over(std::move(*backend));
}

absl::StatusOr<std::unique_ptr<bayes_store::batch>> bayes_store::begin_batch() {
  auto b = std::make_unique<delta_batch>(*backend_, std::unique_lock<std::mutex>(mutex_), now_());
  if (absl::Status s = b->start(); !s.ok()) return s;
  return std::unique_ptr<batch>(std::move(b));
}

absl::Status bayes_store::learn(std::string_view user, std::string_view msg_id, const std::vector<uint64_t>& tokens,
                                bool is_spam) {
  absl::StatusOr<std::unique_ptr<batch>> b = begin_batch();
  if (!b.ok()) return b.status();
  if (absl::Status s = (*b)->learn(user, msg_id, tokens, is_spam); !s.ok()) return s;
  return (*b)->commit();
}

absl::StatusOr<std::shared_ptr<const bayes_model>> bayes_store::load(std::string_view user) {
  std::lock_guard<std::mutex> lock(mutex_);
  return backend_->load(user);
}

absl::StatusOr<bayes_expiry_result> bayes_store::expire(std::string_view user, bool force) {
  // Not due and not forced: nothing to take the writer lock for.
  if (!force && !expiry_.auto_expire) return bayes_expiry_result{false, "auto expiry off"};
  std::lock_guard<std::mutex> lock(mutex_);
  if (absl::Status s = backend_->begin(); !s.ok()) return s;
  absl::StatusOr<bayes_expiry_result> r = expire_tokens(*backend_, user, expiry_, now_(), force);
  if (!r.ok()) {
    backend_->rollback();
    return r;
  }
  if (absl::Status s = backend_->commit(); !s.ok()) return s;
  return r;
}

}  // namespace ringmail::spam

// notifier: "wait until something changes", for coroutines on ONE shard.
//
// co_await n.wait() suspends until the next n.notify_all(); notify_all() resumes every
// coroutine waiting at that moment, in the order they started waiting (notify_one() only
// the first of them). A waiter that
// starts waiting during notify_all() waits for the next one. Used for group commit (wait
// for the fsync in flight to finish) and for sessions that follow a mailbox's events
// (IMAP IDLE waits until the owner says there is news).
//
// The waiter node lives in the awaiting coroutine's frame; if that frame is destroyed
// while waiting (a cancelled session), the node unlinks itself, so notify_all() never
// resumes a dead coroutine.
//
// Threading: NOT thread-safe. Every call, and every resumption, happens on the shard
// that owns the notifier; another shard that wants to wake it posts to this shard first.
#pragma once

#include <coroutine>
#include <cstddef>

namespace ringmail {

class notifier {
 public:
  class awaiter;

 private:
  // An intrusive list of waiters; a waiter knows which list it is in, so it can unlink
  // itself from the notifier's list or from the batch notify_all() is resuming.
  struct waiter_list {
    awaiter* head = nullptr;
    awaiter* tail = nullptr;
  };

 public:
  notifier() = default;
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;
  ~notifier() {
    // Waiters left behind belong to frames that outlive us: unlink them so their
    // destructors do not touch freed memory. They are never resumed.
    while (waiting_.head != nullptr) waiting_.head->unlink();
  }

  class awaiter {
   public:
    explicit awaiter(notifier& n) : owner_(&n) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    ~awaiter() { unlink(); }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      handle_ = h;
      link(owner_->waiting_);
    }
    void await_resume() const noexcept {}

   private:
    friend class notifier;
    void link(waiter_list& l) {
      list_ = &l;
      prev_ = l.tail;
      next_ = nullptr;
      if (prev_ != nullptr) {
        prev_->next_ = this;
      } else {
        l.head = this;
      }
      l.tail = this;
    }
    void unlink() {
      if (list_ == nullptr) return;
      if (prev_ != nullptr) {
        prev_->next_ = next_;
      } else {
        list_->head = next_;
      }
      if (next_ != nullptr) {
        next_->prev_ = prev_;
      } else {
        list_->tail = prev_;
      }
      prev_ = next_ = nullptr;
      list_ = nullptr;
    }
    notifier* owner_;
    waiter_list* list_ = nullptr;
    awaiter* prev_ = nullptr;
    awaiter* next_ = nullptr;
    std::coroutine_handle<> handle_;
  };

  awaiter wait() { return awaiter(*this); }

  // Resumes everyone waiting now (inline, one after another). Returns how many.
  size_t notify_all() {
    // Move the current waiters to a batch first: a resumed coroutine may wait again at
    // once (it joins waiting_, for the next notify), or destroy another waiter's frame
    // (that waiter unlinks itself from the batch and is not resumed).
    waiter_list batch;
    while (waiting_.head != nullptr) {
      awaiter* w = waiting_.head;
      w->unlink();
      w->link(batch);
    }
    size_t n = 0;
    while (batch.head != nullptr) {
      awaiter* w = batch.head;
      w->unlink();
      ++n;
      w->handle_.resume();
    }
    return n;
  }

  // Resumes the longest waiting coroutine, if any (inline). For a slot handed to one
  // waiter at a time: waking all of them would have every other one look and wait again.
  bool notify_one() {
    awaiter* w = waiting_.head;
    if (w == nullptr) return false;
    w->unlink();
    w->handle_.resume();
    return true;
  }

  bool has_waiters() const { return waiting_.head != nullptr; }

 private:
  waiter_list waiting_;
};

}  // namespace ringmail

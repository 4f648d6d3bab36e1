// Connection limits shared by all shards of one listener: a global cap and a per-client
// cap (per IPv4 address, per IPv6 /64 since one host owns a whole /64).
//
// Lock-free: the per-client counts live in a fixed table of atomic counters indexed by a
// hash of the client key. Two clients that share a slot share a count, so a collision can
// only make the limit stricter for them, never looser; with 65,536 slots and limits meant
// for abusers (tens of connections) that is the right side to err on.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "runtime/net.h"

namespace ringmail {

class conn_limits {
 public:
  // 0 means unlimited. exempt_loopback: clients on 127.0.0.0/8 and ::1 (a local MTA or
  // webmail, a load test) are not held to the per-client cap, as Postfix exempts
  // $mynetworks from its connection-count limit; they still count toward the total.
  conn_limits(uint32_t max_total, uint32_t max_per_client, bool exempt_loopback = false);

  enum class verdict { admitted, refused_total, refused_client };

  // RAII admission; releases its counts when destroyed (the session ends).
  class permit {
   public:
    permit() = default;
    permit(permit&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), slot_(o.slot_) {}
    permit& operator=(permit&& o) noexcept {
      if (this != &o) {
        reset();
        owner_ = std::exchange(o.owner_, nullptr);
        slot_ = o.slot_;
      }
      return *this;
    }
    ~permit() { reset(); }
    explicit operator bool() const { return owner_ != nullptr; }
    void reset();

   private:
    friend class conn_limits;
    permit(conn_limits* owner, uint32_t slot) : owner_(owner), slot_(slot) {}
    conn_limits* owner_ = nullptr;
    uint32_t slot_ = 0;
  };

  // Any thread.
  std::pair<verdict, permit> admit(const socket_address& client);
  uint32_t total() const { return total_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint32_t kSlots = 65536;
  uint32_t slot_for(const socket_address& client) const;

  uint32_t max_total_;
  uint32_t max_per_client_;
  bool exempt_loopback_;
  std::atomic<uint32_t> total_{0};
  std::unique_ptr<std::atomic<uint32_t>[]> per_client_;
};

}  // namespace ringmail

#include "runtime/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "runtime/log.h"
#include "runtime/poll.h"

namespace ringmail {
namespace {

constexpr int kClassIn = 1;  // RFC 1035 §3.2.4
constexpr int kTypeA = 1;    // RFC 1035 §3.2.2
constexpr int kTypePtr = 12;
constexpr int kTypeMx = 15;
constexpr int kTypeTxt = 16;
constexpr int kTypeAaaa = 28;  // RFC 3596 §2.1

// The most address records we take from one reply; ares_parse_a_reply and
// ares_parse_aaaa_reply fill at most this many TTL slots (a 512-byte UDP reply holds
// about 30 A records, a TCP one many more; nobody needs them all).
constexpr int kMaxAddressTtls = 64;

// When c-ares reports no timer at all while lookups are pending (it should not), look
// again after this long rather than wait forever.
constexpr std::chrono::milliseconds kFallbackWait{1000};

// A new lookup wakes the waiting driver only if its first deadline is this much sooner
// than the one the driver sleeps on: ms rounding alone must not cause wake-ups.
constexpr std::chrono::milliseconds kWakeSlack{2};

// ares_library_init is documented as not thread-safe and "must be called before any
// other c-ares function". Shards create their resolvers concurrently, so the first one
// does it for everybody. On Linux it only records the allocator; the once_flag is the
// only process-wide state here and is never reset.
void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

std::chrono::milliseconds round_up_ms(const timeval& tv) {
  int64_t us = int64_t{tv.tv_sec} * 1000000 + tv.tv_usec;
  return std::chrono::milliseconds((us + 999) / 1000);
}

dns_status status_from_ares(int code) {
  switch (code) {
    case ARES_SUCCESS: return dns_status::ok;
    case ARES_ENOTFOUND: return dns_status::nxdomain;
    case ARES_ENODATA: return dns_status::no_data;
    case ARES_ETIMEOUT: return dns_status::timeout;
    // Without ARES_FLAG_NOCHECKRESP (which we leave off: it would also accept replies
    // whose question does not match ours) c-ares moves on to the next server after a
    // SERVFAIL/REFUSED and ends with ECONNREFUSED when none is left.
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ENOTIMP:
    case ARES_ECONNREFUSED: return dns_status::servfail;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED: return dns_status::shutdown;
    default: return dns_status::error;
  }
}

// The addresses come from the TTL array rather than the hostent: both list the same
// records, and only the array carries TTLs (the smallest one bounds the answer's life).
uint32_t min_ttl(uint32_t current, int ttl) {
  uint32_t t = ttl < 0 ? 0 : static_cast<uint32_t>(ttl);
  return current == 0 ? t : std::min(current, t);
}

void parse_a(const unsigned char* reply, int length, dns_answer& out) {
  ares_addrttl ttls[kMaxAddressTtls];
  int count = kMaxAddressTtls;
  int rc = ares_parse_a_reply(reply, length, nullptr, ttls, &count);
  for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
    out.addresses.push_back(ntohl(ttls[i].ipaddr.s_addr));
    out.ttl = min_ttl(out.ttl, ttls[i].ttl);
  }
  out.ares_code = rc;
  out.status = status_from_ares(rc);
  if (out.ok() && out.addresses.empty()) out.status = dns_status::no_data;
}

void parse_aaaa(const unsigned char* reply, int length, dns_answer& out) {
  ares_addr6ttl ttls[kMaxAddressTtls];
  int count = kMaxAddressTtls;
  int rc = ares_parse_aaaa_reply(reply, length, nullptr, ttls, &count);
  for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
    ipv6_bytes a;
    std::memcpy(a.data(), &ttls[i].ip6addr, a.size());
    out.addresses6.push_back(a);
    out.ttl = min_ttl(out.ttl, ttls[i].ttl);
  }
  out.ares_code = rc;
  out.status = status_from_ares(rc);
  if (out.ok() && out.addresses6.empty()) out.status = dns_status::no_data;
}

void parse_mx(const unsigned char* reply, int length, dns_answer& out) {
  ares_mx_reply* records = nullptr;
  int rc = ares_parse_mx_reply(reply, length, &records);
  for (ares_mx_reply* r = records; rc == ARES_SUCCESS && r != nullptr; r = r->next) {
    out.mx.push_back({r->priority, r->host != nullptr ? r->host : ""});
  }
  if (records != nullptr) ares_free_data(records);
  out.ares_code = rc;
  out.status = status_from_ares(rc);
  if (out.ok() && out.mx.empty()) out.status = dns_status::no_data;
}

void parse_txt(const unsigned char* reply, int length, dns_answer& out) {
  ares_txt_ext* chunks = nullptr;
  int rc = ares_parse_txt_reply_ext(reply, length, &chunks);
  // A TXT record is a sequence of <character-string>s (RFC 1035 §3.3.14); c-ares hands
  // them over one per list node and marks where each record starts.
  for (ares_txt_ext* c = chunks; rc == ARES_SUCCESS && c != nullptr; c = c->next) {
    if (c->record_start || out.texts.empty()) out.texts.emplace_back();
    out.texts.back().append(reinterpret_cast<const char*>(c->txt), c->length);
  }
  if (chunks != nullptr) ares_free_data(chunks);
  out.ares_code = rc;
  out.status = status_from_ares(rc);
  if (out.ok() && out.texts.empty()) out.status = dns_status::no_data;
}

// Calls visit(type, ttl, rdata offset, rdata length) for each answer record of a reply
// that c-ares already accepted (its question matched ours). c-ares 1.18's parsers give
// TTLs for A/AAAA only, so the answer section is walked here (RFC 1035 §4.1): the
// header, the question (name, type, class), then the RRs. Stops quietly at anything
// malformed: what was visited stands.
template <typename Visit>
void for_each_answer(const unsigned char* reply, int length, Visit visit) {
  if (length < 12) return;
  auto u16 = [&](int at) { return static_cast<int>(reply[at] << 8 | reply[at + 1]); };
  int questions = u16(4), answers = u16(6);
  int at = 12;
  auto skip_name = [&]() {
    while (at < length) {
      unsigned len = reply[at];
      if (len == 0) { ++at; return true; }
      if ((len & 0xc0) == 0xc0) { at += 2; return at <= length; }
      at += 1 + static_cast<int>(len);
    }
    return false;
  };
  for (int i = 0; i < questions; ++i) {
    if (!skip_name() || at + 4 > length) return;
    at += 4;
  }
  for (int i = 0; i < answers; ++i) {
    if (!skip_name() || at + 10 > length) return;
    int type = u16(at);
    uint32_t ttl = static_cast<uint32_t>(u16(at + 4)) << 16 | static_cast<uint32_t>(u16(at + 6));
    int rdlength = u16(at + 8);
    at += 10;
    if (at + rdlength > length) return;
    visit(type, ttl, at, rdlength);
    at += rdlength;
  }
}

// The smallest TTL among the answer's records of `type` (a CNAME on the way counts too:
// the answer lives no longer than the alias). RFC 2181 §8: a TTL with the top bit set
// is read as 0.
uint32_t answer_ttl(const unsigned char* reply, int length, int type) {
  uint32_t ttl = 0;
  bool any = false;
  for_each_answer(reply, length, [&](int rr_type, uint32_t rr_ttl, int, int) {
    if (rr_type != type && rr_type != 5 /* CNAME */) return;
    if (rr_ttl > 0x7fffffffu) rr_ttl = 0;
    ttl = any ? std::min(ttl, rr_ttl) : rr_ttl;
    any = true;
  });
  return ttl;
}

void parse_ptr(const unsigned char* reply, int length, dns_answer& out) {
  out.ares_code = ARES_SUCCESS;
  out.status = dns_status::ok;
  for_each_answer(reply, length, [&](int rr_type, uint32_t, int at, int) {
    if (rr_type != kTypePtr) return;
    char* name = nullptr;
    long used = 0;
    if (ares_expand_name(reply + at, reply, length, &name, &used) != ARES_SUCCESS) return;
    out.names.emplace_back(name);
    ares_free_string(name);
  });
  if (out.names.empty()) out.status = dns_status::no_data;
}

dns_answer answer_from_reply(int code, int type, const unsigned char* reply, int length) {
  dns_answer a;
  a.ares_code = code;
  a.status = status_from_ares(code);
  if (code != ARES_SUCCESS || reply == nullptr) return a;
  switch (type) {
    case kTypeA: parse_a(reply, length, a); break;
    case kTypeAaaa: parse_aaaa(reply, length, a); break;
    case kTypeMx: parse_mx(reply, length, a); break;
    case kTypePtr: parse_ptr(reply, length, a); break;
    default: parse_txt(reply, length, a); break;
  }
  if (type != kTypeA && type != kTypeAaaa) a.ttl = answer_ttl(reply, length, type);
  return a;
}

}  // namespace

std::string_view to_string(dns_status s) {
  switch (s) {
    case dns_status::ok: return "ok";
    case dns_status::nxdomain: return "nxdomain";
    case dns_status::no_data: return "no_data";
    case dns_status::timeout: return "timeout";
    case dns_status::servfail: return "servfail";
    case dns_status::error: return "error";
    case dns_status::shutdown: return "shutdown";
  }
  return "?";
}

std::string ipv4_to_string(uint32_t address) {
  return absl::StrCat(address >> 24, ".", (address >> 16) & 0xff, ".", (address >> 8) & 0xff, ".", address & 0xff);
}

std::string ipv6_to_string(const ipv6_bytes& address) {
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, address.data(), text, sizeof text) == nullptr) return "?";
  return text;
}

// ---- one lookup ------------------------------------------------------------------------

// What c-ares holds as the callback argument. It outlives the waiting coroutine if that
// is destroyed first (waiter is then null), and is freed by the callback, which c-ares
// calls exactly once per query — at the latest from ares_destroy.
struct dns_resolver::lookup_record {
  dns_resolver* resolver;
  lookup* waiter;
  int type;
};

// The awaitable behind query(). Completion travels c-ares callback -> finish() -> ring
// NOP -> resume, see the header for why.
class dns_resolver::lookup {
 public:
  lookup(dns_resolver& resolver, const std::string& name, int type)
      : resolver_(&resolver), reactor_(&resolver.reactor_), name_(name), type_(type) {}
  lookup(const lookup&) = delete;
  lookup& operator=(const lookup&) = delete;
  ~lookup() {
    if (record_ != nullptr) record_->waiter = nullptr;  // the reply, when it comes, is dropped
    if (op_ != nullptr) {
      if (op_->completed) {
        reactor_->release_op(op_);
      } else {
        reactor_->orphan(op_);
      }
    }
  }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter_ = h;
    if (name_.find('\0') != std::string::npos) {  // c-ares would see a shorter name
      finish(dns_answer{});
      return;
    }
    record_ = new lookup_record{resolver_, this, type_};
    resolver_->start(name_, type_, record_);  // may call finish() before returning
  }
  dns_answer await_resume() {
    reactor_->release_op(op_);
    op_ = nullptr;
    return std::move(answer_);
  }

  void finish(dns_answer answer) {
    answer_ = std::move(answer);
    record_ = nullptr;
    op_ = reactor_->acquire_op();
    op_->waiter = waiter_;
    op_->on_complete = [](io_op& op, int32_t, uint32_t) {
      op.completed = true;
      op.waiter.resume();
    };
    io_uring_sqe* s = reactor_->sqe();
    io_uring_prep_nop(s);
    io_uring_sqe_set_data(s, op_);
  }

 private:
  dns_resolver* resolver_;
  reactor* reactor_;  // kept apart: the resolver may be gone when we are destroyed
  const std::string& name_;
  int type_;
  std::coroutine_handle<> waiter_;
  lookup_record* record_ = nullptr;
  io_op* op_ = nullptr;
  dns_answer answer_;
};

void dns_resolver::on_reply(void* arg, int status, int /*timeouts*/, unsigned char* reply, int length) {
  auto* record = static_cast<lookup_record*>(arg);
  --record->resolver->pending_;
  if (record->waiter != nullptr) record->waiter->finish(answer_from_reply(status, record->type, reply, length));
  delete record;
}

// ---- the resolver --------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<dns_resolver>> dns_resolver::create(reactor& r, const dns_options& options) {
  if (options.timeout.count() <= 0 || options.tries < 1) {
    return absl::InvalidArgumentError("dns: timeout and tries must be positive");
  }
  init_library_once();
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return absl::InternalError(absl::StrCat("dns: epoll_create1: ", strerror(errno)));
  std::unique_ptr<dns_resolver> self(new dns_resolver(r, epoll_fd));

  ares_options o{};
  o.timeout = static_cast<int>(options.timeout.count());
  o.tries = options.tries;
  o.sock_state_cb = &dns_resolver::on_socket_state;
  o.sock_state_cb_data = self.get();
  int rc = ares_init_options(&self->channel_, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
  if (rc != ARES_SUCCESS) {
    self->channel_ = nullptr;
    return absl::UnavailableError(absl::StrCat("dns: ares_init_options: ", ares_strerror(rc)));
  }
  if (!options.servers.empty()) {
    rc = ares_set_servers_ports_csv(self->channel_, options.servers.c_str());
    if (rc != ARES_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns: bad server list \"", options.servers, "\": ", ares_strerror(rc)));
    }
  }
  return self;
}

dns_resolver::dns_resolver(reactor& r, int epoll_fd) : reactor_(r), epoll_fd_(epoll_fd) {}

dns_resolver::~dns_resolver() {
  // The driver's pending poll is orphaned through reactor::current(). A resolver that
  // outlives its loop (a test tearing down after block_on) still belongs to this reactor.
  reactor* previous = reactor::current();
  if (previous == nullptr) reactor::set_current_for_block_on(&reactor_);
  driver_ = task<void>{};
  driver_waiting_ = false;
  wake_ = nullptr;
  // Calls on_reply with ARES_EDESTRUCTION for every pending query (their waiters are
  // resumed later by the ring with dns_status::shutdown) and on_socket_state as it
  // closes its sockets, so the epoll set must still be open.
  if (channel_ != nullptr) ares_destroy(channel_);
  if (previous == nullptr) reactor::set_current_for_block_on(nullptr);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

task<dns_answer> dns_resolver::query_a(std::string name) { return query(std::move(name), kTypeA); }
task<dns_answer> dns_resolver::query_txt(std::string name) { return query(std::move(name), kTypeTxt); }
task<dns_answer> dns_resolver::query_aaaa(std::string name) { return query(std::move(name), kTypeAaaa); }
task<dns_answer> dns_resolver::query_mx(std::string name) { return query(std::move(name), kTypeMx); }
task<dns_answer> dns_resolver::query_ptr(std::string name) { return query(std::move(name), kTypePtr); }

task<dns_answer> dns_resolver::query(std::string name, int type) {
  co_return co_await lookup(*this, name, type);
}

void dns_resolver::start(const std::string& name, int type, lookup_record* record) {
  ++pending_;
  ares_query(channel_, name.c_str(), kClassIn, type, &dns_resolver::on_reply, record);
  if (pending_ == 0) return;
  if (driver_.valid() && !driver_.done()) {
    wake_driver_if_late();
    return;
  }
  driver_ = drive();
  driver_.handle().resume();  // runs until its first wait; its continuation is a no-op
}

// c-ares sends the first datagram from ares_query itself and arms its timer then; the
// driver may be sleeping on a later deadline (a lookup in its third round waits four
// times the first-try timeout), so it must look again.
void dns_resolver::wake_driver_if_late() {
  if (!driver_waiting_ || wake_ == nullptr) return;
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) return;
  if (std::chrono::steady_clock::now() + round_up_ms(tv) + kWakeSlack < wait_until_) wake_->request_cancel();
}

task<void> dns_resolver::drive() {
  while (pending_ > 0) {
    timeval tv{};
    std::chrono::milliseconds wait = kFallbackWait;
    if (ares_timeout(channel_, nullptr, &tv) != nullptr) wait = round_up_ms(tv);
    if (wait.count() > 0) {
      cancel_source wake;
      wake_ = &wake;
      wait_until_ = std::chrono::steady_clock::now() + wait;
      driver_waiting_ = true;
      io_result<unsigned> ready = co_await wait_ready(epoll_fd_, POLLIN, wait, &wake);
      driver_waiting_ = false;
      wake_ = nullptr;
      // Readiness, a passed deadline and a wake-up all mean "let c-ares look"; anything
      // else is unexpected but not fatal: c-ares still runs its timers below.
      if (!ready.ok() && ready.status().kind != io_kind::timeout && ready.status().kind != io_kind::cancelled) {
        log::warn("dns_wait_failed", {{"error", ready.status().to_string()}});
      }
    }
    process_ready_sockets();
  }
}

// Level-triggered epoll: whatever is not handled now is reported again on the next wait.
void dns_resolver::process_ready_sockets() {
  epoll_event events[32];
  int n = epoll_wait(epoll_fd_, events, 32, 0);
  if (n <= 0) {
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timers only
    return;
  }
  for (int i = 0; i < n; ++i) {
    // Errors and hang-ups count as readable: c-ares learns of them from its next read.
    bool readable = events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP);
    bool writable = events[i].events & (EPOLLOUT | EPOLLERR);
    // Also runs c-ares' timers. An fd that an earlier call closed is ignored by c-ares.
    ares_process_fd(channel_, readable ? events[i].data.fd : ARES_SOCKET_BAD,
                    writable ? events[i].data.fd : ARES_SOCKET_BAD);
  }
}

void dns_resolver::on_socket_state(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<dns_resolver*>(data);
  if (!readable && !writable) {
    // c-ares is about to close the socket; remove it first so the set never holds a
    // stale entry for a reused descriptor number.
    epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    return;
  }
  epoll_event ev{};
  ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  ev.data.fd = fd;
  if (epoll_ctl(self->epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0) return;
  if (errno == ENOENT && epoll_ctl(self->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0) return;
  log::error("dns_epoll_ctl_failed", {{"fd", fd}, {"error", strerror(errno)}});
}

}  // namespace ringmail

#include "tests/support/fake_dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace ringmail::testing {
namespace {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypePtr = 12;
constexpr uint16_t kTypeMx = 15;
constexpr uint16_t kTypeTxt = 16;
constexpr uint16_t kTypeAaaa = 28;
constexpr uint16_t kClassIn = 1;
constexpr uint8_t kRcodeNxdomain = 3;
constexpr size_t kHeaderSize = 12;
constexpr size_t kUdpLimit = 512;  // RFC 1035 §4.2.1, without EDNS
constexpr int kPollMillis = 20;    // how long stop() may wait for the thread

std::string canonical(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

uint16_t read16(std::span<const uint8_t> b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v & 0xffff));
}

// The question name (RFC 1035 §4.1.2) as dotted text, and the offset just past it.
// Queries carry no compression pointers; anything odd makes the query malformed.
std::optional<std::pair<std::string, size_t>> read_question_name(std::span<const uint8_t> msg) {
  std::string name;
  size_t at = kHeaderSize;
  for (;;) {
    if (at >= msg.size()) return std::nullopt;
    uint8_t len = msg[at++];
    if (len == 0) break;
    if (len > 63 || at + len > msg.size()) return std::nullopt;
    if (!name.empty()) name.push_back('.');
    name.append(reinterpret_cast<const char*>(msg.data() + at), len);
    at += len;
    if (name.size() > 253) return std::nullopt;
  }
  return std::make_pair(name, at);
}

// A domain name as uncompressed labels (RFC 1035 §3.1); "" and "." are the root.
std::vector<uint8_t> encode_name(std::string_view name) {
  std::vector<uint8_t> out;
  std::string n = canonical(name);
  size_t at = 0;
  while (at < n.size()) {
    size_t dot = n.find('.', at);
    if (dot == std::string::npos) dot = n.size();
    out.push_back(static_cast<uint8_t>(dot - at));
    out.insert(out.end(), n.begin() + static_cast<ptrdiff_t>(at), n.begin() + static_cast<ptrdiff_t>(dot));
    at = dot + 1;
  }
  out.push_back(0);
  return out;
}

}  // namespace

fake_dns_server::fake_dns_server() {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    perror("fake_dns_server: socket/bind");
    std::abort();
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { serve(); });
}

fake_dns_server::~fake_dns_server() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

std::string fake_dns_server::address() const { return "127.0.0.1:" + std::to_string(port_); }

void fake_dns_server::add_a(std::string_view name, std::string_view ipv4) {
  in_addr addr{};
  if (inet_pton(AF_INET, std::string(ipv4).c_str(), &addr) != 1) {
    fprintf(stderr, "fake_dns_server: bad address %.*s\n", static_cast<int>(ipv4.size()), ipv4.data());
    std::abort();
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(&addr.s_addr);  // network order already
  std::lock_guard lock(mu_);
  records_[canonical(name)].push_back({kTypeA, std::vector<uint8_t>(bytes, bytes + 4)});
}

void fake_dns_server::add_txt(std::string_view name, std::string_view text) {
  // RFC 1035 §3.3.14: one or more <character-string>s of at most 255 bytes each.
  std::vector<uint8_t> rdata;
  do {
    size_t n = std::min<size_t>(text.size(), 255);
    rdata.push_back(static_cast<uint8_t>(n));
    rdata.insert(rdata.end(), text.begin(), text.begin() + static_cast<ptrdiff_t>(n));
    text.remove_prefix(n);
  } while (!text.empty());
  std::lock_guard lock(mu_);
  records_[canonical(name)].push_back({kTypeTxt, std::move(rdata)});
}

void fake_dns_server::add_aaaa(std::string_view name, std::string_view ipv6) {
  in6_addr addr{};
  if (inet_pton(AF_INET6, std::string(ipv6).c_str(), &addr) != 1) {
    fprintf(stderr, "fake_dns_server: bad address %.*s\n", static_cast<int>(ipv6.size()), ipv6.data());
    std::abort();
  }
  std::lock_guard lock(mu_);
  records_[canonical(name)].push_back({kTypeAaaa, std::vector<uint8_t>(addr.s6_addr, addr.s6_addr + 16)});
}

void fake_dns_server::add_mx(std::string_view name, uint16_t preference, std::string_view exchange) {
  std::vector<uint8_t> rdata;  // RFC 1035 §3.3.9: PREFERENCE, EXCHANGE
  put16(rdata, preference);
  std::vector<uint8_t> target = encode_name(exchange);
  rdata.insert(rdata.end(), target.begin(), target.end());
  std::lock_guard lock(mu_);
  records_[canonical(name)].push_back({kTypeMx, std::move(rdata)});
}

void fake_dns_server::add_cname(std::string_view name, std::string_view target) {
  std::lock_guard lock(mu_);
  records_[canonical(name)].push_back({kTypeCname, encode_name(target)});
}

void fake_dns_server::add_ptr(std::string_view name, std::string_view target) {
  std::lock_guard lock(mu_);
  records_[canonical(name)].push_back({kTypePtr, encode_name(target)});
}

void fake_dns_server::drop(std::string_view name) {
  std::lock_guard lock(mu_);
  dropped_.insert(canonical(name));
}

void fake_dns_server::fail(std::string_view name, uint8_t rcode) {
  std::lock_guard lock(mu_);
  failing_[canonical(name)] = rcode;
}

size_t fake_dns_server::queries_for(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = seen_.find(canonical(name));
  return it == seen_.end() ? 0 : it->second;
}

std::optional<std::vector<uint8_t>> fake_dns_server::reply_to(std::span<const uint8_t> query) {
  if (query.size() < kHeaderSize) return std::nullopt;
  const uint16_t flags = read16(query, 2);
  const bool is_response = flags & 0x8000;
  const unsigned opcode = (flags >> 11) & 0xf;
  if (is_response || opcode != 0 || read16(query, 4) != 1) return std::nullopt;
  auto question = read_question_name(query);
  if (!question || question->second + 4 > query.size()) return std::nullopt;
  const size_t question_end = question->second + 4;
  const uint16_t qtype = read16(query, question->second);
  const uint16_t qclass = read16(query, question->second + 2);
  const std::string name = canonical(question->first);

  uint8_t rcode = 0;
  // Each answer with its owner name: empty means the question name (a pointer to it).
  std::vector<std::pair<std::string, const record*>> answers;
  std::lock_guard lock(mu_);
  ++seen_[name];
  if (dropped_.contains(name)) return std::nullopt;
  if (auto f = failing_.find(name); f != failing_.end()) {
    rcode = f->second;
  } else if (auto it = records_.find(name); it == records_.end() || qclass != kClassIn) {
    rcode = kRcodeNxdomain;
  } else {
    const record* cname = nullptr;
    for (const record& r : it->second) {
      if (r.type == qtype) answers.emplace_back("", &r);
      if (r.type == kTypeCname) cname = &r;
    }
    if (cname != nullptr && qtype != kTypeCname) {
      // The target's name back from its wire form (labels, written by encode_name).
      std::string target;
      for (size_t at = 0; at < cname->rdata.size() && cname->rdata[at] != 0; at += 1 + cname->rdata[at]) {
        if (!target.empty()) target.push_back('.');
        target.append(reinterpret_cast<const char*>(&cname->rdata[at + 1]), cname->rdata[at]);
      }
      answers.emplace_back("", cname);
      if (auto t = records_.find(target); t != records_.end()) {
        for (const record& r : t->second) {
          if (r.type == qtype) answers.emplace_back(target, &r);
        }
      }
    }
  }

  std::vector<uint8_t> out;
  put16(out, read16(query, 0));  // ID
  // QR, the query's opcode and RD, AA (we are the authority for our table), RA, RCODE.
  put16(out, static_cast<uint16_t>(0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode));
  put16(out, 1);  // QDCOUNT
  put16(out, static_cast<uint16_t>(answers.size()));
  put16(out, 0);  // NSCOUNT
  put16(out, 0);  // ARCOUNT
  out.insert(out.end(), query.begin() + kHeaderSize, query.begin() + static_cast<ptrdiff_t>(question_end));
  for (const auto& [owner, r] : answers) {
    if (owner.empty()) {
      put16(out, 0xC00C);  // owner: pointer to the question name at offset 12 (RFC 1035 §4.1.4)
    } else {
      std::vector<uint8_t> encoded = encode_name(owner);
      out.insert(out.end(), encoded.begin(), encoded.end());
    }
    put16(out, r->type);
    put16(out, kClassIn);
    put32(out, 60);  // TTL
    put16(out, static_cast<uint16_t>(r->rdata.size()));
    out.insert(out.end(), r->rdata.begin(), r->rdata.end());
  }
  if (out.size() > kUdpLimit) {
    // Too big for UDP: send the header and question with TC set (RFC 1035 §4.2.1).
    // We serve no TCP, so tests must keep their answers small.
    out.resize(question_end);
    out[2] |= 0x02;
    out[6] = out[7] = 0;
  }
  return out;
}

void fake_dns_server::serve() {
  uint8_t buf[4096];
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMillis) <= 0) continue;
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    ++queries_;
    auto reply = reply_to(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    if (!reply) continue;
    sendto(fd_, reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

}  // namespace ringmail::testing

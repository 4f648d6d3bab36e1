#include "protocols/managesieve/store_access.h"

namespace ringmail::managesieve {

// Each operation: the home, then one hop to the owner. The lambdas own their arguments
// (moved in), since they run on the owner shard after this frame has suspended.

task<absl::StatusOr<std::vector<sieve::script_info>>> store_access::list(std::string user) {
  auto home = sieve::user_home(mail_root_, user);
  if (!home.ok()) co_return home.status();
  auto hop = sieve::with_scripts(stores_, std::move(user), std::move(*home),
                                 [](sieve::script_store& s, std::string h) { return s.list(std::move(h)); });
  co_return co_await std::move(hop);
}

task<absl::StatusOr<std::string>> store_access::get(std::string user, std::string name) {
  auto home = sieve::user_home(mail_root_, user);
  if (!home.ok()) co_return home.status();
  auto hop = sieve::with_scripts(stores_, std::move(user), std::move(*home),
                                 [name = std::move(name)](sieve::script_store& s, std::string h) {
                                   return s.get(std::move(h), name);
                                 });
  co_return co_await std::move(hop);
}

task<absl::Status> store_access::put(std::string user, std::string name, std::string text) {
  auto home = sieve::user_home(mail_root_, user);
  if (!home.ok()) co_return home.status();
  auto hop = sieve::with_scripts(stores_, std::move(user), std::move(*home),
                                 [name = std::move(name), text = std::move(text)](sieve::script_store& s, std::string h) {
                                   return s.put(std::move(h), name, text);
                                 });
  co_return co_await std::move(hop);
}

task<absl::Status> store_access::remove(std::string user, std::string name) {
  auto home = sieve::user_home(mail_root_, user);
  if (!home.ok()) co_return home.status();
  auto hop = sieve::with_scripts(stores_, std::move(user), std::move(*home),
                                 [name = std::move(name)](sieve::script_store& s, std::string h) {
                                   return s.remove(std::move(h), name);
                                 });
  co_return co_await std::move(hop);
}

task<absl::Status> store_access::rename(std::string user, std::string from, std::string to) {
  auto home = sieve::user_home(mail_root_, user);
  if (!home.ok()) co_return home.status();
  auto hop = sieve::with_scripts(stores_, std::move(user), std::move(*home),
                                 [from = std::move(from), to = std::move(to)](sieve::script_store& s, std::string h) {
                                   return s.rename(std::move(h), from, to);
                                 });
  co_return co_await std::move(hop);
}

task<absl::Status> store_access::set_active(std::string user, std::string name) {
  auto home = sieve::user_home(mail_root_, user);
  if (!home.ok()) co_return home.status();
  auto hop = sieve::with_scripts(stores_, std::move(user), std::move(*home),
                                 [name = std::move(name)](sieve::script_store& s, std::string h) {
                                   return s.set_active(std::move(h), name);
                                 });
  co_return co_await std::move(hop);
}

task<absl::Status> store_access::have_space(std::string user, std::string name, uint64_t bytes) {
  auto home = sieve::user_home(mail_root_, user);
  if (!home.ok()) co_return home.status();
  auto hop = sieve::with_scripts(stores_, std::move(user), std::move(*home),
                                 [name = std::move(name), bytes](sieve::script_store& s, std::string h) {
                                   return s.have_space(std::move(h), name, bytes);
                                 });
  co_return co_await std::move(hop);
}

}  // namespace ringmail::managesieve

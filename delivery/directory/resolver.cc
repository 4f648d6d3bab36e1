#include "delivery/directory/resolver.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "delivery/directory/address.h"
#include "runtime/log.h"

namespace ringmail::directory {

// The state of one resolve() call.
struct resolver::expansion {
  std::vector<destination> results;
  absl::flat_hash_set<std::string> result_keys;   // "L:addr" / "R:addr": each once
  absl::flat_hash_set<std::string> in_progress;   // addresses on the current path (loops)
  absl::flat_hash_set<std::string> done;          // addresses fully expanded already
  absl::flat_hash_map<std::string, bool> domains; // has_domain answers, asked once each
  size_t examined = 0;
  bool loop = false;
  size_t bad_destinations = 0;
  size_t dead_ends = 0;  // expanded addresses that are neither alias, user nor caught
};

namespace {

// Internal marker for "the table is unreasonable": becomes temporary_failure, like a
// source error, but keeps its own message.
absl::Status too_much(std::string message) { return absl::ResourceExhaustedError(std::move(message)); }

}  // namespace

resolver::resolver(source& src, resolver_options options) : src_(src), options_(options) {}

task<absl::StatusOr<bool>> resolver::is_our_domain(expansion& ex, const std::string& domain) {
  std::string key = domain;  // copied into the frame: the caller's string may be a temporary
  if (auto it = ex.domains.find(key); it != ex.domains.end()) co_return it->second;
  absl::StatusOr<bool> ours = co_await src_.has_domain(key);
  if (!ours.ok()) co_return ours.status();
  ex.domains.emplace(std::move(key), *ours);
  co_return *ours;
}

task<absl::Status> resolver::expand(expansion& ex, std::string addr, std::string detail, int depth) {
  // A loop is found before the depth bound is: it is a configuration error to ignore,
  // not a reason to defer the mail.
  if (ex.in_progress.contains(addr)) {
    ex.loop = true;
    log::warn("directory_alias_loop", {{"address", addr}});
    co_return absl::OkStatus();
  }
  if (ex.done.contains(addr)) co_return absl::OkStatus();  // reached twice (a diamond), not a loop
  if (depth > options_.max_depth) {
    co_return too_much(absl::StrCat("alias nesting deeper than ", options_.max_depth, " levels at ", addr));
  }
  if (++ex.examined > 10 * options_.max_destinations) {
    co_return too_much(absl::StrCat("alias expansion looked at more than ", 10 * options_.max_destinations,
                                    " addresses"));
  }
  ex.in_progress.insert(addr);

  auto add = [&](std::string key_address, bool local, std::string with_detail) -> absl::Status {
    std::string key = absl::StrCat(local ? "L:" : "R:", key_address);
    if (!ex.result_keys.insert(std::move(key)).second) return absl::OkStatus();
    if (ex.results.size() >= options_.max_destinations) {
      return too_much(absl::StrCat("alias expansion has more than ", options_.max_destinations, " destinations"));
    }
    ex.results.push_back(destination{std::move(key_address), local, local ? std::move(with_detail) : std::string()});
    return absl::OkStatus();
  };

  // The destinations of one alias row set (the address's own, or its domain's catch-all).
  auto expand_list = [&](const std::vector<std::string>& list) -> task<absl::Status> {
    for (const std::string& text : list) {
      absl::StatusOr<address> parsed = parse_address(text, options_.detail_separator);
      if (!parsed.ok()) {
        ++ex.bad_destinations;
        log::warn("directory_bad_destination", {{"source", addr}, {"reason", parsed.status().message()}});
        continue;
      }
      std::string key = parsed->full();
      std::string next_detail = parsed->detail.empty() ? detail : parsed->detail;
      if (key == addr) {
        // Self-mapping: the mailbox itself, whatever other aliases say (ISPmail's
        // "john@x -> john@x" beside "john@x -> elsewhere" keeps a copy).
        absl::StatusOr<std::optional<user_record>> user = co_await src_.find_user(key);
        if (!user.ok()) co_return user.status();
        if (user->has_value()) {
          if (absl::Status s = add(key, true, next_detail); !s.ok()) co_return s;
        } else {
          ++ex.dead_ends;
        }
        continue;
      }
      absl::StatusOr<bool> ours = co_await is_our_domain(ex, parsed->domain);
      if (!ours.ok()) co_return ours.status();
      if (!*ours) {
        // Remote: the address as written (lower-cased), its +extension is theirs to read.
        absl::StatusOr<address> whole = parse_address(text, '\0');
        if (!whole.ok()) co_return whole.status();  // cannot happen: it parsed above
        if (absl::Status s = add(whole->full(), false, ""); !s.ok()) co_return s;
        continue;
      }
      if (absl::Status s = co_await expand(ex, std::move(key), std::move(next_detail), depth + 1); !s.ok()) {
        co_return s;
      }
    }
    co_return absl::OkStatus();
  };

  absl::StatusOr<std::vector<std::string>> aliases = co_await src_.alias_destinations(addr);
  if (!aliases.ok()) co_return aliases.status();
  if (!aliases->empty()) {
    if (absl::Status s = co_await expand_list(*aliases); !s.ok()) co_return s;
  } else {
    absl::StatusOr<std::optional<user_record>> user = co_await src_.find_user(addr);
    if (!user.ok()) co_return user.status();
    if (user->has_value()) {
      if (absl::Status s = add(addr, true, detail); !s.ok()) co_return s;
    } else {
      // The catch-all has the lowest precedence (virtual(5): "@domain address").
      std::string domain = addr.substr(addr.rfind('@') + 1);
      absl::StatusOr<std::vector<std::string>> catch_all = co_await src_.alias_destinations(absl::StrCat("@", domain));
      if (!catch_all.ok()) co_return catch_all.status();
      if (catch_all->empty()) {
        ++ex.dead_ends;
      } else if (absl::Status s = co_await expand_list(*catch_all); !s.ok()) {
        co_return s;
      }
    }
  }

  ex.in_progress.erase(addr);
  ex.done.insert(std::move(addr));
  co_return absl::OkStatus();
}

task<resolution> resolver::resolve(std::string_view recipient) {
  absl::StatusOr<address> rcpt = parse_address(recipient, options_.detail_separator);
  if (!rcpt.ok()) {
    co_return resolution{outcome::no_such_user, {}, absl::StrCat("invalid address: ", rcpt.status().message())};
  }
  co_return co_await resolve(std::move(*rcpt));
}

task<resolution> resolver::resolve(address parsed) {
  const address* rcpt = &parsed;
  expansion ex;
  absl::StatusOr<bool> ours = co_await is_our_domain(ex, rcpt->domain);
  if (!ours.ok()) {
    co_return resolution{outcome::temporary_failure, {},
                         absl::StrCat("directory unavailable: ", ours.status().message())};
  }
  if (!*ours) {
    co_return resolution{outcome::not_our_domain, {}, absl::StrCat(rcpt->domain, " is not a local domain")};
  }

  absl::Status s = co_await expand(ex, rcpt->full(), rcpt->detail, 0);
  if (!s.ok()) {
    std::string reason = absl::IsResourceExhausted(s)
                             ? std::string(s.message())
                             : absl::StrCat("directory unavailable: ", s.message());
    co_return resolution{outcome::temporary_failure, {}, std::move(reason)};
  }
  if (ex.results.empty()) {
    if (ex.loop) co_return resolution{outcome::no_such_user, {}, "alias loop"};
    if (ex.bad_destinations > 0 && ex.dead_ends == 0) {
      co_return resolution{outcome::no_such_user, {}, "alias has no valid destination"};
    }
    co_return resolution{outcome::no_such_user, {}, "no such user"};
  }
  resolution out{outcome::ok, std::move(ex.results), ""};
  // Delivered, but say what was left out, for the log line.
  if (ex.loop) {
    out.reason = "ignored an alias loop";
  } else if (ex.bad_destinations > 0) {
    out.reason = "ignored invalid alias destinations";
  } else if (ex.dead_ends > 0) {
    out.reason = "ignored alias destinations with no mailbox";
  }
  co_return out;
}

task<absl::StatusOr<std::vector<std::string>>> resolver::sendable_addresses(std::string_view login) {
  // A login is a user's email as stored: never split, the user may be "a+b@…".
  absl::StatusOr<address> own = parse_address(login, '\0');
  if (!own.ok()) co_return absl::InvalidArgumentError(absl::StrCat("invalid login: ", own.status().message()));
  std::string own_key = own->full();
  absl::StatusOr<std::vector<std::string>> sources = co_await src_.alias_sources_for(own_key);
  if (!sources.ok()) co_return sources.status();

  std::vector<std::string> out{own_key};
  absl::flat_hash_set<std::string> seen{own_key};
  for (const std::string& s : *sources) {
    if (!s.empty() && s.front() == '@') continue;  // a catch-all: nobody sends as "anyone@domain"
    absl::StatusOr<address> parsed = parse_address(s, '\0');
    if (!parsed.ok()) continue;  // a broken row gives no right to anything
    std::string key = parsed->full();
    if (seen.insert(key).second) out.push_back(std::move(key));
  }
  co_return out;
}

task<absl::StatusOr<bool>> resolver::may_send_as(std::string_view login, std::string_view from) {
  absl::StatusOr<address> base = parse_address(from, options_.detail_separator);
  absl::StatusOr<address> exact = parse_address(from, '\0');
  absl::StatusOr<std::vector<std::string>> allowed = co_await sendable_addresses(login);
  if (!allowed.ok()) co_return allowed.status();
  if (!base.ok() || !exact.ok()) co_return false;
  for (const std::string& a : *allowed) {
    if (a == base->full() || a == exact->full()) co_return true;
  }
  co_return false;
}

}  // namespace ringmail::directory

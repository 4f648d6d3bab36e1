#include "spam/arc/verifier.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "spam/arc/arc_set.h"
#include "spam/dkim/canonical.h"

namespace ringmail::spam::arc {
namespace {

arc_check failed(unsigned instances, std::string reason) {
  arc_check c;
  c.result = arc_result::fail;
  c.instances = instances;
  c.reason = std::move(reason);
  return c;
}

// Key lookups for one message, each name asked once (the parsed keys across messages:
// options.key_cache, used by key_from_answer).
class message_keys {
 public:
  message_keys(dns_client& dns, const dkim::dkim_verify_options& options) : dns_(dns), options_(options) {}

  task<const dkim::key_outcome*> get(std::string name) {
    std::string lower = absl::AsciiStrToLower(name);
    auto it = keys_.find(lower);
    if (it == keys_.end()) {
      auto lookup = dns_.lookup(dns_type::txt, name);
      dns_answer answer = co_await std::move(lookup);
      it = keys_.emplace(lower, dkim::key_from_answer(answer, options_)).first;
    }
    co_return &it->second;
  }

 private:
  dns_client& dns_;
  const dkim::dkim_verify_options& options_;
  std::map<std::string, dkim::key_outcome> keys_;
};

// The AMS of one set verified: "" or why not.
task<std::string> check_ams(const dkim::prepared_message& message, const arc_set& set, message_keys& keys) {
  auto sig = dkim::parse_signature(set.signature->value, dkim::signature_kind::arc_message_signature);
  if (!sig.ok()) co_return absl::StrCat("ARC-Message-Signature i=", set.instance, ": ", std::string(sig.status().message()));
  auto get = keys.get(dkim::key_name(*sig));
  const dkim::key_outcome* key = co_await std::move(get);
  if (key->result != dkim_result::none) {
    co_return absl::StrCat("ARC-Message-Signature i=", set.instance, ": ", key->reason);
  }
  dkim_signature_check c = dkim::verify_signature_with_key(message, *set.signature, *sig, *key->key);
  if (c.result != dkim_result::pass) co_return absl::StrCat("ARC-Message-Signature i=", set.instance, ": ", c.reason);
  co_return std::string();
}

}  // namespace

task<arc_check> verify_arc(dns_client& dns, std::string_view raw, arc_verify_options options) {
  dkim::prepared_message message(raw);
  auto collected = collect_arc_sets(message.headers());
  if (!collected.ok()) co_return failed(0, std::string(collected.status().message()));
  const std::vector<arc_set>& sets = *collected;
  const unsigned n = static_cast<unsigned>(sets.size());
  if (n == 0) co_return arc_check();

  // §5.2 steps 2-3: the seals' cv= values before any crypto.
  std::vector<seal> seals;
  for (const arc_set& s : sets) {
    auto parsed = parse_seal(s.seal->value);
    if (!parsed.ok()) co_return failed(n, std::string(parsed.status().message()));
    if (parsed->instance != s.instance) co_return failed(n, "ARC-Seal i= mismatch");
    seals.push_back(std::move(*parsed));
  }
  if (seals.back().cv == arc_result::fail) co_return failed(n, absl::StrCat("ARC-Seal i=", n, " says cv=fail"));
  for (const seal& s : seals) {
    arc_result want = s.instance == 1 ? arc_result::none : arc_result::pass;
    if (s.cv != want) co_return failed(n, absl::StrCat("ARC-Seal i=", s.instance, " has cv=", std::string(to_string(s.cv))));
  }

  message_keys keys(dns, options.keys);
  // Step 4: the newest AMS.
  auto newest = check_ams(message, sets.back(), keys);
  std::string ams_error = co_await std::move(newest);
  if (!ams_error.empty()) co_return failed(n, ams_error);

  // Step 5: every seal, newest first, over the sets up to its instance.
  for (unsigned i = n; i >= 1; --i) {
    const seal& s = seals[i - 1];
    auto get = keys.get(dkim::key_name(s.selector, s.domain));
    const dkim::key_outcome* key = co_await std::move(get);
    if (key->result != dkim_result::none) co_return failed(n, absl::StrCat("ARC-Seal i=", i, ": ", key->reason));
    if ((s.algo == dkim::algorithm::ed25519_sha256) != (key->key->key.type == dkim::key_type::ed25519)) {
      co_return failed(n, absl::StrCat("ARC-Seal i=", i, ": key type does not match a="));
    }
    if (!dkim::verify_data(key->key->key, s.algo, seal_hash_input(sets, i), s.signature_data)) {
      co_return failed(n, absl::StrCat("ARC-Seal i=", i, " did not verify"));
    }
  }

  arc_check result;
  result.result = arc_result::pass;
  result.instances = n;
  result.oldest_pass_domain = seals.back().domain;
  // Step 6 (optional): the oldest instance whose AMS still verifies.
  if (options.find_oldest_pass) {
    unsigned checked = 0;
    for (unsigned i = n - 1; i >= 1 && checked < options.max_instances_checked; --i, ++checked) {
      auto older = check_ams(message, sets[i - 1], keys);
      std::string error = co_await std::move(older);
      if (!error.empty()) break;
      result.oldest_pass_domain = seals[i - 1].domain;
    }
  }
  co_return result;
}

}  // namespace ringmail::spam::arc

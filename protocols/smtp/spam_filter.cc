#include "protocols/smtp/spam_filter.h"

#include <chrono>
#include <exception>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "runtime/log.h"
#include "runtime/shard_set.h"

namespace ringmail::smtp {
namespace {

// Kept out of coroutine bodies: g++ 12 miscompiles some braced lists inside coroutines.
void log_scan_failure(const filter_input& in, std::string_view reason) {
  log::warn("spam_scan_failed", {{"sid", in.session_id}, {"reason", reason}});
}

void log_verdict(const filter_input& in, const spam::scan_result& r, spam::spam_action action, bool offloaded) {
  static constexpr const char* names[] = {"inbox", "junk", "greylist", "reject"};
  log::info("spam_verdict", {{"sid", in.session_id},
                             {"score", absl::StrCat(r.score)},
                             {"action", names[static_cast<int>(action)]},
                             {"tests", absl::StrJoin(r.tests, ",")},
                             {"scanned_on", offloaded ? "pool" : "shard"}});
}

void log_recipient_verdict(std::string_view sid, const std::string& mailbox, const spam::scan_result& r, bool junk) {
  log::info("spam_recipient_verdict", {{"sid", sid},
                                       {"rcpt", mailbox},
                                       {"score", absl::StrCat(r.score)},
                                       {"action", junk ? "junk" : "inbox"},
                                       {"tests", absl::StrJoin(r.tests, ",")}});
}

// A listing shows in tests= as RCVD_IN_<ZONE>, like SpamAssassin's RCVD_IN_* rules.
std::string dnsbl_rule_name(std::string_view zone) {
  return "RCVD_IN_" + absl::AsciiStrToUpper(absl::StrReplaceAll(std::string(zone), {{".", "_"}, {"-", "_"}}));
}

std::vector<std::pair<std::string, double>> dnsbl_rules(const std::vector<spam::dnsbl_hit>& hits) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& h : hits) out.emplace_back(dnsbl_rule_name(h.zone), h.score);
  return out;
}

// Asks the shard owning `key` whether the triplet may pass.
task<bool> triplet_known(spam_shard& here, std::string key) {
  const unsigned shards = static_cast<unsigned>(here.all->size());
  const unsigned owner = owner_shard(key, shards);
  const std::vector<spam_shard*>* all = here.all;
  auto ask = [all, owner, key = std::move(key)] {
    spam_shard& there = *(*all)[owner];
    const bool pass = there.greylist.check(key, spam::greylist_table::clock::now());
    // Every check changes the entry (at least last_seen): the journal keeps it for a restart.
    if (there.journal != nullptr) {
      if (const spam::greylist_entry* e = there.greylist.find(key)) there.journal->record(key, *e);
    }
    return pass;
  };
  co_return co_await on_shard(owner, std::move(ask));
}

}  // namespace

task<spam_decision> filter_message(spam_shard& shard, const filter_input& in) {
  spam_decision out;
  const spam_settings& settings = *shard.settings;
  if (in.message.size() > settings.max_scan_size) {
    out.header_lines = spam::skipped_header_lines("too-large");
    co_return out;
  }
  std::vector<spam::dnsbl_hit> listed;
  if (!settings.dnsbl.empty() && shard.dns != nullptr) {
    listed = co_await spam::check_dnsbl(*shard.dns, in.client, settings.dnsbl);
  }
  spam::scan_result result;
  // Per-user Bayes rescoring needs the scan's hits and tokens.
  auto state = shard.user_bayes != nullptr ? std::make_shared<spam::scan_state>() : nullptr;
  try {
    if (shard.pool != nullptr && in.message.size() > settings.offload_scan_size) {
      // The message stays where it is (the session awaits this) while a pool thread
      // scans it with a context of its own: scratch space is per thread.
      auto scan_elsewhere = [engine = shard.scanner->shared_engine(), message = in.message,
                             extra = dnsbl_rules(listed), keep = state.get(), auth = in.auth] {
        spam::scan_context context(engine);
        return context.scan(message, extra, keep, auth);
      };
      result = co_await offload(*shard.pool, std::move(scan_elsewhere));
      out.offloaded = true;
    } else {
      result = shard.scanner->scan(in.message, dnsbl_rules(listed), state.get(), in.auth);
    }
  } catch (const std::exception& e) {
    log_scan_failure(in, e.what());
    out.header_lines = spam::skipped_header_lines("error");
    co_return out;
  }
  result.required = settings.policy.junk_score;  // X-Spam-Status agrees with the Junk decision
  out.scanned = true;
  out.score = result.score;
  bool known = true;
  if (spam::wants_greylist(result, settings.policy) && shard.all != nullptr) {
    for (const auto& rcpt : in.recipients) {
      bool pass = co_await triplet_known(shard, spam::greylist_key(in.client_ip, in.sender, rcpt));
      known = known && pass;  // ask for every triplet, so each starts its clock now
    }
  }
  out.action = spam::decide(result, settings.policy, known);
  out.header_lines = spam::spam_header_lines(result);
  out.state = std::move(state);
  log_verdict(in, result, out.action, out.offloaded);
  co_return out;
}

std::optional<recipient_verdict> recipient_verdict_for(spam_shard& shard, const spam_decision& global,
                                                       const std::string& mailbox, std::string_view session_id) {
  if (shard.user_bayes == nullptr || !global.state || !global.scanned) return std::nullopt;
  std::shared_ptr<const spam::bayes_model> model = shard.user_bayes->find(mailbox);
  if (!model) return std::nullopt;
  spam::scan_result r = shard.scanner->rescore_with_bayes(*global.state, model.get());
  spam::verdict_policy policy = shard.settings->policy;
  r.required = policy.junk_score;  // X-Spam-Status agrees with the Junk decision
  policy.reject_score = std::numeric_limits<double>::infinity();  // the transaction's, not ours
  policy.greylist = false;
  recipient_verdict v;
  v.junk = spam::decide(r, policy, /*triplet_known=*/true) == spam::spam_action::junk;
  v.header_lines = spam::spam_header_lines(r);
  v.score = r.score;
  log_recipient_verdict(session_id, mailbox, r, v.junk);
  return v;
}

}  // namespace ringmail::smtp

// QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA and the over-quota check of APPEND
// and COPY.
//
//   RFC 9208 (paraphrased): "QUOTA=RES-<name>" in CAPABILITY names each resource the
//   server supports (section 3.1); STORAGE counts the space used in units of 1024 octets
//   (5.1), MESSAGE the number of messages (5.2). GETQUOTA root answers a QUOTA response
//   with (resource usage limit) triples (4.1.1); GETQUOTAROOT mailbox answers a QUOTAROOT
//   response naming the mailbox's roots and a QUOTA response per root (4.1.2); SETQUOTA
//   (4.1.3); STATUS DELETED-STORAGE (4.1.5, folder_commands.cc); APPEND/COPY/MOVE that
//   would exceed a limit fail with the OVERQUOTA response code (4.3).
//
// ringmail has one quota root per user, named "" (as the RFC's own examples do), over all
// of the user's folders. Limits: STORAGE from the directory's quota column (bytes,
// ringmail-admin user quota; 0 = unlimited), MESSAGE from --imap_quota_messages (the
// ISPmail schema has no per-user message limit). Usage: mailbox::usage() on the owner
// shard, the index's running totals of on-disk message sizes — the same numbers the SMTP
// side's RCPT-time over_quota() uses.
//
// Departures from Dovecot 2.3 (its answers for a user with quota_rule=*:storage=N):
//   - Dovecot names its root "User quota"; ours is "" (RFC 9208's examples, and one root
//     means a client never needs to tell roots apart).
//   - As Dovecot, a resource without a limit is left out of the QUOTA response, and a user
//     with no limit at all has no quota root: GETQUOTAROOT answers `* QUOTAROOT mailbox`
//     with no root and no QUOTA response ("OK No quota"; Dovecot sends not even the
//     QUOTAROOT line, which RFC 9208 4.1.2 requires), GETQUOTA "" answers OK with no QUOTA
//     response (as Dovecot; the grammar has no QUOTA response without a resource).
//   - As Dovecot, GETQUOTAROOT of a folder that does not exist names its root anyway (the
//     root would hold it); the name must still be valid.
//   - As Dovecot, STORAGE usage and limit are rounded up to whole KiB.
//   - SETQUOTA is always NO: limits are set with ringmail-admin (Dovecot answers NO too
//     unless the user is a quota admin).
//   - The check is made before the store writes (usage + new bytes > limit -> NO), so two
//     APPENDs racing on different shards can each pass; the next one is refused. Dovecot
//     has the same window.
//   - MOVE between the user's own folders changes no usage and is never refused.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "protocols/imap/message_render.h"
#include "protocols/imap/session_impl.h"
#include "runtime/log.h"

namespace ringmail::imap {
namespace {

struct limits {
  uint64_t bytes = 0;     // 0: unlimited
  uint64_t messages = 0;  // 0: unlimited
  bool any() const { return bytes > 0 || messages > 0; }
};

task<absl::StatusOr<limits>> lookup_limits(directory::source* dir, uint64_t quota_messages, std::string user) {
  limits l;
  l.messages = quota_messages;
  if (dir == nullptr) co_return l;
  auto found = co_await dir->find_user(std::move(user));
  if (!found.ok()) co_return found.status();
  if (found->has_value() && (*found)->quota_bytes > 0) l.bytes = static_cast<uint64_t>((*found)->quota_bytes);
  co_return l;
}

uint64_t kib(uint64_t bytes) { return (bytes + 1023) / 1024; }

// "* QUOTA "" (STORAGE used limit MESSAGE used limit)" (RFC 9208 4.1.1, 5.1, 5.2).
std::string quota_response(const limits& l, const mailstore::quota_usage& used) {
  std::string resources;
  if (l.bytes > 0) absl::StrAppend(&resources, "STORAGE ", kib(used.bytes), " ", kib(l.bytes));
  if (l.messages > 0) {
    absl::StrAppend(&resources, resources.empty() ? "" : " ", "MESSAGE ", used.messages, " ", l.messages);
  }
  return absl::StrCat("QUOTA \"\" (", resources, ")");
}

constexpr std::string_view kOverQuota = "[OVERQUOTA] Quota exceeded (mailbox for user is full)";

}  // namespace

task<void> imap_session::on_quota(const command& c) {
  if (c.name == command_name::setquota) {
    // RFC 9208 4.1.3: a server may refuse; quotas are an administrator's decision here.
    no(c, "[NOPERM] Quota is set by the administrator (ringmail-admin user quota)");
    co_return;
  }
  std::optional<std::string> mailbox;
  if (c.name == command_name::getquotaroot) {
    mailbox = store_name(c, c.mailbox);
    if (!mailbox) co_return;
  } else if (!c.quota_root.empty()) {
    no(c, "[NONEXISTENT] Quota root does not exist");
    co_return;
  }
  auto limits_hop = lookup_limits(shard_.directory, config_.quota_messages, user_);
  absl::StatusOr<limits> l = co_await std::move(limits_hop);
  if (!l.ok()) {
    no(c, "[UNAVAILABLE] Quota is unavailable, try again later");
    co_return;
  }
  std::string root_line;
  if (mailbox) {
    root_line = "QUOTAROOT ";
    append_string(root_line, wire_name(*mailbox));
  }
  if (!l->any()) {
    // No limit, no root (as Dovecot: see the top of this file).
    if (mailbox) {
      untagged(root_line);
      ok(c, "No quota");
    } else {
      ok(c, "Getquota completed");
    }
    co_return;
  }
  auto run = [](mailstore::mailbox& box) -> task<absl::StatusOr<mailstore::quota_usage>> {
    co_return co_await box.usage();
  };
  auto hop = on_mailbox(std::move(run));
  absl::StatusOr<mailstore::quota_usage> used = co_await std::move(hop);
  if (!used.ok()) {
    no(c, absl::StrCat("[SERVERBUG] ", used.status().message()));
    co_return;
  }
  if (mailbox) untagged(root_line + " \"\"");
  untagged(quota_response(*l, *used));
  ok(c, c.name == command_name::getquota ? "Getquota completed" : "Getquotaroot completed");
}

task<bool> imap_session::refuse_over_quota(const command& c, std::vector<uint32_t> uids) {
  auto limits_hop = lookup_limits(shard_.directory, config_.quota_messages, user_);
  absl::StatusOr<limits> l = co_await std::move(limits_hop);
  if (!l.ok()) {
    // A directory that cannot answer does not make a mailbox full (as local_sink does).
    log::warn("imap_quota_lookup_failed", {{"sid", sid_}, {"user", user_}, {"reason", l.status().ToString()}});
    co_return false;
  }
  if (!l->any()) co_return false;
  uint64_t add_bytes = 0;
  uint64_t add_messages = 0;
  if (c.name == command_name::append) {
    for (const auto& m : c.append) add_bytes += m.message.size();
    add_messages = c.append.size();
  } else {
    add_messages = uids.size();
  }
  std::string folder = selected_ && !uids.empty() ? selected_->name : std::string();
  // Usage plus the copied messages' sizes, in one hop to the owner.
  auto run = [folder, uids = std::move(uids)](mailstore::mailbox& box)
      -> task<absl::StatusOr<mailstore::quota_usage>> {
    auto used = co_await box.usage();
    if (!used.ok()) co_return used.status();
    mailstore::quota_usage total = *used;
    if (!folder.empty()) {
      auto f = co_await box.folder(folder);
      if (!f.ok()) co_return f.status();
      for (uint32_t uid : uids) {
        if (const auto* m = (*f)->state().find(uid); m != nullptr) total.bytes += m->size;
      }
    }
    co_return total;
  };
  auto hop = on_mailbox(std::move(run));
  absl::StatusOr<mailstore::quota_usage> used = co_await std::move(hop);
  if (!used.ok()) co_return false;  // the command itself will report the store's error
  const bool over = (l->bytes > 0 && used->bytes + add_bytes > l->bytes) ||
                    (l->messages > 0 && used->messages + add_messages > l->messages);
  if (!over) co_return false;
  log::info("imap_over_quota", {{"sid", sid_}, {"user", user_}, {"used_bytes", used->bytes},
                                {"add_bytes", add_bytes}, {"limit_bytes", l->bytes}});
  no(c, kOverQuota);
  co_return true;
}

}  // namespace ringmail::imap

#include "tools/ringmail/mail_auth_flags.h"

#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "runtime/log.h"
#include "spam/dkim/key_store.h"
#include "spam/dmarc/public_suffix.h"

ABSL_FLAG(bool, mail_auth, true,
          "Check SPF, DKIM, DMARC and ARC of mail received on the SMTP port and add an "
          "Authentication-Results header (RFC 8601); the spam rules read the results");
ABSL_FLAG(bool, mail_auth_check_local, false,
          "Check mail from loopback and private-network clients too (rspamd: check_local); "
          "off: they are taken as our own systems");
ABSL_FLAG(std::string, authserv_id, "",
          "The authserv-id of our Authentication-Results headers (received ones with it are "
          "removed); default: --hostname");
ABSL_FLAG(std::string, dmarc_reject_action, "reject",
          "What a DMARC failure under p=reject does: reject (550 5.7.1), junk (accept into "
          "Junk), none (accept, result in the header only)");
ABSL_FLAG(bool, dmarc_quarantine_junk, true, "File mail failing DMARC under p=quarantine into Junk (X-Spam-Flag: YES)");
ABSL_FLAG(std::string, public_suffix_list, "/usr/share/publicsuffix/public_suffix_list.dat",
          "The public suffix list DMARC finds Organizational Domains with (Debian package "
          "publicsuffix); missing: every domain is its own organization (a warning)");
ABSL_FLAG(bool, dkim_sign, true,
          "DKIM-sign mail from authenticated submission with the From domain's signing keys "
          "(<data_dir>/dkim, `ringmail-admin dkim keygen`)");
ABSL_FLAG(bool, arc_seal, true,
          "ARC-seal (RFC 8617) mail forwarded through an alias to a remote address, with the "
          "forwarding domain's signing key");
ABSL_FLAG(uint64_t, mail_auth_dns_cache_entries, 20000,
          "DNS answers each shard keeps for the SPF/DKIM/DMARC checks (for their TTL)");

namespace ringmail::tools {

absl::StatusOr<std::shared_ptr<const smtp::mail_auth_settings>> mail_auth_settings_from_flags(
    const std::string& hostname, const std::string& data_dir) {
  auto settings = std::make_shared<smtp::mail_auth_settings>();
  settings->check_inbound = absl::GetFlag(FLAGS_mail_auth);
  settings->check_local = absl::GetFlag(FLAGS_mail_auth_check_local);
  settings->authserv_id = absl::GetFlag(FLAGS_authserv_id);
  if (settings->authserv_id.empty()) settings->authserv_id = hostname;
  const std::string reject = absl::GetFlag(FLAGS_dmarc_reject_action);
  if (reject == "reject") {
    settings->on_reject = smtp::dmarc_reject_action::reject;
  } else if (reject == "junk") {
    settings->on_reject = smtp::dmarc_reject_action::junk;
  } else if (reject == "none") {
    settings->on_reject = smtp::dmarc_reject_action::none;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--dmarc_reject_action: \"", reject, "\" is not one of reject, junk, none"));
  }
  settings->quarantine_to_junk = absl::GetFlag(FLAGS_dmarc_quarantine_junk);
  settings->dkim_sign = absl::GetFlag(FLAGS_dkim_sign);
  settings->arc_seal = absl::GetFlag(FLAGS_arc_seal);

  if (settings->check_inbound) {
    const std::string path = absl::GetFlag(FLAGS_public_suffix_list);
    auto list = spam::dmarc::public_suffix_list::load(path);
    if (list.ok()) {
      settings->suffixes = std::move(*list);
    } else {
      log::warn("public_suffix_list_unavailable", {{"path", path}, {"reason", list.status().ToString()}});
    }
  }

  auto table = spam::dkim::load_signing_keys(data_dir);
  if (!table.ok()) return table.status();
  size_t keys = 0;
  for (auto& [domain, entries] : *table) {
    for (auto& entry : entries) {
      auto key = spam::dkim::load_private_key(entry.pem);
      if (!key.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("dkim key ", domain, "/", entry.selector, ": ",
                                                       key.status().message()));
      }
      settings->keys[domain].push_back({entry.selector, std::move(*key)});
      ++keys;
    }
    // RSA first: its signature goes on top (spam/dkim/signer.h), for verifiers that read
    // only the first.
    std::stable_sort(settings->keys[domain].begin(), settings->keys[domain].end(),
                     [](const smtp::dkim_signing_key& a, const smtp::dkim_signing_key& b) {
                       return a.key.type == spam::dkim::key_type::rsa && b.key.type != spam::dkim::key_type::rsa;
                     });
  }
  log::info("mail_auth", {{"checks", settings->check_inbound ? "on" : "off"},
                          {"authserv_id", settings->authserv_id},
                          {"dkim_domains", settings->keys.size()},
                          {"dkim_keys", keys}});
  return std::shared_ptr<const smtp::mail_auth_settings>(std::move(settings));
}

bool mail_auth_checks_from_flags() { return absl::GetFlag(FLAGS_mail_auth); }

size_t mail_auth_dns_cache_entries_from_flags() { return absl::GetFlag(FLAGS_mail_auth_dns_cache_entries); }

}  // namespace ringmail::tools

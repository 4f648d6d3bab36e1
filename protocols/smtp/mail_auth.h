// The mail-authentication step of an SMTP transaction (issue 16), glue between the session
// and spam/auth, spam/dkim, spam/arc:
//
//   mail received on the MX port   SPF (MAIL FROM, HELO), DKIM, ARC, then DMARC, at the end
//                                  of DATA before the spam verdict; Authentication-Results
//                                  fields claiming our authserv-id are cut out and ours is
//                                  added; DMARC p=reject failing -> 550 5.7.1 (or Junk),
//                                  p=quarantine -> Junk.
//   submitted mail (AUTH)          DKIM-signed with the keys of the From domain (or of a
//                                  parent domain), RSA and Ed25519 when both exist.
//   forwarded to a remote address  sealed with ARC (RFC 8617) by the key of the domain
//   (an alias's remote target)     that forwarded it, so receivers that honour ARC can trust
//                                  our Authentication-Results when SPF (and maybe DKIM) no
//                                  longer pass.
// Signing or sealing that fails is logged and the message goes on unsigned: no mail is
// lost for want of a signature.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "runtime/task.h"
#include "spam/auth/authentication_results.h"
#include "spam/auth/check.h"
#include "spam/auth/message_auth.h"
#include "spam/dkim/crypto.h"
#include "spam/dkim/key_cache.h"
#include "spam/dmarc/public_suffix.h"
#include "spam/dns/dns_client.h"

namespace ringmail::smtp {

// What a DMARC failure with p=reject does (--dmarc_reject_action).
enum class dmarc_reject_action { reject, junk, none };

struct dkim_signing_key {
  std::string selector;
  spam::dkim::private_key key;
};

// Shared by every shard, read-only.
struct mail_auth_settings {
  bool check_inbound = true;   // --mail_auth
  // Also check clients on loopback and private networks (--mail_auth_check_local); off,
  // as rspamd's check_local: such clients are our own systems, and their mail has no
  // public DNS to be checked against.
  bool check_local = false;
  std::string authserv_id;     // --authserv_id (default: the host name)
  dmarc_reject_action on_reject = dmarc_reject_action::reject;
  bool quarantine_to_junk = true;  // p=quarantine -> Junk
  std::shared_ptr<const spam::dmarc::public_suffix_list> suffixes;  // null: no list
  bool dkim_sign = true;  // --dkim_sign
  bool arc_seal = true;   // --arc_seal
  // Signing keys by domain (lower case), RSA first (<data_dir>/dkim, spam/dkim/key_store.h).
  absl::flat_hash_map<std::string, std::vector<dkim_signing_key>> keys;
  spam::auth_options check_options;
};

// One per shard.
struct mail_auth_shard {
  // Replaced on the shard's own thread when SIGHUP reloads the keys (tools/ringmail/
  // mail_services.h). Shared: a check in flight holds its own copy (check_inbound), so
  // the settings it started with outlive the swap; synchronous readers just dereference.
  std::shared_ptr<const mail_auth_settings> settings;
  spam::dns_client* dns = nullptr;  // the shard's DNS cache
  // The shard's parsed DKIM keys (spam/dkim/key_cache.h); null: keys parsed per message.
  spam::dkim::key_cache* key_cache = nullptr;
};

struct inbound_request {
  std::string_view message;
  std::string client_ip;
  std::string helo;
  std::string mail_from;
  std::string receiver;  // our host name
};

enum class dmarc_action { accept, junk, reject };

struct inbound_auth {
  spam::message_auth auth;
  std::string header;  // "Authentication-Results: ...\r\n"
  // Authentication-Results fields that arrived with our authserv-id (RFC 8601 §5): the
  // session cuts them out of the message before storing it.
  std::vector<spam::byte_range> forged;
  dmarc_action action = dmarc_action::accept;
};

// `in` must outlive the task.
task<inbound_auth> check_inbound(mail_auth_shard& shard, const inbound_request& in);

// The signing keys of `from_domain`: its own, else the nearest parent domain's that has
// keys (mail from news.example.org signed by example.org's keys, as rspamd's use_esld);
// null when none.
const std::vector<dkim_signing_key>* signing_keys_for(const mail_auth_settings& settings, std::string_view from_domain);

// The From domain of a message's header block (the first address of the first From
// field), lower case; "" when there is none.
std::string from_domain_of(std::string_view message);

// The DKIM-Signature fields to prepend to `message` (the message exactly as it will be
// sent, header and body), RSA on top; "" when there is no key for its From domain.
std::string dkim_signatures_for(const mail_auth_settings& settings, std::string_view message, std::string_view session_id);

// The ARC set (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) to prepend
// to a message we forward to a remote address: `outgoing` is the message exactly as it will
// be queued (our trace fields and the message), `auth_header` our Authentication-Results
// field (its results become the ARC-Authentication-Results), `auth` the checks' results
// (the chain's cv=). Sealed with the signing key of `forwarding_domain` (the alias's
// domain, or a parent's); "" when sealing is off, there is no key, or sealing failed
// (logged): the message is forwarded unsealed.
std::string arc_seal_for_forward(const mail_auth_settings& settings, std::string_view forwarding_domain,
                                 std::string_view outgoing, std::string_view auth_header,
                                 const spam::message_auth& auth, std::string_view session_id);

}  // namespace ringmail::smtp

// One IMAP session (RFC 9051 IMAP4rev2, and RFC 3501 IMAP4rev1 for clients that do not
// ENABLE IMAP4rev2): story 2 of DESIGN.md, from the greeting to LOGOUT.
//
// Glue, like smtp/session: command_reader frames a command, parse_command parses it,
// the session checks the state (not authenticated / authenticated / selected), asks the
// authenticator (delivery/auth) to log in, asks the user's mailbox on its OWNER shard
// (delivery/mailstore, through with_mailbox) to read or change folders, renders message
// data with message_render and answers. The session itself never moves: its socket and
// TLS state stay on the shard that accepted it, and a selected folder is followed
// through a folder_watch (mail_store.h).
//
// What the client has been told about the selected folder lives in a mailbox_view
// (sequence numbers, flags as last reported); store events become untagged EXISTS,
// EXPUNGE and FETCH responses at the points RFC 9051 7.5.1 allows.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "delivery/auth/authenticator.h"
#include "delivery/directory/source.h"
#include "delivery/mailstore/mail_store.h"
#include "mail/charset.h"
#include "protocols/imap/header_cache.h"
#include "runtime/tcp_service.h"
#include "runtime/tls_context.h"

namespace ringmail::imap {

struct server_config {
  std::string hostname = "localhost";
  std::shared_ptr<tls::context> tls;  // STARTTLS offered (plain port) when set
  bool implicit_tls = false;          // imaps: TLS starts at accept
  // Off (the default): no LOGIN/AUTHENTICATE before TLS on the plain port (LOGINDISABLED,
  // RFC 9051 6.2.3). Loopback connections are no exception: a proxy on the same host
  // would otherwise carry passwords in the clear from elsewhere.
  bool allow_plaintext_auth = false;
  size_t max_line_before_auth = 8 * 1024;
  size_t max_literal_before_auth = 4 * 1024;
  size_t max_line = 64 * 1024;
  uint64_t max_append = 50ull << 20;  // APPEND literal, octets
  size_t max_errors = 20;             // BAD commands before BYE
  std::chrono::milliseconds login_timeout{std::chrono::minutes(1)};
  // RFC 9051 5.4: "an inactivity autologout timer ... of at least 30 minutes"; IDLE too.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(30)};
  // Created (and subscribed) at a user's first login, with their SPECIAL-USE attribute.
  std::vector<std::string> special_folders = {"Drafts", "Sent", "Trash", "Junk"};
  // COMPRESS=DEFLATE (RFC 4978) offered after login (--imap_compress).
  bool compress = true;
  // QUOTA (RFC 9208): a MESSAGE limit for every user (the directory has only bytes);
  // 0 = none, and then no MESSAGE resource is reported.
  uint64_t quota_messages = 0;
  // SEARCH BODY/TEXT through the full-text index (imap/fts_search.cc); off: linear scan.
  bool fts = true;
};

// Spam training when the user moves mail into or out of Junk (the seed's set-up: Dovecot's
// imapsieve + rspamc learn_spam/learn_ham). Runs on the offload pool; the session does
// not wait for it.
class spam_trainer {
 public:
  virtual ~spam_trainer() = default;
  // `user` is the mailbox owner; `paths` the message files (the copies in the
  // destination folder, which stay put while the trainer reads them).
  virtual void learn(const std::string& user, std::vector<std::string> paths, bool spam) = 0;
};

// What sessions on one shard share; owned by the shard.
struct shard_context {
  auth::authenticator* auth = nullptr;
  const mailstore::store_set* stores = nullptr;
  mail::charset_converter* charsets = nullptr;
  spam_trainer* trainer = nullptr;  // null: no training
  header_cache* headers = nullptr;  // SEARCH's header blocks, one per shard
  class sort_cache* sorts = nullptr;  // SORT/THREAD values (sort_cache.h), per shard; null: none
  // Users whose special-use folders this shard has already made sure of.
  absl::flat_hash_set<std::string> provisioned;
  // QUOTA (RFC 9208): users' STORAGE limits (quota_bytes); null: no quotas.
  directory::source* directory = nullptr;
};

task<void> run_session(session& s, const server_config& config, shard_context& shard);

}  // namespace ringmail::imap

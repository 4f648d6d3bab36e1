// The mail listeners of `ringmail serve` (SMTP on --smtp_port, LMTP on --lmtp_port, IMAP on --imap_port/--imaps_port, POP3 on --pop3_port/--pop3s_port) and
// the per-shard state they share: directory source and cache,
// resolver, Maildir writer. Each shard builds its own copy on its own thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "delivery/directory/open_store.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/queue/queue_control.h"
#include "delivery/sink/local_sink.h"
#include "runtime/shard_set.h"
#include "runtime/tcp_service.h"
#include "runtime/tls_context.h"
#include "protocols/smtp/mail_auth.h"
#include "protocols/smtp/spam_filter.h"
#include "spam/scanner.h"

namespace ringmail::spam {
class bayes_trainer;
}
namespace ringmail::imap {
class spam_trainer;
}
namespace ringmail::pop3 {
struct shard_context;
}


namespace ringmail::tools {

struct mail_settings {
  std::string hostname;
  std::string data_dir;
  directory::directory_location directory;
  // The directory store serve opened (and validated) at start-up. Kept for SQLite, whose
  // lookups run on the offload pool; MariaDB shards use their own non-blocking sources.
  std::unique_ptr<directory::store> store;
  std::shared_ptr<tls::context> tls;
  // The compiled spam rules (and Bayes model); null: no scanning.
  std::shared_ptr<const spam::spam_engine> spam_engine;
};

class mail_services {
 public:
  explicit mail_services(mail_settings settings);
  ~mail_services();

  // Opens the listeners on every shard (blocking the caller until all are up).
  // `services[shard]` receives each shard's tcp_services, for the graceful shutdown.
  absl::Status start(shard_set& set, std::vector<std::vector<std::unique_ptr<tcp_service>>>& services);
  // On a shard. Swaps every shard's scanner to `engine` (a reload), one shard at a time.
  task<void> replace_spam_engine(std::shared_ptr<const spam::spam_engine> engine);
  // On a shard (SIGHUP). Builds the mail-authentication settings again from the flags and
  // <data_dir>/dkim on `pool` (key files are blocking reads), then hands them to every
  // shard on its own thread. A failed build (a bad key file) logs mail_auth_reload_failed
  // and keeps the old settings.
  task<void> reload_mail_auth(offload_pool& pool);
  // On a shard, after the listeners drained: checkpoints every open mailbox (so the next
  // start opens folders without listing them) and brings Dovecot's files up to date.
  task<void> close_stores();
  // "smtp=2525 lmtp=2424" for the ready line.
  std::string describe() const;
  size_t listener_count() const { return listeners_; }
  // The Maildir root the listeners deliver under (--mail_root, default <data_dir>/vmail),
  // as resolved by start(); empty before it. serve hands it to --user.
  const std::string& mail_root() const { return mail_root_; }

 private:
  struct shard_state;
  mail_settings settings_;
  // IMAP Junk training (--imap_spam_training); null when off. Declared before shards_ so
  // it outlives the shard states that point at it.
  std::unique_ptr<spam::bayes_trainer> trainer_;
  std::unique_ptr<imap::spam_trainer> imap_trainer_;
  std::unique_ptr<directory::store> shared_store_;  // SQLite: one store, a connection per thread
  std::vector<std::unique_ptr<shard_state>> shards_;
  std::vector<smtp::spam_shard*> spam_shards_;  // each shard's, for greylist owners
  std::vector<pop3::shard_context*> pop3_shards_;  // each shard's, for the maildrop locks' owners
  smtp::spam_settings spam_settings_;
  std::shared_ptr<const smtp::mail_auth_settings> mail_auth_settings_;  // issue 16
  std::string description_;
  std::string mail_root_;
  mailstore::store_set stores_;  // each shard's mail store, for owner routing
  delivery::delivery_filter_set sieve_filters_;  // each shard's Sieve (local_sink.h), or none
  // Each shard's outbound queue and its relay agent (the queue control channel's view).
  std::vector<queue::control_shard> control_shards_;
  size_t listeners_ = 0;
};

}  // namespace ringmail::tools

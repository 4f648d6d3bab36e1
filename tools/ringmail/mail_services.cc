#include "tools/ringmail/mail_services.h"

#include <sys/stat.h>

#include <filesystem>
#include <future>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "delivery/directory/cache.h"
#include "delivery/directory/mariadb_source.h"
#include "delivery/directory/offload_source.h"
#include "delivery/directory/resolver.h"
#include "delivery/mailstore/maildir_writer.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/queue/queue_sink.h"
#include "delivery/queue/queue_store.h"
#include "delivery/relay/notice_sender.h"
#include "delivery/relay/relay_agent.h"
#include "delivery/relay/route.h"
#include "delivery/sieve/script_store.h"
#include "delivery/sieve/sieve_delivery.h"
#include "delivery/sink/address_sender.h"
#include "delivery/sink/local_sink.h"
#include "delivery/auth/authenticator.h"
#include "mail/charset.h"
#include "spam/dns/dns_cache.h"
#include "tools/ringmail/mail_auth_flags.h"
#include "protocols/imap/session.h"
#include "protocols/imap/sort_cache.h"
#include "protocols/managesieve/session.h"
#include "protocols/managesieve/store_access.h"
#include "protocols/pop3/session.h"
#include "protocols/smtp/session.h"
#include "runtime/conn_limits.h"
#include "runtime/log.h"
#include "runtime/task_scope.h"
#include "spam/bayes/trainer.h"
#include "spam/greylist_journal.h"
#include "spam/greylist_store.h"
#include "tools/common/directory_flags.h"
#include "tools/common/spam_flags.h"
#include "tools/ringmail/relay_flags.h"
#include "tools/ringmail/sieve_flags.h"

ABSL_FLAG(uint16_t, smtp_port, 2525, "SMTP (MX) port; 25 in production; 0 = off");
ABSL_FLAG(uint16_t, submission_port, 1587,
          "Message submission port (RFC 6409: STARTTLS, then AUTH); 587 in production; 0 = off");
ABSL_FLAG(uint16_t, submissions_port, 1465,
          "Message submission port with implicit TLS (RFC 8314); 465 in production; 0 = off");
ABSL_FLAG(bool, submission_hide_client, false,
          "Leave the client's IP address and HELO name out of Received: on authenticated mail");
ABSL_FLAG(uint16_t, lmtp_port, 2424, "LMTP port (RFC 2033), for an MTA in front of ringmail; 0 = off");
ABSL_FLAG(std::string, lmtp_socket, "",
          "Also serve LMTP on this Unix socket (Postfix: virtual_transport = lmtp:unix:PATH); empty = off");
ABSL_FLAG(uint16_t, imap_port, 1143, "IMAP port with STARTTLS; 143 in production; 0 = off");
ABSL_FLAG(uint16_t, imaps_port, 1993, "IMAP port with implicit TLS; 993 in production; 0 = off");
ABSL_FLAG(bool, imap_allow_plaintext_auth, false,
          "Allow LOGIN/AUTHENTICATE on the IMAP port before STARTTLS (passwords in the clear)");
ABSL_FLAG(absl::Duration, imap_idle_timeout, absl::Minutes(30),
          "Autologout after this long without a command, IDLE included (RFC 9051: at least 30 minutes)");
ABSL_FLAG(uint16_t, pop3_port, 1110, "POP3 port with STLS; 110 in production; 0 = off");
ABSL_FLAG(uint16_t, pop3s_port, 1995, "POP3 port with implicit TLS; 995 in production; 0 = off");
ABSL_FLAG(bool, pop3_allow_plaintext_auth, false,
          "Allow USER/PASS/AUTH on the POP3 port before STLS (passwords in the clear)");
ABSL_FLAG(absl::Duration, pop3_idle_timeout, absl::Minutes(10),
          "Close a logged-in POP3 session after this long without a command (RFC 1939: at least 10 minutes)");
ABSL_FLAG(absl::Duration, pop3_login_timeout, absl::Minutes(3),
          "Close a POP3 connection that has not logged in after this long without a command");
ABSL_FLAG(uint16_t, managesieve_port, 4190,
          "ManageSieve port (RFC 5804, with STARTTLS), where users edit their Sieve filters; 4190 as Dovecot; 0 = off");
ABSL_FLAG(bool, managesieve_allow_plaintext_auth, false,
          "Allow AUTHENTICATE on the ManageSieve port before STARTTLS (passwords in the clear)");
ABSL_FLAG(bool, imap_fts, true,
          "Answer IMAP SEARCH BODY/TEXT from the per-folder full-text index (<folder>/ringmail-fts); "
          "false: read every message, as before");
ABSL_FLAG(uint64_t, imap_max_append, 50ull << 20, "Largest message IMAP APPEND accepts, in bytes");
ABSL_FLAG(bool, imap_compress, true, "Offer IMAP COMPRESS=DEFLATE (RFC 4978) after login");
ABSL_FLAG(uint64_t, imap_quota_messages, 0,
          "IMAP QUOTA MESSAGE limit for every user (RFC 9208; the directory has only bytes); 0 = none");
ABSL_FLAG(bool, imap_spam_training, true,
          "With spam scanning on: a message moved or copied into Junk is learned as spam for its "
          "owner, one moved out of Junk (not to Trash) as ham, on the offload pool");
ABSL_FLAG(std::string, listen_address, "::", "Address the listeners bind ('::' = all, IPv4 and IPv6)");
ABSL_FLAG(uint64_t, max_message_size, 50ull << 20, "Largest message accepted, in bytes (SIZE)");
ABSL_FLAG(uint32_t, max_recipients, 1000, "Recipients per message");
ABSL_FLAG(uint32_t, max_errors, 20, "Bad commands before a session is closed with 421");
ABSL_FLAG(absl::Duration, smtp_command_timeout, absl::Minutes(5), "Idle time allowed between SMTP commands");
ABSL_FLAG(absl::Duration, smtp_data_timeout, absl::Minutes(3), "Idle time allowed while message data streams in");
ABSL_FLAG(absl::Duration, smtp_session_timeout, absl::Hours(1), "Longest an SMTP/LMTP session may last");
ABSL_FLAG(bool, smtp_allow_bare_lf, false,
          "Normalize bare LF in commands and data instead of refusing them (weakens SMTP smuggling defence)");
ABSL_FLAG(uint32_t, max_connections, 10000, "Connections per listener across all shards; 0 = unlimited");
ABSL_FLAG(uint32_t, max_connections_per_ip, 50,
          "Connections per client IPv4 address or IPv6 /64 (loopback exempt); 0 = unlimited");
ABSL_FLAG(std::string, maildir_dir_mode, "0700", "Mode of directories created under --mail_root (octal)");
ABSL_FLAG(std::string, maildir_file_mode, "0600", "Mode of message files (octal)");
ABSL_FLAG(absl::Duration, mailbox_idle_close, absl::Seconds(60),
          "Checkpoint and close a mailbox nobody has used for this long, releasing its lock so "
          "ringmail-admin can work on it while the server runs; 0 = keep mailboxes open");
ABSL_FLAG(bool, maildir_fsync, true, "fsync every message and its directory entry before answering 250");
ABSL_FLAG(uint32_t, directory_cache_ttl_s, 60, "Seconds a positive directory answer is cached per shard");
ABSL_FLAG(uint32_t, directory_negative_ttl_s, 10, "Seconds a negative directory answer is cached per shard");
ABSL_FLAG(uint32_t, directory_pool, 2, "MariaDB connections per shard");
ABSL_FLAG(bool, lmtp_spam_scan, false,
          "Scan mail arriving over LMTP too (off: the MTA in front is expected to have scanned it)");
ABSL_FLAG(std::string, dnsbl, "",
          "DNS blocklists for the client IP, comma-separated zone[=127.0.0.2;127.0.0.4][:score], "
          "e.g. zen.spamhaus.org:3.5; empty = off");
ABSL_FLAG(std::string, dns_servers, "",
          "DNS servers for the relay's MX lookups and DNSBL lookups (ip[:port], comma-separated); "
          "empty = /etc/resolv.conf");
ABSL_FLAG(uint64_t, spam_max_scan_size, 10ull << 20, "Messages larger than this are delivered unscanned (X-Spam-Status: No, skipped)");
ABSL_FLAG(uint64_t, spam_offload_size, 256ull << 10,
          "Messages larger than this are scanned on the offload pool instead of the shard");
ABSL_FLAG(bool, spam_user_bayes, true,
          "Each local recipient whose own Bayes store has enough training (200 spam, 200 ham) gets "
          "the verdict of their store; the others the global one");
ABSL_FLAG(uint64_t, spam_user_bayes_cache_bytes, 64ull << 20,
          "Memory per shard for recipients' Bayes models (least recently used out first)");
ABSL_FLAG(absl::Duration, spam_user_bayes_ttl, absl::Seconds(60),
          "How long a recipient's Bayes model is used before it is reloaded (training shows after this)");

namespace ringmail::tools {
namespace {

// The IMAP session's training hook (protocols/imap/session.h) over the Bayes trainer;
// spam/ cannot implement a protocols/ interface itself (layers point down).
class imap_bayes_trainer final : public imap::spam_trainer {
 public:
  explicit imap_bayes_trainer(spam::bayes_trainer& trainer) : trainer_(trainer) {}
  void learn(const std::string& user, std::vector<std::string> paths, bool spam) override {
    trainer_.learn(user, std::move(paths), spam);
  }

 private:
  spam::bayes_trainer& trainer_;
};

}  // namespace

struct mail_services::shard_state {
  std::unique_ptr<directory::source> source;
  std::unique_ptr<directory::cached_source> cache;
  std::unique_ptr<directory::resolver> resolver;
  std::unique_ptr<mailstore::maildir_writer> writer;
  std::unique_ptr<mailstore::mail_store> store;
  std::unique_ptr<delivery::local_sink> local;
  cancel_source sweep_stop;  // ends the idle-mailbox sweep at shutdown
  task_scope sweeper;
  std::unique_ptr<dns_resolver> dns;
  // The outbound queue and its relay (issue 13): remote recipients are queued here and
  // delivered by the agent, which runs in relay_runner until close_stores().
  std::unique_ptr<queue::queue_store> queue;
  std::unique_ptr<queue::queue_sink> queue_sink;
  std::unique_ptr<relay::route_resolver> routes;
  std::unique_ptr<relay::notice_sender> notices;
  std::unique_ptr<relay::relay_agent> relay;
  task_scope relay_runner;
  smtp::spam_shard spam;
  // SPF/DKIM/DMARC/ARC (issue 16): the shard's DNS cache over `dns`, and the step's state.
  std::unique_ptr<spam::dns_cache> auth_dns;
  std::unique_ptr<spam::dkim::key_cache> auth_keys;  // parsed DKIM keys (mail_auth.key_cache)
  smtp::mail_auth_shard mail_auth;
  std::unique_ptr<spam::user_models> user_bayes;  // recipients' own Bayes (issue 15)
  // The greylist's journal (spam/greylist_journal.h) and its writer, with --greylist on.
  std::unique_ptr<spam::greylist_journal> greylist_journal;
  cancel_source greylist_stop;
  task_scope greylist_writer;
  smtp::shard_context context;
  std::unique_ptr<auth::authenticator> auth;
  mail::charset_converter charsets;
  imap::header_cache imap_headers;
  imap::sort_cache imap_sorts;  // SORT/THREAD values (issue 11)
  imap::shard_context imap;
  pop3::shard_context pop3;
  // ManageSieve (issue 14): the sessions reach the scripts through the script stores.
  std::unique_ptr<managesieve::store_access> managesieve_scripts;
  managesieve::shard_context managesieve;
  // Sieve (issue 14): this shard's script store (the scripts of the users it owns, and
  // their compiled programs), and every shard's, for sieve::with_scripts from ManageSieve
  // sessions and deliveries on any shard. Read-only once start() returns.
  std::unique_ptr<sieve::script_store> scripts;
  sieve::script_store_set script_stores;
  // Sieve at delivery: the local sink's filter on this shard (sieve_delivery.h) and what
  // its redirects, vacation replies and notices are sent through.
  std::unique_ptr<delivery::address_sender> sieve_outbound;
  std::unique_ptr<sieve::sieve_delivery> sieve_delivery;
};

mail_services::mail_services(mail_settings settings) : settings_(std::move(settings)) {}
mail_services::~mail_services() = default;

std::string mail_services::describe() const { return description_; }

absl::Status mail_services::start(shard_set& set, std::vector<std::vector<std::unique_ptr<tcp_service>>>& services) {
  const std::string mail_root = mail_root_from_flags(settings_.data_dir);
  mail_root_ = mail_root;
  ::mkdir(mail_root.c_str(), 0700);
  // Crash leftovers in tmp/ are cleaned lazily, per folder, when the mail store first
  // opens a folder (as Dovecot does), not by a walk of the whole mail root here.

  if (settings_.directory.directory.empty()) shared_store_ = std::move(settings_.store);
  settings_.store.reset();  // MariaDB: the blocking admin connection is not needed here
  auto base = std::make_shared<smtp::server_config>();
  base->hostname = settings_.hostname;
  base->max_message_size = absl::GetFlag(FLAGS_max_message_size);
  base->max_recipients = absl::GetFlag(FLAGS_max_recipients);
  base->max_errors = absl::GetFlag(FLAGS_max_errors);
  base->command_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_smtp_command_timeout));
  base->data_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_smtp_data_timeout));
  base->allow_bare_lf = absl::GetFlag(FLAGS_smtp_allow_bare_lf);
  base->session_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_smtp_session_timeout));
  base->tls = settings_.tls;
  auto lmtp = std::make_shared<smtp::server_config>(*base);
  lmtp->lmtp = true;
  lmtp->spam_scan = absl::GetFlag(FLAGS_lmtp_spam_scan);
  auto submission = std::make_shared<smtp::server_config>(*base);
  submission->smtp_role = smtp::session_role::submission;
  submission->hide_client = absl::GetFlag(FLAGS_submission_hide_client);
  auto submissions = std::make_shared<smtp::server_config>(*submission);
  submissions->smtp_role = smtp::session_role::submissions;
  const uint16_t submission_port = absl::GetFlag(FLAGS_submission_port);
  const uint16_t submissions_port = absl::GetFlag(FLAGS_submissions_port);

  spam_settings_.policy = spam_policy_from_flags();
  spam_settings_.max_scan_size = absl::GetFlag(FLAGS_spam_max_scan_size);
  spam_settings_.offload_scan_size = absl::GetFlag(FLAGS_spam_offload_size);
  auto lists = spam::parse_dnsbl_lists(absl::GetFlag(FLAGS_dnsbl));
  if (!lists.ok()) return lists.status();
  spam_settings_.dnsbl = std::move(*lists);
  dns_options dns;
  dns.servers = absl::GetFlag(FLAGS_dns_servers);
  auto relay_settings = relay_settings_from_flags(settings_.hostname);
  if (!relay_settings.ok()) return relay_settings.status();
  auto auth_settings = mail_auth_settings_from_flags(settings_.hostname, settings_.data_dir);
  if (!auth_settings.ok()) return auth_settings.status();
  mail_auth_settings_ = std::move(*auth_settings);
  spam::dns_cache_options auth_dns_options;
  auth_dns_options.max_entries = mail_auth_dns_cache_entries_from_flags();
  auto sieve_settings = sieve_store_settings_from_flags();
  if (!sieve_settings.ok()) return sieve_settings.status();
  auto sieve_delivery_settings = sieve_delivery_settings_from_flags(settings_.hostname, spam_settings_.policy.junk_folder);
  if (!sieve_delivery_settings.ok()) return sieve_delivery_settings.status();
  const std::string queue_root = settings_.data_dir + "/queue";
  // Greylisting state survives a restart: every shard's journal is read back here, before
  // any listener accepts (start-up may block; spam/greylist_store.h merges the files, so
  // the shard count may have changed since they were written).
  const spam::greylist_options greylist_options = greylist_options_from_flags();
  const bool greylist_persist = settings_.spam_engine && spam_settings_.policy.greylist;
  const std::string greylist_dir = settings_.data_dir + "/greylist";
  std::vector<std::vector<spam::greylist_record>> greylist_loaded(set.size());
  if (greylist_persist) {
    const unsigned shard_count = set.size();
    spam::greylist_load_stats gs;
    auto loaded = spam::load_greylist_dir(
        greylist_dir, shard_count, [shard_count](std::string_view key) { return owner_shard(key, shard_count); },
        greylist_options, std::chrono::system_clock::now(), &gs);
    if (!loaded.ok()) return loaded.status();
    greylist_loaded = std::move(*loaded);
    log::info("greylist_loaded", {{"dir", greylist_dir},
                                  {"files", gs.files},
                                  {"triplets", gs.kept},
                                  {"expired", gs.expired},
                                  {"skipped_lines", gs.skipped}});
  }

  const uint16_t smtp_port = absl::GetFlag(FLAGS_smtp_port);
  const uint16_t lmtp_port = absl::GetFlag(FLAGS_lmtp_port);
  auto address = [&](uint16_t port) { return socket_address::parse(absl::GetFlag(FLAGS_listen_address), port); };
  auto smtp_limits = std::make_shared<conn_limits>(absl::GetFlag(FLAGS_max_connections),
                                                   absl::GetFlag(FLAGS_max_connections_per_ip),
                                                   /*exempt_loopback=*/true);
  auto lmtp_limits = std::make_shared<conn_limits>(absl::GetFlag(FLAGS_max_connections), 0);
  auto imap_limits = std::make_shared<conn_limits>(absl::GetFlag(FLAGS_max_connections),
                                                   absl::GetFlag(FLAGS_max_connections_per_ip),
                                                   /*exempt_loopback=*/true);
  auto pop3_limits = std::make_shared<conn_limits>(absl::GetFlag(FLAGS_max_connections),
                                                   absl::GetFlag(FLAGS_max_connections_per_ip),
                                                   /*exempt_loopback=*/true);
  const uint16_t imap_port = absl::GetFlag(FLAGS_imap_port);
  const uint16_t imaps_port = absl::GetFlag(FLAGS_imaps_port);
  auto imap = std::make_shared<imap::server_config>();
  imap->hostname = settings_.hostname;
  imap->tls = settings_.tls;
  imap->allow_plaintext_auth = absl::GetFlag(FLAGS_imap_allow_plaintext_auth);
  imap->idle_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_imap_idle_timeout));
  imap->max_append = absl::GetFlag(FLAGS_imap_max_append);
  imap->fts = absl::GetFlag(FLAGS_imap_fts);
  imap->max_errors = absl::GetFlag(FLAGS_max_errors);
  imap->compress = absl::GetFlag(FLAGS_imap_compress);
  imap->quota_messages = absl::GetFlag(FLAGS_imap_quota_messages);
  auto imaps = std::make_shared<imap::server_config>(*imap);
  imaps->implicit_tls = true;
  const uint16_t pop3_port = absl::GetFlag(FLAGS_pop3_port);
  const uint16_t pop3s_port = absl::GetFlag(FLAGS_pop3s_port);
  auto pop3 = std::make_shared<pop3::server_config>();
  pop3->hostname = settings_.hostname;
  pop3->tls = settings_.tls;
  pop3->allow_plaintext_auth = absl::GetFlag(FLAGS_pop3_allow_plaintext_auth);
  pop3->idle_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_pop3_idle_timeout));
  pop3->max_errors = absl::GetFlag(FLAGS_max_errors);
  pop3->login_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_pop3_login_timeout));
  auto pop3s = std::make_shared<pop3::server_config>(*pop3);
  pop3s->implicit_tls = true;
  const uint16_t managesieve_port = absl::GetFlag(FLAGS_managesieve_port);
  auto managesieve = std::make_shared<managesieve::server_config>();
  managesieve->hostname = settings_.hostname;
  managesieve->tls = settings_.tls;
  managesieve->allow_plaintext_auth = absl::GetFlag(FLAGS_managesieve_allow_plaintext_auth);
  managesieve->max_errors = absl::GetFlag(FLAGS_max_errors);
  // MAXREDIRECTS (RFC 5804 1.7) is what delivery enforces: --sieve_max_redirects.
  managesieve->max_redirects = sieve_delivery_settings->has_value() ? (*sieve_delivery_settings)->limits.max_redirects
                                                                    : sieve::run_limits{}.max_redirects;
  managesieve->max_script_bytes = sieve_settings->limits.max_script_bytes;
  auto managesieve_limits = std::make_shared<conn_limits>(absl::GetFlag(FLAGS_max_connections),
                                                          absl::GetFlag(FLAGS_max_connections_per_ip),
                                                          /*exempt_loopback=*/true);

  // Training writes the Bayes store (--bayes_db / MariaDB / <data_dir>/bayes.sqlite) in the
  // user's own rows, as `ringmail-admin spam learn --user=...` does. With --spam_user_bayes a
  // recipient whose rows have enough training gets their own verdict at delivery
  // (spam/bayes/user_models.h, read back after --spam_user_bayes_ttl); the others the global
  // model's (loaded at start and on SIGHUP).
  if (settings_.spam_engine && absl::GetFlag(FLAGS_imap_spam_training)) {
    spam::bayes_trainer_options to;
    to.max_message_size = spam_settings_.max_scan_size;
    trainer_ = std::make_unique<spam::bayes_trainer>(
        set.offload(), [data_dir = settings_.data_dir] { return open_bayes_store_from_flags(data_dir, false); }, to);
    imap_trainer_ = std::make_unique<imap_bayes_trainer>(*trainer_);
  }

  shards_.resize(set.size());
  for (unsigned i = 0; i < set.size(); ++i) shards_[i] = std::make_unique<shard_state>();
  stores_.assign(set.size(), nullptr);
  sieve_filters_.assign(set.size(), nullptr);
  control_shards_.assign(set.size(), queue::control_shard{});
  for (unsigned i = 0; i < set.size(); ++i) spam_shards_.push_back(&shards_[i]->spam);
  for (unsigned i = 0; i < set.size(); ++i) pop3_shards_.push_back(&shards_[i]->pop3);
  // First every shard's Maildir writer and mail store, so that a session on any shard
  // can route a mailbox to any owner from its first connection on.
  {
    std::vector<std::promise<void>> made(set.size());
    for (unsigned i = 0; i < set.size(); ++i) {
      set.run_on(i, [&, i] {
        shard_state& st = *shards_[i];
        mailstore::writer_options wo;
        wo.hostname = settings_.hostname;
        wo.fsync = absl::GetFlag(FLAGS_maildir_fsync);
        wo.dir_mode = static_cast<mode_t>(std::stoul(absl::GetFlag(FLAGS_maildir_dir_mode), nullptr, 8));
        wo.file_mode = static_cast<mode_t>(std::stoul(absl::GetFlag(FLAGS_maildir_file_mode), nullptr, 8));
        wo.shard_id = i;
        st.writer = std::make_unique<mailstore::maildir_writer>(wo);
        mailstore::store_options so;
        so.fsync = wo.fsync;
        so.dir_mode = wo.dir_mode;
        st.store = std::make_unique<mailstore::mail_store>(mail_root, so, *st.writer, set.offload());
        stores_[i] = st.store.get();
        queue::queue_options qo;
        qo.shard = i;
        qo.fsync = wo.fsync;
        qo.dir_mode = wo.dir_mode;
        qo.file_mode = wo.file_mode;
        st.queue = std::make_unique<queue::queue_store>(queue_root, qo, *st.writer, set.offload());
        control_shards_[i].store = st.queue.get();
        st.scripts = std::make_unique<sieve::script_store>(sieve_settings->global_dir, sieve_settings->limits,
                                                           set.offload());
        const auto idle = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_mailbox_idle_close));
        if (idle.count() > 0) {
          const auto period = std::max(std::chrono::milliseconds(1000), idle / 4);
          st.sweeper.spawn(st.store->sweep_idle(period, idle, st.sweep_stop));
        }
        made[i].set_value();
      });
    }
    for (auto& p : made) p.get_future().get();
  }
  {
    sieve::script_store_set scripts;
    for (unsigned i = 0; i < set.size(); ++i) scripts.push_back(shards_[i]->scripts.get());
    for (unsigned i = 0; i < set.size(); ++i) shards_[i]->script_stores = scripts;
  }
  // Every shard's queue is read back before any session can add to it (queue_store.h:
  // load_all must complete first); a spool that cannot be read stops the start.
  for (unsigned i = 0; i < set.size(); ++i) {
    queue::queue_store* q = control_shards_[i].store;
    absl::Status loaded = block_on_shard(set, i, [q]() -> task<absl::Status> { co_return co_await q->load_all(); });
    if (!loaded.ok()) return loaded;
  }
  std::vector<std::promise<absl::Status>> started(set.size());
  for (unsigned i = 0; i < set.size(); ++i) {
    set.run_on(i, [&, i] {
      shard_state& st = *shards_[i];
      if (shared_store_) {
        st.source = std::make_unique<directory::offload_source>(*shared_store_, set.offload());
      } else {
        auto config = directory::parse_mariadb_url(settings_.directory.directory);
        directory::mariadb_source_options o;
        o.pool_size = absl::GetFlag(FLAGS_directory_pool);
        st.source = std::make_unique<directory::mariadb_source>(*config, settings_.directory.queries, o);
      }
      directory::cache_options co;
      co.positive_ttl = std::chrono::seconds(absl::GetFlag(FLAGS_directory_cache_ttl_s));
      co.negative_ttl = std::chrono::seconds(absl::GetFlag(FLAGS_directory_negative_ttl_s));
      st.cache = std::make_unique<directory::cached_source>(*st.source, co);
      st.resolver = std::make_unique<directory::resolver>(*st.cache);
      st.local = std::make_unique<delivery::local_sink>(stores_, &sieve_filters_);
      st.context.resolver = st.resolver.get();
      st.context.local = st.local.get();
      st.context.directory = st.cache.get();
      st.auth = std::make_unique<auth::authenticator>(*st.cache, set.offload());
      st.context.auth = st.auth.get();  // SMTP AUTH on submission
      st.imap.auth = st.auth.get();
      st.imap.stores = &stores_;
      st.imap.charsets = &st.charsets;
      st.imap.headers = &st.imap_headers;
      st.imap.sorts = &st.imap_sorts;
      st.imap.trainer = imap_trainer_.get();
      st.imap.directory = st.cache.get();  // QUOTA limits (RFC 9208)
      st.pop3.auth = st.auth.get();
      st.pop3.stores = &stores_;
      st.pop3.all = &pop3_shards_;
      st.managesieve_scripts = std::make_unique<managesieve::store_access>(st.script_stores, mail_root);
      st.managesieve.auth = st.auth.get();
      st.managesieve.scripts = st.managesieve_scripts.get();
      // One DNS resolver per shard, on its ring: the relay's MX lookups and the DNSBLs.
      auto resolver = dns_resolver::create(*reactor::current(), dns);
      if (!resolver.ok()) {
        started[i].set_value(resolver.status());
        return;
      }
      st.dns = std::move(*resolver);
      st.routes = std::make_unique<relay::route_resolver>(*st.dns, relay_settings->routes);
      st.queue_sink = std::make_unique<queue::queue_sink>(*st.queue, [state = &st](const std::string& id) {
        if (state->relay) state->relay->schedule(id);
      });
      st.notices = std::make_unique<relay::notice_sender>(*st.resolver, *st.local, st.queue_sink.get());
      if (sieve_delivery_settings->has_value()) {
        st.sieve_outbound = std::make_unique<delivery::address_sender>(*st.resolver, *st.local, st.queue_sink.get());
        st.sieve_delivery = std::make_unique<sieve::sieve_delivery>(**sieve_delivery_settings, *st.scripts,
                                                                    *st.sieve_outbound, *st.resolver, st.charsets);
        sieve_filters_[i] = st.sieve_delivery.get();  // read on this shard only (local_sink.h)
      }
      st.relay = std::make_unique<relay::relay_agent>(*st.queue, *st.routes, *st.notices, relay_settings->agent);
      control_shards_[i].runner = st.relay.get();
      st.relay_runner.spawn(st.relay->run());
      st.context.queue = st.queue_sink.get();
      st.auth_dns = std::make_unique<spam::dns_cache>(*st.dns, auth_dns_options);
      st.auth_keys = std::make_unique<spam::dkim::key_cache>();
      st.mail_auth.settings = mail_auth_settings_;
      st.mail_auth.dns = st.auth_dns.get();
      st.mail_auth.key_cache = st.auth_keys.get();
      st.context.mail_auth = &st.mail_auth;
      if (settings_.spam_engine) {
        st.spam.settings = &spam_settings_;
        st.spam.scanner = std::make_unique<spam::scan_context>(settings_.spam_engine);
        if (const size_t cache_bytes = spam_scan_cache_bytes_from_flags(); cache_bytes > 0) {
          st.spam.scan_cache = std::make_unique<spam::scan_cache>(cache_bytes);
          st.spam.scanner->set_cache(st.spam.scan_cache.get());
        }
        st.spam.all = &spam_shards_;
        st.spam.pool = &set.offload();
        if (absl::GetFlag(FLAGS_spam_user_bayes)) {
          spam::user_models_options uo;
          uo.max_bytes = absl::GetFlag(FLAGS_spam_user_bayes_cache_bytes);
          uo.ttl = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_spam_user_bayes_ttl));
          st.user_bayes = std::make_unique<spam::user_models>(
              set.offload(), [data_dir = settings_.data_dir] { return open_bayes_store_from_flags(data_dir, true); },
              uo);
          st.spam.user_bayes = st.user_bayes.get();
        }
        if (!spam_settings_.dnsbl.empty()) st.spam.dns = st.dns.get();
        st.spam.greylist = spam::greylist_table(greylist_options);
        if (greylist_persist) {
          for (auto& r : greylist_loaded[i]) st.spam.greylist.restore(std::move(r.key), r.entry);
          st.greylist_journal = std::make_unique<spam::greylist_journal>(
              set.offload(), spam::greylist_shard_path(greylist_dir, i), greylist_options,
              spam::greylist_journal_options{}, greylist_loaded[i].size());
          st.spam.journal = st.greylist_journal.get();
          st.greylist_writer.spawn(st.greylist_journal->run(st.spam.greylist, st.greylist_stop));
        }
        st.context.spam = &st.spam;
      }

      absl::Status status;
      // One listener of this shard: `port` 0 means off, and an implicit-TLS port without
      // a certificate stays closed.
      auto open = [&](const char* name, uint16_t port, bool needs_tls, const char* refusal,
                      std::shared_ptr<conn_limits> limits, session_handler handler) {
        if (port == 0 || !status.ok() || (needs_tls && !settings_.tls)) return;
        auto addr = address(port);
        if (!addr.ok()) {
          status = addr.status();
          return;
        }
        service_options so;
        so.name = name;
        so.address = *addr;
        so.refusal_message = refusal;
        auto svc = tcp_service::start(so, std::move(handler), std::move(limits));
        if (!svc.ok()) {
          status = svc.status();
          return;
        }
        services[i].push_back(std::move(*svc));
      };
      shard_state* state = &st;
      auto smtp_handler = [state](std::shared_ptr<smtp::server_config> config) -> session_handler {
        return [config, state](session& s) { return smtp::run_session(s, *config, state->context); };
      };
      auto imap_handler = [state](std::shared_ptr<imap::server_config> config) -> session_handler {
        return [config, state](session& s) { return imap::run_session(s, *config, state->imap); };
      };
      auto pop3_handler = [state](std::shared_ptr<pop3::server_config> config) -> session_handler {
        return [config, state](session& s) { return pop3::run_session(s, *config, state->pop3); };
      };
      auto managesieve_handler = [state](std::shared_ptr<managesieve::server_config> config) -> session_handler {
        return [config, state](session& s) { return managesieve::run_session(s, *config, state->managesieve); };
      };
      const char* smtp_refusal = "421 4.7.0 Too many connections, try again later\r\n";
      const char* imap_refusal = "* BYE Too many connections, try again later\r\n";
      const char* pop3_refusal = "-ERR [SYS/TEMP] Too many connections, try again later.\r\n";
      open("smtp", smtp_port, false, smtp_refusal, smtp_limits, smtp_handler(base));
      open("lmtp", lmtp_port, false, smtp_refusal, lmtp_limits, smtp_handler(lmtp));
      // Submission without a certificate could never reach AUTH: both stay closed.
      open("submission", submission_port, true, smtp_refusal, smtp_limits, smtp_handler(submission));
      open("submissions", submissions_port, true, smtp_refusal, smtp_limits, smtp_handler(submissions));
      open("imap", imap_port, false, imap_refusal, imap_limits, imap_handler(imap));
      open("imaps", imaps_port, true, imap_refusal, imap_limits, imap_handler(imaps));
      open("pop3", pop3_port, false, pop3_refusal, pop3_limits, pop3_handler(pop3));
      open("pop3s", pop3s_port, true, pop3_refusal, pop3_limits, pop3_handler(pop3s));
      open("managesieve", managesieve_port, false, "BYE (TRYLATER) \"Too many connections, try again later.\"\r\n",
           managesieve_limits, managesieve_handler(managesieve));
      // A Unix socket cannot be shared with SO_REUSEPORT: shard 0 alone serves it.
      const std::string lmtp_socket = absl::GetFlag(FLAGS_lmtp_socket);
      if (i == 0 && !lmtp_socket.empty() && status.ok()) {
        auto addr = socket_address::unix_path(lmtp_socket);
        if (!addr.ok()) {
          status = addr.status();
        } else {
          service_options so;
          so.name = "lmtp-unix";
          so.address = *addr;
          auto svc = tcp_service::start(so, smtp_handler(lmtp), lmtp_limits);
          if (svc.ok()) {
            ::chmod(lmtp_socket.c_str(), 0666);  // the MTA runs as another user
            services[i].push_back(std::move(*svc));
          } else {
            status = svc.status();
          }
        }
      }
      // The queue control channel (ringmail-admin queue list|show|flush|delete|hold|release,
      // delivery/queue/queue_control.h): <data_dir>/queue/control.sock, mode 0600, shard 0
      // alone for the same reason; it reaches shard i's entry of control_shards_ on shard i.
      if (i == 0 && status.ok()) {
        auto control = queue::start_queue_control(settings_.data_dir, &control_shards_);
        if (control.ok()) {
          services[i].push_back(std::move(*control));
        } else {
          status = control.status();
        }
      }
      started[i].set_value(status);
    });
  }
  for (auto& p : started) {
    absl::Status st = p.get_future().get();
    if (!st.ok()) return st;
  }
  listeners_ = services.empty() ? 0 : services[0].size();
  description_ = absl::StrCat("smtp=", smtp_port, " submission=", submission_port, " submissions=", submissions_port,
                              " lmtp=", lmtp_port, " imap=", imap_port, " imaps=", imaps_port,
                              " pop3=", pop3_port, " pop3s=", pop3s_port, " managesieve=", managesieve_port, " mail_root=", mail_root,
                              " queue=", queue_root,
                              " spam=", settings_.spam_engine ? "on" : "off");
  if (!absl::GetFlag(FLAGS_lmtp_socket).empty()) absl::StrAppend(&description_, " lmtp_socket=", absl::GetFlag(FLAGS_lmtp_socket));
  return absl::OkStatus();
}

task<void> mail_services::close_stores() {
  for (unsigned i = 0; i < shards_.size(); ++i) {
    shard_state* st = shards_[i].get();
    if (st->store == nullptr) continue;
    auto close = [st]() -> task<void> {
      // The relay first: its deliveries in flight end their transaction and record it.
      if (st->relay) st->relay->stop();
      co_await st->relay_runner.join();
      st->sweep_stop.request_cancel();
      co_await st->sweeper.join();
      // The sessions are drained: the greylist's last changes are written now.
      st->greylist_stop.request_cancel();
      co_await st->greylist_writer.join();
      co_await st->store->close_all();
    };
    co_await on_shard(i, close);
  }
}

task<void> mail_services::reload_mail_auth(offload_pool& pool) {
  auto build = [hostname = settings_.hostname, data_dir = settings_.data_dir] {
    return mail_auth_settings_from_flags(hostname, data_dir);
  };
  auto built = co_await offload(pool, std::move(build));
  if (!built.ok()) {
    log::error("mail_auth_reload_failed", {{"reason", built.status().message()}});  // the old keys stay
    co_return;
  }
  std::shared_ptr<const smtp::mail_auth_settings> fresh = std::move(*built);
  // Each shard swaps its own pointer: its sessions read it without locks. The old
  // settings die with their last holder (a shard not yet switched, or a check in flight).
  for (unsigned i = 0; i < shards_.size(); ++i) {
    shard_state* st = shards_[i].get();
    auto swap = [st, fresh] { st->mail_auth.settings = fresh; };
    co_await on_shard(i, swap);
  }
  mail_auth_settings_ = fresh;
  log::info("mail_auth_reloaded", {{"dkim_domains", fresh->keys.size()}});
}

task<void> mail_services::replace_spam_engine(std::shared_ptr<const spam::spam_engine> engine) {
  if (!settings_.spam_engine) co_return;  // scanning is off: nothing to swap
  for (unsigned i = 0; i < shards_.size(); ++i) {
    shard_state* st = shards_[i].get();
    // A scan never suspends, so no scan is half-way through its context when this runs.
    auto swap = [st, engine] {
      st->spam.scanner = std::make_unique<spam::scan_context>(engine);
      st->spam.scanner->set_cache(st->spam.scan_cache.get());
    };
    co_await on_shard(i, swap);
  }
}

}  // namespace ringmail::tools

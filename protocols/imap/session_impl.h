// The IMAP session's class, shared by the files that implement its commands:
//   session.cc          the loop, greeting, CAPABILITY, STARTTLS, logins, ENABLE, ID, IDLE
//   folder_commands.cc  SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB,
//                       NAMESPACE, STATUS, CLOSE/UNSELECT, and following the folder
//   message_commands.cc APPEND, FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE
//   condstore_commands.cc CONDSTORE/QRESYNC (RFC 7162): ENABLE, enabling commands, SELECT's
//                       QRESYNC answer, UID FETCH's VANISHED (arithmetic in condstore.h)
// Internal to protocols/imap.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protocols/imap/command.h"
#include "protocols/imap/command_reader.h"
#include "protocols/imap/fts_search.h"
#include "mail/message.h"
#include "protocols/imap/mailbox_view.h"
#include "protocols/imap/session.h"
#include "runtime/stream.h"
#include "runtime/task_scope.h"

namespace ringmail::imap {

// A message's facts copied from the owner shard for one command.
struct message_facts {
  uint32_t seq = 0;
  uint32_t uid = 0;
  uint8_t flags = 0;
  uint32_t keywords = 0;
  uint64_t modseq = 0;
  uint64_t vsize = 0;
  int64_t internal_date = 0;
  std::string path;  // the file, readable from any shard
  std::string cache;  // the index's cache blob (fetch_cache.h), may be empty
  bool found = false;  // false: expunged in the store since the view last looked
};

// A message file read and parsed for one FETCH or SEARCH.
struct loaded_message {
  std::string bytes;  // CRLF line ends (to_crlf)
  // The MIME tree, parsed on first use: BODY[] and RFC822 need only the bytes.
  const mail::message& parsed(mail::charset_converter& charsets) {
    // RFC 2046's boundary rule, as Dovecot and clients (mail/message.h).
    if (!tree_) {
      tree_ = mail::parse_message(bytes, charsets, {.boundaries = mail::boundary_rule::rfc2046});
    }
    return *tree_;
  }

 private:
  std::optional<mail::message> tree_;
};

class imap_session {
 public:
  imap_session(session& s, const server_config& config, shard_context& shard);
  task<void> run();

 private:
  enum class state { not_authenticated, authenticated, selected, logout };

  struct selection {
    std::string name;  // UTF-8 store name
    bool read_only = false;
    std::shared_ptr<mailstore::folder_watch> watch;
    mailbox_view view;
    uint32_t uid_validity = 0;
    uint32_t uid_next = 0;
  };

  // ---- output ----
  void untagged(std::string_view text) { append_parts(out_, "* ", text, "\r\n"); }
  void tagged(const command& c, std::string_view status, std::string_view text) {
    append_parts(out_, c.tag, " ", status, " ", text, "\r\n");
  }
  void ok(const command& c, std::string_view text) { tagged(c, "OK", text); }
  void no(const command& c, std::string_view text) { tagged(c, "NO", text); }
  void bad(const command& c, std::string_view text) {
    tagged(c, "BAD", text);
    ++errors_;
  }
  static void append_parts(std::string& out, std::string_view a, std::string_view b, std::string_view c,
                          std::string_view d = {}, std::string_view e = {}, std::string_view f = {}) {
    out.append(a).append(b).append(c).append(d).append(e).append(f);
  }
  task<bool> flush();

  // ---- session.cc ----
  std::string capabilities() const;
  void set_reader_limits();
  task<bool> dispatch(command& c);
  bool check_state(const command& c);
  task<bool> on_starttls(const command& c);
  task<void> on_login(command& c);
  task<void> on_authenticate(command& c);
  task<void> finish_login(const command& c, auth::login_result r);
  task<void> provision_folders();
  void on_enable(const command& c);
  void on_id(const command& c);
  task<bool> on_idle(const command& c);
  // Reads one plain line (AUTHENTICATE responses, DONE); nullopt when the client left.
  task<std::optional<std::string>> read_line();

  // ---- folder_commands.cc ----
  task<void> on_select(const command& c, bool read_only);
  task<void> on_create(const command& c);
  task<void> on_delete(const command& c);
  task<void> on_rename(const command& c);
  task<void> on_subscribe(const command& c, bool subscribe);
  task<void> on_list(const command& c, bool lsub);
  task<void> on_status(const command& c);
  // The "STATUS name (items)" response of a folder (store name, known items).
  task<absl::StatusOr<std::string>> status_line(std::string name, std::vector<std::string> atoms);
  task<void> on_close(const command& c, bool expunge);
  void deselect();
  // Asks the owner for the selected folder's news and applies it to the view. `force`:
  // even if no wake-up arrived (after our own MOVE/EXPUNGE, whose events we must report).
  task<void> sync_selected(bool force);
  // Appends the untagged updates the view has (see mailbox_view::report).
  void report_updates(bool allow_expunge, bool uid);
  std::string flags_response() const;
  // Wire name (modified UTF-7) -> store name (UTF-8); nullopt and a NO/BAD when invalid.
  std::optional<std::string> store_name(const command& c, const std::string& wire);
  std::string wire_name(const std::string& utf8) const;

  // ---- condstore_commands.cc (CONDSTORE/QRESYNC, RFC 7162) ----
  // Before each command: BAD for QRESYNC syntax before ENABLE QRESYNC (false: answered);
  // a "CONDSTORE enabling command" (3.1) turns CONDSTORE on, announcing HIGHESTMODSEQ if a
  // folder is selected; keeps the view's MODSEQ/VANISHED mode in step.
  task<bool> condstore_before(const command& c);
  // ENABLE CONDSTORE / QRESYNC (QRESYNC implies CONDSTORE): appends " NAME" to *enabled.
  void enable_condstore(const std::string& cap, std::string* enabled);
  // SELECT's QRESYNC answer (computed on the owner, see condstore.h): VANISHED (EARLIER)
  // and FETCH (UID FLAGS MODSEQ) of the changed messages, numbered by the new view.
  void report_qresync(const struct qresync_result& r);
  // UID FETCH ... (CHANGEDSINCE n VANISHED): the VANISHED (EARLIER) response.
  task<void> report_fetch_vanished(const command& c);
  // "[HIGHESTMODSEQ n] " for the tagged OK of EXPUNGE under QRESYNC (as Dovecot), else "".
  task<std::string> highestmodseq_code();
  bool condstore_ = false;  // RFC 7162 3.1: on once enabled, for the session's life
  bool qresync_ = false;    // ENABLE QRESYNC

  // ---- compress_command.cc (COMPRESS=DEFLATE, RFC 4978) ----
  // false: the connection is to be closed.
  task<bool> on_compress(const command& c);

  // ---- quota_commands.cc (QUOTA, RFC 9208) ----
  task<void> on_quota(const command& c);  // GETQUOTA, GETQUOTAROOT, SETQUOTA
  // APPEND (all of c.append) or COPY (`uids` of the selected folder): answers
  // NO [OVERQUOTA] and returns true when the user's usage would pass a limit.
  task<bool> refuse_over_quota(const command& c, std::vector<uint32_t> uids = {});

  // ---- sort_commands.cc (SORT, THREAD: RFC 5256, 5957, 5267) ----
  task<void> on_sort(const command& c);
  task<void> on_thread(const command& c);
  // The messages matching c.search with the values `needs` (sort.h sort_need) filled in,
  // ascending sequence numbers; nullopt after a NO. `skip_strings`: a message whose
  // values are in the shard's sort cache gets no string values (SORT then compares the
  // cache's ranks).
  task<std::optional<std::vector<struct sort_facts>>> sort_candidates(const command& c, uint32_t needs,
                                                                      bool skip_strings = false);

  // ---- metadata_commands.cc (METADATA, RFC 5464) ----
  task<void> on_getmetadata(const command& c);
  task<void> on_setmetadata(const command& c);

  // ---- notify_commands.cc (NOTIFY, RFC 5465) ----
  task<void> on_notify(const command& c);
  // True when a folder NOTIFY follows (other than the selected one) has news.
  bool notify_pending() const;
  // STATUS responses for the followed folders with news (section 5.2-5.4); clears them.
  task<void> report_notify();
  // IDLE: children that wake `wake` when a followed folder has news, until *over.
  void relay_notify(task_scope& scope, notifier& wake, const bool& over);
  void release_notify_relays();
  void drop_notify();  // NOTIFY NONE, logout
  void report_user_event(const mailstore::user_event& e);  // LIST / METADATA (RFC 5465 5.4-5.7)
  bool notify_active() const { return !notify_watches_.empty() || user_watch_ != nullptr; }
  // Between commands with NOTIFY on: reads more input, sending followed folders' news
  // as it comes (RFC 5465 section 5: no command in progress); returns the read's status.
  task<io_status> read_more_notifying();
  struct notify_watch {
    std::string name;  // UTF-8 store name
    std::shared_ptr<mailstore::folder_watch> watch;
  };
  std::vector<notify_watch> notify_watches_;
  bool notify_status_ = false;  // NOTIFY SET STATUS
  // Folder-level events (MailboxName etc.): the store's user_watch and the groups that
  // asked (mailbox names in store form), to tell which events to send.
  std::shared_ptr<mailstore::user_watch> user_watch_;
  std::vector<notify_group> notify_groups_;

  // ---- message_commands.cc ----
  task<void> on_append(command& c);
  task<void> on_fetch(const command& c);
  task<void> on_store(const command& c);
  task<void> on_search(const command& c);
  // Full-text index (fts_search.cc): the UIDs (ascending) that may match `key`, after
  // indexing the messages of `uids` (the view's, ascending) the index lacks; nullopt =
  // every message.
  task<std::optional<std::vector<uint32_t>>> fts_filter(const search_key& key, const std::vector<uint32_t>& uids);
  // A message this session just stored (APPEND), added to the folder's in-memory index.
  task<void> fts_index_new(fts_new_message n);
  // The trigrams the index keeps for a message (the texts search_matches looks in).
  std::vector<uint32_t> fts_grams_of(uint32_t uid, loaded_message& msg);
  task<void> on_copy(const command& c, bool move);
  task<void> on_expunge(const command& c);
  // Sequence numbers named by c.set (UIDs when c.uid), ascending; nullopt after a BAD.
  std::optional<std::vector<uint32_t>> resolve_set(const command& c, const sequence_set& set, bool uid);
  // Facts for the view's messages at `seqs`, from the owner.
  // `set_seen`: first add \Seen to those lacking it (a FETCH of BODY[] etc., RFC 9051 6.4.5).
  // `needs` (fetch_needs.h): which of path/cache to copy (others are left empty).
  // `changed_since` (CHANGEDSINCE): only messages present with a larger modseq are
  // returned, filtered on the owner before anything is copied.
  task<absl::StatusOr<std::vector<message_facts>>> facts_for(const std::vector<uint32_t>& seqs,
                                                               std::vector<std::string>* keywords, bool set_seen,
                                                               uint32_t needs = ~0u,
                                                               std::optional<uint64_t> changed_since = std::nullopt);

  // The current file of `uid` in the selected folder ("" if gone): a flag change by
  // another session renames the file between our facts and our read.
  task<std::string> current_path(uint32_t uid);
  // Reads and parses a message's file, following it through renames (current_path);
  // nullopt if it is gone (expunged).
  task<std::optional<loaded_message>> load(const message_facts& m);

  // ---- object_fetch.cc (OBJECTID, RFC 8474) ----
  // (EMAILID, THREADID) of `m` for SEARCH: from its cache blob (m.cache), else computed
  // from its file, the new blob added to *blobs; empty if the file is gone.
  task<std::pair<std::string, std::string>> object_ids_of(const message_facts& m,
                                                          std::vector<std::pair<uint32_t, std::string>>* blobs);

  // ---- append_commands.cc (MULTIAPPEND, CATENATE, APPENDLIMIT, UTF8=ACCEPT) ----
  // Before any message of an APPEND is stored: refuses UTF8 data without UTF8=ACCEPT (BAD),
  // resolves CATENATE parts into each message's bytes ([BADURL]), checks every message
  // against APPENDLIMIT ([TOOBIG]). False after it answered.
  task<bool> prepare_append(command& c);
  // The message file a command's CATENATE URLs read last (clients name several sections
  // of one message in a row) and how many files it read: one APPEND may read at most
  // kMaxCatenateFiles, so 10,000 URL parts cannot make it read 10,000 big files.
  struct catenate_source {
    std::string box;
    uint32_t uid = 0;
    uint32_t uid_validity = 0;
    std::string bytes;  // CRLF
    size_t reads = 0;
  };
  // The bytes a CATENATE URL names (RFC 4469 section 3, imap_url.h); nullopt after NO [BADURL].
  task<std::optional<std::string>> resolve_catenate_url(const command& c, const std::string& url,
                                                        catenate_source& source);
  // A mailbox name (store name) in a response: wire_name() as an IMAP string; after
  // UTF8=ACCEPT a quoted UTF-8 string (RFC 6855 section 3 uQUOTED-CHAR), not a literal.
  void append_mailbox_name(std::string& out, const std::string& name) const;
  // Stores the messages of a MULTIAPPEND (two or more, prepared), all or nothing: the
  // tagged OK's text ("[APPENDUID v set] ..."), or the store's error for the NO.
  task<absl::StatusOr<std::string>> append_several(command& c, const std::string& name);

  // Runs fn(mailbox&) on the user's owner shard.
  template <typename F>
  auto on_mailbox(F fn) {
    return mailstore::with_mailbox(*shard_.stores, user_, std::move(fn),
                                   [](absl::Status st) { return st; });
  }

  session& s_;
  const server_config& config_;
  shard_context& shard_;
  stream io_;
  command_reader reader_;
  std::string out_;
  std::string peer_;
  std::string sid_;
  state state_ = state::not_authenticated;
  std::string user_;  // normalised login once authenticated
  bool rev2_ = false;  // ENABLE IMAP4rev2
  bool utf8_accept_ = false;  // ENABLE UTF8=ACCEPT (RFC 6855): UTF-8 mailbox names, UTF8 APPEND
  size_t errors_ = 0;
  std::optional<selection> selected_;
  std::vector<uint32_t> saved_uids_;  // SEARCHRES "$"
  std::chrono::steady_clock::time_point last_command_ = std::chrono::steady_clock::now();
};

// Maps a flag name ("\\Seen", "$Junk") to a mailstore flag bit (0 for keywords).
uint8_t system_flag_bit(std::string_view name);
// Splits STORE/APPEND flag names into system bits and keywords; false if one is invalid
// (\Recent or an unknown \ flag are refused as RFC 9051 2.3.2 asks).
bool split_flags(const std::vector<std::string>& names, uint8_t* bits, std::vector<std::string>* keywords);

}  // namespace ringmail::imap

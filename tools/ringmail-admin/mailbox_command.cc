#include "tools/ringmail-admin/mailbox_command.h"

#include <charconv>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "delivery/mailstore/dovecot_keywords.h"
#include "delivery/mailstore/index_file.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/mailstore/maildir_filename.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/rfc2047.h"
#include "runtime/log.h"
#include "runtime/shard_set.h"

namespace ringmail::tools {
namespace {

using mailstore::flag_op;

constexpr std::pair<uint8_t, const char*> kSystemFlags[] = {
    {mailstore::flag_seen, "\\Seen"},       {mailstore::flag_answered, "\\Answered"},
    {mailstore::flag_flagged, "\\Flagged"}, {mailstore::flag_deleted, "\\Deleted"},
    {mailstore::flag_draft, "\\Draft"},
};

int fail(const std::string& why) {
  std::fprintf(stderr, "ringmail-admin: %s\n", why.c_str());
  return 1;
}
int fail(const absl::Status& st) { return fail(std::string(st.message())); }

// "1,4:6,9" -> {1,4,5,6,9}; "*" as a range end means "up to the highest UID".
bool parse_uids(std::string_view text, std::vector<uint32_t>& out) {
  auto number = [](std::string_view s, uint32_t& v) {
    if (s == "*") {
      v = UINT32_MAX;
      return true;
    }
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() && v > 0;
  };
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t colon = item.find(':');
    uint32_t a = 0, b = 0;
    if (!number(item.substr(0, colon), a)) return false;
    b = a;
    if (colon != std::string_view::npos && !number(item.substr(colon + 1), b)) return false;
    if (a > b) std::swap(a, b);
    // A bounded range: the admin names messages, not four billion UIDs.
    if (b - a > 10'000'000 && b != UINT32_MAX) return false;
    for (uint64_t u = a; u <= b && u < UINT32_MAX; ++u) out.push_back(static_cast<uint32_t>(u));
  }
  return !out.empty();
}

// "+\Seen,$Work" -> add, flag_seen, {"$Work"}.
bool parse_flag_change(std::string_view text, flag_op& op, uint8_t& flags, std::vector<std::string>& keywords) {
  if (text.empty()) return false;
  switch (text[0]) {
    case '+': op = flag_op::add; break;
    case '-': op = flag_op::remove; break;
    case '=': op = flag_op::replace; break;
    default: return false;
  }
  text.remove_prefix(1);
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view name = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (name.empty()) continue;
    bool system = false;
    for (const auto& [bit, label] : kSystemFlags) {
      if (mail::equals_ignore_case(name, label)) {
        flags |= bit;
        system = true;
      }
    }
    if (system) continue;
    if (name[0] == '\\' || !mailstore::is_valid_keyword(name)) return false;
    keywords.emplace_back(name);
  }
  return true;
}

std::string flag_list(const mailstore::folder_state& s, const mailstore::message_entry& m) {
  std::string out;
  for (const auto& [bit, label] : kSystemFlags) {
    if (m.flags & bit) absl::StrAppend(&out, out.empty() ? "" : " ", label);
  }
  for (size_t i = 0; i < s.keywords.size(); ++i) {
    if (m.keywords & (1u << i)) absl::StrAppend(&out, out.empty() ? "" : " ", s.keywords[i]);
  }
  return out;
}

std::string subject_of(const std::string& bytes, mail::charset_converter& charsets) {
  mail::header_block h = mail::parse_header_block(bytes);
  const mail::header_field* f = h.find("Subject");
  if (f == nullptr) return "";
  std::string s = mail::decode_header_words(mail::unfold(f->value), charsets);
  for (char& c : s) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  }
  return s;
}

task<int> print_status(mailstore::mailbox& box, std::string folder) {
  auto summary = co_await box.status(folder);
  if (!summary.ok()) co_return fail(summary.status());
  const mailstore::folder_summary& s = *summary;
  std::printf("messages=%u unseen=%u uidnext=%u uidvalidity=%u highestmodseq=%llu vsize=%llu\n", s.messages, s.unseen,
              s.uid_next, s.uid_validity, static_cast<unsigned long long>(s.highest_modseq),
              static_cast<unsigned long long>(s.vsize));
  co_return 0;
}

task<int> print_messages(mailstore::mailbox& box, std::string folder) {
  auto f = co_await box.folder(folder);
  if (!f.ok()) co_return fail(f.status());
  std::shared_ptr<mailstore::open_folder> fo = *f;
  mail::charset_converter charsets;
  for (const auto& m : fo->state().messages) {
    // The header is enough for the subject: read at most the first 64 KiB.
    std::string head;
    auto opened = co_await file::open(fo->path_of(m), O_RDONLY);
    if (opened.ok()) {
      head.resize(64 * 1024);
      auto n = co_await opened->read_at(std::span<char>(head.data(), head.size()), 0);
      head.resize(n.ok() ? *n : 0);
      co_await opened->close();
    }
    std::printf("uid=%u flags=(%s) size=%llu subject=%s\n", m.uid, flag_list(fo->state(), m).c_str(),
                static_cast<unsigned long long>(m.vsize), subject_of(head, charsets).c_str());
  }
  co_return 0;
}

// fetch / flags / expunge: args = {COMMAND, FOLDER, ...} (the user has been taken off).
task<int> run(mailstore::mailbox& box, std::string command, std::vector<std::string> args) {
  if (command == "fetch" && args.size() == 2) co_return co_await print_messages(box, args[1]);
  if (command == "flags") {
    std::vector<uint32_t> uids;
    flag_op op = flag_op::add;
    uint8_t flags = 0;
    std::vector<std::string> keywords;
    if (args.size() != 4 || !parse_uids(args[2], uids) || !parse_flag_change(args[3], op, flags, keywords)) co_return 2;
    auto changed = co_await box.store(args[1], std::move(uids), op, flags, std::move(keywords));
    if (!changed.ok()) co_return fail(changed.status());
    std::printf("changed=%zu\n", changed->size());
    co_return 0;
  }
  if (command == "expunge") {
    std::vector<uint32_t> uids;
    if (args.size() < 2 || args.size() > 3 || (args.size() == 3 && !parse_uids(args[2], uids))) co_return 2;
    auto removed = co_await box.expunge(args[1], std::move(uids));
    if (!removed.ok()) co_return fail(removed.status());
    std::printf("expunged=%zu\n", removed->size());
    co_return 0;
  }
  co_return 2;
}

task<int> run_mailbox(mailstore::mailbox& box, std::vector<std::string> a) {
  // a = {SUB, FOLDER...} (the user has been taken off)
  const std::string sub = a[0];
  if (sub == "list" && a.size() == 1) {
    auto names = co_await box.list_folders();
    if (!names.ok()) co_return fail(names.status());
    for (const auto& n : *names) std::printf("%s\n", n.c_str());
    co_return 0;
  }
  if (sub == "subscriptions" && a.size() == 1) {
    auto names = co_await box.subscriptions();
    if (!names.ok()) co_return fail(names.status());
    for (const auto& n : *names) std::printf("%s\n", n.c_str());
    co_return 0;
  }
  if (sub == "status" && a.size() == 2) co_return co_await print_status(box, a[1]);
  if ((sub == "create" || sub == "delete") && a.size() == 2) {
    absl::Status st = sub == "create" ? co_await box.create_folder(a[1]) : co_await box.delete_folder(a[1]);
    co_return st.ok() ? 0 : fail(st);
  }
  if ((sub == "subscribe" || sub == "unsubscribe") && a.size() == 2) {
    absl::Status st = co_await box.subscribe(a[1], sub == "subscribe");
    co_return st.ok() ? 0 : fail(st);
  }
  if (sub == "rename" && a.size() == 3) {
    absl::Status st = co_await box.rename_folder(a[1], a[2]);
    co_return st.ok() ? 0 : fail(st);
  }
  if (sub == "rebuild" && (a.size() == 1 || a.size() == 2)) {
    std::vector<std::string> folders;
    if (a.size() == 2) {
      folders.push_back(a[1]);
    } else {
      auto names = co_await box.list_folders();
      if (!names.ok()) co_return fail(names.status());
      folders = std::move(*names);
    }
    for (const auto& name : folders) {
      absl::Status st = co_await box.rebuild(name);
      if (!st.ok()) co_return fail(st);
      co_await print_status(box, name);
    }
    co_return 0;
  }
  co_return 2;
}

}  // namespace

int mailbox_command(directory::store& directory, const std::string& mail_root, const std::string& command,
                    const std::vector<std::string>& args) {
  if (args.size() < 2) return 2;  // SUB USER … | USER FOLDER …
  const std::string& user = command == "mailbox" ? args[1] : args[0];
  // Only users of the directory have mailboxes: a typo must not create a Maildir.
  auto known = directory.find_user(user);
  if (!known.ok()) return fail(known.status());
  if (!known->has_value()) return fail("no such user: " + user);
  const std::string address = (*known)->email;

  // The runtime's info lines (shard started, index built) are for servers; a command
  // prints its answer and warnings only.
  log::set_level(log::level::warn);
  shard_options options;
  options.shards = 1;
  options.pin = false;
  options.offload_threads = 1;
  auto shards = shard_set::start(options);
  if (!shards.ok()) return fail(shards.status());
  std::vector<std::string> rest;
  if (command == "mailbox") {
    rest.push_back(args[0]);
    rest.insert(rest.end(), args.begin() + 2, args.end());
  } else {
    rest.push_back(command);
    rest.insert(rest.end(), args.begin() + 1, args.end());
  }
  int rc = block_on_shard(**shards, 0, [&]() -> task<int> {
    mailstore::writer_options wo;
    mailstore::maildir_writer writer(wo);
    mailstore::mail_store store(mail_root, mailstore::store_options{}, writer, (*shards)->offload());
    auto box = store.mailbox_for(address);
    if (!box.ok()) co_return fail(box.status());
    int result = 2;
    if (command == "mailbox") {
      result = co_await run_mailbox(**box, rest);
    } else {
      result = co_await run(**box, command, rest);
    }
    // Leave the index as a checkpoint and Dovecot's files current, as a server stop does.
    absl::Status closed = co_await store.close_all();
    if (!closed.ok() && result == 0) result = fail(closed);
    co_return result;
  });
  (*shards)->stop();
  return rc;
}

}  // namespace ringmail::tools

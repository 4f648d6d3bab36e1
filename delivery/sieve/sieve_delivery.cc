#include "delivery/sieve/sieve_delivery.h"

#include <fcntl.h>

#include <ctime>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "delivery/sieve/checker.h"
#include "delivery/sieve/delivery_plan.h"
#include "delivery/sieve/message_view.h"
#include "delivery/sieve/program.h"
#include "delivery/sieve/reject_notice.h"
#include "delivery/sieve/vacation.h"
#include "mail/header.h"
#include "runtime/file.h"
#include "runtime/log.h"

namespace ringmail::sieve {
namespace {

using delivery::delivery_result;

constexpr std::string_view kInbox = "INBOX";
constexpr size_t kMaxMemoryFileBytes = kFileHeaderBytes + 4096 * kMaxLineBytes + 64;

delivery_result temporary(std::string reason) {
  delivery_result r;
  r.st = delivery_result::temporary;
  r.enhanced = "4.2.0";
  r.reason = std::move(reason);
  return r;
}

delivery_result refused(std::string reason) {
  delivery_result r;
  r.st = delivery_result::permanent;
  r.enhanced = "5.7.1";
  r.reason = std::move(reason);
  return r;
}

delivery_result discarded() {
  delivery_result r;
  r.st = delivery_result::ok;
  r.enhanced = "2.0.0";
  return r;
}

// Kept out of coroutine bodies: g++ 12 miscompiles some braced lists inside coroutines.
std::vector<std::string_view> three(std::string_view a, std::string_view b, std::string_view c) {
  return std::vector<std::string_view>{a, b, c};
}

// The message for a redirect: what would be stored, without our Return-Path (the next
// hop writes its own from the envelope), so with our Delivered-To, which is how a copy
// that comes back is recognised (delivery_plan.h).
std::string without_return_path(std::string bytes) {
  if (bytes.size() >= 12 && mail::equals_ignore_case(std::string_view(bytes).substr(0, 12), "Return-Path:")) {
    const size_t end = bytes.find('\n');
    bytes.erase(0, end == std::string::npos ? bytes.size() : end + 1);
  }
  return bytes;
}

// The envelope "to" of RFC 5228 5.4 with the +detail the mail was addressed with, so
// subaddress (RFC 5233) :detail sees it.
std::string envelope_to(const delivery::sink_recipient& r) {
  if (r.detail.empty()) return r.address;
  const size_t at = r.address.rfind('@');
  if (at == std::string::npos) return r.address;
  return absl::StrCat(r.address.substr(0, at), "+", r.detail, r.address.substr(at));
}

// Answers the scripts' questions from data loaded before the run (interpreter.h).
class delivery_host final : public script_host {
 public:
  delivery_host(const std::vector<std::string>& folders, const sieve_memory* memory, int64_t now,
                const loaded_scripts& user)
      : folders_(folders), memory_(memory), now_(now), user_(user) {}
  bool mailbox_exists(std::string_view name) const override {
    if (mail::equals_ignore_case(name, kInbox)) return true;
    for (const std::string& f : folders_) {
      if (f == name) return true;
    }
    return false;
  }
  bool duplicate_seen(std::string_view id) const override {
    return memory_ != nullptr && memory_->duplicate_seen(id, now_);
  }
  const program* included(std::string_view name, bool global) const override {
    for (const auto& [ref, p] : user_.included) {
      if (ref.name == name && ref.global == global) return p.get();
    }
    return nullptr;
  }

 private:
  const std::vector<std::string>& folders_;
  const sieve_memory* memory_;
  int64_t now_;
  const loaded_scripts& user_;
};

// What the scripts that run required: only for "mailbox" does the delivery list the
// user's folders (mailboxexists, RFC 5490) or read their memory (vacation, duplicate):
// both cost I/O that most scripts never ask for. The built-in sieve_after needs neither.
// (program.h is the interpreter's compiled form; its checked script says what it required.)
struct script_needs {
  bool folders = false;
  bool memory = false;
};
script_needs needs_of(const std::vector<const program*>& programs) {
  script_needs n;
  for (const program* p : programs) {
    if (p == nullptr) continue;
    const extension_set& e = p->script.extensions;
    n.folders = n.folders || has(e, extension::mailbox);
    n.memory = n.memory || has(e, extension::vacation) || has(e, extension::vacation_seconds) ||
               has(e, extension::duplicate);
  }
  return n;
}

}  // namespace

std::string home_of_maildir(std::string_view maildir) {
  while (!maildir.empty() && maildir.back() == '/') maildir.remove_suffix(1);
  const size_t slash = maildir.rfind('/');
  return std::string(slash == std::string_view::npos ? std::string_view(".") : maildir.substr(0, slash));
}

struct sieve_delivery::scripts_to_run {
  std::shared_ptr<const program> before;
  loaded_scripts user;
  std::shared_ptr<const program> after;
  bool after_is_builtin = false;
  std::vector<std::string> errors;  // "script: error", for the log
};

sieve_delivery::sieve_delivery(sieve_delivery_options options, script_store& scripts, delivery::address_sender& outbound,
                               directory::resolver& resolver, mail::charset_converter& charsets)
    : options_(std::move(options)), scripts_(scripts), outbound_(outbound), resolver_(resolver), charsets_(charsets) {
  if (options_.after_path == kBuiltinAfterName) {
    auto checked = compile_script(kBuiltinAfterScript);
    if (checked.ok()) {
      auto compiled = compile(std::move(*checked));
      if (compiled.ok()) builtin_after_ = std::move(*compiled);
    }
    if (builtin_after_ == nullptr) log::error("sieve_builtin_failed", {{"script", "sieve_after"}});
  }
}

sieve_delivery::~sieve_delivery() = default;

task<sieve_delivery::scripts_to_run> sieve_delivery::gather(const std::string& home, const std::string& address) {
  scripts_to_run s;
  if (!options_.before_path.empty()) {
    auto before = co_await scripts_.load_file(options_.before_path);
    if (before.ok()) {
      s.before = std::move(*before);
    } else {
      s.errors.push_back(absl::StrCat("sieve_before ", options_.before_path, ": ", before.status().message()));
    }
  }
  s.user = co_await scripts_.load_active(home);
  if (s.user.error) s.errors.push_back(absl::StrCat("active script of ", address, ": ", *s.user.error));
  if (options_.after_path == kBuiltinAfterName) {
    s.after = builtin_after_;
    s.after_is_builtin = true;
  } else if (!options_.after_path.empty() && options_.after_path != kNoScriptName) {
    auto after = co_await scripts_.load_file(options_.after_path);
    if (after.ok()) {
      s.after = std::move(*after);
    } else {
      s.errors.push_back(absl::StrCat("sieve_after ", options_.after_path, ": ", after.status().message()));
    }
  }
  co_return s;
}

task<std::shared_ptr<sieve_memory>> sieve_delivery::memory_of(const std::string& home, int64_t now) {
  if (auto it = memories_.find(home); it != memories_.end()) co_return it->second;
  std::string bytes;
  const std::string path = absl::StrCat(home, "/", std::string(kMemoryFileName));
  auto opened = co_await file::open(path, O_RDONLY | O_CLOEXEC);
  if (opened.ok()) {
    file f = std::move(opened).value();
    bytes.resize(kMaxMemoryFileBytes);
    size_t got = 0;
    while (got < bytes.size()) {
      auto n = co_await f.read_at(std::span<char>(bytes.data() + got, bytes.size() - got), got);
      if (!n.ok() || *n == 0) break;
      got += *n;
    }
    bytes.resize(got);
    co_await f.close();
  }
  bool damaged = false;
  auto memory = std::make_shared<sieve_memory>(sieve_memory::parse(bytes, now, options_.memory, &damaged));
  if (damaged) log::warn("sieve_memory_damaged", {{"file", path}, {"action", "started empty"}});
  // A new entry may have been made while the file was read (another delivery to the
  // same user): the first one stays, so both deliveries share one memory.
  if (auto it = memories_.find(home); it != memories_.end()) co_return it->second;
  if (memories_.size() >= kMemoryCacheUsers) memories_.clear();
  memories_.emplace(home, memory);
  co_return memory;
}

task<void> sieve_delivery::save_memory(const std::string& home, const sieve_memory& memory) {
  const std::string bytes = memory.serialize();
  const std::string path = absl::StrCat(home, "/", std::string(kMemoryFileName));
  const std::string tmp = absl::StrCat(path, ".tmp", ++tmp_counter_);
  auto opened = co_await file::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (!opened.ok()) {
    log::warn("sieve_memory_write_failed", {{"file", path}, {"reason", opened.status().to_string()}});
    co_return;
  }
  file f = std::move(opened).value();
  io_status wrote = co_await f.write_at(std::span<const char>(bytes.data(), bytes.size()), 0);
  co_await f.close();
  if (wrote.ok()) wrote = co_await rename_path(tmp, path);
  if (!wrote.ok()) {
    log::warn("sieve_memory_write_failed", {{"file", path}, {"reason", wrote.to_string()}});
    co_await unlink_path(tmp);
  }
}

task<delivery_result> sieve_delivery::deliver(mailstore::mailbox& box, const delivery::sink_message& message,
                                              const delivery::sink_recipient& recipient, const std::string& headers) {
  const std::string home = home_of_maildir(box.maildir());
  scripts_to_run scripts = co_await gather(home, recipient.address);
  for (const std::string& e : scripts.errors) {
    log::warn("sieve_script_error", {{"user", recipient.address}, {"error", e}, {"action", "skipped"}});
  }
  if (scripts.before == nullptr && scripts.user.active == nullptr && (scripts.after == nullptr || scripts.after_is_builtin)) {
    // No script to interpret: INBOX, or Junk by the built-in sieve_after's own test.
    const bool junk = scripts.after != nullptr && spam_flagged(message.trace, message.message);
    co_return co_await box.deliver(std::string(junk ? "Junk" : kInbox), three(headers, message.trace, message.message));
  }
  co_return co_await run(box, message, recipient, headers, home, scripts);
}

task<delivery_result> sieve_delivery::run(mailstore::mailbox& box, const delivery::sink_message& message,
                                          const delivery::sink_recipient& recipient, const std::string& headers,
                                          const std::string& home, scripts_to_run& scripts) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const std::string bytes = absl::StrCat(headers, std::string(message.trace), std::string(message.message));
  message_view view(bytes, charsets_);
  std::vector<const program*> asked;
  asked.push_back(scripts.before.get());
  asked.push_back(scripts.user.active.get());
  if (!scripts.after_is_builtin) asked.push_back(scripts.after.get());
  for (const auto& included : scripts.user.included) asked.push_back(included.second.get());
  const script_needs needs = needs_of(asked);
  std::vector<std::string> folders;
  if (needs.folders) {
    if (auto listed = co_await box.list_folders(); listed.ok()) folders = std::move(*listed);
  }
  // Without vacation/duplicate in any script: an empty memory of this run's own (a
  // track_duplicate cannot come from such scripts, so it is never saved).
  std::shared_ptr<sieve_memory> memory;
  if (needs.memory) {
    memory = co_await memory_of(home, now);
  } else {
    memory = std::make_shared<sieve_memory>(options_.memory);
  }

  envelope env;
  env.from = std::string(message.reverse_path);
  env.to = envelope_to(recipient);
  env.original_to = env.to;
  std::vector<const program*> programs;
  std::vector<std::string> names;
  auto add = [&programs, &names](const std::shared_ptr<const program>& p, const char* name) {
    if (p == nullptr) return;
    programs.push_back(p.get());
    names.push_back(name);
  };
  add(scripts.before, "sieve_before");
  add(scripts.user.active, "active");
  add(scripts.after, "sieve_after");
  const delivery_host host(folders, memory.get(), now, scripts.user);
  // RFC 5260 4.1's "local time zone" for date/currentdate without :zone, as of now (DST).
  std::tm local{};
  const std::time_t t = static_cast<std::time_t>(now);
  if (localtime_r(&t, &local) != nullptr) options_.environment.local_zone_minutes = static_cast<int32_t>(local.tm_gmtoff / 60);
  run_result result = run_scripts(programs, view, env, options_.environment, host, static_cast<std::time_t>(now),
                                  options_.limits);

  plan_input in;
  in.recipient = recipient.address;
  in.envelope_from = message.reverse_path;
  in.refuse_in_protocol = message.refuse_in_protocol;
  in.delivered_to_recipient = carries_delivered_to(message.message, recipient.address);
  delivery_plan plan = plan_delivery(result, in);
  if (plan.error) {
    log::warn("sieve_runtime_error", {{"user", recipient.address}, {"scripts", absl::StrJoin(names, ",")},
                                      {"error", *plan.error}, {"action", "kept in INBOX"}});
  }
  for (const std::string& note : plan.notes) {
    log::info("sieve_action_changed", {{"user", recipient.address}, {"note", note}});
  }
  if (plan.refusal) {
    log::info("sieve_ereject", {{"user", recipient.address}, {"from", message.reverse_path}});
    co_return refused(*plan.refusal);
  }

  // What a stored or redirected copy is: the edited header when editheader changed it.
  const bool edited = view.header_edited();
  const std::string edited_header = edited ? view.header_block() : std::string();
  auto pieces = [&]() -> std::vector<std::string_view> {
    if (edited) return three(edited_header, "\r\n", view.body_bytes());
    return three(headers, message.trace, message.message);
  };

  std::vector<std::string> stored;  // folders written, so a fallback does not write twice
  delivery_result last = discarded();
  auto store = [&](planned_copy copy) -> task<delivery_result> {
    if (copy.folder != kInbox) {
      if (copy.create) {
        absl::Status made = co_await box.create_folder(copy.folder);
        if (!made.ok() && !absl::IsAlreadyExists(made)) {
          log::warn("sieve_fileinto_failed", {{"user", recipient.address}, {"folder", copy.folder},
                                              {"reason", made.message()}, {"action", "kept in INBOX"}});
          copy.folder = std::string(kInbox);
        }
      } else {
        auto exists = co_await box.folder(copy.folder);
        if (!exists.ok()) {
          // Pigeonhole with lda_mailbox_autocreate=no: the copy goes to INBOX.
          log::info("sieve_fileinto_missing", {{"user", recipient.address}, {"folder", copy.folder},
                                               {"action", "kept in INBOX"}});
          copy.folder = std::string(kInbox);
        }
      }
    }
    for (const std::string& s : stored) {
      if (s == copy.folder) co_return discarded();
    }
    stored.push_back(copy.folder);
    if (copy.flags == 0 && copy.keywords.empty()) co_return co_await box.deliver(copy.folder, pieces());
    auto appended = co_await box.append(copy.folder, pieces(), copy.flags, std::move(copy.keywords), 0);
    if (!appended.ok()) co_return temporary(std::string(appended.status().message()));
    co_return discarded();  // ok
  };

  for (planned_copy& copy : plan.copies) {
    delivery_result r = co_await store(std::move(copy));
    if (!r.delivered()) co_return r;
    last = r;
  }

  bool keep_instead = false;  // a failed redirect or notice keeps the message
  for (const std::string& to : plan.redirects) {
    std::string out = without_return_path(edited ? absl::StrCat(edited_header, "\r\n", std::string(view.body_bytes())) : bytes);
    delivery_result sent = co_await outbound_.send(std::string(message.reverse_path), to, std::move(out));
    if (sent.delivered()) {
      log::info("sieve_redirect", {{"user", recipient.address}, {"to", to}});
    } else {
      log::warn("sieve_redirect_failed", {{"user", recipient.address}, {"to", to}, {"reason", sent.reason},
                                          {"action", "kept in INBOX"}});
      keep_instead = true;
    }
  }

  const mail::header_block original = mail::parse_header_block(message.message);
  bool memory_changed = false;
  if (plan.vacation) {
    const action& v = *plan.vacation;
    vacation_input vin;
    vin.sender = message.reverse_path;
    vin.recipient = recipient.address;
    vin.header = &original;
    // The user's aliases count as theirs (ISPmail's sender login map: the sources of
    // aliases to exactly this address); a directory that cannot answer leaves them out.
    if (auto own = co_await resolver_.sendable_addresses(recipient.address); own.ok()) {
      for (std::string& a : *own) {
        if (!mail::equals_ignore_case(a, recipient.address)) vin.user_addresses.push_back(std::move(a));
      }
    }
    vacation_decision decision = decide_vacation(v, vin);
    const std::string handle = vacation_handle(v);
    if (decision.verdict != vacation_verdict::reply) {
      log::info("sieve_vacation_skipped", {{"user", recipient.address}, {"reason", verdict_name(decision.verdict)}});
    } else if (memory->vacation_replied(message.reverse_path, handle, now)) {
      log::info("sieve_vacation_skipped", {{"user", recipient.address}, {"reason", "already-replied"}});
    } else {
      vacation_reply_request req;
      req.vacation = &v;
      req.sender = message.reverse_path;
      req.reply_from = decision.reply_from;
      req.original = &original;
      req.charsets = &charsets_;
      req.host = options_.environment.host;
      req.now = now;
      outgoing_message reply = build_vacation_reply(req);
      delivery_result sent = co_await outbound_.send(reply.envelope_from, reply.envelope_to, std::move(reply.bytes));
      if (sent.delivered()) {
        memory->remember_vacation(message.reverse_path, handle, now, v.seconds);
        memory_changed = true;
        log::info("sieve_vacation_sent", {{"user", recipient.address}, {"to", message.reverse_path}});
      } else {
        log::warn("sieve_vacation_failed", {{"user", recipient.address}, {"to", message.reverse_path},
                                            {"reason", sent.reason}});
      }
    }
  }

  if (plan.reject_notice) {
    if (!wants_reject_notice(message.reverse_path)) {
      log::info("sieve_reject", {{"user", recipient.address}, {"notice", "none"}});
    } else {
      reject_notice_request req;
      req.reason = *plan.reject_notice;
      req.sender = message.reverse_path;
      req.recipient = recipient.address;
      req.original = message.message;
      req.charsets = &charsets_;
      req.host = options_.environment.host;
      req.postmaster = options_.postmaster;
      req.now = now;
      outgoing_message notice = build_reject_notice(req);
      delivery_result sent = co_await outbound_.send(notice.envelope_from, notice.envelope_to, std::move(notice.bytes));
      if (sent.delivered()) {
        log::info("sieve_reject", {{"user", recipient.address}, {"notice", message.reverse_path}});
      } else {
        log::warn("sieve_reject_failed", {{"user", recipient.address}, {"reason", sent.reason}, {"action", "kept in INBOX"}});
        keep_instead = true;
      }
    }
  }

  if (keep_instead && stored.empty()) {
    delivery_result r = co_await store(planned_copy{std::string(kInbox), 0, {}, false});
    if (!r.delivered()) co_return r;
    last = r;
  }

  // RFC 7352 3: duplicate ids are recorded once the delivery succeeded.
  for (const action& d : plan.duplicates) {
    memory->track_duplicate(d.duplicate_id, now, d.duplicate_seconds, d.last);
    memory_changed = true;
  }
  if (memory_changed && needs.memory) co_await save_memory(home, *memory);
  co_return last;
}

}  // namespace ringmail::sieve

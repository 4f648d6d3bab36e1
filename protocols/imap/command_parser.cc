// parse_command(): the tag, the command name and each command's arguments (RFC 9051
// section 9; RFC 3501 for LSUB and rev1 forms; RFC 5258/5819/6154 for LIST-EXTENDED,
// LIST-STATUS and SPECIAL-USE; RFC 2971 ID; RFC 3516 BINARY APPEND; RFC 7162 store
// modifiers). FETCH items, SEARCH keys and sequence sets have their own files.
//
// Exactly one SP separates arguments and nothing may follow the last one, as the grammar
// says (Dovecot is as strict about the separators). Command names are case-insensitive.
#include <string>
#include <utility>

#include "protocols/imap/command.h"
#include "protocols/imap/metadata_notify_parser.h"
#include "protocols/imap/parser_cursor.h"
#include "protocols/imap/qresync_parser.h"

namespace ringmail::imap {

namespace detail {
// sort_parser.cc: SORT and THREAD arguments after the command name.
bool parse_sort_args(cursor& c, command& cmd);
bool parse_thread_args(cursor& c, command& cmd);
}  // namespace detail

namespace {

using detail::cursor;
using detail::upper;

// tag = 1*<any ASTRING-CHAR except "+">
bool tag_char(char c) { return (detail::is_atom_char(c) || c == ']') && c != '+'; }

bool no_args(cursor& c, command&) { return c.end(); }

bool authenticate_args(cursor& c, command& cmd) {
  std::string mech;
  if (!c.sp() || !c.atom(mech)) return false;
  cmd.mechanism = upper(mech);
  if (c.take(' ')) {
    // initial-resp = base64 / "=" (RFC 4959 SASL-IR)
    std::string ir;
    if (!c.atom(ir)) return false;
    for (char ch : ir) {
      bool b64 = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                 (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=';
      if (!b64) return c.fail("Invalid initial response");
    }
    cmd.initial_response = std::move(ir);
  }
  return c.end();
}

bool login_args(cursor& c, command& cmd) {
  return c.sp() && c.astring(cmd.user) && c.sp() && c.astring(cmd.password) && c.end();
}

bool enable_args(cursor& c, command& cmd) {
  do {
    std::string cap;
    if (!c.sp() || !c.atom(cap)) return false;
    cmd.atoms.push_back(upper(cap));
  } while (!c.eof());
  return c.end();
}

// select-params = SP "(" select-param *(SP select-param) ")", select-param =
// select-param-name [SP select-param-value] (RFC 4466): names into `atoms`, values
// checked and skipped (CONDSTORE has none); QRESYNC's is parsed (qresync_parser.h).
bool select_args(cursor& c, command& cmd) {
  if (!c.sp() || !c.mailbox(cmd.mailbox)) return false;
  if (c.take(' ')) {
    if (!c.expect('(')) return false;
    for (;;) {
      std::string name;
      if (!c.atom(name)) return false;
      cmd.atoms.push_back(upper(name));
      if (cmd.atoms.back() == "QRESYNC") {  // RFC 7162: its value is required (qresync_parser.h)
        cmd.qresync.emplace();
        if (!c.sp() || !detail::parse_qresync_param(c, *cmd.qresync)) return false;
        if (c.take(')')) break;
        if (!c.sp()) return false;
        continue;
      }
      if (c.take(')')) break;
      if (!c.sp()) return false;
      if (c.peek() != '(' && (c.peek() < '0' || c.peek() > '9')) continue;  // next name
      if (!c.skip_ext_value()) return false;
      if (c.take(')')) break;
      if (!c.sp()) return false;
    }
  }
  return c.end();
}

// create-params: "(" "USE" SP "(" use-attr *(SP use-attr) ")" ")" (RFC 6154 section 3).
bool create_args(cursor& c, command& cmd) {
  if (!c.sp() || !c.mailbox(cmd.mailbox)) return false;
  if (c.take(' ')) {
    if (!c.expect('(')) return false;
    do {
      if (!c.take_word("USE")) return c.fail("Unknown CREATE parameter");
      cmd.atoms.push_back("USE");
      if (!c.sp() || !c.flag_list(cmd.special_use)) return false;
    } while (c.take(' '));
    if (!c.expect(')')) return false;
  }
  return c.end();
}

bool mailbox_args(cursor& c, command& cmd) {
  return c.sp() && c.mailbox(cmd.mailbox) && c.end();
}

bool rename_args(cursor& c, command& cmd) {
  return c.sp() && c.mailbox(cmd.mailbox) && c.sp() && c.mailbox(cmd.new_name) && c.end();
}

bool status_att(cursor& c, std::vector<std::string>& out) {
  static constexpr std::string_view known[] = {
      "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
      "DELETED", "SIZE", "HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID",
      "DELETED-STORAGE"};  // RFC 9208 4.1.5
  if (!c.expect('(')) return false;
  do {
    std::string a = upper(c.word());
    bool ok = false;
    for (std::string_view k : known) ok = ok || a == k;
    if (!ok) return c.fail("Unknown STATUS item");
    out.push_back(std::move(a));
  } while (c.take(' '));
  return c.expect(')');
}

bool status_args(cursor& c, command& cmd) {
  return c.sp() && c.mailbox(cmd.mailbox) && c.sp() && status_att(c, cmd.atoms) && c.end();
}

// list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
bool list_args(cursor& c, command& cmd) {
  list_options& o = cmd.list;
  if (!c.sp()) return false;
  if (c.take('(')) {
    o.extended = true;
    bool base = false;  // a selection option RECURSIVEMATCH can modify
    if (!c.take(')')) {
      do {
        std::string opt = upper(c.word());
        if (opt == "SUBSCRIBED") o.subscribed = base = true;
        else if (opt == "REMOTE") o.remote = true;
        else if (opt == "RECURSIVEMATCH") o.recursive_match = true;
        else if (opt == "SPECIAL-USE") o.special_use = base = true;
        else return c.fail("Unknown LIST selection option");
      } while (c.take(' '));
      if (!c.expect(')')) return false;
    }
    // RFC 5258 section 3: RECURSIVEMATCH alone is an error.
    if (o.recursive_match && !base) return c.fail("RECURSIVEMATCH needs another option");
    if (!c.sp()) return false;
  }
  if (!c.astring(cmd.reference) || !c.sp()) return false;
  if (c.take('(')) {
    o.extended = true;
    do {
      cmd.patterns.emplace_back();
      if (!c.list_mailbox(cmd.patterns.back())) return false;
    } while (c.take(' '));
    if (!c.expect(')')) return false;
  } else {
    cmd.patterns.emplace_back();
    if (!c.list_mailbox(cmd.patterns.back())) return false;
  }
  if (c.take(' ')) {
    if (!c.take_word("RETURN")) return c.fail("Expected RETURN");
    o.extended = true;
    if (!c.sp() || !c.expect('(')) return false;
    if (!c.take(')')) {
      do {
        std::string opt = upper(c.word());
        if (opt == "SUBSCRIBED") o.return_subscribed = true;
        else if (opt == "CHILDREN") o.return_children = true;
        else if (opt == "SPECIAL-USE") o.return_special_use = true;
        else if (opt == "STATUS") {
          if (!c.sp() || !status_att(c, o.return_status)) return false;
        } else {
          return c.fail("Unknown LIST return option");
        }
      } while (c.take(' '));
      if (!c.expect(')')) return false;
    }
  }
  return c.end();
}

bool lsub_args(cursor& c, command& cmd) {
  cmd.patterns.emplace_back();
  return c.sp() && c.astring(cmd.reference) && c.sp() &&
         c.list_mailbox(cmd.patterns.back()) && c.end();
}

// append = "APPEND" SP mailbox 1*append-message            (RFC 3502 MULTIAPPEND)
// append-message = [SP flag-list] [SP date-time] SP append-data
// append-data = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")"
//             / "UTF8" SP "(" literal8 ")"                   (RFC 4469, RFC 6855 4)
// cat-part = "TEXT" SP literal / "URL" SP astring / "UTF8" SP "(" literal8 ")"
bool append_args(cursor& c, command& cmd) {
  if (!c.sp() || !c.mailbox(cmd.mailbox)) return false;
  return detail::parse_append_messages(c, cmd);
}

bool expunge_args(cursor& c, command& cmd) {
  if (!cmd.uid) return c.end();
  return c.sp() && detail::parse_sequence_set(c, cmd.set) && c.end();
}

bool search_args(cursor& c, command& cmd) { return detail::parse_search_args(c, cmd); }

// SORT / THREAD (RFC 5256): sort_parser.cc.
bool sort_args(cursor& c, command& cmd) { return detail::parse_sort_args(c, cmd); }
bool thread_args(cursor& c, command& cmd) { return detail::parse_thread_args(c, cmd); }

bool fetch_args(cursor& c, command& cmd) {
  return c.sp() && detail::parse_sequence_set(c, cmd.set) && detail::parse_fetch_args(c, cmd);
}

// store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
// store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
bool store_args(cursor& c, command& cmd) {
  if (!c.sp() || !detail::parse_sequence_set(c, cmd.set) || !c.sp()) return false;
  if (c.take('(')) {
    do {
      if (!c.take_word("UNCHANGEDSINCE")) return c.fail("Unknown STORE modifier");
      uint64_t n = 0;
      if (!c.sp() || !c.number64(n)) return false;
      cmd.unchanged_since = n;
    } while (c.take(' '));
    if (!c.expect(')') || !c.sp()) return false;
  }
  if (c.take('+')) cmd.store = command::store_mode::add;
  else if (c.take('-')) cmd.store = command::store_mode::remove;
  std::string item = upper(c.word());
  if (item == "FLAGS.SILENT") cmd.silent = true;
  else if (item != "FLAGS") return c.fail("Invalid STORE data item");
  if (!c.sp()) return false;
  if (c.peek() == '(') return c.flag_list(cmd.flags) && c.end();
  do {
    cmd.flags.emplace_back();
    if (!c.flag(cmd.flags.back())) return false;
  } while (c.take(' '));
  return c.end();
}

bool copy_args(cursor& c, command& cmd) {
  return c.sp() && detail::parse_sequence_set(c, cmd.set) && c.sp() &&
         c.mailbox(cmd.mailbox) && c.end();
}

// id = "ID" SP ("(" string SP nstring *(SP string SP nstring) ")" / nil)  (RFC 2971)
bool id_args(cursor& c, command& cmd) {
  if (!c.sp()) return false;
  if (c.take_word("NIL")) return c.end();
  if (!c.expect('(')) return false;
  do {
    std::string key;
    std::optional<std::string> value;
    if (!c.string(key) || !c.sp() || !c.nstring(value)) return false;
    cmd.id_params.emplace_back(std::move(key), std::move(value));
  } while (c.take(' '));
  return c.expect(')') && c.end();
}

// ---- COMPRESS (RFC 4978 section 4) and QUOTA (RFC 9208 section 7) ----
// compress = "COMPRESS" SP algorithm; algorithm = atom
bool compress_args(cursor& c, command& cmd) {
  std::string algorithm;
  if (!c.sp() || !c.atom(algorithm)) return false;
  cmd.atoms.push_back(upper(algorithm));
  return c.end();
}

// getquota = "GETQUOTA" SP quota-root-name; quota-root-name = astring
bool getquota_args(cursor& c, command& cmd) { return c.sp() && c.astring(cmd.quota_root) && c.end(); }

// setquota = "SETQUOTA" SP quota-root-name SP setquota-list
// setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"
// setquota-resource = resource-name SP resource-limit (atom SP number64)
bool setquota_args(cursor& c, command& cmd) {
  if (!c.sp() || !c.astring(cmd.quota_root) || !c.sp() || !c.expect('(')) return false;
  if (c.take(')')) return c.end();
  do {
    std::string name;
    uint64_t limit = 0;
    if (!c.atom(name) || !c.sp() || !c.number64(limit)) return false;
    cmd.quota_limits.emplace_back(upper(name), limit);
  } while (c.take(' '));
  return c.expect(')') && c.end();
}

struct command_def {
  std::string_view name;
  command_name id;
  bool (*args)(cursor&, command&);
  bool uid_form;  // may follow "UID"
};

constexpr command_def commands[] = {
    {"CAPABILITY", command_name::capability, no_args, false},
    {"NOOP", command_name::noop, no_args, false},
    {"LOGOUT", command_name::logout, no_args, false},
    {"STARTTLS", command_name::starttls, no_args, false},
    {"AUTHENTICATE", command_name::authenticate, authenticate_args, false},
    {"LOGIN", command_name::login, login_args, false},
    {"ENABLE", command_name::enable, enable_args, false},
    {"SELECT", command_name::select, select_args, false},
    {"EXAMINE", command_name::examine, select_args, false},
    {"CREATE", command_name::create, create_args, false},
    {"DELETE", command_name::delete_, mailbox_args, false},
    {"RENAME", command_name::rename, rename_args, false},
    {"SUBSCRIBE", command_name::subscribe, mailbox_args, false},
    {"UNSUBSCRIBE", command_name::unsubscribe, mailbox_args, false},
    {"LIST", command_name::list, list_args, false},
    {"LSUB", command_name::lsub, lsub_args, false},
    {"NAMESPACE", command_name::namespace_, no_args, false},
    {"STATUS", command_name::status, status_args, false},
    {"APPEND", command_name::append, append_args, false},
    {"IDLE", command_name::idle, no_args, false},
    {"CHECK", command_name::check, no_args, false},
    {"CLOSE", command_name::close, no_args, false},
    {"UNSELECT", command_name::unselect, no_args, false},
    {"EXPUNGE", command_name::expunge, expunge_args, true},
    {"SEARCH", command_name::search, search_args, true},
    {"SORT", command_name::sort, sort_args, true},
    {"THREAD", command_name::thread, thread_args, true},
    {"FETCH", command_name::fetch, fetch_args, true},
    {"STORE", command_name::store, store_args, true},
    {"COPY", command_name::copy, copy_args, true},
    {"MOVE", command_name::move, copy_args, true},
    {"ID", command_name::id, id_args, false},
    // METADATA (RFC 5464), NOTIFY (RFC 5465): metadata_parser.cc, notify_parser.cc
    {"GETMETADATA", command_name::getmetadata, detail::parse_getmetadata_args, false},
    {"SETMETADATA", command_name::setmetadata, detail::parse_setmetadata_args, false},
    {"NOTIFY", command_name::notify, detail::parse_notify_args, false},
    // COMPRESS=DEFLATE (RFC 4978), QUOTA (RFC 9208)
    {"COMPRESS", command_name::compress, compress_args, false},
    {"GETQUOTA", command_name::getquota, getquota_args, false},
    {"GETQUOTAROOT", command_name::getquotaroot, mailbox_args, false},
    {"SETQUOTA", command_name::setquota, setquota_args, false},
};

const command_def* find_command(std::string_view name) {
  for (const command_def& d : commands) {
    if (detail::iequals(d.name, name)) return &d;
  }
  return nullptr;
}

}  // namespace

parse_result parse_command(std::string_view bytes, const parse_options& options) {
  parse_result r;
  auto error = [&](std::string tag, const char* message) {
    r.cmd.reset();
    r.error.tag = std::move(tag);
    r.error.message = message;
    return r;
  };
  size_t n = 0;
  while (n < bytes.size() && tag_char(bytes[n])) ++n;
  if (n == 0 || n == bytes.size() || bytes[n] != ' ') {
    return error("*", n == 0 ? "Missing or invalid tag" : "Missing command");
  }
  std::string tag(bytes.substr(0, n));
  cursor c(bytes.substr(n + 1), options);
  command cmd;
  cmd.tag = tag;
  std::string_view name = c.word();
  if (detail::iequals(name, "UID")) {
    cmd.uid = true;
    if (!c.sp()) return error(tag, "Missing command after UID");
    name = c.word();
  }
  const command_def* def = find_command(name);
  if (def == nullptr || (cmd.uid && !def->uid_form)) return error(tag, "Unknown command");
  cmd.name = def->id;
  if (!def->args(c, cmd) || !c.ok()) {
    return error(tag, c.ok() ? "Syntax error in arguments" : c.error());
  }
  r.cmd = std::move(cmd);
  return r;
}

}  // namespace ringmail::imap

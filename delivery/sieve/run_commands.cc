// Commands and control flow (RFC 5228 3 and 4, and the extensions' commands), the
// helpers every walker shares (steps, ${...} expansion, variables), and run_scripts().
#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "delivery/sieve/checker_address.h"
#include "delivery/sieve/imap4flags.h"
#include "delivery/sieve/run.h"
#include "mail/header.h"

namespace ringmail::sieve {
namespace {

absl::Status error_at(source_location where, std::string_view text) {
  return absl::FailedPreconditionError(absl::StrCat(where_text(where), ": ", std::string(text)));
}

constexpr char kGlobalPrefix[] = "global.";
constexpr size_t kGlobalPrefixSize = sizeof(kGlobalPrefix) - 1;

bool has_global_prefix(std::string_view name) {
  return name.size() > kGlobalPrefixSize &&
         mail::equals_ignore_case(name.substr(0, kGlobalPrefixSize), kGlobalPrefix);
}

// Fields a script may not delete. Pigeonhole forbids deleting Received and
// Auto-Submitted whatever its configuration says (its sieve_editheader_forbid_delete
// documentation: "always forbidden"), so a script can neither hide a message's path nor
// make an auto-reply look human; adding them is allowed, as in Pigeonhole (seen with
// sieve-test). A deleteheader of one of them is ignored, as Pigeonhole ignores it at run
// time (with a warning).
bool undeletable_header(std::string_view name) {
  return mail::equals_ignore_case(name, "received") ||
         mail::equals_ignore_case(name, "auto-submitted");
}

// Pigeonhole's defaults for vacation periods (sieve_vacation_min_period = 1d, a shorter
// :days/:seconds is raised to it, as sieve-test shows for :seconds 0 and 10;
// sieve_vacation_max_period = 0, no upper bound: :days 100 stays 100 days;
// sieve_vacation_default_period = 7d).
constexpr uint64_t kVacationMin = 86400;
constexpr uint64_t kVacationDefault = 7 * 86400;

}  // namespace

std::string where_text(source_location where) {
  return absl::StrCat("line ", where.line, ", column ", where.column);
}

absl::Status run_state::step(source_location where) {
  if (++steps_ > limits_.max_steps) {
    return absl::ResourceExhaustedError(absl::StrCat(
        where_text(where), ": the script ran more than ", limits_.max_steps, " steps"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> run_state::expand(scope& s, const std::string& text,
                                              source_location where) {
  if (!s.prog.variables || !matching::has_variable_references(text)) return text;
  matching::expansion e = matching::expand_variables(text, s.locals);
  if (e.truncated) {
    return absl::ResourceExhaustedError(
        absl::StrCat(where_text(where), ": a string grew past ",
                     limits_.variables.max_expansion_bytes, " bytes expanding variables"));
  }
  return std::move(e.text);
}

absl::StatusOr<std::vector<std::string>> run_state::expand_list(scope& s, const value& v) {
  std::vector<std::string> out;
  out.reserve(v.strings.size());
  for (const std::string& text : v.strings) {
    absl::StatusOr<std::string> e = expand(s, text, v.where);
    if (!e.ok()) return e.status();
    out.push_back(*std::move(e));
  }
  return out;
}

absl::Status run_state::set_variable(scope& s, std::string_view name, std::string_view value,
                                     source_location where) {
  auto fail = [&](const absl::Status& st) {
    return absl::ResourceExhaustedError(absl::StrCat(where_text(where), ": ", st.message()));
  };
  const std::string lower = absl::AsciiStrToLower(std::string(name));
  std::string global_name;
  if (has_global_prefix(lower)) {
    global_name = lower.substr(kGlobalPrefixSize);
  } else if (s.globals_declared.contains(lower)) {
    global_name = lower;
  }
  if (!global_name.empty()) {
    if (absl::Status st = globals_.set(global_name, value); !st.ok()) return fail(st);
    if (std::find(global_names_.begin(), global_names_.end(), global_name) ==
        global_names_.end()) {
      global_names_.push_back(global_name);
    }
    if (absl::Status st = s.locals.set(absl::StrCat(kGlobalPrefix, global_name), value);
        !st.ok()) {
      return fail(st);
    }
    if (s.globals_declared.contains(global_name)) {
      if (absl::Status st = s.locals.set(global_name, value); !st.ok()) return fail(st);
    }
    return absl::OkStatus();
  }
  if (absl::Status st = s.locals.set(lower, value); !st.ok()) return fail(st);
  return absl::OkStatus();
}

std::optional<std::string> run_state::get_variable(const scope& s, std::string_view name) const {
  std::optional<std::string_view> v = s.locals.get(name);
  if (!v) return std::nullopt;
  return std::string(*v);
}

void run_state::refresh_globals(scope& s) {
  // Every global as "global.<name>", and under its own name where this scope declared it.
  // (A scope past max_variables misses some: set() refuses new names there, and the
  // script's own set of such a name fails with the clear error.)
  for (const std::string& name : global_names_) {
    std::optional<std::string_view> v = globals_.get(name);
    if (!v) continue;
    std::string copy(*v);
    if (s.globals_declared.contains(name)) (void)s.locals.set(name, copy);
    (void)s.locals.set(absl::StrCat(kGlobalPrefix, name), copy);
  }
}

absl::StatusOr<std::vector<std::string>> run_state::store_flags(scope& s,
                                                                const checked_arguments& a) {
  // RFC 5232 5: :flags replaces the internal variable for this action; without it the
  // action takes the internal variable's current value.
  if (const checked_tag* f = a.find(tag_id::flags); f != nullptr) {
    absl::StatusOr<std::vector<std::string>> list = expand_list(s, f->parameter);
    if (!list.ok()) return list.status();
    return split_flags(set_flags(*list));
  }
  return split_flags(internal_flags_);
}

absl::Status run_state::run_flags(scope& s, const checked_command& c) {
  const checked_arguments& a = c.arguments;
  absl::StatusOr<std::vector<std::string>> flags = expand_list(s, a.positional[1]);
  if (!flags.ok()) return flags.status();
  const bool internal = a.positional[0].kind == value_kind::none;
  std::string current;
  if (internal) {
    current = internal_flags_;
  } else if (std::optional<std::string> v = get_variable(s, a.positional[0].string())) {
    current = *std::move(v);
  }
  std::string next;
  switch (c.id) {
    case command_id::setflag: next = set_flags(*flags); break;
    case command_id::addflag: next = add_flags(current, *flags); break;
    default: next = remove_flags(current, *flags); break;
  }
  if (internal) {
    internal_flags_ = std::move(next);
    return absl::OkStatus();
  }
  return set_variable(s, a.positional[0].string(), next, c.where);
}

absl::Status run_state::run_set(scope& s, const checked_command& c) {
  const checked_arguments& a = c.arguments;
  absl::StatusOr<std::string> v = expand(s, a.positional[1].string(), c.where);
  if (!v.ok()) return v.status();
  std::vector<matching::set_modifier> modifiers;
  for (const checked_tag& t : a.tags) {
    switch (t.id) {
      case tag_id::lower: modifiers.push_back(matching::set_modifier::lower); break;
      case tag_id::upper: modifiers.push_back(matching::set_modifier::upper); break;
      case tag_id::lowerfirst: modifiers.push_back(matching::set_modifier::lowerfirst); break;
      case tag_id::upperfirst: modifiers.push_back(matching::set_modifier::upperfirst); break;
      case tag_id::quotewildcard:
        modifiers.push_back(matching::set_modifier::quotewildcard);
        break;
      case tag_id::length: modifiers.push_back(matching::set_modifier::length); break;
      default: break;
    }
  }
  std::string value = modifiers.empty() ? *std::move(v)
                                         : matching::apply_set_modifiers(modifiers, *v);
  return set_variable(s, a.positional[0].string(), value, c.where);
}

absl::Status run_state::run_vacation(scope& s, const checked_command& c) {
  const checked_arguments& a = c.arguments;
  action v;
  v.kind = action::vacation;
  v.address = env_.from;
  absl::StatusOr<std::string> reason = expand(s, a.positional[0].string(), c.where);
  if (!reason.ok()) return reason.status();
  v.reason = *std::move(reason);
  // RFC 5230 4.1 / RFC 6131: the period, within Pigeonhole's default bounds.
  if (const checked_tag* d = a.find(tag_id::days); d != nullptr) {
    const uint64_t most = UINT64_MAX / 86400;  // saturate instead of wrapping
    v.seconds = d->parameter.number > most ? most * 86400 : d->parameter.number * 86400;
  } else if (const checked_tag* sec = a.find(tag_id::seconds); sec != nullptr) {
    v.seconds = sec->parameter.number;
  } else {
    v.seconds = kVacationDefault;
  }
  v.seconds = std::max(v.seconds, kVacationMin);
  auto optional_string = [&](tag_id id,
                             std::optional<std::string>& out) -> absl::Status {
    const checked_tag* t = a.find(id);
    if (t == nullptr) return absl::OkStatus();
    absl::StatusOr<std::string> e = expand(s, t->parameter.string(), t->where);
    if (!e.ok()) return e.status();
    out = *std::move(e);
    return absl::OkStatus();
  };
  if (absl::Status st = optional_string(tag_id::subject, v.subject); !st.ok()) return st;
  if (absl::Status st = optional_string(tag_id::from, v.from); !st.ok()) return st;
  if (absl::Status st = optional_string(tag_id::handle, v.handle); !st.ok()) return st;
  if (const checked_tag* t = a.find(tag_id::addresses); t != nullptr) {
    absl::StatusOr<std::vector<std::string>> list = expand_list(s, t->parameter);
    if (!list.ok()) return list.status();
    v.addresses = *std::move(list);
  }
  v.mime = a.find(tag_id::mime) != nullptr;
  return result_.vacation(std::move(v), where_text(c.where));
}

absl::Status run_state::run_deleteheader(scope& s, const compiled_command& c) {
  const checked_arguments& a = c.source->arguments;
  absl::StatusOr<std::string> name = expand(s, a.positional[0].string(), c.source->where);
  if (!name.ok()) return name.status();
  if (undeletable_header(*name)) return absl::OkStatus();
  size_t index = 0;
  if (const checked_tag* i = a.find(tag_id::index); i != nullptr) index = i->parameter.number;
  const bool last = a.find(tag_id::last) != nullptr;
  if (a.positional.size() < 2 || a.positional[1].kind == value_kind::none) {
    message_.delete_header(*name, index, last, [](std::string_view) { return true; });
    return absl::OkStatus();
  }
  // Value patterns (RFC 5293 6): each candidate's value against the keys. A match error
  // (a :matches out of steps) is kept and reported after the call.
  absl::Status failure;
  message_.delete_header(*name, index, last, [&](std::string_view v) {
    if (!failure.ok()) return false;
    absl::StatusOr<bool> r = match_with(s, c.spec, c.keys, a.positional[1], {std::string(v)},
                                        c.source->where, std::nullopt);
    if (!r.ok()) {
      failure = r.status();
      return false;
    }
    return *r;
  });
  return failure;
}

absl::StatusOr<flow> run_state::run_include(scope& s, const checked_command& c) {
  const checked_arguments& a = c.arguments;
  const std::string& name = a.positional[0].string();
  const bool global = a.find(tag_id::global) != nullptr;
  // RFC 6609 3.2 :once: not again when the script was included before in this run, with
  // or without :once (Pigeonhole: include "a"; include :once "a"; runs it once).
  bool before = false;
  for (const auto& [n, g] : included_) before = before || (n == name && g == global);
  if (before && a.find(tag_id::once) != nullptr) return flow::next;
  if (!before) included_.emplace_back(name, global);
  if (s.depth + 1 > limits_.max_include_depth) {
    return error_at(c.where, absl::StrCat("include of \"", name, "\" nests deeper than ",
                                          limits_.max_include_depth,
                                          " scripts (an include loop?)"));
  }
  const program* p = host_.included(name, global);
  if (p == nullptr) {
    if (a.find(tag_id::optional) != nullptr) return flow::next;  // RFC 6609 3.2 :optional
    return error_at(c.where, absl::StrCat("included ", global ? "global" : "personal",
                                          " script \"", name, "\" does not exist"));
  }
  scope inner(*p, limits_.variables, s.depth + 1);
  refresh_globals(inner);  // "${global.x}" reads the run's globals from the start
  absl::StatusOr<flow> f = run_block(inner, p->commands);
  if (!f.ok()) return f.status();
  refresh_globals(s);
  // RFC 6609 3.4: return ends the included script only; stop ends all processing.
  return *f == flow::stop ? flow::stop : flow::next;
}

absl::StatusOr<flow> run_state::run_command(scope& s, const compiled_command& cc) {
  const checked_command& c = *cc.source;
  if (absl::Status st = step(c.where); !st.ok()) return st;
  const checked_arguments& a = c.arguments;
  const std::string where = where_text(c.where);
  absl::Status st;
  switch (c.id) {
    case command_id::require:
      break;
    case command_id::if_:
    case command_id::elsif:
    case command_id::else_:
      break;  // run_block handles the chain
    case command_id::stop:
      return flow::stop;
    case command_id::return_:
      // RFC 6609 3.4: in the main script return is stop.
      return s.depth == 0 ? flow::stop : flow::return_;
    case command_id::keep: {
      absl::StatusOr<std::vector<std::string>> flags = store_flags(s, a);
      if (!flags.ok()) return flags.status();
      st = result_.store("INBOX", *std::move(flags), false, false, true, where);
      break;
    }
    case command_id::fileinto: {
      absl::StatusOr<std::string> mailbox = expand(s, a.positional[0].string(), c.where);
      if (!mailbox.ok()) return mailbox.status();
      absl::StatusOr<std::vector<std::string>> flags = store_flags(s, a);
      if (!flags.ok()) return flags.status();
      st = result_.store(*std::move(mailbox), *std::move(flags),
                         a.find(tag_id::copy) != nullptr, a.find(tag_id::create) != nullptr,
                         false, where);
      break;
    }
    case command_id::redirect: {
      absl::StatusOr<std::string> address = expand(s, a.positional[0].string(), c.where);
      if (!address.ok()) return address.status();
      // RFC 5228 4.2: the address must be valid; a constant one the checker saw, an
      // expanded one is checked now (an invalid one is a run-time error, as Pigeonhole).
      absl::StatusOr<std::string> spec = parse_mailbox(*address);
      if (!spec.ok()) {
        return error_at(c.where, absl::StrCat("redirect to an invalid address \"", *address,
                                              "\": ", spec.status().message()));
      }
      // The domain in lower case (it is case-insensitive; the local part is not), so
      // "A@Example.org" and "A@example.ORG" are one redirect, as Pigeonhole has it.
      if (size_t at = spec->rfind('@'); at != std::string::npos) {
        for (size_t i = at + 1; i < spec->size(); ++i) {
          (*spec)[i] = absl::ascii_tolower(static_cast<unsigned char>((*spec)[i]));
        }
      }
      st = result_.redirect(*std::move(spec), a.find(tag_id::copy) != nullptr, where);
      break;
    }
    case command_id::reject:
    case command_id::ereject: {
      absl::StatusOr<std::string> reason = expand(s, a.positional[0].string(), c.where);
      if (!reason.ok()) return reason.status();
      st = result_.reject(c.id == command_id::reject ? action::reject : action::ereject,
                          *std::move(reason), where);
      break;
    }
    case command_id::discard:
      st = result_.discard(where);
      break;
    case command_id::setflag:
    case command_id::addflag:
    case command_id::removeflag:
      st = run_flags(s, c);
      break;
    case command_id::vacation:
      st = run_vacation(s, c);
      break;
    case command_id::set:
      st = run_set(s, c);
      break;
    case command_id::include:
      return run_include(s, c);
    case command_id::global:
      // RFC 6609 3.3: the names refer to the run's global variables from here on.
      for (const std::string& name : a.positional[0].strings) {
        std::string lower = absl::AsciiStrToLower(name);
        s.globals_declared.insert(lower);
      }
      refresh_globals(s);
      break;
    case command_id::addheader: {
      absl::StatusOr<std::string> name = expand(s, a.positional[0].string(), c.where);
      if (!name.ok()) return name.status();
      absl::StatusOr<std::string> text = expand(s, a.positional[1].string(), c.where);
      if (!text.ok()) return text.status();
      // Past message_view_limits::max_added_headers the field is dropped, as Pigeonhole
      // drops edits past its limits (with a warning).
      message_.add_header(*name, *text, a.find(tag_id::last) != nullptr);
      forget_header();  // later tests see the edited header (RFC 5293 5)
      break;
    }
    case command_id::deleteheader:
      st = run_deleteheader(s, cc);
      forget_header();
      break;
  }
  if (!st.ok()) return st;
  return flow::next;
}

absl::StatusOr<flow> run_state::run_block(scope& s, const std::vector<compiled_command>& block) {
  bool chain_taken = false;  // an if/elsif of the current chain ran its block
  for (const compiled_command& cc : block) {
    const command_id id = cc.source->id;
    if (id == command_id::if_ || id == command_id::elsif || id == command_id::else_) {
      if (id == command_id::if_) chain_taken = false;
      if (chain_taken) continue;
      if (absl::Status st = step(cc.source->where); !st.ok()) return st;
      bool take = true;
      if (id != command_id::else_) {
        absl::StatusOr<bool> r = test(s, cc.test.front());
        if (!r.ok()) return r.status();
        take = *r;
      }
      if (!take) continue;
      chain_taken = true;
      absl::StatusOr<flow> f = run_block(s, cc.block);
      if (!f.ok() || *f != flow::next) return f;
      continue;
    }
    absl::StatusOr<flow> f = run_command(s, cc);
    if (!f.ok() || *f != flow::next) return f;
  }
  return flow::next;
}

absl::Status run_state::run_script(const program& p) {
  globals_ = matching::variable_store(limits_.variables);
  global_names_.clear();
  included_.clear();
  scope top(p, limits_.variables, 0);
  absl::StatusOr<flow> f = run_block(top, p.commands);
  return f.status();
}

// Multiple scripts (sieve_before, the user's, sieve_after), as Pigeonhole 0.5.19's
// sieve_multiscript_run() does it, checked with `sieve-test -s BEFORE SCRIPT`:
//   - the scripts share one result; after each script but the last its actions are
//     executed, so a later reject does not conflict with an earlier keep or fileinto;
//   - the next script runs only when the message is still kept: the implicit keep is in
//     effect (nothing cancelled it, or only :copy actions ran), or the script ran the
//     `keep` command ("keep; fileinto "X";" goes on; fileinto "INBOX" and discard stop);
//   - each script has its own implicit keep, its own variables (globals too), and `stop`
//     ends only its own script;
//   - the internal flags variable of imap4flags lives in the result: flags an earlier
//     script set are seen by hasflag and stored by a later one's keep and fileinto.
// A DEPARTURE: a run-time error in a later script discards the whole result (the glue
// keeps the message in INBOX only), where Pigeonhole had already executed the earlier
// scripts' actions; interpreter.h's contract says an error discards the result.
run_result run_scripts(const std::vector<const program*>& scripts, message_view& message,
                       const envelope& env, const environment_items& environment,
                       const script_host& host, std::time_t now, const run_limits& limits) {
  run_state state(message, env, environment, host, now, limits);
  run_result out;
  for (size_t i = 0; i < scripts.size(); ++i) {
    if (scripts[i] == nullptr) continue;
    if (absl::Status st = state.run_script(*scripts[i]); !st.ok()) {
      // RFC 5228 2.10.6: a run-time error keeps the message; the result is discarded.
      out.error = std::string(st.message());
      out.steps = state.steps();
      return out;
    }
    if (i + 1 < scripts.size()) {
      if (!state.result().implicit_keep() && !state.result().explicit_keep()) break;
      state.result().start_script();
    }
  }
  out.actions = std::move(state.result().actions());
  out.implicit_keep = state.result().implicit_keep();
  if (out.implicit_keep) out.implicit_keep_flags = split_flags(state.internal_flags());
  out.steps = state.steps();
  return out;
}

}  // namespace ringmail::sieve

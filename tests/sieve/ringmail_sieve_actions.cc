// The ringmail side of the Sieve differential (tests/sieve/README.md): runs ringmail's
// interpreter (delivery/sieve/interpreter.h) over every (script, message) pair it is
// given, in the set-up sieve-test has on the Pigeonhole side, and prints one JSON object
// per pair with the result as the interpreter built it. ringmail_actions.py formats
// those through sieve_actions.py's format_*(), so both sides share one formatter.
//
//   ringmail_sieve_actions --global DIR --personal DIR
//       --script NAME=PATH... --message NAME=PATH...
//
// The set-up, as pigeonhole_actions.py gives sieve-test:
//   - envelope: MAIL FROM bounces+sieve@lists.example.org, recipient (original and
//     final) jane+lists@example.net (sieve_sample.ENVELOPE_FROM/ENVELOPE_TO; overridable
//     with --from/--to);
//   - time: 2026-01-15 12:00:00 UTC (sieve_sample.CURRENT_TIME with TZ=UTC), local zone
//     UTC;
//   - mailboxes: INBOX and Junk exist (the oracle's Maildir), nothing else;
//   - the duplicate store is empty for every pair (sieve-test's is a stub that never
//     saw anything);
//   - environment (RFC 5183) as sieve-test reports it: location "MS", phase "post",
//     domain and host the machine's name, no remote-host;
//   - include :global from --global, :personal from --personal, NAME.sieve.
//
// Output, one line per pair, scripts in the order given, messages in the order given:
//   {"script": S, "message": M, "compile_error": null | "...", "error": null | "...",
//    "actions": [{"kind": "keep"|"fileinto"|..., ...}], "implicit_keep": bool,
//    "implicit_keep_flags": [...]}
// Strings are JSON; an octet that is not part of valid UTF-8 is written as the lone
// surrogate \udcXX, which Python's json reads back as its surrogateescape form (what
// sieve_actions.quote() prints as \xHH).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/sieve/checker.h"
#include "delivery/sieve/interpreter.h"
#include "delivery/sieve/message_view.h"
#include "mail/charset.h"
#include "mail/header.h"

namespace {

using ringmail::sieve::action;
using ringmail::sieve::program;

constexpr std::time_t fixed_now = 1768478400;  // 2026-01-15 12:00:00 UTC

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

// Length of the valid UTF-8 sequence at `s[i]`, 0 when the octet starts none.
size_t valid_utf8_at(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t len;
  char32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  char buf[8];
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = valid_utf8_at(s, i);
    if (len == 0) {
      std::snprintf(buf, sizeof buf, "\\udc%02x", c);
      out += buf;
      ++i;
      continue;
    }
    if (len > 1) {
      out.append(s.substr(i, len));
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
    i += len;
  }
  out += "\"";
  return out;
}

std::string json_strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += json_string(v[i]);
  }
  return out + "]";
}

std::string json_optional(const std::optional<std::string>& v) {
  return v ? json_string(*v) : std::string("null");
}

const char* kind_name(action::kind_t kind) {
  switch (kind) {
    case action::keep: return "keep";
    case action::fileinto: return "fileinto";
    case action::redirect: return "redirect";
    case action::reject: return "reject";
    case action::ereject: return "ereject";
    case action::discard: return "discard";
    case action::vacation: return "vacation";
    case action::track_duplicate: return "track_duplicate";
  }
  return "unknown";
}

std::string json_action(const action& a) {
  std::ostringstream o;
  o << "{\"kind\": \"" << kind_name(a.kind) << "\""
    << ", \"mailbox\": " << json_string(a.mailbox)
    << ", \"flags\": " << json_strings(a.flags)
    << ", \"copy\": " << (a.copy ? "true" : "false")
    << ", \"create\": " << (a.create ? "true" : "false")
    << ", \"address\": " << json_string(a.address)
    << ", \"reason\": " << json_string(a.reason)
    << ", \"seconds\": " << a.seconds
    << ", \"subject\": " << json_optional(a.subject)
    << ", \"from\": " << json_optional(a.from)
    << ", \"handle\": " << json_optional(a.handle)
    << ", \"addresses\": " << json_strings(a.addresses)
    << ", \"mime\": " << (a.mime ? "true" : "false")
    << ", \"last\": " << (a.last ? "true" : "false") << "}";
  return o.str();
}

// The scripts `include` reaches, compiled once, from the two directories.
class differential_host : public ringmail::sieve::script_host {
 public:
  differential_host(std::string global_dir, std::string personal_dir)
      : global_dir_(std::move(global_dir)), personal_dir_(std::move(personal_dir)) {}

  bool mailbox_exists(std::string_view name) const override {
    // The oracle's Maildir: INBOX (any case, RFC 3501 5.1) and Junk.
    return ringmail::mail::equals_ignore_case(name, "INBOX") || name == "Junk";
  }
  bool duplicate_seen(std::string_view) const override { return false; }
  const program* included(std::string_view name, bool global) const override {
    auto it = loaded_.find({global, std::string(name)});
    return it == loaded_.end() ? nullptr : it->second.get();
  }

  // Compiles `text` and every script it includes (transitively, each once). Returns the
  // first error ("" when none).
  std::string compile_tree(const std::string& text, std::shared_ptr<const program>& out) {
    std::string error;
    out = compile_text(text, error);
    if (!out) return error;
    std::vector<std::shared_ptr<const program>> pending{out};
    while (!pending.empty()) {
      std::shared_ptr<const program> p = pending.back();
      pending.pop_back();
      for (const ringmail::sieve::include_reference& ref : ringmail::sieve::includes_of(*p)) {
        std::pair<bool, std::string> key{ref.global, ref.name};
        if (loaded_.count(key) || missing_.count(key)) continue;
        std::string path = (ref.global ? global_dir_ : personal_dir_) + "/" + ref.name + ".sieve";
        std::string included_text;
        if (!read_file(path, included_text)) {
          missing_.insert({key, true});
          if (!ref.optional) return "include " + ref.name + ": not found";
          continue;
        }
        std::shared_ptr<const program> inc = compile_text(included_text, error);
        if (!inc) return "include " + ref.name + ": " + error;
        loaded_[key] = inc;
        pending.push_back(inc);
      }
    }
    return "";
  }

 private:
  static std::shared_ptr<const program> compile_text(const std::string& text, std::string& error) {
    auto checked = ringmail::sieve::compile_script(text);
    if (!checked.ok()) {
      error = std::string(checked.status().message());
      return nullptr;
    }
    auto compiled = ringmail::sieve::compile(*std::move(checked));
    if (!compiled.ok()) {
      error = std::string(compiled.status().message());
      return nullptr;
    }
    return *compiled;
  }

  std::string global_dir_, personal_dir_;
  std::map<std::pair<bool, std::string>, std::shared_ptr<const program>> loaded_;
  std::map<std::pair<bool, std::string>, bool> missing_;
};

bool split_pair(std::string_view arg, std::pair<std::string, std::string>& out) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  out = {std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
  return true;
}

int usage() {
  std::cerr << "usage: ringmail_sieve_actions --global DIR --personal DIR [--from A] [--to A]"
               " --script NAME=PATH... --message NAME=PATH...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string global_dir, personal_dir;
  std::string from = "bounces+sieve@lists.example.org";
  std::string to = "jane+lists@example.net";
  std::vector<std::pair<std::string, std::string>> scripts, messages;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc) return usage();
    std::string_view value = argv[++i];
    std::pair<std::string, std::string> pair;
    if (arg == "--global") {
      global_dir = value;
    } else if (arg == "--personal") {
      personal_dir = value;
    } else if (arg == "--from") {
      from = value;
    } else if (arg == "--to") {
      to = value;
    } else if (arg == "--script" && split_pair(value, pair)) {
      scripts.push_back(pair);
    } else if (arg == "--message" && split_pair(value, pair)) {
      messages.push_back(pair);
    } else {
      return usage();
    }
  }

  std::vector<std::string> message_bytes(messages.size());
  for (size_t m = 0; m < messages.size(); ++m) {
    if (!read_file(messages[m].second, message_bytes[m])) {
      std::cerr << "ringmail_sieve_actions: cannot read " << messages[m].second << "\n";
      return 2;
    }
  }

  char hostname[256] = {};
  if (gethostname(hostname, sizeof hostname - 1) != 0 || hostname[0] == '\0') {
    std::snprintf(hostname, sizeof hostname, "localhost");
  }
  ringmail::sieve::envelope env;
  env.from = from;
  env.to = to;
  env.original_to = to;
  ringmail::sieve::environment_items environment;
  environment.domain = hostname;
  environment.host = hostname;
  environment.location = "MS";
  environment.phase = "post";
  environment.local_zone_minutes = 0;

  ringmail::mail::charset_converter charsets;
  for (const auto& [script_name, script_path] : scripts) {
    std::string text;
    std::string compile_error;
    std::shared_ptr<const program> prog;
    // One host per script: includes are the script's, and nothing carries over.
    differential_host host(global_dir, personal_dir);
    if (!read_file(script_path, text)) {
      compile_error = "cannot read " + script_path;
    } else {
      compile_error = host.compile_tree(text, prog);
    }
    for (size_t m = 0; m < messages.size(); ++m) {
      std::cout << "{\"script\": " << json_string(script_name)
                << ", \"message\": " << json_string(messages[m].first);
      if (!compile_error.empty()) {
        std::cout << ", \"compile_error\": " << json_string(compile_error)
                  << ", \"error\": null, \"actions\": [], \"implicit_keep\": true,"
                     " \"implicit_keep_flags\": []}\n";
        continue;
      }
      // A fresh view per run: editheader changes it.
      ringmail::sieve::message_view view(message_bytes[m], charsets);
      std::vector<const program*> programs{prog.get()};
      ringmail::sieve::run_result result =
          ringmail::sieve::run_scripts(programs, view, env, environment, host, fixed_now);
      std::cout << ", \"compile_error\": null, \"error\": " << json_optional(result.error)
                << ", \"actions\": [";
      for (size_t a = 0; a < result.actions.size(); ++a) {
        if (a) std::cout << ", ";
        std::cout << json_action(result.actions[a]);
      }
      std::cout << "], \"implicit_keep\": " << (result.implicit_keep ? "true" : "false")
                << ", \"implicit_keep_flags\": " << json_strings(result.implicit_keep_flags)
                << "}\n";
    }
  }
  return std::cout.good() ? 0 : 1;
}

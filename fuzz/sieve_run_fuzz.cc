// libFuzzer target for the Sieve interpreter (delivery/sieve/interpreter.h): a script and
// a message from the input, compile_script -> compile -> run_scripts with a trivial host
// whose every include is the script itself (so include loops and :once are reached).
// Input: byte 0 picks small limits (steps, actions, redirects, include depth, variable
// sizes, match steps); the rest is "script \0 message" (no NUL: the message is a fixed
// one). Invariants:
//   - compiling and running never crash and end within the limits;
//   - a run-time error has a text naming its line ("line L, column C: ...");
//   - without an error: at most max_actions actions, at most max_redirects redirects, at
//     most max_vacation_per_run vacations, no two stores into the same mailbox (merged),
//     the implicit keep set (for one script) only when no keep/fileinto/redirect without
//     :copy, discard or reject ran, and steps within max_steps.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "delivery/sieve/checker.h"
#include "delivery/sieve/interpreter.h"
#include "delivery/sieve/message_view.h"
#include "mail/charset.h"

namespace {

using namespace ringmail::sieve;

class self_host : public script_host {
 public:
  explicit self_host(const program* self) : self_(self) {}
  bool mailbox_exists(std::string_view name) const override {
    return name == "INBOX" || name == "Junk";
  }
  bool duplicate_seen(std::string_view id) const override { return id.size() % 2 == 0; }
  const program* included(std::string_view name, bool) const override {
    return name == "missing" ? nullptr : self_;
  }

 private:
  const program* self_;
};

constexpr std::string_view kMessage =
    "Received: from a by b; Thu, 15 Jan 2026 10:59:00 +0000\r\n"
    "Date: Wed, 14 Jan 2026 23:30:05 -0500\r\n"
    "From: Coyote <coyote@example.org>\r\n"
    "To: me+tag@example.com, other@example.net\r\n"
    "Subject: =?UTF-8?Q?caf=C3=A9?= [list] money\r\n"
    "Message-ID: <1@example.org>\r\n"
    "X-Spam-Status: Yes, score=7.1 required=5.0 tests=X\r\n"
    "X-Spam-Score: 7.1\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n"
    "\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nhello money\r\n"
    "--b\r\nContent-Type: text/html\r\n\r\n<p>hello <b>html</b></p>\r\n--b--\r\n";

void fail(const char* what) {
  __builtin_trap();
  (void)what;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t knobs = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view script = rest;
  std::string_view message = kMessage;
  if (size_t nul = rest.find('\0'); nul != std::string_view::npos) {
    script = rest.substr(0, nul);
    message = rest.substr(nul + 1);
  }
  if (script.size() > 16 * 1024 || message.size() > 64 * 1024) return 0;

  absl::StatusOr<checked_script> checked = compile_script(script);
  if (!checked.ok()) return 0;
  compile_limits climits;
  climits.regex.max_subject_bytes = 256;
  absl::StatusOr<std::shared_ptr<const program>> p = compile(*std::move(checked), climits);
  if (!p.ok()) return 0;
  (void)includes_of(**p);

  run_limits limits;
  if (knobs & 1) {
    limits.max_steps = 50;
    limits.max_actions = 3;
    limits.max_redirects = 1;
    limits.max_include_depth = 2;
  } else {
    limits.max_steps = 5000;
  }
  if (knobs & 2) {
    limits.variables.max_variables = 4;
    limits.variables.max_value_bytes = 16;
    limits.variables.max_expansion_bytes = 64;
  }
  if (knobs & 4) limits.match.max_steps = 1000;

  ringmail::mail::charset_converter charsets;
  message_view view(message, charsets);
  envelope env;
  env.from = (knobs & 8) ? "" : "coyote@example.org";
  env.to = "me+tag@example.com";
  env.original_to = env.to;
  environment_items environment;
  environment.domain = "example.com";
  environment.host = "mx.example.com";
  if (knobs & 16) environment.remote_host = "client.example.org";
  self_host host(p->get());
  std::vector<const program*> scripts = {p->get()};
  if (knobs & 32) scripts.push_back(p->get());  // the same script as sieve_after too
  run_result r = run_scripts(scripts, view, env, environment, host, 1768478400, limits);

  if (r.error) {
    if (r.error->find("line ") == std::string::npos) fail("error without a place");
    return 0;
  }
  if (r.steps > limits.max_steps) fail("steps over the limit");
  // Multiscript: the limits apply to the whole result (each script's actions count).
  if (r.actions.size() > limits.max_actions) fail("too many actions");
  size_t redirects = 0, vacations = 0;
  bool cancels_keep = false;
  for (size_t i = 0; i < r.actions.size(); ++i) {
    const action& a = r.actions[i];
    if (a.kind == action::redirect) ++redirects;
    if (a.kind == action::vacation) ++vacations;
    if (((a.kind == action::keep || a.kind == action::fileinto || a.kind == action::redirect) &&
         !a.copy) ||
        a.kind == action::discard || a.kind == action::reject || a.kind == action::ereject) {
      cancels_keep = true;
    }
    for (size_t j = 0; j < i; ++j) {
      const action& b = r.actions[j];
      if (a.kind == b.kind && (a.kind == action::keep ||
                               (a.kind == action::fileinto && a.mailbox == b.mailbox))) {
        fail("two stores into one mailbox");
      }
    }
  }
  if (redirects > limits.max_redirects * scripts.size()) fail("too many redirects");
  if (vacations > limits.max_vacation_per_run * scripts.size()) fail("too many vacations");
  // (With two scripts the first one's `keep` lets the second run with its own implicit
  // keep, so this holds for one script only.)
  if (scripts.size() == 1 && r.implicit_keep && cancels_keep) {
    fail("implicit keep after a cancelling action");
  }
  return 0;
}

// The actions of one run as they accumulate (interpreter.h's run_result::actions): merging
// of duplicates (RFC 5228 2.10.3), the implicit keep (2.10.2), the conflicts RFC 5429 asks
// for, and the action limits. Internal to the interpreter. Pure.
//
// As Pigeonhole 0.5.19 (lib-sieve/sieve-result.c, cmd-*.c) does it:
//   - keep and fileinto store into a mailbox; "INBOX" (any case) is the keep's mailbox.
//     A store into a mailbox already stored into is not a new action: the first keeps its
//     place and its :copy, takes the last one's flags, and is :create if either was
//     (sieve-test: `fileinto "A"; fileinto :copy :flags "f" "A";` prints one store into
//     A with flags f and without "preserve implicit keep").
//   - redirect to an address already redirected to is not a new action (it keeps the
//     first one's :copy, as sieve-test shows); discard twice is one discard.
//   - reject/ereject conflict with any store or redirect not yet executed (:copy ones
//     too: Pigeonhole's check looks at the action, not at :copy) and with vacation, in
//     either order, and a second reject is an error; a second vacation is an error past
//     run_limits::max_vacation_per_run. Actions of an earlier script of a multiscript run
//     count as executed (Pigeonhole executes each script's result before the next runs),
//     so they conflict with nothing: start_script().
//   - the implicit keep is cancelled by keep, fileinto and redirect without :copy, by
//     discard and by reject/ereject; not by vacation or duplicate tracking, and not by a
//     store or redirect merged into an earlier one (sieve-test: `fileinto :copy "A";
//     fileinto "A";` and `redirect :copy "a@x"; redirect "a@x";` keep the implicit keep;
//     so does a sieve_after script's fileinto into a folder a sieve_before script
//     already filed into).
//   - past max_actions actions (after merging), or past max_redirects redirects, the run
//     fails (a run-time error, RFC 5228 2.10.6).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "delivery/sieve/interpreter.h"

namespace ringmail::sieve {

class result_builder {
 public:
  explicit result_builder(const run_limits& limits) : limits_(limits) {}

  // `where` prefixes error texts ("line 3, column 1").
  // `keep_command`: the `keep` command (not fileinto "INBOX"), which lets the next script
  // of a multiscript run go on (explicit_keep()).
  absl::Status store(std::string mailbox, std::vector<std::string> flags, bool copy,
                     bool create, bool keep_command, const std::string& where);
  absl::Status redirect(std::string address, bool copy, const std::string& where);
  absl::Status reject(action::kind_t kind, std::string reason, const std::string& where);
  absl::Status discard(const std::string& where);
  absl::Status vacation(action a, const std::string& where);
  absl::Status track_duplicate(action a, const std::string& where);

  // The next script of a multiscript run starts: the actions so far count as executed
  // (its conflicts ignore them), and it has its own implicit keep.
  void start_script() {
    executed_ = actions_.size();
    implicit_keep_ = true;
    explicit_keep_ = false;
  }

  bool implicit_keep() const { return implicit_keep_; }
  // The current script ran the `keep` command.
  bool explicit_keep() const { return explicit_keep_; }
  std::vector<action>& actions() { return actions_; }

 private:
  absl::Status add(action a, const std::string& where);
  absl::Status check_conflicts(const action& a, const std::string& where) const;

  const run_limits& limits_;
  std::vector<action> actions_;
  size_t executed_ = 0;
  bool implicit_keep_ = true;
  bool explicit_keep_ = false;
};

}  // namespace ringmail::sieve

// The state of one run_scripts() call and the walkers over compiled programs: tests in
// run_tests.cc, commands and control flow in run_commands.cc. Internal to the interpreter.
//
// Variables (RFC 5229, RFC 6609 3.3): every script invocation (the main script and each
// include) has its own `scope` with its own variable store, so an included script does
// not see the includer's variables; variables declared `global` live in the run's global
// store. The matching library's expansion reads one store, so a scope mirrors the
// globals it uses: `global "x"` copies the global value in, a `set` of a global writes
// both stores, and after an include returns the includer re-reads every global it
// declared (only an include can change a global behind a scope's back). "${global.x}"
// (RFC 6609 3.3's namespace) is mirrored the same way under its full name, for every
// global of the run, declared in that scope or not (as Pigeonhole: an included script
// reads "${global.g}" without declaring g).
#pragma once

#include <ctime>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "delivery/sieve/address_part.h"
#include "delivery/sieve/interpreter.h"
#include "delivery/sieve/program.h"
#include "delivery/sieve/result.h"
#include "delivery/sieve/variables.h"

namespace ringmail::sieve {

struct scope {
  scope(const program& p, const matching::variable_limits& limits, size_t depth)
      : prog(p), locals(limits), depth(depth) {}

  const program& prog;
  matching::variable_store locals;
  absl::flat_hash_set<std::string> globals_declared;  // lower-cased names
  size_t depth;  // 0 for a top-level script
};

enum class flow { next, stop, return_ };

class run_state {
 public:
  run_state(message_view& message, const envelope& env, const environment_items& environment,
            const script_host& host, std::time_t now, const run_limits& limits)
      : message_(message), env_(env), environment_(environment), host_(host), now_(now),
        limits_(limits), result_(limits), globals_(limits.variables) {}

  // One top-level script (the globals and the :once list start empty for each).
  absl::Status run_script(const program& p);

  result_builder& result() { return result_; }
  const std::string& internal_flags() const { return internal_flags_; }
  size_t steps() const { return steps_; }

 private:
  // run_commands.cc
  absl::StatusOr<flow> run_block(scope& s, const std::vector<compiled_command>& block);
  absl::StatusOr<flow> run_command(scope& s, const compiled_command& c);
  absl::StatusOr<flow> run_include(scope& s, const checked_command& c);
  absl::Status run_vacation(scope& s, const checked_command& c);
  absl::Status run_flags(scope& s, const checked_command& c);
  absl::Status run_set(scope& s, const checked_command& c);
  absl::Status run_deleteheader(scope& s, const compiled_command& c);
  absl::StatusOr<std::vector<std::string>> store_flags(scope& s, const checked_arguments& a);

  // run_tests.cc
  absl::StatusOr<bool> test(scope& s, const compiled_test& t);
  absl::StatusOr<bool> match(scope& s, const compiled_test& t, const value& keys,
                             const std::vector<std::string>& values);
  // `test`: the test whose keys these are (test_keys()), nullopt for deleteheader's.
  absl::StatusOr<bool> match_with(scope& s, const matching::match_spec& spec,
                                  const std::optional<matching::compiled_match>& compiled,
                                  const value& keys, const std::vector<std::string>& values,
                                  source_location where, std::optional<test_id> test);
  absl::StatusOr<bool> test_address(scope& s, const compiled_test& t);
  absl::StatusOr<bool> test_envelope(scope& s, const compiled_test& t);
  absl::StatusOr<bool> test_header(scope& s, const compiled_test& t);
  absl::StatusOr<bool> test_hasflag(scope& s, const compiled_test& t);
  absl::StatusOr<bool> test_date(scope& s, const compiled_test& t);
  absl::StatusOr<bool> test_duplicate(scope& s, const compiled_test& t);
  absl::StatusOr<bool> test_environment(scope& s, const compiled_test& t);
  // The fields [first, last) of `count` fields that :index / :last select (RFC 5260 6):
  // all of them without :index, one or none with it.
  static std::pair<size_t, size_t> indexed(const checked_arguments& a, size_t count);

  // The message's header as the tests ask for it, cached for the run: the values of the
  // fields named `name` (message_view::header_values), and their address lists. Tests ask
  // the same few fields again and again (a 50-rule script asks From and Subject dozens of
  // times); editheader clears the cache (forget_header()). std::deque: references to
  // entries stay valid while later entries are added.
  const std::vector<std::string>& header(std::string_view name, bool decode);
  const std::vector<std::vector<matching::parsed_address>>& addresses(std::string_view name);
  void forget_header();

  // Shared helpers (run_commands.cc).
  absl::Status step(source_location where);
  absl::StatusOr<std::string> expand(scope& s, const std::string& text, source_location where);
  absl::StatusOr<std::vector<std::string>> expand_list(scope& s, const value& v);
  absl::Status set_variable(scope& s, std::string_view name, std::string_view value,
                            source_location where);
  std::optional<std::string> get_variable(const scope& s, std::string_view name) const;
  void refresh_globals(scope& s);

  message_view& message_;
  const envelope& env_;
  const environment_items& environment_;
  const script_host& host_;
  std::time_t now_;
  const run_limits& limits_;
  result_builder result_;
  matching::variable_store globals_;
  std::vector<std::string> global_names_;  // every name globals_ holds, lower-cased
  std::string internal_flags_;  // imap4flags' internal variable (RFC 5232 3)
  std::vector<std::pair<std::string, bool>> included_;  // (name, global) included so far
  std::vector<std::pair<std::string, bool>> duplicates_;  // (duplicate_id, answer) this run
  // The body under each transform asked for so far: decoding and HTML rendering cost far
  // more than matching, and a script asks several body tests of one message (editheader
  // does not change the body, so the cache holds for the whole run).
  struct body_entry {
    body_transform transform;
    std::vector<std::string> content_types;
    std::vector<std::string> values;
  };
  std::vector<body_entry> bodies_;
  struct header_entry {
    std::string name;
    bool decode;
    std::vector<std::string> values;
  };
  std::deque<header_entry> headers_;
  struct address_entry {
    std::string name;
    std::vector<std::vector<matching::parsed_address>> fields;  // one list per field
  };
  std::deque<address_entry> addresses_;
  const std::vector<std::string>& body(body_transform transform,
                                       const std::vector<std::string>& content_types);
  size_t steps_ = 0;
  uint64_t match_work_ = 0;  // run_limits::max_match_work
};

// "line L, column C" for error texts.
std::string where_text(source_location where);

}  // namespace ringmail::sieve

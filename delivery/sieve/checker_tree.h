// The checked form of a Sieve script: what the checker (checker.h) hands to a compiler or
// interpreter. Every name is resolved to an enum, every tag to its id with its value,
// every positional argument sits in the slot its command's syntax gives it, the
// extensions in force are known, and encoded characters (RFC 5228 2.4.2.4) are decoded.
// Nothing here needs checking again: a walker may index positional slots and switch on
// ids without defaults for "cannot happen".
//
// How to read a node (the syntax of every command and test is in extensions.cc, one
// table row each, written as in its RFC):
//   - `positional[i]` is the i-th positional argument of the RFC's syntax line; an
//     optional one that was left out has kind `none` (setflag's variable name, RFC 5232;
//     deleteheader's value patterns, RFC 5293). A string-list slot holds a lone string
//     as a list of one, so `strings` is always the list.
//   - comparator, match type (with the relation of :value/:count, RFC 5231) and address
//     part are resolved into their own fields (compare, match + relational, part), with
//     the RFC defaults (i;ascii-casemap, :is, :all) when the script gave none; the
//     `*_given` flags say whether the script named one.
//   - every other tag is in `tags`, in script order, with its value (:days 7, :flags
//     [...], :zone "+0100", :copy with none); find() looks one up.
//   - strings are left unexpanded: "${...}" variable references (RFC 5229) are expanded
//     at run time by the match code (delivery/sieve/match*), which also knows whether
//     "variables" is in `extensions`.
// Strings are byte strings (UTF-8 by RFC 5228 1.2, not re-checked here).
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "delivery/sieve/ast.h"

namespace ringmail::sieve {

// Every capability `require` knows (RFC 5228 3.2 and the extensions' RFCs). The core
// comparators "comparator-i;octet" and "comparator-i;ascii-casemap" are always in force
// and have no entry; require accepts them.
enum class extension : uint8_t {
  fileinto,                    // RFC 5228 4.1
  reject,                      // RFC 5429
  ereject,                     // RFC 5429
  envelope,                    // RFC 5228 5.4
  encoded_character,           // RFC 5228 2.4.2.4
  imap4flags,                  // RFC 5232
  vacation,                    // RFC 5230
  vacation_seconds,            // RFC 6131 (implies vacation)
  variables,                   // RFC 5229
  relational,                  // RFC 5231
  comparator_i_ascii_numeric,  // RFC 4790 9.1, "comparator-i;ascii-numeric"
  subaddress,                  // RFC 5233
  body,                        // RFC 5173
  date,                        // RFC 5260
  index,                       // RFC 5260 section 6
  mailbox,                     // RFC 5490
  include,                     // RFC 6609
  spamtest,                    // RFC 5235
  spamtestplus,                // RFC 5235 (implies spamtest)
  duplicate,                   // RFC 7352
  environment,                 // RFC 5183
  editheader,                  // RFC 5293
  regex,                       // draft-ietf-sieve-regex, as Pigeonhole implements it
  copy,                        // RFC 3894
  count,                       // not an extension: the number of them
};
using extension_set = std::bitset<static_cast<size_t>(extension::count)>;

inline bool has(const extension_set& set, extension e) {
  return set.test(static_cast<size_t>(e));
}

enum class command_id : uint8_t {
  require, if_, elsif, else_, stop, keep, discard, redirect,  // RFC 5228
  fileinto,                                                    // RFC 5228 4.1
  reject, ereject,                                             // RFC 5429
  setflag, addflag, removeflag,                                // RFC 5232
  vacation,                                                    // RFC 5230, 6131
  set,                                                         // RFC 5229
  include, return_, global,                                    // RFC 6609
  addheader, deleteheader,                                     // RFC 5293
};

enum class test_id : uint8_t {
  address, allof, anyof, envelope, exists, false_, header, not_, size, true_,  // RFC 5228
  hasflag,                                                                   // RFC 5232
  string,                                                                    // RFC 5229
  body,                                                                      // RFC 5173
  date, currentdate,                                                         // RFC 5260
  mailboxexists,                                                             // RFC 5490
  spamtest,                                                                  // RFC 5235
  duplicate,                                                                 // RFC 7352
  environment,                                                               // RFC 5183
};

enum class comparator : uint8_t { i_octet, i_ascii_casemap, i_ascii_numeric };

enum class match_type : uint8_t {
  is, contains, matches,  // RFC 5228 2.7.1
  regex,                  // "regex"
  value, count,           // RFC 5231 (relation says which)
};

enum class relation : uint8_t { none, gt, ge, lt, le, eq, ne };

enum class address_part : uint8_t {
  all, localpart, domain,  // RFC 5228 2.7.4
  user, detail,            // RFC 5233
};

// Tags other than comparator, match types and address parts.
enum class tag_id : uint8_t {
  over, under,                                   // size (RFC 5228 5.9)
  copy,                                          // redirect, fileinto (RFC 3894)
  flags,                                         // keep, fileinto (RFC 5232): string list
  create,                                        // fileinto (RFC 5490)
  days, seconds, subject, from, addresses, mime, handle,  // vacation (RFC 5230, 6131)
  lower, upper, lowerfirst, upperfirst, quotewildcard, length,  // set (RFC 5229)
  raw, content, text,                            // body transforms (RFC 5173)
  zone, originalzone,                            // date, currentdate (RFC 5260)
  index, last,                                   // RFC 5260 6; addheader/deleteheader
  personal, global, once, optional,              // include (RFC 6609)
  percent,                                       // spamtest (RFC 5235)
  header, uniqueid,                              // duplicate (RFC 7352); also :handle,
                                                 // :seconds, :last
};

enum class value_kind : uint8_t { none, number, string, string_list };

struct value {
  value_kind kind = value_kind::none;
  source_location where;
  uint64_t number = 0;               // kind number
  std::vector<std::string> strings;  // kind string: one; kind string_list: one or more

  const std::string& string() const { return strings.front(); }  // kind string
  bool operator==(const value&) const = default;
};

struct checked_tag {
  tag_id id;
  source_location where;
  value parameter;  // kind none for a tag without one (:copy, :last)

  bool operator==(const checked_tag&) const = default;
};

struct checked_arguments {
  comparator compare = comparator::i_ascii_casemap;
  bool compare_given = false;
  match_type match = match_type::is;
  relation relational = relation::none;  // set for match_type value/count
  bool match_given = false;
  address_part part = address_part::all;
  bool part_given = false;
  std::vector<checked_tag> tags;
  std::vector<value> positional;  // one slot per positional argument of the syntax

  const checked_tag* find(tag_id id) const {
    for (const checked_tag& t : tags) {
      if (t.id == id) return &t;
    }
    return nullptr;
  }
  bool operator==(const checked_arguments&) const = default;
};

struct checked_test {
  test_id id;
  source_location where;
  checked_arguments arguments;
  std::vector<checked_test> tests;  // allof/anyof: one or more; not: exactly one

  bool operator==(const checked_test&) const = default;
};

struct checked_command {
  command_id id;
  source_location where;
  checked_arguments arguments;
  std::vector<checked_test> test;  // if/elsif: exactly one; others: none
  std::vector<checked_command> block;  // if/elsif/else: the block (maybe empty)

  bool operator==(const checked_command&) const = default;
};

struct diagnostic {
  source_location where;
  std::string message;  // "line L, column C: ..."
};

struct checked_script {
  extension_set extensions;  // required (with what they imply)
  // require commands are checked and dropped: `extensions` says what they asked for.
  std::vector<checked_command> commands;
  // Things Pigeonhole warns about but runs (an unknown date part, a malformed :zone):
  // for ManageSieve's "OK (WARNINGS)" (RFC 5804 1.3) and the logs.
  std::vector<diagnostic> warnings;
};

}  // namespace ringmail::sieve

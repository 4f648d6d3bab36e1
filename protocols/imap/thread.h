// THREAD (RFC 5256 section 3 "THREAD command"; REFS from draft-ietf-morg-inthread as
// Dovecot 2.3 implements it): the thread tree of a set of messages and its response text.
// Pure, over sort_facts (sort.h); nothing here reads files.
//
// ORDEREDSUBJECT (RFC 5256): "The ORDEREDSUBJECT threading algorithm ... sorts the
//   searched messages by base subject and then by the sent date. The messages are then
//   split into separate threads, with each thread containing messages with the same base
//   subject text. Finally, the threads are sorted by the sent date of the first message
//   in the thread. The first message of each thread becomes the parent of the others,
//   which are siblings of each other."
// REFERENCES (RFC 5256), step by step in thread.cc:
//   (1) containers by Message-ID; a message without a (valid) Message-ID, or with one an
//       earlier message already holds, gets a unique one nobody can refer to; each
//       message's references are linked parent -> child in order unless the child
//       already has a parent or the link would make a loop; the message's parent is its
//       last reference (a link presumed earlier is replaced) unless that makes a loop;
//   (2) the root set is the containers without a parent;
//   (4) dummies (referenced, never seen) are pruned: without children they go; with
//       children they are replaced by their children, except at the root where only a
//       dummy with exactly one child is;
//   (5) roots with the same (non-empty) base subject are merged, the roots taken in
//       sent-date order and a dummy standing for its oldest child (both as Dovecot;
//       RFC 5256 leaves the order open and says "first child"): both dummies -> one
//       dummy with all the children; a dummy and a message -> the message under the
//       dummy; a message and a reply/forward -> the reply under the message; otherwise
//       both under a new dummy;
//   (6) every sibling list is sorted by sent date (sort.h DATE: Date: or INTERNALDATE),
//       ties by sequence number; a dummy sorts by its first child after that child's
//       list is sorted.
// REFS: (1), (2), (4) and (6) as REFERENCES, no subject merging (5), and the threads (the
//   root set) ordered by the newest sent date anywhere in each thread, as Dovecot's
//   THREAD=REFS (draft-ietf-morg-inthread section 3: "sorted by the date of the most
//   recent message").
//
// Hostile input: 10,000 references in a message cost O(10,000) links (a loop check walks
// parents only when the would-be child already has children); reference loops are
// refused link by link; every walk over the tree (pruning, sorting, rendering) uses an
// explicit stack, so a chain 100,000 deep costs memory, not the C++ stack.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "protocols/imap/command.h"
#include "protocols/imap/sort.h"

namespace ringmail::imap {

// What a THREAD needs of each message (sort_need bits).
uint32_t thread_needs(thread_algorithm alg);

// The THREAD response's data for `messages` (ascending sequence numbers): "(1 2)(3)",
// "" when there are none. Numbers are UIDs when `uid`, else sequence numbers.
std::string thread_response(std::span<const sort_facts> messages, thread_algorithm alg, bool uid);

// One message as thread_response sees it without a copy of its values: its sequence
// number and UID in the session's view, and its values (e.g. the shard's sort_cache
// entry, whose own seq and uid are not read). `values` must outlive the call.
struct thread_message {
  uint32_t seq = 0;
  uint32_t uid = 0;
  const sort_facts* values = nullptr;
};

// The same over references to the values (sort_commands.cc: a warm THREAD copies no
// message-ids or References out of the cache).
std::string thread_response(std::span<const thread_message> messages, thread_algorithm alg, bool uid);

}  // namespace ringmail::imap

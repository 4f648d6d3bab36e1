#include "protocols/imap/qresync_parser.h"

namespace ringmail::imap::detail {

namespace {

bool has_star(const sequence_set& s) {
  for (const seq_range& r : s.ranges) {
    if (r.first == seq_range::star || r.last == seq_range::star) return true;
  }
  return false;
}

// A sequence-set without "$" or "*" (RFC 7162: "'*' is not allowed").
bool plain_set(cursor& c, sequence_set& out) {
  if (!parse_sequence_set(c, out)) return false;
  if (out.saved || has_star(out)) return c.fail("Invalid QRESYNC UID set");
  return true;
}

}  // namespace

uint64_t count_as_written(const sequence_set& set) {
  uint64_t n = 0;
  for (const seq_range& r : set.ranges) {
    const uint32_t lo = r.first < r.last ? r.first : r.last;
    const uint32_t hi = r.first < r.last ? r.last : r.first;
    n += uint64_t{hi} - lo + 1;
  }
  return n;
}

bool parse_qresync_param(cursor& c, qresync_param& q) {
  q = {};
  if (!c.expect('(') || !c.nz_number(q.uid_validity) || !c.sp() || !c.number64(q.modseq)) return false;
  if (q.modseq == 0) return c.fail("Invalid QRESYNC mod-sequence");
  bool more = c.take(' ');
  if (more && c.peek() != '(') {
    q.known_uids.emplace();
    if (!plain_set(c, *q.known_uids)) return false;
    more = c.take(' ');
  }
  if (more) {
    q.match_seqs.emplace();
    q.match_uids.emplace();
    if (!c.expect('(') || !plain_set(c, *q.match_seqs) || !c.sp() || !plain_set(c, *q.match_uids) ||
        !c.expect(')')) {
      return false;
    }
    if (count_as_written(*q.match_seqs) != count_as_written(*q.match_uids)) {
      return c.fail("QRESYNC sequence match data of unequal length");
    }
  }
  return c.expect(')');
}

}  // namespace ringmail::imap::detail

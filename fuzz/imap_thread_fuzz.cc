// libFuzzer target for SORT and THREAD (protocols/imap/base_subject.h, sort.h, thread.h):
// the input is split into messages at "\n--\n"; each message is a header block (random
// Subject/From/Message-ID/References/In-Reply-To/Date) read as the session reads it. Every
// message goes through fill_sort_facts, sort_order with every key (and REVERSE), and the
// three THREAD algorithms. Invariants: the base subject is a fixed point (the base subject
// of a base subject is itself, since the rules only strip); the sort order is a
// permutation; each THREAD response names every message exactly once, with balanced
// parentheses; nothing hangs (libFuzzer's -timeout catches quadratic blow-ups).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mail/charset.h"
#include "protocols/imap/base_subject.h"
#include "protocols/imap/sort.h"
#include "protocols/imap/thread.h"

using namespace ringmail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mail::charset_converter charsets;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<imap::sort_facts> facts;
  size_t pos = 0;
  while (pos <= in.size() && facts.size() < 200) {
    size_t end = in.find("\n--\n", pos);
    std::string_view header = in.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    imap::sort_facts& f = facts.emplace_back();
    f.seq = static_cast<uint32_t>(facts.size());
    f.uid = f.seq * 3;
    f.internal_date = static_cast<int64_t>(header.size()) * 1000;
    f.size = header.size() % 7;
    imap::fill_sort_facts(header, 0xffffffffu, charsets, f);
    // Idempotence of the base subject (on its own output, already case-mapped).
    imap::base_subject_result again = imap::base_subject_of_text(f.subject);
    if (again.subject != f.subject) abort();
    if (end == std::string_view::npos) break;
    pos = end + 4;
  }
  using k = imap::sort_criterion::kind;
  for (k key : {k::arrival, k::cc, k::date, k::from, k::size, k::subject, k::to, k::display_from, k::display_to}) {
    for (bool reverse : {false, true}) {
      std::vector<imap::sort_criterion> c = {{key, reverse}, {k::subject, !reverse}};
      std::vector<uint32_t> order = imap::sort_order(facts, c);
      std::vector<bool> seen(facts.size(), false);
      if (order.size() != facts.size()) abort();
      for (uint32_t i : order) {
        if (i >= facts.size() || seen[i]) abort();
        seen[i] = true;
      }
    }
  }
  for (auto alg : {imap::thread_algorithm::ordered_subject, imap::thread_algorithm::references,
                   imap::thread_algorithm::refs}) {
    std::string r = imap::thread_response(facts, alg, false);
    std::vector<int> count(facts.size() + 1, 0);
    int depth = 0;
    for (size_t i = 0; i < r.size();) {
      char c = r[i];
      if (c == '(') {
        ++depth;
        ++i;
      } else if (c == ')') {
        if (--depth < 0) abort();
        ++i;
      } else if (c == ' ') {
        ++i;
      } else if (c >= '0' && c <= '9') {
        size_t n = 0;
        while (i < r.size() && r[i] >= '0' && r[i] <= '9') n = n * 10 + static_cast<size_t>(r[i++] - '0');
        if (n == 0 || n > facts.size()) abort();
        ++count[n];
      } else {
        abort();
      }
    }
    if (depth != 0) abort();
    for (size_t n = 1; n <= facts.size(); ++n) {
      if (count[n] != 1) abort();
    }
  }
  return 0;
}

// SORT and THREAD arguments (RFC 5256 section 5 "Formal Syntax", RFC 5957 SORT=DISPLAY,
// RFC 5267 section 3 ESORT's RETURN):
//
//   sort            = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP
//                     search-criteria
//   sort-criteria   = "(" sort-criterion *(SP sort-criterion) ")"
//   sort-criterion  = ["REVERSE" SP] sort-key
//   sort-key        = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO" /
//                     "DISPLAYFROM" / "DISPLAYTO"
//   thread          = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
//   thread-alg      = "ORDEREDSUBJECT" / "REFERENCES" / "REFS"
//   search-criteria = charset 1*(SP search-key)
//
// Unlike SEARCH, the charset is required. The search keys are SEARCH's (search_parser.cc);
// RETURN takes ESEARCH's MIN, MAX, ALL, COUNT (RFC 5267 3.1) and SAVE (RFC 5182 section
// 2.4 lets SORT save); PARTIAL (CONTEXT=SORT) is not supported and is a BAD. An unknown
// algorithm is a BAD too (RFC 5256 leaves it open; Dovecot answers BAD).
#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap::detail {

namespace {

bool sort_return_options(cursor& c, search_return& ret) {
  if (!c.sp() || !c.expect('(')) return false;
  if (c.take(')')) {
    ret.all = true;  // "RETURN ()" is RETURN (ALL) (RFC 4731 3.1)
    return true;
  }
  do {
    std::string o = upper(c.word());
    if (o == "MIN") ret.min = true;
    else if (o == "MAX") ret.max = true;
    else if (o == "ALL") ret.all = true;
    else if (o == "COUNT") ret.count = true;
    else if (o == "SAVE") ret.save = true;
    else return c.fail("Unknown SORT return option");
  } while (c.take(' '));
  return c.expect(')');
}

bool sort_criteria(cursor& c, std::vector<sort_criterion>& out) {
  using k = sort_criterion::kind;
  static constexpr std::pair<std::string_view, k> keys[] = {
      {"ARRIVAL", k::arrival}, {"CC", k::cc},     {"DATE", k::date},
      {"FROM", k::from},       {"SIZE", k::size}, {"SUBJECT", k::subject},
      {"TO", k::to},           {"DISPLAYFROM", k::display_from}, {"DISPLAYTO", k::display_to},
  };
  if (!c.expect('(')) return false;
  do {
    sort_criterion s;
    std::string name = upper(c.word());
    if (name == "REVERSE") {
      s.reverse = true;
      if (!c.sp()) return false;
      name = upper(c.word());
    }
    bool known = false;
    for (const auto& [n, kind] : keys) {
      if (name == n) {
        s.k = kind;
        known = true;
      }
    }
    if (!known) return c.fail("Invalid sort criterion");
    out.push_back(s);
  } while (c.take(' '));
  return c.expect(')');
}

// SP charset SP search-key *(SP search-key), into cmd.charset and cmd.search.
bool search_criteria(cursor& c, command& cmd) {
  std::string charset;
  if (!c.sp()) return false;
  if (c.peek() == '"') {
    if (!c.quoted(charset)) return false;
  } else if (!c.atom(charset)) {
    return c.fail("Missing charset");
  }
  // The keys are SEARCH's; its optional RETURN and CHARSET must not follow a charset.
  const bool esearch = cmd.esearch;
  const search_return ret = cmd.search_ret;
  cmd.esearch = false;
  cmd.charset.clear();
  if (!parse_search_args(c, cmd)) return false;
  if (cmd.esearch || !cmd.charset.empty()) return c.fail("Syntax error in search criteria");
  cmd.esearch = esearch;
  cmd.search_ret = ret;
  cmd.charset = upper(charset);
  return true;
}

}  // namespace

bool parse_sort_args(cursor& c, command& cmd) {
  if (!c.sp()) return false;
  if (c.take_word("RETURN")) {
    cmd.esearch = true;
    if (!sort_return_options(c, cmd.search_ret) || !c.sp()) return false;
  }
  return sort_criteria(c, cmd.sort) && search_criteria(c, cmd);
}

bool parse_thread_args(cursor& c, command& cmd) {
  if (!c.sp()) return false;
  std::string alg = upper(c.word());
  if (alg == "ORDEREDSUBJECT") cmd.thread = thread_algorithm::ordered_subject;
  else if (alg == "REFERENCES") cmd.thread = thread_algorithm::references;
  else if (alg == "REFS") cmd.thread = thread_algorithm::refs;
  else return c.fail("Unknown thread algorithm");
  return search_criteria(c, cmd);
}

}  // namespace ringmail::imap::detail

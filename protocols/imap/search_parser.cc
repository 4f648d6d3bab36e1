// SEARCH arguments (RFC 9051 sections 6.4.4 and 9, RFC 3501 for NEW/OLD/RECENT, RFC 4731
// and 9051 6.4.4.1 for RETURN, RFC 5182 for "$", RFC 7162 for MODSEQ):
//
//   search = "SEARCH" [search-return-opts] SP search-program
//   search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
//   search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)
//   search-key = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date / ... /
//                "NOT" SP search-key / "OR" SP search-key SP search-key / "UID" SP
//                sequence-set / sequence-set / "(" search-key *(SP search-key) ")"
//
// The parsed program is always an and_ node holding the top-level keys. "RETURN ()"
// means RETURN (ALL) (RFC 4731 section 3.1). Departures: "UNRECENT" (no RFC defines
// it, some old clients send it) is read as NOT RECENT; MODSEQ's optional entry name and
// type (RFC 7162 section 3.1.5) are checked and dropped, as we keep one mod-sequence per
// message. Nesting (parentheses, NOT, OR) is bounded by max_depth.
#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap::detail {

namespace {

using k = search_key::kind;

struct keyword_kind {
  std::string_view name;
  k kind;
};

// Keys without arguments.
constexpr keyword_kind flag_keys[] = {
    {"ALL", k::all},           {"ANSWERED", k::answered},     {"DELETED", k::deleted},
    {"DRAFT", k::draft},       {"FLAGGED", k::flagged},       {"SEEN", k::seen},
    {"RECENT", k::recent},     {"NEW", k::new_},              {"OLD", k::old},
    {"UNANSWERED", k::unanswered}, {"UNDELETED", k::undeleted}, {"UNDRAFT", k::undraft},
    {"UNFLAGGED", k::unflagged}, {"UNSEEN", k::unseen},
    {"SAVEDATESUPPORTED", k::save_date_supported},  // RFC 8514
};
// Keys with an astring argument.
constexpr keyword_kind string_keys[] = {
    {"BCC", k::bcc}, {"BODY", k::body}, {"CC", k::cc}, {"FROM", k::from},
    {"SUBJECT", k::subject}, {"TEXT", k::text}, {"TO", k::to},
};
// Keys with a date argument.
constexpr keyword_kind date_keys[] = {
    {"BEFORE", k::before},          {"ON", k::on},           {"SINCE", k::since},
    {"SENTBEFORE", k::sent_before}, {"SENTON", k::sent_on},  {"SENTSINCE", k::sent_since},
    {"SAVEDBEFORE", k::saved_before}, {"SAVEDON", k::saved_on}, {"SAVEDSINCE", k::saved_since},  // RFC 8514
};

template <size_t N>
const keyword_kind* find(const keyword_kind (&table)[N], std::string_view name) {
  for (const keyword_kind& e : table) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

bool search_key_at(cursor& c, search_key& key, int depth);

bool modseq_key(cursor& c, search_key& key) {
  key.k = k::modseq;
  if (!c.sp()) return false;
  if (c.peek() == '"') {
    std::string entry, type;
    if (!c.quoted(entry) || !c.sp() || !c.atom(type) || !c.sp()) return false;
    std::string t = upper(type);
    if (t != "PRIV" && t != "SHARED" && t != "ALL") return c.fail("Invalid MODSEQ entry type");
  }
  return c.number64(key.number);
}

bool search_key_at(cursor& c, search_key& key, int depth) {
  if (!c.ok()) return false;
  if (depth >= max_depth) return c.fail("Search keys too deeply nested");
  char p = c.peek();
  if (p == '(') {
    c.take('(');
    key.k = k::and_;
    do {
      key.children.emplace_back();
      if (!search_key_at(c, key.children.back(), depth + 1)) return false;
    } while (c.take(' '));
    return c.expect(')');
  }
  if ((p >= '0' && p <= '9') || p == '*' || p == '$') {
    key.k = k::seq_set;
    return parse_sequence_set(c, key.set);
  }
  std::string name = upper(c.word());
  if (name.empty()) return c.fail(c.eof() ? "Missing search key" : "Invalid search key");
  if (const keyword_kind* e = find(flag_keys, name)) {
    key.k = e->kind;
    return true;
  }
  if (const keyword_kind* e = find(string_keys, name)) {
    key.k = e->kind;
    return c.sp() && c.astring(key.text);
  }
  if (const keyword_kind* e = find(date_keys, name)) {
    key.k = e->kind;
    return c.sp() && c.date(key.date);
  }
  if (name == "KEYWORD" || name == "UNKEYWORD") {
    key.k = name == "KEYWORD" ? k::keyword : k::unkeyword;
    return c.sp() && c.atom(key.text);
  }
  if (name == "HEADER") {
    key.k = k::header;
    std::string field;
    if (!c.sp() || !c.astring(field) || !c.sp() || !c.astring(key.text)) return false;
    key.field = upper(field);
    return true;
  }
  if (name == "LARGER" || name == "SMALLER") {
    key.k = name == "LARGER" ? k::larger : k::smaller;
    return c.sp() && c.number64(key.number);
  }
  if (name == "UID") {
    key.k = k::uid;
    return c.sp() && parse_sequence_set(c, key.set);
  }
  if (name == "NOT" || name == "UNRECENT") {
    key.k = k::not_;
    key.children.emplace_back();
    if (name == "UNRECENT") {
      key.children.back().k = k::recent;
      return true;
    }
    return c.sp() && search_key_at(c, key.children.back(), depth + 1);
  }
  if (name == "OR") {
    key.k = k::or_;
    key.children.resize(2);
    return c.sp() && search_key_at(c, key.children[0], depth + 1) && c.sp() &&
           search_key_at(c, key.children[1], depth + 1);
  }
  if (name == "MODSEQ") return modseq_key(c, key);
  // RFC 8474 section 6: "EMAILID" SP objectid / "THREADID" SP objectid.
  if (name == "EMAILID" || name == "THREADID") {
    key.k = name == "EMAILID" ? k::email_id : k::thread_id;
    return c.sp() && c.atom(key.text);
  }
  // RFC 5032: "OLDER" / "YOUNGER" SP nz-number (seconds).
  if (name == "OLDER" || name == "YOUNGER") {
    key.k = name == "OLDER" ? k::older : k::younger;
    uint32_t n = 0;
    if (!c.sp() || !c.nz_number(n)) return false;
    key.number = n;
    return true;
  }
  return c.fail("Invalid search key");
}

bool return_options(cursor& c, search_return& ret) {
  if (!c.sp() || !c.expect('(')) return false;
  if (c.take(')')) {
    ret.all = true;
    return true;
  }
  do {
    std::string o = upper(c.word());
    if (o == "MIN") ret.min = true;
    else if (o == "MAX") ret.max = true;
    else if (o == "ALL") ret.all = true;
    else if (o == "COUNT") ret.count = true;
    else if (o == "SAVE") ret.save = true;
    else return c.fail("Unknown SEARCH return option");
  } while (c.take(' '));
  return c.expect(')');
}

}  // namespace

bool parse_search_args(cursor& c, command& cmd) {
  if (!c.sp()) return false;
  if (c.take_word("RETURN")) {
    cmd.esearch = true;
    if (!return_options(c, cmd.search_ret) || !c.sp()) return false;
  }
  if (c.take_word("CHARSET")) {
    std::string charset;
    if (!c.sp()) return false;
    if (c.peek() == '"') {
      if (!c.quoted(charset)) return false;
    } else if (!c.atom(charset)) {
      return false;
    }
    cmd.charset = upper(charset);
    if (!c.sp()) return false;
  }
  cmd.search = {};
  cmd.search.k = k::and_;
  do {
    cmd.search.children.emplace_back();
    if (!search_key_at(c, cmd.search.children.back(), 0)) return false;
  } while (c.take(' '));
  return c.end();
}

}  // namespace ringmail::imap::detail

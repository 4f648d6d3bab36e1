// NOTIFY arguments (RFC 5465 section 8):
//
//   notify = "NOTIFY" SP (notify-set / notify-none)
//   notify-none = "NONE"
//   notify-set = "SET" [status-indicator] SP event-groups
//   status-indicator = SP "STATUS"
//   event-groups = event-group *(SP event-group)
//   event-group = "(" filter-mailboxes SP events ")"
//   filter-mailboxes = "selected" / "selected-delayed" / "inboxes" / "personal" /
//                      "subscribed" / ("subtree" SP one-or-more-mailbox) /
//                      ("mailboxes" SP one-or-more-mailbox)
//   one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
//   events = ("(" event *(SP event) ")") / "NONE"
//   event = ("MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]) / "MessageExpunge" /
//           "FlagChange" / "AnnotationChange" / "MailboxName" / "SubscriptionChange" /
//           "MailboxMetadataChange" / "ServerMetadataChange" / event-ext (an atom)
//
// Section 5 rules checked here (BAD): FlagChange or AnnotationChange need MessageNew
// and MessageExpunge in the same group; MessageNew and MessageExpunge come together; a
// filter appears once. Unknown event names are kept (notify_group::unknown_events) for
// the session's NO [BADEVENT], which is what section 5 asks for them.
#include "protocols/imap/metadata_notify_parser.h"

namespace ringmail::imap::detail {

namespace {

using ng = notify_group;

bool mailboxes(cursor& c, std::vector<std::string>& out) {
  if (!c.take('(')) {
    out.emplace_back();
    return c.mailbox(out.back());
  }
  do {
    out.emplace_back();
    if (!c.mailbox(out.back())) return false;
  } while (c.take(' '));
  return c.expect(')');
}

// MessageNew's fetch-atts: the FETCH parser reads "SP ( atts )" and wants nothing
// after, so it gets the list cut out on its own (fetch-atts hold no literals that could
// contain a ')').
bool fetch_atts(cursor& c, std::string_view rest, std::vector<fetch_item>& out) {
  int depth = 0;
  bool quoted = false;
  size_t end = 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    const char ch = rest[i];
    if (quoted) {
      if (ch == '\\') ++i;
      else if (ch == '"') quoted = false;
      continue;
    }
    if (ch == '"') quoted = true;
    else if (ch == '(' || ch == '[') ++depth;
    else if ((ch == ')' || ch == ']') && --depth == 0) {
      end = i + 1;
      break;
    }
  }
  if (end == 0) return c.fail("Unterminated MessageNew fetch attributes");
  std::string sub = " ";
  sub.append(rest.substr(0, end));
  cursor inner(sub, parse_options{});
  command tmp;
  if (!parse_fetch_args(inner, tmp) || !inner.ok() || tmp.fetch_macro) {
    return c.fail("Invalid MessageNew fetch attributes");
  }
  out = std::move(tmp.fetch);
  c.seek(c.pos() + end);
  return true;
}

bool event_group(cursor& c, notify_group& g) {
  if (!c.expect('(')) return false;
  std::string filter = upper(c.word());
  if (filter == "SELECTED") g.f = ng::filter::selected;
  else if (filter == "SELECTED-DELAYED") g.f = ng::filter::selected_delayed;
  else if (filter == "INBOXES") g.f = ng::filter::inboxes;
  else if (filter == "PERSONAL") g.f = ng::filter::personal;
  else if (filter == "SUBSCRIBED") g.f = ng::filter::subscribed;
  else if (filter == "SUBTREE" || filter == "MAILBOXES") {
    g.f = filter == "SUBTREE" ? ng::filter::subtree : ng::filter::mailboxes;
    if (!c.sp() || !mailboxes(c, g.mailboxes)) return false;
  } else {
    return c.fail("Unknown NOTIFY mailbox filter");
  }
  if (!c.sp()) return false;
  if (c.take_word("NONE")) {
    g.none = true;
    return c.expect(')');
  }
  if (!c.expect('(')) return false;
  do {
    std::string name;
    if (!c.atom(name)) return false;
    const std::string u = upper(name);
    uint16_t bit = 0;
    if (u == "MESSAGENEW") bit = ng::message_new;
    else if (u == "MESSAGEEXPUNGE") bit = ng::message_expunge;
    else if (u == "FLAGCHANGE") bit = ng::flag_change;
    else if (u == "ANNOTATIONCHANGE") bit = ng::annotation_change;
    else if (u == "MAILBOXNAME") bit = ng::mailbox_name;
    else if (u == "SUBSCRIPTIONCHANGE") bit = ng::subscription_change;
    else if (u == "MAILBOXMETADATACHANGE") bit = ng::mailbox_metadata_change;
    else if (u == "SERVERMETADATACHANGE") bit = ng::server_metadata_change;
    if (bit == 0) {
      g.unknown_events.push_back(name);
      continue;
    }
    g.events |= bit;
    if (bit == ng::message_new && c.rest().starts_with(" (")) {
      c.take(' ');
      if (!fetch_atts(c, c.rest(), g.fetch)) return false;
    }
  } while (c.take(' '));
  if (!c.expect(')') || !c.expect(')')) return false;
  const bool has_new = (g.events & ng::message_new) != 0;
  const bool has_expunge = (g.events & ng::message_expunge) != 0;
  if (has_new != has_expunge) return c.fail("MessageNew and MessageExpunge go together");
  if ((g.events & (ng::flag_change | ng::annotation_change)) != 0 && !has_new) {
    return c.fail("FlagChange and AnnotationChange need MessageNew and MessageExpunge");
  }
  return true;
}

}  // namespace

bool parse_notify_args(cursor& c, command& cmd) {
  if (!c.sp()) return false;
  if (c.take_word("NONE")) {
    cmd.notify.none = true;
    return c.end();
  }
  if (!c.take_word("SET")) return c.fail("Expected SET or NONE");
  if (!c.sp()) return false;
  if (c.take_word("STATUS")) {
    cmd.notify.status = true;
    if (!c.sp()) return false;
  }
  uint32_t seen_filters = 0;
  do {
    notify_group g;
    if (!event_group(c, g)) return false;
    const uint32_t bit = 1u << static_cast<unsigned>(g.f);
    if (g.f != ng::filter::subtree && g.f != ng::filter::mailboxes && (seen_filters & bit) != 0) {
      return c.fail("A NOTIFY filter appears twice");
    }
    seen_filters |= bit;
    cmd.notify.groups.push_back(std::move(g));
  } while (c.take(' '));
  return c.end();
}

}  // namespace ringmail::imap::detail

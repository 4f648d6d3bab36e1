// GETMETADATA / SETMETADATA (RFC 5464 section 5) and NOTIFY (RFC 5465 section 8) parsing:
// the RFC examples, the section 3.2 / section 5 rules, and each command framed by the
// command_reader whole and one byte at a time with the same result.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/imap/command.h"
#include "protocols/imap/command_reader.h"

namespace ringmail::imap {
namespace {

using rk = command_reader::result::kind;

// Frames `input` (one command with CRLF) fed `piece` bytes at a time, then parses it.
parse_result frame_and_parse(std::string_view input, size_t piece) {
  command_reader reader;
  std::string buf;
  for (size_t pos = 0; pos < input.size(); pos += piece) {
    buf.append(input.substr(pos, piece));
    for (;;) {
      command_reader::result r = reader.next(buf);
      if (r.k == rk::command) {
        parse_result p = parse_command(r.bytes);
        buf.erase(0, r.consumed);
        EXPECT_TRUE(buf.empty());
        return p;
      }
      EXPECT_NE(r.k, rk::error) << r.message;
      if (r.k == rk::error) return {};
      buf.erase(0, r.consumed);
      if (r.k == rk::need_more) break;
    }
  }
  ADD_FAILURE() << "no command framed";
  return {};
}

// Parses whole and byte by byte; both must agree. Returns the command (or nullopt).
std::optional<command> parse(std::string_view line) {
  std::string input(line);
  input += "\r\n";
  parse_result whole = frame_and_parse(input, input.size());
  parse_result bytes = frame_and_parse(input, 1);
  EXPECT_EQ(whole.cmd.has_value(), bytes.cmd.has_value()) << line;
  if (whole.cmd && bytes.cmd) {
    EXPECT_EQ(whole.cmd->name, bytes.cmd->name) << line;
    EXPECT_EQ(whole.cmd->mailbox, bytes.cmd->mailbox) << line;
    EXPECT_TRUE(whole.cmd->metadata == bytes.cmd->metadata) << line;
    EXPECT_TRUE(whole.cmd->notify == bytes.cmd->notify) << line;
  }
  return whole.cmd;
}

TEST(MetadataParser, GetmetadataForms) {
  // RFC 5464 4.2 examples.
  auto c = parse("a GETMETADATA \"\" /shared/comment");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, command_name::getmetadata);
  EXPECT_EQ(c->mailbox, "");
  EXPECT_EQ(c->metadata.entries, std::vector<std::string>{"/shared/comment"});
  EXPECT_EQ(c->metadata.depth, 0);
  c = parse("a GETMETADATA INBOX (/shared/comment /private/comment)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->mailbox, "INBOX");
  EXPECT_EQ(c->metadata.entries, (std::vector<std::string>{"/shared/comment", "/private/comment"}));
  c = parse("a GETMETADATA (MAXSIZE 1024) INBOX /shared/comment");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->metadata.maxsize, 1024u);
  // The order of the RFC's own examples: options after the mailbox.
  c = parse("a GETMETADATA INBOX (DEPTH 1) (/private/filters/values)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->metadata.depth, 1);
  EXPECT_EQ(c->metadata.entries, std::vector<std::string>{"/private/filters/values"});
  c = parse("a GETMETADATA (DEPTH infinity MAXSIZE 5) \"\" {15}\r\n/private/vendor");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->metadata.depth, -1);
  EXPECT_EQ(c->metadata.maxsize, 5u);
  EXPECT_EQ(c->metadata.entries, std::vector<std::string>{"/private/vendor"});
}

TEST(MetadataParser, GetmetadataRefusals) {
  EXPECT_FALSE(parse("a GETMETADATA INBOX"));
  EXPECT_FALSE(parse("a GETMETADATA INBOX /comment"));             // neither tree
  EXPECT_FALSE(parse("a GETMETADATA INBOX /private/a//b"));        // "//"
  EXPECT_FALSE(parse("a GETMETADATA INBOX /private/a/"));          // trailing "/"
  EXPECT_FALSE(parse("a GETMETADATA INBOX \"/private/a*\""));      // '*'
  EXPECT_FALSE(parse("a GETMETADATA INBOX ()"));
  EXPECT_FALSE(parse("a GETMETADATA (DEPTH 2) INBOX /private/a"));
  EXPECT_FALSE(parse("a GETMETADATA (FOO 1) INBOX /private/a"));
  EXPECT_FALSE(parse("a GETMETADATA INBOX /private/a /private/b"));  // a list needs ( )
  EXPECT_FALSE(parse("a GETMETADATA INBOX (/private/a"));
}

TEST(MetadataParser, Setmetadata) {
  // RFC 5464 4.3 examples.
  auto c = parse("a SETMETADATA INBOX (/private/comment {33}\r\nMy new comment across\r\ntwo lines.)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, command_name::setmetadata);
  ASSERT_EQ(c->metadata.values.size(), 1u);
  EXPECT_EQ(c->metadata.values[0].first, "/private/comment");
  EXPECT_EQ(c->metadata.values[0].second, "My new comment across\r\ntwo lines.");
  c = parse("a SETMETADATA INBOX (/private/comment NIL)");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->metadata.values[0].second.has_value());
  c = parse("a SETMETADATA \"\" (/shared/comment \"Shared\" /private/x \"y\")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->mailbox, "");
  EXPECT_EQ(c->metadata.values.size(), 2u);
  c = parse(std::string("a SETMETADATA INBOX (/private/bin ~{3}\r\na") + '\0' + "b)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->metadata.values[0].second, std::string("a\0b", 3));
  EXPECT_FALSE(parse("a SETMETADATA INBOX (/private/comment)"));
  EXPECT_FALSE(parse("a SETMETADATA INBOX /private/comment \"x\""));
  EXPECT_FALSE(parse("a SETMETADATA INBOX (/bad \"x\")"));
  EXPECT_FALSE(parse("a SETMETADATA INBOX ()"));
}

TEST(NotifyParser, Rfc5465Examples) {
  // Section 6 examples.
  auto c = parse("a NOTIFY SET STATUS (selected MessageNew (uid body.peek[header.fields (from to subject)]) "
                 "MessageExpunge) (subtree Lists MessageNew)");
  // That text is the RFC's informal example; the grammar wants each group's events in
  // parentheses, so the strict form follows.
  EXPECT_FALSE(c);
  c = parse("a NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) "
            "MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, command_name::notify);
  EXPECT_TRUE(c->notify.status);
  ASSERT_EQ(c->notify.groups.size(), 2u);
  const notify_group& sel = c->notify.groups[0];
  EXPECT_EQ(sel.f, notify_group::filter::selected);
  EXPECT_EQ(sel.events, notify_group::message_new | notify_group::message_expunge);
  ASSERT_EQ(sel.fetch.size(), 2u);
  EXPECT_EQ(sel.fetch[0].k, fetch_item::kind::uid);
  EXPECT_EQ(sel.fetch[1].k, fetch_item::kind::body_section);
  EXPECT_EQ(sel.fetch[1].section.fields, (std::vector<std::string>{"FROM", "TO", "SUBJECT"}));
  EXPECT_EQ(c->notify.groups[1].f, notify_group::filter::subtree);
  EXPECT_EQ(c->notify.groups[1].mailboxes, std::vector<std::string>{"Lists"});
  c = parse("a NOTIFY NONE");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->notify.none);
  c = parse("a NOTIFY SET (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange "
            "MailboxMetadataChange ServerMetadataChange AnnotationChange))");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->notify.groups[0].events, 0xff);
  c = parse("a NOTIFY SET (mailboxes (INBOX \"a b\" {1}\r\nc) (MessageNew MessageExpunge)) (inboxes NONE) "
            "(selected-delayed (MessageExpunge MessageNew FlagChange)) (subscribed (MailboxName))");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->notify.groups.size(), 4u);
  EXPECT_EQ(c->notify.groups[0].mailboxes, (std::vector<std::string>{"INBOX", "a b", "c"}));
  EXPECT_TRUE(c->notify.groups[1].none);
  EXPECT_EQ(c->notify.groups[2].f, notify_group::filter::selected_delayed);
  // Unknown events are kept for NO [BADEVENT], not a BAD.
  c = parse("a NOTIFY SET (personal (MessageNew MessageExpunge x-Fancy))");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->notify.groups[0].unknown_events, std::vector<std::string>{"x-Fancy"});
}

TEST(NotifyParser, Section5RulesAndSyntax) {
  EXPECT_FALSE(parse("a NOTIFY SET (personal (MessageNew))"));             // needs MessageExpunge
  EXPECT_FALSE(parse("a NOTIFY SET (personal (MessageExpunge))"));         // needs MessageNew
  EXPECT_FALSE(parse("a NOTIFY SET (personal (FlagChange))"));
  EXPECT_FALSE(parse("a NOTIFY SET (personal (AnnotationChange MessageNew))"));
  EXPECT_FALSE(parse("a NOTIFY SET (selected (MessageNew MessageExpunge)) (selected (MessageNew MessageExpunge))"));
  EXPECT_FALSE(parse("a NOTIFY SET (everything (MessageNew MessageExpunge))"));
  EXPECT_FALSE(parse("a NOTIFY SET"));
  EXPECT_FALSE(parse("a NOTIFY"));
  EXPECT_FALSE(parse("a NOTIFY SET (subtree (MessageNew MessageExpunge))"));
  EXPECT_FALSE(parse("a NOTIFY SET (selected (MessageNew (FOO) MessageExpunge))"));
  EXPECT_FALSE(parse("a NOTIFY SET (selected (MessageNew (ALL) MessageExpunge))"));  // no macros
  EXPECT_FALSE(parse("a NOTIFY SET (selected (MessageNew (UID MessageExpunge))"));
  EXPECT_FALSE(parse("a NOTIFY NONE x"));
  EXPECT_FALSE(parse("a NOTIFY SET (personal (MessageNew MessageExpunge)) "));
}

}  // namespace
}  // namespace ringmail::imap

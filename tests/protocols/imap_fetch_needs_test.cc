// FETCH's owner hop copies only what the items need (protocols/imap/fetch_needs.h), and
// the reused-buffer FLAGS rendering (mailbox_view::append_flag_list) says what flag_list
// says. A wrong mask would answer SAVEDATE, BODYSTRUCTURE, PREVIEW or BODY[] from an empty
// file name or cache blob, so each item class is pinned here from parsed commands.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "delivery/mailstore/maildir_filename.h"
#include "protocols/imap/command.h"
#include "protocols/imap/fetch_needs.h"
#include "protocols/imap/mailbox_view.h"

namespace ringmail::imap {
namespace {

uint32_t needs(std::string_view line) {
  parse_result r = parse_command(line);
  EXPECT_TRUE(r.cmd.has_value()) << line << " -> " << r.error.message;
  if (!r.cmd) return ~0u;
  return fetch_needs_of(r.cmd->fetch);
}

TEST(FetchNeeds, IndexOnlyItemsNeedNothing) {
  EXPECT_EQ(needs("a UID FETCH 1:* (FLAGS)"), fetch_need_none);
  EXPECT_EQ(needs("a FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ)"), fetch_need_none);
  EXPECT_EQ(needs("a FETCH 1:* FAST"), fetch_need_none);  // FLAGS INTERNALDATE RFC822.SIZE
  EXPECT_EQ(needs("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5)"), fetch_need_none);
}

TEST(FetchNeeds, SaveDateNeedsTheFileName) {
  EXPECT_EQ(needs("a FETCH 1 (SAVEDATE)"), fetch_need_path);
  EXPECT_EQ(needs("a FETCH 1 (FLAGS SAVEDATE)"), fetch_need_path);
}

TEST(FetchNeeds, CachedItemsNeedBoth) {
  for (std::string_view item : {"ENVELOPE", "BODYSTRUCTURE", "BODY", "EMAILID", "THREADID", "PREVIEW"}) {
    EXPECT_EQ(needs(std::string("a FETCH 1 (FLAGS ") + std::string(item) + ")"), fetch_need_all) << item;
  }
  EXPECT_EQ(needs("a FETCH 1:* ALL"), fetch_need_all);  // ALL has ENVELOPE
  EXPECT_EQ(needs("a FETCH 1:* FULL"), fetch_need_all);
}

TEST(FetchNeeds, LazyPreviewNeedsOnlyTheCache) {
  EXPECT_EQ(needs("a FETCH 1 (PREVIEW (LAZY))"), fetch_need_cache);
  EXPECT_EQ(needs("a FETCH 1 (PREVIEW (LAZY) SAVEDATE)"), fetch_need_all);
  // With a content item the file is read anyway, and the lazy preview filled from it.
  EXPECT_EQ(needs("a FETCH 1 (PREVIEW (LAZY) BODY.PEEK[HEADER])"), fetch_need_all);
}

TEST(FetchNeeds, ContentItemsNeedTheFileName) {
  for (std::string_view item : {"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BODY[]", "BODY.PEEK[1.MIME]",
                                "BODY[HEADER.FIELDS (FROM)]<0.10>", "BINARY[1]", "BINARY.PEEK[1]",
                                "BINARY.SIZE[1]"}) {
    EXPECT_EQ(needs(std::string("a FETCH 1 (UID ") + std::string(item) + ")"), fetch_need_path) << item;
  }
}

TEST(FetchNeeds, AppendFlagListMatchesFlagList) {
  mailbox_view v;
  const std::vector<std::string> keywords = {"$Junk", "work", "$Forwarded"};
  v.reset({make_view_message(1, 0, 0, 1)}, keywords, 1);
  const uint8_t all = mailstore::flag_seen | mailstore::flag_answered | mailstore::flag_flagged |
                      mailstore::flag_deleted | mailstore::flag_draft;
  for (uint8_t flags : {uint8_t{0}, uint8_t{mailstore::flag_seen}, uint8_t{mailstore::flag_draft}, all}) {
    for (uint32_t kw : {0u, 1u, 2u, 5u, 7u}) {
      const std::string want = v.flag_list(flags, kw);
      std::string line = "* 3 FETCH (UID 9 FLAGS ";
      v.append_flag_list(line, flags, kw);
      EXPECT_EQ(line, "* 3 FETCH (UID 9 FLAGS " + want) << int(flags) << " " << kw;
      // Appended right after a '(' (FLAGS as the first item of a list) too.
      std::string paren = "(";
      v.append_flag_list(paren, flags, kw);
      EXPECT_EQ(paren, "(" + want);
    }
  }
  EXPECT_EQ(v.flag_list(mailstore::flag_seen | mailstore::flag_flagged, 5u), "(\\Flagged \\Seen $Junk $Forwarded)");
  EXPECT_EQ(v.flag_list(0, 2u), "(work)");
  EXPECT_EQ(v.flag_list(0, 0), "()");
}

// FETCH passes the message's sequence number as a hint; a stale or wrong hint must still
// clear the right message (and only it), as the search by UID did.
TEST(FetchNeeds, ReportedFlagsHintIsChecked) {
  mailbox_view v;
  v.reset({make_view_message(3, 0, 0, 1), make_view_message(7, 0, 0, 1), make_view_message(9, 0, 0, 1)}, {}, 1);
  std::vector<mailstore::folder_event> ev;
  ev.push_back({mailstore::folder_event::flags_changed, 2, 7, mailstore::flag_seen, 0, 2});
  ev.push_back({mailstore::folder_event::flags_changed, 3, 9, mailstore::flag_flagged, 0, 3});
  v.apply(ev, {}, 3);
  ASSERT_TRUE(v.has_pending());
  v.reported_flags(7, mailstore::flag_seen, 0, 1);  // wrong hint (seq 1 is UID 3)
  v.reported_flags(9, mailstore::flag_flagged, 0, 3);  // right hint
  v.reported_flags(3, mailstore::flag_draft, 0, 50);  // out of range: searched
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(v.messages()[0].flags, mailstore::flag_draft);
  EXPECT_EQ(v.messages()[1].flags, mailstore::flag_seen);
  EXPECT_EQ(v.messages()[2].flags, mailstore::flag_flagged);
  std::string out;
  v.report(out, true, false);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace ringmail::imap

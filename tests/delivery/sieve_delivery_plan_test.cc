// delivery_plan (delivery/sieve/delivery_plan.h): what a Sieve result means for one local
// delivery. Every rule of the header, one test each.
#include "delivery/sieve/delivery_plan.h"

#include <gtest/gtest.h>

#include "delivery/mailstore/maildir_filename.h"

namespace ringmail::sieve {
namespace {

action make(action::kind_t kind) {
  action a;
  a.kind = kind;
  return a;
}

action fileinto(std::string folder, std::vector<std::string> flags = {}, bool create = false) {
  action a = make(action::fileinto);
  a.mailbox = std::move(folder);
  a.flags = std::move(flags);
  a.create = create;
  return a;
}

action redirect(std::string to, bool copy = false) {
  action a = make(action::redirect);
  a.address = std::move(to);
  a.copy = copy;
  return a;
}

action with_reason(action::kind_t kind, std::string reason) {
  action a = make(kind);
  a.reason = std::move(reason);
  return a;
}

plan_input input(bool refuse_in_protocol = true) {
  plan_input in;
  in.recipient = "john@example.org";
  in.envelope_from = "sender@remote.test";
  in.refuse_in_protocol = refuse_in_protocol;
  return in;
}

TEST(SieveDeliveryPlan, ImplicitKeepIsOneInboxCopyWithItsFlags) {
  run_result r;
  r.implicit_keep_flags = {"\\Seen", "$Label1"};
  delivery_plan p = plan_delivery(r, input());
  ASSERT_EQ(p.copies.size(), 1u);
  EXPECT_EQ(p.copies[0].folder, "INBOX");
  EXPECT_EQ(p.copies[0].flags, mailstore::flag_seen);
  EXPECT_EQ(p.copies[0].keywords, std::vector<std::string>{"$Label1"});
  EXPECT_TRUE(p.redirects.empty());
  EXPECT_FALSE(p.refusal);
  EXPECT_FALSE(p.reject_notice);
}

TEST(SieveDeliveryPlan, RunTimeErrorKeepsInInboxAndNothingElse) {
  run_result r;
  r.actions = {fileinto("Lists"), redirect("x@remote.test"), make(action::vacation)};
  r.implicit_keep = false;
  r.implicit_keep_flags = {"\\Flagged"};
  r.error = "too many actions";
  delivery_plan p = plan_delivery(r, input());
  ASSERT_EQ(p.copies.size(), 1u);
  EXPECT_EQ(p.copies[0].folder, "INBOX");
  EXPECT_EQ(p.copies[0].flags, 0) << "RFC 5228 2.10.6: no other action, flags included";
  EXPECT_TRUE(p.redirects.empty());
  EXPECT_FALSE(p.vacation);
  ASSERT_TRUE(p.error);
  EXPECT_EQ(*p.error, "too many actions");
}

TEST(SieveDeliveryPlan, FileintoWithFlagsAndCreate) {
  run_result r;
  r.actions = {fileinto("Lists/dev", {"\\Flagged", "\\answered", "work", "\\Recent", "\\Bogus", "bad(atom"}, true)};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input());
  ASSERT_EQ(p.copies.size(), 1u);
  EXPECT_EQ(p.copies[0].folder, "Lists/dev");
  EXPECT_TRUE(p.copies[0].create);
  EXPECT_EQ(p.copies[0].flags, mailstore::flag_flagged | mailstore::flag_answered);
  EXPECT_EQ(p.copies[0].keywords, std::vector<std::string>{"work"}) << "\\Recent, unknown \\ names and non-atoms dropped";
}

TEST(SieveDeliveryPlan, FileintoInboxAnyCaseMergesWithKeep) {
  run_result r;
  r.actions = {make(action::keep), fileinto("inbox", {"\\Seen"})};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input());
  ASSERT_EQ(p.copies.size(), 1u);
  EXPECT_EQ(p.copies[0].folder, "INBOX");
  EXPECT_EQ(p.copies[0].flags, mailstore::flag_seen) << "the later flags win";
  EXPECT_FALSE(p.copies[0].create);
}

TEST(SieveDeliveryPlan, FolderTheStoreCannotHoldGoesToInboxWithANote) {
  run_result r;
  r.actions = {fileinto("a.b"), fileinto("../../etc")};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input());
  ASSERT_EQ(p.copies.size(), 1u);
  EXPECT_EQ(p.copies[0].folder, "INBOX");
  EXPECT_EQ(p.notes.size(), 2u);
}

TEST(SieveDeliveryPlan, FileintoCopyKeepsTheImplicitKeep) {
  run_result r;
  r.actions = {fileinto("Archive")};
  r.implicit_keep = true;  // :copy
  delivery_plan p = plan_delivery(r, input());
  ASSERT_EQ(p.copies.size(), 2u);
  EXPECT_EQ(p.copies[0].folder, "Archive");
  EXPECT_EQ(p.copies[1].folder, "INBOX");
}

TEST(SieveDeliveryPlan, DiscardStoresNothing) {
  run_result r;
  r.actions = {make(action::discard)};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input());
  EXPECT_TRUE(p.copies.empty());
  EXPECT_FALSE(p.refusal);
}

TEST(SieveDeliveryPlan, RedirectGoesOutAndCancelsTheKeep) {
  run_result r;
  r.actions = {redirect("jane@example.org"), redirect("bob@remote.test", true)};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input());
  EXPECT_TRUE(p.copies.empty());
  EXPECT_EQ(p.redirects, (std::vector<std::string>{"jane@example.org", "bob@remote.test"}));
}

TEST(SieveDeliveryPlan, RedirectLoopIsRefusedAndTheMessageKept) {
  run_result r;
  r.actions = {redirect("jane@example.org")};
  r.implicit_keep = false;
  plan_input in = input();
  in.delivered_to_recipient = true;
  delivery_plan p = plan_delivery(r, in);
  EXPECT_TRUE(p.redirects.empty());
  ASSERT_EQ(p.copies.size(), 1u) << "a loop guard must not lose the message";
  EXPECT_EQ(p.copies[0].folder, "INBOX");
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("loop"), std::string::npos);
}

TEST(SieveDeliveryPlan, RedirectToTheRecipientItselfIsRefused) {
  run_result r;
  r.actions = {redirect("John@Example.org"), fileinto("Other")};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input());
  EXPECT_TRUE(p.redirects.empty());
  ASSERT_EQ(p.copies.size(), 1u) << "stored elsewhere already: no extra INBOX copy";
  EXPECT_EQ(p.copies[0].folder, "Other");
}

TEST(SieveDeliveryPlan, RejectSendsANoticeButNotToTheNullSender) {
  run_result r;
  r.actions = {with_reason(action::reject, "go away")};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input());
  EXPECT_TRUE(p.copies.empty());
  ASSERT_TRUE(p.reject_notice);
  EXPECT_EQ(*p.reject_notice, "go away");
  EXPECT_FALSE(p.refusal) << "reject is a notice, ereject the in-protocol refusal";

  plan_input bounce = input();
  bounce.envelope_from = "";
  p = plan_delivery(r, bounce);
  EXPECT_FALSE(p.reject_notice);
  EXPECT_TRUE(p.copies.empty());
}

TEST(SieveDeliveryPlan, EjectRefusesInProtocolWhenTheRecipientHasItsOwnReply) {
  run_result r;
  r.actions = {with_reason(action::ereject, "no\r\nInjected: 1\r\n thanks")};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input(/*refuse_in_protocol=*/true));
  ASSERT_TRUE(p.refusal);
  EXPECT_EQ(*p.refusal, "no Injected: 1 thanks") << "one line, no CR/LF";
  EXPECT_FALSE(p.reject_notice);
  EXPECT_TRUE(p.copies.empty());
}

TEST(SieveDeliveryPlan, EjectFallsBackToANoticeInASharedSmtpReply) {
  run_result r;
  r.actions = {with_reason(action::ereject, "not here")};
  r.implicit_keep = false;
  delivery_plan p = plan_delivery(r, input(/*refuse_in_protocol=*/false));
  EXPECT_FALSE(p.refusal);
  ASSERT_TRUE(p.reject_notice);
  EXPECT_EQ(*p.reject_notice, "not here");
}

TEST(SieveDeliveryPlan, VacationAndDuplicatesAreHandedOn) {
  run_result r;
  action v = with_reason(action::vacation, "away");
  v.seconds = 86400;
  action d = make(action::track_duplicate);
  d.duplicate_id = "abc";
  r.actions = {v, d};
  delivery_plan p = plan_delivery(r, input());
  ASSERT_TRUE(p.vacation);
  EXPECT_EQ(p.vacation->reason, "away");
  ASSERT_EQ(p.duplicates.size(), 1u);
  EXPECT_EQ(p.duplicates[0].duplicate_id, "abc");
  ASSERT_EQ(p.copies.size(), 1u) << "vacation keeps the implicit keep";
}

TEST(SieveDeliveryPlan, ReplyTextIsBoundedWithoutCuttingUtf8) {
  std::string reason(398, 'a');
  reason += "\xc3\xa9\xc3\xa9";  // two 2-byte characters across the 400-byte bound
  std::string t = reply_text(reason);
  EXPECT_EQ(t.size(), 400u);
  EXPECT_EQ(reply_text("  \r\n "), "Message rejected");
}

TEST(SieveDeliveryPlan, KeywordsAreDeduplicatedCaseInsensitively) {
  uint8_t bits = 0;
  std::vector<std::string> keywords;
  split_sieve_flags({"Work", "work", "\\SEEN", "\\Deleted", "\\Draft", ""}, &bits, &keywords);
  EXPECT_EQ(bits, mailstore::flag_seen | mailstore::flag_deleted | mailstore::flag_draft);
  EXPECT_EQ(keywords, std::vector<std::string>{"Work"});
}

TEST(SieveDeliveryPlan, SpamFlaggedIsTheBuiltinAfterScriptsTest) {
  const std::string trace = "Received: from x by y\r\nX-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=6.0\r\n";
  EXPECT_TRUE(spam_flagged(trace, "Subject: hi\r\n\r\nbody\r\n"));
  EXPECT_TRUE(spam_flagged("", "x-spam-flag:  yes \r\nSubject: hi\r\n\r\n")) << "any case, trimmed";
  EXPECT_TRUE(spam_flagged("X-Spam-Flag:\r\n YES\r\n", "")) << "unfolded";
  EXPECT_FALSE(spam_flagged("X-Spam-Status: Yes\r\n", "Subject: YES\r\n\r\n"));
  EXPECT_FALSE(spam_flagged("X-Spam-Flag: YESS\r\n", "")) << ":is, not :contains";
  EXPECT_FALSE(spam_flagged("", "Subject: hi\r\n\r\nX-Spam-Flag: YES\r\n")) << "the body is not the header";
}

TEST(SieveDeliveryPlan, CarriesDeliveredToFindsOurEarlierCopy) {
  const std::string m = "Delivered-To: other@example.org\r\nDelivered-To: John@Example.org\r\nSubject: x\r\n\r\n";
  EXPECT_TRUE(carries_delivered_to(m, "john@example.org"));
  EXPECT_FALSE(carries_delivered_to(m, "jane@example.org"));
  EXPECT_FALSE(carries_delivered_to("Subject: x\r\n\r\nDelivered-To: jane@example.org\r\n", "jane@example.org"));
}

}  // namespace
}  // namespace ringmail::sieve

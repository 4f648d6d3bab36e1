// The eval functions (spam/evals/evals.h) and the relay metadata (spam/evals/received.h) on
// hand-made messages, each with a hit and a miss.
#include "spam/evals/evals.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "mail/message.h"
#include "mail/message_text.h"
#include "spam/evals/received.h"
#include "spam/rules/loader.h"
#include "spam/scanner.h"

namespace ringmail::spam {
namespace {

// One parsed message with everything an eval reads.
struct fixture {
  explicit fixture(std::string raw, std::string rules_text = "") : bytes(std::move(raw)) {
    msg = mail::parse_message(bytes, charsets);
    text = mail::render_text(msg, charsets);
    relays = parse_relays(text);
    load_options lo;
    rules = load_rules_from_text(rules_text, lo);
    settings = eval_settings::from(rules);
  }
  bool run(const char* name, std::vector<std::string> args = {}) {
    eval_function f = find_eval(name);
    EXPECT_NE(f, nullptr) << name;
    if (f == nullptr) return false;
    eval_cache cache;
    eval_input in{msg, text, relays, rules, settings, cache};
    return f(in, args);
  }
  std::string bytes;
  mail::charset_converter charsets;
  mail::message msg;
  mail::message_text text;
  relay_info relays;
  rule_set rules;
  eval_settings settings;
};

// ---- Received parsing -----------------------------------------------------------------

TEST(Received, Postfix) {
  auto p = parse_received_line(
      "from mail.example.com (mail.example.com [203.0.113.5])\n\tby mx.ringmail.test (Postfix) with ESMTP id "
      "4ABC123\n\tfor <u@ringmail.test>; Tue, 1 Oct 2002 10:00:00 +0000 (UTC)");
  ASSERT_TRUE(p.parsed);
  EXPECT_EQ(p.r.ip, "203.0.113.5");
  EXPECT_EQ(p.r.rdns, "mail.example.com");
  EXPECT_EQ(p.r.helo, "mail.example.com");
  EXPECT_EQ(p.r.by, "mx.ringmail.test");
  EXPECT_EQ(p.r.id, "4ABC123");
}

TEST(Received, PostfixUnknownRdns) {
  auto p = parse_received_line(
      "from pc7 (unknown [198.51.100.7]) by mx.ringmail.test (Postfix) with SMTP id 1234; Tue, 1 Oct 2002 10:00:00 "
      "+0000");
  ASSERT_TRUE(p.parsed);
  EXPECT_EQ(p.r.rdns, "");
  EXPECT_TRUE(p.r.no_reverse_dns);
  EXPECT_EQ(p.r.helo, "pc7");
}

TEST(Received, Sendmail) {
  auto p = parse_received_line(
      "from hostx.example.org (dsl-1-2-3-4.isp.example [192.0.2.44]) by smtp.ringmail.test (8.11.6/8.11.6) with "
      "ESMTP id g8UNB1x01234 for <a@ringmail.test>; Mon, 30 Sep 2002 16:11:01 -0700");
  ASSERT_TRUE(p.parsed);
  EXPECT_EQ(p.r.ip, "192.0.2.44");
  EXPECT_EQ(p.r.rdns, "dsl-1-2-3-4.isp.example");
  EXPECT_EQ(p.r.helo, "hostx.example.org");
  EXPECT_EQ(p.r.by, "smtp.ringmail.test");
}

TEST(Received, QmailAndExim) {
  auto q = parse_received_line("from unknown (HELO mailer) (198.51.100.9) by mx.example.net with SMTP; 1 Oct 2002 10:00:00 -0000");
  ASSERT_TRUE(q.parsed);
  EXPECT_EQ(q.r.ip, "198.51.100.9");
  EXPECT_EQ(q.r.helo, "mailer");
  EXPECT_EQ(q.r.rdns, "");  // "unknown"
  auto x = parse_received_line(
      "from [203.0.113.77] (helo=friend) by lists.example.org with esmtp (Exim 3.35 #1 (Debian)) id 17k0Xy-0003; "
      "Tue, 01 Oct 2002 03:00:00 -0700");
  ASSERT_TRUE(x.parsed);
  EXPECT_EQ(x.r.ip, "203.0.113.77");
  EXPECT_EQ(x.r.helo, "friend");
  EXPECT_EQ(x.r.by, "lists.example.org");
}

TEST(Received, SmtpsvcAndLocalHandovers) {
  auto m = parse_received_line(
      "from MAILSRV ([192.0.2.10]) by mail.example.com with Microsoft SMTPSVC(5.0.2195.4905); Tue, 1 Oct 2002 "
      "10:00:00 +0100");
  ASSERT_TRUE(m.parsed);
  EXPECT_EQ(m.r.helo, "MAILSRV");
  EXPECT_EQ(m.r.ip, "192.0.2.10");
  EXPECT_FALSE(parse_received_line("by mx.example.com (Postfix, from userid 1000) id 1; 1 Oct 2002").parsed);
  EXPECT_TRUE(parse_received_line("from localhost (localhost [127.0.0.1]) by h (Postfix) with ESMTP id 9").parsed);
  auto junk = parse_received_line("from nowhere");
  EXPECT_FALSE(junk.parsed);
  EXPECT_FALSE(junk.ignored);
}

TEST(Received, TrustInferenceAndPseudoHeaders) {
  fixture f(
      "Received: from localhost (localhost [127.0.0.1]) by mx.ringmail.test (Postfix) with ESMTP id A1; Tue, 1 Oct "
      "2002 10:00:01 +0000\n"
      "Received: from pc7 (unknown [198.51.100.7]) by mx.ringmail.test (Postfix) with SMTP id B2C3; Tue, 1 Oct 2002 "
      "10:00:00 +0000\n"
      "From: a@example.com\nSubject: x\n\nbody\n");
  ASSERT_EQ(f.relays.trusted.size(), 1u);
  ASSERT_EQ(f.relays.untrusted.size(), 1u);
  EXPECT_EQ(f.relays.untrusted_str,
            "[ ip=198.51.100.7 rdns= helo=pc7 by=mx.ringmail.test ident= envfrom= intl=0 id=B2C3 auth= msa=0 ]");
  EXPECT_EQ(f.relays.external_str, f.relays.untrusted_str);
  EXPECT_NE(f.relays.trusted_str.find("intl=1"), std::string::npos);
}

// ---- evals ---------------------------------------------------------------------------------

TEST(Evals, FreemailFromAndReplyTo) {
  const char* rules = "freemail_domains hotmail.com yahoo.*\n";
  fixture hit("From: Bob <bob@yahoo.co>\nReply-To: x@hotmail.com\nSubject: x\n\nb\n", rules);
  EXPECT_TRUE(hit.run("check_freemail_from"));
  EXPECT_TRUE(hit.run("check_freemail_replyto", {"replyto"}));
  EXPECT_TRUE(hit.run("check_freemail_header", {"Reply-To"}));
  EXPECT_FALSE(hit.run("check_freemail_header", {"Reply-To", "\\d@"}));
  fixture miss("From: Bob <bob@example.com>\nReply-To: bob@example.com\nSubject: x\n\nb\n", rules);
  EXPECT_FALSE(miss.run("check_freemail_from"));
  EXPECT_FALSE(miss.run("check_freemail_replyto", {"replyto"}));
  fixture welcome("From: info@yahoo.com\nSubject: x\n\nb\n", rules);
  EXPECT_FALSE(welcome.run("check_freemail_from"));  // FreeMail's email_welcomelist
}

TEST(Evals, EqualFromDomains) {
  fixture diff("Return-Path: <bounce@lists.example.org>\nFrom: a@mail.example.com\n\nb\n");
  EXPECT_TRUE(diff.run("check_equal_from_domains"));
  fixture same("Return-Path: <bounce@b.example.com>\nFrom: a@mail.example.com\n\nb\n");
  EXPECT_FALSE(same.run("check_equal_from_domains"));
  fixture none("From: a@mail.example.com\n\nb\n");
  EXPECT_FALSE(none.run("check_equal_from_domains"));
}

TEST(Evals, ShiftedDate) {
  const std::string rcvd =
      "Received: from pc7 (unknown [198.51.100.7]) by mx.ringmail.test (Postfix) with SMTP id B2; Tue, 1 Oct 2002 "
      "10:00:00 +0000\n";
  fixture future(rcvd + "Date: Tue, 1 Oct 2002 18:00:00 +0000\n\nb\n");
  EXPECT_TRUE(future.run("check_for_shifted_date", {"6", "12"}));
  EXPECT_FALSE(future.run("check_for_shifted_date", {"-6", "-3"}));
  fixture past(rcvd + "Date: Tue, 1 Oct 2002 05:00:00 -0000\n\nb\n");
  EXPECT_TRUE(past.run("check_for_shifted_date", {"-6", "-3"}));
  fixture tz(rcvd + "Date: Tue, 1 Oct 2002 03:00:00 PDT\n\nb\n");  // 10:00 UTC
  EXPECT_FALSE(tz.run("check_for_shifted_date", {"-6", "-3"}));
  EXPECT_FALSE(tz.run("check_for_shifted_date", {"3", "6"}));
}

TEST(Evals, RfcDate) {
  EXPECT_EQ(evals::parse_rfc822_date("Thu, 01 Jan 1970 00:01:00 +0000"), 60);
  EXPECT_EQ(evals::parse_rfc822_date("1 Jan 70 01:00:00 +0100"), 0);
  EXPECT_EQ(evals::parse_rfc822_date("Jan 2 00:00:00 1970"), 86400);
  EXPECT_FALSE(evals::parse_rfc822_date("yesterday").has_value());
}

TEST(Evals, OutlookMessageId) {
  // Token far from the Date's expected value.
  fixture bad("Message-Id: <0000ffffffff$00000000$00000000@x>\nDate: Tue, 1 Oct 2002 10:00:00 +0000\n\nb\n");
  EXPECT_TRUE(bad.run("check_outlook_message_id"));
  // expected = int(1033466400 * 0.0023283064365387 + 27111902.8329849) = 0x1c26931
  fixture good("Message-Id: <000001c26931$00000000$00000000@x>\nDate: Tue, 1 Oct 2002 10:00:00 +0000\n\nb\n");
  EXPECT_FALSE(good.run("check_outlook_message_id"));
  fixture other("Message-Id: <abc@x>\n\nb\n");
  EXPECT_FALSE(other.run("check_outlook_message_id"));
}

TEST(Evals, Recipients) {
  fixture similar("To: aa1@example.com, aa2@example.com, aa3@example.com, aa4@example.com, aa5@example.com\n\nb\n");
  EXPECT_TRUE(similar.run("similar_recipients", {"0.65", "undef"}));
  fixture varied("To: joe@a.example, mary@b.example, kim@c.example, lee@d.example, ann@e.example\n\nb\n");
  EXPECT_FALSE(varied.run("similar_recipients", {"0.65", "undef"}));
  fixture no_to("From: a@b\n\nb\n");
  EXPECT_TRUE(no_to.run("check_for_missing_to_header"));
  EXPECT_FALSE(similar.run("check_for_missing_to_header"));
}

TEST(Evals, SubjectAllCaps) {
  fixture caps("Subject: FREE MONEY NOW\n\nb\n");
  EXPECT_TRUE(caps.run("subject_is_all_caps"));
  fixture mixed("Subject: Free money now\n\nb\n");
  EXPECT_FALSE(mixed.run("subject_is_all_caps"));
  fixture one_word("Subject: HELLOTHEREWORLD\n\nb\n");
  EXPECT_FALSE(one_word.run("subject_is_all_caps"));
}

TEST(Evals, HeaderCountRange) {
  fixture two("To: a@b\nTo: c@d\n\nb\n");
  EXPECT_TRUE(two.run("check_header_count_range", {"To", "2", "3"}));
  EXPECT_FALSE(two.run("check_header_count_range", {"To", "3", "9"}));
}

TEST(Evals, MimeAndHtml) {
  fixture html("Content-Type: text/html\n\n<html><body>Hi</body></html>\n");
  EXPECT_TRUE(html.run("check_for_mime_html_only"));
  EXPECT_TRUE(html.run("html_test", {"html"}));
  EXPECT_TRUE(html.run("html_tag_exists", {"html"}));
  EXPECT_FALSE(html.run("html_tag_exists", {"table"}));
  fixture alt(
      "Content-Type: multipart/alternative; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nHi\n--XX\n"
      "Content-Type: text/html\n\n<p>Hi</p>\n--XX--\n");
  EXPECT_FALSE(alt.run("check_for_mime_html_only"));
  EXPECT_TRUE(alt.run("check_for_mime_html"));
  EXPECT_FALSE(alt.run("html_tag_exists", {"html"}));
  fixture plain("Subject: x\n\nHello\n");
  EXPECT_FALSE(plain.run("html_test", {"html"}));
  EXPECT_FALSE(plain.run("check_for_mime_html"));
}

// A one-part HTML message.
std::string html_message(const std::string& body) {
  return "Subject: hello\nContent-Type: text/html\n\n" + body + "\n";
}

TEST(HtmlEvals, FontLowContrast) {
  fixture hidden(html_message("<body>Hi <font color=\"#fefefe\">hidden words</font></body>"));
  EXPECT_TRUE(hidden.run("html_test", {"font_low_contrast"}));
  fixture same(html_message("<p style=\"color: white\">x</p>"));  // on the default white
  EXPECT_TRUE(same.run("html_test", {"font_low_contrast"}));
  fixture visible(html_message("<body>Hi <font color=\"#ff0000\">red words</font></body>"));
  EXPECT_FALSE(visible.run("html_test", {"font_low_contrast"}));
  // whitespace-only text is not tested
  fixture blank(html_message("<font color=white> \n </font>seen"));
  EXPECT_FALSE(blank.run("html_test", {"font_low_contrast"}));
  fixture invalid(html_message("<font color=\"#zzzzzz\">x</font>"));
  EXPECT_TRUE(invalid.run("html_test", {"font_invalid_color"}));
  EXPECT_FALSE(visible.run("html_test", {"font_invalid_color"}));
}

TEST(HtmlEvals, FlagsFromTags) {
  fixture face(html_message("<font face=\"@#$%\">x</font><embed src=a>"));
  EXPECT_TRUE(face.run("html_test", {"font_face_bad"}));
  EXPECT_TRUE(face.run("html_test", {"embeds"}));
  fixture ok(html_message("<font face=\"'Tahoma', Verdana, Arial, sans-serif\">x</font>"));
  EXPECT_FALSE(ok.run("html_test", {"font_face_bad"}));
  EXPECT_FALSE(ok.run("html_test", {"embeds"}));
  fixture mailto(html_message("<form action=\"MAILTO:x@y\">"));
  EXPECT_TRUE(mailto.run("html_test", {"form_action_mailto"}));
  EXPECT_FALSE(ok.run("html_test", {"form_action_mailto"}));
  EXPECT_FALSE(ok.run("html_test", {"no_such_flag"}));
}

TEST(HtmlEvals, RangesAndEval) {
  fixture big(html_message("<font size=7>BIG</font> <font size=+2>x</font>"));
  EXPECT_TRUE(big.run("html_range", {"max_size", "6", "inf"}));
  EXPECT_FALSE(big.run("html_range", {"max_size", "3", "6"}));
  fixture small(html_message("<p>plain</p>"));
  EXPECT_FALSE(small.run("html_range", {"max_size", "3", "inf"}));
  EXPECT_TRUE(small.run("html_eval", {"length", "< 384"}));
  EXPECT_FALSE(small.run("html_eval", {"length", "> 384"}));
  EXPECT_FALSE(small.run("html_eval", {"length", "< 384; system"}));  // not an expression
  EXPECT_TRUE(small.run("html_range", {"length", "0", "1024"}));
  // obfuscation: "w<b>o</b>rd" glues three pieces
  fixture glued(html_message("w<b>o</b>rd"));
  EXPECT_TRUE(glued.run("html_range", {"obfuscation_ratio", ".9", "1.0"}));
  EXPECT_FALSE(small.run("html_range", {"obfuscation_ratio", "0", "inf"}));
  fixture extra(html_message("x</b></b></i>"));
  EXPECT_TRUE(extra.run("html_range", {"closed_extra_ratio", "0.09", "inf"}));
  EXPECT_FALSE(small.run("html_range", {"closed_extra_ratio", "0.09", "inf"}));
  fixture plain("Subject: x\n\nHello\n");
  EXPECT_FALSE(plain.run("html_eval", {"length", "< 384"}));
}

TEST(HtmlEvals, TagsAndBalance) {
  fixture unbalanced(html_message("<html><head><title>t</title><body><center>x</center></html>"));
  EXPECT_TRUE(unbalanced.run("html_tag_exists", {"center"}));
  EXPECT_FALSE(unbalanced.run("html_tag_exists", {"table"}));
  EXPECT_TRUE(unbalanced.run("html_tag_balance", {"head", "!= 0"}));
  EXPECT_TRUE(unbalanced.run("html_tag_balance", {"body", "!= 0"}));
  EXPECT_FALSE(unbalanced.run("html_tag_balance", {"center", "!= 0"}));
  EXPECT_FALSE(unbalanced.run("html_tag_balance", {"ta ble", "!= 0"}));
  fixture text_only("Subject: x\n\n<html>\n");
  EXPECT_FALSE(text_only.run("html_tag_exists", {"html"}));
}

TEST(HtmlEvals, ImageOnlyAndRatio) {
  fixture image(html_message("<html><body><a href=\"http://x.example/\"><img src=\"http://x.example/i.gif\" "
                             "width=600 height=400></a>Click</body></html>"));
  size_t len = image.text.html.at(0).length;
  EXPECT_TRUE(image.run("html_image_only", {"0000", "0400"})) << len;
  EXPECT_FALSE(image.run("html_image_only", {"0400", "0800"}));
  EXPECT_EQ(image.text.html[0].image_area, 240000u);
  EXPECT_TRUE(image.run("html_image_ratio", {"0.000", "0.002"}));
  EXPECT_TRUE(image.run("html_text_match", {"anchor", "<img>"}));
  fixture words(html_message("<p>no pictures here</p>"));
  EXPECT_FALSE(words.run("html_image_only", {"0000", "0400"}));
  EXPECT_FALSE(words.run("html_image_ratio", {"0.000", "1"}));
  EXPECT_FALSE(words.run("html_text_match", {"anchor", "<img>"}));
  fixture percent(html_message("<img width=50% height=bogus>"));
  EXPECT_EQ(percent.text.html.at(0).image_area, 400u * 200u);
}

TEST(HtmlEvals, TextMatch) {
  fixture saved(html_message("<!-- saved from url=(0022)http://internet.e-mail -->\n<p>x</p>"));
  EXPECT_TRUE(saved.run("html_text_match", {"comment", R"(<!-- saved from url=\(\d{4}\))"}));
  EXPECT_FALSE(saved.run("html_text_match", {"title", "."}));
  EXPECT_FALSE(saved.run("html_text_match", {"comment", "(unbalanced"}));  // invalid: no hit
  fixture plain(html_message("<!-- ordinary -->"));
  EXPECT_FALSE(plain.run("html_text_match", {"comment", R"(<!-- saved from url=\(\d{4}\))"}));
  fixture title(html_message("<title>a very long title indeed</title>"));
  EXPECT_TRUE(title.run("html_title_subject_ratio", {"3.5"}));
  EXPECT_FALSE(title.run("html_title_subject_ratio", {"9"}));
}

TEST(MimeEvals, CheckForMime) {
  std::string long_line(100, 'a');
  fixture qp("Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n" + long_line +
             "\nb=3Dc=41\n");
  EXPECT_TRUE(qp.run("check_for_mime", {"mime_qp_long_line"}));
  EXPECT_TRUE(qp.run("check_for_mime", {"mime_qp_count"}));  // =41 needed no escaping
  EXPECT_FALSE(qp.run("check_for_mime", {"mime_base64_encoded_text"}));
  fixture b64("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n");
  EXPECT_TRUE(b64.run("check_for_mime", {"mime_base64_encoded_text"}));
  EXPECT_TRUE(b64.run("check_for_mime", {"mime_base64_count"}));
  EXPECT_FALSE(b64.run("check_for_mime", {"mime_qp_long_line"}));
  EXPECT_FALSE(b64.run("check_for_mime", {"mime_attachment"}));
  fixture att(
      "Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nHi\n--XX\n"
      "Content-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n\nxx\n--XX--\n");
  EXPECT_TRUE(att.run("check_for_mime", {"mime_attachment"}));
  EXPECT_FALSE(att.run("check_for_mime", {"unknown_flag"}));
}

TEST(MimeEvals, MultipartRatio) {
  fixture alt(
      "Content-Type: multipart/alternative; boundary=XX\n\n--XX\nContent-Type: text/plain\n\n\n--XX\n"
      "Content-Type: text/html\n\n<p>" + std::string(300, 'x') + "</p>\n--XX--\n");
  EXPECT_TRUE(alt.run("check_mime_multipart_ratio", {"0.00", "0.01"}));
  fixture even(
      "Content-Type: multipart/alternative; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nHi there\n--XX\n"
      "Content-Type: text/html\n\n<p>Hi there</p>\n--XX--\n");
  EXPECT_FALSE(even.run("check_mime_multipart_ratio", {"0.00", "0.01"}));
}

TEST(MimeEvals, AsciiTextIllegal) {
  fixture eight_bit("Content-Type: text/plain\n\ncaf\xc3\xa9\n");
  EXPECT_TRUE(eight_bit.run("check_for_ascii_text_illegal"));
  fixture labelled("Content-Type: text/plain; charset=utf-8\n\ncaf\xc3\xa9\n");
  EXPECT_FALSE(labelled.run("check_for_ascii_text_illegal"));
  fixture crlf("Content-Type: text/plain\r\n\r\nplain\r\nascii\r\n");  // CRLF line ends are fine
  EXPECT_FALSE(crlf.run("check_for_ascii_text_illegal"));
  fixture bare_cr("Content-Type: text/plain\n\nbare\rcr\n");
  EXPECT_TRUE(bare_cr.run("check_for_ascii_text_illegal"));
}

TEST(Evals, SortedRecipients) {
  fixture sorted("To: a@x.example, b@x.example, c@x.example, d@x.example\n"
                 "Cc: e@x.example, f@x.example, g@x.example\n\nb\n");
  EXPECT_TRUE(sorted.run("sorted_recipients"));
  fixture unsorted("To: b@x.example, a@x.example, c@x.example, d@x.example\n"
                   "Cc: e@x.example, f@x.example, g@x.example\n\nb\n");
  EXPECT_FALSE(unsorted.run("sorted_recipients"));
  fixture few("To: a@x.example, b@x.example\n\nb\n");
  EXPECT_FALSE(few.run("sorted_recipients"));
}

std::string alternative(const std::string& plain, const std::string& html) {
  return "Content-Type: multipart/alternative; boundary=XX\n\n--XX\nContent-Type: text/plain\n\n" + plain +
         "\n--XX\nContent-Type: text/html\n\n" + html + "\n--XX--\n";
}

TEST(MimeEvals, MultipartAlternativeDifference) {
  fixture differ(alternative("Hello friend", "<p>Buy cheap pills now</p>"));
  EXPECT_TRUE(differ.run("multipart_alternative_difference", {"99", "100"}));
  fixture same(alternative("Buy cheap pills now", "<p>Buy cheap pills now</p>"));
  EXPECT_FALSE(same.run("multipart_alternative_difference", {"99", "100"}));
  EXPECT_TRUE(same.run("multipart_alternative_difference", {"0", "0"}));  // 0 <= 0
  fixture image(alternative("Hi", "<img src=\"cid:x\">"));  // no words, an image
  EXPECT_TRUE(image.run("multipart_alternative_difference", {"99", "100"}));
  fixture single(html_message("<p>Buy cheap pills now</p>"));
  EXPECT_FALSE(single.run("multipart_alternative_difference", {"99", "100"}));
  // many more text words than HTML words
  fixture wordy(alternative("one two three four five six seven eight nine ten", "<p>one two</p>"));
  EXPECT_TRUE(wordy.run("multipart_alternative_difference_count", {"3", "1"}));
  EXPECT_FALSE(same.run("multipart_alternative_difference_count", {"3", "1"}));
}

TEST(Evals, RelayEvals) {
  fixture mismatch(
      "Received: from 203.0.113.9 (unknown [198.51.100.7]) by mx.ringmail.test (Postfix) with SMTP id B2; Tue, 1 "
      "Oct 2002 10:00:00 +0000\n\nb\n");
  EXPECT_TRUE(mismatch.run("helo_ip_mismatch"));
  fixture dotcom(
      "Received: from yahoo.com (unknown [198.51.100.7]) by mx.ringmail.test (Postfix) with SMTP id B2; Tue, 1 "
      "Oct 2002 10:00:00 +0000\nFrom: x@yahoo.com\n\nb\n");
  EXPECT_FALSE(dotcom.run("helo_ip_mismatch"));
  EXPECT_TRUE(dotcom.run("check_for_no_rdns_dotcom_helo"));
  EXPECT_TRUE(dotcom.run("check_for_forged_yahoo_received_headers"));
  fixture real_yahoo(
      "Received: from web1.mail.yahoo.com (web1.mail.yahoo.com [216.136.1.1]) by mx.ringmail.test (Postfix) with "
      "SMTP id B2; Tue, 1 Oct 2002 10:00:00 +0000\nFrom: x@yahoo.com\n\nb\n");
  EXPECT_FALSE(real_yahoo.run("check_for_no_rdns_dotcom_helo"));
  EXPECT_FALSE(real_yahoo.run("check_for_forged_yahoo_received_headers"));
  fixture hotmail("Received: from x (x [198.51.100.7]) by mx.ringmail.test (Postfix) with SMTP id B2\nFrom: a@hotmail.com\n\nb\n");
  EXPECT_TRUE(hotmail.run("check_for_no_hotmail_received_headers"));
  EXPECT_FALSE(real_yahoo.run("check_for_no_hotmail_received_headers"));
}

TEST(Evals, RegistryAndSettings) {
  EXPECT_EQ(find_eval("no_such_function"), nullptr);
  EXPECT_NE(find_eval("check_freemail_from"), nullptr);
  load_options lo;
  rule_set set = load_rules_from_text("freemail_domains a.example b.example\nfreemail_domains c.example\n", lo);
  ASSERT_EQ(set.settings["freemail_domains"].size(), 2u);
  eval_settings s = eval_settings::from(set);
  EXPECT_TRUE(evals::is_freemail(s, "x@c.example"));
  EXPECT_FALSE(evals::is_freemail(s, "x@d.example"));
  auto addrs = evals::addresses_in("\"Doe, J\" <J@X.example>, bob@y.example (Bob), group: c@z.example;");
  ASSERT_EQ(addrs.size(), 3u);
  EXPECT_EQ(addrs[0], "j@x.example");
  EXPECT_EQ(addrs[1], "bob@y.example");
  EXPECT_EQ(addrs[2], "c@z.example");
}

// The scanner end to end: the X-Spam-Relays-* pseudo-headers reach header rules (and a
// forged one in the message is replaced), ALL does not show them, eval rules run, and
// From:addr carries no trailing newline (SA 4.0 Check.pm).
TEST(EvalsInScanner, RelayHeadersAndEvalRules) {
  std::string dir = ::testing::TempDir() + "/ringmail-evals-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::ofstream(dir + "/rules.cf") << R"(
header   RDNS_NONE_T   X-Spam-Relays-External =~ /^[^\]]+ rdns= /
score    RDNS_NONE_T   1.0
header   ALL_RELAYS_T  ALL =~ /X-Spam-Relays/
score    ALL_RELAYS_T  10.0
header   FROM_WS_T     From:addr =~ /\s/
score    FROM_WS_T     10.0
header   NO_TO_T       eval:check_for_missing_to_header()
score    NO_TO_T       0.5
header   UNKNOWN_T     eval:no_such_eval_function()
score    UNKNOWN_T     10.0
)";
  engine_options o;
  o.rule_paths.push_back(dir + "/rules.cf");
  auto e = spam_engine::build(o);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ((*e)->stats().rules.unsupported_evals, 1u);
  scan_context ctx(*e);
  auto r = ctx.scan(
      "X-Spam-Relays-External: [ ip=1.2.3.4 rdns=forged.example helo=x ]\n"
      "Received: from pc7 (unknown [198.51.100.7]) by mx.ringmail.test (Postfix) with SMTP id B2C3; Tue, 1 Oct 2002 "
      "10:00:00 +0000\nFrom: a@b.example\nSubject: hi\n\nbody\n");
  EXPECT_EQ(r.tests, (std::vector<std::string>{"NO_TO_T", "RDNS_NONE_T"}));
  auto named = ctx.scan(
      "Received: from mail.example.com (mail.example.com [203.0.113.5]) by mx.ringmail.test (Postfix) with ESMTP id "
      "4ABC123; Tue, 1 Oct 2002 10:00:00 +0000\nTo: c@d.example\nFrom: Al <a@b.example>\n\nbody\n");
  EXPECT_TRUE(named.tests.empty()) << named.tests.size();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringmail::spam

// OBJECTID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970) and WITHIN (RFC 5032), the
// pure parts: the id rules (object_id.h), the preview text (preview.h), the fetch cache
// blob's new fields and its old format (fetch_cache.h), the new FETCH items and SEARCH
// keys in the parser, and their evaluation (search.h).
#include <gtest/gtest.h>

#include <string>

#include "mail/charset.h"
#include "mail/date.h"
#include "mail/encoding.h"
#include "mail/header.h"
#include "mail/message.h"
#include "protocols/imap/command.h"
#include "protocols/imap/fetch_cache.h"
#include "protocols/imap/object_id.h"
#include "protocols/imap/preview.h"
#include "protocols/imap/search.h"

namespace ringmail::imap {
namespace {

// ---- object ids ------------------------------------------------------------------------

TEST(ObjectId, SyntaxIsRfc8474s) {
  EXPECT_TRUE(valid_object_id("M6d4b3f2a"));
  EXPECT_TRUE(valid_object_id("a_b-C9"));
  EXPECT_TRUE(valid_object_id(std::string(255, 'x')));
  EXPECT_FALSE(valid_object_id(std::string(256, 'x')));
  EXPECT_FALSE(valid_object_id(""));
  EXPECT_FALSE(valid_object_id("a b"));
  EXPECT_FALSE(valid_object_id("a.b"));
  EXPECT_FALSE(valid_object_id("a+b"));
  EXPECT_EQ(mailbox_id("1cd09405f5c5156b9b31000083ecc375"), "1cd09405f5c5156b9b31000083ecc375");
  EXPECT_EQ(mailbox_id("not/valid"), "");
  EXPECT_EQ(mailbox_id(""), "");
}

TEST(ObjectId, EmailIdIsAHashOfTheBytes) {
  const std::string a = "Subject: hi\r\n\r\nbody\r\n";
  const std::string id = email_id(a);
  ASSERT_EQ(id.size(), 25u);
  EXPECT_EQ(id[0], 'M');
  EXPECT_TRUE(valid_object_id(id));
  EXPECT_EQ(email_id(a), id) << "the same bytes, the same id (a copy keeps its EMAILID)";
  EXPECT_NE(email_id("Subject: hi\r\n\r\nbody.\r\n"), id);
  // SHA-256("") starts e3b0c44298fc1c149afbf4c8: the rule is the documented one.
  EXPECT_EQ(email_id(""), "Me3b0c44298fc1c149afbf4c8");
}

mail::header_block headers(const std::string& raw) { return mail::parse_header_block(raw); }

TEST(ObjectId, ThreadRootFromReferencesThenInReplyToThenMessageId) {
  const std::string root = "Message-ID: <root@example.org>\r\nSubject: a\r\n\r\n";
  const std::string reply =
      "Message-ID: <r1@example.net>\r\nIn-Reply-To: <root@example.org>\r\n"
      "References: <root@example.org>\r\n\r\n";
  const std::string reply2 =
      "Message-ID: <r2@x>\r\nIn-Reply-To: <r1@example.net>\r\n"
      "References: <root@example.org>\r\n <r1@example.net>\r\n\r\n";
  const std::string only_irt = "Message-ID: <r3@x>\r\nIn-Reply-To: <root@example.org> (a comment)\r\n\r\n";
  const std::string folded_id = "References: <root@\r\n example.org>\r\n\r\n";
  const std::string none = "Subject: nothing\r\n\r\n";
  EXPECT_EQ(thread_root_message_id(headers(root)), "root@example.org");
  EXPECT_EQ(thread_root_message_id(headers(reply)), "root@example.org");
  EXPECT_EQ(thread_root_message_id(headers(reply2)), "root@example.org");
  EXPECT_EQ(thread_root_message_id(headers(only_irt)), "root@example.org");
  EXPECT_EQ(thread_root_message_id(headers(folded_id)), "root@example.org");
  EXPECT_EQ(thread_root_message_id(headers(none)), "");
  // Every message of the thread gets one THREADID; another root another.
  const std::string t = thread_id("root@example.org", "Mxxx");
  EXPECT_EQ(t.size(), 25u);
  EXPECT_EQ(t[0], 'T');
  EXPECT_EQ(thread_id(thread_root_message_id(headers(reply2)), "Mother"), t);
  EXPECT_NE(thread_id("other@example.org", "Mxxx"), t);
  // No msg-id at all: a thread of its own, named after the message.
  EXPECT_EQ(thread_id("", "Mabc123"), "Tabc123");
}

TEST(ObjectId, SaveDateIsTheMaildirNamesTime) {
  EXPECT_EQ(save_date_of("1700000000.M12P34Q1.mx.example.org,S=5,W=6", 7), 1700000000);
  EXPECT_EQ(save_date_of("/m/cur/1700000001.M1P2.host,S=5:2,S", 7), 1700000001) << "a path and flags";
  EXPECT_EQ(save_date_of("msg.1700000000", 7), 7) << "no leading time: INTERNALDATE";
  EXPECT_EQ(save_date_of("12.foo", 7), 7) << "not a plausible time";
  EXPECT_EQ(save_date_of("1700000000", 7), 7) << "no '.' after the digits";
  EXPECT_EQ(save_date_of("", 7), 7);
}

// ---- preview ---------------------------------------------------------------------------

std::string preview_of(const std::string& raw) {
  mail::charset_converter charsets;
  mail::message m = mail::parse_message(raw, charsets, {.boundaries = mail::boundary_rule::rfc2046});
  return make_preview(m, charsets);
}

TEST(Preview, PlainTextWhitespaceCollapsedAndQuotesDropped) {
  EXPECT_EQ(preview_of("Subject: x\r\n\r\n  Hello   there,\r\n\r\n\tsee\r\n> quoted line\r\nyou  \r\n"),
            "Hello there, see you");
  EXPECT_EQ(preview_of("Subject: x\r\n\r\n"), "");
  EXPECT_EQ(preview_of("Subject: x\r\n\r\n \r\n\r\n"), "");
}

TEST(Preview, QuotedPrintableAndBase64AreDecoded) {
  EXPECT_EQ(preview_of("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                       "Gr=C3=BC=C3=9Fe aus K=C3=B6ln, sehr lan=\r\nge Zeile\r\n"),
            "Grüße aus Köln, sehr lange Zeile");
  EXPECT_EQ(preview_of("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                       mail::encode_base64("Base64 body\r\nsecond line\r\n") + "\r\n"),
            "Base64 body second line");
}

TEST(Preview, NonUtf8CharsetsAreConverted) {
  EXPECT_EQ(preview_of("Content-Type: text/plain; charset=iso-8859-1\r\n\r\nCaf\xe9 cr\xe8me\r\n"), "Café crème");
  // KOI8-R "привет" (hello).
  EXPECT_EQ(preview_of("Content-Type: text/plain; charset=koi8-r\r\n\r\n\xd0\xd2\xc9\xd7\xc5\xd4\r\n"), "привет");
}

TEST(Preview, HtmlIsRenderedToText) {
  EXPECT_EQ(preview_of("Content-Type: text/html\r\n\r\n<html><head><title>T</title><style>p{color:red}</style>"
                       "<script>var x=1;</script></head><body><p>Hello&nbsp;<b>world</b> &amp; all</p>"
                       "<!-- hidden --><div>Second&#33;</div></body></html>\r\n"),
            "T Hello world & all Second!");
  // An iframe's content (fallback markup, often a script) is not shown.
  EXPECT_EQ(preview_of("Content-Type: text/html\r\n\r\n<p>News</p><IFRAME src=x><script src=y>\r\n</script>"
                       "</IFrame><p>Story</p>\r\n"),
            "News Story");
}

TEST(Preview, AlternativePrefersPlainTextWhateverTheOrder) {
  const std::string html_first =
      "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/html\r\n\r\n<p>the html</p>\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nthe plain\r\n--b--\r\n";
  EXPECT_EQ(preview_of(html_first), "the plain");
  const std::string mixed =
      "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
      "--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nPDF\r\n"
      "--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
      "--a\r\nContent-Type: text/html\r\n\r\n<i>only html</i>\r\n--a--\r\n"
      "--m--\r\n";
  EXPECT_EQ(preview_of(mixed), "only html");
  const std::string attachment_only =
      "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
      "--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nnotes\r\n"
      "--m--\r\n";
  EXPECT_EQ(preview_of(attachment_only), "");
}

TEST(Preview, CutAt256CharactersOnACharacterBoundary) {
  std::string body;
  for (int i = 0; i < 300; ++i) body += "é";  // two bytes each
  const std::string p = preview_of("Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n");
  EXPECT_EQ(p.size(), 512u);
  EXPECT_TRUE(mail::is_valid_utf8(p));
  std::string words;
  for (int i = 0; i < 100; ++i) words += "abc ";
  const std::string q = preview_of("Subject: x\r\n\r\n" + words + "\r\n");
  EXPECT_EQ(q.size(), 255u) << "256 characters would end in a space, which is dropped";
  EXPECT_EQ(collapse_and_cut("  a \xc2\xa0 b\r\n\x01 c  ", 256), "a b c");
  EXPECT_EQ(collapse_and_cut("日本語テキスト", 3), "日本語");
}

// ---- the fetch cache blob ------------------------------------------------------------

TEST(FetchCacheObjects, OldBlobsDecodeWithNothingKnown) {
  // A blob as indexes written before OBJECTID/PREVIEW hold it.
  auto old = decode_fetch_cache("imap1:3:env2:bs4:body");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->envelope, "env");
  EXPECT_EQ(old->body, "body");
  EXPECT_EQ(old->email_id, "");
  EXPECT_FALSE(old->preview.has_value());
  fetch_cache c = *old;
  EXPECT_EQ(encode_fetch_cache(c), "imap1:3:env2:bs4:body") << "nothing new: the old format";
  c.email_id = "Mabc";
  c.thread_id = "Tdef";
  c.preview = "";
  auto back = decode_fetch_cache(encode_fetch_cache(c));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, c);
  EXPECT_TRUE(back->preview.has_value()) << "an empty preview is cached, not lost";
  c.preview = "Hi there";
  EXPECT_EQ(*decode_fetch_cache(encode_fetch_cache(c)), c);
  EXPECT_FALSE(decode_fetch_cache("imap1:3:env2:bs4:body1:x").has_value()) << "a partial extension";
  EXPECT_FALSE(decode_fetch_cache("imap1:3:env2:bs4:body0:0:1:x").has_value()) << "preview without '='";
}

// ---- parser ----------------------------------------------------------------------------

command parse_ok(std::string_view s) {
  parse_result r = parse_command(s);
  EXPECT_TRUE(r.cmd.has_value()) << s << " -> " << r.error.message;
  return r.cmd.value_or(command{});
}

TEST(ObjectParser, FetchItems) {
  command c = parse_ok("a UID FETCH 1:* (UID EMAILID THREADID SAVEDATE PREVIEW)");
  ASSERT_EQ(c.fetch.size(), 5u);
  EXPECT_EQ(c.fetch[1].k, fetch_item::kind::email_id);
  EXPECT_EQ(c.fetch[2].k, fetch_item::kind::thread_id);
  EXPECT_EQ(c.fetch[3].k, fetch_item::kind::save_date);
  EXPECT_EQ(c.fetch[4].k, fetch_item::kind::preview);
  EXPECT_FALSE(c.fetch[4].lazy);
  c = parse_ok("a FETCH 1 (PREVIEW (LAZY) FLAGS)");
  ASSERT_EQ(c.fetch.size(), 2u);
  EXPECT_TRUE(c.fetch[0].lazy);
  EXPECT_EQ(c.fetch[1].k, fetch_item::kind::flags);
  c = parse_ok("a fetch 1 preview (lazy)");
  ASSERT_EQ(c.fetch.size(), 1u);
  EXPECT_TRUE(c.fetch[0].lazy);
  // Without the list, "(CHANGEDSINCE n)" after PREVIEW is the FETCH modifier.
  c = parse_ok("a FETCH 1 PREVIEW (CHANGEDSINCE 5)");
  ASSERT_EQ(c.fetch.size(), 1u);
  EXPECT_FALSE(c.fetch[0].lazy);
  EXPECT_EQ(c.changed_since, 5u);
  c = parse_ok("a FETCH 1 (PREVIEW (LAZY)) (CHANGEDSINCE 5)");
  EXPECT_TRUE(c.fetch[0].lazy);
  EXPECT_EQ(c.changed_since, 5u);
  EXPECT_FALSE(parse_command("a FETCH 1 (PREVIEW (LAZY FUZZY))").cmd.has_value());
  EXPECT_FALSE(parse_command("a FETCH 1 (PREVIEW (LAZY)").cmd.has_value());
}

TEST(ObjectParser, SearchKeys) {
  command c = parse_ok("a SEARCH EMAILID M123abc THREADID T_x-1 SAVEDATESUPPORTED");
  ASSERT_EQ(c.search.children.size(), 3u);
  EXPECT_EQ(c.search.children[0].k, search_key::kind::email_id);
  EXPECT_EQ(c.search.children[0].text, "M123abc");
  EXPECT_EQ(c.search.children[1].k, search_key::kind::thread_id);
  EXPECT_EQ(c.search.children[1].text, "T_x-1");
  EXPECT_EQ(c.search.children[2].k, search_key::kind::save_date_supported);
  c = parse_ok("a SEARCH SAVEDBEFORE 1-Feb-2024 SAVEDON \"2-Feb-2024\" SAVEDSINCE 3-Feb-2024");
  ASSERT_EQ(c.search.children.size(), 3u);
  EXPECT_EQ(c.search.children[0].k, search_key::kind::saved_before);
  EXPECT_EQ(c.search.children[0].date, mail::days_from_civil(2024, 2, 1));
  EXPECT_EQ(c.search.children[1].k, search_key::kind::saved_on);
  EXPECT_EQ(c.search.children[2].k, search_key::kind::saved_since);
  c = parse_ok("a UID SEARCH OLDER 3600 NOT YOUNGER 60");
  ASSERT_EQ(c.search.children.size(), 2u);
  EXPECT_EQ(c.search.children[0].k, search_key::kind::older);
  EXPECT_EQ(c.search.children[0].number, 3600u);
  EXPECT_EQ(c.search.children[1].children[0].k, search_key::kind::younger);
  EXPECT_FALSE(parse_command("a SEARCH OLDER 0").cmd.has_value()) << "nz-number";
  EXPECT_FALSE(parse_command("a SEARCH YOUNGER").cmd.has_value());
  EXPECT_FALSE(parse_command("a SEARCH EMAILID").cmd.has_value());
  EXPECT_FALSE(parse_command("a SEARCH SAVEDON 32-Jan-2024").cmd.has_value());
}

// ---- evaluation ------------------------------------------------------------------------

search_key key(search_key::kind k) {
  search_key s;
  s.k = k;
  return s;
}

TEST(ObjectSearch, WithinSavedateAndIds) {
  mailstore::message_entry e;
  e.uid = 1;
  const int64_t day = mail::days_from_civil(2024, 3, 10);
  e.internal_date = day * 86400 + 12 * 3600;
  e.base = std::to_string((day + 5) * 86400 + 60) + ".M1P2.host,S=10";  // saved 5 days later
  search_context ctx;
  ctx.now = e.internal_date + 100;
  search_message m{1, &e, nullptr};

  search_key older = key(search_key::kind::older);
  older.number = 100;
  EXPECT_TRUE(search_matches(older, m, ctx)) << "exactly 100 s old: OLDER 100 includes it";
  older.number = 101;
  EXPECT_FALSE(search_matches(older, m, ctx));
  search_key younger = key(search_key::kind::younger);
  younger.number = 100;
  EXPECT_TRUE(search_matches(younger, m, ctx));
  younger.number = 99;
  EXPECT_FALSE(search_matches(younger, m, ctx));

  search_key on = key(search_key::kind::saved_on);
  on.date = day + 5;
  EXPECT_TRUE(search_matches(on, m, ctx));
  on.date = day;
  EXPECT_FALSE(search_matches(on, m, ctx)) << "the save date, not INTERNALDATE";
  search_key before = key(search_key::kind::saved_before);
  before.date = day + 5;
  EXPECT_FALSE(search_matches(before, m, ctx));
  before.date = day + 6;
  EXPECT_TRUE(search_matches(before, m, ctx));
  search_key since = key(search_key::kind::saved_since);
  since.date = day + 5;
  EXPECT_TRUE(search_matches(since, m, ctx));
  EXPECT_TRUE(search_needs_save_date(since));
  EXPECT_FALSE(search_needs_content(since));
  EXPECT_TRUE(search_matches(key(search_key::kind::save_date_supported), m, ctx));
  // A name without a time: the save date is INTERNALDATE.
  e.base = "foreign-name";
  on.date = day;
  EXPECT_TRUE(search_matches(on, m, ctx));

  search_key id = key(search_key::kind::email_id);
  id.text = "Mabc";
  EXPECT_TRUE(search_needs_object_ids(id));
  EXPECT_FALSE(search_matches(id, m, ctx)) << "no id known: no match";
  m.email_id = "Mabc";
  m.thread_id = "Tdef";
  EXPECT_TRUE(search_matches(id, m, ctx));
  id.text = "mabc";
  EXPECT_FALSE(search_matches(id, m, ctx)) << "ids are case-sensitive";
  search_key thread = key(search_key::kind::thread_id);
  thread.text = "Tdef";
  EXPECT_TRUE(search_matches(thread, m, ctx));
}

}  // namespace
}  // namespace ringmail::imap

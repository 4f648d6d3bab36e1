// The Dovecot-compatible on-disk formats (delivery/mailstore/*): table-driven cases,
// hostile folder names, round trips, and files written by a real Dovecot 2.3.19
// (tests/delivery/data/dovecot, made with doveadm save / mailbox create / subscribe /
// flags add against a private config).
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "delivery/mailstore/dovecot_keywords.h"
#include "delivery/mailstore/dovecot_uidlist.h"
#include "delivery/mailstore/folder_name.h"
#include "delivery/mailstore/maildir_filename.h"
#include "delivery/mailstore/mutf7.h"
#include "delivery/mailstore/subscriptions.h"
#include "gtest/gtest.h"

namespace ringmail::mailstore {
namespace {

std::string read_sample(const std::string& name) {
  std::ifstream in(std::string(RINGMAIL_SOURCE_DIR) + "/tests/delivery/data/dovecot/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- maildir file names -------------------------------------------------------------

TEST(MaildirName, ParsesBaseSizesFlagsAndKeywords) {
  maildir_name n = parse_maildir_name("1796589045.M93604P12699.vm,S=29,W=33:2,Sab");
  EXPECT_EQ(n.base, "1796589045.M93604P12699.vm,S=29,W=33");
  EXPECT_EQ(n.size, 29);
  EXPECT_EQ(n.vsize, 33);
  EXPECT_EQ(n.flags, flag_seen);
  EXPECT_EQ(n.keywords, 0b11u);
  EXPECT_EQ(n.other_flags, "");
}

TEST(MaildirName, Table) {
  struct row {
    const char* name;
    const char* base;
    int64_t size, vsize;
    uint8_t flags;
    uint32_t keywords;
    const char* other;
  } rows[] = {
      {"123.abc", "123.abc", -1, -1, 0, 0, ""},
      {"123.abc:2,", "123.abc", -1, -1, 0, 0, ""},
      {"123.abc:2,DFRST", "123.abc", -1, -1,
       flag_draft | flag_flagged | flag_answered | flag_seen | flag_deleted, 0, ""},
      {"123.abc:2,PSz", "123.abc", -1, -1, flag_seen, 1u << 25, "P"},
      {"123.abc:1,S", "123.abc", -1, -1, 0, 0, ""},     // experimental info: no flags
      {"1.x,S=12x,W=9:2,S", "1.x,S=12x,W=9", -1, 9, flag_seen, 0, ""},  // junk S= ignored
      {"1.x,S=99999999999999999999", "1.x,S=99999999999999999999", -1, -1, 0, 0, ""},
      {"1.x:2,SS", "1.x", -1, -1, flag_seen, 0, ""},
  };
  for (const row& r : rows) {
    maildir_name n = parse_maildir_name(r.name);
    EXPECT_EQ(n.base, r.base) << r.name;
    EXPECT_EQ(n.size, r.size) << r.name;
    EXPECT_EQ(n.vsize, r.vsize) << r.name;
    EXPECT_EQ(n.flags, r.flags) << r.name;
    EXPECT_EQ(n.keywords, r.keywords) << r.name;
    EXPECT_EQ(n.other_flags, r.other) << r.name;
  }
}

TEST(MaildirName, FormatsInAsciiOrder) {
  EXPECT_EQ(format_maildir_name("b", flag_seen | flag_draft, 0), "b:2,DS");
  EXPECT_EQ(format_maildir_name("b", flag_seen, (1u << 2) | 1u, "P"), "b:2,PSac");
  EXPECT_EQ(format_maildir_name("b", 0, 0), "b:2,");
  EXPECT_EQ(format_maildir_name("b", flag_deleted | flag_answered | flag_flagged, 0), "b:2,FRT");
}

TEST(MaildirName, ParseFormatParseKeepsEverything) {
  for (const char* name : {"a:2,PRSbc", "x,S=1,W=2:2,T", "q:2,2Sa", "plain"}) {
    maildir_name n = parse_maildir_name(name);
    std::string again = format_maildir_name(n.base, n.flags, n.keywords, n.other_flags);
    maildir_name m = parse_maildir_name(again);
    EXPECT_EQ(m.base, n.base);
    EXPECT_EQ(m.flags, n.flags);
    EXPECT_EQ(m.keywords, n.keywords);
    EXPECT_EQ(m.other_flags, n.other_flags);
  }
}

TEST(MaildirName, DovecotWrittenNames) {
  std::istringstream names(read_sample("new-filenames.txt"));
  std::string line;
  int count = 0;
  while (std::getline(names, line)) {
    maildir_name n = parse_maildir_name(line);
    EXPECT_GT(n.size, 0) << line;
    EXPECT_GE(n.vsize, n.size) << line;
    ++count;
  }
  EXPECT_EQ(count, 2);
}

// ---- modified UTF-7 -----------------------------------------------------------------

TEST(Mutf7, RfcExample) {
  // RFC 3501 5.1.3.
  EXPECT_EQ(*utf8_to_mutf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(*mutf7_to_utf8("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), "~peter/mail/台北/日本語");
}

TEST(Mutf7, Table) {
  struct row {
    const char* utf8;
    const char* mutf7;
  } rows[] = {
      {"", ""},
      {"INBOX", "INBOX"},
      {"&", "&-"},
      {"a&b", "a&-b"},
      {"Entwürfe", "Entw&APw-rfe"},
      {"ä&ö", "&AOQ-&-&APY-"},
      {"😀", "&2D3eAA-"},  // U+1F600 as a surrogate pair
      {"\t", "&AAk-"},
  };
  for (const row& r : rows) {
    EXPECT_EQ(*utf8_to_mutf7(r.utf8), r.mutf7) << r.utf8;
    EXPECT_EQ(*mutf7_to_utf8(r.mutf7), r.utf8) << r.mutf7;
  }
}

TEST(Mutf7, RejectsNonCanonicalAndMalformed) {
  for (const char* bad : {
           "&",            // unterminated
           "a&AOQ",        // unterminated
           "&AGE-",        // 'a' encoded: printable ASCII must be direct
           "&ACY-",        // '&' encoded
           "&AOQ-&APY-",   // two runs back to back
           "&AOQ=-",       // padding / outside the alphabet
           "&AO/-",        // '/' instead of ','
           "&AOR-",        // non-zero leftover bits
           "&AOQA-",       // six leftover bits (a partial unit)
           "&2D0-",        // lone high surrogate
           "&3gA-",        // lone low surrogate
           "caf\xc3\xa9",  // raw 8-bit
           "a\tb",         // raw control character
       }) {
    EXPECT_FALSE(mutf7_to_utf8(bad).ok()) << bad;
  }
}

TEST(Mutf7, RejectsInvalidUtf8) {
  for (const char* bad : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "a\x80"}) {
    EXPECT_FALSE(utf8_to_mutf7(bad).ok()) << bad;
  }
}

TEST(Mutf7, RoundTripsEveryBmpCharacterBlock) {
  std::string all;
  for (uint32_t cp = 1; cp < 0x3000; cp += 7) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    std::string s;
    if (cp < 0x80) {
      s = static_cast<char>(cp);
    } else if (cp < 0x800) {
      s = {static_cast<char>(0xc0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3f))};
    } else {
      s = {static_cast<char>(0xe0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
           static_cast<char>(0x80 | (cp & 0x3f))};
    }
    all += s;
  }
  absl::StatusOr<std::string> enc = utf8_to_mutf7(all);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(*mutf7_to_utf8(*enc), all);
}

// ---- folder names -------------------------------------------------------------------

TEST(FolderName, Mapping) {
  struct row {
    const char* name;
    const char* dir;
  } rows[] = {
      {"INBOX", ""},          {"inbox", ""},         {"Sent", ".Sent"},
      {"a/b", ".a.b"},        {"Entwürfe", ".Entw&APw-rfe"},
      {"INBOX/child", ".INBOX.child"}, {"Inbox/child", ".INBOX.child"},
      {"tmp", ".tmp"},        {"a&b", ".a&-b"},      {"x/INBOX", ".x.INBOX"},
  };
  for (const row& r : rows) {
    absl::StatusOr<std::string> dir = folder_to_dir(r.name);
    ASSERT_TRUE(dir.ok()) << r.name << ": " << dir.status();
    EXPECT_EQ(*dir, r.dir) << r.name;
    absl::StatusOr<std::string> back = dir_to_folder(r.dir);
    ASSERT_TRUE(back.ok()) << r.dir << ": " << back.status();
    EXPECT_EQ(folder_to_dir(*back).value(), r.dir);
  }
  EXPECT_EQ(dir_to_folder("").value(), "INBOX");
  EXPECT_EQ(dir_to_folder(".a.b").value(), "a/b");
}

TEST(FolderName, HostileNamesAreRefused) {
  std::string long_level(250, 'x');
  std::string nul_name("a\0b", 3);
  for (const std::string& bad : {
           std::string(""), std::string("../x"), std::string("a/../../b"), std::string("/etc"),
           std::string("~root"), std::string("a//b"), std::string("x/"), std::string("/x"),
           std::string("."), std::string(".."), std::string("x.y"), std::string("a/./b"),
           nul_name, std::string("a\nb"), std::string("a\rb"), std::string("a\x7f"),
           std::string("a\x1f"), std::string("caf\xc3"), std::string("\xc0\xaf"),
           long_level + "/" + long_level,  // two levels, 502 bytes
           std::string(255, 'y'),          // 256 bytes with the leading '.'
       }) {
    absl::StatusOr<std::string> dir = folder_to_dir(bad);
    EXPECT_FALSE(dir.ok()) << absl::CEscape(bad) << " -> " << (dir.ok() ? *dir : "");
    if (!dir.ok()) {
      EXPECT_EQ(dir.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_TRUE(folder_to_dir(std::string(254, 'y')).ok());  // exactly 255 bytes
  EXPECT_EQ(folder_to_dir("~root").status().message(),
            "invalid folder name \"~root\": begins with '~'");
}

TEST(FolderName, AcceptedNamesStayOneComponentBelowTheMaildir) {
  for (const char* name : {"tmp", "cur", "new", "TMP", "a~b", "Ünïcødé/子", "x/y/z", "&", "-"}) {
    absl::StatusOr<std::string> dir = folder_to_dir(name);
    ASSERT_TRUE(dir.ok()) << name;
    EXPECT_EQ(dir->front(), '.');
    EXPECT_NE(*dir, ".");
    EXPECT_NE(*dir, "..");
    EXPECT_EQ(dir->find('/'), std::string::npos);
    EXPECT_EQ(dir_to_folder(*dir).value(), name);
  }
}

TEST(FolderName, DirectoriesThatAreNotFolders) {
  std::string nul_dir(".a\0b", 4);
  for (const std::string& bad : {
           std::string("cur"), std::string("new"), std::string("tmp"), std::string("."),
           std::string(".."), std::string("..a"), std::string(".a."), std::string(".a..b"),
           std::string(".INBOX"), std::string(".inbox.x"), std::string(".&AGE-"),
           std::string(".~root"), std::string(".a/b"), std::string(".&AAA-"), nul_dir,
           std::string(".&AOQ"), std::string("." + std::string(255, 'z')),
       }) {
    EXPECT_FALSE(dir_to_folder(bad).ok()) << absl::CEscape(bad);
  }
}

TEST(FolderName, DovecotCreatedDirectories) {
  std::istringstream dirs(read_sample("folder-dirs.txt"));
  std::string dir;
  std::vector<std::string> names;
  while (std::getline(dirs, dir)) {
    absl::StatusOr<std::string> name = dir_to_folder(dir);
    ASSERT_TRUE(name.ok()) << dir << ": " << name.status();
    EXPECT_EQ(folder_to_dir(*name).value(), dir);
    names.push_back(*name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Entwürfe", "INBOX/child", "Sent", "a/b", "tmp"}));
}

// ---- dovecot-uidlist ----------------------------------------------------------------

TEST(Uidlist, DovecotWrittenFile) {
  std::string text = read_sample("dovecot-uidlist");
  absl::StatusOr<uidlist> list = parse_uidlist(text);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->version, 3);
  EXPECT_EQ(list->uidvalidity, 1796589045u);
  EXPECT_EQ(list->next_uid, 3u);
  EXPECT_EQ(list->guid, "1cd09405f5c5156b9b31000083ecc375");
  ASSERT_EQ(list->entries.size(), 2u);
  EXPECT_EQ(list->entries[0].uid, 1u);
  EXPECT_EQ(list->entries[0].base, "1796589045.M93604P12699.vm,S=29,W=33");
  EXPECT_EQ(list->entries[1].uid, 2u);
  // Written back byte for byte as Dovecot wrote it.
  EXPECT_EQ(format_uidlist(*list), text);
}

TEST(Uidlist, ExtensionsAndHeaderExtensions) {
  std::string text =
      "3 V7 N10 G0123456789abcdef0123456789ABCDEF X1 Yfoo\n"
      "1 W120 S118 :a,S=118\n"
      "4 GabC :b name with spaces\n"
      "9 :c:2,S\n";
  absl::StatusOr<uidlist> list = parse_uidlist(text);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->header_ext, (std::vector<std::pair<char, std::string>>{{'X', "1"}, {'Y', "foo"}}));
  EXPECT_EQ(list->entries[0].ext,
            (std::vector<std::pair<char, std::string>>{{'W', "120"}, {'S', "118"}}));
  EXPECT_EQ(list->entries[1].base, "b name with spaces");
  EXPECT_EQ(list->entries[2].base, "c");  // the info is not part of the base
  std::string again = format_uidlist(*list);
  EXPECT_EQ(again,
            "3 V7 N10 G0123456789abcdef0123456789ABCDEF X1 Yfoo\n"
            "1 W120 S118 :a,S=118\n"
            "4 GabC :b name with spaces\n"
            "9 :c\n");
  EXPECT_EQ(parse_uidlist(again).value(), *list);
}

TEST(Uidlist, AppendedEntriesBeyondTheHeaderNextUidAreValidInVersion3) {
  // Dovecot appends without rewriting the header, so N can lag behind.
  absl::StatusOr<uidlist> list =
      parse_uidlist("3 V1 N3 G0123456789abcdef0123456789abcdef\n1 :a\n3 :b\n7 :c\n");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->next_uid, 8u);
  EXPECT_EQ(format_uidlist_entry(list->entries[2]), "7 :c\n");
}

TEST(Uidlist, Version1) {
  absl::StatusOr<uidlist> list = parse_uidlist("1 1234 5\n1 a:2,S\n4 b\n");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->version, 1);
  EXPECT_EQ(list->uidvalidity, 1234u);
  EXPECT_EQ(list->next_uid, 5u);
  EXPECT_EQ(list->entries[0].base, "a");
  // Upgraded to version 3 on write, as Dovecot does (no G until the store sets one).
  EXPECT_EQ(format_uidlist(*list), "3 V1234 N5\n1 :a\n4 :b\n");
}

TEST(Uidlist, RejectsMalformed) {
  const std::string g = " G0123456789abcdef0123456789abcdef";
  for (const std::string& bad : {
           std::string(""), std::string("\n"), std::string("x V1 N2\n"), std::string("2 V1 N2\n"),
           std::string("3 V1\n"),                        // no N
           std::string("3 V0 N2\n"),                     // uidvalidity 0
           std::string("3 V1 N0\n"),                     // next uid 0
           std::string("3 V1 N2 Gxyz\n"),                // bad GUID
           std::string("3 V1 N2 G0123\n"),               // short GUID
           std::string("3 V99999999999 N2\n"),           // overflow
           "3 V1 N5" + g + "\n2 :a\n2 :b\n",             // repeated UID
           "3 V1 N5" + g + "\n3 :a\n2 :b\n",             // decreasing UID
           "3 V1 N5" + g + "\n0 :a\n",                   // UID 0
           "3 V1 N5" + g + "\n4294967295 :a\n",          // UID 2^32-1
           "3 V1 N5" + g + "\n4294967296 :a\n",          // overflow
           "3 V1 N5" + g + "\n1 a\n",                    // no ':' in version 3
           "3 V1 N5" + g + "\n1 :\n",                    // empty name
           "3 V1 N5" + g + "\n1 :a/b\n",                 // '/' in name
           "3 V1 N5" + g + "\n1\n",                      // no space
           "3 V1 N5" + g + "\nx :a\n",                   // not a number
           std::string("1 1 3\n3 a\n"),                  // version 1: uid >= next uid
           std::string("1 1\n"),                         // version 1: short header
       }) {
    EXPECT_FALSE(parse_uidlist(bad).ok()) << absl::CEscape(bad);
  }
}

TEST(Uidlist, InvalidEntryKeysAreDroppedAsDovecotDoes) {
  absl::StatusOr<uidlist> list = parse_uidlist("3 V1 N5\n1 W3 x7 :a\n");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->entries[0].ext, (std::vector<std::pair<char, std::string>>{{'W', "3"}}));
}

// ---- dovecot-keywords ---------------------------------------------------------------

TEST(Keywords, DovecotWrittenFile) {
  std::string text = read_sample("dovecot-keywords");
  absl::StatusOr<std::vector<std::string>> kw = parse_keywords(text);
  ASSERT_TRUE(kw.ok()) << kw.status();
  EXPECT_EQ(*kw, (std::vector<std::string>{"$Junk", "foo"}));
  EXPECT_EQ(format_keywords(*kw), text);
}

TEST(Keywords, GapsAndLimits) {
  absl::StatusOr<std::vector<std::string>> kw = parse_keywords("2 c\n0 a\n30 ignored\n");
  ASSERT_TRUE(kw.ok());
  EXPECT_EQ(*kw, (std::vector<std::string>{"a", "", "c"}));
  EXPECT_EQ(format_keywords(*kw), "0 a\n2 c\n");
  for (const char* bad : {"x a\n", "0\n", "0 \n", "0 a b\n", "0 a\n0 b\n", "0 a\n1 a\n",
                          "0 (x\n", "0 a]\n", "-1 a\n", "0 a\\b\n", "0 \x01\n"}) {
    EXPECT_FALSE(parse_keywords(bad).ok()) << absl::CEscape(bad);
  }
}

TEST(Keywords, AtomRule) {
  for (const char* ok : {"$Junk", "$MDNSent", "NonJunk", "a.b-c_d", "x[1"}) EXPECT_TRUE(is_valid_keyword(ok)) << ok;
  for (const char* bad : {"", "a b", "a(b", "a)b", "a{b", "a%b", "a*b", "a\"b", "a\\b", "a]b", "\\Seen",
                          "caf\xc3\xa9", "a\x7f"}) {
    EXPECT_FALSE(is_valid_keyword(bad)) << bad;
  }
}

// ---- subscriptions ------------------------------------------------------------------

TEST(Subscriptions, DovecotWrittenFile) {
  std::string text = read_sample("subscriptions");
  parsed_subscriptions subs = parse_subscriptions(text);
  EXPECT_EQ(subs.version, 2);
  EXPECT_EQ(subs.names, (std::vector<std::string>{"Sent", "a/b", "Entwürfe"}));
  EXPECT_EQ(subs.skipped, 0u);
  EXPECT_EQ(format_subscriptions(subs.names).value(), text);
}

TEST(Subscriptions, OldFormatAndDamagedLines) {
  parsed_subscriptions subs = parse_subscriptions("Sent\nLists.Debian\nEntw&APw-rfe\n&AGE-\ninbox\n");
  EXPECT_EQ(subs.version, 1);
  EXPECT_EQ(subs.names, (std::vector<std::string>{"Sent", "Lists/Debian", "Entwürfe", "INBOX"}));
  EXPECT_EQ(subs.skipped, 1u);

  parsed_subscriptions v2 = parse_subscriptions("V\t2\n\na\t\x01z\nok\n\n");
  EXPECT_EQ(v2.names, std::vector<std::string>{"ok"});
  EXPECT_EQ(v2.skipped, 1u);
}

TEST(Subscriptions, FormatRefusesWhatCannotBeStored) {
  EXPECT_FALSE(format_subscriptions({""}).ok());
  EXPECT_FALSE(format_subscriptions({"a//b"}).ok());
  EXPECT_FALSE(format_subscriptions({"caf\xc3"}).ok());
  EXPECT_EQ(format_subscriptions({"inbox", "x/y"}).value(), "V\t2\n\nINBOX\nx\ty\n");
}

}  // namespace
}  // namespace ringmail::mailstore

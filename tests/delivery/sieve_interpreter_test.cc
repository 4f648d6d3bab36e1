// Tests of the Sieve interpreter (delivery/sieve/interpreter.h): the RFC examples of RFC
// 5228 and of each extension, action merging and the implicit keep with its flags,
// reject conflicts, multiple scripts, and hostile scripts that must end with a clear
// error quickly (limits).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "delivery/sieve/checker.h"
#include "delivery/sieve/date_part.h"
#include "delivery/sieve/imap4flags.h"
#include "delivery/sieve/interpreter.h"
#include "delivery/sieve/message_view.h"
#include "delivery/sieve/spamtest.h"

namespace ringmail::sieve {
namespace {

using strings = std::vector<std::string>;

// 2026-01-15 12:00:00 UTC, a Thursday (the differential's clock).
constexpr std::time_t kNow = 1768478400;

std::shared_ptr<const program> must_compile(std::string_view text) {
  absl::StatusOr<checked_script> checked = compile_script(text);
  EXPECT_TRUE(checked.ok()) << checked.status() << "\n" << text;
  if (!checked.ok()) return nullptr;
  absl::StatusOr<std::shared_ptr<const program>> p = compile(*std::move(checked));
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : nullptr;
}

class fake_host : public script_host {
 public:
  bool mailbox_exists(std::string_view name) const override {
    return name == "INBOX" || mailboxes.contains(std::string(name));
  }
  bool duplicate_seen(std::string_view id) const override {
    asked.push_back(std::string(id));
    return seen.contains(std::string(id));
  }
  const program* included(std::string_view name, bool global) const override {
    auto it = scripts.find({std::string(name), global});
    return it == scripts.end() ? nullptr : it->second.get();
  }
  void add(std::string name, bool global, std::string_view text) {
    scripts[{std::move(name), global}] = must_compile(text);
  }

  std::set<std::string> mailboxes;
  std::set<std::string> seen;
  mutable std::vector<std::string> asked;
  std::map<std::pair<std::string, bool>, std::shared_ptr<const program>> scripts;
};

// The result in the differential's spirit: one word per action, "implicit-keep" last.
std::string describe(const run_result& r) {
  if (r.error) return "error: " + *r.error;
  std::vector<std::string> out;
  for (const action& a : r.actions) {
    std::string s;
    switch (a.kind) {
      case action::keep: s = "keep"; break;
      case action::fileinto: s = absl::StrCat("fileinto \"", a.mailbox, "\""); break;
      case action::redirect: s = absl::StrCat("redirect \"", a.address, "\""); break;
      case action::reject: s = absl::StrCat("reject \"", a.reason, "\""); break;
      case action::ereject: s = absl::StrCat("ereject \"", a.reason, "\""); break;
      case action::discard: s = "discard"; break;
      case action::vacation:
        s = absl::StrCat("vacation seconds=", a.seconds);
        if (a.subject) absl::StrAppend(&s, " subject=\"", *a.subject, "\"");
        if (a.from) absl::StrAppend(&s, " from=\"", *a.from, "\"");
        if (a.handle) absl::StrAppend(&s, " handle=\"", *a.handle, "\"");
        if (!a.addresses.empty()) absl::StrAppend(&s, " addresses=(", absl::StrJoin(a.addresses, " "), ")");
        if (a.mime) s += " :mime";
        absl::StrAppend(&s, " reason=\"", a.reason, "\"");
        break;
      case action::track_duplicate:
        s = "track-duplicate";
        if (a.last) s += " :last";
        if (a.handle) absl::StrAppend(&s, " handle=\"", *a.handle, "\"");
        break;
    }
    if (a.copy) s += " :copy";
    if (a.create) s += " :create";
    if (!a.flags.empty()) absl::StrAppend(&s, " flags=(", absl::StrJoin(a.flags, " "), ")");
    out.push_back(std::move(s));
  }
  if (r.implicit_keep) {
    std::string s = "implicit-keep";
    if (!r.implicit_keep_flags.empty()) {
      absl::StrAppend(&s, " flags=(", absl::StrJoin(r.implicit_keep_flags, " "), ")");
    }
    out.push_back(std::move(s));
  }
  return absl::StrJoin(out, " ; ");
}

const char* const kMessage =
    "Received: from mx.example.com by mail.example.net; Thu, 15 Jan 2026 10:59:00 +0000\r\n"
    "Date: Wed, 14 Jan 2026 23:30:05 -0500\r\n"
    "From: Coyote <coyote@desert.example.org>\r\n"
    "Sender: owner-ietf-mta-filters@imc.org\r\n"
    "To: me+sieve@example.com, \"Road Runner\" <runner@example.com>\r\n"
    "Cc: boss@example.com\r\n"
    "Subject: [acme] Make money fast at the university\r\n"
    "Message-ID: <1234@desert.example.org>\r\n"
    "X-Spam-Status: Yes, score=7.1 required=5.0 tests=X\r\n"
    "X-Spam-Score: 7.1\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Hello,\r\n"
    "MAKE MONEY FAST with our offer.\r\n";

class InterpreterTest : public ::testing::Test {
 protected:
  InterpreterTest() {
    env_.from = "coyote@desert.example.org";
    env_.to = "me+sieve@example.com";
    env_.original_to = "me+sieve@example.com";
    environment_.domain = "example.com";
    environment_.host = "mail.example.com";
    environment_.version = "1.0";
  }

  run_result run(std::string_view script, std::string_view message = kMessage) {
    std::shared_ptr<const program> p = must_compile(script);
    if (p == nullptr) {
      run_result failed;
      failed.error = "did not compile";
      return failed;
    }
    return run_many({p.get()}, message);
  }
  run_result run_many(const std::vector<const program*>& scripts,
                      std::string_view message = kMessage) {
    message_text_ = std::string(message);
    view_ = std::make_unique<message_view>(message_text_, charsets_);
    return run_scripts(scripts, *view_, env_, environment_, host_, kNow, limits_);
  }
  std::string text(std::string_view script, std::string_view message = kMessage) {
    return describe(run(script, message));
  }

  mail::charset_converter charsets_;
  std::string message_text_;
  std::unique_ptr<message_view> view_;
  envelope env_;
  environment_items environment_;
  fake_host host_;
  run_limits limits_;
};

// ---- RFC 5228 ----

TEST_F(InterpreterTest, Rfc5228Section9Example) {
  const char* script = R"(require "fileinto";
if header :is "Sender" "owner-ietf-mta-filters@imc.org" {
  fileinto "filter";
} elsif address :DOMAIN :is ["From", "To"] "example.com" {
  keep;
} elsif anyof (NOT address :all :contains ["To", "Cc", "Bcc"] "me@example.com",
               header :matches "subject" ["*make*money*fast*", "*university*dipl*mas*"]) {
  fileinto "spam";
} else {
  fileinto "personal";
})";
  EXPECT_EQ(text(script), "fileinto \"filter\"");
  // Without the Sender line the From/To domain decides ("runner@example.com").
  std::string other = kMessage;
  other.erase(other.find("Sender:"), other.find("To:") - other.find("Sender:"));
  EXPECT_EQ(text(script, other), "keep");
}

TEST_F(InterpreterTest, ImplicitKeepStopDiscard) {
  EXPECT_EQ(text(""), "implicit-keep");
  EXPECT_EQ(text("discard;"), "discard");
  EXPECT_EQ(text("stop; discard;"), "implicit-keep");
  EXPECT_EQ(text("keep; discard;"), "keep ; discard");
  EXPECT_EQ(text("if false { discard; } elsif true { keep; } else { discard; }"), "keep");
  EXPECT_EQ(text("if true { } elsif true { discard; }"), "implicit-keep");
}

TEST_F(InterpreterTest, CoreTests) {
  EXPECT_EQ(text("if exists [\"from\", \"x-spam-score\"] { discard; }"), "discard");
  EXPECT_EQ(text("if exists [\"from\", \"x-nope\"] { discard; }"), "implicit-keep");
  EXPECT_EQ(text("if size :over 100 { discard; }"), "discard");
  EXPECT_EQ(text("if size :under 100 { discard; }"), "implicit-keep");
  EXPECT_EQ(text("if not allof (true, false) { discard; }"), "discard");
  EXPECT_EQ(text("if anyof (false, header :contains \"subject\" \"MONEY\") { discard; }"),
            "discard");
  EXPECT_EQ(text("if header :comparator \"i;octet\" :contains \"subject\" \"MONEY\" { discard; }"),
            "implicit-keep");
  EXPECT_EQ(text("if address :localpart :is \"from\" \"coyote\" { discard; }"), "discard");
  EXPECT_EQ(text("if address :all :is \"to\" \"runner@example.com\" { discard; }"), "discard");
  // A missing header matches nothing, even the empty key with :contains.
  EXPECT_EQ(text("if header :contains \"x-nope\" \"\" { discard; }"), "implicit-keep");
  EXPECT_EQ(text("if header :contains \"subject\" \"\" { discard; }"), "discard");
}

// Fields without an address give one value, as Pigeonhole's address test (sieve-test):
// an empty field an empty address, other text itself for :all only.
TEST_F(InterpreterTest, AddressFieldsWithoutAnAddress) {
  const char* script = R"(require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if address :count "eq" :comparator "i;ascii-numeric" "cc" "1" { fileinto "one"; }
if address :all :is "cc" "" { fileinto "empty-all"; }
if address :localpart :is "cc" "" { fileinto "empty-local"; }
if address :all :is "cc" "undisclosed-recipients:;" { fileinto "text"; }
if address :domain :contains "cc" "" { fileinto "domain"; })";
  EXPECT_EQ(text(script, "From: a@example.org\r\nCc: \r\n\r\nbody\r\n"),
            "fileinto \"one\" ; fileinto \"empty-all\" ; fileinto \"empty-local\" ; "
            "fileinto \"domain\"");
  EXPECT_EQ(text(script, "From: a@example.org\r\nCc: undisclosed-recipients:;\r\n\r\nbody\r\n"),
            "fileinto \"one\" ; fileinto \"text\"");
}

TEST_F(InterpreterTest, EnvelopeAndSubaddressRfc5233) {
  EXPECT_EQ(text(R"(require ["envelope", "subaddress", "fileinto"];
if envelope :detail "to" "sieve" { fileinto "detail"; })"),
            "fileinto \"detail\"");
  EXPECT_EQ(text(R"(require ["envelope", "subaddress", "fileinto"];
if envelope :user "to" "me" { fileinto "user"; })"),
            "fileinto \"user\"");
  EXPECT_EQ(text(R"(require ["envelope"];
if envelope :domain :is "from" "desert.example.org" { discard; })"),
            "discard");
  // RFC 5233 4: no detail, no match; the RFC's example on the To header.
  EXPECT_EQ(text(R"(require ["subaddress"];
if address :detail "cc" "" { discard; })"),
            "implicit-keep");
  env_.from = "";
  EXPECT_EQ(text(R"(require ["envelope"];
if envelope :all :is "from" "" { discard; })"),
            "discard");
}

// ---- fileinto, :copy (RFC 3894), merging (RFC 5228 2.10.3) ----

TEST_F(InterpreterTest, FileintoCopyAndMerging) {
  EXPECT_EQ(text("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\";"),
            "fileinto \"A\" :copy ; implicit-keep");
  EXPECT_EQ(text("require \"fileinto\"; fileinto \"A\"; fileinto \"A\"; fileinto \"B\";"),
            "fileinto \"A\" ; fileinto \"B\"");
  EXPECT_EQ(text("require \"fileinto\"; keep; fileinto \"inbox\";"), "keep");
  // The first store keeps its :copy, the last one's flags win (as sieve-test prints it).
  EXPECT_EQ(text("require [\"fileinto\", \"copy\", \"imap4flags\"]; fileinto \"A\"; "
                 "fileinto :copy :flags \"f\" \"A\";"),
            "fileinto \"A\" flags=(f)");
  // Domains compare case-insensitively, local parts do not (as Pigeonhole).
  EXPECT_EQ(text("redirect \"A@Example.org\"; redirect \"a@example.org\"; "
                 "redirect \"A@example.ORG\";"),
            "redirect \"A@example.org\" ; redirect \"a@example.org\"");
  // A merged duplicate does not cancel the implicit keep (as sieve-test shows).
  EXPECT_EQ(text("require [\"copy\"]; redirect :copy \"a@example.org\"; "
                 "redirect \"<a@example.org>\";"),
            "redirect \"a@example.org\" :copy ; implicit-keep");
  EXPECT_EQ(text("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\"; fileinto \"A\";"),
            "fileinto \"A\" :copy ; implicit-keep");
  EXPECT_EQ(text("require [\"fileinto\", \"copy\"]; fileinto :copy \"INBOX\"; keep;"),
            "keep :copy ; implicit-keep");
}

// ---- imap4flags (RFC 5232) ----

TEST_F(InterpreterTest, Imap4flagsRfc5232Examples) {
  // Section 4's example sequence on the internal variable.
  EXPECT_EQ(text(R"(require ["imap4flags", "fileinto"];
setflag "\\Seen";
addflag ["\\Answered", "$MDNSent"];
removeflag "\\seen";
fileinto "Sent";)"),
            "fileinto \"Sent\" flags=(\\Answered $MDNSent)");
  // Implicit keep carries the flags as they stand at the end; :flags replaces them for
  // one action only.
  EXPECT_EQ(text(R"(require ["imap4flags", "fileinto", "copy"];
addflag "\\Flagged";
fileinto :copy :flags "$Junk" "Junk";
addflag "a b  A";)"),
            "fileinto \"Junk\" :copy flags=($Junk) ; implicit-keep flags=(\\Flagged a b)");
  // hasflag on the internal variable and on a user variable, with :count.
  EXPECT_EQ(text(R"(require ["imap4flags", "variables", "relational", "comparator-i;ascii-numeric"];
set "mine" "";
addflag "mine" ["$a", "$b $c"];
if allof (hasflag "mine" "$B", hasflag :count "eq" :comparator "i;ascii-numeric" "mine" "3",
          not hasflag "$a") { discard; })"),
            "discard");
  // hasflag's keys are flag lists too (Pigeonhole: any of them).
  EXPECT_EQ(text(R"(require ["imap4flags"];
addflag "$b";
if hasflag ["$a $B"] { discard; })"),
            "discard");
  // A merged store takes the last one's flags.
  EXPECT_EQ(text(R"(require ["imap4flags", "fileinto"];
fileinto :flags "one" "X"; fileinto :flags "two" "X";)"),
            "fileinto \"X\" flags=(two)");
}

// ---- variables (RFC 5229) ----

TEST_F(InterpreterTest, VariablesRfc5229Examples) {
  EXPECT_EQ(text(R"(require ["variables", "fileinto"];
set "honorific"  "Mr";
set "first_name" "Wile";
set "last_name"  "Coyote";
set "vacation" text:
Dear ${HONORIFIC} ${last_name},
I'm out, please leave a message after the meep.
.
;
if string :matches "${vacation}" "Dear Mr Coyote,*I'm out, please leave a message after the meep.*" {
  fileinto "ok";
})"),
            "fileinto \"ok\"");
  // Section 4's modifiers.
  EXPECT_EQ(text(R"(require ["variables", "fileinto"];
set "a" "juMBlEd lETteRS";
set :length "b" "${a}";
set :lower "c" "${a}";
set :upperfirst "d" "${a}";
set :upperfirst :lower "e" "${a}";
set :quotewildcard "f" "a*b?c\\d";
fileinto "${b}|${c}|${d}|${e}|${f}";)"),
            "fileinto \"15|jumbled letters|JuMBlEd lETteRS|Jumbled letters|a\\*b\\?c\\\\d\"");
  // Section 3.2's match variables, and "${President, ${Company} Inc.}".
  EXPECT_EQ(text(R"(require ["variables", "fileinto"];
set "company" "ACME";
if header :matches "subject" "[*] * money *" {
  fileinto "${1}|${2}|${3}|${President, ${Company} Inc.}";
})"),
            "fileinto \"acme|Make|fast at the university|${President, ACME Inc.}\"");
  // A failed match leaves the match variables alone.
  EXPECT_EQ(text(R"(require ["variables", "fileinto"];
if header :matches "from" "*@*" { }
if header :matches "subject" "nothing*" { }
fileinto "${2}";)"),
            "fileinto \"desert.example.org>\"");
  // string test with :count ignores empty strings (RFC 5229 5).
  EXPECT_EQ(text(R"(require ["variables", "relational"];
set "e" "";
if string :count "eq" ["${e}", "x", "y"] "2" { discard; })"),
            "discard");
  // Without "variables", "${x}" is literal text.
  EXPECT_EQ(text("require \"fileinto\"; fileinto \"${x}\";"), "fileinto \"${x}\"");
}

// ---- relational (RFC 5231) ----

TEST_F(InterpreterTest, RelationalRfc5231Examples) {
  const char* head = "require [\"relational\", \"comparator-i;ascii-numeric\"];\n";
  // :count counts header fields for header, addresses for address (RFC 5231 4.2).
  EXPECT_EQ(text(absl::StrCat(head, R"(if header :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3" { discard; })")),
            "implicit-keep");
  EXPECT_EQ(text(absl::StrCat(head, R"(if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3" { discard; })")),
            "discard");
  EXPECT_EQ(text(absl::StrCat(head, R"(if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "4" { discard; })")),
            "implicit-keep");
  EXPECT_EQ(text(absl::StrCat(head, R"(if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "7" { discard; })")),
            "implicit-keep");  // "7.1" is 7 numerically
  EXPECT_EQ(text(absl::StrCat(head, R"(if header :value "lt" "subject" "[b" { discard; })")),
            "discard");
  EXPECT_EQ(text(absl::StrCat(head, R"(if header :count "eq" :comparator "i;ascii-numeric" "x-nope" "0" { discard; })")),
            "discard");
}

// ---- vacation (RFC 5230, RFC 6131) ----

TEST_F(InterpreterTest, VacationRfc5230Example) {
  EXPECT_EQ(text(R"(require "vacation";
if header :contains "subject" "cyrus" {
  vacation "I'm out -- send mail to cyrus-bugs";
} else {
  vacation :days 23 :addresses ["tjs@example.edu", "tjs@alumni.example.edu"]
  "I'm out until October 19.  If you have anything urgent, call me.";
})"),
            "vacation seconds=1987200 addresses=(tjs@example.edu tjs@alumni.example.edu) "
            "reason=\"I'm out until October 19.  If you have anything urgent, call me.\" ; "
            "implicit-keep");
  run_result r = run("require \"vacation\"; vacation \"x\";");
  ASSERT_EQ(r.actions.size(), 1u);
  EXPECT_EQ(r.actions[0].address, "coyote@desert.example.org");
  EXPECT_EQ(r.actions[0].seconds, 7u * 86400);
  EXPECT_EQ(text(R"(require ["vacation-seconds", "variables"];
if header :matches "subject" "*" {
  vacation :seconds 3600 :subject "Re: ${1}" :from "me@example.com" :handle "h" :mime "Away";
})"),
            "vacation seconds=86400 subject=\"Re: [acme] Make money fast at the university\" "
            "from=\"me@example.com\" handle=\"h\" :mime "
            "reason=\"Away\" ; implicit-keep");
  EXPECT_EQ(text("require \"vacation\"; vacation \"a\"; vacation \"b\";").substr(0, 6), "error:");
  // Pigeonhole's bounds: at least a day, no upper bound.
  EXPECT_EQ(text("require \"vacation\"; vacation :days 100 \"a\";"),
            "vacation seconds=8640000 reason=\"a\" ; implicit-keep");
  EXPECT_EQ(text("require \"vacation-seconds\"; vacation :seconds 0 \"a\";"),
            "vacation seconds=86400 reason=\"a\" ; implicit-keep");
}

// ---- reject (RFC 5429) ----

TEST_F(InterpreterTest, RejectAndConflicts) {
  EXPECT_EQ(text(R"(require "reject";
if header :contains "subject" "money" { reject "I don't want it"; })"),
            "reject \"I don't want it\"");
  EXPECT_EQ(text(R"(require ["ereject"]; ereject "no";)"), "ereject \"no\"");
  run_result r = run("require [\"reject\", \"fileinto\"]; fileinto \"A\"; reject \"no\";");
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("conflicts"), std::string::npos) << *r.error;
  EXPECT_NE(r.error->find("line 1"), std::string::npos) << *r.error;
  EXPECT_TRUE(run("require [\"reject\"]; reject \"no\"; keep;").error);
  EXPECT_TRUE(run("require [\"reject\", \"vacation\"]; vacation \"a\"; reject \"no\";").error);
  EXPECT_TRUE(run("require [\"reject\"]; reject \"a\"; reject \"b\";").error);
  EXPECT_EQ(text("require [\"reject\"]; discard; reject \"a\";"), "discard ; reject \"a\"");
}

// ---- body (RFC 5173) ----

TEST_F(InterpreterTest, BodyRfc5173) {
  EXPECT_EQ(text(R"(require ["body", "fileinto"];
if body :text :contains "MAKE MONEY FAST" { discard; })"),
            "discard");
  EXPECT_EQ(text(R"(require ["body"];
if body :raw :contains "make money fast" { discard; })"),
            "discard");
  EXPECT_EQ(text(R"(require ["body"];
if body :content "image" :contains "" { discard; })"),
            "implicit-keep");
  EXPECT_EQ(text(R"(require ["body"];
if body :content "text" :contains "offer" { discard; })"),
            "discard");
}

// ---- date, currentdate, index (RFC 5260) ----

TEST_F(InterpreterTest, DateRfc5260) {
  const char* head = "require [\"date\", \"relational\", \"variables\", \"fileinto\", \"index\"];\n";
  // Section 4.1/7's examples: business hours in the date's own zone.
  EXPECT_EQ(text(absl::StrCat(head, R"(if allof(date :value "ge" :originalzone "date" "hour" "09",
          date :value "lt" :originalzone "date" "hour" "17") { fileinto "business"; }
if date :originalzone "date" "hour" "23" { fileinto "late"; })")),
            "fileinto \"late\"");
  EXPECT_EQ(text(absl::StrCat(head, R"(if date :zone "+0000" "date" "date" "2026-01-15" { fileinto "utc"; })")),
            "fileinto \"utc\"");
  EXPECT_EQ(text(absl::StrCat(head, R"(if date :is "date" "iso8601" "2026-01-15T04:30:05Z" { fileinto "iso"; })")),
            "fileinto \"iso\"");
  EXPECT_EQ(text(absl::StrCat(head, R"(if currentdate :matches "std11" "*" { fileinto "${1}"; })")),
            "fileinto \"Thu, 15 Jan 2026 12:00:00 +0000\"");
  EXPECT_EQ(text(absl::StrCat(head, R"(if currentdate :zone "-0130" :matches "iso8601" "*" { fileinto "${1}"; })")),
            "fileinto \"2026-01-15T10:30:00-01:30\"");
  EXPECT_EQ(text(absl::StrCat(head, R"(if allof (currentdate "weekday" "4", currentdate "julian" "61055",
  currentdate "zone" "+0000", currentdate "time" "12:00:00") { fileinto "parts"; })")),
            "fileinto \"parts\"");
  // Received: the date after the last ";"; :index / :last.
  EXPECT_EQ(text(absl::StrCat(head, R"(if date :index 1 :last :zone "+0000" "received" "time" "10:59:00" { fileinto "recv"; })")),
            "fileinto \"recv\"");
  EXPECT_EQ(text(absl::StrCat(head, R"(if header :index 2 :contains "received" "" { fileinto "two"; })")),
            "implicit-keep");
  environment_.local_zone_minutes = 60;
  EXPECT_EQ(text(absl::StrCat(head, R"(if currentdate "hour" "13" { fileinto "local"; })")),
            "fileinto \"local\"");
}

TEST(DatePart, Parts) {
  EXPECT_EQ(date_part(0, 0, "julian"), "40587");
  EXPECT_EQ(date_part(0, -60, "date"), "1969-12-31");
  EXPECT_EQ(date_part(0, 0, "std11"), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(date_part(0, 330, "zone"), "+0530");
  EXPECT_EQ(date_part(0, 0, "nonsense"), std::nullopt);
  EXPECT_EQ(parse_time_zone("-0130"), -90);
  EXPECT_EQ(parse_time_zone("+0160"), std::nullopt);
  EXPECT_EQ(parse_time_zone("0100"), std::nullopt);
}

// ---- mailbox (RFC 5490) ----

TEST_F(InterpreterTest, MailboxRfc5490) {
  host_.mailboxes = {"Junk"};
  const char* script = R"(require ["mailbox", "fileinto"];
if mailboxexists ["Junk", "INBOX"] { fileinto :create "Junk/sub"; }
if mailboxexists "Nope" { discard; })";
  EXPECT_EQ(text(script), "fileinto \"Junk/sub\" :create");
}

// ---- include (RFC 6609) ----

TEST_F(InterpreterTest, IncludeRfc6609) {
  host_.add("spam_to_junk", true, R"(require ["fileinto", "include"];
if not header :contains "x-spam-status" "Yes" { return; }
fileinto "Junk";)");
  host_.add("pick", false, R"(require ["include", "variables"];
global "folder";
set "folder" "${folder}.picked";)");
  EXPECT_EQ(text(R"(require ["include"];
include :global "spam_to_junk";
keep;)"),
            "fileinto \"Junk\" ; keep");
  EXPECT_EQ(text(R"(require ["include", "variables", "fileinto"];
global "folder";
set "folder" "F";
include "pick";
include :once "pick";
include :once "pick";
include :optional "no_such_script";
fileinto "${folder}|${global.folder}";)"),
            "fileinto \"F.picked|F.picked\"");  // :once skips a script included before
  EXPECT_EQ(text(R"(require ["include", "variables", "fileinto"];
global "folder";
set "folder" "F";
include :once "pick";
include "pick";
fileinto "${folder}";)"),
            "fileinto \"F.picked.picked\"");  // without :once it runs again
  run_result r = run("require \"include\"; include \"no_such_script\";");
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("no_such_script"), std::string::npos);
  // "${global.x}" reads and sets the run's globals without a global command (as sieve-test).
  host_.add("reader", false, R"(require ["include", "variables", "fileinto"];
fileinto "reader:${global.g}";
set "global.h" "hh";)");
  EXPECT_EQ(text(R"(require ["include", "variables", "fileinto"];
global "g";
set "g" "v";
include "reader";
fileinto "main:${global.h}";)"),
            "fileinto \"reader:v\" ; fileinto \"main:hh\"");
  // A variable not declared global stays the includer's own.
  EXPECT_EQ(text(R"(require ["include", "variables", "fileinto"];
set "folder" "mine";
include "pick";
fileinto "${folder}";)"),
            "fileinto \"mine\"");
  // stop in an included script ends everything; return at top level is stop.
  host_.add("stopper", false, "stop;");
  EXPECT_EQ(text("require \"include\"; include \"stopper\"; discard;"), "implicit-keep");
  EXPECT_EQ(text("require \"include\"; return; discard;"), "implicit-keep");
  EXPECT_EQ(includes_of(*must_compile(R"(require ["include"];
if true { include :global :optional "a"; }
include "b"; include "a"; include :optional "b";)")).size(),
            3u);  // "a" global and "a" personal are two scripts
}

TEST_F(InterpreterTest, IncludeLoopEndsAtTheDepthLimit) {
  host_.add("loop", false, "require \"include\"; include \"loop\";");
  auto start = std::chrono::steady_clock::now();
  run_result r = run("require \"include\"; include \"loop\";");
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("nests deeper than 10"), std::string::npos) << *r.error;
  host_.add("ping", false, "require \"include\"; include \"pong\";");
  host_.add("pong", false, "require \"include\"; include \"ping\";");
  r = run("require \"include\"; include \"ping\";");
  ASSERT_TRUE(r.error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// ---- spamtest (RFC 5235) ----

TEST_F(InterpreterTest, SpamtestRfc5235) {
  EXPECT_EQ(text(R"(require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "10" { fileinto "Junk"; })"),
            "fileinto \"Junk\"");
  EXPECT_EQ(text(R"(require ["spamtestplus", "relational", "comparator-i;ascii-numeric", "fileinto"];
if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "100" { fileinto "Junk"; })"),
            "fileinto \"Junk\"");
  EXPECT_EQ(spamtest_value("2.5", "Yes, score=2.5 required=5.0 tests=X", false), "5");
  EXPECT_EQ(spamtest_value("2.5", "Yes, score=2.5 required=5.0 tests=X", true), "50");
  EXPECT_EQ(spamtest_value("-3.0", "No, score=-3.0 required=5.0 tests=X", false), "1");
  EXPECT_EQ(spamtest_value("-3.0", "No, score=-3.0 required=5.0 tests=X", true), "0");
  EXPECT_EQ(spamtest_value("0.0", "No, score=0.0 required=5.0 tests=X", false), "1");
  EXPECT_EQ(spamtest_value("4.9", "No, score=4.9 required=5.0", false), "9");
  EXPECT_EQ(spamtest_value(std::nullopt, "No, score=4.9 required=5.0", false), "0");
  EXPECT_EQ(spamtest_value("4.9", "garbage", true), "0");
  EXPECT_EQ(spamtest_value("x", "No, score=4.9 required=5.0", true), "0");
}

// ---- duplicate (RFC 7352) ----

TEST_F(InterpreterTest, DuplicateRfc7352) {
  const char* script = R"(require ["duplicate", "fileinto"];
if duplicate { fileinto "Trash"; }
if duplicate :header "x-nope" { fileinto "never"; }
if duplicate :uniqueid "x" :handle "h" :seconds 60 :last { fileinto "u"; })";
  EXPECT_EQ(text(script), "track-duplicate ; track-duplicate :last handle=\"h\" ; implicit-keep");
  ASSERT_EQ(host_.asked.size(), 2u);
  host_.seen = {host_.asked[0]};
  EXPECT_EQ(text(script), "track-duplicate ; fileinto \"Trash\" ; track-duplicate :last handle=\"h\"");
  run_result r = run(script);
  ASSERT_GE(r.actions.size(), 3u);
  EXPECT_EQ(r.actions[2].duplicate_seconds, 60u);
  EXPECT_NE(r.actions[0].duplicate_id.find("<1234@desert.example.org>"), std::string::npos);
  // The same id twice in a run: the first answer, tracked once.
  EXPECT_EQ(text(R"(require ["duplicate", "fileinto"];
if duplicate :uniqueid "same" { fileinto "a"; }
if not duplicate :uniqueid "same" :seconds 10 { fileinto "b"; }
if duplicate :uniqueid "same" :handle "other" { fileinto "c"; })"),
            "track-duplicate ; fileinto \"b\" ; track-duplicate handle=\"other\"");
}

// ---- environment (RFC 5183) ----

TEST_F(InterpreterTest, EnvironmentRfc5183) {
  const char* head = "require [\"environment\", \"fileinto\"];\n";
  EXPECT_EQ(text(absl::StrCat(head, R"(if environment :is "location" "MS" { fileinto "a"; }
if environment :matches "domain" "?*" { fileinto "b"; }
if environment :contains "remote-host" "" { fileinto "c"; }
if environment :is "phase" "post" { fileinto "d"; }
if environment :contains "vnd.unknown" "" { fileinto "e"; })")),
            "fileinto \"a\" ; fileinto \"b\" ; fileinto \"d\"");
  environment_.remote_host = "mx.example.org";
  EXPECT_EQ(text(absl::StrCat(head, R"(if environment :is "remote-host" "mx.example.org" { fileinto "c"; })")),
            "fileinto \"c\"");
}

// ---- editheader (RFC 5293) ----

TEST_F(InterpreterTest, EditheaderRfc5293) {
  EXPECT_EQ(text(R"(require ["editheader", "fileinto", "index"];
addheader "X-Sieve" "first";
addheader :last "X-Sieve" "last";
if header :index 2 :is "x-sieve" "last" { fileinto "seen"; }
deleteheader :index 1 "x-sieve";
if header :is "x-sieve" "first" { fileinto "bad"; }
deleteheader :contains "subject" "money";
if not exists "subject" { fileinto "gone"; })"),
            "fileinto \"seen\" ; fileinto \"gone\"");
  // Received and Auto-Submitted cannot be deleted (ignored); adding them is allowed, as
  // in Pigeonhole.
  EXPECT_EQ(text(R"(require ["editheader", "fileinto", "variables"];
set "a" "auto-submitted";
deleteheader "received";
addheader "Auto-Submitted" "no";
deleteheader "${a}";
if allof (exists "received", header :is "auto-submitted" "no") { fileinto "kept"; })"),
            "fileinto \"kept\"");
}

// ---- regex ----

TEST_F(InterpreterTest, RegexCapturesAndRuntimeKeys) {
  EXPECT_EQ(text(R"(require ["regex", "variables", "fileinto"];
if header :regex "subject" "^\\[([a-z]+)\\] (.*) fast" { fileinto "${1}/${2}"; })"),
            "fileinto \"acme/Make money\"");
  EXPECT_EQ(text(R"S(require ["regex", "variables", "fileinto"];
set "re" "^\\[(a.m)";
if header :regex "subject" "${re}" { fileinto "${1}"; })S"),
            "fileinto \"acm\"");
  // A key that turns into a bad regex at run time is a run-time error.
  EXPECT_TRUE(run(R"(require ["regex", "variables"];
set "re" "(";
if header :regex "subject" "${re}" { discard; })")
                  .error);
  // A constant bad regex is refused by compile().
  absl::StatusOr<checked_script> checked =
      compile_script("require \"regex\"; if header :regex \"subject\" \"(\" { discard; }");
  ASSERT_TRUE(checked.ok());
  EXPECT_FALSE(compile(*std::move(checked)).ok());
}

// ---- multiple scripts ----

TEST_F(InterpreterTest, MultipleScripts) {
  auto before = must_compile("require [\"fileinto\", \"copy\"]; fileinto :copy \"Archive\"; stop;");
  auto user = must_compile("require \"fileinto\"; fileinto \"User\";");
  auto after = must_compile("require \"fileinto\"; fileinto \"After\";");
  EXPECT_EQ(describe(run_many({before.get(), user.get(), after.get()})),
            "fileinto \"Archive\" :copy ; fileinto \"User\"");
  auto discarding = must_compile("discard;");
  EXPECT_EQ(describe(run_many({discarding.get(), user.get()})), "discard");
  // An earlier script's fileinto is executed: a later reject does not conflict with it.
  auto rejecting = must_compile("require \"reject\"; reject \"no\";");
  EXPECT_EQ(describe(run_many({before.get(), rejecting.get()})),
            "fileinto \"Archive\" :copy ; reject \"no\"");
  // The `keep` command lets the next script run, fileinto "INBOX" does not (sieve-test -s).
  auto keeping = must_compile("require \"fileinto\"; keep; fileinto \"X\";");
  EXPECT_EQ(describe(run_many({keeping.get(), user.get()})),
            "keep ; fileinto \"X\" ; fileinto \"User\"");
  auto inbox = must_compile("require \"fileinto\"; fileinto \"INBOX\";");
  EXPECT_EQ(describe(run_many({inbox.get(), user.get()})), "keep");
  auto empty = must_compile("");
  EXPECT_EQ(describe(run_many({keeping.get(), empty.get()})),
            "keep ; fileinto \"X\" ; implicit-keep");
  // The internal flags variable carries over to the next script.
  auto flagging = must_compile("require \"imap4flags\"; addflag \"$Before\";");
  auto checking = must_compile(
      "require [\"imap4flags\", \"fileinto\"]; if hasflag \"$Before\" { fileinto \"Saw\"; }");
  EXPECT_EQ(describe(run_many({flagging.get(), checking.get()})),
            "fileinto \"Saw\" flags=($Before)");
}

// ---- limits: hostile scripts end quickly with a clear error ----

TEST_F(InterpreterTest, ThousandRedirects) {
  std::string script;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&script, "redirect \"u", i, "@example.org\";\n");
  run_result r = run(script);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("redirect actions exceeds the limit of 4"), std::string::npos) << *r.error;
  EXPECT_NE(r.error->find("line 5"), std::string::npos) << *r.error;
}

TEST_F(InterpreterTest, TooManyActions) {
  std::string script = "require [\"fileinto\"];\n";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&script, "fileinto \"f", i, "\";\n");
  run_result r = run(script);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("actions exceeds the limit of 32"), std::string::npos) << *r.error;
}

TEST_F(InterpreterTest, StepLimit) {
  std::string script = "require \"variables\";\n";
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&script, "if true { set \"a\" \"b\"; }\n");
  limits_.max_steps = 1000;
  run_result r = run(script);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("more than 1000 steps"), std::string::npos) << *r.error;
}

TEST_F(InterpreterTest, ManyStarsOverALargeHeader) {
  std::string message = absl::StrCat("Subject: ", std::string(200'000, 'a'), "\r\n\r\nbody\r\n");
  std::string stars;
  for (int i = 0; i < 2000; ++i) stars += "*a?";
  stars += "b";
  auto start = std::chrono::steady_clock::now();
  run_result r = run(absl::StrCat("if header :matches \"subject\" \"", stars, "\" { discard; }"),
                     message);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // Either no match or the match step limit; never a hang.
  if (r.error) {
    EXPECT_NE(r.error->find("line 1"), std::string::npos) << *r.error;
  } else {
    EXPECT_EQ(describe(r), "implicit-keep");
  }
}

TEST_F(InterpreterTest, HostileRegexOverManyLongFieldsHitsTheMatchWorkLimit) {
  std::string message;
  for (int i = 0; i < 200; ++i) absl::StrAppend(&message, "X-Long: ", std::string(4000, 'a'), "\r\n");
  message += "\r\nbody\r\n";
  auto start = std::chrono::steady_clock::now();
  run_result r = run(R"(require "regex";
if header :regex "x-long" "(a|aa)*c" { discard; })",
                     message);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("matching work went past the limit"), std::string::npos) << *r.error;
  // The same test over one field is within the limit.
  limits_.max_match_work = 20'000'000;
  r = run(R"(require "regex";
if header :regex "x-long" "a+" { discard; })",
          absl::StrCat("X-Long: ", std::string(4000, 'a'), "\r\n\r\nbody\r\n"));
  EXPECT_EQ(describe(r), "discard");
}

TEST_F(InterpreterTest, HugeVariableExpansion) {
  std::string script = "require [\"variables\", \"fileinto\"];\nset \"a\" \"";
  script += std::string(4000, 'x');
  script += "\";\nset \"b\" \"";
  for (int i = 0; i < 400; ++i) script += "${a}";
  script += "\";\nfileinto \"";
  for (int i = 0; i < 400; ++i) script += "${a}";
  script += "\";\n";
  auto start = std::chrono::steady_clock::now();
  run_result r = run(script);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("bytes expanding variables"), std::string::npos) << *r.error;
}

TEST_F(InterpreterTest, TooManyVariables) {
  std::string script = "require \"variables\";\n";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&script, "set \"v", i, "\" \"x\";\n");
  run_result r = run(script);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("too many variables"), std::string::npos) << *r.error;
}

TEST(Imap4flags, Lists) {
  EXPECT_EQ(split_flags("  a\tb  c "), (strings{"a", "b", "c"}));
  EXPECT_EQ(set_flags({"a A", "b"}), "a b");
  EXPECT_EQ(add_flags("a b", {"B c"}), "a b c");
  EXPECT_EQ(remove_flags("a b c", {"B", "x"}), "a c");
  // Flags that cannot be IMAP flags are dropped, as Pigeonhole drops them.
  EXPECT_EQ(set_flags({"\\Foo \\RECENT a(b \\seen $ok"}), "\\seen $ok");
  EXPECT_EQ(add_flags("$x", {"b]"}), "$x");
  EXPECT_TRUE(is_imap_flag("\\Draft"));
  EXPECT_FALSE(is_imap_flag("\\Recent"));
  EXPECT_FALSE(is_imap_flag("a\"b"));
}

}  // namespace
}  // namespace ringmail::sieve

// HTML rendering (mail/html_text.h): the text SpamAssassin 4.0.1's HTML.pm gives body
// rules (before Message.pm joins paragraphs), the links it collects, and hostile inputs
// that must stay linear (a megabyte of '<' or '&', unterminated comments, tags and
// quotes). Every expected text was checked against SA's
// Mail::SpamAssassin::HTML->new(1,1)->parse($html); get_rendered_text().
#include "mail/html_text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "mail/limits.h"

namespace ringmail::mail {
namespace {

using uris = std::vector<std::string>;

std::string text(std::string_view html) { return render_html(html, max_uris).text; }

std::string entity(std::string_view in, size_t* consumed = nullptr) {
  std::string out;
  size_t n = decode_html_entity(in, out);
  if (consumed != nullptr) *consumed = n;
  return n == 0 ? "<none>" : out;
}

TEST(HtmlText, PlainTextAndWhitespaceCollapsing) {
  EXPECT_EQ(text(""), "");
  EXPECT_EQ(text("hello world"), "hello world");
  EXPECT_EQ(text("  hello \r\n\t  world  "), " hello world ");
  EXPECT_EQ(text("<html><body>Hi   there</body></html>"), "Hi there");
}

TEST(HtmlText, InlineTagsAddNothing) {
  // SA concatenates text on both sides of an inline tag (spammers split words this way).
  EXPECT_EQ(text("V<b>ia</b>gra"), "Viagra");
  EXPECT_EQ(text("buy <font color=red>now</font> !"), "buy now !");
  EXPECT_EQ(text("a<span> </span>b"), "a b");
}

TEST(HtmlText, BlockTagsAddSasWhitespaceAtStartAndEndTags) {
  // HTML.pm html_whitespace: br/div "\n"; li td th dd dt h1-h6 " "; p hr blockquote pre
  // title "\n\n"; at start and end tags alike; tr, table, ul add nothing.
  EXPECT_EQ(text("one<br>two<br/>three<BR />four"), "one\ntwo\nthree\nfour");
  EXPECT_EQ(text("<div>one</div><div>two</div>"), "\none\n\ntwo\n");
  EXPECT_EQ(text("<p>one</p><p>two</p>"), "\n\none\n\n\n\ntwo\n\n");
  EXPECT_EQ(text("<ul><li>a<li>b</ul>after"), " a bafter");
  EXPECT_EQ(text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"),
            " a  b  c ");
  EXPECT_EQ(text("<h1>Title</h1>body"), " Title body");
  EXPECT_EQ(text("x<hr>y"), "x\n\ny");
  // "<br/ >" and "<br/x>" are other tags to HTML::Parser; "<p/>" is <p>.
  EXPECT_EQ(text("a<br/ >b<br/x>c<p/>d"), "abc\n\nd");
}

TEST(HtmlText, SpacesNextToBlockTagsAreTrimmed) {
  EXPECT_EQ(text("<p>  a  </p>   <p>   </p> <br><br><br> <p> b </p>"),
            "\n\na\n\n\n\n\n\n\n\n\n\n\nb\n\n");
  EXPECT_EQ(text("a <br> b"), "a\nb");
  EXPECT_EQ(text("<br><br>start"), "\n\nstart");
  EXPECT_EQ(text("end<br><br>"), "end\n\n");
}

TEST(HtmlText, InvisibleTextKeepsItsSpaces) {
  // display_text() does not trim around text html_font_invisible() hides (same colour as
  // the background, size 1, display:none ...).
  EXPECT_EQ(text("<font color=white>hidden </font><br> <font size=1> tiny</font><br> shown"),
            "hidden \n tiny\nshown");
  EXPECT_EQ(text("<p style=\"color: #fff\">x </p>y"), "\n\nx \n\ny");
}

TEST(HtmlText, ScriptStyleCommentsAndDeclarationsAreDropped) {
  EXPECT_EQ(text("<!DOCTYPE html><html><head><style>p { color: red }</style>"
                 "<script type=\"text/javascript\">if (a < b) document.write('x');</script>"
                 "</head><body>visible<!-- hidden --> text</body></html>"),
            "visible text");
  EXPECT_EQ(text("a<SCRIPT>x</ScRiPt>b"), "ab");
  EXPECT_EQ(text("a<script>no end"), "a");
  EXPECT_EQ(text("a<style>no end"), "a");
  // Without a "--\s*>" a comment ends at the first '>' (HTML::Parser at eof); with none
  // it takes the rest.
  EXPECT_EQ(text("a<!-- unterminated comment <b>bold</b>"), "abold");
  EXPECT_EQ(text("a<!-- unterminated comment"), "a");
  EXPECT_EQ(text("x<!-- a > b -- > c -->y"), "x c -->y");
  EXPECT_EQ(text("a<?xml version=\"1.0\"?>b<![CDATA[x]]>c"), "abxc");
  EXPECT_EQ(text("x<!---->y<!-- a -- b -->z"), "xyz");
}

TEST(HtmlText, LiteralElements) {
  // HTML::Parser takes the content of these as text up to their end tag.
  EXPECT_EQ(text("<title>a<b>c</b>&amp;</title>d"), "\n\na<b>c</b>&\n\nd");
  EXPECT_EQ(text("<textarea>a<br>b&amp;</textarea>c"), "a<br>b&c");
  EXPECT_EQ(text("a<xmp>b<br>&amp;</xmp>c"), "a\n\nb<br>&amp;\n\nc");
  EXPECT_EQ(text("a<iframe>b&amp;<br>c</iframe>d"), "ab&amp;<br>cd");
  EXPECT_EQ(text("a<plaintext>b<br>c</plaintext>d"), "a\n\nb<br>c</plaintext>d");
}

TEST(HtmlText, TitleTextIsKept) {
  // SA's HTML.pm displays <title> text too (and puts "\n\n" around it).
  EXPECT_EQ(text("<head><title>Offer</title></head><body>Buy</body>"), "\n\nOffer\n\nBuy");
}

TEST(HtmlText, Entities) {
  EXPECT_EQ(text("a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;"), "a & b <c> \"d\" 'e'");
  EXPECT_EQ(text("&copy; &reg; &trade; &euro;5 &pound;&yen;&cent;"),
            "\xC2\xA9 \xC2\xAE \xE2\x84\xA2 \xE2\x82\xAC" "5 \xC2\xA3\xC2\xA5\xC2\xA2");
  EXPECT_EQ(text("&hellip;&mdash;&ndash;&lsquo;&rsquo;&ldquo;&rdquo;&bull;"),
            "\xE2\x80\xA6\xE2\x80\x94\xE2\x80\x93\xE2\x80\x98\xE2\x80\x99\xE2\x80\x9C"
            "\xE2\x80\x9D\xE2\x80\xA2");
  EXPECT_EQ(text("&agrave;&yuml;&Agrave;&Yuml;&eacute;&szlig;"),
            "\xC3\xA0\xC3\xBF\xC3\x80\xC5\xB8\xC3\xA9\xC3\x9F");
  EXPECT_EQ(text("&#65;&#x42;&#X43;&#0068;"), "ABCD");
  EXPECT_EQ(text("&#8364;&#x20ac;"), "\xE2\x82\xAC\xE2\x82\xAC");
  // HTML.pm turns "&nbsp;" into a space before parsing; &#160; and U+00A0 stay (Message.pm
  // treats them as spaces later).
  EXPECT_EQ(text("a&nbsp;&nbsp; b&#160;c\xC2\xA0\xC2\xA0" "d"),
            "a b\xC2\xA0" "c\xC2\xA0\xC2\xA0" "d");
  // HTML::Parser: Latin-1 names match as a prefix, numeric references are code points.
  EXPECT_EQ(text("a&ampfoo &copyright &#150; &hellip &notin"),
            "a&foo \xC2\xA9right \xC2\x96 &hellip \xC2\xACin");
  // Curly double quotes become '"' (HTML.pm parse()).
  EXPECT_EQ(text("a\xE2\x80\x9Cq\xE2\x80\x9D" "b"), "a\"q\"b");
  // Not entities: kept as written.
  EXPECT_EQ(text("AT&T &unknown; & &; &#; &#x;"), "AT&T &unknown; & &; &#; &#x;");
  // Spelled entities make words SA's rules see ("V&#105;agra").
  EXPECT_EQ(text("V&#105;agra"), "Viagra");
}

TEST(HtmlText, DecodeHtmlEntity) {
  size_t n = 0;
  EXPECT_EQ(entity("&amp;rest", &n), "&");
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(entity("&#65", &n), "A");  // numeric without ';'
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(entity("&#x41zz", &n), "A");
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(entity("&amp rest", &n), "&");  // legacy named entity without ';'
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(entity("&copy 2024"), "\xC2\xA9");
  EXPECT_EQ(entity("&hellip rest"), "<none>");  // only Latin-1 names may omit the ';'
  EXPECT_EQ(entity("&nbsp;"), " ");
  EXPECT_EQ(entity("&notanentity;"), "<none>");
  EXPECT_EQ(entity("&AMP;"), "<none>");  // names are case-sensitive
  EXPECT_EQ(entity("amp;"), "<none>");
  EXPECT_EQ(entity("&"), "<none>");
  // Out of range, NUL and surrogates become U+FFFD; C1 controls mean Windows-1252.
  EXPECT_EQ(entity("&#0;"), "\xEF\xBF\xBD");
  EXPECT_EQ(entity("&#xD800;"), "\xEF\xBF\xBD");
  EXPECT_EQ(entity("&#1114112;"), "\xEF\xBF\xBD");
  EXPECT_EQ(entity("&#99999999999999999999;"), "\xEF\xBF\xBD");
  EXPECT_EQ(entity("&#150;"), "\xE2\x80\x93");
  EXPECT_EQ(entity("&#x1F600;"), "\xF0\x9F\x98\x80");
}

TEST(HtmlText, LinksFromAttributes) {
  html_render r = render_html(
      "<body background=\"bg.jpg\"><a href=\"http://a.example/x?a=1&amp;b=2\">A</a>"
      "<A HREF='http://b.example/'>B</A> <a href=http://c.example/path>C</a>"
      "<img src=\" http://d.example/i.gif \" alt=x><form action=\"/post\"></form>"
      "<a name=anchor>no link</a><div href=\"http://not-a-link.example/\">d</div>"
      "<a href=\"\">empty</a><a href=\"&#104;ttp://e.example/\">e</a>"
      "<meta http-equiv=\"refresh\" content=\"0; URL=http://f.example/\">",
      max_uris);
  EXPECT_EQ(r.uris, (uris{"bg.jpg", "http://a.example/x?a=1&b=2", "http://b.example/",
                          "http://c.example/path", "http://d.example/i.gif", "/post",
                          "http://e.example/", "http://f.example/"}));
  EXPECT_EQ(r.text, "AB Cno link\nd\nemptye");  // inline tags join the words
  EXPECT_EQ(r.images, 1u);
}

TEST(HtmlText, AttributeEntitiesFollowHtml5QueryRule) {
  html_render r = render_html("<a href=\"http://x.example/?a=1&copy=2&lt=3&amp\">x</a>", 10);
  ASSERT_EQ(r.uris.size(), 1u);
  EXPECT_EQ(r.uris[0], "http://x.example/?a=1&copy=2&lt=3&");
}

TEST(HtmlText, CountsTagsAndImages) {
  html_render r = render_html("<html><body><img src=a><IMG SRC=b><p>x</p></body></html>", 10);
  EXPECT_EQ(r.tags, 8u);
  EXPECT_EQ(r.images, 2u);
  EXPECT_EQ(render_html("no tags at all", 10).tags, 0u);
}

TEST(HtmlText, UriCap) {
  std::string html;
  for (int i = 0; i < 50; ++i) {
    html += "<a href=\"http://x" + std::to_string(i) + ".example/\">l</a>";
  }
  EXPECT_EQ(render_html(html, 7).uris.size(), 7u);
  EXPECT_EQ(render_html(html, 0).uris.size(), 0u);
}

TEST(HtmlText, MalformedMarkup) {
  EXPECT_EQ(text("a < b and c > d"), "a < b and c > d");
  EXPECT_EQ(text("1 <2 and 3<= 4"), "1 <2 and 3<= 4");
  EXPECT_EQ(text("</ b>x"), "x");  // a bogus end tag, dropped
  // A tag the input ends inside is dropped.
  EXPECT_EQ(text("before<a href=\"http://x"), "before");
  EXPECT_EQ(text("before<b"), "before");
  // An unterminated quote runs to the end, and the tag with it.
  html_render r = render_html("before<a href=\"http://x.example/>link</a> after", 10);
  EXPECT_EQ(r.text, "before");
  EXPECT_TRUE(r.uris.empty());
  // Attributes with odd spacing and no values.
  html_render odd = render_html("<a   href =  'http://y.example/'  disabled >y</a>", 10);
  EXPECT_EQ(odd.uris, (uris{"http://y.example/"}));
  EXPECT_EQ(odd.text, "y");
}

TEST(HtmlText, MegabyteOfLessThanIsLinear) {
  std::string lt(1 << 20, '<');
  html_render r = render_html(lt, max_uris);
  EXPECT_EQ(r.text.size(), lt.size());
  EXPECT_EQ(r.tags, 0u);
}

TEST(HtmlText, MegabyteOfAmpersandIsLinear) {
  std::string amp(1 << 20, '&');
  EXPECT_EQ(text(amp).size(), amp.size());
  std::string numeric;
  while (numeric.size() < (1 << 20)) numeric += "&#";
  EXPECT_EQ(text(numeric).size(), numeric.size());
  std::string names;
  while (names.size() < (1 << 20)) names += "&abcdefghijklmnopqrstuvwxyzabcdefghijk";
  EXPECT_EQ(text(names).size(), names.size());
}

TEST(HtmlText, HostileUnterminatedConstructsAreLinear) {
  const size_t mb = 1 << 20;
  auto repeat = [&](std::string_view unit) {
    std::string s;
    while (s.size() < mb) s += unit;
    return s;
  };
  // Each of these would be quadratic if the parser searched to the end once per tag.
  EXPECT_EQ(text(repeat("<!--")), "");
  EXPECT_EQ(text(repeat("<a ")), "");
  EXPECT_EQ(text(repeat("<a href=\"")), "");
  EXPECT_EQ(text(repeat("<a href='x>")), "");
  EXPECT_EQ(text(repeat("<!x")), "");
  EXPECT_EQ(text("x" + repeat("<script>")), "x");
  EXPECT_EQ(text(repeat("</scrip")), "");
  EXPECT_EQ(text(repeat("<b>x")).size(), mb / 4);
  html_render many = render_html(repeat("<img src=a>"), max_uris);
  EXPECT_EQ(many.uris.size(), max_uris);
}

}  // namespace
}  // namespace ringmail::mail

#include "site/page_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tieup {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(PageTextTest, ReadsTheMainContentWithoutTheLayoutsRepeatedParts) {
  const PageText p = ReadPageText(
      "<!doctype html><html><head><title>Gyokuro Kin | Sakura Tea</title>"
      "<style>body{color:red}</style><script>var cart = 1;</script></head><body>"
      "<header><a href=\"/\">Sakura Tea</a><nav><a href=\"/shop/cart\">Cart</a></nav></header>"
      "<main><h1>Gyokuro <em>Kin</em></h1><p>Shade-grown   for\nthree weeks.</p>"
      "<h2>How to steep</h2><p>2 minutes at 55&nbsp;°C.</p><ul><li>sweet</li><li>deep</li></ul>"
      "<form method=\"post\" action=\"/shop/cart/add\"><input type=\"hidden\" name=\"sku\" "
      "value=\"GYOKURO-50\"><label>Quantity <input name=\"qty\"></label>"
      "<button>Add to cart</button></form>"
      "<section data-nosnippet><h2>Also bought</h2><a>Hojicha</a></section></main>"
      "<aside class=\"ads\">An ad</aside><footer>Sakura Tea Co.</footer></body></html>");
  EXPECT_EQ(p.title, "Gyokuro Kin");
  EXPECT_THAT(p.headings, ElementsAre("How to steep"));
  EXPECT_THAT(p.text, HasSubstr("Shade-grown for three weeks."));
  EXPECT_THAT(p.text, HasSubstr("sweet deep"));
  // A heading is also text, where it stands (a snippet shows it in context); the title is not.
  EXPECT_THAT(p.text, HasSubstr("three weeks. How to steep 2 minutes"));
  for (const char* absent : {"Cart", "Sakura Tea", "An ad", "Add to cart", "color", "var cart",
                             "Gyokuro", "Quantity", "Hojicha", "Also bought"}) {
    EXPECT_THAT(p.text, Not(HasSubstr(absent))) << absent;
  }
  EXPECT_THAT(p.skus, ElementsAre("GYOKURO-50"));
  EXPECT_FALSE(p.noindex);
}

TEST(PageTextTest, WithoutMainTheBodyLessHeaderNavFooterAndAside) {
  const PageText p = ReadPageText(
      "<html><head><title>Local specials</title></head><body><header>Shop A</header>"
      "<div><p>季節の和菓子を、お茶と一緒に。</p></div><footer>Osaka</footer></body></html>");
  EXPECT_EQ(p.title, "Local specials");
  EXPECT_EQ(p.text, "季節の和菓子を、お茶と一緒に。");
  EXPECT_THAT(p.headings, IsEmpty());
}

TEST(PageTextTest, SkusComeOnlyFromAddToCartFormsOnce) {
  const PageText p = ReadPageText(
      "<main><form action=\"/shop/cart/add?x=1\"><input name=\"sku\" value=\"A-1\"></form>"
      "<form action=\"/shop/cart/add\"><input name=\"sku\" value=\"A-1\"></form>"
      "<form action=\"/newsletter\"><input name=\"sku\" value=\"NOT-ME\"></form>"
      "<input name=\"sku\" value=\"NOR-ME\"></main>");
  EXPECT_THAT(p.skus, ElementsAre("A-1"));
}

TEST(PageTextTest, RobotsNoindexIsHonoured) {
  EXPECT_TRUE(ReadPageText("<html><head><meta name=\"ROBOTS\" content=\"noindex, follow\"></head>"
                           "<body>x</body></html>")
                  .noindex);
  EXPECT_FALSE(ReadPageText("<meta name=\"robots\" content=\"index\"><p>x</p>").noindex);
}

TEST(PageTextTest, AnythingIsReadAndTheTextIsBoundedAtACharacter) {
  EXPECT_EQ(ReadPageText("").text, "");
  EXPECT_EQ(ReadPageText("just words, no markup").text, "just words, no markup");
  // Unclosed and misnested tags are recovered from as a browser does.
  EXPECT_THAT(ReadPageText("<main><p>one <b>two <i>three</b> four").text,
              HasSubstr("one two three four"));
  // 3-byte characters cut at 10 bytes: three whole characters, never a broken one.
  EXPECT_EQ(ReadPageText("<p>玉露玉露玉露</p>", 10).text, "玉露玉");
  // Deep nesting does not exhaust the stack.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<div>";
  deep += "bottom";
  EXPECT_NO_FATAL_FAILURE(ReadPageText(deep));
}

}  // namespace
}  // namespace tieup

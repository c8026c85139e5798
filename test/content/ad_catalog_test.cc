// The ad catalog (issue 15 item 8): what main's release and a partner's own pages list as
// their ads, read strictly so that a frame's markup and a click's Location are always safe, and
// every mistake named with what to write instead.
#include "content/ad_catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::StatusIs;

constexpr char kTwoAds[] = R"([[ad]]
id = "first-flush"
text = "First flush Darjeeling is in"
image = "/assets/ads/first-flush.svg"
link = "/products/DARJ-1.html"

[[ad]]
id = "tea-school"
text = "Learn to brew: free tasting on Saturdays"
link = "https://tea.example/school?from=ad"
)";

std::string OneAd(const std::string& fields) { return "[[ad]]\n" + fields; }

TEST(AdCatalogTest, ReadsEveryAdInTheFilesOrder) {
  auto c = ParseAdCatalog(kTwoAds, "ads.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->ads.size(), 2u);
  EXPECT_EQ(c->ads[0], (Ad{"first-flush", "First flush Darjeeling is in",
                           "/assets/ads/first-flush.svg", "/products/DARJ-1.html"}));
  EXPECT_EQ(c->ads[1].image, "");
  EXPECT_EQ(c->ads[1].link, "https://tea.example/school?from=ad");
  EXPECT_EQ(c->Find("tea-school"), &c->ads[1]);
  EXPECT_EQ(c->Find("nope"), nullptr);
}

TEST(AdCatalogTest, AnEmptyCatalogHasNoAds) {
  auto c = ParseAdCatalog("# no ads this month\n", "ads.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ads.empty());
}

TEST(AdCatalogTest, EachMistakeIsNamedWithWhatToWrite) {
  struct Case {
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {"[[ad]\n", "ads.toml:1:"},
      {"title = \"x\"\n", "unknown key 'title' at the top level; each ad is an [[ad]] table"},
      {"ad = \"x\"\n", "'ad' must be a list of [[ad]] tables"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"/\"\ncolour = \"red\"\n"),
       "ad 1: unknown key 'colour' (known keys: id, text, image, link)"},
      {OneAd("id = \"Spring Sale\"\ntext = \"t\"\nlink = \"/\"\n"),
       "ads.toml: ad 1: 'id' must be 1 to 40 of a-z, 0-9 and '-' (not first)"},
      {OneAd("id = \"-a\"\ntext = \"t\"\nlink = \"/\"\n"), "'id' must be"},
      {OneAd("id = 7\ntext = \"t\"\nlink = \"/\"\n"), "'id' must be a string in quotes"},
      {OneAd("id = \"a\"\nlink = \"/\"\n"), "ad 1 ('a'): 'text' must be 1 to 200 bytes"},
      {OneAd("id = \"a\"\ntext = \"two\\nlines\"\nlink = \"/\"\n"), "'text' must be"},
      {OneAd("id = \"a\"\ntext = \"t\"\n"), "'link' must be a path of this site"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"javascript:alert(1)\"\n"), "'link' must be"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"//evil.example/\"\n"), "'link' must be"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"/a\\r\\nSet-Cookie: x=1\"\n"), "'link' must be"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"/x\\\" onload=\\\"y\"\n"), "'link' must be"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"https://\"\n"), "'link' must be"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"/\"\nimage = \"https://cdn.example/a.png\"\n"),
       "'image' must be a path of this site"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"/\"\nimage = \"/assets/../keys/site.key\"\n"),
       "'image' must be"},
      {OneAd("id = \"a\"\ntext = \"t\"\nlink = \"/\"\n") +
           OneAd("id = \"a\"\ntext = \"u\"\nlink = \"/\"\n"),
       "ad 2 ('a'): another ad has the same id"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseAdCatalog(c.text, "ads.toml");
    EXPECT_THAT(parsed.status(), StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.says)))
        << c.text;
  }
}

TEST(AdCatalogTest, RefusesTooManyAdsAndTooLargeAFile) {
  std::string many;
  for (size_t i = 0; i <= kMaxAds; ++i) {
    many += OneAd("id = \"ad-" + std::to_string(i) + "\"\ntext = \"t\"\nlink = \"/\"\n");
  }
  EXPECT_THAT(ParseAdCatalog(many, "ads.toml").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 100")));
  std::string big = "# " + std::string(kMaxAdCatalogBytes, 'x') + "\n";
  EXPECT_THAT(ParseAdCatalog(big, "ads.toml").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("an ad catalog holds at most")));
}

}  // namespace
}  // namespace tieup::content

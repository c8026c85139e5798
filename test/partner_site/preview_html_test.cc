// Tests partner_site/preview.h's RewritePreviewHtml: the banner and the links of a previewed page
// (the handler that serves previews is tested in test/site/preview_test.cc).
#include <gtest/gtest.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <random>

#include "base/encoding.h"
#include "partner_site/preview.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

constexpr std::string_view kPrefix = "/.tieup/preview/KEY/7/";

PreviewPage Page(std::string path = "/index.html") {
  PreviewPage p;
  p.prefix = std::string(kPrefix);
  p.path = std::move(path);
  p.version = 7;
  p.live_version = 6;
  p.own_origins = {"http://127.0.0.1:8082"};
  p.review_url = "http://127.0.0.1:8092/updates/version/7";
  return p;
}

// The document `html` as libxml2 reads it back, to look at its elements as a browser would.
struct Parsed {
  explicit Parsed(const std::string& html)
      : doc(htmlReadMemory(
            html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
            HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET)) {}
  ~Parsed() { xmlFreeDoc(doc); }

  // The values of attribute `attr` of every `element`, in document order.
  std::vector<std::string> All(const char* element, const char* attr) const {
    std::vector<std::string> out;
    Walk([&](xmlNode* n) {
      if (xmlStrcasecmp(n->name, reinterpret_cast<const xmlChar*>(element)) != 0) return;
      xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(attr));
      if (v != nullptr) out.emplace_back(reinterpret_cast<const char*>(v));
      xmlFree(v);
    });
    return out;
  }
  std::string Attr(const char* element, const char* attr) const {
    auto all = All(element, attr);
    return all.empty() ? "(none)" : all[0];
  }
  // Every element in document order (iteratively: fuzzed pages may be deep).
  // Every top-level node: libxml2 reads what follows "</html>" as a second <html>.
  void Walk(const std::function<void(xmlNode*)>& visit) const {
    for (xmlNode* root = doc ? doc->children : nullptr; root != nullptr; root = root->next) {
      for (xmlNode* n = root; n != nullptr;) {
        if (n->type == XML_ELEMENT_NODE) visit(n);
        if (n->type == XML_ELEMENT_NODE && n->children != nullptr) {
          n = n->children;
          continue;
        }
        while (n != nullptr && n != root && n->next == nullptr) n = n->parent;
        n = (n == nullptr || n == root) ? nullptr : n->next;
      }
    }
  }
  xmlDoc* doc;
};

std::string Rewrite(std::string_view html, const PreviewPage& page = Page()) {
  auto out = RewritePreviewHtml(html, "", page);
  EXPECT_THAT(out, IsOk()) << html;
  return out.ok() ? *out : "";
}

TEST(PreviewHtmlTest, LinksToTheSitesOwnPagesStayInThePreview) {
  const std::string out = Rewrite(
      "<!DOCTYPE html><html><head><link rel=stylesheet href=\"/assets/style.css\">"
      "<script src=\"/assets/app.js\"></script></head><body>"
      "<a id=abs href=\"/products/sencha.html\">Sencha</a>"
      "<a id=query href=\"/search.html?q=tea&amp;page=2#results\">Search</a>"
      "<a id=rel href=\"gyokuro.html\">Gyokuro</a>"
      "<a id=up href=\"../news/index.html\">News</a>"
      "<a id=own href=\"http://127.0.0.1:8082/about.html\">About</a>"
      "<a id=netpath href=\"//127.0.0.1:8082/contact.html\">Contact</a>"
      "<a id=ext href=\"https://main.example/products/sencha.html\">Main</a>"
      "<a id=otherport href=\"http://127.0.0.1:9999/x.html\">Other port</a>"
      "<a id=frag href=\"#top\">Top</a>"
      "<a id=mail href=\"mailto:shop@kyoto-leaf.example\">Mail</a>"
      "<a id=already href=\"/.tieup/preview/KEY/7/index.html\">Again</a>"
      "<a id=spaces href=\"  /with space.html \">Spaces</a>"
      "<img src=\"/img/tea.png\" alt=\"\"><iframe src=\"/map.html\"></iframe>"
      "<video src=\"/v.mp4\" poster=\"/v.jpg\"></video></body></html>",
      Page("/products/index.html"));
  const Parsed page(out);
  EXPECT_EQ(page.All("a", "href"),
            (std::vector<std::string>{
                "http://127.0.0.1:8092/updates/version/7",  // the banner's link to the console
                "/.tieup/preview/KEY/7/products/sencha.html",
                "/.tieup/preview/KEY/7/search.html?q=tea&page=2#results",
                "/.tieup/preview/KEY/7/products/gyokuro.html",
                "/.tieup/preview/KEY/7/news/index.html",
                "/.tieup/preview/KEY/7/about.html",
                "/.tieup/preview/KEY/7/contact.html",
                "https://main.example/products/sencha.html",
                "http://127.0.0.1:9999/x.html",
                "#top",
                "mailto:shop@kyoto-leaf.example",
                "/.tieup/preview/KEY/7/index.html",
                "/.tieup/preview/KEY/7/with%20space.html",
            }));
  EXPECT_EQ(page.Attr("link", "href"), "/.tieup/preview/KEY/7/assets/style.css");
  EXPECT_EQ(page.Attr("script", "src"), "/.tieup/preview/KEY/7/assets/app.js");
  EXPECT_EQ(page.Attr("img", "src"), "/.tieup/preview/KEY/7/img/tea.png");
  EXPECT_EQ(page.Attr("iframe", "src"), "/.tieup/preview/KEY/7/map.html");
  EXPECT_EQ(page.Attr("video", "src"), "/.tieup/preview/KEY/7/v.mp4");
  EXPECT_EQ(page.Attr("video", "poster"), "/.tieup/preview/KEY/7/v.jpg");
}

TEST(PreviewHtmlTest, SrcsetCandidatesAreRewrittenOneByOne) {
  const Parsed page(
      Rewrite("<picture><source srcset=\"/a.webp 1x,/b.webp 2x\" type=\"image/webp\">"
              "<img src=\"/a.png\" srcset=\"/a.png 480w, https://cdn.example/b.png 800w, "
              "/c%2C1.png 1200w\" sizes=\"(max-width: 600px) 480px, 800px\"></picture>"));
  EXPECT_EQ(page.Attr("source", "srcset"),
            "/.tieup/preview/KEY/7/a.webp 1x, /.tieup/preview/KEY/7/b.webp 2x");
  EXPECT_EQ(page.Attr("img", "srcset"),
            "/.tieup/preview/KEY/7/a.png 480w, https://cdn.example/b.png 800w, "
            "/.tieup/preview/KEY/7/c%2C1.png 1200w");
  EXPECT_EQ(page.Attr("img", "sizes"), "(max-width: 600px) 480px, 800px");  // untouched
}

TEST(PreviewHtmlTest, FormsPostIntoThePreview) {
  const Parsed page(
      Rewrite("<form id=cart action=\"/shop/cart\" method=post><input name=sku value=sencha>"
              "<button formaction=\"/shop/checkout\">Buy</button>"
              "<input type=image src=\"/img/go.png\" formaction=\"/shop/quick\"></form>"
              "<form id=search><input name=q></form>"
              "<form action=\"https://pay.example/checkout\"></form>"));
  EXPECT_EQ(page.All("form", "action"), (std::vector<std::string>{"/.tieup/preview/KEY/7/shop/cart",
                                                                  "https://pay.example/checkout"}));
  EXPECT_EQ(page.Attr("button", "formaction"), "/.tieup/preview/KEY/7/shop/checkout");
  EXPECT_EQ(page.All("input", "formaction"),
            (std::vector<std::string>{"/.tieup/preview/KEY/7/shop/quick"}));
  EXPECT_EQ(page.All("input", "src"),
            (std::vector<std::string>{"/.tieup/preview/KEY/7/img/go.png"}));
}

TEST(PreviewHtmlTest, RelativeLinksFollowTheBaseElement) {
  const Parsed own(
      Rewrite("<head><base href=\"/products/\"></head><body>"
              "<a href=\"sencha.html\">S</a><a href=\"/news/\">N</a></body>",
              Page("/index.html")));
  EXPECT_EQ(own.Attr("base", "href"), "/.tieup/preview/KEY/7/products/");
  EXPECT_EQ(own.All("a", "href"),
            (std::vector<std::string>{"http://127.0.0.1:8092/updates/version/7",
                                      "/.tieup/preview/KEY/7/products/sencha.html",
                                      "/.tieup/preview/KEY/7/news/"}));
  // A base on another site: relative links lead there, and are left so.
  const Parsed other(
      Rewrite("<head><base href=\"https://main.example/\"></head><body>"
              "<a href=\"sencha.html\">S</a><a href=\"/local/\">L</a></body>"));
  EXPECT_EQ(other.Attr("base", "href"), "https://main.example/");
  EXPECT_EQ(other.All("a", "href")[1], "sencha.html");
  EXPECT_EQ(other.All("a", "href")[2], "/.tieup/preview/KEY/7/local/");
}

TEST(PreviewHtmlTest, TheBannerSaysWhichVersionIsPreviewedAndLinksToTheReview) {
  const std::string out = Rewrite(
      "<!DOCTYPE html><html lang=ja><head><title>Kyoto Leaf</title></head>"
      "<body class=home><header>Sakura Tea</header><h1>Fresh tea</h1></body></html>");
  const Parsed page(out);
  std::vector<std::string> first_in_body;
  page.Walk([&](xmlNode* n) {
    if (xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>("body")) != 0) return;
    for (xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      xmlChar* id = xmlGetProp(c, reinterpret_cast<const xmlChar*>("id"));
      first_in_body.emplace_back(id ? reinterpret_cast<const char*>(id) : "");
      xmlFree(id);
      break;
    }
  });
  EXPECT_EQ(first_in_body, std::vector<std::string>{"tieup-preview-banner"});
  EXPECT_THAT(out, HasSubstr("Preview of version 7: not live."));
  EXPECT_THAT(out, HasSubstr("Visitors still see version 6 until this update is approved."));
  EXPECT_THAT(out, HasSubstr("Back to the review in the console"));
  // Not a landmark of its own: the page's header stays the page's banner for screen readers.
  EXPECT_EQ(page.Attr("div", "role"), "note");
  // The page around it as it was.
  EXPECT_THAT(out, HasSubstr("<title>Kyoto Leaf</title>"));
  EXPECT_THAT(out, HasSubstr("<header>Sakura Tea</header><h1>Fresh tea</h1>"));
  EXPECT_EQ(page.Attr("html", "lang"), "ja");
  EXPECT_EQ(page.Attr("body", "class"), "home");

  // Nothing live yet, and no console to link to.
  PreviewPage first = Page();
  first.live_version = 0;
  first.review_url.clear();
  const std::string out_first = Rewrite("<p>First</p>", first);
  EXPECT_THAT(out_first, HasSubstr("Visitors see none of these pages until this update is "
                                   "approved."));
  EXPECT_THAT(out_first, Not(HasSubstr("Back to the review")));
}

TEST(PreviewHtmlTest, AMalformedPageIsRecoveredAndStillRewritten) {
  const std::string out = Rewrite(
      "<p>Unclosed <b>bold <a href=/x.html>link<div><table><td>cell</b></td>"
      "<img src=/y.png <a href=\"/z.html\"'>broken</a> &bogus; &amp; <<<>>> </html></body>");
  const Parsed page(out);
  EXPECT_EQ(page.All("a", "href")[1], "/.tieup/preview/KEY/7/x.html");
  EXPECT_THAT(out, HasSubstr("Preview of version 7"));
  EXPECT_THAT(out, HasSubstr("cell"));
  EXPECT_TRUE(IsValidUtf8(out));
}

// What follows "</html>" is still the page (a browser shows it in the body): libxml2 makes a second
// <html> of it, whose links are rewritten too, and whose body gets the banner when the first has
// none (fuzz/corpus/preview_html/after_html_end, found by the fuzzer).
TEST(PreviewHtmlTest, WhatFollowsTheEndOfTheDocumentIsRewrittenToo) {
  const std::string out = Rewrite(
      "<!DOCTYPE html><html><head><title>t</title></head></html>"
      "tail <a href=\"/after.html\">after</a><img src=/after.png>");
  const Parsed page(out);
  EXPECT_EQ(page.All("a", "href").back(),
            "/.tieup/preview/KEY/7/after.html");  // after the banner's
  EXPECT_EQ(page.Attr("img", "src"), "/.tieup/preview/KEY/7/after.png");
  EXPECT_THAT(out, HasSubstr("Preview of version 7: not live."));
}

TEST(PreviewHtmlTest, TextScriptsAndOtherCharsetsSurvive) {
  const std::string out = Rewrite(
      "<body><p>日本茶 &amp; café</p><script>if (a < b && c) document.write(\"<a "
      "href='/x'>\")</script><style>body { background: url(/bg.png) }</style></body>");
  EXPECT_THAT(out, HasSubstr("<p>日本茶 &amp; café</p>"));
  // Script and style text is not HTML: left exactly as written (URLs in CSS too).
  EXPECT_THAT(out, HasSubstr("<script>if (a < b && c) document.write(\"<a href='/x'>\")</script>"));
  EXPECT_THAT(out, HasSubstr("url(/bg.png)"));
  // A page in Shift_JIS (as its Content-Type says) comes out as UTF-8.
  const std::string sjis = "<p>\x93\xfa\x96\x7b</p>";  // 日本
  auto converted = RewritePreviewHtml(sjis, "Shift_JIS", Page());
  ASSERT_THAT(converted, IsOk());
  EXPECT_THAT(*converted, HasSubstr("<p>日本</p>"));
}

TEST(PreviewHtmlTest, AnEmptyPageIsNoDocument) {
  EXPECT_THAT(RewritePreviewHtml("", "", Page()), StatusIs(StatusCode::kInvalidArgument));
}

// The link attributes the rewriter promises to keep in the preview.
bool IsLink(std::string_view element, std::string_view attr) {
  static const std::set<std::pair<std::string, std::string>> kLinks = {
      {"a", "href"},      {"area", "href"},         {"link", "href"},
      {"base", "href"},   {"img", "src"},           {"script", "src"},
      {"iframe", "src"},  {"frame", "src"},         {"embed", "src"},
      {"source", "src"},  {"track", "src"},         {"audio", "src"},
      {"video", "src"},   {"input", "src"},         {"video", "poster"},
      {"form", "action"}, {"button", "formaction"}, {"input", "formaction"},
      {"object", "data"}};
  return kLinks.count({std::string(element), std::string(attr)}) != 0;
}

// Fuzz-style (the libFuzzer target fuzz/preview_html_fuzz.cc checks the same properties on
// coverage-guided inputs): seeded random mutations of small pages. On any input the rewrite
// ends with a page or InvalidArgument; a page is valid UTF-8, has the banner (when it has a
// body), and none of its link attributes leads to an absolute path outside the preview.
TEST(PreviewHtmlTest, RandomMutationsKeepEveryLinkInThePreview) {
  const std::vector<std::string> seeds = {
      "<!DOCTYPE html><html><head><base href=/a/><link href=/s.css></head><body><a "
      "href=/x.html>x</a><a href=y.html>y</a><img srcset=\"/a.png 1x, /b.png 2x\"><form "
      "action=/f><button formaction=/g>go</button></form></body></html>",
      "<frameset><frame src=/left.html><frame src=right.html></frameset>",
      "<table><tr><td><a href='//127.0.0.1:8082/n'>n</a><object data=/o.swf></object>",
      "<svg><a href=/svg.html><text>t</text></a></svg><math><mi>x</mi></math>",
      "<a href=\"http://127.0.0.1:8082/../../etc\">..</a><a href=\"\\\\evil.example/\">e</a>",
  };
  const std::string alphabet = "<>/=\"' abhrefsrcsetimgbase#?:.\\,\n\t&;!-x\x80\xe6\x97\xa5";
  std::mt19937 random(20261203);  // fixed: a failure is reproduced by running the test again
  for (int i = 0; i < 3000; ++i) {
    std::string input = seeds[random() % seeds.size()];
    const int edits = 1 + random() % 8;
    for (int e = 0; e < edits && !input.empty(); ++e) {
      const size_t at = random() % (input.size() + 1);
      switch (random() % 3) {
        case 0:
          input.insert(at, 1, alphabet[random() % alphabet.size()]);
          break;
        case 1:
          if (at < input.size()) input.erase(at, 1 + random() % 4);
          break;
        default:
          input.insert(at, seeds[random() % seeds.size()].substr(0, random() % 40));
      }
    }
    auto out = RewritePreviewHtml(input, "", Page("/dir/page.html"));
    if (!out.ok()) {
      ASSERT_EQ(out.status().code(), StatusCode::kInvalidArgument) << input;
      continue;
    }
    ASSERT_TRUE(IsValidUtf8(*out)) << input;
    // The page had a body (not a frameset) as libxml2 reads it: the banner is in it.
    bool body = false, banner = false;
    Parsed(input).Walk([&](xmlNode* n) {
      if (xmlStrcasecmp(n->name, reinterpret_cast<const xmlChar*>("body")) == 0) body = true;
    });
    const Parsed page(*out);
    page.Walk([&](xmlNode* n) {
      xmlChar* id = xmlGetProp(n, reinterpret_cast<const xmlChar*>("id"));
      if (id != nullptr &&
          xmlStrcmp(id, reinterpret_cast<const xmlChar*>("tieup-preview-banner")) == 0) {
        xmlChar* text = xmlNodeGetContent(n);
        banner = banner || std::string_view(reinterpret_cast<const char*>(text))
                                   .find("Preview of version 7: not live.") != std::string::npos;
        xmlFree(text);
      }
      xmlFree(id);
      for (xmlAttr* a = n->properties; a != nullptr; a = a->next) {
        std::string element(reinterpret_cast<const char*>(n->name));
        std::string attr(reinterpret_cast<const char*>(a->name));
        for (auto& c : element) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!IsLink(element, attr)) continue;
        xmlChar* v = xmlNodeGetContent(reinterpret_cast<xmlNode*>(a));
        std::string value = v ? reinterpret_cast<const char*>(v) : "";
        xmlFree(v);
        while (!value.empty() && static_cast<unsigned char>(value[0]) <= 0x20) value.erase(0, 1);
        // "//host/x" and "/\\host/x" (as browsers read a backslash) lead to another site.
        if (value.size() >= 1 && value[0] == '/' &&
            (value.size() == 1 || (value[1] != '/' && value[1] != '\\'))) {
          EXPECT_TRUE(value.starts_with(kPrefix))
              << element << " " << attr << "=\"" << value << "\" in\n"
              << *out << "\nfrom\n"
              << input;
        }
      }
    });
    EXPECT_TRUE(!body || banner) << "no banner in\n" << *out << "\nfrom\n" << input;
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace tieup

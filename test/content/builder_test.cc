#include "content/builder.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <set>

#include "content/page_templates.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

std::string Gunzip(const std::string& gz) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

class BuildReleaseTest : public ::testing::Test {
 protected:
  BuildReleaseTest() : env_(NewPosixEnv()), blobs_(*env_, dir_.Sub("site/blobs")) {
    Write("author/layouts/default.mustache",
          "<html><head><title>{{title}} - {{site.name}}</title></head>"
          "<body>{{{content}}}<footer>{{partner.name}} ({{partner.region}})</footer></body>"
          "</html>\n");
    Write("author/layouts/plain.mustache", "<main>{{{content}}}</main>");
    Write("author/pages/index.md",
          "---\ntitle: Home\n---\n"
          "# Welcome to {{partner.name}}\n\n"
          "| item | price |\n|---|---|\n| tea | 3 |\n\n"
          "~~old price~~ see https://main.example/sale\n");
    Write("author/pages/news/today.html",
          "---\ntitle: \"Today\"\nlayout: plain\n---\n<p>News for {{partner.region}}</p>\n");
    Write("author/pages/raw.html", "---\nlayout: none\n---\n<!doctype html><p>{{site.name}}</p>");
    Write("author/pages/cart.md",
          "---\nmethod: link\nlink_url: https://main.example/cart\n---\nGo to the cart.\n");
    std::string css;
    for (int i = 0; i < 100; ++i) css += ".rule-" + std::to_string(i) + " { color: red; }\n";
    css_ = css;
    Write("author/assets/css/site.css", css_);
    Write("author/assets/small.js", "let x = 1;\n");
    Write("author/assets/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0binary", 16));
  }

  void Write(const std::string& rel, const std::string& data) {
    std::string path = dir_.Sub(rel);
    ASSERT_THAT(CreateDirs(*env_, DirName(path)), IsOk());
    ASSERT_THAT(WriteFileAtomic(*env_, path, data), IsOk());
  }

  BuildOptions Options(const std::string& partner = "Shop B") {
    BuildOptions o;
    o.authoring_dir = dir_.Sub("author");
    o.area = Area::kTieup;
    o.site = "shop-b";
    o.version = 12;
    o.created = 1790000000;
    o.expires = 1790086400;
    o.variables = {
        {"site.name", "Main Shop"}, {"partner.name", partner}, {"partner.region", "Kanto"}};
    return o;
  }

  std::string Body(const ReleaseManifest& m, const std::string& path) {
    auto it = m.files.find(path);
    if (it == m.files.end()) return "<missing " + path + ">";
    auto data = blobs_.Get(it->second.hash, it->second.length);
    return data.ok() ? *data : data.status().ToString();
  }

  TempDir dir_;
  std::unique_ptr<Env> env_;
  BlobStore blobs_;
  std::string css_;
};

TEST_F(BuildReleaseTest, RendersPagesIntoLayoutsAndCopiesAssets) {
  auto m = BuildRelease(*env_, blobs_, Options());
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->site, "shop-b");
  EXPECT_EQ(m->area, Area::kTieup);
  EXPECT_EQ(m->version, 12u);
  EXPECT_EQ(m->created, 1790000000);
  EXPECT_EQ(m->expires, 1790086400);
  EXPECT_THAT(m->Validate(), IsOk());
  std::vector<std::string> paths;
  for (const auto& [p, e] : m->files) paths.push_back(p);
  EXPECT_THAT(paths, ::testing::ElementsAre("/.tieup/page-shell.tmpl", "/assets/css/site.css",
                                            "/assets/logo.png", "/assets/small.js", "/cart.html",
                                            "/index.html", "/news/today.html", "/raw.html"));

  std::string index = Body(*m, "/index.html");
  EXPECT_THAT(index, HasSubstr("<title>Home - Main Shop</title>"));
  EXPECT_THAT(index, HasSubstr("<h1>Welcome to Shop B</h1>"));
  EXPECT_THAT(index, HasSubstr("<table>"));
  EXPECT_THAT(index, HasSubstr("<td>tea</td>"));
  EXPECT_THAT(index, HasSubstr("<del>old price</del>"));
  EXPECT_THAT(index, HasSubstr("<a href=\"https://main.example/sale\">"));
  EXPECT_THAT(index, HasSubstr("<footer>Shop B (Kanto)</footer>"));
  EXPECT_EQ(m->files.at("/index.html").content_type, "text/html; charset=utf-8");

  EXPECT_EQ(Body(*m, "/news/today.html"), "<main><p>News for Kanto</p>\n</main>");
  EXPECT_EQ(Body(*m, "/raw.html"), "<!doctype html><p>Main Shop</p>");

  const FileEntry& cart = m->files.at("/cart.html");
  EXPECT_EQ(cart.method, UpdateMethod::kLink);
  EXPECT_EQ(cart.link_url, "https://main.example/cart");

  EXPECT_EQ(Body(*m, "/assets/css/site.css"), css_);
  EXPECT_EQ(m->files.at("/assets/css/site.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(Body(*m, "/assets/logo.png"), std::string("\x89PNG\r\n\x1a\n\0\0binary", 16));
  EXPECT_EQ(m->files.at("/assets/logo.png").content_type, "image/png");
}

TEST_F(BuildReleaseTest, LargeTextGetsAGzipVariantOnlyWhenItHelps) {
  Write("author/assets/noise.txt", [] {
    std::string s;
    uint32_t x = 12345;
    for (int i = 0; i < 4000; ++i) {
      x = x * 1103515245 + 12345;
      s += static_cast<char>(x >> 24);
    }
    return s;
  }());
  auto m = BuildRelease(*env_, blobs_, Options());
  ASSERT_THAT(m, IsOk());
  const FileEntry& css = m->files.at("/assets/css/site.css");
  ASSERT_TRUE(css.gzip.has_value());
  EXPECT_LT(css.gzip->length, css.length);
  auto gz = blobs_.Get(css.gzip->hash, css.gzip->length);
  ASSERT_THAT(gz, IsOk());
  EXPECT_EQ(Gunzip(*gz), css_);
  EXPECT_FALSE(m->files.at("/assets/small.js").gzip.has_value());   // below 1 KiB
  EXPECT_FALSE(m->files.at("/assets/logo.png").gzip.has_value());   // not text
  EXPECT_FALSE(m->files.at("/assets/noise.txt").gzip.has_value());  // would not shrink
}

TEST_F(BuildReleaseTest, OverridesReplaceAndAddPathsForOnePartner) {
  Write("over/pages/news/today.md",
        "---\nlayout: none\n---\nSpecial news for *{{partner.name}}*\n");
  Write("over/assets/extra.txt", "only here");
  Write("over/layouts/plain.mustache", "<section>{{{content}}}</section>");
  BuildOptions o = Options();
  o.overrides_dir = dir_.Sub("over");
  auto m = BuildRelease(*env_, blobs_, o);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(Body(*m, "/news/today.html"), "<p>Special news for <em>Shop B</em></p>\n");
  EXPECT_EQ(Body(*m, "/assets/extra.txt"), "only here");
  EXPECT_THAT(Body(*m, "/index.html"), HasSubstr("Welcome to Shop B"));
  EXPECT_EQ(m->files.size(), 9u);  // with the page shell
}

TEST_F(BuildReleaseTest, OverrideLayoutsReplaceByName) {
  Write("over/layouts/plain.mustache", "<section>{{{content}}}</section>");
  BuildOptions o = Options();
  o.overrides_dir = dir_.Sub("over");
  auto m = BuildRelease(*env_, blobs_, o);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(Body(*m, "/news/today.html"), "<section><p>News for Kanto</p>\n</section>");
}

TEST_F(BuildReleaseTest, IdenticalBytesGiveIdenticalBlobsAcrossPartners) {
  auto b = BuildRelease(*env_, blobs_, Options("Shop B"));
  auto c = BuildRelease(*env_, blobs_, Options("Shop C"));
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(b->files.at("/assets/css/site.css"), c->files.at("/assets/css/site.css"));
  EXPECT_EQ(b->files.at("/news/today.html"), c->files.at("/news/today.html"));
  EXPECT_NE(b->files.at("/index.html").hash, c->files.at("/index.html").hash);
  // Rebuilding is deterministic, gzip variants included.
  auto again = BuildRelease(*env_, blobs_, Options("Shop B"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->Encode(), b->Encode());
}

TEST_F(BuildReleaseTest, VariablesAreHtmlEscapedInDoubleBraces) {
  auto m = BuildRelease(*env_, blobs_, Options("<script>Shop & Co</script>"));
  ASSERT_THAT(m, IsOk());
  EXPECT_THAT(Body(*m, "/index.html"), Not(HasSubstr("<script>")));
  EXPECT_THAT(Body(*m, "/index.html"), HasSubstr("&lt;script&gt;"));
}

// Issue 15 item 8: a layout names whose ad goes in a slot; the slot is a same-origin frame, so
// the page's signed bytes never change with the ad shown.
TEST_F(BuildReleaseTest, AdSlotTagsBecomeFramesOfTheirOwner) {
  Write("author/layouts/plain.mustache",
        "<main>{{{content}}}</main><aside>{{> ad_main}}</aside><aside>{{> ad_partner}}</aside>");
  auto m = BuildRelease(*env_, blobs_, Options());
  ASSERT_THAT(m, IsOk());
  const std::string page = Body(*m, "/news/today.html");
  EXPECT_THAT(page, HasSubstr("<aside><iframe class=\"tieup-ad tieup-ad-main\" "
                              "src=\"/tieup-ad/main\" title=\"Advertisement\" "
                              "loading=\"lazy\"></iframe></aside>"));
  EXPECT_THAT(page, HasSubstr("src=\"/tieup-ad/partner\""));

  // Main's own site has no partner: its partner slot is empty.
  BuildOptions own = Options();
  own.area = Area::kOriginal;
  auto mine = BuildRelease(*env_, blobs_, own);
  ASSERT_THAT(mine, IsOk());
  EXPECT_THAT(Body(*mine, "/news/today.html"), HasSubstr("<aside></aside>"));
  EXPECT_THAT(Body(*mine, "/news/today.html"), HasSubstr("src=\"/tieup-ad/main\""));
}

TEST_F(BuildReleaseTest, TheAdCatalogIsCheckedAndShippedEvenWithKindTemplate) {
  Write("author/pages/.tieup/ads.toml",
        "[[ad]]\nid = \"sale\"\ntext = \"Sale\"\nlink = \"/sale.html\"\n");
  BuildOptions o = Options();
  o.only_overridden_pages = true;
  auto m = BuildRelease(*env_, blobs_, o);
  ASSERT_THAT(m, IsOk());
  EXPECT_THAT(Body(*m, "/.tieup/ads.toml"), HasSubstr("id = \"sale\""));
  EXPECT_EQ(m->files.count("/index.html"), 0u);

  Write("author/pages/.tieup/ads.toml", "[[ad]]\nid = \"Sale!\"\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("pages/.tieup/ads.toml: ad 1: 'id' must be")));
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/pages/.tieup/ads.toml")), IsOk());
  Write("author/pages/.tieup/partner-ads.toml", "");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("is the partner's own ad catalog; put main's ads in "
                                 "pages/.tieup/ads.toml")));
}

TEST_F(BuildReleaseTest, MissingLayoutNamesThePage) {
  Write("author/pages/odd.md", "---\nlayout: fancy\n---\nbody\n");
  EXPECT_THAT(
      BuildRelease(*env_, blobs_, Options()),
      StatusIs(StatusCode::kNotFound, HasSubstr("pages/odd.md: layout 'fancy' does not exist")));
}

TEST_F(BuildReleaseTest, MissingDefaultLayoutNamesThePage) {
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/layouts/default.mustache")), IsOk());
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kNotFound, HasSubstr("layout 'default' does not exist")));
}

TEST_F(BuildReleaseTest, UnclosedFrontMatterNamesThePage) {
  Write("author/pages/broken.md", "---\ntitle: never closed\n# heading\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("pages/broken.md: front matter opened by '---' on line 1")));
}

TEST_F(BuildReleaseTest, BadFrontMatterLinesNameThePageAndLine) {
  Write("author/pages/bad.md", "---\ntitle: ok\ncolour: blue\n---\nx\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("pages/bad.md: front matter line 3: unknown key 'colour'")));
  Write("author/pages/bad.md", "---\njust words\n---\nx\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expected \"key: value\"")));
  Write("author/pages/bad.md", "---\nlayout: ../../etc\n---\nx\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("is not a name")));
  Write("author/pages/bad.md", "---\nmethod: teleport\n---\nx\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown update method")));
  Write("author/pages/bad.md", "---\nmethod: link\n---\nx\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("pages/bad.md: 'method: link' and 'link_url' go together")));
}

TEST_F(BuildReleaseTest, BadTemplateInAPageNamesThePage) {
  Write("author/pages/tmpl.md", "{{#section}} never closed\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("pages/tmpl.md: bad template")));
}

TEST_F(BuildReleaseTest, BadTemplateInALayoutNamesTheLayout) {
  Write("author/layouts/plain.mustache", "<main>{{{content}}</main>{{/oops}}");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("layouts/plain.mustache")));
}

TEST_F(BuildReleaseTest, TwoSourcesForOnePathAreRefused) {
  Write("author/pages/index.html", "<p>also the index</p>");
  auto m = BuildRelease(*env_, blobs_, Options());
  EXPECT_THAT(m, StatusIs(StatusCode::kInvalidArgument, HasSubstr("produce '/index.html'")));
  EXPECT_THAT(m.status().message(), HasSubstr("pages/index.md"));
  EXPECT_THAT(m.status().message(), HasSubstr("pages/index.html"));
}

TEST_F(BuildReleaseTest, FileNamesThatAreNotValidPathsAreRefused) {
  Write("author/assets/bad\\name.css", "x");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("assets/bad\\name.css")));
}

TEST_F(BuildReleaseTest, ASymbolicLinkLoopIsAnError) {
  ASSERT_THAT(CreateDirs(*env_, dir_.Sub("author/assets/loop")), IsOk());
  ASSERT_EQ(::symlink("..", dir_.Sub("author/assets/loop/back").c_str()), 0);
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("symbolic link loop")));
}

TEST_F(BuildReleaseTest, ConflictingVariableNamesAreRefused) {
  BuildOptions o = Options();
  o.variables["partner"] = "flat";
  EXPECT_THAT(BuildRelease(*env_, blobs_, o),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("partner")));
  o = Options();
  o.variables["a..b"] = "x";
  EXPECT_THAT(BuildRelease(*env_, blobs_, o),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty part")));
}

TEST_F(BuildReleaseTest, MissingDirectoriesAreReported) {
  BuildOptions o = Options();
  o.authoring_dir = dir_.Sub("nowhere");
  EXPECT_THAT(BuildRelease(*env_, blobs_, o),
              StatusIs(StatusCode::kNotFound, HasSubstr("authoring directory")));
  o = Options();
  o.overrides_dir = dir_.Sub("nowhere");
  EXPECT_THAT(BuildRelease(*env_, blobs_, o),
              StatusIs(StatusCode::kNotFound, HasSubstr("overrides directory")));
}

TEST_F(BuildReleaseTest, InvalidReleaseFieldsAreRefused) {
  BuildOptions o = Options();
  o.site = "no/slash";
  EXPECT_THAT(BuildRelease(*env_, blobs_, o),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bad site id")));
}

// The page shell: the default layout with the variables filled in and markers for what a page
// made at run time puts there (content/page_templates.h).
TEST_F(BuildReleaseTest, EmitsThePageShellOfTheDefaultLayout) {
  Write("author/layouts/default.mustache",
        "<title>{{title}} - {{site.name}}</title><header>{{partner.name}} "
        "<a href=/shop/cart>Cart {{cart_count}}</a></header>{{{content}}}");
  auto m = BuildRelease(*env_, blobs_, Options("Shop <B>"));
  ASSERT_THAT(m, IsOk());
  const FileEntry& e = m->files.at(std::string(kPageShellPath));
  EXPECT_EQ(e.content_type, "application/octet-stream");  // a machine file, not a page
  EXPECT_EQ(Body(*m, std::string(kPageShellPath)),
            "<title>" + std::string(kShellTitleMarker) +
                " - Main Shop</title><header>Shop &lt;B&gt; <a href=/shop/cart>Cart " +
                std::string(kShellCartCountMarker) + "</a></header>" +
                std::string(kShellContentMarker));
  // A static page's {{cart_count}} is empty (the layout's script fills it).
  EXPECT_THAT(Body(*m, "/index.html"), HasSubstr("Cart </a>"));

  // No default layout: no shell. A page at the shell's path is refused.
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/layouts/default.mustache")), IsOk());
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/pages/index.md")), IsOk());
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/pages/cart.md")), IsOk());
  auto none = BuildRelease(*env_, blobs_, Options());
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->files.contains(std::string(kPageShellPath)));
  Write("author/layouts/default.mustache", "{{{content}}}");
  Write("author/pages/.tieup/page-shell.tmpl", "mine");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ContentTypeTest, FromExtension) {
  EXPECT_EQ(ContentTypeForPath("/a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeForPath("/A.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeForPath("/s.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeForPath("/s.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeForPath("/d.json"), "application/json");
  EXPECT_EQ(ContentTypeForPath("/i.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeForPath("/i.png"), "image/png");
  EXPECT_EQ(ContentTypeForPath("/i.jpg"), "image/jpeg");
  EXPECT_EQ(ContentTypeForPath("/i.jpeg"), "image/jpeg");
  EXPECT_EQ(ContentTypeForPath("/i.gif"), "image/gif");
  EXPECT_EQ(ContentTypeForPath("/i.webp"), "image/webp");
  EXPECT_EQ(ContentTypeForPath("/favicon.ico"), "image/x-icon");
  EXPECT_EQ(ContentTypeForPath("/robots.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(ContentTypeForPath("/feed.xml"), "application/xml");
  EXPECT_EQ(ContentTypeForPath("/doc.pdf"), "application/pdf");
  EXPECT_EQ(ContentTypeForPath("/f.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeForPath("/archive.tar.gz"), "application/octet-stream");
  EXPECT_EQ(ContentTypeForPath("/dir.html/README"), "application/octet-stream");
  EXPECT_EQ(ContentTypeForPath("/noext"), "application/octet-stream");
}

class IncrementalBuildTest : public BuildReleaseTest {
 protected:
  // A full build, then an incremental one on the previous result; checks that the incremental
  // one equals a full build of the same sources and returns it.
  BuildResult Rebuild(const BuildOptions& o, const BuildResult& prev) {
    SourceCache cache;
    auto inc = BuildReleaseIncremental(*env_, blobs_, o, {&prev.manifest, &prev.inputs}, &cache);
    EXPECT_THAT(inc.status(), IsOk());
    auto full = BuildReleaseIncremental(*env_, blobs_, o, {}, nullptr);
    EXPECT_THAT(full.status(), IsOk());
    if (!inc.ok() || !full.ok()) return {};
    EXPECT_EQ(inc->manifest.Encode(), full->manifest.Encode());
    EXPECT_EQ(inc->inputs, full->inputs);
    EXPECT_EQ(full->reused, 0u);
    return std::move(*inc);
  }
  BuildResult First(const BuildOptions& o) {
    auto r = BuildReleaseIncremental(*env_, blobs_, o, {}, nullptr);
    EXPECT_THAT(r.status(), IsOk());
    return r.ok() ? std::move(*r) : BuildResult{};
  }
};

TEST_F(IncrementalBuildTest, NothingChangedReusesEveryPath) {
  BuildResult first = First(Options());
  EXPECT_EQ(first.rendered, 7u);
  BuildResult again = Rebuild(Options(), first);
  EXPECT_EQ(again.reused, 7u);
  EXPECT_EQ(again.rendered, 0u);
}

TEST_F(IncrementalBuildTest, OneChangedPageIsTheOnlyOneRendered) {
  BuildResult first = First(Options());
  Write("author/pages/news/today.html",
        "---\ntitle: \"Today\"\nlayout: plain\n---\n<p>Other news</p>\n");
  BuildResult next = Rebuild(Options(), first);
  EXPECT_EQ(next.rendered, 1u);
  EXPECT_EQ(next.reused, 6u);
  EXPECT_EQ(Body(next.manifest, "/news/today.html"), "<main><p>Other news</p>\n</main>");
}

TEST_F(IncrementalBuildTest, AVariableOrALayoutChangeRendersEveryPageButNotTheAssets) {
  BuildResult first = First(Options());
  BuildResult renamed = Rebuild(Options("Shop Renamed"), first);
  EXPECT_EQ(renamed.rendered, 4u);  // the pages; the 3 assets do not depend on variables
  EXPECT_THAT(Body(renamed.manifest, "/index.html"), HasSubstr("Shop Renamed"));
  EXPECT_THAT(Body(renamed.manifest, std::string(kPageShellPath)), HasSubstr("Shop Renamed"));
  Write("author/layouts/plain.mustache", "<article>{{{content}}}</article>");
  BuildResult relayout = Rebuild(Options("Shop Renamed"), renamed);
  EXPECT_EQ(relayout.rendered, 4u);
  EXPECT_THAT(Body(relayout.manifest, "/news/today.html"), HasSubstr("<article>"));
  Write("author/layouts/default.mustache", "<div>{{{content}}}</div>");
  BuildResult reshell = Rebuild(Options("Shop Renamed"), relayout);
  EXPECT_EQ(Body(reshell.manifest, std::string(kPageShellPath)),
            "<div>" + std::string(kShellContentMarker) + "</div>");
}

TEST_F(IncrementalBuildTest, AddedRemovedAndOverriddenPathsAndMissingBlobs) {
  BuildResult first = First(Options());
  Write("author/pages/new.md", "A new page\n");
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/pages/raw.html")), IsOk());
  BuildResult next = Rebuild(Options(), first);
  EXPECT_EQ(next.rendered, 1u);
  EXPECT_FALSE(next.manifest.files.contains("/raw.html"));
  EXPECT_FALSE(next.inputs.digests.contains("/raw.html"));

  BuildOptions o = Options();  // the same bytes from the overrides dir still count as a change
  Write("over/assets/small.js", "let x = 1;\n");
  o.overrides_dir = dir_.Sub("over");
  BuildResult over = Rebuild(o, next);
  EXPECT_EQ(over.rendered, 1u);

  // A blob that vanished from the store is rendered again rather than referenced.
  ASSERT_THAT(blobs_.Remove(over.manifest.files.at("/index.html").hash), IsOk());
  BuildResult healed = Rebuild(o, over);
  EXPECT_EQ(healed.rendered, 1u);
  EXPECT_TRUE(blobs_.Has(healed.manifest.files.at("/index.html").hash));
}

TEST_F(IncrementalBuildTest, OnlyOverriddenPagesKeepsAssetsAndThePartnersPages) {
  Write("author/pages/.tieup/templates/cart.mustache", "<p>{{count}}</p>");  // part of the look
  Write("over/pages/news/today.md", "---\nlayout: plain\n---\nMine\n");
  Write("over/pages/extra.html", "<p>extra</p>");
  BuildOptions o = Options();
  o.overrides_dir = dir_.Sub("over");
  o.only_overridden_pages = true;
  BuildResult r = First(o);
  std::vector<std::string> paths;
  for (const auto& [path, e] : r.manifest.files) paths.push_back(path);
  EXPECT_EQ(paths,
            (std::vector<std::string>{"/.tieup/page-shell.tmpl", "/.tieup/templates/cart.mustache",
                                      "/assets/css/site.css", "/assets/logo.png",
                                      "/assets/small.js", "/extra.html", "/news/today.html"}));
  EXPECT_EQ(Body(r.manifest, "/news/today.html"), "<main><p>Mine</p>\n</main>");
}

// A daemon's builds: one SourceCache across runs, each build from the previous one's result.
// The inputs of consecutive builds share every chunk but the one holding the changed path, and
// a removed and an added page are handled without a walk over every path.
TEST_F(IncrementalBuildTest, ConsecutiveRunsShareTheUnchangedChunksOfTheirInputs) {
  for (int i = 0; i < 300; ++i) {
    Write("author/pages/many/" + std::to_string(i) + ".html",
          "<p>page " + std::to_string(i) + "</p>");
  }
  SourceCache cache;
  auto build = [&](const BuildResult* prev) {
    cache.NewRun();
    PreviousBuild previous;
    if (prev != nullptr) previous = {&prev->manifest, &prev->inputs};
    auto r = BuildReleaseIncremental(*env_, blobs_, Options(), previous, &cache);
    EXPECT_THAT(r.status(), IsOk());
    auto full = BuildReleaseIncremental(*env_, blobs_, Options(), {}, nullptr);
    EXPECT_THAT(full.status(), IsOk());
    if (!r.ok() || !full.ok()) return BuildResult{};
    EXPECT_EQ(r->manifest.Encode(), full->manifest.Encode());
    EXPECT_EQ(r->inputs, full->inputs);
    return std::move(*r);
  };
  auto shared_chunks = [](const BuildInputs& a, const BuildInputs& b) {
    size_t n = 0;
    for (size_t i = 0; i < a.digests.chunk_count() && i < b.digests.chunk_count(); ++i) {
      n += a.digests.SharesChunk(i, b.digests, i) ? 1 : 0;
    }
    return n;
  };
  BuildResult first = build(nullptr);
  ASSERT_GT(first.inputs.digests.chunk_count(), 4u);
  BuildResult same = build(&first);
  EXPECT_EQ(same.rendered, 0u);
  EXPECT_EQ(shared_chunks(same.inputs, first.inputs), first.inputs.digests.chunk_count());

  Write("author/pages/many/150.html", "<p>changed</p>");
  BuildResult changed = build(&same);
  EXPECT_EQ(changed.rendered, 1u);
  EXPECT_EQ(changed.reused, 306u);
  EXPECT_EQ(shared_chunks(changed.inputs, same.inputs), same.inputs.digests.chunk_count() - 1);
  EXPECT_THAT(Body(changed.manifest, "/many/150.html"), HasSubstr("<p>changed</p>"));

  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/pages/many/7.html")), IsOk());
  Write("author/pages/many/new.html", "<p>new</p>");
  BuildResult moved = build(&changed);
  EXPECT_EQ(moved.rendered, 1u);
  EXPECT_FALSE(moved.manifest.files.contains("/many/7.html"));
  EXPECT_FALSE(moved.inputs.digests.contains("/many/7.html"));
  EXPECT_THAT(Body(moved.manifest, "/many/new.html"), HasSubstr("<p>new</p>"));
}

// A previous release and inputs that do not name the same paths (a damaged store) cannot be
// compared by their digests: the build makes every path again and equals a full build.
TEST_F(IncrementalBuildTest, APreviousBuildWhoseInputsAndReleaseDisagreeIsMadeAgainInFull) {
  BuildResult first = First(Options());
  const size_t all = first.manifest.files.size() - 1;  // the page shell has no source
  BuildResult lacking_input = first;                   // sizes differ
  lacking_input.inputs.digests.erase("/index.html");
  BuildResult next = Rebuild(Options(), lacking_input);
  EXPECT_EQ(next.rendered, all);

  BuildResult gone_input = first;  // same sizes; the removed path is not in the release
  gone_input.inputs.digests.erase("/index.html");
  gone_input.inputs.digests["/gone.html"] = "\x01" + Sha256("gone");
  next = Rebuild(Options(), gone_input);
  EXPECT_EQ(next.rendered, all);
  EXPECT_FALSE(next.inputs.digests.contains("/gone.html"));

  BuildResult other_file = first;  // same sizes, same digests; the release names another path
  other_file.manifest.files["/extra.html"] = first.manifest.files.at("/index.html");
  other_file.manifest.files.erase("/index.html");
  BuildResult healed = Rebuild(Options(), other_file);
  EXPECT_EQ(healed.rendered, all);
  EXPECT_TRUE(healed.manifest.files.contains("/index.html"));
  EXPECT_FALSE(healed.manifest.files.contains("/extra.html"));
}

// Pages that show products of the catalog (front matter 'products').
class ProductPagesTest : public IncrementalBuildTest {
 protected:
  ProductPagesTest() {
    catalog_["SENCHA-100"] = {{"title", "Sencha"}, {"price", "1,200 yen"}, {"sold_out", ""}};
    catalog_["GYOKURO-50"] = {
        {"title", "Gyokuro <fine>"}, {"price", "3,000 yen"}, {"sold_out", "yes"}};
    catalog_["HOJICHA-200"] = {
        {"sku", "HOJICHA-200"}, {"title", "Hojicha"}, {"price", "900 yen"}, {"sold_out", ""}};
  }
  BuildOptions WithCatalog() {
    BuildOptions o = Options();
    o.products = std::make_shared<const PageProducts>(catalog_);
    return o;
  }
  // The next build after `prev` with the catalog as it is now, incrementally (through `cache`,
  // a daemon's), checked against a full build of the same inputs.
  BuildResult Next(const BuildResult& prev, SourceCache& cache) {
    cache.NewRun();
    auto r = BuildReleaseIncremental(*env_, blobs_, WithCatalog(), {&prev.manifest, &prev.inputs},
                                     &cache);
    EXPECT_THAT(r.status(), IsOk());
    auto full = BuildReleaseIncremental(*env_, blobs_, WithCatalog(), {}, nullptr);
    EXPECT_THAT(full.status(), IsOk());
    if (!r.ok() || !full.ok()) return BuildResult{};
    EXPECT_EQ(r->manifest.Encode(), full->manifest.Encode());
    EXPECT_EQ(r->inputs, full->inputs);
    return std::move(*r);
  }
  PageProducts catalog_;
};

TEST_F(ProductPagesTest, PagesShowTheFieldsOfTheProductsTheyName) {
  Write("author/pages/teas.html",
        "---\ntitle: Teas\nlayout: none\nproducts: GYOKURO-50, SENCHA-100\n---\n"
        "{{product.sku}}: {{product.title}} {{product.price}}"
        "{{#product.sold_out}} (sold out){{/product.sold_out}}"
        "{{^product.sold_out}} (in stock){{/product.sold_out}}\n"
        "{{#products}}[{{sku}} {{title}} {{price}}{{#sold_out}} sold out{{/sold_out}}"
        "{{^sold_out}} in stock{{/sold_out}}]{{/products}}\n");
  Write("author/pages/one.md",
        "---\nproducts: 'SENCHA-100'\n---\n"
        "Buy **{{product.title}}** for {{product.price}}{{^product.sold_out}}, in stock"
        "{{/product.sold_out}}.\n");
  auto m = BuildRelease(*env_, blobs_, WithCatalog());
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(Body(*m, "/teas.html"),
            "GYOKURO-50: Gyokuro &lt;fine&gt; 3,000 yen (sold out)\n"
            "[GYOKURO-50 Gyokuro &lt;fine&gt; 3,000 yen sold out]"
            "[SENCHA-100 Sencha 1,200 yen in stock]\n");
  EXPECT_THAT(Body(*m, "/one.html"),
              HasSubstr("<p>Buy <strong>Sencha</strong> for 1,200 yen, in stock.</p>"));
  EXPECT_THAT(Body(*m, "/one.html"), HasSubstr("<footer>Shop B (Kanto)</footer>"));
}

TEST_F(ProductPagesTest, AStarNamesEveryProductInSkuOrder) {
  Write("author/pages/all.html",
        "---\nlayout: none\nproducts: *\n---\n"
        "{{product.sku}}|{{#products}}{{sku}}={{title}};{{/products}}");
  auto m = BuildRelease(*env_, blobs_, WithCatalog());
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(Body(*m, "/all.html"),
            "GYOKURO-50|GYOKURO-50=Gyokuro &lt;fine&gt;;HOJICHA-200=Hojicha;SENCHA-100=Sencha;");
  // An empty catalog: no product, no list entries.
  BuildOptions empty = Options();
  empty.products = std::make_shared<const PageProducts>();
  auto none = BuildRelease(*env_, blobs_, empty);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(Body(*none, "/all.html"), "|");
}

TEST_F(ProductPagesTest, BadProductListsAndUnknownProductsNameThePage) {
  Write("author/pages/x.md", "---\nproducts: SENCHA-100, MATCHA-30\n---\n{{product.title}}\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, WithCatalog()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("pages/x.md: product 'MATCHA-30' is not in the catalog; add it "
                                 "(tieup main product add) or take it out of the front matter "
                                 "'products'")));
  Write("author/pages/x.md", "---\nproducts: SENCHA-100\n---\n{{product.title}}\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, Options()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("pages/x.md: names products (front matter 'products'), but "
                                 "this build has no catalog")));
  for (const char* bad : {"SENCHA-100, , GYOKURO-50", "SENCHA-100,", "", "*, SENCHA-100"}) {
    SCOPED_TRACE(bad);
    Write("author/pages/x.md", std::string("---\nproducts: ") + bad + "\n---\nx\n");
    EXPECT_THAT(
        BuildRelease(*env_, blobs_, WithCatalog()),
        StatusIs(StatusCode::kInvalidArgument, HasSubstr("pages/x.md: front matter line 2: ")));
  }
  Write("author/pages/x.md", "---\nproducts: A,,B\n---\nx\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, WithCatalog()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'products' has an empty element")));
  Write("author/pages/x.md", "---\ncolour: blue\n---\nx\n");
  EXPECT_THAT(BuildRelease(*env_, blobs_, WithCatalog()),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("(known: title, layout, method, link_url, products)")));
  // An asset is copied as it is: its "front matter" names nothing.
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/pages/x.md")), IsOk());
  Write("author/assets/x.html", "---\nproducts: MATCHA-30\n---\n");
  auto m = BuildRelease(*env_, blobs_, Options());
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(Body(*m, "/assets/x.html"), "---\nproducts: MATCHA-30\n---\n");
}

// A page naming no products is made from exactly what it was made from before pages could name
// products: its digest is the tag and the SHA-256 of its bytes, whatever the catalog.
TEST_F(ProductPagesTest, PagesWithoutProductsKeepTheirDigestAndBytes) {
  Write("author/pages/teas.md", "---\nproducts: SENCHA-100\n---\n{{product.title}}\n");
  BuildResult with = First(WithCatalog());
  ASSERT_THAT(env_->RemoveFile(dir_.Sub("author/pages/teas.md")), IsOk());
  BuildResult without = First(Options());
  for (const auto& [url, digest] : without.inputs.digests) {
    SCOPED_TRACE(url);
    EXPECT_EQ(with.inputs.digests.at(url), digest);
    EXPECT_EQ(with.manifest.files.at(url), without.manifest.files.at(url));
  }
  auto index = env_->ReadFile(dir_.Sub("author/pages/index.md"));
  ASSERT_THAT(index.status(), IsOk());
  EXPECT_EQ(with.inputs.digests.at("/index.html"), std::string(1, '\0') + Sha256(*index));
  // The page naming products: 33 bytes, the tag flagged.
  const std::string& teas = with.inputs.digests.at("/teas.html");
  ASSERT_EQ(teas.size(), 33u);
  EXPECT_EQ(teas[0], 0x20);  // Markdown (0), authoring directory, names products
}

// A price change renders the pages that name that product (and the "*" pages) only; the other
// pages keep their digests in shared chunks.
TEST_F(ProductPagesTest, AProductChangeRendersOnlyThePagesNamingIt) {
  for (int i = 0; i < 120; ++i) {
    Write("author/pages/many/" + std::to_string(i) + ".html",
          "<p>page " + std::to_string(i) + "</p>");
  }
  Write("author/pages/sencha.md", "---\nproducts: SENCHA-100\n---\n{{product.price}}\n");
  Write("author/pages/gyokuro.md", "---\nproducts: GYOKURO-50\n---\n{{product.price}}\n");
  Write("author/pages/both.html",
        "---\nproducts: HOJICHA-200, GYOKURO-50\n---\n{{#products}}{{price}} {{/products}}");
  Write("author/pages/all.md", "---\nproducts: *\n---\n{{#products}}{{price}} {{/products}}\n");
  const std::set<std::string> product_pages = {"/all.html", "/both.html", "/gyokuro.html",
                                               "/sencha.html"};
  SourceCache cache;
  auto build = [&](const BuildResult& prev) { return Next(prev, cache); };
  BuildResult first = First(WithCatalog());
  const size_t all = first.manifest.files.size() - 1;  // but the page shell
  BuildResult same = build(first);
  EXPECT_EQ(same.rendered, 0u);
  EXPECT_EQ(same.reused, all);

  catalog_["SENCHA-100"]["price"] = "1,100 yen";
  BuildResult sencha = build(same);
  EXPECT_EQ(sencha.rendered, 2u);  // sencha.html and all.html
  EXPECT_EQ(sencha.reused, all - 2);
  EXPECT_THAT(Body(sencha.manifest, "/sencha.html"), HasSubstr("<p>1,100 yen</p>"));
  EXPECT_THAT(Body(sencha.manifest, "/all.html"), HasSubstr("<p>3,000 yen 900 yen 1,100 yen</p>"));
  EXPECT_EQ(sencha.manifest.files.at("/gyokuro.html"), same.manifest.files.at("/gyokuro.html"));

  catalog_["GYOKURO-50"]["sold_out"] = "";
  BuildResult gyokuro = build(sencha);
  EXPECT_EQ(gyokuro.rendered, 3u);  // gyokuro.html, both.html, all.html

  catalog_["MATCHA-30"] = {{"title", "Matcha"}, {"price", "2,000 yen"}};
  BuildResult added = build(gyokuro);
  EXPECT_EQ(added.rendered, 1u);  // all.html
  EXPECT_THAT(Body(added.manifest, "/all.html"), HasSubstr("2,000 yen"));

  // Only the chunks holding a page that names products are new storage: the others are the
  // previous build's.
  size_t shared = 0, holding_products = 0;
  const CowMap<std::string>& digests = added.inputs.digests;
  for (size_t i = 0; i < digests.chunk_count(); ++i) {
    shared += digests.SharesChunk(i, gyokuro.inputs.digests, i) ? 1 : 0;
    bool holds = false;
    for (const auto& [url, digest] : digests.chunk(i).entries()) {
      holds = holds || product_pages.contains(url);
    }
    holding_products += holds ? 1 : 0;
  }
  ASSERT_GT(digests.chunk_count(), holding_products);
  EXPECT_EQ(shared, digests.chunk_count() - holding_products);
}

// A product's also_bought field names other products: the page lists their records, and a change
// of one of them renders the page again (incrementally as in a full build).
TEST_F(ProductPagesTest, AlsoBoughtListsTheNamedProductsAndFollowsTheirChanges) {
  catalog_["SENCHA-100"]["also_bought"] = "HOJICHA-200 MATCHA-0 GYOKURO-50";  // MATCHA-0: unknown
  Write("author/pages/sencha.html",
        "---\nlayout: none\nproducts: SENCHA-100\n---\n"
        "{{#product.has_also_bought}}Also:{{/product.has_also_bought}}"
        "{{#product.also_bought}} {{title}} {{price}};{{/product.also_bought}}");
  Write("author/pages/hojicha.html",
        "---\nlayout: none\nproducts: HOJICHA-200\n---\n"
        "{{product.title}}{{#product.has_also_bought}} also{{/product.has_also_bought}}"
        "{{^product.also_bought}} (nothing beside it){{/product.also_bought}}");
  BuildResult first = First(WithCatalog());
  EXPECT_EQ(Body(first.manifest, "/sencha.html"),
            "Also: Hojicha 900 yen; Gyokuro &lt;fine&gt; 3,000 yen;");
  EXPECT_EQ(Body(first.manifest, "/hojicha.html"), "Hojicha (nothing beside it)");

  SourceCache cache;
  auto build = [&](const BuildResult& prev) { return Next(prev, cache); };
  // The price of a product shown beside Sencha changes: Sencha's page follows.
  catalog_["HOJICHA-200"]["price"] = "950 yen";
  BuildResult priced = build(first);
  EXPECT_EQ(priced.rendered, 2u);  // sencha.html, hojicha.html
  EXPECT_EQ(Body(priced.manifest, "/sencha.html"),
            "Also: Hojicha 950 yen; Gyokuro &lt;fine&gt; 3,000 yen;");
  // The list changes (Gyokuro sold out, left out by the catalog): only Sencha's page.
  catalog_["SENCHA-100"]["also_bought"] = "HOJICHA-200";
  BuildResult shorter = build(priced);
  EXPECT_EQ(shorter.rendered, 1u);
  EXPECT_EQ(Body(shorter.manifest, "/sencha.html"), "Also: Hojicha 950 yen;");
}

// One SourceCache across runs (a daemon): a page edited to name another product is read again
// and follows that product from then on.
TEST_F(ProductPagesTest, AnEditedPageFollowsTheProductItNowNames) {
  Write("author/pages/tea.md", "---\nproducts: SENCHA-100\n---\n{{product.title}}\n");
  SourceCache cache;
  auto build = [&](const BuildResult* prev) {
    cache.NewRun();
    PreviousBuild previous;
    if (prev != nullptr) previous = {&prev->manifest, &prev->inputs};
    auto r = BuildReleaseIncremental(*env_, blobs_, WithCatalog(), previous, &cache);
    EXPECT_THAT(r.status(), IsOk());
    return r.ok() ? std::move(*r) : BuildResult{};
  };
  BuildResult first = build(nullptr);
  EXPECT_THAT(Body(first.manifest, "/tea.html"), HasSubstr("<p>Sencha</p>"));
  Write("author/pages/tea.md", "---\nproducts: HOJICHA-200\n---\n{{product.title}}\n");
  BuildResult edited = build(&first);
  EXPECT_EQ(edited.rendered, 1u);
  EXPECT_THAT(Body(edited.manifest, "/tea.html"), HasSubstr("<p>Hojicha</p>"));
  catalog_["SENCHA-100"]["title"] = "Sencha (new crop)";
  BuildResult other = build(&edited);
  EXPECT_EQ(other.rendered, 0u);
  catalog_["HOJICHA-200"]["title"] = "Hojicha (roasted)";
  BuildResult followed = build(&other);
  EXPECT_EQ(followed.rendered, 1u);
  EXPECT_THAT(Body(followed.manifest, "/tea.html"), HasSubstr("<p>Hojicha (roasted)</p>"));
  // The catalog gone: the page is refused, though its bytes did not change.
  cache.NewRun();
  EXPECT_THAT(BuildReleaseIncremental(*env_, blobs_, Options(),
                                      {&followed.manifest, &followed.inputs}, &cache),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("has no catalog")));
}

// What a page names is kept with its hash: a page the next run's listing shows unchanged (same
// size, inode and time, old enough) is not read again (SourceCache::NewRun).
TEST_F(ProductPagesTest, WhatAnUnchangedPageNamesIsKeptAcrossRuns) {
  const std::string path = dir_.Sub("author/pages/tea.md");
  Write("author/pages/tea.md", "---\nproducts: SENCHA-100\n---\n{{product.title}}\n");
  struct timespec old[2];
  ::clock_gettime(CLOCK_REALTIME, &old[0]);
  old[0].tv_sec -= 3600;
  old[1] = old[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  SourceCache cache;
  auto build = [&](const BuildResult* prev) {
    cache.NewRun();
    PreviousBuild previous;
    if (prev != nullptr) previous = {&prev->manifest, &prev->inputs};
    auto r = BuildReleaseIncremental(*env_, blobs_, WithCatalog(), previous, &cache);
    EXPECT_THAT(r.status(), IsOk());
    return r.ok() ? std::move(*r) : BuildResult{};
  };
  BuildResult first = build(nullptr);
  // Rewritten in place with the same size and time: the cache cannot tell, and keeps what it
  // read (the proof that it did not read the file again).
  FILE* f = std::fopen(path.c_str(), "r+");
  ASSERT_NE(f, nullptr);
  const std::string other = "---\nproducts: GYOKURO-50\n---\n{{product.title}}\n";
  std::fwrite(other.data(), 1, other.size(), f);
  std::fclose(f);
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
  catalog_["GYOKURO-50"]["price"] = "2,900 yen";
  EXPECT_EQ(build(&first).rendered, 0u);
  catalog_["SENCHA-100"]["price"] = "1,100 yen";
  EXPECT_EQ(build(&first).rendered, 1u);
}

TEST(BuildInputsTest, RoundTripsAndRefusesDamage) {
  BuildInputs in;
  in.context = Sha256("context");
  in.digests["/a.html"] = "\x01" + Sha256("a");
  in.digests["/caf\xc3\xa9/b.css"] = "\x10" + Sha256("b");
  const std::string bytes = in.Encode();
  auto back = BuildInputs::Parse(bytes);
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(*back, in);
  EXPECT_THAT(BuildInputs::Parse(bytes.substr(0, bytes.size() - 1)).status(),
              StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(BuildInputs::Parse("ab").status(), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(BuildInputs::Parse("").status(), StatusIs(StatusCode::kDataLoss));
  BuildInputs empty;
  empty.context = Sha256("c");
  EXPECT_THAT(BuildInputs::Parse(empty.Encode()).status(), IsOk());
}

TEST(BuildInputsTest, EncodedChunksMakeUpTheEncoding) {
  BuildInputs in;
  in.context = Sha256("context");
  for (int i = 0; i < 500; ++i) in.digests["/p/" + std::to_string(i)] = "\x01" + Sha256("a");
  const auto chunks = in.EncodedChunks();
  ASSERT_EQ(chunks.size(), in.digests.chunk_count());
  ASSERT_GT(chunks.size(), 4u);
  std::string joined = in.EncodeHeader();
  for (const auto& [key, bytes] : chunks) {
    EXPECT_EQ(key, Sha256(bytes));
    joined += bytes;
  }
  EXPECT_EQ(joined, in.Encode());
  // A copy changed in one place shares the other chunks' bytes (the same storage).
  BuildInputs next = in;
  next.digests["/p/250"] = "\x02" + Sha256("b");
  const auto next_chunks = next.EncodedChunks();
  size_t same = 0;
  for (size_t i = 0; i < chunks.size(); ++i)
    same += chunks[i].bytes.data() == next_chunks[i].bytes.data();
  EXPECT_EQ(same, chunks.size() - 1);
}

// A daemon keeps one SourceCache across publishes: a file the new listing shows unchanged (same
// size, inode and time, not modified shortly before it was hashed) is not read again.
class SourceCacheTest : public ::testing::Test {
 protected:
  SourceCacheTest() : env_(NewPosixEnv()) {}
  std::string Write(const std::string& rel, const std::string& data, int64_t age_seconds) {
    const std::string path = dir_.Sub("src/pages") + "/" + rel;
    EXPECT_THAT(CreateDirs(*env_, DirName(path)), IsOk());
    EXPECT_THAT(WriteFileAtomic(*env_, path, data), IsOk());
    SetAge(path, age_seconds);
    return path;
  }
  // Writes in place (same inode), keeping the modification time it had.
  void OverwriteKeepingTime(const std::string& path, const std::string& data) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    FILE* f = std::fopen(path.c_str(), "r+");
    ASSERT_NE(f, nullptr);
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
  void SetAge(const std::string& path, int64_t age_seconds) {
    struct timespec times[2];
    ::clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= age_seconds;
    times[1] = times[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
  std::string HashIn(SourceCache& cache, const std::string& path) {
    cache.NewRun();
    auto listed = cache.ListFiles(*env_, dir_.Sub("src/pages"));
    EXPECT_THAT(listed, IsOk());
    auto h = cache.Hash(*env_, path);
    EXPECT_THAT(h, IsOk());
    return h.ok() ? std::string(*h) : "";
  }
  TempDir dir_;
  std::unique_ptr<Env> env_;
};

TEST_F(SourceCacheTest, AnOldUnchangedFileIsNotReadAgainInTheNextRun) {
  SourceCache cache;
  const std::string path = Write("a.html", "first", 3600);
  EXPECT_EQ(HashIn(cache, path), Sha256("first"));
  // Same size, inode and time: what a run can see is unchanged, so the file is not read (the
  // kept hash is proof of it).
  OverwriteKeepingTime(path, "other");
  EXPECT_EQ(HashIn(cache, path), Sha256("first"));
  // Within one run the hash is the one it started with, too.
  EXPECT_EQ(*cache.Hash(*env_, path), Sha256("first"));
}

TEST_F(SourceCacheTest, AChangedFileIsReadAgain) {
  SourceCache cache;
  const std::string path = Write("a.html", "first", 3600);
  EXPECT_EQ(HashIn(cache, path), Sha256("first"));
  Write("a.html", "second, longer", 3600);  // other size, inode and time
  EXPECT_EQ(HashIn(cache, path), Sha256("second, longer"));
  OverwriteKeepingTime(path, "third, longer!");  // same size and inode ...
  SetAge(path, 1800);                            // ... another time
  EXPECT_EQ(HashIn(cache, path), Sha256("third, longer!"));
}

TEST_F(SourceCacheTest, AFileModifiedJustBeforeItWasHashedIsReadAgain) {
  SourceCache cache;
  const std::string path = Write("a.html", "first", 0);  // modified now: its time may repeat
  EXPECT_EQ(HashIn(cache, path), Sha256("first"));
  OverwriteKeepingTime(path, "again");
  EXPECT_EQ(HashIn(cache, path), Sha256("again"));
}

TEST_F(SourceCacheTest, AFileNotListedInTheRunIsReadAgain) {
  SourceCache cache;
  const std::string path = Write("a.html", "first", 3600);
  EXPECT_EQ(HashIn(cache, path), Sha256("first"));
  OverwriteKeepingTime(path, "other");
  cache.NewRun();  // nothing listed: no proof the file is unchanged
  EXPECT_EQ(std::string(*cache.Hash(*env_, path)), Sha256("other"));
}

}  // namespace
}  // namespace tieup::content

#include "content/template_vars.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "content/builder.h"
#include "content/gzip_variant.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

TEST(SubstituteVariablesTest, PutsInEachValueEscapedAsMustacheDoes) {
  const std::string tmpl =
      "<h1>" + VariableMarker("partner.name") + "</h1><a title=\"" + VariableMarker("x") + "\">";
  auto out = SubstituteVariables(tmpl, {{"partner.name", "Tea & <Co> 'B'"}, {"x", "\"q\""}});
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(*out, "<h1>Tea &amp; &lt;Co&gt; &apos;B&apos;</h1><a title=\"&quot;q&quot;\">");
  // Text without markers comes back as it was; values may be empty.
  EXPECT_EQ(SubstituteVariables("plain \xE6\x97\xA5", {}).value(), "plain \xE6\x97\xA5");
  EXPECT_EQ(SubstituteVariables(VariableMarker("a") + VariableMarker("a"), {{"a", ""}}).value(),
            "");
}

TEST(SubstituteVariablesTest, RefusesUnknownAndUnclosedMarkers) {
  EXPECT_THAT(SubstituteVariables("a" + VariableMarker("nope") + "b", {{"partner.name", "B"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'nope'")));
  EXPECT_THAT(SubstituteVariables("a\xEE\x80\x80partner.name", {{"partner.name", "B"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not closed")));
  EXPECT_THAT(SubstituteVariables("\xEE\x80\x80" + std::string(200, 'a') + "\xEE\x80\x81",
                                  {{std::string(200, 'a'), "B"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not closed")));
}

class TemplateBuildTest : public ::testing::Test {
 protected:
  TemplateBuildTest() : env_(NewPosixEnv()), blobs_(*env_, dir_.Sub("main/blobs")) {
    Write("author/layouts/default.mustache",
          "<html><head><title>{{title}} - {{site.name}}</title></head>"
          "<body>{{{content}}}<footer>{{partner.name}} ({{partner.region}})</footer></body>"
          "</html>\n");
    Write("author/layouts/plain.mustache", "<main>{{{content}}}</main>");
    std::string long_text;
    for (int i = 0; i < 60; ++i) long_text += "<p>Line " + std::to_string(i) + " of the news</p>";
    Write("author/pages/news.html",
          "---\ntitle: News\n---\n<p>News for {{partner.region}}</p>" + long_text + "\n");
    Write("author/pages/index.md", "---\ntitle: Home\n---\n# Welcome to {{partner.name}}\n");
    Write("author/pages/raw.html", "---\nlayout: none\n---\n<p>{{site.name}}</p>");
    Write("author/pages/shout.html", "---\nlayout: plain\n---\n<b>{{{partner.name}}}</b>");
    Write("author/pages/cond.html",
          "---\nlayout: plain\n---\n{{#partner.region}}in {{partner.region}}{{/partner.region}}");
    Write("author/assets/site.css", "body { color: red; }\n");
  }

  void Write(const std::string& rel, const std::string& data) {
    const std::string path = dir_.Sub(rel);
    ASSERT_THAT(CreateDirs(*env_, DirName(path)), IsOk());
    ASSERT_THAT(WriteFileAtomic(*env_, path, data), IsOk());
  }

  // Copies every file of `m` from main's blob store into `partner` (what the partner fetches).
  void FetchFiles(const ReleaseManifest& m, BlobStore& partner) {
    for (const auto& [path, e] : m.files) {
      ASSERT_THAT(partner.PutExpected(e.hash, blobs_.Get(e.hash).value()), IsOk());
    }
  }

  BuildOptions Options(const std::string& id, const std::string& name, const std::string& region,
                       bool templates) {
    BuildOptions o;
    o.authoring_dir = dir_.Sub("author");
    o.area = Area::kTieup;
    o.site = id;
    o.version = 3;
    o.created = 1790000000;
    o.expires = 1790086400;
    o.variables = {{"site.name", "Main Shop"},
                   {"partner.id", id},
                   {"partner.name", name},
                   {"partner.region", region}};
    if (templates) o.partner_variables = {"partner.id", "partner.name", "partner.region"};
    return o;
  }

  TempDir dir_;
  std::unique_ptr<Env> env_;
  BlobStore blobs_;
};

TEST_F(TemplateBuildTest, PartnersShareTemplatesAndTheExpandedReleaseIsTheDirectBuild) {
  struct Partner {
    std::string id, name, region;
  };
  // The second name has every character HTML escaping changes; the third region is empty (a
  // section's condition on it).
  const std::vector<Partner> partners = {{"shop-b", "Shop B", "Kanto"},
                                         {"shop-c", "Tea & <Co> 'C' \"x\"", "Kansai"},
                                         {"shop-d", "D", ""}};
  std::vector<ReleaseManifest> built;
  for (const Partner& p : partners) {
    auto with = BuildRelease(*env_, blobs_, Options(p.id, p.name, p.region, true));
    ASSERT_THAT(with, IsOk());
    ASSERT_THAT(with->Validate(), IsOk());
    EXPECT_EQ(with->variables.at("partner.name"), p.name);
    EXPECT_FALSE(with->variables.contains("site.name"));  // the same for every partner
    // The signed form survives its canonical encoding and the compact one.
    auto parsed = ReleaseManifest::ParseCanonical(with->Encode());
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, *with);
    EXPECT_EQ(ReleaseManifest::ParseCompact(with->EncodeCompact()).value(), *with);

    // The partner's form: every file's bytes, hash, length and gzip variant are exactly what
    // rendering directly with the partner's values gives.
    TempDir partner_dir;
    BlobStore direct_blobs(*env_, partner_dir.Sub("direct"));
    auto direct = BuildRelease(*env_, direct_blobs, Options(p.id, p.name, p.region, false));
    ASSERT_THAT(direct, IsOk());
    EXPECT_FALSE(UsesTemplates(*direct));
    auto expanded = ExpandRelease(*with, blobs_);
    ASSERT_THAT(expanded, IsOk());
    ASSERT_EQ(expanded->files.size(), direct->files.size());
    for (const auto& [path, e] : direct->files) {
      SCOPED_TRACE(p.id + " " + path);
      auto got = expanded->files.find(path);
      ASSERT_NE(got, expanded->files.end());
      FileEntry without_origin = got->second;
      without_origin.expanded_from.reset();
      EXPECT_EQ(without_origin, e);
      EXPECT_EQ(blobs_.Get(got->second.hash).value(), direct_blobs.Get(e.hash).value());
    }
    // Main's form again, with main's hash (what deltas and signatures name).
    const ReleaseManifest back = MainForm(*expanded);
    EXPECT_EQ(back, *with);
    EXPECT_EQ(back.Hash(), with->Hash());
    built.push_back(std::move(*with));
  }
  // A page showing a variable in text is one template for every partner; a page showing none is
  // one page; a raw value, a section on a value and Markdown of a value that HTML escaping changes
  // are rendered per partner.
  auto entry = [&](size_t i, const std::string& path) { return built[i].files.at(path); };
  EXPECT_TRUE(entry(0, "/news.html").vars);
  EXPECT_EQ(entry(0, "/news.html"), entry(1, "/news.html"));
  EXPECT_EQ(entry(0, "/news.html"), entry(2, "/news.html"));
  EXPECT_FALSE(entry(0, "/news.html").gzip);  // the partner makes its own
  EXPECT_FALSE(entry(0, "/raw.html").vars);
  EXPECT_EQ(entry(0, "/raw.html"), entry(1, "/raw.html"));
  EXPECT_TRUE(entry(0, "/index.html").vars);
  EXPECT_FALSE(entry(1, "/index.html").vars);  // cmark writes ' and " back unescaped
  EXPECT_TRUE(entry(0, "/shout.html").vars);   // a raw value with nothing to escape
  EXPECT_FALSE(entry(1, "/shout.html").vars);
  // kainjow's mustache takes an empty string as true: the section shows either way, and the
  // template gives the page.
  EXPECT_TRUE(entry(2, "/cond.html").vars);
  EXPECT_FALSE(entry(0, "/assets/site.css").vars);
  // The template holds markers, never a partner's value.
  auto tmpl = blobs_.Get(entry(0, "/news.html").hash).value();
  EXPECT_THAT(tmpl, HasSubstr(VariableMarker("partner.region")));
  EXPECT_THAT(tmpl, ::testing::Not(HasSubstr("Kanto")));
}

TEST_F(TemplateBuildTest, ExpandingReusesUnchangedPagesAndRefusesADamagedTemplate) {
  auto m = BuildRelease(*env_, blobs_, Options("shop-b", "Shop B", "Kanto", true));
  ASSERT_THAT(m, IsOk());
  TempDir partner_dir;
  BlobStore partner_blobs(*env_, partner_dir.Sub("blobs"));
  // The partner lacks the templates: NotFound until it fetched them.
  EXPECT_THAT(ExpandRelease(*m, partner_blobs), StatusIs(StatusCode::kNotFound));
  const std::string tmpl_hash = m->files.at("/news.html").hash;
  const std::string tmpl = blobs_.Get(tmpl_hash).value();
  FetchFiles(*m, partner_blobs);
  auto first = ExpandRelease(*m, partner_blobs);
  ASSERT_THAT(first, IsOk());
  // The next release with the same variables: the made pages are reused, even without their
  // templates; with another value they are made again.
  ASSERT_THAT(partner_blobs.Remove(tmpl_hash), IsOk());
  auto again = ExpandRelease(*m, partner_blobs, &*first);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, *first);
  ReleaseManifest renamed = *m;
  renamed.variables["partner.region"] = "Tohoku";
  EXPECT_THAT(ExpandRelease(renamed, partner_blobs, &*first), StatusIs(StatusCode::kNotFound));
  // A damaged template is never used.
  auto path = partner_blobs.Path(tmpl_hash);
  ASSERT_THAT(path, IsOk());
  std::string bad = tmpl;
  bad[bad.size() / 2] ^= 1;
  ASSERT_THAT(CreateDirs(*env_, DirName(*path)), IsOk());
  ASSERT_THAT(WriteFileAtomic(*env_, *path, bad), IsOk());
  EXPECT_THAT(ExpandRelease(renamed, partner_blobs), StatusIs(StatusCode::kDataLoss));
  // A template naming a variable the release lacks.
  ASSERT_THAT(WriteFileAtomic(*env_, *path, tmpl), IsOk());
  renamed.variables.erase("partner.region");
  EXPECT_THAT(ExpandRelease(renamed, partner_blobs),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("variable 'partner.region'")));
}

// A lost made page is made again with its gzip variant, whether that variant was made at this
// version's zlib level or at the level of before (a page made by an earlier version); a variant
// that is neither is refused (DataLoss), nothing stored under its name.
TEST_F(TemplateBuildTest, ALostPageIsMadeAgainWithAVariantOfEitherGzipLevel) {
  auto m = BuildRelease(*env_, blobs_, Options("shop-b", "Shop B", "Kanto", true));
  ASSERT_THAT(m, IsOk());
  TempDir partner_dir;
  BlobStore partner_blobs(*env_, partner_dir.Sub("blobs"));
  FetchFiles(*m, partner_blobs);
  auto made = ExpandRelease(*m, partner_blobs);
  ASSERT_THAT(made, IsOk());
  FileEntry news = made->files.at("/news.html");
  ASSERT_TRUE(news.expanded_from);
  ASSERT_TRUE(news.gzip);
  const std::string page = partner_blobs.Get(news.hash).value();
  EXPECT_EQ(partner_blobs.Get(news.gzip->hash).value(),
            internal::GzipCompress(page, internal::kGzipLevel).value());

  ASSERT_THAT(partner_blobs.Remove(news.hash), IsOk());
  ASSERT_THAT(partner_blobs.Remove(news.gzip->hash), IsOk());
  ASSERT_THAT(RemakeExpandedPage(*made, news, partner_blobs), IsOk());
  EXPECT_EQ(partner_blobs.Get(news.hash).value(), page);
  EXPECT_TRUE(partner_blobs.Has(news.gzip->hash));

  // The entry of an earlier version: its variant at the level of before.
  const std::string before = internal::GzipCompress(page, internal::kGzipLevelBefore).value();
  ASSERT_NE(before, internal::GzipCompress(page, internal::kGzipLevel).value());
  FileEntry earlier = news;
  earlier.gzip = GzipVariant{Sha256Hex(before), before.size()};
  ASSERT_THAT(partner_blobs.Remove(news.hash), IsOk());
  ASSERT_THAT(RemakeExpandedPage(*made, earlier, partner_blobs), IsOk());
  EXPECT_EQ(partner_blobs.Get(earlier.gzip->hash).value(), before);

  FileEntry neither = news;
  neither.gzip = GzipVariant{std::string(64, 'a'), 100};
  EXPECT_THAT(RemakeExpandedPage(*made, neither, partner_blobs), StatusIs(StatusCode::kDataLoss));
  EXPECT_FALSE(partner_blobs.Has(std::string(64, 'a')));
}

TEST_F(TemplateBuildTest, ExpandingFromThePreviousReleaseMakesOnlyTheChangedPages) {
  auto v1 = BuildRelease(*env_, blobs_, Options("shop-b", "Shop B", "Kanto", true));
  ASSERT_THAT(v1, IsOk());
  TempDir partner_dir;
  BlobStore partner_blobs(*env_, partner_dir.Sub("blobs"));
  FetchFiles(*v1, partner_blobs);
  auto first = ExpandRelease(*v1, partner_blobs);
  ASSERT_THAT(first, IsOk());
  // Version 2 changes one page; the partner holds only that page's new template (the others'
  // are gone): the result is made from version 1's pages and is the full expansion's.
  Write("author/pages/news.html", "---\ntitle: News\n---\n<p>Today in {{partner.region}}</p>\n");
  BuildOptions o = Options("shop-b", "Shop B", "Kanto", true);
  o.version = 4;
  auto v2 = BuildRelease(*env_, blobs_, o);
  ASSERT_THAT(v2, IsOk());
  const FileEntry& news = v2->files.at("/news.html");
  ASSERT_TRUE(news.vars);
  for (const auto& [path, e] : v1->files) {
    if (e.vars) {
      ASSERT_THAT(partner_blobs.Remove(e.hash), IsOk());
    }
  }
  ASSERT_THAT(partner_blobs.PutExpected(news.hash, blobs_.Get(news.hash).value()), IsOk());
  auto second = ExpandRelease(*v2, partner_blobs, &*first, &*v1);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->version, 4u);
  EXPECT_THAT(blobs_.Get(news.hash).value(), HasSubstr(VariableMarker("partner.region")));
  EXPECT_EQ(MainForm(*second), *v2);
  EXPECT_EQ(MainForm(*second).Hash(), v2->Hash());
  ASSERT_THAT(partner_blobs.Get(second->files.at("/news.html").hash).value(),
              HasSubstr("<p>Today in Kanto</p>"));
  // Without the previous main form every template is read: the others are gone here.
  EXPECT_THAT(ExpandRelease(*v2, partner_blobs, nullptr, nullptr), StatusIs(StatusCode::kNotFound));
}

// A first sync makes every page; enough of them are made on several threads: the result is the
// direct build's, and a missing template is reported for the first page in path order.
TEST_F(TemplateBuildTest, ManyPagesMadeAtOnceAreTheDirectBuildsAndFailInPathOrder) {
  for (int i = 0; i < 150; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "author/pages/p/%03d.html", i);
    Write(name, "---\ntitle: Page " + std::to_string(i) + "\n---\n<p>Page " + std::to_string(i) +
                    std::string(2000, 'x') + "</p>\n");
  }
  auto m = BuildRelease(*env_, blobs_, Options("shop-b", "Shop B", "Kanto", true));
  ASSERT_THAT(m, IsOk());
  auto direct = BuildRelease(*env_, blobs_, Options("shop-b", "Shop B", "Kanto", false));
  ASSERT_THAT(direct, IsOk());
  TempDir partner_dir;
  BlobStore partner_blobs(*env_, partner_dir.Sub("blobs"));
  size_t templates = 0;
  for (const auto& [path, e] : m->files) {
    templates += e.vars ? 1 : 0;
    ASSERT_THAT(partner_blobs.PutExpected(e.hash, blobs_.Get(e.hash).value()), IsOk());
  }
  ASSERT_GE(templates, 150u);
  auto expanded = ExpandRelease(*m, partner_blobs);
  ASSERT_THAT(expanded, IsOk());
  for (const auto& [path, e] : direct->files) {
    const FileEntry& made = expanded->files.at(path);
    EXPECT_EQ(made.hash, e.hash) << path;
    EXPECT_EQ(made.gzip, e.gzip) << path;
    EXPECT_TRUE(partner_blobs.Has(made.hash)) << path;
    if (made.gzip) {
      EXPECT_TRUE(partner_blobs.Has(made.gzip->hash)) << path;
    }
  }
  EXPECT_EQ(MainForm(*expanded), *m);
  // Two templates gone: the first in path order is named, whichever thread met which first.
  ASSERT_THAT(partner_blobs.Remove(m->files.at("/p/140.html").hash), IsOk());
  ASSERT_THAT(partner_blobs.Remove(m->files.at("/p/100.html").hash), IsOk());
  for (int run = 0; run < 3; ++run) {
    EXPECT_THAT(ExpandRelease(*m, partner_blobs),
                StatusIs(StatusCode::kNotFound, HasSubstr("/p/100.html")));
  }
  // The pages are stored together (BlobBatch): neither the builds nor the failed expansions left
  // a temporary file behind.
  for (const std::string& blobs_dir : {blobs_.dir(), partner_blobs.dir()}) {
    auto shards = env_->ListDir(blobs_dir);
    ASSERT_THAT(shards, IsOk());
    for (const FileInfo& shard : *shards) {
      auto files = env_->ListDir(blobs_dir + "/" + shard.name);
      ASSERT_THAT(files, IsOk());
      for (const FileInfo& f : *files) EXPECT_FALSE(f.name.ends_with(".tmp")) << f.name;
    }
  }
}

TEST_F(TemplateBuildTest, ARunRendersEachTemplateOnceForAllPartners) {
  SourceCache cache;
  auto first = BuildReleaseIncremental(*env_, blobs_, Options("shop-b", "Shop B", "Kanto", true),
                                       {}, &cache);
  ASSERT_THAT(first, IsOk());
  // Every rendered page (5) is rendered with markers once.
  EXPECT_EQ(first->templates_rendered, 5u);
  auto second = BuildReleaseIncremental(
      *env_, blobs_, Options("shop-c", "Tea & <Co> 'C' \"x\"", "Kansai", true), {}, &cache);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->templates_rendered, 0u);
  // What the shared cache gave is what a build of its own gives.
  auto alone =
      BuildRelease(*env_, blobs_, Options("shop-c", "Tea & <Co> 'C' \"x\"", "Kansai", true));
  ASSERT_THAT(alone, IsOk());
  EXPECT_EQ(second->manifest, *alone);
  // A template the cache names but the blob store lost is rendered again.
  ASSERT_THAT(blobs_.Remove(first->manifest.files.at("/news.html").hash), IsOk());
  auto third = BuildReleaseIncremental(*env_, blobs_, Options("shop-d", "D", "", true), {}, &cache);
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(third->templates_rendered, 1u);
  EXPECT_TRUE(blobs_.Has(third->manifest.files.at("/news.html").hash));
  // A new run renders again (a source may have changed).
  cache.NewRun();
  auto fourth =
      BuildReleaseIncremental(*env_, blobs_, Options("shop-e", "E", "X", true), {}, &cache);
  ASSERT_THAT(fourth, IsOk());
  EXPECT_EQ(fourth->templates_rendered, 5u);
}

TEST(TemplateReleaseTest, VariablesAreSignedInTheHashAndTravelInDeltas) {
  ReleaseManifest base;
  base.site = "shop-b";
  base.area = Area::kTieup;
  base.version = 1;
  base.created = 10;
  FileEntry page;
  page.hash = std::string(64, 'a');
  page.length = 10;
  page.content_type = "text/html; charset=utf-8";
  page.vars = true;
  base.files["/a.html"] = page;
  base.variables = {{"partner.name", "B"}};
  ASSERT_THAT(base.Validate(), IsOk());
  ReleaseManifest next = base;
  next.version = 2;
  next.variables["partner.name"] = "B2";
  EXPECT_NE(next.Hash(), base.Hash());
  const ReleaseDelta delta = MakeDelta(base, next);
  EXPECT_TRUE(delta.changes.empty());
  auto parsed = ReleaseDelta::ParseCanonical(delta.Encode());
  ASSERT_THAT(parsed, IsOk());
  auto applied = ApplyDelta(base, *parsed);
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(*applied, next);
  // A delta whose variables were changed in transit gives another hash: refused.
  ReleaseDelta forged = *parsed;
  forged.variables["partner.name"] = "Evil";
  EXPECT_THAT(ApplyDelta(base, forged), StatusIs(StatusCode::kDataLoss));
}

TEST(TemplateReleaseTest, ParseRefusesMalformedTemplateFields) {
  ReleaseManifest m;
  m.site = "shop-b";
  m.area = Area::kTieup;
  m.version = 1;
  FileEntry page;
  page.hash = std::string(64, 'a');
  page.content_type = "text/html";
  page.vars = true;
  m.files["/a.html"] = page;
  m.variables = {{"partner.name", "B"}};
  const std::string good = m.Encode();
  ASSERT_THAT(ReleaseManifest::ParseCanonical(good), IsOk());
  auto with = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    return ReleaseManifest::Parse(s);
  };
  EXPECT_THAT(with("\"vars\":true", "\"vars\":false"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("vars must be true")));
  EXPECT_THAT(with("\"vars\":true", "\"vars\":true,\"gzip\":{\"hash\":\"" + std::string(64, 'b') +
                                        "\",\"length\":1}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("template")));
  EXPECT_THAT(with("{\"partner.name\":\"B\"}", "{}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("variables is empty")));
  EXPECT_THAT(with("{\"partner.name\":\"B\"}", "{\"bad name\":\"B\"}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bad variable name")));
  EXPECT_THAT(with("{\"partner.name\":\"B\"}", "{\"partner.name\":1}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("must be a string")));
}

}  // namespace
}  // namespace tieup::content

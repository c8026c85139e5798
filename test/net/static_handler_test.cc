#include "net/static_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/encoding.h"
#include "net_test_util.h"
#include "test_support.h"

namespace tieup {
namespace {

using nettest::MapSite;
using nettest::RawResponse;
using nettest::TestConnection;
using testing::FakeClockEnv;
using ::testing::HasSubstr;
using testing::IsOk;

constexpr int64_t kModified = 1'790'000'000;

class StaticPageHandlerTest : public ::testing::Test {
 protected:
  StaticPageHandlerTest() {
    site_ = std::make_shared<MapSite>();
    site_->Add("/index.html", "<h1>home</h1>", "text/html; charset=utf-8", "\"h1\"", kModified,
               /*gzip=*/true);
    site_->Add("/style.css", "body{}", "text/css", "\"c1\"", kModified);
    site_->Add("/blob", "raw", "", "", 0);
    StaticPage& dir = site_->Add("/docs", "", "text/html");
    dir.redirect_to = "/docs/";
    dir.body.reset();
    handler_ = std::make_shared<StaticPageHandler>([this] { return current_; });
    current_ = site_;
  }

  HttpResponse Get(std::string_view path,
                   std::vector<std::pair<std::string, std::string>> headers = {},
                   std::string_view method = "GET") {
    HttpRequest req(method, path);
    for (auto& [n, v] : headers) req.AddHeader(n, v);
    return handler_->Serve(req);
  }

  std::string Header(const HttpResponse& r, std::string_view name) {
    return std::string(r.FindHeader(name).value_or("<absent>"));
  }

  std::shared_ptr<MapSite> site_;
  std::shared_ptr<const StaticSite> current_;
  std::shared_ptr<StaticPageHandler> handler_;
};

TEST_F(StaticPageHandlerTest, ServesAPageWithItsHeaders) {
  HttpResponse r = Get("/style.css");
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.body(), "body{}");
  EXPECT_EQ(Header(r, "Content-Type"), "text/css");
  EXPECT_EQ(Header(r, "ETag"), "\"c1\"");
  EXPECT_EQ(Header(r, "Last-Modified"), FormatHttpDate(kModified));
  EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(r, "Vary"), "<absent>");  // no gzip variant
  EXPECT_EQ(r.area, "tieup");
}

TEST_F(StaticPageHandlerTest, TheBodyIsSharedNotCopied) {
  HttpResponse r = Get("/index.html");
  EXPECT_EQ(r.body().data(), site_->pages["/index.html"].body->data());
}

TEST_F(StaticPageHandlerTest, MissingContentTypeIsOctetStreamAndNoValidators) {
  HttpResponse r = Get("/blob");
  EXPECT_EQ(Header(r, "Content-Type"), "application/octet-stream");
  EXPECT_EQ(Header(r, "ETag"), "<absent>");
  EXPECT_EQ(Header(r, "Last-Modified"), "<absent>");
}

TEST_F(StaticPageHandlerTest, IfNoneMatchGives304) {
  for (std::string inm :
       {"\"c1\"", "\"x\", \"c1\"", "\"x\",\"c1\" ", "*", "W/\"c1\"", " \"a\" , W/\"c1\""}) {
    HttpResponse r = Get("/style.css", {{"If-None-Match", inm}});
    EXPECT_EQ(r.status(), 304) << inm;
    EXPECT_EQ(r.body(), "") << inm;
    EXPECT_EQ(Header(r, "ETag"), "\"c1\"") << inm;
    EXPECT_EQ(Header(r, "Content-Type"), "<absent>") << inm;
  }
  for (std::string inm : {"\"c2\"", "\"C1\"", "c1", "\"c1-gzip\"", ""}) {
    EXPECT_EQ(Get("/style.css", {{"If-None-Match", inm}}).status(), 200) << inm;
  }
}

TEST_F(StaticPageHandlerTest, IfModifiedSinceGives304UnlessIfNoneMatchIsPresent) {
  EXPECT_EQ(Get("/style.css", {{"If-Modified-Since", FormatHttpDate(kModified)}}).status(), 304);
  EXPECT_EQ(Get("/style.css", {{"If-Modified-Since", FormatHttpDate(kModified + 60)}}).status(),
            304);
  EXPECT_EQ(Get("/style.css", {{"If-Modified-Since", FormatHttpDate(kModified - 1)}}).status(),
            200);
  EXPECT_EQ(Get("/style.css", {{"If-Modified-Since", "yesterday"}}).status(), 200);
  // If-None-Match wins, even when the date alone would give 304.
  EXPECT_EQ(Get("/style.css",
                {{"If-None-Match", "\"other\""}, {"If-Modified-Since", FormatHttpDate(kModified)}})
                .status(),
            200);
  // A page without Last-Modified ignores the date.
  EXPECT_EQ(Get("/blob", {{"If-Modified-Since", FormatHttpDate(kModified)}}).status(), 200);
}

TEST_F(StaticPageHandlerTest, GzipIsServedWhenAccepted) {
  for (std::string ae : {"gzip", "gzip, deflate, br", "deflate, gzip;q=0.8", "x-gzip", "*", "GZIP",
                         "identity;q=0.5, gzip", "gzip;q=1.0"}) {
    HttpResponse r = Get("/index.html", {{"Accept-Encoding", ae}});
    EXPECT_EQ(r.body(), "GZ:<h1>home</h1>") << ae;
    EXPECT_EQ(Header(r, "Content-Encoding"), "gzip") << ae;
    EXPECT_EQ(Header(r, "Vary"), "Accept-Encoding") << ae;
    EXPECT_EQ(Header(r, "ETag"), "\"h1-gzip\"") << ae;
    EXPECT_EQ(Header(r, "Content-Type"), "text/html; charset=utf-8") << ae;
  }
}

TEST_F(StaticPageHandlerTest, IdentityIsServedWhenGzipIsRefusedOrNotAsked) {
  for (std::string ae : {"gzip;q=0", "gzip; q=0", "identity", "deflate, br", "", "*;q=0",
                         "gzip;q=0.5, identity", "gzip;q=bogus", "*, gzip;q=0"}) {
    HttpResponse r = Get("/index.html", {{"Accept-Encoding", ae}});
    EXPECT_EQ(r.body(), "<h1>home</h1>") << ae;
    EXPECT_EQ(Header(r, "Content-Encoding"), "<absent>") << ae;
    EXPECT_EQ(Header(r, "Vary"), "Accept-Encoding") << ae;
    EXPECT_EQ(Header(r, "ETag"), "\"h1\"") << ae;
  }
  HttpResponse none = Get("/index.html");
  EXPECT_EQ(none.body(), "<h1>home</h1>");
  EXPECT_EQ(Header(none, "Vary"), "Accept-Encoding");
  // A page without a gzip variant is sent as is.
  HttpResponse css = Get("/style.css", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(css.body(), "body{}");
  EXPECT_EQ(Header(css, "Content-Encoding"), "<absent>");
}

TEST_F(StaticPageHandlerTest, TheGzipVariantHasItsOwnValidator) {
  HttpResponse r =
      Get("/index.html", {{"Accept-Encoding", "gzip"}, {"If-None-Match", "\"h1-gzip\""}});
  EXPECT_EQ(r.status(), 304);
  EXPECT_EQ(Header(r, "Vary"), "Accept-Encoding");
  EXPECT_EQ(Header(r, "Content-Encoding"), "<absent>");
  // The identity tag does not validate the gzip representation, nor the reverse.
  EXPECT_EQ(Get("/index.html", {{"Accept-Encoding", "gzip"}, {"If-None-Match", "\"h1\""}}).status(),
            200);
  EXPECT_EQ(Get("/index.html", {{"If-None-Match", "\"h1-gzip\""}}).status(), 200);
  EXPECT_EQ(Get("/index.html", {{"If-None-Match", "\"h1\""}}).status(), 304);
}

TEST_F(StaticPageHandlerTest, NotFoundUsesTheSitesPage) {
  HttpResponse plain = Get("/nope");
  EXPECT_EQ(plain.status(), 404);
  EXPECT_THAT(std::string(plain.body()), HasSubstr("no page at /nope"));
  site_->not_found = StaticPage{};
  site_->not_found->area = "original";
  site_->not_found->content_type = "text/html";
  site_->not_found->body = std::make_shared<const std::string>("<p>lost</p>");
  HttpResponse r = Get("/nope");
  EXPECT_EQ(r.status(), 404);
  EXPECT_EQ(r.body(), "<p>lost</p>");
  EXPECT_EQ(Header(r, "Content-Type"), "text/html");
  EXPECT_EQ(r.area, "original");
  // Validators do not turn a 404 into a 304.
  EXPECT_EQ(Get("/nope", {{"If-None-Match", "*"}}).status(), 404);
}

TEST_F(StaticPageHandlerTest, RedirectKeepsTheQuery) {
  HttpResponse r = Get("/docs?x=1&y=<2>");
  EXPECT_EQ(r.status(), 301);
  EXPECT_EQ(Header(r, "Location"), "/docs/?x=1&y=<2>");
  EXPECT_THAT(std::string(r.body()), HasSubstr("&lt;2&gt;"));
  EXPECT_EQ(Header(Get("/docs"), "Location"), "/docs/");
}

TEST_F(StaticPageHandlerTest, OtherMethodsAre405) {
  HttpResponse r = Get("/index.html", {}, "POST");
  EXPECT_EQ(r.status(), 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, HEAD");
  EXPECT_EQ(handler_->AllowedMethods(), "GET, HEAD");
}

TEST_F(StaticPageHandlerTest, NoActiveSiteIs503) {
  current_ = nullptr;
  HttpResponse r = Get("/index.html");
  EXPECT_EQ(r.status(), 503);
  EXPECT_THAT(std::string(r.body()), HasSubstr("no active release"));
}

TEST_F(StaticPageHandlerTest, SwappingTheSiteTakesEffectOnTheNextRequest) {
  auto next = std::make_shared<MapSite>();
  next->Add("/index.html", "v2", "text/html", "\"h2\"", kModified + 10);
  EXPECT_EQ(Get("/index.html").body(), "<h1>home</h1>");
  current_ = next;
  EXPECT_EQ(Get("/index.html").body(), "v2");
  EXPECT_EQ(Get("/style.css").status(), 404);
}

TEST(IfNoneMatchTest, WeakComparison) {
  EXPECT_TRUE(IfNoneMatchMatches("\"a\"", "\"a\""));
  EXPECT_TRUE(IfNoneMatchMatches("W/\"a\"", "\"a\""));
  EXPECT_TRUE(IfNoneMatchMatches("\"a\"", "W/\"a\""));
  EXPECT_TRUE(IfNoneMatchMatches("\"b\", \"a\"", "\"a\""));
  EXPECT_TRUE(IfNoneMatchMatches(" * ", "\"a\""));
  EXPECT_TRUE(IfNoneMatchMatches("*", ""));
  EXPECT_FALSE(IfNoneMatchMatches("\"a\"", ""));
  EXPECT_FALSE(IfNoneMatchMatches("\"ab\"", "\"a\""));
  EXPECT_FALSE(IfNoneMatchMatches("", "\"a\""));
}

TEST(AcceptEncodingTest, QualityValues) {
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("gzip", "gzip"), 1.0);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("gzip;q=0.25", "gzip"), 0.25);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("gzip;q=0", "gzip"), 0.0);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("br", "gzip"), 0.0);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("br", "identity"), 1.0);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("*;q=0.5", "gzip"), 0.5);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("*;q=0", "identity"), 0.0);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("identity;q=0", "identity"), 0.0);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("x-gzip;q=0.7", "gzip"), 0.7);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("gzip;q=2", "gzip"), 0.0);
  EXPECT_DOUBLE_EQ(AcceptEncodingQuality("gzip;q=0.1234", "gzip"), 0.0);
}

// A site that maps a path onto a file system the way a careless implementation would:
// "/srv/site" + path, resolved as the kernel resolves it (".." climbs, even out of the site).
// It relies on the server's path normalization for its safety: exactly what these tests check.
class NaiveFileSite : public StaticSite {
 public:
  NaiveFileSite() {
    files_.Add("/srv/site/index.html", "<h1>home</h1>", "text/html; charset=utf-8", "\"h1\"",
               kModified, true);
    files_.Add("/srv/site/a/b.txt", "bee", "text/plain", "\"b\"", kModified);
    files_.Add("/srv/secret.txt", "TOP SECRET", "text/plain");
    files_.Add("/srv/site/..\\secret.txt", "TOP SECRET", "text/plain");  // if '\' were a separator
  }
  const StaticPage* Find(std::string_view path) const override {
    std::string full = "/srv/site" + std::string(path);
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= full.size()) {
      size_t end = full.find('/', start);
      if (end == std::string::npos) end = full.size();
      std::string seg = full.substr(start, end - start);
      if (seg == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!seg.empty() && seg != ".") {
        parts.push_back(seg);
      }
      start = end + 1;
    }
    std::string resolved;
    for (const std::string& p : parts) resolved += "/" + p;
    return files_.Find(resolved);
  }
  const StaticPage* NotFoundPage() const override { return nullptr; }

 private:
  MapSite files_;
};

// Over the wire, including HEAD and traversal attempts against the naive site.
class StaticSiteOverHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto site = std::make_shared<NaiveFileSite>();
    // The naive site really does leak when handed an unnormalized path.
    ASSERT_NE(site->Find("/../secret.txt"), nullptr);
    HttpServerOptions o;
    o.threads = 1;
    server_ = std::make_unique<HttpServer>(
        env_, o, std::make_shared<StaticPageHandler>([site] { return site; }));
    ASSERT_THAT(server_->Start(), IsOk());
  }

  RawResponse Send(std::string_view raw, bool head = false) {
    TestConnection c(server_->port());
    EXPECT_TRUE(c.Send(raw));
    RawResponse r;
    EXPECT_FALSE(c.Read(&r, head)) << raw;
    return r;
  }

  FakeClockEnv env_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(StaticSiteOverHttpTest, GetAndHeadAgree) {
  RawResponse get = Send("GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n");
  RawResponse head = Send("HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n", true);
  EXPECT_EQ(get.result_int(), 200);
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(get.body(), "<h1>home</h1>");
  EXPECT_EQ(head.body(), "");
  for (auto name : {"Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control",
                    "Vary", "X-Content-Type-Options"}) {
    EXPECT_EQ(get[name], head[name]) << name;
    EXPECT_NE(get[name], "") << name;
  }
}

TEST_F(StaticSiteOverHttpTest, ConditionalAndGzipOverTheWire) {
  RawResponse r = Send(
      "GET /index.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nIf-None-Match: "
      "\"h1-gzip\"\r\n\r\n");
  EXPECT_EQ(r.result_int(), 304);
  EXPECT_EQ(r.body(), "");
  r = Send("GET /index.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, br\r\n\r\n");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r["Content-Encoding"], "gzip");
  EXPECT_EQ(r.body(), "GZ:<h1>home</h1>");
  r = Send("POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r["Allow"], "GET, HEAD");
}

TEST_F(StaticSiteOverHttpTest, TraversalInEveryEncodingNeverReachesAFileOutsideTheSite) {
  for (std::string_view target : {"/../secret.txt",
                                  "/a/../../secret.txt",
                                  "/%2e%2e/secret.txt",
                                  "/%2E%2e/secret.txt",
                                  "/.%2e/secret.txt",
                                  "/%2e./secret.txt",
                                  "/..%2fsecret.txt",
                                  "/..%2Fsecret.txt",
                                  "/..\\secret.txt",
                                  "/..%5csecret.txt",
                                  "/%5c..%5csecret.txt",
                                  "/%c0%ae%c0%ae/secret.txt",
                                  "/%c0%ae%c0%ae%c0%afsecret.txt",
                                  "/%e0%80%ae%e0%80%ae/secret.txt",
                                  "/%252e%252e/secret.txt",
                                  "/%252e%252e%252fsecret.txt",
                                  "//../secret.txt",
                                  "/./../secret.txt",
                                  "/a/b.txt/../../../secret.txt",
                                  "/../secret.txt%00",
                                  "/index.html%00../secret.txt",
                                  "http://t/../secret.txt",
                                  "/a/%2e%2e/%2e%2e/secret.txt"}) {
    RawResponse r = Send("GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_TRUE(r.result_int() == 400 || r.result_int() == 404)
        << target << " -> " << r.result_int();
    EXPECT_THAT(r.body(), ::testing::Not(HasSubstr("TOP SECRET"))) << target;
  }
  // Traversal that stays inside the site is resolved, not refused.
  RawResponse inside = Send("GET /a/./x/../b.txt HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(inside.body(), "bee");
}

TEST_F(StaticSiteOverHttpTest, InvalidUtf8PathsAre400) {
  for (std::string_view target : {"/%ff.html", "/%ed%a0%80", "/caf%c3", "/%c0%80"}) {
    RawResponse r = Send("GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.result_int(), 400) << target;
    EXPECT_THAT(r.body(), HasSubstr("UTF-8")) << target;
  }
}

}  // namespace
}  // namespace tieup

// Several main sites on one public port (site/main_areas.h, issue 15 item 7), through real
// PageServers over loopback HTTP from real content stores: a further main's pages mounted by host
// name and another's by path prefix are served from their own stores, everything else from the
// partner's; a prefix area serves main's paths under the prefix, its links, redirects and cookies
// moved there; each request's access record goes to the stream of the store that served it; and
// a release with a path in another main's area is refused by the store, naming both.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <variant>

#include "base/log.h"
#include "ledger/access_log_writer.h"
#include "ledger/log.h"
#include "ledger/records.h"
#include "net/http_client.h"
#include "site/config.h"
#include "site/main_areas.h"
#include "site/page_server.h"
#include "site/site_content.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

// One site: its content, its ledger and its page server.
struct Served {
  std::unique_ptr<SiteContent> content;
  std::unique_ptr<ledger::Log> log;
  std::unique_ptr<ledger::AccessLogWriter> writer;
  std::unique_ptr<PageServer> server;
};

class PageMountsTest : public ::testing::Test {
 protected:
  // A site whose tie-up release holds `pages`, each an HTML page naming the site and the path,
  // or the body and type `files` give.
  Served Make(const std::string& name, const std::vector<std::string>& pages,
              const std::map<std::string, std::pair<std::string, std::string>>& files = {}) {
    Served s;
    const std::string dir = dir_.Sub(name);
    EXPECT_THAT(CreateDirs(*env_, dir), IsOk());
    SiteContentOptions o;
    o.site_id = "shop-a";
    auto content = SiteContent::Open(*env_, dir, o);
    EXPECT_THAT(content, IsOk());
    s.content = std::move(*content);
    EXPECT_THAT(s.content->Mutate([&](content::ContentStore& store) -> Status {
      content::ReleaseManifest m;
      m.site = "shop-a";
      m.area = content::Area::kTieup;
      m.version = 1;
      m.created = 1790000000;
      auto add = [&](const std::string& path, const std::string& body,
                     const std::string& type) -> Status {
        ASSIGN_OR_RETURN(std::string hash, store.blobs().Put(body));
        content::FileEntry e;
        e.hash = hash;
        e.length = body.size();
        e.content_type = type;
        m.files[path] = e;
        return Status::Ok();
      };
      for (const std::string& path : pages) {
        RETURN_IF_ERROR(add(path, "<p>" + name + " " + path + "</p>", "text/html; charset=utf-8"));
      }
      for (const auto& [path, file] : files) RETURN_IF_ERROR(add(path, file.first, file.second));
      RETURN_IF_ERROR(store.Stage(m));
      return store.Activate(content::Area::kTieup, 1);
    }),
                IsOk());
    auto log = ledger::Log::Open(*env_, dir + "/ledger");
    EXPECT_THAT(log, IsOk());
    s.log = std::move(*log);
    s.writer = std::make_unique<ledger::AccessLogWriter>(*env_, *s.log, std::nullopt);
    SiteConfig config;
    config.id = "shop-a";
    config.public_address = {"127.0.0.1", 0};
    s.server =
        std::make_unique<PageServer>(*env_, config, *s.content, s.writer.get(), NewNullLogger());
    return s;
  }

  HttpResponse Get(int port, const std::string& host, const std::string& target,
                   const std::string& cookie = "") {
    HttpClient client("127.0.0.1", port);
    HttpRequest request("GET", target);
    request.AddHeader("Host", host);
    if (!cookie.empty()) request.AddHeader("Cookie", cookie);
    auto r = client.Fetch(request);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? std::move(*r) : HttpResponse(0);
  }

  // The paths of the access records of `s`.
  static std::vector<std::string> Paths(Served& s) {
    EXPECT_THAT(s.writer->Flush(), IsOk());
    std::vector<std::string> out;
    for (uint64_t i = 0; i < s.log->size(); ++i) {
      auto record = ledger::ParseRecord(*s.log->Read(i));
      if (record.ok() && std::holds_alternative<ledger::AccessRecord>(*record)) {
        out.push_back(std::get<ledger::AccessRecord>(*record).path);
      }
    }
    return out;
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
};

TEST_F(PageMountsTest, EachAreaIsServedFromItsOwnStoreAndRecordedInItsOwnStream) {
  Served partner = Make("partner", {"/index.html", "/tea.html"});
  Served books = Make("books", {"/index.html", "/tea.html"});
  Served kyoto = Make("kyoto", {"/index.html"});  // main's paths, served under /kyoto/
  ASSERT_THAT(books.server->StartWithoutListening(), IsOk());
  ASSERT_THAT(kyoto.server->StartWithoutListening(), IsOk());
  ASSERT_THAT(
      partner.server->Mount({"", "books.example", books.server->handler(), books.writer.get()}),
      IsOk());
  ASSERT_THAT(partner.server->Mount({"/kyoto/", "", kyoto.server->handler(), kyoto.writer.get()}),
              IsOk());
  // Overlapping mounts are refused.
  EXPECT_EQ(partner.server->Mount({"/kyoto/temples/", "", kyoto.server->handler(), nullptr}).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(partner.server->Mount({"", "books.example", kyoto.server->handler(), nullptr}).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(partner.server->Mount({"/x/", "x.example", kyoto.server->handler(), nullptr}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_THAT(partner.server->Start(), IsOk());
  const int port = partner.server->port();

  EXPECT_EQ(Get(port, "127.0.0.1", "/tea.html").body(), "<p>partner /tea.html</p>");
  EXPECT_EQ(Get(port, "books.example", "/tea.html").body(), "<p>books /tea.html</p>");
  EXPECT_EQ(Get(port, "BOOKS.example.:8080", "/index.html").body(), "<p>books /index.html</p>");
  EXPECT_THAT(std::string(Get(port, "127.0.0.1", "/kyoto/index.html").body()),
              HasSubstr("<p>kyoto /index.html</p>"));
  EXPECT_EQ(Get(port, "127.0.0.1", "/kyoto/none.html").status(), 404);  // kyoto's answer
  EXPECT_EQ(Get(port, "books.example.org", "/tea.html").body(), "<p>partner /tea.html</p>");
  EXPECT_EQ(Get(port, "books.example", "/kyoto/index.html").status(), 404);  // host first

  partner.server->Stop();
  EXPECT_THAT(Paths(partner), UnorderedElementsAre("/tea.html", "/tea.html"));
  // With the path as requested (in any order: a record is written as its response ends).
  EXPECT_THAT(Paths(books), UnorderedElementsAre("/tea.html", "/index.html", "/kyoto/index.html"));
  EXPECT_THAT(Paths(kyoto), UnorderedElementsAre("/kyoto/index.html", "/kyoto/none.html"));
  books.server->Stop();
  kyoto.server->Stop();
}

// Stands in for a further main's shop in its prefix area: answers with what it was asked, a
// redirect to its cart and a cookie for its whole site, as the shop does.
class EchoShop final : public HttpHandler {
 public:
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    HttpResponse r =
        HttpResponse::Text(303, std::string(request.path()) + " " + std::string(request.target()));
    r.AddHeader("Location", "/shop/cart");
    r.AddHeader("Set-Cookie", "cart=7; Path=/; HttpOnly; SameSite=Lax");
    r.AddHeader("Set-Cookie", "seen=1");
    responder.Respond(std::move(r));
  }
  std::string_view AllowedMethods() const override { return "GET, POST"; }
};

TEST_F(PageMountsTest, APrefixAreaServesMainsPathsUnderThePrefix) {
  Served partner = Make("partner", {"/index.html", "/tea.html"});
  const std::string css = "body { background: url(/assets/bg.png) }";
  Served kyoto = Make(
      "kyoto", {},
      {{"/index.html",
        {"<!DOCTYPE html><html><head><link rel=stylesheet href=\"/assets/site.css\"></head>"
         "<body><a href=\"/tea.html?cup=2#top\">Tea</a> <img src=\"img/a.png\" "
         "srcset=\"/img/a.png 1x, /img/b.png 2x\"> <a href=\"https://other.example/x\">Away</a> "
         "<form action=\"/shop/cart\" method=post></form> <p>Kyōto</p></body></html>",
         "text/html; charset=utf-8"}},
       {"/guide/temples.html",
        {"<p><a href=\"../tea.html\">up</a> <a href=\"kinkaku.html\">next</a></p>", "text/html"}},
       {"/assets/site.css", {css, "text/css"}}});
  ASSERT_THAT(kyoto.server->AddRoute("/shop/", "GET, POST", std::make_shared<EchoShop>()), IsOk());
  ASSERT_THAT(kyoto.server->StartWithoutListening(), IsOk());
  ASSERT_THAT(partner.server->Mount({"/kyoto/", "", kyoto.server->handler(), kyoto.writer.get()}),
              IsOk());
  ASSERT_THAT(partner.server->Start(), IsOk());
  const int port = partner.server->port();

  // Main's "/index.html" is the partner's "/kyoto/index.html", its links moved with it.
  HttpResponse home = Get(port, "127.0.0.1", "/kyoto/index.html");
  ASSERT_EQ(home.status(), 200);
  const std::string page(home.body());
  EXPECT_THAT(page, HasSubstr("href=\"/kyoto/assets/site.css\""));
  EXPECT_THAT(page, HasSubstr("href=\"/kyoto/tea.html?cup=2#top\""));
  EXPECT_THAT(page, HasSubstr("src=\"/kyoto/img/a.png\""));
  EXPECT_THAT(page, HasSubstr("srcset=\"/kyoto/img/a.png 1x, /kyoto/img/b.png 2x\""));
  EXPECT_THAT(page, HasSubstr("href=\"https://other.example/x\""));
  EXPECT_THAT(page, HasSubstr("action=\"/kyoto/shop/cart\""));
  EXPECT_THAT(page, HasSubstr("<p>Kyōto</p>"));
  EXPECT_EQ(home.FindHeader("Content-Type").value_or(""), "text/html; charset=utf-8");
  EXPECT_EQ(Get(port, "127.0.0.1", "/kyoto/").body(), home.body());
  // Relative links resolve against main's path of the page.
  const std::string temples(Get(port, "127.0.0.1", "/kyoto/guide/temples.html").body());
  EXPECT_THAT(temples, HasSubstr("href=\"/kyoto/tea.html\""));
  EXPECT_THAT(temples, HasSubstr("href=\"/kyoto/guide/kinkaku.html\""));
  // Other files as they are, byte for byte (a style sheet's url() is not moved).
  HttpResponse sheet = Get(port, "127.0.0.1", "/kyoto/assets/site.css");
  EXPECT_EQ(sheet.status(), 200);
  EXPECT_EQ(sheet.body(), css);
  // The area's home without its slash is redirected to it, with the query.
  HttpResponse bare = Get(port, "127.0.0.1", "/kyoto?lang=ja");
  EXPECT_EQ(bare.status(), 308);
  EXPECT_EQ(bare.FindHeader("Location").value_or(""), "/kyoto/?lang=ja");
  // The partner's own "/tea.html" is not main's.
  EXPECT_EQ(Get(port, "127.0.0.1", "/tea.html").body(), "<p>partner /tea.html</p>");
  EXPECT_EQ(Get(port, "127.0.0.1", "/kyoto/none.html").status(), 404);

  // A route of main's (its shop) gets main's path and target; its redirect and cookies come back
  // under the prefix, so its cart is not the first main's.
  HttpResponse shop = Get(port, "127.0.0.1", "/kyoto/shop/add%20one?id=5");
  EXPECT_EQ(shop.status(), 303);
  EXPECT_EQ(shop.body(), "/shop/add one /shop/add%20one?id=5");
  EXPECT_EQ(shop.FindHeader("Location").value_or(""), "/kyoto/shop/cart");
  std::vector<std::string> cookies;
  for (const HttpHeaderView& h : shop.Headers()) {
    if (EqualsIgnoreCase(h.name, "Set-Cookie")) cookies.emplace_back(h.value);
  }
  EXPECT_THAT(cookies, ElementsAre("cart=7; Path=/kyoto/; HttpOnly; SameSite=Lax", "seen=1"));

  partner.server->Stop();
  EXPECT_THAT(Paths(partner), UnorderedElementsAre("/tea.html"));
  EXPECT_THAT(Paths(kyoto),
              UnorderedElementsAre("/kyoto/index.html", "/kyoto/", "/kyoto/guide/temples.html",
                                   "/kyoto/assets/site.css", "/kyoto", "/kyoto/none.html",
                                   "/kyoto/shop/add one"));
  kyoto.server->Stop();
}

TEST_F(PageMountsTest, AMountIsRefusedOnceTheServerRuns) {
  Served partner = Make("partner", {"/index.html"});
  Served books = Make("books", {"/index.html"});
  ASSERT_THAT(partner.server->Start(), IsOk());
  EXPECT_EQ(partner.server->Mount({"", "books.example", books.server->handler(), nullptr}).code(),
            StatusCode::kFailedPrecondition);
}

// The rules a store enforces come from the site's directories (LoadTieupAreaRules).
class AreaRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SiteConfig c;
    c.role = SiteRole::kPartner;
    c.id = "shop-a";
    c.main_sync_url = "https://main-a.example:9443";
    ASSERT_THAT(CreateDirs(*env_, site_), IsOk());
    ASSERT_THAT(SaveSiteConfig(*env_, site_, c), IsOk());
    c.main_sync_url = "https://main-c.example:9443";
    c.area_prefix = "/kyoto/";
    ASSERT_THAT(CreateDirs(*env_, site_ + "/mains/kyoto"), IsOk());
    ASSERT_THAT(SaveSiteConfig(*env_, site_ + "/mains/kyoto", c), IsOk());
    c.main_sync_url = "https://main-b.example:9443";
    c.area_prefix.clear();
    c.area_host = "books.example";
    ASSERT_THAT(CreateDirs(*env_, site_ + "/mains/books"), IsOk());
    ASSERT_THAT(SaveSiteConfig(*env_, site_ + "/mains/books", c), IsOk());
  }

  // Stages a release of `area` with `paths` in the store of `dir`; returns what Stage said.
  Status Stage(const std::string& dir, content::Area area, const std::vector<std::string>& paths) {
    SiteContentOptions o;
    o.site_id = "shop-a";
    o.serve = false;
    auto content = SiteContent::Open(*env_, dir, o);
    if (!content.ok()) return content.status();
    return (*content)->Mutate([&](content::ContentStore& store) -> Status {
      content::ReleaseManifest m;
      m.site = "shop-a";
      m.area = area;
      m.version = 1;
      m.created = 1790000000;
      for (const std::string& path : paths) {
        ASSIGN_OR_RETURN(std::string hash, store.blobs().Put(path));
        content::FileEntry e;
        e.hash = hash;
        e.length = path.size();
        e.content_type = "text/html";
        m.files[path] = e;
      }
      return store.Stage(m);
    });
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::string site_ = dir_.Sub("shop-a");
};

TEST_F(AreaRulesTest, APathInAnotherMainsAreaIsRefusedNamingBoth) {
  auto mains = LoadFurtherMains(*env_, site_);
  ASSERT_THAT(mains, IsOk());
  ASSERT_EQ(mains->size(), 2u);
  EXPECT_EQ((*mains)[0].name, "books");
  EXPECT_EQ((*mains)[1].config.area_prefix, "/kyoto/");

  // The first main may not publish under a further main's prefix (a host is no limit).
  Status s = Stage(site_, content::Area::kTieup, {"/index.html", "/kyoto/tea.html"});
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("tie-up release 1 of main at https://main-a.example:9443 has "
                                     "'/kyoto/tea.html', which lies in the tie-up area /kyoto/ of "
                                     "main at https://main-c.example:9443"));
  // Nor the partner's own pages.
  s = Stage(site_, content::Area::kOriginal, {"/kyoto/mine.html"});
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("choose a path outside /kyoto/"));
  EXPECT_THAT(Stage(site_, content::Area::kTieup, {"/index.html", "/kyoto.html", "/books.html"}),
              IsOk());

  // A further main publishes main's paths, whatever its area: a prefix area's are served under
  // the prefix.
  EXPECT_THAT(
      Stage(site_ + "/mains/kyoto", content::Area::kTieup, {"/index.html", "/assets/x.css"}),
      IsOk());
  EXPECT_THAT(Stage(site_ + "/mains/books", content::Area::kTieup, {"/index.html", "/kyoto/a"}),
              IsOk());
}

TEST_F(AreaRulesTest, ANewAreaMustBeFree) {
  EXPECT_EQ(CheckNewTieupArea(*env_, site_, "/kyoto/temples/", "").code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(CheckNewTieupArea(*env_, site_, "/", "").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(CheckNewTieupArea(*env_, site_, "", "books.example").code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(CheckNewTieupArea(*env_, site_, "/a/", "a.example").code(),
            StatusCode::kInvalidArgument);
  EXPECT_THAT(CheckNewTieupArea(*env_, site_, "/nara/", ""), IsOk());
  // A page the site serves under the prefix would be hidden: refused, naming it.
  ASSERT_THAT(Stage(site_, content::Area::kOriginal, {"/nara/deer.html"}), IsOk());
  ASSERT_THAT(
      [&] {
        SiteContentOptions o;
        o.site_id = "shop-a";
        o.serve = false;
        auto content = SiteContent::Open(*env_, site_, o);
        if (!content.ok()) return content.status();
        return (*content)->Mutate([](content::ContentStore& store) {
          return store.Activate(content::Area::kOriginal, 1);
        });
      }(),
      IsOk());
  Status s = CheckNewTieupArea(*env_, site_, "/nara/", "");
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("/nara/deer.html (one of your own pages)"));
  EXPECT_THAT(CheckNewTieupArea(*env_, site_, "", "nara.example"), IsOk());
}

TEST_F(AreaRulesTest, ADirectoryUnderMainsWithoutAnAreaStopsTheSite) {
  SiteConfig c;
  c.role = SiteRole::kPartner;
  c.id = "shop-a";
  ASSERT_THAT(CreateDirs(*env_, site_ + "/mains/stray"), IsOk());
  ASSERT_THAT(SaveSiteConfig(*env_, site_ + "/mains/stray", c), IsOk());
  auto mains = LoadFurtherMains(*env_, site_);
  EXPECT_EQ(mains.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(mains.status().message(), HasSubstr("mains/stray/site.toml' sets no tie-up area"));
}

TEST(FurtherMainNameTest, IsMadeFromTheArea) {
  EXPECT_EQ(FurtherMainNameForArea("/brand2/", ""), "brand2");
  EXPECT_EQ(FurtherMainNameForArea("/tea/kyoto/", ""), "tea-kyoto");
  EXPECT_EQ(FurtherMainNameForArea("", "Tea.Example.com"), "tea-example-com");
}

// A route that names someone itself (as the account pages do after a sign-in).
struct NamingHandler : HttpHandler {
  void Handle(const HttpRequest&, HttpResponder responder) override {
    HttpResponse r = HttpResponse::Text(200, "account\n");
    r.user = "usr_fromhandler";
    responder.Respond(std::move(r));
  }
};

TEST_F(PageMountsTest, TheVisitorDecidesWhoTheAccessRecordsName) {
  Served site = Make("site", {"/index.html"});
  ASSERT_THAT(site.server->AddRoute("/account/", "GET", std::make_shared<NamingHandler>()), IsOk());
  ASSERT_THAT(site.server->SetVisitor("sess",
                                      [](const HttpRequest& r) {
                                        return r.HeaderOr("Cookie").find("sess=ada") !=
                                                       std::string_view::npos
                                                   ? std::string("usr_ada")
                                                   : std::string();
                                      }),
              IsOk());
  ASSERT_THAT(site.server->Start(), IsOk());
  EXPECT_EQ(site.server->SetVisitor("x", [](const HttpRequest&) { return std::string(); }).code(),
            StatusCode::kFailedPrecondition);
  auto get = [&](const std::string& target, const std::string& cookie) {
    return Get(site.server->port(), "shop-a.example", target, cookie).status();
  };
  EXPECT_EQ(get("/index.html", "tieup_cart=1; sess=ada"), 200);  // consented: named
  EXPECT_EQ(get("/index.html", "sess=bob"), 200);                // not: anonymous
  EXPECT_EQ(get("/account/x", "tieup_cart=1"), 200);  // another cookie: the handler's name goes
  EXPECT_EQ(get("/account/x", ""), 200);              // no cookie at all: the handler's stays
  EXPECT_EQ(get("/index.html", ""), 200);
  // A request's record is made after its response is out: a graceful stop has made them all.
  site.server->Stop();
  EXPECT_THAT(site.writer->Flush(), IsOk());
  std::vector<std::string> users;
  for (uint64_t i = 0; i < site.log->size(); ++i) {
    auto record = ledger::ParseRecord(*site.log->Read(i));
    if (record.ok() && std::holds_alternative<ledger::AccessRecord>(*record)) {
      users.push_back(std::get<ledger::AccessRecord>(*record).user_id);
    }
  }
  EXPECT_THAT(users, ElementsAre("usr_ada", "", "", "usr_fromhandler", ""));
}

// A route that signs someone in: it sets the display-name cookie itself.
struct SigningInHandler : HttpHandler {
  void Handle(const HttpRequest&, HttpResponder responder) override {
    HttpResponse r = HttpResponse::Text(200, "welcome\n");
    r.AddHeader("Set-Cookie", "tieup_customer=Ada; Path=/; SameSite=Lax");
    responder.Respond(std::move(r));
  }
};

TEST_F(PageMountsTest, ANameWhoseSessionEndedIsCleared) {
  Served site = Make("site", {"/index.html"});
  ASSERT_THAT(site.server->AddRoute("/account/", "GET", std::make_shared<SigningInHandler>()),
              IsOk());
  ASSERT_THAT(site.server->SetSignedInCheck(
                  [](const HttpRequest& r) {
                    return r.HeaderOr("Cookie").find("sess=live") != std::string_view::npos;
                  },
                  /*https=*/true),
              IsOk());
  ASSERT_THAT(site.server->Start(), IsOk());
  EXPECT_EQ(site.server->SetSignedInCheck([](const HttpRequest&) { return true; }, false).code(),
            StatusCode::kFailedPrecondition);
  // The Set-Cookie headers of a GET with `cookie`.
  auto cookies_set = [&](const std::string& target, const std::string& cookie) {
    HttpResponse r = Get(site.server->port(), "shop-a.example", target, cookie);
    EXPECT_EQ(r.status(), 200);
    std::vector<std::string> out;
    for (const HttpHeaderView& h : r.Headers()) {
      if (EqualsIgnoreCase(h.name, "Set-Cookie")) out.emplace_back(h.value);
    }
    return out;
  };
  const std::string cleared = "tieup_customer=; Path=/; SameSite=Lax; Max-Age=0; Secure";
  // The session ended (or never was): the static page's "Signed in as" goes.
  EXPECT_THAT(cookies_set("/index.html", "tieup_customer=Ada"), ElementsAre(cleared));
  EXPECT_THAT(cookies_set("/index.html", "sess=gone; tieup_customer=Ada"), ElementsAre(cleared));
  // A live session keeps it; no name, nothing to clear; another cookie ending in the name either.
  EXPECT_THAT(cookies_set("/index.html", "sess=live; tieup_customer=Ada"), ElementsAre());
  EXPECT_THAT(cookies_set("/index.html", "sess=gone"), ElementsAre());
  EXPECT_THAT(cookies_set("/index.html", "old_tieup_customer=Ada"), ElementsAre());
  // A sign-in that sets it afresh is left alone.
  EXPECT_THAT(cookies_set("/account/x", "tieup_customer=Old"),
              ElementsAre("tieup_customer=Ada; Path=/; SameSite=Lax"));
  site.server->Stop();
}

}  // namespace
}  // namespace tieup

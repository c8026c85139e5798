// How a partner serves the link entries of its tie-up area (issue 15 item 2), through the real
// PageServer over loopback HTTP, from a real content store: a redirect with the entry's status
// and main's URL (the query carried over), or a page in the tie-up release's layout; HEAD
// alike without a body; main's own site and the original area are never rewritten.
#include "site/link_pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "base/log.h"
#include "content/page_templates.h"
#include "net/http_client.h"
#include "site/config.h"
#include "site/page_server.h"
#include "site/site_content.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

TEST(LinkLocationTest, CarriesTheQueryOverBeforeAFragment) {
  EXPECT_EQ(LinkLocation("https://main.example/tea.html", ""), "https://main.example/tea.html");
  EXPECT_EQ(LinkLocation("https://main.example/tea.html", "q=green%20tea"),
            "https://main.example/tea.html?q=green%20tea");
  EXPECT_EQ(LinkLocation("https://main.example/s?from=partner", "q=1"),
            "https://main.example/s?from=partner&q=1");
  EXPECT_EQ(LinkLocation("https://main.example/tea.html#cups", "q=1"),
            "https://main.example/tea.html?q=1#cups");
}

// Main's public URL, where kind link points: a setting of main's site.toml.
TEST(PublicUrlSettingTest, IsReadCheckedAndWritten) {
  const std::string base = "[site]\nrole = \"main\"\nid = \"main\"\nname = \"Main\"\n";
  auto none = ParseSiteConfig(base, "site.toml");
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->public_url, "");
  auto set = ParseSiteConfig(base + "public_url = \"https://shop.example\"\n", "site.toml");
  ASSERT_THAT(set, IsOk());
  EXPECT_EQ(set->public_url, "https://shop.example");
  EXPECT_THAT(
      ParseSiteConfig(base + "public_url = \"shop.example\"\n", "site.toml"),
      ::tieup::testing::StatusIs(StatusCode::kInvalidArgument, HasSubstr("site.public_url")));
  TempDir dir;
  auto env = NewPosixEnv();
  ASSERT_THAT(SaveSiteConfig(*env, dir.path(), *set), IsOk());
  auto loaded = LoadSiteConfig(*env, dir.path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->public_url, "https://shop.example");
}

class LinkPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SiteContentOptions o;
    o.site_id = "shop-b";
    auto content = SiteContent::Open(*env_, dir_.path(), o);
    ASSERT_THAT(content, IsOk());
    content_ = std::move(*content);
  }

  // Activates a tie-up release with link entries in each mode, a page copied from main and the
  // page shell of main's layout; and an original page of the partner.
  void Publish() {
    ASSERT_THAT(content_->Mutate([&](content::ContentStore& s) -> Status {
      content::ReleaseManifest m;
      m.site = "shop-b";
      m.area = content::Area::kTieup;
      m.version = 1;
      m.created = 1790000000;
      auto put = [&](const std::string& path, const std::string& body, const std::string& type,
                     content::UpdateMethod method = content::UpdateMethod::kStaged,
                     const std::string& link = "",
                     content::LinkMode mode = content::LinkMode::kRedirect) -> Status {
        ASSIGN_OR_RETURN(std::string hash, s.blobs().Put(body));
        content::FileEntry e;
        e.hash = hash;
        e.length = body.size();
        e.content_type = type;
        e.method = method;
        e.link_url = link;
        e.link_mode = mode;
        m.files[path] = e;
        return Status::Ok();
      };
      const std::string html = "text/html; charset=utf-8";
      // A body, as main's own site has it (a partner never serves it).
      RETURN_IF_ERROR(put("/tea.html", "<p>main's tea page</p>", html, content::UpdateMethod::kLink,
                          "https://main.example/tea.html"));
      RETURN_IF_ERROR(put("/old.html", "", html, content::UpdateMethod::kLink,
                          "https://main.example/new.html", content::LinkMode::kRedirect301));
      RETURN_IF_ERROR(put("/form.html", "", html, content::UpdateMethod::kLink,
                          "https://main.example/form.html", content::LinkMode::kRedirect307));
      RETURN_IF_ERROR(put("/cart/index.html", "", html, content::UpdateMethod::kLink,
                          "https://main.example/cart/", content::LinkMode::kPage));
      RETURN_IF_ERROR(put("/logo.png", "", "image/png", content::UpdateMethod::kLink,
                          "https://main.example/logo.png", content::LinkMode::kPage));
      RETURN_IF_ERROR(put("/about.html", "<p>main's about page</p>", html));
      RETURN_IF_ERROR(put(std::string(content::kPageShellPath),
                          "<html><title>" + std::string(content::kShellTitleMarker) +
                              "</title><body class=\"main-brand\">" +
                              std::string(content::kShellContentMarker) + "</body></html>",
                          "application/octet-stream"));
      RETURN_IF_ERROR(s.Stage(m));
      RETURN_IF_ERROR(s.Activate(content::Area::kTieup, 1));
      return s.PutOriginalPage("/own.html", "<p>the partner's own page</p>", html).status();
    }),
                IsOk());
  }

  void Start(SiteRole role) {
    config_.role = role;
    config_.id = "shop-b";
    config_.name = "Shop B";
    config_.public_address = {"127.0.0.1", 0};
    server_ = std::make_unique<PageServer>(*env_, config_, *content_, nullptr, NewNullLogger());
    ASSERT_THAT(server_->Start(), IsOk());
    client_ = std::make_unique<HttpClient>("127.0.0.1", server_->port());
  }

  HttpResponse Get(const std::string& target, const std::string& method = "GET") {
    auto r = client_->Fetch(HttpRequest(method, target));
    EXPECT_THAT(r, IsOk());
    return r.ok() ? std::move(*r) : HttpResponse(0);
  }
  static std::string Header(const HttpResponse& r, std::string_view name) {
    auto v = r.FindHeader(name);
    return v ? std::string(*v) : "";
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::unique_ptr<SiteContent> content_;
  SiteConfig config_;
  std::unique_ptr<PageServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(LinkPagesTest, ARedirectEntryAnswersWithItsStatusAndMainsUrl) {
  Publish();
  Start(SiteRole::kPartner);
  HttpResponse r = Get("/tea.html");
  EXPECT_EQ(r.status(), 302);
  EXPECT_EQ(Header(r, "Location"), "https://main.example/tea.html");
  EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
  EXPECT_THAT(Header(r, "Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(r.body(), HasSubstr("href=\"https://main.example/tea.html\""));
  EXPECT_LT(r.body().size(), 400u);

  r = Get("/tea.html?q=green%20tea&x=1");
  EXPECT_EQ(Header(r, "Location"), "https://main.example/tea.html?q=green%20tea&x=1");
  r = Get("/old.html");
  EXPECT_EQ(r.status(), 301);
  EXPECT_EQ(Header(r, "Location"), "https://main.example/new.html");
  r = Get("/form.html");
  EXPECT_EQ(r.status(), 307);

  // HEAD: the same status and Location, no body.
  r = Get("/tea.html", "HEAD");
  EXPECT_EQ(r.status(), 302);
  EXPECT_EQ(Header(r, "Location"), "https://main.example/tea.html");
  EXPECT_EQ(r.body(), "");
  // Other methods are not links: the page handler refuses them as for any page.
  EXPECT_EQ(Get("/tea.html", "POST").status(), 405);

  // The other files are served as they are.
  r = Get("/about.html");
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.body(), "<p>main's about page</p>");
  EXPECT_EQ(Get("/own.html").status(), 200);
}

TEST_F(LinkPagesTest, APageEntryShowsTheLinkInMainsLayout) {
  Publish();
  Start(SiteRole::kPartner);
  for (const std::string target : {"/cart/", "/cart/index.html"}) {
    HttpResponse r = Get(target + "?step=2");
    EXPECT_EQ(r.status(), 200) << target;
    EXPECT_EQ(Header(r, "Location"), "");
    const std::string body(r.body());
    EXPECT_THAT(body, HasSubstr("<body class=\"main-brand\">"));  // the tie-up layout
    EXPECT_THAT(body, HasSubstr("<title>On main.example</title>"));
    EXPECT_THAT(body, HasSubstr("This page is on main.example"));
    EXPECT_THAT(body, HasSubstr("href=\"https://main.example/cart/?step=2\""));
  }
  // The directory without its slash first goes to the directory, as any page does.
  HttpResponse r = Get("/cart");
  EXPECT_EQ(r.status(), 301);
  EXPECT_EQ(Header(r, "Location"), "/cart/");
}

TEST_F(LinkPagesTest, APageEntryThatIsNoPageIsRedirected) {
  Publish();
  Start(SiteRole::kPartner);
  // An image cannot be shown as a page: in mode page it is redirected, as by default.
  HttpResponse r = Get("/logo.png?v=3");
  EXPECT_EQ(r.status(), 302);
  EXPECT_EQ(Header(r, "Location"), "https://main.example/logo.png?v=3");
  EXPECT_THAT(r.body(), Not(HasSubstr("main-brand")));  // the small redirect body, no layout
}

TEST_F(LinkPagesTest, MainsOwnSiteServesItsLinkPagesBodies) {
  Publish();
  Start(SiteRole::kMain);
  // On main (whose pages a link names) a link entry is a page like any other.
  HttpResponse r = Get("/tea.html");
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(Header(r, "Location"), "");
  EXPECT_EQ(r.body(), "<p>main's tea page</p>");
}

}  // namespace
}  // namespace tieup

// Tests partner_site's PreviewHandler; it lives here beside the SiteContent tests it builds on.
#include "partner_site/preview.h"

#include <gtest/gtest.h>

#include "net/http_client.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

class PreviewHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SiteContentOptions o;
    o.site_id = "shop-a";
    auto c = SiteContent::Open(*env_, dir_.path(), o);
    ASSERT_THAT(c, IsOk());
    content_ = std::move(c).value();
    // Version 1 active, version 2 staged and waiting for approval.
    for (uint64_t v : {1u, 2u}) {
      ASSERT_THAT(content_->Mutate([&](content::ContentStore& store) -> Status {
        std::string page = "<p>version " + std::to_string(v) + "</p>";
        ASSIGN_OR_RETURN(std::string hash, store.blobs().Put(page));
        content::ReleaseManifest m;
        m.site = "shop-a";
        m.area = content::Area::kTieup;
        m.version = v;
        m.created = env_->NowSeconds();
        m.files["/index.html"] = {
            hash, page.size(), "text/html; charset=utf-8", content::UpdateMethod::kStaged, "", {}};
        RETURN_IF_ERROR(store.Stage(m));
        return v == 1 ? store.Activate(content::Area::kTieup, 1) : Status::Ok();
      }),
                  IsOk());
    }
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::unique_ptr<SiteContent> content_;
};

TEST_F(PreviewHandlerTest, ServesTheStagedReleaseToThisMachineOnly) {
  auto handler = std::make_shared<PreviewHandler>(*content_);
  HttpServer server(*env_, HttpServerOptions{}, handler);
  ASSERT_THAT(server.Start(), IsOk());
  auto get = [&](const std::string& target) {
    return HttpFetch("127.0.0.1", server.port(), HttpRequest("GET", target));
  };
  auto r = get("/.tieup/preview/2/");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status(), 200);
  EXPECT_EQ(r->body(), "<p>version 2</p>");
  EXPECT_EQ(r->FindHeader("Cache-Control").value_or(""), "no-store");
  // The active site is untouched by a preview.
  EXPECT_EQ(content_->view()->version(content::Area::kTieup), 1u);

  EXPECT_EQ(get("/.tieup/preview/2")->status(), 301);
  EXPECT_EQ(get("/.tieup/preview/9/")->status(), 404);
  EXPECT_EQ(get("/.tieup/preview/2/missing.html")->status(), 404);
  EXPECT_EQ(get("/.tieup/preview/x/")->status(), 404);
  server.Stop();

  // A request that did not come from this machine (no loopback address) is refused.
  HttpRequest remote("GET", "/.tieup/preview/2/");
  HttpResponse refused = handler->Serve(remote);
  EXPECT_EQ(refused.status(), 403);
  EXPECT_THAT(std::string(refused.body()), HasSubstr("own machine"));
}

}  // namespace
}  // namespace tieup

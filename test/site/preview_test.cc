// Tests partner_site's PreviewHandler; it lives here beside the SiteContent tests it builds on.
#include "partner_site/preview.h"

#include <gtest/gtest.h>

#include "net/http_client.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

// A style sheet with an absolute URL in it: served as it is (only HTML is rewritten).
constexpr std::string_view kStyle = "body { background: url(/bg.png) }\n";

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
        content::ReleaseManifest m;
        m.site = "shop-a";
        m.area = content::Area::kTieup;
        m.version = v;
        m.created = env_->NowSeconds();
        auto put = [&](std::string path, std::string bytes, std::string type) -> Status {
          ASSIGN_OR_RETURN(std::string hash, store.blobs().Put(bytes));
          content::FileEntry& e = m.files[path];  // staged, as every entry is by default
          e.hash = hash;
          e.length = bytes.size();
          e.content_type = std::move(type);
          return Status::Ok();
        };
        RETURN_IF_ERROR(
            put("/index.html",
                "<p>version " + std::to_string(v) + "</p><a href=\"/products/tea.html\">Tea</a>",
                "text/html; charset=utf-8"));
        RETURN_IF_ERROR(put("/style.css", std::string(kStyle), "text/css"));
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

TEST_F(PreviewHandlerTest, ServesTheStagedReleaseOnlyUnderItsKey) {
  auto secret = LoadOrCreatePreviewSecret(*env_, dir_.path());
  ASSERT_THAT(secret, IsOk());
  auto handler = std::make_shared<PreviewHandler>(*env_, *content_, *secret);
  HttpServer server(*env_, HttpServerOptions{}, handler);
  ASSERT_THAT(server.Start(), IsOk());
  auto get = [&](const std::string& target) {
    return HttpFetch("127.0.0.1", server.port(), HttpRequest("GET", target));
  };
  const std::string two = PreviewPath(*secret, 2);
  auto r = get(two);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status(), 200);
  // The page with the preview's banner, and its link kept in the preview.
  EXPECT_THAT(r->body(), HasSubstr("<p>version 2</p>"));
  EXPECT_THAT(r->body(), HasSubstr("Preview of version 2: not live."));
  EXPECT_THAT(r->body(), HasSubstr("Visitors still see version 1"));
  EXPECT_THAT(r->body(), HasSubstr("<a href=\"" + two + "products/tea.html\">Tea</a>"));
  EXPECT_EQ(r->FindHeader("Content-Type").value_or(""), "text/html; charset=utf-8");
  EXPECT_EQ(r->FindHeader("Cache-Control").value_or(""), "no-store");
  EXPECT_EQ(r->FindHeader("Referrer-Policy").value_or(""), "no-referrer");
  // The active site is untouched by a preview.
  EXPECT_EQ(content_->view()->version(content::Area::kTieup), 1u);

  // Other files as they are.
  auto css = get(two + "style.css");
  ASSERT_THAT(css, IsOk());
  EXPECT_EQ(css->status(), 200);
  EXPECT_EQ(css->body(), kStyle);
  EXPECT_EQ(css->FindHeader("Content-Type").value_or(""), "text/css");

  EXPECT_EQ(get(two.substr(0, two.size() - 1))->status(), 301);
  EXPECT_EQ(get(PreviewPath(*secret, 9))->status(), 404);
  EXPECT_EQ(get(two + "missing.html")->status(), 404);
  EXPECT_EQ(get("/.tieup/preview/x/")->status(), 404);
  // Without the key, with a key of another version or of another site: nothing, wherever the
  // request comes from (a reverse proxy makes every visitor look local).
  EXPECT_EQ(get("/.tieup/preview/2/")->status(), 404);
  const std::string key_of_one = PreviewPath(*secret, 1).substr(kPreviewPrefix.size(), 22);
  EXPECT_EQ(get(std::string(kPreviewPrefix) + key_of_one + "/2/")->status(), 404);
  EXPECT_EQ(get(PreviewPath(std::string(32, 'x'), 2))->status(), 404);
  server.Stop();

  // The secret is kept, owner-only, and read back the same.
  auto again = LoadOrCreatePreviewSecret(*env_, dir_.path());
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, *secret);
  auto mode = env_->GetPermissions(dir_.path() + "/keys/preview.key");
  ASSERT_THAT(mode, IsOk());
  EXPECT_EQ(*mode & 0777, 0600u);
}

TEST_F(PreviewHandlerTest, TheBannerLinksToTheReviewInTheRunningConsole) {
  auto secret = LoadOrCreatePreviewSecret(*env_, dir_.path());
  ASSERT_THAT(secret, IsOk());
  PreviewHandler handler(*env_, *content_, *secret);
  HttpRequest request("GET", PreviewPath(*secret, 2));
  request.AddHeader("Host", "127.0.0.1:8082");
  // No console running: no link.
  EXPECT_THAT(std::string(handler.Serve(request).body()), Not(HasSubstr("Back to the review")));
  // The console writes its address at start.
  ASSERT_THAT(CreateDirs(*env_, dir_.Sub("run")), IsOk());
  ASSERT_THAT(WriteFileAtomic(*env_, dir_.Sub("run/console.addr"), "http://127.0.0.1:8092/\n"),
              IsOk());
  const std::string body(handler.Serve(request).body());
  EXPECT_THAT(body, HasSubstr("<a href=\"http://127.0.0.1:8092/updates/version/2\""));
  EXPECT_THAT(body, HasSubstr("Back to the review in the console"));
}

}  // namespace
}  // namespace tieup

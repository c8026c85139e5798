// The ad frames (issue 15 item 8) through the real PageServer over loopback HTTP, from a real
// content store and a real ledger: main's ads in turn and the partner's own, each showing and
// click recorded (HEAD and unknown ads not); a page from another site is not recorded as the
// page; main's ads stop while its tie-up pages are withdrawn; a catalog that does not parse
// leaves its slots empty and the site serving; main's own site has main's ads only.
#include "site/ad_frames.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <variant>

#include "base/log.h"
#include "content/builder.h"
#include "ledger/access_log_writer.h"
#include "ledger/log.h"
#include "net/http_client.h"
#include "site/config.h"
#include "site/page_server.h"
#include "site/site_content.h"
#include "sync/withdrawal.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

constexpr char kMainAds[] =
    "[[ad]]\nid = \"sencha\"\ntext = \"Sencha Asahi\"\nimage = \"/assets/s.svg\"\n"
    "link = \"/sencha.html\"\n"
    "[[ad]]\nid = \"school\"\ntext = \"Tea school\"\nlink = \"https://tea.example/school\"\n";
constexpr char kOwnAds[] = "[[ad]]\nid = \"honey\"\ntext = \"Local honey\"\nlink = \"/local/h\"\n";

class AdFramesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SiteContentOptions o;
    o.site_id = "shop-b";
    ASSERT_THAT(CreateDirs(*env_, dir_.Sub("site")), IsOk());
    auto content = SiteContent::Open(*env_, dir_.Sub("site"), o);
    ASSERT_THAT(content, IsOk());
    content_ = std::move(*content);
    auto log = ledger::Log::Open(*env_, dir_.Sub("ledger"));
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
    writer_ = std::make_unique<ledger::AccessLogWriter>(*env_, *log_, std::nullopt);
  }

  // Activates a release of `area` with main's catalog `ads` (and a page).
  void Release(content::Area area, const std::string& ads) {
    ASSERT_THAT(content_->Mutate([&](content::ContentStore& s) -> Status {
      content::ReleaseManifest m;
      m.site = "shop-b";
      m.area = area;
      m.version = 1;
      m.created = 1790000000;
      for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
               {"/index.html", "<p>front</p>"}, {std::string(content::kAdCatalogPath), ads}}) {
        ASSIGN_OR_RETURN(std::string hash, s.blobs().Put(body));
        content::FileEntry e;
        e.hash = hash;
        e.length = body.size();
        e.content_type = content::ContentTypeForPath(path);
        m.files[path] = e;
      }
      RETURN_IF_ERROR(s.Stage(m));
      return s.Activate(area, 1);
    }),
                IsOk());
  }
  void OwnAds(const std::string& ads) {
    ASSERT_THAT(content_->Mutate([&](content::ContentStore& s) -> Status {
      return s.PutOriginalPage(std::string(content::kPartnerAdCatalogPath), ads, "application/toml")
          .status();
    }),
                IsOk());
  }

  void Start(SiteRole role) {
    config_.role = role;
    config_.id = "shop-b";
    config_.name = "Shop B";
    config_.public_address = {"127.0.0.1", 0};
    server_ =
        std::make_unique<PageServer>(*env_, config_, *content_, writer_.get(), NewNullLogger());
    ASSERT_THAT(server_->Start(), IsOk());
    client_ = std::make_unique<HttpClient>("127.0.0.1", server_->port());
  }

  HttpResponse Get(const std::string& target, const std::string& referer = "",
                   const std::string& method = "GET") {
    HttpRequest request(method, target);
    request.AddHeader("Host", "127.0.0.1");
    if (!referer.empty()) request.AddHeader("Referer", referer);
    auto r = client_->Fetch(request);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? std::move(*r) : HttpResponse(0);
  }
  static std::string Header(const HttpResponse& r, std::string_view name) {
    auto v = r.FindHeader(name);
    return v ? std::string(*v) : "";
  }

  // The ad records written so far.
  std::vector<ledger::AdRecord> Ads() {
    EXPECT_THAT(writer_->Flush(), IsOk());
    std::vector<ledger::AdRecord> out;
    for (uint64_t i = 0; i < log_->size(); ++i) {
      auto record = ledger::ParseRecord(*log_->Read(i));
      if (record.ok() && std::holds_alternative<ledger::AdRecord>(*record)) {
        out.push_back(std::get<ledger::AdRecord>(*record));
      }
    }
    return out;
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::unique_ptr<SiteContent> content_;
  std::unique_ptr<ledger::Log> log_;
  std::unique_ptr<ledger::AccessLogWriter> writer_;
  SiteConfig config_;
  std::unique_ptr<PageServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(AdFramesTest, APartnerShowsMainsAdsInTurnAndItsOwnAndRecordsThem) {
  Release(content::Area::kTieup, kMainAds);
  OwnAds(kOwnAds);
  Start(SiteRole::kPartner);
  const std::string page = "http://127.0.0.1/news/today.html";
  HttpResponse a = Get("/tieup-ad/main", page);
  HttpResponse b = Get("/tieup-ad/main", page);
  HttpResponse c = Get("/tieup-ad/main", "https://elsewhere.example/x.html");
  EXPECT_EQ(a.status(), 200);
  EXPECT_THAT(a.body(), HasSubstr("Sencha Asahi"));
  EXPECT_THAT(a.body(), HasSubstr("<img src=\"/assets/s.svg\" alt=\"\">"));
  EXPECT_THAT(a.body(), HasSubstr("/tieup-ad/click?owner=main&amp;ad=sencha&amp;"
                                  "on=/news/today.html"));
  EXPECT_THAT(b.body(), HasSubstr("Tea school"));
  EXPECT_THAT(c.body(), HasSubstr("Sencha Asahi"));  // in turn, again
  EXPECT_THAT(c.body(), Not(HasSubstr("on=")));      // another site's page is not named
  EXPECT_EQ(Header(a, "Cache-Control"), "no-store");
  EXPECT_EQ(Header(a, "X-Frame-Options"), "SAMEORIGIN");
  EXPECT_THAT(Header(a, "Content-Security-Policy"), HasSubstr("frame-ancestors 'self'"));
  EXPECT_THAT(Get("/tieup-ad/partner", page).body(), HasSubstr("Local honey"));
  EXPECT_EQ(Get("/tieup-ad/main", page, "HEAD").status(), 200);  // not counted

  HttpResponse click = Get("/tieup-ad/click?owner=main&ad=school&on=/news/today.html");
  EXPECT_EQ(click.status(), 303);
  EXPECT_EQ(Header(click, "Location"), "https://tea.example/school");
  click = Get("/tieup-ad/click?owner=partner&ad=honey&on=%2Flocal%2F");  // decoded
  EXPECT_EQ(Header(click, "Location"), "/local/h");
  EXPECT_EQ(Get("/tieup-ad/click?owner=main&ad=honey").status(), 404);  // not main's
  EXPECT_EQ(Get("/tieup-ad/click?owner=main&ad=school", "", "HEAD").status(), 303);

  using ledger::AdOwner;
  const std::vector<ledger::AdRecord> want = {
      {0, AdOwner::kMain, 1, "/news/today.html", 0, "sencha"},
      {0, AdOwner::kMain, 1, "/news/today.html", 0, "school"},
      {0, AdOwner::kMain, 1, "", 0, "sencha"},
      {0, AdOwner::kPartner, 1, "/news/today.html", 0, "honey"},
      {0, AdOwner::kMain, 0, "/news/today.html", 1, "school"},
      {0, AdOwner::kPartner, 0, "/local/", 1, "honey"}};
  std::vector<ledger::AdRecord> got = Ads();
  for (auto& r : got) {
    EXPECT_GT(r.time_micros, 0);
    r.time_micros = 0;
  }
  EXPECT_EQ(got, want);
}

TEST_F(AdFramesTest, MainsAdsStopWhileItsPagesAreWithdrawn) {
  Release(content::Area::kTieup, kMainAds);
  OwnAds(kOwnAds);
  Start(SiteRole::kPartner);
  auto w = std::make_shared<sync::Withdrawal>();
  w->partner = "shop-b";
  w->reason = sync::WithdrawalReason::kSuspended;
  content_->tieup_notices().Set(w);
  HttpResponse frame = Get("/tieup-ad/main", "http://127.0.0.1/");
  EXPECT_EQ(frame.status(), 200);
  EXPECT_THAT(frame.body(), Not(HasSubstr("Sencha")));
  EXPECT_EQ(Get("/tieup-ad/click?owner=main&ad=sencha").status(), 404);
  EXPECT_THAT(Get("/tieup-ad/partner", "http://127.0.0.1/").body(), HasSubstr("Local honey"));
  ASSERT_EQ(Ads().size(), 1u);
  EXPECT_EQ(Ads()[0].owner, ledger::AdOwner::kPartner);
  content_->tieup_notices().Set(nullptr);  // reinstated
  EXPECT_THAT(Get("/tieup-ad/main", "http://127.0.0.1/").body(), HasSubstr("Sencha"));
}

TEST_F(AdFramesTest, ACatalogThatDoesNotParseLeavesTheSlotsEmptyAndTheSiteServing) {
  Release(content::Area::kTieup, "[[ad]]\nid = \"Bad Id\"\n");
  Start(SiteRole::kPartner);
  HttpResponse frame = Get("/tieup-ad/main", "http://127.0.0.1/");
  EXPECT_EQ(frame.status(), 200);
  EXPECT_THAT(frame.body(), Not(HasSubstr("class=\"ad\"")));
  EXPECT_EQ(Get("/tieup-ad/partner").status(), 200);  // no catalog: empty too
  EXPECT_EQ(Get("/index.html").status(), 200);
  EXPECT_EQ(Get("/tieup-ad/nothing").status(), 404);
  EXPECT_TRUE(Ads().empty());
}

TEST_F(AdFramesTest, MainsOwnSiteShowsMainsAdsOnly) {
  Release(content::Area::kOriginal, kMainAds);
  Start(SiteRole::kMain);
  EXPECT_THAT(Get("/tieup-ad/main", "http://127.0.0.1/").body(), HasSubstr("Sencha Asahi"));
  EXPECT_EQ(Get("/tieup-ad/partner").status(), 404);
  EXPECT_EQ(Ads().size(), 1u);
}

}  // namespace
}  // namespace tieup

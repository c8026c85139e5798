#include "main_site/main_sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "main_site/own_site.h"
#include "site/public_site.h"
#include "store/database.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::TempDir;

// Main's sync side on a real site directory and database, and partners enrolling through its
// /v1/enroll handler as `tieup partner init` does.
class MainSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.Sub("main");
    SiteConfig c;
    c.role = SiteRole::kMain;
    c.id = "main";
    c.name = "Sakura Tea";
    c.public_address = {"127.0.0.1", 0};
    c.sync_address = {"127.0.0.1", 0};
    ASSERT_THAT(CreateSiteDir(*env_, dir_, c), IsOk());
    ASSERT_THAT(InitMainTrust(*env_, dir_, c.name), IsOk());
    ASSERT_THAT(WriteStarterAuthoring(*env_, AuthoringDir(c, dir_)), IsOk());
    auto db = ::tieup::testing::OpenTestDatabase(dir_ + "/tieup.db");
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    auto sync = MainSync::Open(*env_, dir_, c, *db_, NewNullLogger());
    ASSERT_THAT(sync, IsOk());
    sync_ = std::move(*sync);
  }

  std::string AddPartner(const std::string& id) {
    sync::Partnership p;
    p.id = id;
    p.name = id;
    p.public_url = "http://127.0.0.1:1";
    p.retry = "manual";
    auto code = sync_->AddPartner(p, 3600);
    EXPECT_THAT(code, IsOk());
    return code.ok() ? code->code.substr(0, code->code.find('.')) : "";
  }

  HttpResponse Enroll(const std::string& partner, const std::string& token,
                      const std::string& address = "192.0.2.1") {
    CertificateKey key = CertificateKey::Generate(*env_);
    auto csr = MakeCertificateRequest(key, partner);
    EXPECT_THAT(csr, IsOk());
    boost::json::object body{{"partner", partner}, {"token", token}, {"csr", *csr}};
    HttpRequest r("POST", "/v1/enroll");
    r.SetBody(boost::json::serialize(body));
    r.SetRemoteAddressForTest(address);
    return sync_->HandleSyncRequest(r);
  }

  // The fingerprint of the certificate in a successful enrollment answer.
  std::string FingerprintOf(const HttpResponse& enrolled) {
    boost::json::value v = boost::json::parse(enrolled.body());
    auto cert = ParseCertificate(std::string(v.at("certificate").as_string()));
    EXPECT_THAT(cert, IsOk());
    return cert.ok() ? CertificateFingerprint(*cert) : "";
  }

  // An authenticated request on the sync port from `partner` with certificate `fingerprint`.
  HttpResponse Call(const std::string& partner, const std::string& fingerprint) {
    HttpRequest r("GET", "/v1/latest?have=0");
    r.SetPeerSiteIdForTest(partner, fingerprint);
    return sync_->HandleSyncRequest(r);
  }

  // A clock the test moves: the enrollment limit refills with time.
  std::unique_ptr<::tieup::testing::FakeClockEnv> env_ =
      std::make_unique<::tieup::testing::FakeClockEnv>();
  TempDir tmp_;
  std::string dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<MainSync> sync_;
};

TEST_F(MainSyncTest, EveryRequestChecksThePeersCurrentStanding) {
  HttpResponse enrolled = Enroll("shop-a", AddPartner("shop-a"));
  ASSERT_EQ(enrolled.status(), 200) << enrolled.body();
  const std::string fp = FingerprintOf(enrolled);
  EXPECT_TRUE(sync_->InGoodStanding("shop-a", fp));
  EXPECT_NE(Call("shop-a", fp).status(), 403);

  // Re-enrolled: the older certificate is superseded at once, on a connection already open.
  auto code = sync_->NewEnrollmentCode("shop-a", 3600);
  ASSERT_THAT(code, IsOk());
  HttpResponse again = Enroll("shop-a", code->code.substr(0, code->code.find('.')));
  ASSERT_EQ(again.status(), 200) << again.body();
  const std::string newer = FingerprintOf(again);
  EXPECT_FALSE(sync_->InGoodStanding("shop-a", fp));
  HttpResponse old = Call("shop-a", fp);
  EXPECT_EQ(old.status(), 403);
  EXPECT_TRUE(old.close_connection());
  EXPECT_THAT(std::string(old.body()), HasSubstr("superseded"));
  EXPECT_NE(Call("shop-a", newer).status(), 403);

  // Revoked: refused on the next request, whatever the connection.
  ASSERT_THAT(sync_->Revoke("shop-a"), IsOk());
  EXPECT_FALSE(sync_->InGoodStanding("shop-a", newer));
  HttpResponse revoked = Call("shop-a", newer);
  EXPECT_EQ(revoked.status(), 403);
  EXPECT_THAT(std::string(revoked.body()), HasSubstr("revoked"));
  // Never enrolled at all.
  EXPECT_EQ(Call("shop-z", newer).status(), 403);
}

TEST_F(MainSyncTest, EnrollmentSaysNothingAboutWhichPartnersExist) {
  AddPartner("shop-a");
  const std::string bogus(43, 'A');
  HttpResponse known = Enroll("shop-a", bogus);
  HttpResponse unknown = Enroll("shop-q", bogus);
  EXPECT_EQ(known.status(), unknown.status());
  EXPECT_NE(known.status(), 200);
  // The same words, but for the id the caller gave itself.
  std::string k(known.body()), u(unknown.body());
  for (size_t at = k.find("shop-a"); at != std::string::npos; at = k.find("shop-a", at)) {
    k.replace(at, 6, "shop-q");
  }
  EXPECT_EQ(k, u);
  EXPECT_THAT(u, ::testing::Not(HasSubstr("no active partnership")));
}

TEST_F(MainSyncTest, EnrollmentIsRateLimitedPerAddress) {
  const std::string bogus(43, 'A');
  int limited = 0;
  for (int i = 0; i < 100; ++i) {
    HttpResponse r = Enroll("shop-q", bogus, "192.0.2.7");
    if (r.status() == 429) {
      ++limited;
      EXPECT_FALSE(r.FindHeader("Retry-After").value_or("").empty());
      EXPECT_TRUE(r.close_connection());
    }
  }
  EXPECT_EQ(limited, 40);  // the clock stood still: the burst of 60, then nothing
  // Another address is not held back by the first one's flood.
  EXPECT_NE(Enroll("shop-q", bogus, "192.0.2.8").status(), 429);
  // A minute later the flooding address may try again.
  env_->AdvanceSeconds(60);
  EXPECT_NE(Enroll("shop-q", bogus, "192.0.2.7").status(), 429);
}

}  // namespace
}  // namespace tieup

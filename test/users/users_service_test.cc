#include "main_site/users_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/x509.h"
#include "partner_site/main_client.h"
#include "site/sync_transport.h"
#include "sync/http_api.h"
#include "test_support.h"
#include "users/wire.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr char kPassword[] = "zebra-quartz-lantern-0451";

std::string RegistrationJson(std::string email, std::string password = kPassword) {
  return users::RegistrationRequestToJson(
      {std::move(email), "Ada", std::move(password), users::UserArea::kOriginal});
}

// Main's user endpoints with a real partnership CA, and partners' signing clients.
class MainUsersEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::Create(*env_, "tieup test CA", 86400 * 30);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = std::make_unique<CertificateAuthority>(std::move(*ca));
    main_dir_ = dir_.Sub("main");
    ASSERT_TRUE(CreateDirs(*env_, main_dir_ + "/keys").ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, CaCertPath(main_dir_), ca_->certificate().ToPem()).ok());
    OpenMain();
    shop_b_ = Client("shop-b", *ca_);
    shop_c_ = Client("shop-c", *ca_);
  }

  // Main's database, user store and endpoints, opened (again) on main_dir_: what a start of
  // main does.
  void OpenMain() {
    endpoints_.reset();
    store_.reset();
    db_.reset();
    auto db = OpenSqlite(main_dir_ + "/tieup.db");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    users::UserStoreOptions options;
    options.cost = users::PasswordHashCost::MinimumForTest();
    auto store = users::UserStore::Open(*env_, *db_, options);
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    auto endpoints = MainUsersEndpoints::Create(*env_, main_dir_, *store_, *db_, nullptr);
    ASSERT_TRUE(endpoints.ok()) << endpoints.status().ToString();
    endpoints_ = std::move(*endpoints);
  }

  // A partner `id` enrolled with `ca`, as a signing client (it never connects here).
  std::unique_ptr<MainClient> Client(const std::string& id, const CertificateAuthority& ca) {
    const std::string dir = dir_.Sub(id + "-" + std::to_string(++clients_));
    EXPECT_TRUE(CreateDirs(*env_, dir + "/keys").ok());
    CertificateKey key = CertificateKey::Generate(*env_);
    auto csr = MakeCertificateRequest(key, id);
    EXPECT_TRUE(csr.ok());
    auto cert = ca.SignRequest(*csr, id, 86400);
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    EXPECT_TRUE(SaveCertificateKey(*env_, SyncKeyPath(dir), key).ok());
    EXPECT_TRUE(WriteFileAtomic(*env_, SyncCertPath(dir), cert->ToPem()).ok());
    EXPECT_TRUE(WriteFileAtomic(*env_, CaCertPath(dir), ca.certificate().ToPem()).ok());
    SiteConfig config;
    config.id = id;
    config.main_sync_url = "https://127.0.0.1:9";
    auto client = MainClient::Open(*env_, dir, config);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // `from`'s signed POST, as if it arrived over TLS from `peer`.
  HttpRequest Signed(MainClient& from, std::string_view path, std::string body,
                     std::string peer = "shop-b") {
    auto r = from.SignedPost(path, std::move(body));
    EXPECT_TRUE(r.ok());
    r->SetPeerSiteIdForTest(std::move(peer));
    return std::move(*r);
  }

  HttpResponse Register(std::string body) {
    return endpoints_->Handle(Signed(*shop_b_, "/v1/users/register", std::move(body)));
  }

  int64_t Users() { return *store_->Count(); }
  int64_t Kept() { return (*db_->Query("SELECT COUNT(*) FROM users_signed_requests"))[0].Int(0); }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::string main_dir_;
  int clients_ = 0;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<users::UserStore> store_;
  std::unique_ptr<MainUsersEndpoints> endpoints_;
  std::unique_ptr<MainClient> shop_b_, shop_c_;
};

TEST_F(MainUsersEndpointsTest, RegistersForTheTlsPeer) {
  HttpResponse r = Register(RegistrationJson(" Ada@Example.ORG"));
  ASSERT_EQ(r.status(), 200) << r.body();
  auto id = users::RegistrationReplyFromJson(r.body());
  ASSERT_TRUE(id.ok()) << r.body();
  auto user = store_->Get(*id);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->registered_via, "shop-b");
  EXPECT_EQ(user->area, users::UserArea::kOriginal);
  EXPECT_EQ(user->email, "Ada@example.org");
  auto kept =
      db_->Query("SELECT partner, nonce, target, email, outcome FROM users_signed_requests");
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].Text(0), "shop-b");
  EXPECT_FALSE((*kept)[0].Text(1).empty());
  EXPECT_EQ((*kept)[0].Text(2), "/v1/users/register");
  EXPECT_EQ((*kept)[0].Text(4), "registered " + *id);
}

TEST_F(MainUsersEndpointsTest, SignInIsCheckedWithTheSameAnswerForUnknownAndWrong) {
  ASSERT_EQ(Register(RegistrationJson("ada@example.org")).status(), 200);
  auto login = [&](std::string email, std::string password) {
    return endpoints_->Handle(Signed(*shop_c_, "/v1/users/login",
                                     users::LoginRequestToJson({email, password}), "shop-c"));
  };
  HttpResponse ok = login("ADA@example.org", kPassword);
  ASSERT_EQ(ok.status(), 200) << ok.body();
  auto reply = users::LoginReplyFromJson(ok.body());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->display_name, "Ada");
  HttpResponse wrong = login("ada@example.org", "zebra-quartz-lantern-0452");
  HttpResponse unknown = login("bob@example.org", kPassword);
  EXPECT_EQ(wrong.status(), 401);
  EXPECT_EQ(users::RefusalFromJson(wrong.body()), users::Refusal::kWrongLogin);
  EXPECT_EQ(unknown.status(), 401);
  EXPECT_EQ(unknown.body(), wrong.body());
}

TEST_F(MainUsersEndpointsTest, RefusalsCarryTheirReason) {
  ASSERT_EQ(Register(RegistrationJson("ada@example.org")).status(), 200);
  HttpResponse taken = Register(RegistrationJson("ADA@EXAMPLE.ORG"));
  EXPECT_EQ(taken.status(), 409);
  EXPECT_EQ(users::RefusalFromJson(taken.body()), users::Refusal::kEmailTaken);
  HttpResponse weak = Register(RegistrationJson("bob@example.org", "short"));
  EXPECT_EQ(weak.status(), 400);
  EXPECT_EQ(users::RefusalFromJson(weak.body()), users::Refusal::kInvalidInput);
  EXPECT_THAT(sync::StatusFromResponse(weak),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("10 to 128")));
  HttpResponse bad_email = Register(RegistrationJson("bob at example"));
  EXPECT_EQ(bad_email.status(), 400);
  EXPECT_EQ(users::RefusalFromJson(bad_email.body()), users::Refusal::kInvalidInput);
  EXPECT_EQ(Users(), 1);
}

TEST_F(MainUsersEndpointsTest, ABodySignedByAnotherPartnerThanTheTlsPeerIsRefused) {
  // shop-c signs, but the TLS connection is shop-b's.
  HttpResponse r = endpoints_->Handle(
      Signed(*shop_c_, "/v1/users/register", RegistrationJson("ada@example.org"), "shop-b"));
  EXPECT_EQ(r.status(), 401);
  EXPECT_THAT(std::string(r.body()), HasSubstr("not the connected partner"));
  EXPECT_EQ(users::RefusalFromJson(r.body()), users::Refusal::kNone);
  EXPECT_EQ(Users(), 0);
  EXPECT_EQ(Kept(), 0);
}

TEST_F(MainUsersEndpointsTest, ForgedOrUnsignedRequestsAreRefused) {
  // The signature of one body on another.
  HttpRequest good = Signed(*shop_b_, "/v1/users/register", RegistrationJson("ada@example.org"));
  HttpRequest altered("POST", "/v1/users/register");
  for (const HttpHeaderView& h : good.Headers()) altered.AddHeader(h.name, h.value);
  altered.SetBody(RegistrationJson("eve@example.org"));
  altered.SetPeerSiteIdForTest("shop-b");
  EXPECT_EQ(endpoints_->Handle(altered).status(), 401);
  // A key from another CA, for the same partner id.
  auto foreign_ca = CertificateAuthority::Create(*env_, "someone else's CA", 86400);
  ASSERT_TRUE(foreign_ca.ok());
  auto forger = Client("shop-b", *foreign_ca);
  EXPECT_EQ(
      endpoints_->Handle(Signed(*forger, "/v1/users/register", RegistrationJson("eve@example.org")))
          .status(),
      401);
  // No signature at all; no partner behind the connection; main itself.
  HttpRequest bare("POST", "/v1/users/register");
  bare.AddHeader("Content-Type", "application/json");
  bare.SetBody(RegistrationJson("eve@example.org"));
  bare.SetPeerSiteIdForTest("shop-b");
  EXPECT_EQ(endpoints_->Handle(bare).status(), 401);
  EXPECT_EQ(
      endpoints_->Handle(Signed(*shop_b_, "/v1/users/register", RegistrationJson("e@x.org"), ""))
          .status(),
      401);
  EXPECT_EQ(
      endpoints_
          ->Handle(Signed(*shop_b_, "/v1/users/register", RegistrationJson("e@x.org"), "main"))
          .status(),
      401);
  EXPECT_EQ(Users(), 0);
  EXPECT_EQ(Kept(), 0);
}

TEST_F(MainUsersEndpointsTest, AReplayedNonceIsRefused) {
  HttpRequest r = Signed(*shop_b_, "/v1/users/register", RegistrationJson("ada@example.org"));
  EXPECT_EQ(endpoints_->Handle(r).status(), 200);
  HttpResponse again = endpoints_->Handle(r);
  EXPECT_EQ(again.status(), 409);
  EXPECT_THAT(std::string(again.body()), HasSubstr("replay"));
  EXPECT_EQ(users::RefusalFromJson(again.body()), users::Refusal::kNone);  // not "email taken"
  EXPECT_EQ(Users(), 1);
  EXPECT_EQ(Kept(), 1);
}

TEST_F(MainUsersEndpointsTest, AReplayAfterMainRestartsIsRefused) {
  // A sign-in captured on the wire: accepted once.
  HttpRequest login =
      Signed(*shop_b_, "/v1/users/login", R"({"email":"ada@example.org","password":"x"})");
  EXPECT_NE(endpoints_->Handle(login).status(), 409);
  // Main restarts: new endpoints (a new verifier, an empty memory cache) on the same database.
  OpenMain();

  HttpResponse replayed = endpoints_->Handle(login);
  EXPECT_EQ(replayed.status(), 409);
  EXPECT_THAT(std::string(replayed.body()), HasSubstr("replayed"));
  // A fresh request of the same partner still goes through.
  EXPECT_EQ(Register(RegistrationJson("bea@example.org")).status(), 200);
}

TEST_F(MainUsersEndpointsTest, OversizedOrMalformedBodiesAreClearErrorsAndStoreNothing) {
  HttpResponse big = Register(R"({"area":"tieup","display_name":")" + std::string(5000, 'x') +
                              R"(","email":"a@b.org","password":"0123456789"})");
  EXPECT_EQ(big.status(), 413);
  EXPECT_THAT(std::string(big.body()), HasSubstr("larger than 4096 bytes"));
  struct Case {
    std::string body, says;
  };
  for (const Case& c : std::vector<Case>{
           {"not json", "not a JSON object"},
           {"[]", "not a JSON object"},
           {R"({"email":"a@b.org","password":"0123456789","display_name":"A"})", "area"},
           {R"({"area":"tieup","display_name":"A","email":"a@b.org","password":"0123456789",)"
            R"("registered_via":"main"})",
            "unknown field"},
           {R"({"area":"tieup","display_name":"A","email":"a@b.org","password":12})",
            "password"}}) {
    HttpResponse r = Register(c.body);
    EXPECT_EQ(r.status(), 400) << c.body;
    EXPECT_THAT(std::string(r.body()), HasSubstr(c.says)) << c.body;
    EXPECT_EQ(users::RefusalFromJson(r.body()), users::Refusal::kNone) << c.body;
  }
  EXPECT_EQ(endpoints_->Handle(Signed(*shop_b_, "/v1/users/login", "{\"email\":1}")).status(), 400);
  EXPECT_EQ(Users(), 0);
}

TEST_F(MainUsersEndpointsTest, OnlyPostOnTheTwoPaths) {
  HttpRequest get("GET", "/v1/users/register");
  get.SetPeerSiteIdForTest("shop-b");
  EXPECT_EQ(endpoints_->Handle(get).status(), 400);
  EXPECT_EQ(endpoints_->Handle(Signed(*shop_b_, "/v1/users/delete", "{}")).status(), 404);
}

TEST_F(MainUsersEndpointsTest, NoPasswordOrSignatureIsKept) {
  HttpRequest reg = Signed(*shop_b_, "/v1/users/register", RegistrationJson("ada@example.org"));
  ASSERT_EQ(endpoints_->Handle(reg).status(), 200);
  HttpRequest login = Signed(*shop_b_, "/v1/users/login",
                             users::LoginRequestToJson({"ada@example.org", kPassword}));
  ASSERT_EQ(endpoints_->Handle(login).status(), 200);
  const std::vector<std::string> secrets = {kPassword, std::string(reg.HeaderOr("Signature")),
                                            std::string(reg.HeaderOr("Content-Digest")),
                                            std::string(login.HeaderOr("Signature")),
                                            std::string(login.HeaderOr("Content-Digest"))};
  auto tables = db_->Query("SELECT name FROM sqlite_master WHERE type = 'table'");
  ASSERT_TRUE(tables.ok());
  for (const SqlRow& t : *tables) {
    auto rows = db_->Query("SELECT * FROM \"" + t.Text(0) + "\"");
    ASSERT_TRUE(rows.ok());
    for (const SqlRow& r : *rows) {
      for (size_t i = 0; i < r.size(); ++i) {
        for (const std::string& s : secrets) {
          EXPECT_THAT(r.Text(i), Not(HasSubstr(s))) << t.Text(0);
        }
      }
    }
  }
  EXPECT_EQ(Kept(), 2);
}

}  // namespace
}  // namespace tieup

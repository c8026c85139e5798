#include "main_site/users_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/x509.h"
#include "partner_site/main_client.h"
#include "site/sync_transport.h"
#include "sync/http_api.h"
#include "test_database.h"
#include "test_support.h"
#include "users/oidc_provider.h"
#include "users/wire.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::testing::TempDir;

// Main's user endpoint with a real partnership CA, the provider's real client registry, and
// partners' signing clients.
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
    clients_registry_.reset();
    db_.reset();
    auto db = ::tieup::testing::OpenTestDatabase(main_dir_ + "/tieup.db");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto registry = users::OidcClients::Open(*env_, *db_);
    ASSERT_TRUE(registry.ok());
    clients_registry_ = std::move(*registry);
    // What main's daemon does for a partner (main_site/users_service.cc), its URIs made up.
    auto registrar = [this](const std::string& partner) -> Result<users::SsoClientGrant> {
      users::SsoClientGrant g{partner, "", "https://main.example",
                              "https://" + partner + ".example/account/callback",
                              "https://" + partner + ".example/account/signed-out"};
      ASSIGN_OR_RETURN(g.client_secret,
                       clients_registry_->Register(
                           {partner, partner, {g.redirect_uri}, {g.post_logout_redirect_uri}}));
      return g;
    };
    auto endpoints = MainUsersEndpoints::Create(*env_, main_dir_, *db_, nullptr, registrar);
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

  HttpResponse AskCredentials(std::string body = "{}") {
    return endpoints_->Handle(Signed(*shop_b_, "/v1/users/sso-client", std::move(body)));
  }

  int64_t Clients() { return static_cast<int64_t>(clients_registry_->List()->size()); }
  int64_t Kept() { return (*db_->Query("SELECT COUNT(*) FROM users_signed_requests"))[0].Int(0); }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::string main_dir_;
  int clients_ = 0;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<users::OidcClients> clients_registry_;
  std::unique_ptr<MainUsersEndpoints> endpoints_;
  std::unique_ptr<MainClient> shop_b_, shop_c_;
};

TEST_F(MainUsersEndpointsTest, GivesTheTlsPeerItsCredentials) {
  HttpResponse r = AskCredentials();
  ASSERT_EQ(r.status(), 200) << r.body();
  auto grant = users::SsoClientGrantFromJson(r.body());
  ASSERT_TRUE(grant.ok()) << r.body();
  EXPECT_EQ(grant->client_id, "shop-b");
  EXPECT_EQ(grant->redirect_uri, "https://shop-b.example/account/callback");
  EXPECT_TRUE(clients_registry_->Authenticate("shop-b", grant->client_secret).has_value());
  auto kept = db_->Query("SELECT partner, nonce, target, outcome FROM users_signed_requests");
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].Text(0), "shop-b");
  EXPECT_FALSE((*kept)[0].Text(1).empty());
  EXPECT_EQ((*kept)[0].Text(2), "/v1/users/sso-client");
  EXPECT_EQ((*kept)[0].Text(3), "sso client registered");
  // Asking again makes a new secret: the old one stops working.
  HttpResponse again = AskCredentials();
  ASSERT_EQ(again.status(), 200);
  EXPECT_FALSE(clients_registry_->Authenticate("shop-b", grant->client_secret).has_value());
}

TEST_F(MainUsersEndpointsTest, ABodySignedByAnotherPartnerThanTheTlsPeerIsRefused) {
  // shop-c signs, but the TLS connection is shop-b's.
  HttpResponse r = endpoints_->Handle(Signed(*shop_c_, "/v1/users/sso-client", "{}", "shop-b"));
  EXPECT_EQ(r.status(), 401);
  EXPECT_THAT(std::string(r.body()), HasSubstr("not the connected partner"));
  EXPECT_EQ(Clients(), 0);
  EXPECT_EQ(Kept(), 0);
}

TEST_F(MainUsersEndpointsTest, ForgedOrUnsignedRequestsAreRefused) {
  // The signature of one body on another.
  HttpRequest good = Signed(*shop_b_, "/v1/users/sso-client", "{}");
  HttpRequest altered("POST", "/v1/users/sso-client");
  for (const HttpHeaderView& h : good.Headers()) altered.AddHeader(h.name, h.value);
  altered.SetBody("{ }");
  altered.SetPeerSiteIdForTest("shop-b");
  EXPECT_EQ(endpoints_->Handle(altered).status(), 401);
  // A key from another CA, for the same partner id.
  auto foreign_ca = CertificateAuthority::Create(*env_, "someone else's CA", 86400);
  ASSERT_TRUE(foreign_ca.ok());
  auto forger = Client("shop-b", *foreign_ca);
  EXPECT_EQ(endpoints_->Handle(Signed(*forger, "/v1/users/sso-client", "{}")).status(), 401);
  // No signature at all; no partner behind the connection; main itself.
  HttpRequest bare("POST", "/v1/users/sso-client");
  bare.AddHeader("Content-Type", "application/json");
  bare.SetBody("{}");
  bare.SetPeerSiteIdForTest("shop-b");
  EXPECT_EQ(endpoints_->Handle(bare).status(), 401);
  EXPECT_EQ(endpoints_->Handle(Signed(*shop_b_, "/v1/users/sso-client", "{}", "")).status(), 401);
  EXPECT_EQ(endpoints_->Handle(Signed(*shop_b_, "/v1/users/sso-client", "{}", "main")).status(),
            401);
  EXPECT_EQ(Clients(), 0);
  EXPECT_EQ(Kept(), 0);
}

TEST_F(MainUsersEndpointsTest, AReplayedNonceIsRefused) {
  HttpRequest r = Signed(*shop_b_, "/v1/users/sso-client", "{}");
  EXPECT_EQ(endpoints_->Handle(r).status(), 200);
  HttpResponse again = endpoints_->Handle(r);
  EXPECT_EQ(again.status(), 409);
  EXPECT_THAT(std::string(again.body()), HasSubstr("replay"));
  EXPECT_EQ(Kept(), 1);
}

TEST_F(MainUsersEndpointsTest, AReplayAfterMainRestartsIsRefused) {
  // A request captured on the wire: accepted once.
  HttpRequest captured = Signed(*shop_b_, "/v1/users/sso-client", "{}");
  EXPECT_EQ(endpoints_->Handle(captured).status(), 200);
  // Main restarts: new endpoints (a new verifier, an empty memory cache) on the same database.
  OpenMain();

  HttpResponse replayed = endpoints_->Handle(captured);
  EXPECT_EQ(replayed.status(), 409);
  EXPECT_THAT(std::string(replayed.body()), HasSubstr("replayed"));
  // A fresh request of the same partner still goes through.
  EXPECT_EQ(AskCredentials().status(), 200);
}

TEST_F(MainUsersEndpointsTest, OversizedBodiesAreClearErrorsAndStoreNothing) {
  HttpResponse big = AskCredentials(R"({"pad":")" + std::string(5000, 'x') + R"("})");
  EXPECT_EQ(big.status(), 413);
  EXPECT_THAT(std::string(big.body()), HasSubstr("larger than 4096 bytes"));
  EXPECT_EQ(Clients(), 0);
  EXPECT_EQ(Kept(), 0);
}

TEST_F(MainUsersEndpointsTest, OnlyPostOnItsPathAndTheOldForwardingIsGone) {
  HttpRequest get("GET", "/v1/users/sso-client");
  get.SetPeerSiteIdForTest("shop-b");
  EXPECT_EQ(endpoints_->Handle(get).status(), 400);
  // Registrations and sign-ins are no longer forwarded: the password is typed only at main.
  for (const char* path : {"/v1/users/register", "/v1/users/login", "/v1/users/delete"}) {
    HttpResponse r = endpoints_->Handle(Signed(*shop_b_, path, "{}"));
    EXPECT_EQ(r.status(), 404) << path;
  }
  EXPECT_EQ(Kept(), 0);
}

TEST_F(MainUsersEndpointsTest, NoSecretOrSignatureIsKept) {
  HttpRequest ask = Signed(*shop_b_, "/v1/users/sso-client", "{}");
  HttpResponse r = endpoints_->Handle(ask);
  ASSERT_EQ(r.status(), 200);
  auto grant = users::SsoClientGrantFromJson(r.body());
  ASSERT_TRUE(grant.ok());
  const std::vector<std::string> secrets = {grant->client_secret,
                                            std::string(ask.HeaderOr("Signature")),
                                            std::string(ask.HeaderOr("Content-Digest"))};
  auto tables = ListTables(*db_);
  ASSERT_TRUE(tables.ok());
  ASSERT_FALSE(tables->empty());
  for (const std::string& t : *tables) {
    auto rows = db_->Query("SELECT * FROM \"" + t + "\"");
    ASSERT_TRUE(rows.ok());
    for (const SqlRow& row : *rows) {
      for (size_t i = 0; i < row.size(); ++i) {
        for (const std::string& secret : secrets) {
          EXPECT_THAT(row.Text(i), Not(HasSubstr(secret))) << t;
        }
      }
    }
  }
  EXPECT_EQ(Kept(), 1);
}

}  // namespace
}  // namespace tieup

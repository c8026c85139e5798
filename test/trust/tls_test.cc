#include "trust/tls.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <set>

#include "test_support.h"

namespace tieup {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

constexpr int64_t kYear = 365 * 86400;

// A site's TLS identity as enrollment would leave it.
struct Identity {
  Certificate cert;
  CertificateKey key;
};

Identity Enroll(Env& env, const CertificateAuthority& ca, const std::string& site) {
  CertificateKey key = CertificateKey::Generate(env);
  auto cert = ca.SignRequest(*MakeCertificateRequest(key, site), site, kYear);
  EXPECT_THAT(cert, IsOk());
  return {*cert, key};
}

// What each side saw on one connection.
struct Outcome {
  boost::system::error_code server_handshake;
  boost::system::error_code client_handshake;
  boost::system::error_code client_io;  // the echo after a client-side handshake
  std::string echoed;
  std::string server_saw_peer;
  std::string client_saw_peer;
  std::string server_refusal;
  std::string client_refusal;
  int version = 0;

  bool Connected() const { return !server_handshake && !client_handshake && echoed == "hello"; }
};

// Runs one connection on 127.0.0.1 (port 0) between a tiny TLS echo server and a client, both
// asynchronous on one io_context. The run_for bound only protects the suite from a hang.
Outcome Connect(ssl::context& server_ctx, ssl::context& client_ctx,
                std::function<void(SSL*)> client_setup = {}) {
  Outcome out;
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  ssl::stream<tcp::socket> server(io, server_ctx);
  ssl::stream<tcp::socket> client(io, client_ctx);
  if (client_setup) client_setup(client.native_handle());
  char server_buf[5];
  char client_buf[5];

  acceptor.async_accept(server.next_layer(), [&](boost::system::error_code ec) {
    if (ec) return;
    server.async_handshake(ssl::stream_base::server, [&](boost::system::error_code hec) {
      out.server_handshake = hec;
      out.server_refusal = PeerRefusalReason(server);
      if (hec) {
        server.next_layer().close();
        return;
      }
      auto peer = PeerSiteId(server);
      out.server_saw_peer = peer.ok() ? *peer : peer.status().message();
      net::async_read(server, net::buffer(server_buf), [&](boost::system::error_code rec, size_t) {
        if (rec) return server.next_layer().close();
        net::async_write(server, net::buffer(server_buf),
                         [&](boost::system::error_code, size_t) {});
      });
    });
  });
  client.next_layer().async_connect(acceptor.local_endpoint(), [&](boost::system::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    client.async_handshake(ssl::stream_base::client, [&](boost::system::error_code hec) {
      out.client_handshake = hec;
      out.client_refusal = PeerRefusalReason(client);
      if (hec) {
        client.next_layer().close();
        return;
      }
      out.version = SSL_version(client.native_handle());
      auto peer = PeerSiteId(client);
      out.client_saw_peer = peer.ok() ? *peer : peer.status().message();
      net::async_write(client, net::buffer("hello", 5), [&](boost::system::error_code wec, size_t) {
        if (wec) {
          out.client_io = wec;
          return;
        }
        net::async_read(client, net::buffer(client_buf),
                        [&](boost::system::error_code rec, size_t) {
                          out.client_io = rec;
                          if (!rec) out.echoed.assign(client_buf, 5);
                        });
      });
    });
  });
  io.run_for(std::chrono::seconds(20));
  return out;
}

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : env_(NewPosixEnv()),
        ca_(*CertificateAuthority::Create(*env_, "Example partnership CA", kYear)),
        main_(Enroll(*env_, ca_, "main")),
        shop_a_(Enroll(*env_, ca_, "shop-a")),
        shop_b_(Enroll(*env_, ca_, "shop-b")) {}

  // Main's sync server: accepts any enrolled partner that is not revoked.
  TlsContextPtr MainServer() {
    auto ctx = MakeServerContext(
        ca_.certificate(), main_.cert, main_.key,
        PeerCheck::AnyOf([this](std::string_view id) { return enrolled_.count(std::string(id)); },
                         [this](std::string_view, std::string_view fp) {
                           return revoked_.count(std::string(fp)) > 0;
                         }));
    EXPECT_THAT(ctx, IsOk());
    return *ctx;
  }
  // A partner's client: expects main.
  TlsContextPtr PartnerClient(const Identity& id) {
    auto ctx = MakeClientContext(ca_.certificate(), id.cert, id.key, PeerCheck::Site("main"));
    EXPECT_THAT(ctx, IsOk());
    return *ctx;
  }

  std::unique_ptr<Env> env_;
  CertificateAuthority ca_;
  Identity main_;
  Identity shop_a_;
  Identity shop_b_;
  std::set<std::string> enrolled_ = {"shop-a", "shop-b"};
  std::set<std::string> revoked_;
};

TEST_F(TlsTest, MutualHandshakeNamesBothSites) {
  Outcome o = Connect(*MainServer(), *PartnerClient(shop_a_));
  EXPECT_TRUE(o.Connected()) << o.server_handshake.message() << " / "
                             << o.client_handshake.message() << " / " << o.server_refusal
                             << o.client_refusal;
  EXPECT_EQ(o.server_saw_peer, "shop-a");
  EXPECT_EQ(o.client_saw_peer, "main");
  EXPECT_EQ(o.version, TLS1_3_VERSION);
  EXPECT_EQ(o.server_refusal, "");
}

TEST_F(TlsTest, MainConnectsToAPartnerServer) {
  // The other direction: the partner serves, main is the client and names whom it expects.
  auto server =
      MakeServerContext(ca_.certificate(), shop_a_.cert, shop_a_.key, PeerCheck::Site("main"));
  ASSERT_THAT(server, IsOk());
  auto client = MakeClientContext(ca_.certificate(), main_.cert, main_.key,
                                  PeerCheck::AnyOf([](std::string_view) { return false; }));
  ASSERT_THAT(client, IsOk());
  Outcome o = Connect(**server, **client,
                      [](SSL* ssl) { ASSERT_THAT(SetExpectedPeerSiteId(ssl, "shop-a"), IsOk()); });
  EXPECT_TRUE(o.Connected()) << o.client_refusal << o.server_refusal;
  EXPECT_EQ(o.server_saw_peer, "main");
  EXPECT_EQ(o.client_saw_peer, "shop-a");
}

TEST_F(TlsTest, ClientExpectingAnotherPartnerRefusesServer) {
  auto server =
      MakeServerContext(ca_.certificate(), shop_b_.cert, shop_b_.key, PeerCheck::Site("main"));
  auto client = MakeClientContext(ca_.certificate(), main_.cert, main_.key, PeerCheck::Site("x"));
  ASSERT_THAT(server, IsOk());
  ASSERT_THAT(client, IsOk());
  Outcome o = Connect(**server, **client,
                      [](SSL* ssl) { ASSERT_THAT(SetExpectedPeerSiteId(ssl, "shop-a"), IsOk()); });
  EXPECT_TRUE(o.client_handshake);
  EXPECT_EQ(o.client_refusal, "peer certificate names site 'shop-b', but 'shop-a' was expected");
  EXPECT_TRUE(o.server_handshake);
}

TEST_F(TlsTest, ClientWithoutCertificateIsRefused) {
  ssl::context bare(ssl::context::tls_client);
  bare.add_certificate_authority(net::buffer(ca_.certificate().ToPem()));
  Outcome o = Connect(*MainServer(), bare);
  EXPECT_TRUE(o.server_handshake);
  EXPECT_EQ(o.server_saw_peer, "");
  // In TLS 1.3 the client finishes first; it learns of the refusal on its first read.
  EXPECT_FALSE(o.Connected());
  EXPECT_TRUE(o.client_handshake || o.client_io);
}

TEST_F(TlsTest, CertificateFromAnotherCaIsRefused) {
  auto other_ca = CertificateAuthority::Create(*env_, "Other partnership CA", kYear);
  ASSERT_THAT(other_ca, IsOk());
  Identity impostor = Enroll(*env_, *other_ca, "shop-a");
  // The impostor trusts our CA (so it goes on to present its certificate) but its own
  // certificate comes from the other CA: built by hand, as MakeClientContext refuses it.
  ssl::context client(ssl::context::tls_client);
  client.add_certificate_authority(net::buffer(ca_.certificate().ToPem()));
  client.use_certificate(net::buffer(impostor.cert.ToPem()), ssl::context::pem);
  std::string key_pem = impostor.key.ToPem();
  client.use_private_key(net::buffer(key_pem), ssl::context::pem);
  Outcome o = Connect(*MainServer(), client);
  EXPECT_TRUE(o.server_handshake);
  EXPECT_THAT(o.server_refusal, HasSubstr("peer certificate for 'shop-a' was not issued by this "
                                          "partnership's CA"));
  EXPECT_FALSE(o.Connected());

  // And a partner refuses a server whose certificate another CA issued.
  auto fake_main = Enroll(*env_, *other_ca, "main");
  auto server = MakeServerContext(other_ca->certificate(), fake_main.cert, fake_main.key,
                                  PeerCheck::AnyOf(nullptr));
  ASSERT_THAT(server, IsOk());
  Outcome o2 = Connect(**server, *PartnerClient(shop_a_));
  EXPECT_TRUE(o2.client_handshake);
  EXPECT_THAT(o2.client_refusal, HasSubstr("was not issued by this partnership's CA"));
}

TEST_F(TlsTest, RightCaButWrongSiteIsRefused) {
  // A partner's client must reach main; shop-b pretending to be main's server is refused.
  auto server =
      MakeServerContext(ca_.certificate(), shop_b_.cert, shop_b_.key, PeerCheck::AnyOf(nullptr));
  ASSERT_THAT(server, IsOk());
  Outcome o = Connect(**server, *PartnerClient(shop_a_));
  EXPECT_TRUE(o.client_handshake);
  EXPECT_EQ(o.client_refusal, "peer certificate names site 'shop-b', but 'main' was expected");
  EXPECT_FALSE(o.Connected());
}

TEST_F(TlsTest, SiteThatIsNotEnrolledIsRefused) {
  Identity stranger = Enroll(*env_, ca_, "shop-z");
  Outcome o = Connect(*MainServer(), *PartnerClient(stranger));
  EXPECT_TRUE(o.server_handshake);
  EXPECT_EQ(o.server_refusal,
            "peer certificate names site 'shop-z', which is not an enrolled partner of this site");
  EXPECT_FALSE(o.Connected());
}

TEST_F(TlsTest, RevokedPartnerIsRefused) {
  revoked_.insert(CertificateFingerprint(shop_a_.cert));
  auto server = MainServer();
  Outcome o = Connect(*server, *PartnerClient(shop_a_));
  EXPECT_TRUE(o.server_handshake);
  EXPECT_THAT(o.server_refusal, HasSubstr("site 'shop-a' presented certificate sha256:" +
                                          CertificateFingerprint(shop_a_.cert).substr(0, 16)));
  EXPECT_THAT(o.server_refusal, HasSubstr("which is revoked: refusing the connection"));
  EXPECT_FALSE(o.Connected());
  // Another partner on the same context still gets in: the check is per certificate.
  Outcome ok = Connect(*server, *PartnerClient(shop_b_));
  EXPECT_TRUE(ok.Connected());
  EXPECT_EQ(ok.server_saw_peer, "shop-b");
}

TEST_F(TlsTest, ExpiredPeerCertificateIsRefused) {
  // A CA made on a clock two days back issues shop-a a certificate valid for one day: expired
  // now, though it chains correctly.
  ::tieup::testing::FakeClockEnv past(env_->NowMicros() - 2 * 86400 * int64_t{1'000'000});
  auto ca_in_past = CertificateAuthority::Create(past, "Past CA", kYear);
  ASSERT_THAT(ca_in_past, IsOk());
  CertificateKey key = CertificateKey::Generate(past);
  auto old = ca_in_past->SignRequest(*MakeCertificateRequest(key, "shop-a"), "shop-a", 86400);
  ASSERT_THAT(old, IsOk());
  Identity main_past = Enroll(*env_, *ca_in_past, "main");
  auto server = MakeServerContext(ca_in_past->certificate(), main_past.cert, main_past.key,
                                  PeerCheck::AnyOf(nullptr));
  ASSERT_THAT(server, IsOk());
  // Built by hand: MakeClientContext would also load the expired certificate, but this keeps
  // the test about the server's check.
  ssl::context client(ssl::context::tls_client);
  client.add_certificate_authority(net::buffer(ca_in_past->certificate().ToPem()));
  client.use_certificate(net::buffer(old->ToPem()), ssl::context::pem);
  std::string key_pem = key.ToPem();
  client.use_private_key(net::buffer(key_pem), ssl::context::pem);
  Outcome o = Connect(**server, client);
  EXPECT_TRUE(o.server_handshake);
  EXPECT_EQ(o.server_refusal,
            "peer certificate for 'shop-a' failed verification: certificate has expired");
  EXPECT_FALSE(o.Connected());
}

TEST_F(TlsTest, Tls12OnlyClientIsRefused) {
  auto client = PartnerClient(shop_a_);
  SSL_CTX_set_min_proto_version(client->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(client->native_handle(), TLS1_2_VERSION);
  Outcome o = Connect(*MainServer(), *client);
  EXPECT_TRUE(o.server_handshake);
  EXPECT_TRUE(o.client_handshake);
  EXPECT_FALSE(o.Connected());
}

TEST_F(TlsTest, ContextRefusesMismatchedIdentity) {
  EXPECT_THAT(MakeServerContext(ca_.certificate(), shop_a_.cert, shop_b_.key, PeerCheck{}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("does not belong")));
  auto other_ca = CertificateAuthority::Create(*env_, "Other partnership CA", kYear);
  Identity foreign = Enroll(*env_, *other_ca, "shop-a");
  EXPECT_THAT(MakeClientContext(ca_.certificate(), foreign.cert, foreign.key, PeerCheck{}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("was not issued by")));
  EXPECT_THAT(MakeClientContext(shop_a_.cert, shop_a_.cert, shop_a_.key, PeerCheck{}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not a CA certificate")));
  EXPECT_THAT(MakeClientContext(ca_.certificate(), ca_.certificate(), ca_.key(), PeerCheck{}),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("own certificate")));
}

TEST_F(TlsTest, PeerSiteIdWithoutHandshakeFails) {
  auto ctx = PartnerClient(shop_a_);
  SSL* ssl = SSL_new(ctx->native_handle());
  EXPECT_THAT(PeerSiteId(ssl), StatusIs(StatusCode::kUnauthenticated, HasSubstr("no certificate")));
  EXPECT_EQ(PeerRefusalReason(ssl), "");
  EXPECT_THAT(SetExpectedPeerSiteId(ssl, "Not An Id"), StatusIs(StatusCode::kInvalidArgument));
  SSL_free(ssl);
}

class EnrollmentTlsTest : public TlsTest {
 protected:
  // Main's sync server as it runs: partners with certificates, and enrolling partners without.
  TlsContextPtr MainServerAllowingEnrollment() {
    PeerCheck check = PeerCheck::AnyOf(
        [this](std::string_view id) { return enrolled_.count(std::string(id)) > 0; });
    check.allow_anonymous_client = true;
    auto ctx = MakeServerContext(ca_.certificate(), main_.cert, main_.key, std::move(check));
    EXPECT_THAT(ctx, IsOk());
    return *ctx;
  }
};

TEST_F(EnrollmentTlsTest, AnonymousClientConnectsButHasNoSiteId) {
  auto client = MakeAnonymousClientContext(ca_.certificate(), PeerCheck::Site("main"));
  ASSERT_THAT(client, IsOk());
  Outcome o = Connect(*MainServerAllowingEnrollment(), **client);
  EXPECT_TRUE(o.Connected()) << o.server_refusal << o.client_refusal;
  EXPECT_EQ(o.client_saw_peer, "main");
  EXPECT_THAT(o.server_saw_peer, ::testing::HasSubstr("certificate"));  // unauthenticated
}

TEST_F(EnrollmentTlsTest, PresentedCertificatesAreStillCheckedInFull) {
  enrolled_.erase("shop-b");
  Outcome o = Connect(*MainServerAllowingEnrollment(), *PartnerClient(shop_b_));
  EXPECT_FALSE(o.Connected());
  EXPECT_NE(o.server_refusal, "");
  o = Connect(*MainServerAllowingEnrollment(), *PartnerClient(shop_a_));
  EXPECT_TRUE(o.Connected());
  EXPECT_EQ(o.server_saw_peer, "shop-a");
}

TEST_F(EnrollmentTlsTest, AnonymousClientRefusedByAServerThatRequiresCertificates) {
  auto client = MakeAnonymousClientContext(ca_.certificate(), PeerCheck::Site("main"));
  ASSERT_THAT(client, IsOk());
  Outcome o = Connect(*MainServer(), **client);
  EXPECT_FALSE(o.Connected());
}

TEST_F(EnrollmentTlsTest, AnonymousClientStillRefusesAServerFromAnotherCa) {
  auto other_ca = CertificateAuthority::Create(*env_, "Impostor CA", kYear);
  ASSERT_THAT(other_ca, IsOk());
  Identity impostor = Enroll(*env_, *other_ca, "main");
  PeerCheck check;
  check.allow_anonymous_client = true;
  auto server = MakeServerContext(other_ca->certificate(), impostor.cert, impostor.key, check);
  ASSERT_THAT(server, IsOk());
  auto client = MakeAnonymousClientContext(ca_.certificate(), PeerCheck::Site("main"));
  ASSERT_THAT(client, IsOk());
  Outcome o = Connect(**server, **client);
  EXPECT_TRUE(o.client_handshake);
}

TEST_F(EnrollmentTlsTest, BootstrapContextConnectsWithoutVerifying) {
  auto client = MakeBootstrapClientContext();
  ASSERT_THAT(client, IsOk());
  Outcome o = Connect(*MainServerAllowingEnrollment(), **client);
  EXPECT_TRUE(o.Connected()) << o.server_refusal << o.client_refusal;
}

}  // namespace
}  // namespace tieup

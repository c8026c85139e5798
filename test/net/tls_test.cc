// HttpServer and HttpClient over mutually authenticated TLS (the sync port): a partnership CA
// and site certificates made here, a real server on 127.0.0.1 port 0, real clients.
#include "trust/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http/write.hpp>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "net/http_client.h"
#include "net/http_client_pool.h"
#include "net/http_server.h"
#include "net_test_util.h"
#include "test_support.h"

namespace tieup {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using nettest::FunctionHandler;
using nettest::TestConnection;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::IsOk;
using ::testing::Not;
using testing::StatusIs;

constexpr int64_t kYear = 365 * 86400;

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

// Answers "<peer site id>|<method> <path>|<body>".
std::shared_ptr<HttpHandler> PeerEchoHandler() {
  return std::make_shared<FunctionHandler>([](const HttpRequest& req, HttpResponder responder) {
    responder.Respond(
        HttpResponse::Text(200, std::string(req.peer_site_id()) + "|" + std::string(req.method()) +
                                    " " + std::string(req.path()) + "|" + std::string(req.body())));
  });
}

// A TLS client stream driven by hand (for what HttpClient does not do: stall, half requests,
// watching the server's close). Every operation gives up after a timeout.
class RawTlsClient {
 public:
  RawTlsClient(ssl::context& ctx, uint16_t port) : stream_(ioc_, ctx) {
    stream_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                 connect_error_);
  }

  beast::error_code Handshake() {
    if (connect_error_) return connect_error_;
    return Run([&](auto done) { stream_.async_handshake(ssl::stream_base::client, done); });
  }
  beast::error_code Send(std::string_view bytes) {
    return Run([&](auto done) {
      asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), done);
    });
  }
  beast::error_code Read(nettest::RawResponse* out) {
    http::response_parser<http::string_body> parser;
    beast::error_code ec =
        Run([&](auto done) { http::async_read(stream_, buffer_, parser, done); });
    if (!ec) *out = parser.release();
    return ec;
  }
  // Reads until the stream ends; returns how it ended (asio::error::eof after a close_notify).
  beast::error_code ReadToEnd() {
    for (;;) {
      char chunk[1024];
      size_t n = 0;
      beast::error_code ec = Run([&](auto done) {
        stream_.async_read_some(asio::buffer(chunk), [&, done](beast::error_code e, size_t got) {
          n = got;
          done(e, got);
        });
      });
      if (ec) return ec;
      (void)n;
    }
  }
  // Answers the server's close_notify with ours.
  beast::error_code Shutdown() {
    return Run([&](auto done) { stream_.async_shutdown(done); });
  }

 private:
  template <typename Start>
  beast::error_code Run(Start&& start) {
    beast::error_code result = beast::error::timeout;
    bool finished = false;
    auto done = [&](beast::error_code ec, auto&&...) {
      result = ec;
      finished = true;
    };
    start(done);
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(10));
    if (!finished) {
      beast::error_code ignored;
      stream_.next_layer().cancel(ignored);
      ioc_.restart();
      ioc_.run();
      return beast::error::timeout;
    }
    return result;
  }

  asio::io_context ioc_;
  ssl::stream<tcp::socket> stream_;
  beast::error_code connect_error_;
  beast::flat_buffer buffer_;
};

class NetTlsTest : public ::testing::Test {
 protected:
  NetTlsTest()
      : env_(NewPosixEnv()),
        ca_(*CertificateAuthority::Create(*env_, "Example partnership CA", kYear)),
        main_(Enroll(*env_, ca_, "main")),
        shop_a_(Enroll(*env_, ca_, "shop-a")),
        shop_b_(Enroll(*env_, ca_, "shop-b")),
        logger_(std::make_shared<spdlog::logger>(
            "tls-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_))) {
    logger_->set_level(spdlog::level::info);
  }

  ~NetTlsTest() override {
    if (server_) server_->Stop();
  }

  // Main's sync server context: any enrolled partner that is not revoked.
  TlsContextPtr MainServerContext() {
    auto ctx = MakeServerContext(
        ca_.certificate(), main_.cert, main_.key,
        PeerCheck::AnyOf([](std::string_view id) { return id == "shop-a" || id == "shop-b"; },
                         [this](std::string_view, std::string_view fingerprint) {
                           std::lock_guard<std::mutex> lock(revoked_mu_);
                           return revoked_.count(std::string(fingerprint)) > 0;
                         }));
    EXPECT_THAT(ctx, IsOk());
    return *ctx;
  }
  // A partner's server context (a partner accepts only main).
  TlsContextPtr PartnerServerContext(const Identity& id) {
    auto ctx = MakeServerContext(ca_.certificate(), id.cert, id.key, PeerCheck::Site("main"));
    EXPECT_THAT(ctx, IsOk());
    return *ctx;
  }
  // A partner's client options: presents `id`, expects main.
  HttpClientOptions PartnerClient(const Identity& id) {
    auto ctx = MakeClientContext(ca_.certificate(), id.cert, id.key, PeerCheck::Site("main"));
    EXPECT_THAT(ctx, IsOk());
    HttpClientOptions o;
    o.tls = *ctx;
    return o;
  }
  // Main's client options: one context for every partner; the connection names the partner.
  HttpClientOptions MainClient(std::string expected_partner) {
    auto ctx = MakeClientContext(ca_.certificate(), main_.cert, main_.key,
                                 PeerCheck::AnyOf([](std::string_view) { return true; }));
    EXPECT_THAT(ctx, IsOk());
    HttpClientOptions o;
    o.tls = *ctx;
    o.expected_peer_site_id = std::move(expected_partner);
    return o;
  }
  // A TLS 1.3 client context built by hand: trusts `trusted_ca`, presents `id` when given (no
  // checks of our own, so it can present what MakeClientContext would refuse).
  std::shared_ptr<ssl::context> RawClientContext(const Certificate& trusted_ca,
                                                 const Identity* id) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
    std::string ca_pem = trusted_ca.ToPem();
    ctx->add_certificate_authority(asio::buffer(ca_pem));
    ctx->set_verify_mode(ssl::verify_peer);
    if (id != nullptr) {
      std::string cert_pem = id->cert.ToPem();
      std::string key_pem = id->key.ToPem();
      ctx->use_certificate(asio::buffer(cert_pem), ssl::context::pem);
      ctx->use_private_key(asio::buffer(key_pem), ssl::context::pem);
    }
    return ctx;
  }

  void StartServer(TlsContextPtr ctx, std::shared_ptr<HttpHandler> handler = PeerEchoHandler(),
                   std::function<void(HttpServerOptions&)> tweak = {}) {
    HttpServerOptions o;
    o.threads = 2;
    o.tls = std::move(ctx);
    o.logger = logger_;
    o.access_hook = [this](const AccessEvent& e) {
      std::lock_guard<std::mutex> lock(access_mu_);
      access_peers_.emplace_back(e.peer_site_id);
    };
    if (tweak) tweak(o);
    server_ = std::make_unique<HttpServer>(*env_, o, std::move(handler));
    ASSERT_THAT(server_->Start(), IsOk());
  }

  std::string Where() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  // Waits (bounded) until the server has counted `n` failed handshakes; returns the log.
  std::string LogAfterFailures(uint64_t n) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server_->stats().tls_handshake_failures < n &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
    EXPECT_EQ(server_->stats().tls_handshake_failures, n);
    logger_->flush();
    return log_.str();
  }

  std::string Fingerprint(const Identity& id) { return CertificateFingerprint(id.cert); }

  std::unique_ptr<Env> env_;
  CertificateAuthority ca_;
  Identity main_;
  Identity shop_a_;
  Identity shop_b_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex revoked_mu_;
  std::set<std::string> revoked_;
  std::mutex access_mu_;
  std::vector<std::string> access_peers_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(NetTlsTest, GetAndPostReachTheHandlerWithThePeerSiteId) {
  StartServer(MainServerContext());
  HttpClient client("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  Result<HttpResponse> get = client.Fetch(HttpRequest("GET", "/sync/offer?x=1"));
  ASSERT_THAT(get, IsOk());
  EXPECT_EQ(get->status(), 200);
  EXPECT_EQ(get->body(), "shop-a|GET /sync/offer|");
  EXPECT_EQ(client.peer_site_id(), "main");

  HttpRequest post("POST", "/sync/response");
  post.SetBody("affirmative");
  Result<HttpResponse> posted = client.Fetch(post);
  ASSERT_THAT(posted, IsOk());
  EXPECT_EQ(posted->body(), "shop-a|POST /sync/response|affirmative");

  client.Close();
  server_->Stop();
  std::lock_guard<std::mutex> lock(access_mu_);
  EXPECT_EQ(access_peers_, (std::vector<std::string>{"shop-a", "shop-a"}));
}

// One listening socket on 0.0.0.0 serving two partners' sync ports, one loopback address each
// (the partner simulator's arrangement): main reaching 127.0.0.2 meets shop-a's certificate,
// 127.0.0.3 shop-b's; any other address is refused before a byte is sent. Clients leave from a
// chosen address (HttpClientOptions::local_address), which the handler sees.
TEST_F(NetTlsTest, AContextPerLocalAddressServesSeveralSitesOnOnePort) {
  TlsContextPtr a = PartnerServerContext(shop_a_);
  TlsContextPtr b = PartnerServerContext(shop_b_);
  std::atomic<int> asked{0};
  StartServer(nullptr,
              std::make_shared<FunctionHandler>([](const HttpRequest& req, HttpResponder r) {
                r.Respond(HttpResponse::Text(200, std::string(req.local_address()) + " from " +
                                                      std::string(req.remote_address())));
              }),
              [&](HttpServerOptions& o) {
                o.address = "0.0.0.0";
                o.tls_by_local_address = [&](std::string_view local) -> ssl::context* {
                  asked.fetch_add(1);
                  if (local == "127.0.0.2") return a.get();
                  if (local == "127.0.0.3") return b.get();
                  return nullptr;
                };
              });
  HttpClientOptions to_a = MainClient("shop-a");
  to_a.local_address = "127.0.0.9";
  HttpClient client_a("127.0.0.2", server_->port(), to_a);
  Result<HttpResponse> r = client_a.Fetch(HttpRequest("GET", "/v1/status"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), "127.0.0.2 from 127.0.0.9");
  EXPECT_EQ(client_a.peer_site_id(), "shop-a");

  HttpClient client_b("127.0.0.3", server_->port(), MainClient("shop-b"));
  r = client_b.Fetch(HttpRequest("GET", "/v1/status"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), "127.0.0.3 from 127.0.0.1");

  // shop-a's address with shop-b expected: main refuses the certificate it is shown.
  HttpClient wrong("127.0.0.2", server_->port(), MainClient("shop-b"));
  EXPECT_THAT(wrong.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("shop-a")));
  // No site at this address: the connection is closed at once.
  HttpClient none("127.0.0.4", server_->port(), MainClient("shop-a"));
  EXPECT_THAT(none.Fetch(HttpRequest("GET", "/")), Not(IsOk()));
  EXPECT_EQ(asked.load(), 4);

  HttpClientOptions bad = MainClient("shop-a");
  bad.local_address = "not-an-address";
  HttpClient from_nowhere("127.0.0.2", server_->port(), bad);
  EXPECT_THAT(from_nowhere.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not-an-address")));
}

TEST_F(NetTlsTest, TheHandlerSeesThePeersCertificateFingerprint) {
  StartServer(MainServerContext(),
              std::make_shared<FunctionHandler>([](const HttpRequest& req, HttpResponder r) {
                r.Respond(HttpResponse::Text(200, std::string(req.peer_certificate_fingerprint())));
              }));
  HttpClient client("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), Fingerprint(shop_a_));
}

TEST_F(NetTlsTest, DisconnectPeersClosesTheChosenPeersKeptConnections) {
  StartServer(MainServerContext());
  HttpClient a("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  HttpClient b("127.0.0.1", server_->port(), PartnerClient(shop_b_));
  ASSERT_THAT(a.Fetch(HttpRequest("GET", "/a")), IsOk());
  ASSERT_THAT(b.Fetch(HttpRequest("GET", "/b")), IsOk());
  ASSERT_EQ(server_->active_connections(), 2);
  const std::string fp = Fingerprint(shop_a_);
  int picked = server_->DisconnectPeers(
      [&](std::string_view id, std::string_view f) { return id == "shop-a" && f == fp; });
  EXPECT_EQ(picked, 1);
  EXPECT_TRUE(server_->WaitForConnectionsAtMost(1, std::chrono::seconds(10)));
  EXPECT_EQ(server_->active_connections(), 1);
  EXPECT_EQ(server_->stats().connections_evicted, 1u);
  // shop-b's connection is the one still open: its next request needs no new handshake.
  ASSERT_THAT(b.Fetch(HttpRequest("GET", "/b2")), IsOk());
  EXPECT_EQ(server_->stats().tls_handshakes, 2u);
}

TEST_F(NetTlsTest, AnonymousClientsGetShortDeadlinesAndOneRequestPerConnection) {
  PeerCheck check =
      PeerCheck::AnyOf([](std::string_view id) { return id == "shop-a" || id == "shop-b"; });
  check.allow_anonymous_client = true;
  auto ctx = MakeServerContext(ca_.certificate(), main_.cert, main_.key, std::move(check));
  ASSERT_THAT(ctx, IsOk());
  StartServer(*ctx, PeerEchoHandler(), [](HttpServerOptions& o) {
    o.unauthenticated_timeout = std::chrono::milliseconds(200);
  });
  auto anon = MakeAnonymousClientContext(ca_.certificate(), PeerCheck::Site("main"));
  ASSERT_THAT(anon, IsOk());
  HttpClientOptions o;
  o.tls = *anon;
  HttpClient client("127.0.0.1", server_->port(), o);
  Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/v1/ca"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), "|GET /v1/ca|");
  EXPECT_EQ(r->FindHeader("Connection").value_or(""), "close");

  // A silent anonymous client is dropped after the short deadline, not the 10 s header one.
  auto raw_ctx = RawClientContext(ca_.certificate(), nullptr);
  RawTlsClient silent(*raw_ctx, server_->port());
  ASSERT_FALSE(silent.Handshake());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(silent.ReadToEnd(), beast::error::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(NetTlsTest, KeepAliveReusesOneHandshake) {
  StartServer(MainServerContext());
  // A host name (not an IP literal): the client sends it as SNI.
  HttpClient client("localhost", server_->port(), PartnerClient(shop_b_));
  for (int i = 0; i < 5; ++i) {
    Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/n" + std::to_string(i)));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->body(), "shop-b|GET /n" + std::to_string(i) + "|");
  }
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  EXPECT_EQ(server_->stats().tls_handshakes, 1u);
  EXPECT_EQ(server_->active_connections(), 1);
}

TEST_F(NetTlsTest, APoolOfKeptConnectionsPaysOneHandshakeForAPartnersCalls) {
  StartServer(MainServerContext());
  HttpClientPool pool("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  for (int i = 0; i < 5; ++i) {
    HttpRequest post("POST", "/v1/event");
    post.SetBody(std::to_string(i));
    Result<HttpResponse> r = pool.FetchOnceMoreIfStale(post);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->body(), "shop-a|POST /v1/event|" + std::to_string(i));
  }
  EXPECT_EQ(server_->stats().tls_handshakes, 1u);
  EXPECT_EQ(pool.idle_connections(), 1u);
}

TEST_F(NetTlsTest, ClientReconnectsAfterTheServerClosedAnIdleConnection) {
  StartServer(MainServerContext(), PeerEchoHandler(),
              [](HttpServerOptions& o) { o.idle_timeout = std::chrono::milliseconds(100); });
  HttpClient client("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  ASSERT_THAT(client.Fetch(HttpRequest("GET", "/first")), IsOk());
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->active_connections() > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  ASSERT_EQ(server_->active_connections(), 0);
  // The client still holds the closed connection: the GET is retried on a new one.
  Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/second"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), "shop-a|GET /second|");
  EXPECT_EQ(server_->stats().tls_handshakes, 2u);
}

TEST_F(NetTlsTest, ServerClosingAfterEachResponse) {
  StartServer(MainServerContext(),
              std::make_shared<FunctionHandler>([](const HttpRequest& req, HttpResponder r) {
                HttpResponse response = HttpResponse::Text(200, std::string(req.peer_site_id()));
                response.set_close_connection(true);
                r.Respond(std::move(response));
              }));
  HttpClient client("127.0.0.1", server_->port(), PartnerClient(shop_b_));
  for (int i = 0; i < 3; ++i) {
    HttpRequest post("POST", "/once");
    post.SetBody("x");
    Result<HttpResponse> r = client.Fetch(post);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->body(), "shop-b");
    EXPECT_EQ(client.peer_site_id(), "");  // closed after the response
  }
  EXPECT_EQ(server_->stats().tls_handshakes, 3u);
}

TEST_F(NetTlsTest, LargeBodiesBothWays) {
  StartServer(MainServerContext(), PeerEchoHandler(),
              [](HttpServerOptions& o) { o.max_body_bytes = 4 * 1024 * 1024; });
  HttpClientOptions options = PartnerClient(shop_a_);
  options.max_body_bytes = 8 * 1024 * 1024;
  HttpClient client("127.0.0.1", server_->port(), options);
  std::string big(3 * 1024 * 1024 + 17, 'z');
  HttpRequest post("POST", "/upload");
  post.SetBody(big);
  Result<HttpResponse> r = client.Fetch(post);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), "shop-a|POST /upload|" + big);

  uint64_t streamed = 0;
  Result<HttpResponse> s = client.FetchStreaming(post, [&](std::string_view piece) {
    streamed += piece.size();
    return Status::Ok();
  });
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(streamed, r->body().size());
  EXPECT_EQ(s->body(), "");
}

TEST_F(NetTlsTest, ServerLimitsApplyOverTls) {
  StartServer(MainServerContext(), PeerEchoHandler(),
              [](HttpServerOptions& o) { o.max_body_bytes = 1000; });
  HttpClient client("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  HttpRequest post("POST", "/upload");
  post.SetBody(std::string(1001, 'x'));
  Result<HttpResponse> r = client.Fetch(post);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status(), 413);
  EXPECT_THAT(std::string(r->body()), HasSubstr("larger than 1000 bytes"));
}

TEST_F(NetTlsTest, SlowHeaderAfterHandshakeGets408) {
  StartServer(MainServerContext(), PeerEchoHandler(),
              [](HttpServerOptions& o) { o.header_timeout = std::chrono::milliseconds(200); });
  auto ctx = PartnerClient(shop_a_).tls;
  RawTlsClient raw(*ctx, server_->port());
  ASSERT_FALSE(raw.Handshake());
  ASSERT_FALSE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n"));
  nettest::RawResponse response;
  ASSERT_FALSE(raw.Read(&response));
  EXPECT_EQ(response.result_int(), 408);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_EQ(raw.ReadToEnd(), asio::error::eof);  // a close_notify, not a truncation
}

TEST_F(NetTlsTest, ClientWithoutCertificateIsRefused) {
  StartServer(MainServerContext());
  HttpClientOptions options;
  options.tls = RawClientContext(ca_.certificate(), nullptr);
  HttpClient client("127.0.0.1", server_->port(), options);
  EXPECT_THAT(client.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kUnauthenticated,
                       HasSubstr("the server refused this site (TLS alert: certificate "
                                 "required)")));
  EXPECT_THAT(LogAfterFailures(1),
              HasSubstr("tls: refused connection from 127.0.0.1: the peer presented no "
                        "certificate"));
  EXPECT_EQ(server_->stats().tls_handshakes, 0u);
}

TEST_F(NetTlsTest, ClientCertificateFromAnotherCaIsRefused) {
  auto other_ca = CertificateAuthority::Create(*env_, "Other partnership CA", kYear);
  ASSERT_THAT(other_ca, IsOk());
  Identity impostor = Enroll(*env_, *other_ca, "shop-a");
  StartServer(MainServerContext());
  HttpClientOptions options;
  options.tls = RawClientContext(ca_.certificate(), &impostor);
  HttpClient client("127.0.0.1", server_->port(), options);
  EXPECT_THAT(client.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("TLS alert: unknown CA")));
  EXPECT_THAT(LogAfterFailures(1),
              HasSubstr("refused connection from 127.0.0.1: peer certificate for 'shop-a' was "
                        "not issued by this partnership's CA"));
}

TEST_F(NetTlsTest, ServerExpectingOnePartnerRefusesAnother) {
  auto ctx = MakeServerContext(ca_.certificate(), main_.cert, main_.key, PeerCheck::Site("shop-a"));
  ASSERT_THAT(ctx, IsOk());
  StartServer(*ctx);
  HttpClient refused("127.0.0.1", server_->port(), PartnerClient(shop_b_));
  EXPECT_THAT(refused.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("refused")));
  EXPECT_THAT(LogAfterFailures(1),
              HasSubstr("refused connection from 127.0.0.1: peer certificate names site "
                        "'shop-b', but 'shop-a' was expected"));
  HttpClient accepted("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  Result<HttpResponse> r = accepted.Fetch(HttpRequest("GET", "/"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), "shop-a|GET /|");
}

TEST_F(NetTlsTest, PartnerClientRefusesAServerThatIsNotMain) {
  // shop-b's client expects main; the server is shop-a's.
  StartServer(PartnerServerContext(shop_a_));
  HttpClient client("127.0.0.1", server_->port(), PartnerClient(shop_b_));
  Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/"));
  EXPECT_THAT(r, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(r.status().message(), "TLS handshake with " + Where() +
                                      " failed: peer certificate names site 'shop-a', but "
                                      "'main' was expected");
  // The server saw the client hang up on it.
  EXPECT_THAT(LogAfterFailures(1),
              HasSubstr("dropped connection from 127.0.0.1: the peer refused the handshake"));
}

TEST_F(NetTlsTest, MainClientReachesOnlyTheNamedPartner) {
  StartServer(PartnerServerContext(shop_b_));
  HttpClient wrong("127.0.0.1", server_->port(), MainClient("shop-a"));
  Result<HttpResponse> r = wrong.Fetch(HttpRequest("GET", "/"));
  EXPECT_THAT(r, StatusIs(StatusCode::kUnauthenticated,
                          HasSubstr("peer certificate names site 'shop-b', but 'shop-a' was "
                                    "expected")));

  HttpClient right("127.0.0.1", server_->port(), MainClient("shop-b"));
  Result<HttpResponse> ok = right.Fetch(HttpRequest("GET", "/offer"));
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->body(), "main|GET /offer|");
  EXPECT_EQ(right.peer_site_id(), "shop-b");
}

TEST_F(NetTlsTest, InvalidExpectedPeerSiteIdIsAnError) {
  StartServer(PartnerServerContext(shop_b_));
  HttpClient client("127.0.0.1", server_->port(), MainClient("Not A Site"));
  EXPECT_THAT(client.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expected_peer_site_id")));
}

TEST_F(NetTlsTest, RevokedPartnerIsRefusedFromItsNextConnection) {
  StartServer(MainServerContext());
  {
    HttpClient before("127.0.0.1", server_->port(), PartnerClient(shop_a_));
    ASSERT_THAT(before.Fetch(HttpRequest("GET", "/")), IsOk());
  }
  {
    std::lock_guard<std::mutex> lock(revoked_mu_);
    revoked_.insert(Fingerprint(shop_a_));
  }
  HttpClient after("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  EXPECT_THAT(after.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("refused")));
  EXPECT_THAT(LogAfterFailures(1),
              AllOf(HasSubstr("refused connection from 127.0.0.1: site 'shop-a' presented "
                              "certificate sha256:" +
                              Fingerprint(shop_a_).substr(0, 16)),
                    HasSubstr("which is revoked")));
  HttpClient other("127.0.0.1", server_->port(), PartnerClient(shop_b_));
  EXPECT_THAT(other.Fetch(HttpRequest("GET", "/")), IsOk());
}

TEST_F(NetTlsTest, Tls12OnlyClientIsRefused) {
  StartServer(MainServerContext());
  HttpClientOptions options = PartnerClient(shop_a_);
  SSL_CTX_set_min_proto_version(options.tls->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(options.tls->native_handle(), TLS1_2_VERSION);
  HttpClient client("127.0.0.1", server_->port(), options);
  Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/"));
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable,
                          AllOf(HasSubstr("TLS handshake with " + Where() + " failed"),
                                HasSubstr("the sync port speaks TLS 1.3 only"))));
  EXPECT_THAT(LogAfterFailures(1), HasSubstr("the peer does not offer TLS 1.3"));
  EXPECT_EQ(server_->stats().tls_handshakes, 0u);
}

TEST_F(NetTlsTest, SilentClientIsDroppedAfterTheHeaderTimeoutAndOthersAreServed) {
  StartServer(MainServerContext(), PeerEchoHandler(), [](HttpServerOptions& o) {
    o.threads = 1;  // the silent connection shares the only worker with the good client
    o.header_timeout = std::chrono::milliseconds(300);
  });
  TestConnection silent(server_->port());
  ASSERT_TRUE(silent.connected());
  HttpClient client("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  EXPECT_THAT(client.Fetch(HttpRequest("GET", "/meanwhile")), IsOk());
  EXPECT_TRUE(silent.WaitForClose());
  EXPECT_THAT(LogAfterFailures(1),
              HasSubstr("dropped connection from 127.0.0.1: the TLS handshake did not complete "
                        "within 300 ms"));
  HttpClient after("127.0.0.1", server_->port(), PartnerClient(shop_b_));
  Result<HttpResponse> r = after.Fetch(HttpRequest("GET", "/after"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), "shop-b|GET /after|");
}

TEST_F(NetTlsTest, PlainHttpOnTheTlsPortIsDropped) {
  StartServer(MainServerContext());
  TestConnection plain(server_->port());
  ASSERT_TRUE(plain.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string rest;
  EXPECT_TRUE(plain.WaitForClose(std::chrono::seconds(5), &rest));
  EXPECT_THAT(rest, Not(HasSubstr("HTTP/1.1")));
  EXPECT_THAT(LogAfterFailures(1), HasSubstr("the peer does not speak TLS"));
}

TEST_F(NetTlsTest, PlainClientAgainstTheTlsPortFailsClearly) {
  StartServer(MainServerContext());
  HttpClient client("127.0.0.1", server_->port());
  EXPECT_THAT(client.Fetch(HttpRequest("GET", "/")), Not(IsOk()));
}

TEST_F(NetTlsTest, TlsClientAgainstAPlainServerFailsClearly) {
  HttpServerOptions o;
  o.threads = 1;
  server_ = std::make_unique<HttpServer>(*env_, o, PeerEchoHandler());
  ASSERT_THAT(server_->Start(), IsOk());
  HttpClient client("127.0.0.1", server_->port(), PartnerClient(shop_a_));
  EXPECT_THAT(client.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kUnavailable, HasSubstr("does not speak TLS")));
}

TEST_F(NetTlsTest, ManyConcurrentClients) {
  StartServer(MainServerContext());
  constexpr int kClients = 12;
  constexpr int kRequests = 5;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      const Identity& id = c % 2 == 0 ? shop_a_ : shop_b_;
      HttpClient client("127.0.0.1", server_->port(), PartnerClient(id));
      for (int i = 0; i < kRequests; ++i) {
        std::string path = "/c" + std::to_string(c) + "/" + std::to_string(i);
        Result<HttpResponse> r = client.Fetch(HttpRequest("GET", path));
        if (r.ok() && r->body() == id.cert.site_id() + "|GET " + path + "|") ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kClients * kRequests);
  EXPECT_EQ(server_->stats().tls_handshakes, static_cast<uint64_t>(kClients));
  EXPECT_EQ(server_->stats().tls_handshake_failures, 0u);
}

TEST_F(NetTlsTest, StopClosesIdleConnectionsWithCloseNotify) {
  StartServer(MainServerContext());
  auto ctx = PartnerClient(shop_a_).tls;
  RawTlsClient raw(*ctx, server_->port());
  ASSERT_FALSE(raw.Handshake());
  ASSERT_FALSE(raw.Send("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n"));
  nettest::RawResponse response;
  ASSERT_FALSE(raw.Read(&response));
  EXPECT_EQ(response.body(), "shop-a|GET /idle|");

  std::future<void> stopped = std::async(std::launch::async, [&] { server_->Stop(); });
  EXPECT_EQ(raw.ReadToEnd(), asio::error::eof);  // close_notify, not a truncated stream
  raw.Shutdown();
  stopped.wait();
  EXPECT_EQ(server_->active_connections(), 0);
}

TEST_F(NetTlsTest, IdleTimeoutClosesWithCloseNotify) {
  StartServer(MainServerContext(), PeerEchoHandler(),
              [](HttpServerOptions& o) { o.idle_timeout = std::chrono::milliseconds(200); });
  auto ctx = PartnerClient(shop_b_).tls;
  RawTlsClient raw(*ctx, server_->port());
  ASSERT_FALSE(raw.Handshake());
  ASSERT_FALSE(raw.Send("GET /once HTTP/1.1\r\nHost: x\r\n\r\n"));
  nettest::RawResponse response;
  ASSERT_FALSE(raw.Read(&response));
  EXPECT_TRUE(response.keep_alive());
  EXPECT_EQ(raw.ReadToEnd(), asio::error::eof);
}

TEST_F(NetTlsTest, StopLetsARequestInFlightFinish) {
  std::promise<HttpResponder> held;
  std::future<HttpResponder> held_future = held.get_future();
  StartServer(MainServerContext(),
              std::make_shared<FunctionHandler>(
                  [&](const HttpRequest&, HttpResponder r) { held.set_value(std::move(r)); }));
  auto ctx = PartnerClient(shop_a_).tls;
  RawTlsClient raw(*ctx, server_->port());
  ASSERT_FALSE(raw.Handshake());
  ASSERT_FALSE(raw.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  HttpResponder responder = held_future.get();

  const uint16_t port = server_->port();
  std::future<void> stopped = std::async(std::launch::async, [&] { server_->Stop(); });
  // Stopping has begun once the acceptor refuses connections.
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    TestConnection probe(port);
    refused = !probe.connected() || probe.WaitForClose(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(refused);
  responder.Respond(HttpResponse::Text(200, "finished"));
  nettest::RawResponse response;
  ASSERT_FALSE(raw.Read(&response));
  EXPECT_EQ(response.body(), "finished");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_EQ(raw.ReadToEnd(), asio::error::eof);
  raw.Shutdown();
  stopped.wait();
}

TEST_F(NetTlsTest, StopDuringAHandshakeDropsIt) {
  StartServer(MainServerContext());
  TestConnection silent(server_->port());
  ASSERT_TRUE(silent.connected());
  // The connection is accepted (and handshaking) once the server counts it.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->stats().connections_accepted < 1 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  server_->Stop();
  EXPECT_TRUE(silent.WaitForClose());
  EXPECT_EQ(server_->active_connections(), 0);
}

}  // namespace
}  // namespace tieup

#include "net/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <csignal>
#include <future>
#include <mutex>
#include <thread>

#include "base/encoding.h"
#include "net/http_client.h"
#include "net_test_util.h"
#include "test_support.h"

namespace tieup {
namespace {

namespace beast = boost::beast;

using nettest::EchoHandler;
using nettest::FunctionHandler;
using nettest::RawResponse;
using nettest::TestConnection;
using testing::FakeClockEnv;
using ::testing::HasSubstr;
using testing::IsOk;
using ::testing::Not;
using ::testing::StartsWith;
using testing::StatusIs;

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() { options_.threads = 2; }

  void StartServer(std::shared_ptr<HttpHandler> handler) {
    options_.access_hook = [this](const AccessEvent& e) {
      std::lock_guard<std::mutex> lock(mu_);
      Event copy;
      copy.time_micros = e.time_micros;
      copy.remote_address = e.remote_address;
      copy.method = e.method;
      copy.path = e.path;
      copy.status = e.status;
      copy.bytes_sent = e.bytes_sent;
      copy.referer = e.referer;
      copy.user_agent = e.user_agent;
      copy.duration_micros = e.duration_micros;
      copy.area = e.area;
      copy.user = e.user;
      copy.complete = e.complete;
      events_.push_back(copy);
      events_cv_.notify_all();
    };
    server_ = std::make_unique<HttpServer>(env_, options_, std::move(handler));
    ASSERT_THAT(server_->Start(), IsOk());
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  struct Event {
    int64_t time_micros;
    std::string remote_address, method, path;
    int status;
    uint64_t bytes_sent;
    std::string referer, user_agent;
    int64_t duration_micros;
    std::string area, user;
    bool complete;
  };

  // The events so far, after waiting (up to 5 s) until there are at least `n`: the hook runs
  // once the write has completed on the server, which may be after the client has read it.
  std::vector<Event> Events(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    events_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return events_.size() >= n; });
    return events_;
  }

  // Sends `raw` on a new connection and reads one response.
  RawResponse RoundTrip(std::string_view raw, bool head = false) {
    TestConnection c(server_->port());
    EXPECT_TRUE(c.connected());
    EXPECT_TRUE(c.Send(raw));
    RawResponse r;
    beast::error_code ec = c.Read(&r, head);
    EXPECT_FALSE(ec) << ec.message() << " for " << raw;
    return r;
  }

  FakeClockEnv env_;
  HttpServerOptions options_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::condition_variable events_cv_;
  std::vector<Event> events_;
};

TEST_F(HttpServerTest, ServesGetWithServerDateAndLengthHeaders) {
  StartServer(EchoHandler());
  RawResponse r = RoundTrip("GET /a/./b?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "GET /a/b?x=1");
  EXPECT_EQ(r["Server"], "tieup");
  EXPECT_EQ(r["Date"], FormatHttpDate(env_.NowSeconds()));
  EXPECT_EQ(r["Content-Length"], std::to_string(r.body().size()));
  EXPECT_EQ(r["Content-Type"], "text/plain; charset=utf-8");
  EXPECT_TRUE(r.keep_alive());
}

TEST_F(HttpServerTest, StartReportsAnAddressInUse) {
  StartServer(EchoHandler());
  HttpServerOptions o;
  o.port = server_->port();
  HttpServer second(env_, o, EchoHandler());
  EXPECT_THAT(second.Start(), StatusIs(StatusCode::kUnavailable, HasSubstr("already in use")));
}

TEST_F(HttpServerTest, StartRefusesABadAddress) {
  HttpServerOptions o;
  o.address = "not-an-ip";
  HttpServer server(env_, o, EchoHandler());
  EXPECT_THAT(server.Start(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not an IP address")));
  HttpServerOptions o2;
  o2.address = "192.0.2.1";  // TEST-NET-1: on no interface of this machine
  HttpServer server2(env_, o2, EchoHandler());
  EXPECT_THAT(server2.Start(), StatusIs(StatusCode::kUnavailable, HasSubstr("192.0.2.1")));
}

TEST_F(HttpServerTest, StartTwiceIsRefused) {
  StartServer(EchoHandler());
  EXPECT_THAT(server_->Start(), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(HttpServerTest, HeadGetsHeadersWithoutBody) {
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\nGET /y HTTP/1.1\r\nHost: t\r\n\r\n"));
  RawResponse head, get;
  ASSERT_FALSE(c.Read(&head, /*head=*/true));
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(head["Content-Length"], std::to_string(std::string("HEAD /x").size()));
  // Had the HEAD response carried a body, this would parse it as a status line and fail.
  ASSERT_FALSE(c.Read(&get));
  EXPECT_EQ(get.body(), "GET /y");
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send("GET /n" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    RawResponse r;
    ASSERT_FALSE(c.Read(&r));
    EXPECT_EQ(r.body(), "GET /n" + std::to_string(i));
    EXPECT_TRUE(r.keep_alive());
  }
  EXPECT_EQ(server_->active_connections(), 1);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  std::string batch;
  for (int i = 0; i < 10; ++i) {
    batch += "GET /p" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  }
  batch += "POST /last HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
  ASSERT_TRUE(c.Send(batch));
  for (int i = 0; i < 10; ++i) {
    RawResponse r;
    ASSERT_FALSE(c.Read(&r));
    EXPECT_EQ(r.body(), "GET /p" + std::to_string(i));
  }
  RawResponse last;
  ASSERT_FALSE(c.Read(&last));
  EXPECT_EQ(last.body(), "POST /last hello");
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r["Connection"], "close");
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(c.WaitForClose());
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  StartServer(EchoHandler());
  {
    TestConnection c(server_->port());
    ASSERT_TRUE(c.Send("GET /old HTTP/1.0\r\n\r\n"));  // no Host needed in 1.0
    RawResponse r;
    ASSERT_FALSE(c.Read(&r));
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(r["Connection"], "close");
    EXPECT_TRUE(c.WaitForClose());
  }
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r["Connection"], "keep-alive");
  ASSERT_TRUE(c.Send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.body(), "GET /b");
}

TEST_F(HttpServerTest, MalformedRequestsGet400AndTheConnectionCloses) {
  StartServer(EchoHandler());
  for (std::string_view raw :
       {std::string_view("GARBAGE\r\n\r\n"), std::string_view("GET /\r\n\r\n"),
        std::string_view("GET / HTTP/9.9\r\nHost: t\r\n\r\n"),
        std::string_view("GET / HTTP/1.1\r\nHost t\r\n\r\n"),
        std::string_view("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n"),
        std::string_view("G(T / HTTP/1.1\r\nHost: t\r\n\r\n"),
        std::string_view("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: "
                         "2\r\n\r\nab"),
        // Request smuggling: both framings, or a Transfer-Encoding that does not end in chunked.
        std::string_view("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        std::string_view("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                         "Content-Length: 5\r\n\r\n0\r\n\r\n"),
        std::string_view("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
                         "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"),
        std::string_view("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                         "0\r\n\r\n")}) {
    TestConnection c(server_->port());
    ASSERT_TRUE(c.Send(raw));
    RawResponse r;
    ASSERT_FALSE(c.Read(&r)) << raw;
    EXPECT_EQ(r.result_int(), 400) << raw;
    EXPECT_THAT(r.body(), StartsWith("400 Bad Request: ")) << raw;
    EXPECT_EQ(r["Connection"], "close") << raw;
    std::string rest;
    EXPECT_TRUE(c.WaitForClose(std::chrono::seconds(5), &rest)) << raw;
    EXPECT_EQ(rest, "") << raw;  // nothing after the 400, in particular no smuggled response
  }
}

TEST_F(HttpServerTest, Http11WithoutHostOrWithTwoHostsIs400) {
  StartServer(EchoHandler());
  RawResponse r = RoundTrip("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_THAT(r.body(), HasSubstr("Host header"));
  r = RoundTrip("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_THAT(r.body(), HasSubstr("more than one Host"));
}

TEST_F(HttpServerTest, HeaderAboveTheLimitIs431) {
  options_.max_header_bytes = 1024;
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.result_int(), 431);
  EXPECT_THAT(r.body(), HasSubstr("larger than 1024 bytes"));
  EXPECT_TRUE(c.WaitForClose());
  // Just under the limit is fine.
  RawResponse ok =
      RoundTrip("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(900, 'a') + "\r\n\r\n");
  EXPECT_EQ(ok.result_int(), 200);
}

TEST_F(HttpServerTest, BodyAboveTheLimitIs413BeforeTheBodyIsSent) {
  options_.max_body_bytes = 100;
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_THAT(r.body(), HasSubstr("larger than 100 bytes"));
  EXPECT_TRUE(c.WaitForClose());
}

TEST_F(HttpServerTest, ChunkedBodyAboveTheLimitIs413) {
  options_.max_body_bytes = 100;
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(
      c.Send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "64\r\n" +
             std::string(100, 'x') + "\r\n1\r\ny\r\n0\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.result_int(), 413);
}

TEST_F(HttpServerTest, BodiesArriveWholeWithLengthOrChunked) {
  options_.max_body_bytes = 100;
  StartServer(EchoHandler());
  RawResponse r = RoundTrip("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" +
                            std::string(100, 'z'));
  EXPECT_EQ(r.body(), "POST /a " + std::string(100, 'z'));
  r = RoundTrip(
      "PUT /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(r.body(), "PUT /b abcde");
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimResponse) {
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(
      c.Send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  RawResponse interim;
  // Beast's parser reads the 100 as a complete (bodiless) response.
  ASSERT_FALSE(c.Read(&interim));
  EXPECT_EQ(interim.result_int(), 100);
  ASSERT_TRUE(c.Send("abc"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.body(), "POST /e abc");
}

TEST_F(HttpServerTest, MethodNotAllowedByTheHandlerIs405WithAllow) {
  StartServer(std::make_shared<FunctionHandler>(
      [](const HttpRequest&, HttpResponder r) { r.Respond(HttpResponse::Text(200, "ok")); },
      "GET, HEAD"));
  RawResponse r = RoundTrip("DELETE /x HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r["Allow"], "GET, HEAD");
  EXPECT_THAT(r.body(), HasSubstr("DELETE is not allowed"));
  EXPECT_EQ(RoundTrip("GET /x HTTP/1.1\r\nHost: t\r\n\r\n").result_int(), 200);
}

TEST_F(HttpServerTest, BadPathsAre400AndKeepTheConnection) {
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /%c0%ae%c0%ae/x HTTP/1.1\r\nHost: t\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_THAT(r.body(), HasSubstr("UTF-8"));
  ASSERT_TRUE(c.Send("GET /%ff HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.result_int(), 400);
  ASSERT_TRUE(c.Send("GET /fine HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.body(), "GET /fine");
}

TEST_F(HttpServerTest, ASlowHeaderIsCutOffAfterTheHeaderTimeout) {
  // The one real wait of this suite: 300 ms.
  options_.header_timeout = std::chrono::milliseconds(300);
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.Send("GET /slow HTTP/1.1\r\nHo"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.result_int(), 408);
  EXPECT_THAT(r.body(), HasSubstr("did not arrive within 300 ms"));
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_GE(waited, std::chrono::milliseconds(250));
}

TEST_F(HttpServerTest, ASlowBodyIsCutOffAfterTheBodyTimeout) {
  options_.body_timeout = std::chrono::milliseconds(200);
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.result_int(), 408);
  EXPECT_THAT(r.body(), HasSubstr("request body did not arrive within 200 ms"));
  EXPECT_TRUE(c.WaitForClose());
}

TEST_F(HttpServerTest, AnIdleKeepAliveConnectionIsClosedSilently) {
  options_.idle_timeout = std::chrono::milliseconds(200);
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  std::string rest;
  EXPECT_TRUE(c.WaitForClose(std::chrono::seconds(5), &rest));
  EXPECT_EQ(rest, "");
}

TEST_F(HttpServerTest, AConnectionThatSendsNothingIsClosed) {
  options_.header_timeout = std::chrono::milliseconds(200);
  StartServer(EchoHandler());
  TestConnection c(server_->port());
  std::string rest;
  EXPECT_TRUE(c.WaitForClose(std::chrono::seconds(5), &rest));
  EXPECT_EQ(rest, "");  // nothing was asked, nothing is answered
}

TEST_F(HttpServerTest, ManyConcurrentConnections) {
  StartServer(EchoHandler());
  constexpr int kThreads = 4, kPerThread = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<TestConnection>> conns;
      for (int i = 0; i < kPerThread; ++i) {
        conns.push_back(std::make_unique<TestConnection>(server_->port()));
      }
      for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < kPerThread; ++i) {
          conns[i]->Send("GET /t" + std::to_string(t) + "/" + std::to_string(i) +
                         " HTTP/1.1\r\nHost: t\r\n\r\n");
        }
        for (int i = 0; i < kPerThread; ++i) {
          RawResponse r;
          if (!conns[i]->Read(&r) &&
              r.body() == "GET /t" + std::to_string(t) + "/" + std::to_string(i)) {
            ++ok;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread * 2);
}

TEST_F(HttpServerTest, ConnectionsAboveTheMaximumAreClosed) {
  options_.max_connections = 2;
  StartServer(EchoHandler());
  TestConnection a(server_->port()), b(server_->port());
  RawResponse r;
  ASSERT_TRUE(a.Send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(a.Read(&r));
  ASSERT_TRUE(b.Send("GET /b HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(b.Read(&r));
  TestConnection c(server_->port());
  EXPECT_TRUE(c.WaitForClose());
}

TEST_F(HttpServerTest, OneAddressCannotTakeEveryConnection) {
  options_.max_connections_per_client = 3;
  StartServer(EchoHandler());
  // A flood from 127.0.0.2: three connections stay, the fourth is closed at once.
  std::vector<std::unique_ptr<TestConnection>> flood;
  for (int i = 0; i < 3; ++i) {
    flood.push_back(std::make_unique<TestConnection>(server_->port(), "127.0.0.2"));
    ASSERT_TRUE(flood.back()->connected());
  }
  TestConnection extra(server_->port(), "127.0.0.2");
  EXPECT_TRUE(extra.WaitForClose());
  EXPECT_EQ(server_->stats().connections_refused, 1u);
  // Another client is served meanwhile, and so is the flooding one on its open connections.
  TestConnection other(server_->port());
  ASSERT_TRUE(other.Send("GET /other HTTP/1.1\r\nHost: t\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(other.Read(&r));
  EXPECT_EQ(r.body(), "GET /other");
  ASSERT_TRUE(flood[0]->Send("GET /kept HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(flood[0]->Read(&r));
  EXPECT_EQ(r.body(), "GET /kept");
  // A slot freed by a close is free again, once the server has seen the close.
  const int before = server_->active_connections();
  flood.pop_back();
  ASSERT_TRUE(server_->WaitForConnectionsAtMost(before - 1, std::chrono::seconds(10)));
  TestConnection again(server_->port(), "127.0.0.2");
  ASSERT_TRUE(again.Send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(again.Read(&r));
  EXPECT_EQ(r.body(), "GET /again");
}

TEST_F(HttpServerTest, AClientOverItsRequestRateGets429AndOthersAreServed) {
  options_.requests_per_second_per_client = 0.001;  // no refill during the test
  options_.request_burst_per_client = 3;
  StartServer(EchoHandler());
  TestConnection c(server_->port(), "127.0.0.2");
  RawResponse r;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_FALSE(c.Read(&r));
    EXPECT_EQ(r.result_int(), 200) << i;
  }
  ASSERT_TRUE(c.Send("GET /over HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.result_int(), 429);
  EXPECT_THAT(r.body(), HasSubstr("too many requests"));
  EXPECT_FALSE(r[nettest::http::field::retry_after].empty());
  EXPECT_EQ(server_->stats().requests_limited, 1u);
  // Another address has its own budget.
  TestConnection other(server_->port());
  ASSERT_TRUE(other.Send("GET /other HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_FALSE(other.Read(&r));
  EXPECT_EQ(r.result_int(), 200);
}

TEST_F(HttpServerTest, PerClientLimitsAreCheckedAtStart) {
  options_.max_connections_per_client = -1;
  server_ = std::make_unique<HttpServer>(env_, options_, EchoHandler());
  EXPECT_THAT(server_->Start(), StatusIs(StatusCode::kInvalidArgument));
  server_.reset();
}

TEST_F(HttpServerTest, AsynchronousResponsesFromAnotherThread) {
  std::vector<std::thread> helpers;
  std::mutex helpers_mu;
  StartServer(
      std::make_shared<FunctionHandler>([&](const HttpRequest& req, HttpResponder responder) {
        std::string path(req.path());  // req is valid until the responder is used
        std::lock_guard<std::mutex> lock(helpers_mu);
        helpers.emplace_back([path, r = std::move(responder)]() mutable {
          r.Respond(HttpResponse::Text(200, "later " + path));
        });
      }));
  TestConnection c(server_->port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send("GET /async" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    RawResponse r;
    ASSERT_FALSE(c.Read(&r));
    EXPECT_EQ(r.body(), "later /async" + std::to_string(i));
  }
  std::lock_guard<std::mutex> lock(helpers_mu);
  for (auto& h : helpers) h.join();
}

// Readiness: a handler that does not return holds its I/O thread; CheckResponsive says so until
// it returns.
TEST_F(HttpServerTest, AThreadHeldByAHandlerIsNotResponsive) {
  options_.threads = 1;
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  StartServer(std::make_shared<FunctionHandler>([&](const HttpRequest&, HttpResponder responder) {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    responder.Respond(HttpResponse::Text(200, "at last"));
  }));
  EXPECT_THAT(server_->CheckResponsive(std::chrono::seconds(10)), IsOk());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  EXPECT_THAT(server_->CheckResponsive(std::chrono::milliseconds(50)),
              StatusIs(StatusCode::kUnavailable, HasSubstr("I/O thread 1 of 1 ran nothing")));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.body(), "at last");
  EXPECT_THAT(server_->CheckResponsive(std::chrono::seconds(10)), IsOk());
  server_->Stop();
  EXPECT_THAT(server_->CheckResponsive(std::chrono::seconds(1)),
              StatusIs(StatusCode::kUnavailable, HasSubstr("not listening")));
}

TEST_F(HttpServerTest, AHandlerThatDropsTheResponderYields500) {
  StartServer(std::make_shared<FunctionHandler>([](const HttpRequest&, HttpResponder) {}));
  RawResponse r = RoundTrip("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.result_int(), 500);
}

TEST_F(HttpServerTest, AHandlerThatThrowsYields500) {
  StartServer(std::make_shared<FunctionHandler>(
      [](const HttpRequest&, HttpResponder) { throw std::runtime_error("boom"); }));
  RawResponse r = RoundTrip("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(r.result_int(), 500);
  EXPECT_EQ(RoundTrip("GET / HTTP/1.1\r\nHost: t\r\n\r\n").result_int(), 500);
}

TEST_F(HttpServerTest, ResponseCanAskToCloseTheConnection) {
  StartServer(std::make_shared<FunctionHandler>([](const HttpRequest&, HttpResponder r) {
    HttpResponse resp = HttpResponse::Text(200, "done");
    resp.set_close_connection(true);
    r.Respond(std::move(resp));
  }));
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r["Connection"], "close");
  EXPECT_TRUE(c.WaitForClose());
}

TEST_F(HttpServerTest, BodilessStatusesHaveNoBodyOrLength) {
  StartServer(std::make_shared<FunctionHandler>([](const HttpRequest& req, HttpResponder r) {
    int status = req.path() == "/204" ? 204 : 304;
    HttpResponse resp = HttpResponse::Text(status, "ignored body");
    r.Respond(std::move(resp));
  }));
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /204 HTTP/1.1\r\nHost: t\r\n\r\nGET /304 HTTP/1.1\r\nHost: t\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  EXPECT_EQ(r.result_int(), 204);
  EXPECT_EQ(r.count("Content-Length"), 0u);
  ASSERT_FALSE(c.Read(&r));  // would fail had the 204 carried the body
  EXPECT_EQ(r.result_int(), 304);
  EXPECT_EQ(r.body(), "");
}

TEST_F(HttpServerTest, AnInformationalFinalResponseClosesTheConnection) {
  StartServer(std::make_shared<FunctionHandler>(
      [](const HttpRequest&, HttpResponder r) { r.Respond(HttpResponse(101)); }));
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string rest;
  EXPECT_TRUE(c.WaitForClose(std::chrono::seconds(5), &rest));
  EXPECT_THAT(rest, StartsWith("HTTP/1.1 101 Switching Protocols\r\n"));
  EXPECT_THAT(rest, HasSubstr("Connection: close\r\n"));
}

TEST_F(HttpServerTest, GracefulStopFinishesTheRequestInFlightAndClosesIdleConnections) {
  std::promise<HttpResponder> parked;
  std::atomic<bool> parked_once{false};
  StartServer(std::make_shared<FunctionHandler>([&](const HttpRequest& req, HttpResponder r) {
    if (req.path() == "/park" && !parked_once.exchange(true)) {
      parked.set_value(std::move(r));
      return;
    }
    r.Respond(HttpResponse::Text(200, "quick"));
  }));
  const uint16_t port = server_->port();

  TestConnection idle(port);
  ASSERT_TRUE(idle.Send("GET /q HTTP/1.1\r\nHost: t\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(idle.Read(&r));

  TestConnection busy(port);
  ASSERT_TRUE(busy.Send("GET /park HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::future<HttpResponder> responder_future = parked.get_future();
  ASSERT_EQ(responder_future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  HttpResponder responder = responder_future.get();

  std::thread stopper([&] { server_->Stop(); });
  // The idle keep-alive connection is closed at once ...
  EXPECT_TRUE(idle.WaitForClose());
  // ... and new connections are refused once the acceptor is closed.
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    TestConnection probe(port);
    refused = !probe.connected() || probe.WaitForClose(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(refused);
  // The request in flight still gets its response, with Connection: close.
  responder.Respond(HttpResponse::Text(200, "finished"));
  ASSERT_FALSE(busy.Read(&r));
  EXPECT_EQ(r.body(), "finished");
  EXPECT_EQ(r["Connection"], "close");
  EXPECT_TRUE(busy.WaitForClose());
  stopper.join();
  EXPECT_EQ(server_->active_connections(), 0);
}

TEST_F(HttpServerTest, StopGivesUpOnAHandlerThatNeverAnswers) {
  options_.shutdown_timeout = std::chrono::milliseconds(100);
  std::promise<void> called;
  std::optional<HttpResponder> kept;
  StartServer(std::make_shared<FunctionHandler>([&](const HttpRequest&, HttpResponder r) {
    kept.emplace(std::move(r));
    called.set_value();
  }));
  TestConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_EQ(called.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  server_->Stop();
  EXPECT_TRUE(c.WaitForClose());
  kept.reset();  // responding after Stop is harmless
}

TEST_F(HttpServerTest, AccessHookReportsEachResponse) {
  StartServer(std::make_shared<FunctionHandler>([](const HttpRequest&, HttpResponder r) {
    HttpResponse resp = HttpResponse::Text(200, "twelve bytes");
    resp.area = "original";
    resp.user = "u-17";
    r.Respond(std::move(resp));
  }));
  TestConnection c(server_->port());
  ASSERT_TRUE(
      c.Send("GET /a/../page?q=1 HTTP/1.1\r\nHost: t\r\nReferer: http://ref/\r\n"
             "User-Agent: probe/1.0\r\n\r\nHEAD /h HTTP/1.1\r\nHost: t\r\n\r\n"
             "GET /%ff HTTP/1.1\r\nHost: t\r\n\r\n"));
  RawResponse r;
  ASSERT_FALSE(c.Read(&r));
  ASSERT_FALSE(c.Read(&r, true));
  ASSERT_FALSE(c.Read(&r));
  std::vector<Event> events = Events(3);
  ASSERT_EQ(events.size(), 3u);
  const Event& e = events[0];
  EXPECT_EQ(e.time_micros, env_.NowMicros());
  EXPECT_EQ(e.remote_address, "127.0.0.1");
  EXPECT_EQ(e.method, "GET");
  EXPECT_EQ(e.path, "/page");
  EXPECT_EQ(e.status, 200);
  EXPECT_EQ(e.bytes_sent, 12u);
  EXPECT_EQ(e.referer, "http://ref/");
  EXPECT_EQ(e.user_agent, "probe/1.0");
  EXPECT_GE(e.duration_micros, 0);
  EXPECT_EQ(e.area, "original");
  EXPECT_EQ(e.user, "u-17");
  EXPECT_TRUE(e.complete);
  EXPECT_EQ(events[1].method, "HEAD");
  EXPECT_EQ(events[1].bytes_sent, 0u);
  EXPECT_EQ(events[1].referer, "");
  EXPECT_EQ(events[2].status, 400);
  EXPECT_EQ(events[2].path, "/%ff");  // the raw target, since it was refused
  EXPECT_EQ(events[2].area, "");
}

TEST_F(HttpServerTest, ResponderFromCallbackDeliversOnce) {
  std::vector<int> got;
  {
    HttpResponder r =
        HttpResponder::FromCallback([&](HttpResponse resp) { got.push_back(resp.status()); });
    EXPECT_FALSE(r.responded());
    r.Respond(HttpResponse(204));
    EXPECT_TRUE(r.responded());
    r.Respond(HttpResponse(201));  // ignored
  }
  {
    HttpResponder dropped =
        HttpResponder::FromCallback([&](HttpResponse resp) { got.push_back(resp.status()); });
  }
  EXPECT_EQ(got, (std::vector<int>{204, 500}));
}

TEST(TerminationSignalsTest, WaitReturnsTheSignal) {
  TerminationSignals signals;
  std::raise(SIGTERM);
  EXPECT_EQ(signals.Wait(), SIGTERM);
  std::raise(SIGINT);
  EXPECT_EQ(signals.Wait(), SIGINT);
}

}  // namespace
}  // namespace tieup

// HttpClientPool against a real HttpServer on 127.0.0.1: kept connections counted by the
// server, an injected clock for the idle bound, a server that closes idle connections.
#include "net/http_client_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "net/http_server.h"
#include "net_test_util.h"
#include "test_support.h"

namespace tieup {
namespace {

using nettest::EchoHandler;
using nettest::FunctionHandler;
using testing::FakeClockEnv;
using testing::IsOk;
using testing::StatusIs;

class HttpClientPoolTest : public ::testing::Test {
 protected:
  void Start(std::shared_ptr<HttpHandler> handler, HttpServerOptions o = {}) {
    o.threads = 2;
    server_ = std::make_unique<HttpServer>(env_, o, std::move(handler));
    ASSERT_THAT(server_->Start(), IsOk());
  }
  HttpClientPool Pool(HttpClientPoolOptions o = {}) {
    return HttpClientPool("127.0.0.1", server_->port(), HttpClientOptions{}, std::move(o));
  }
  uint64_t Accepted() const { return server_->stats().connections_accepted; }

  FakeClockEnv env_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpClientPoolTest, SequentialFetchesShareOneConnection) {
  Start(EchoHandler());
  HttpClientPool pool = Pool();
  for (int i = 0; i < 5; ++i) {
    Result<HttpResponse> r = pool.Fetch(HttpRequest("GET", "/n" + std::to_string(i)));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->status(), 200);
  }
  EXPECT_EQ(Accepted(), 1u);
  EXPECT_EQ(pool.idle_connections(), 1u);
}

TEST_F(HttpClientPoolTest, ConcurrentFetchesEachHaveAConnectionAndAtMostTheLimitIsKept) {
  // The handler answers nothing until four requests are in: four connections at once.
  std::mutex mu;
  std::vector<HttpResponder> held;
  Start(std::make_shared<FunctionHandler>([&](const HttpRequest&, HttpResponder r) {
    std::lock_guard<std::mutex> lock(mu);
    held.push_back(std::move(r));
    if (held.size() < 4) return;
    for (HttpResponder& h : held) h.Respond(HttpResponse::Text(200, "ok"));
    held.clear();
  }));
  HttpClientPoolOptions o;
  o.max_idle_connections = 2;
  HttpClientPool pool = Pool(o);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (pool.Fetch(HttpRequest("GET", "/")).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(Accepted(), 4u);
  EXPECT_EQ(pool.idle_connections(), 2u);
}

TEST_F(HttpClientPoolTest, AConnectionIdleLongerThanTheBoundIsClosedNotReused) {
  Start(EchoHandler());
  std::atomic<int64_t> now_ms{1'000'000};
  HttpClientPoolOptions o;
  o.max_idle = std::chrono::milliseconds(20'000);
  o.now_millis = [&] { return now_ms.load(); };
  HttpClientPool pool = Pool(o);
  ASSERT_THAT(pool.Fetch(HttpRequest("GET", "/a")), IsOk());
  now_ms += 19'000;
  ASSERT_THAT(pool.Fetch(HttpRequest("GET", "/b")), IsOk());
  EXPECT_EQ(Accepted(), 1u);  // 19 s idle: reused
  now_ms += 20'001;
  ASSERT_THAT(pool.Fetch(HttpRequest("GET", "/c")), IsOk());
  EXPECT_EQ(Accepted(), 2u);  // over 20 s idle: a new connection
  EXPECT_EQ(pool.idle_connections(), 1u);
}

TEST_F(HttpClientPoolTest, AResponseThatClosesTheConnectionLeavesNothingKept) {
  Start(std::make_shared<FunctionHandler>([](const HttpRequest&, HttpResponder r) {
    HttpResponse resp = HttpResponse::Text(200, "once");
    resp.set_close_connection(true);
    r.Respond(std::move(resp));
  }));
  HttpClientPool pool = Pool();
  for (int i = 0; i < 2; ++i) {
    Result<HttpResponse> r = pool.Fetch(HttpRequest("GET", "/"));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->body(), "once");
    EXPECT_EQ(pool.idle_connections(), 0u);
  }
  EXPECT_EQ(Accepted(), 2u);
}

TEST_F(HttpClientPoolTest, APostThatMetAClosedKeptConnectionIsSentOnceMoreOnANewOne) {
  std::atomic<int> posts{0};
  HttpServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(50);
  Start(std::make_shared<FunctionHandler>([&](const HttpRequest& req, HttpResponder r) {
          if (req.method() == "POST") ++posts;
          r.Respond(HttpResponse::Text(200, std::string(req.method())));
        }),
        o);
  HttpClientPool pool = Pool();
  HttpRequest post("POST", "/event");
  post.SetBody("{}");

  // Fetch says the kept connection was closed by the server; nothing reached the handler.
  ASSERT_THAT(pool.Fetch(HttpRequest("GET", "/")), IsOk());
  ASSERT_TRUE(server_->WaitForConnectionsAtMost(0, std::chrono::seconds(10)));
  bool stale = false;
  Result<HttpResponse> failed = pool.Fetch(post, /*fresh=*/false, &stale);
  EXPECT_THAT(failed.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(stale);
  EXPECT_EQ(posts.load(), 0);

  // FetchOnceMoreIfStale sends it again on a new connection: the handler sees it once.
  ASSERT_THAT(pool.Fetch(HttpRequest("GET", "/")), IsOk());
  ASSERT_TRUE(server_->WaitForConnectionsAtMost(0, std::chrono::seconds(10)));
  Result<HttpResponse> sent = pool.FetchOnceMoreIfStale(post);
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->body(), "POST");
  EXPECT_EQ(posts.load(), 1);
}

TEST_F(HttpClientPoolTest, AServerThatIsGoneIsAnErrorNotARetryLoop) {
  Start(EchoHandler());
  HttpClientPool pool = Pool();
  ASSERT_THAT(pool.Fetch(HttpRequest("GET", "/")), IsOk());
  server_->Stop();
  HttpRequest post("POST", "/event");
  post.SetBody("{}");
  Result<HttpResponse> r = pool.FetchOnceMoreIfStale(post);
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(pool.idle_connections(), 0u);
}

}  // namespace
}  // namespace tieup

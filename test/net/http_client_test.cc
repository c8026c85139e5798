#include "net/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "net/http_server.h"
#include "net_test_util.h"
#include "test_support.h"

namespace tieup {
namespace {

using nettest::EchoHandler;
using nettest::FunctionHandler;
using testing::FakeClockEnv;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::StatusIs;

class HttpClientTest : public ::testing::Test {
 protected:
  void Start(std::shared_ptr<HttpHandler> handler) {
    HttpServerOptions o;
    o.threads = 1;
    server_ = std::make_unique<HttpServer>(env_, o, std::move(handler));
    ASSERT_THAT(server_->Start(), IsOk());
  }
  FakeClockEnv env_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpClientTest, FetchesAndKeepsTheConnection) {
  Start(EchoHandler());
  HttpClient client("127.0.0.1", server_->port());
  for (int i = 0; i < 3; ++i) {
    Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/c" + std::to_string(i) + "?q"));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->status(), 200);
    EXPECT_EQ(r->body(), "GET /c" + std::to_string(i) + "?q");
    EXPECT_EQ(r->FindHeader("Server"), "tieup");
    EXPECT_EQ(r->FindHeader("content-length"), std::to_string(r->body().size()));
  }
  EXPECT_EQ(server_->active_connections(), 1);
}

TEST_F(HttpClientTest, SendsBodiesAndHead) {
  Start(EchoHandler());
  HttpClient client("localhost", server_->port());
  HttpRequest post("POST", "/p");
  post.SetBody("data");
  post.AddHeader("Content-Type", "text/plain");
  Result<HttpResponse> r = client.Fetch(post);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body(), "POST /p data");
  Result<HttpResponse> head = client.Fetch(HttpRequest("HEAD", "/h"));
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->body(), "");
  EXPECT_EQ(head->FindHeader("Content-Length"), "7");
  // The connection is still in step after HEAD.
  Result<HttpResponse> again = client.Fetch(HttpRequest("GET", "/g"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->body(), "GET /g");
}

TEST_F(HttpClientTest, ReconnectsAfterTheServerClosed) {
  Start(std::make_shared<FunctionHandler>([](const HttpRequest&, HttpResponder r) {
    HttpResponse resp = HttpResponse::Text(200, "once");
    resp.set_close_connection(true);
    r.Respond(std::move(resp));
  }));
  HttpClient client("127.0.0.1", server_->port());
  for (int i = 0; i < 3; ++i) {
    Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/"));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->body(), "once");
  }
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailable) {
  Start(EchoHandler());
  uint16_t port = server_->port();
  server_->Stop();
  Result<HttpResponse> r = HttpFetch("127.0.0.1", port, HttpRequest("GET", "/"));
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, HasSubstr("cannot connect")));
}

TEST_F(HttpClientTest, UnknownHostIsUnavailable) {
  Result<HttpResponse> r = HttpFetch("no-such-host.invalid", 80, HttpRequest("GET", "/"));
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, HasSubstr("resolve")));
}

TEST_F(HttpClientTest, BodyAboveTheLimitIsRefused) {
  Start(std::make_shared<FunctionHandler>([](const HttpRequest&, HttpResponder r) {
    r.Respond(HttpResponse::Text(200, std::string(2000, 'x')));
  }));
  HttpClientOptions o;
  o.max_body_bytes = 1000;
  Result<HttpResponse> r = HttpFetch("127.0.0.1", server_->port(), HttpRequest("GET", "/"), o);
  EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted, HasSubstr("larger than 1000")));
}

TEST_F(HttpClientTest, ASilentServerTimesOut) {
  std::promise<HttpResponder> parked;
  Start(std::make_shared<FunctionHandler>(
      [&](const HttpRequest&, HttpResponder r) { parked.set_value(std::move(r)); }));
  HttpClientOptions o;
  o.request_timeout = std::chrono::milliseconds(200);
  Result<HttpResponse> r = HttpFetch("127.0.0.1", server_->port(), HttpRequest("GET", "/"), o);
  EXPECT_THAT(r, StatusIs(StatusCode::kDeadlineExceeded));
  parked.get_future().get().Respond(HttpResponse(204));
}

TEST_F(HttpClientTest, RefusesARequestWithoutMethodOrTarget) {
  EXPECT_THAT(HttpFetch("127.0.0.1", 1, HttpRequest("", "/")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(HttpFetch("127.0.0.1", 1, HttpRequest("GET", "")),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup

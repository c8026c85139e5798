#include "net/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

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

// Waits (bounded) until the server has closed every connection, as its idle timeout does.
void WaitForNoConnections(HttpServer& server) {
  ASSERT_TRUE(server.WaitForConnectionsAtMost(0, std::chrono::seconds(10)))
      << "the server never closed the idle connection";
}

TEST_F(HttpClientTest, AStaleConnectionIsRetriedOnlyWhenRepeatingIsSafe) {
  HttpServerOptions o;
  o.threads = 1;
  o.idle_timeout = std::chrono::milliseconds(50);
  std::atomic<int> posts{0};
  server_ = std::make_unique<HttpServer>(
      env_, o, std::make_shared<FunctionHandler>([&](const HttpRequest& req, HttpResponder r) {
        if (req.method() == "POST") ++posts;
        r.Respond(HttpResponse::Text(200, std::string(req.method())));
      }));
  ASSERT_THAT(server_->Start(), IsOk());
  HttpClient client("127.0.0.1", server_->port());
  ASSERT_THAT(client.Fetch(HttpRequest("GET", "/")), IsOk());

  // The server closed the kept connection: a GET is sent again on a new one.
  WaitForNoConnections(*server_);
  Result<HttpResponse> get = client.Fetch(HttpRequest("GET", "/"));
  ASSERT_THAT(get, IsOk());
  EXPECT_FALSE(client.last_failure_was_stale_connection());

  // A POST without an idempotency key is not repeated behind the caller's back; the client
  // says the server had closed the connection, so the caller may send it again.
  WaitForNoConnections(*server_);
  HttpRequest post("POST", "/order");
  post.SetBody("{}");
  Result<HttpResponse> failed = client.Fetch(post);
  EXPECT_THAT(failed.status(), StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(client.last_failure_was_stale_connection());
  EXPECT_EQ(posts.load(), 0);
  // Sent again, it goes out on a new connection.
  ASSERT_THAT(client.Fetch(post), IsOk());
  EXPECT_FALSE(client.last_failure_was_stale_connection());
  EXPECT_EQ(posts.load(), 1);

  // With an idempotency key the client repeats it itself.
  WaitForNoConnections(*server_);
  HttpRequest keyed("POST", "/order");
  keyed.AddHeader("Idempotency-Key", "k-1");
  keyed.SetBody("{}");
  ASSERT_THAT(client.Fetch(keyed), IsOk());
  EXPECT_EQ(posts.load(), 2);
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

TEST_F(HttpClientTest, StreamsALargeBodyInPieces) {
  std::string big(5 * 1024 * 1024 + 3, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  auto shared = std::make_shared<const std::string>(big);
  Start(std::make_shared<FunctionHandler>([shared](const HttpRequest&, HttpResponder r) {
    HttpResponse resp(200);
    resp.SetSharedBody(shared);
    r.Respond(std::move(resp));
  }));
  HttpClient client("127.0.0.1", server_->port());
  std::string received;
  int pieces = 0;
  Result<HttpResponse> r =
      client.FetchStreaming(HttpRequest("GET", "/big"), [&](std::string_view p) {
        received.append(p);
        ++pieces;
        return Status::Ok();
      });
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status(), 200);
  EXPECT_EQ(r->body(), "");
  EXPECT_EQ(r->FindHeader("Content-Length"), std::to_string(big.size()));
  EXPECT_TRUE(received == big);
  EXPECT_GT(pieces, 1);
  // The connection stays usable.
  Result<HttpResponse> again = client.Fetch(HttpRequest("GET", "/big"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->body().size(), big.size());
}

TEST_F(HttpClientTest, PerCallBodyLimit) {
  Start(std::make_shared<FunctionHandler>([](const HttpRequest&, HttpResponder r) {
    r.Respond(HttpResponse::Text(200, std::string(2000, 'x')));
  }));
  HttpClientOptions o;
  o.max_body_bytes = 1000;
  HttpClient client("127.0.0.1", server_->port(), o);
  EXPECT_THAT(client.Fetch(HttpRequest("GET", "/")),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("larger than 1000 bytes")));
  EXPECT_THAT(client.Fetch(HttpRequest("GET", "/"), 100),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("larger than 100 bytes")));
  Result<HttpResponse> r = client.Fetch(HttpRequest("GET", "/"), 5000);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body().size(), 2000u);
  uint64_t seen = 0;
  EXPECT_THAT(client.FetchStreaming(
                  HttpRequest("GET", "/"),
                  [&](std::string_view p) {
                    seen += p.size();
                    return Status::Ok();
                  },
                  1999),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("larger than 1999 bytes")));
  EXPECT_LE(seen, 1999u);
}

TEST_F(HttpClientTest, SinkErrorStopsTheTransfer) {
  Start(std::make_shared<FunctionHandler>([](const HttpRequest&, HttpResponder r) {
    r.Respond(HttpResponse::Text(200, std::string(1 << 20, 'x')));
  }));
  HttpClient client("127.0.0.1", server_->port());
  int calls = 0;
  Result<HttpResponse> r = client.FetchStreaming(HttpRequest("GET", "/"), [&](std::string_view) {
    ++calls;
    return Status::ResourceExhausted("disk full");
  });
  EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted, "disk full"));
  EXPECT_EQ(calls, 1);
  // The half-read connection was dropped; the next fetch uses a fresh one.
  Result<HttpResponse> again = client.Fetch(HttpRequest("GET", "/"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->body().size(), 1u << 20);
}

TEST_F(HttpClientTest, StreamingNeedsASink) {
  EXPECT_THAT(HttpClient("127.0.0.1", 1).FetchStreaming(HttpRequest("GET", "/"), nullptr),
              StatusIs(StatusCode::kInvalidArgument));
}

// A server that answers every connection with an endless chunked body.
TEST_F(HttpClientTest, EndlessChunkedBodyStopsAtTheLimit) {
  nettest::asio::io_context ioc;
  nettest::tcp::acceptor acceptor(
      ioc, nettest::tcp::endpoint(nettest::asio::ip::make_address("127.0.0.1"), 0));
  uint16_t port = acceptor.local_endpoint().port();
  std::thread server([&] {
    nettest::tcp::socket s(ioc);
    acceptor.accept(s);
    char request[1024];
    nettest::beast::error_code ec;
    s.read_some(nettest::asio::buffer(request), ec);
    std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    nettest::asio::write(s, nettest::asio::buffer(head), ec);
    std::string chunk = "100\r\n" + std::string(256, 'c') + "\r\n";
    for (int i = 0; i < 10000 && !ec; ++i)
      nettest::asio::write(s, nettest::asio::buffer(chunk), ec);
  });
  HttpClient client("127.0.0.1", port);
  uint64_t seen = 0;
  Result<HttpResponse> r = client.FetchStreaming(
      HttpRequest("GET", "/"),
      [&](std::string_view p) {
        seen += p.size();
        return Status::Ok();
      },
      10'000);
  EXPECT_THAT(r, StatusIs(StatusCode::kResourceExhausted, HasSubstr("larger than 10000 bytes")));
  EXPECT_LE(seen, 10'000u);
  client.Close();
  server.join();
}

}  // namespace
}  // namespace tieup

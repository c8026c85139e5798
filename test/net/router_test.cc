#include "net/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "net/http_client.h"
#include "net_test_util.h"
#include "test_support.h"

namespace tieup {
namespace {

using nettest::FunctionHandler;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::StatusIs;

// A handler answering "<name> <method> <path>", with an optional Allow list of its own.
std::shared_ptr<HttpHandler> Named(std::string name, std::string allowed = "") {
  return std::make_shared<FunctionHandler>(
      [name](const HttpRequest& req, HttpResponder responder) {
        responder.Respond(HttpResponse::Text(
            200, name + " " + std::string(req.method()) + " " + std::string(req.path())));
      },
      std::move(allowed));
}

class RouterTest : public ::testing::Test {
 protected:
  // Routes `method target` through the router and returns the response it gave.
  HttpResponse Route(std::string_view method, std::string_view target) {
    HttpResponse out(0);
    router_->Handle(HttpRequest(method, target),
                    HttpResponder::FromCallback([&](HttpResponse r) { out = std::move(r); }));
    return out;
  }

  std::shared_ptr<Router> router_ = std::make_shared<Router>(Named("static", "GET, HEAD"));
};

TEST_F(RouterTest, LongestPrefixWins) {
  ASSERT_THAT(router_->Add("/sync/", "", Named("sync")), IsOk());
  ASSERT_THAT(router_->Add("/sync/files/", "", Named("files")), IsOk());
  ASSERT_THAT(router_->Add("/", "", Named("root")), IsOk());
  EXPECT_EQ(Route("GET", "/sync/offer").body(), "sync GET /sync/offer");
  EXPECT_EQ(Route("GET", "/sync/files/ab12").body(), "files GET /sync/files/ab12");
  EXPECT_EQ(Route("GET", "/sync/files").body(), "sync GET /sync/files");
  EXPECT_EQ(Route("GET", "/index.html").body(), "root GET /index.html");
}

TEST_F(RouterTest, PrefixWithoutSlashMatchesOnSegmentBoundaries) {
  ASSERT_THAT(router_->Add("/health", "", Named("health")), IsOk());
  ASSERT_THAT(router_->Add("/sync", "", Named("sync")), IsOk());
  EXPECT_EQ(Route("GET", "/health").body(), "health GET /health");
  EXPECT_EQ(Route("GET", "/health?verbose=1").body(), "health GET /health");
  EXPECT_EQ(Route("GET", "/sync/offer").body(), "sync GET /sync/offer");
  EXPECT_EQ(Route("GET", "/synced").body(), "static GET /synced");
  EXPECT_EQ(Route("GET", "/healthy").body(), "static GET /healthy");
}

TEST_F(RouterTest, SubtreePrefixDoesNotMatchItsParent) {
  ASSERT_THAT(router_->Add("/sync/", "", Named("sync")), IsOk());
  EXPECT_EQ(Route("GET", "/sync").body(), "static GET /sync");
  EXPECT_EQ(Route("GET", "/sync/").body(), "sync GET /sync/");
}

TEST_F(RouterTest, UnmatchedPathsGoToTheFallback) {
  ASSERT_THAT(router_->Add("/sync/", "", Named("sync")), IsOk());
  EXPECT_EQ(Route("GET", "/").body(), "static GET /");
  EXPECT_EQ(Route("HEAD", "/a/b.html").body(), "static HEAD /a/b.html");
}

TEST_F(RouterTest, MethodOutsideTheRouteGets405WithItsAllowList) {
  ASSERT_THAT(router_->Add("/sync/", "POST, GET", Named("sync")), IsOk());
  HttpResponse r = Route("DELETE", "/sync/offer");
  EXPECT_EQ(r.status(), 405);
  EXPECT_EQ(r.FindHeader("Allow"), "POST, GET");
  EXPECT_THAT(std::string(r.body()), HasSubstr("DELETE is not allowed here"));
  EXPECT_EQ(Route("POST", "/sync/offer").status(), 200);
}

TEST_F(RouterTest, RouteWithoutMethodsUsesTheHandlersOwn) {
  ASSERT_THAT(router_->Add("/api/", "", Named("api", "PUT")), IsOk());
  EXPECT_EQ(Route("PUT", "/api/x").status(), 200);
  HttpResponse r = Route("GET", "/api/x");
  EXPECT_EQ(r.status(), 405);
  EXPECT_EQ(r.FindHeader("Allow"), "PUT");
}

TEST_F(RouterTest, RouteWithNoMethodsAnywhereAcceptsAll) {
  ASSERT_THAT(router_->Add("/any/", "", Named("any")), IsOk());
  EXPECT_EQ(Route("PATCH", "/any/x").body(), "any PATCH /any/x");
}

TEST_F(RouterTest, FallbackAllowListIsEnforced) {
  HttpResponse r = Route("POST", "/page.html");
  EXPECT_EQ(r.status(), 405);
  EXPECT_EQ(r.FindHeader("Allow"), "GET, HEAD");
}

TEST_F(RouterTest, NoFallbackAnswers404) {
  router_ = std::make_shared<Router>(nullptr);
  ASSERT_THAT(router_->Add("/sync/", "", Named("sync")), IsOk());
  EXPECT_EQ(Route("GET", "/elsewhere").status(), 404);
  EXPECT_EQ(Route("GET", "/sync/x").status(), 200);
}

TEST_F(RouterTest, AddRefusesBadRoutes) {
  EXPECT_THAT(router_->Add("sync/", "", Named("x")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("must start with '/'")));
  EXPECT_THAT(router_->Add("", "", Named("x")), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(router_->Add("/x/", "", nullptr),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("needs a handler")));
  EXPECT_THAT(router_->Add("/x/", "GET, PO ST", Named("x")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'PO ST' is not an HTTP method")));
  ASSERT_THAT(router_->Add("/x/", "GET", Named("x")), IsOk());
  EXPECT_THAT(router_->Add("/x/", "POST", Named("y")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("already routed")));
  // The refused routes left nothing behind.
  EXPECT_EQ(Route("GET", "/x/1").body(), "x GET /x/1");
}

TEST_F(RouterTest, HandlersSeeTheSameRequest) {
  auto seen = std::make_shared<std::string>();
  ASSERT_THAT(router_->Add("/sync/", "",
                           std::make_shared<FunctionHandler>([seen](const HttpRequest& req,
                                                                    HttpResponder responder) {
                             *seen =
                                 std::string(req.peer_site_id()) + " " + std::string(req.body());
                             responder.Respond(HttpResponse(204));
                           })),
              IsOk());
  HttpRequest req("POST", "/sync/response");
  req.SetBody("yes");
  req.SetPeerSiteIdForTest("shop-a");
  int status = 0;
  router_->Handle(req, HttpResponder::FromCallback([&](HttpResponse r) { status = r.status(); }));
  EXPECT_EQ(status, 204);
  EXPECT_EQ(*seen, "shop-a yes");
}

TEST_F(RouterTest, ServesBehindARealServer) {
  ASSERT_THAT(router_->Add("/sync/", "GET, POST", Named("sync")), IsOk());
  testing::FakeClockEnv env;
  HttpServerOptions o;
  o.threads = 1;
  HttpServer server(env, o, router_);
  ASSERT_THAT(server.Start(), IsOk());
  HttpClient client("127.0.0.1", server.port());
  Result<HttpResponse> sync = client.Fetch(HttpRequest("POST", "/sync/offer"));
  ASSERT_THAT(sync, IsOk());
  EXPECT_EQ(sync->body(), "sync POST /sync/offer");
  Result<HttpResponse> page = client.Fetch(HttpRequest("GET", "/a/../index.html"));
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->body(), "static GET /index.html");
  Result<HttpResponse> refused = client.Fetch(HttpRequest("PUT", "/index.html"));
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->status(), 405);
  EXPECT_EQ(refused->FindHeader("Allow"), "GET, HEAD");
  server.Stop();
}

}  // namespace
}  // namespace tieup

// Router: an HttpHandler that sends each request to the handler registered for the longest
// matching path prefix, checks the method against that route's allowed methods (405 with an
// Allow header otherwise), and sends everything else to a fallback handler (the static site).
//
// Usage in a daemon:
//   auto router = std::make_shared<Router>(static_handler);
//   RETURN_IF_ERROR(router->Add("/sync/", "GET, POST", sync_handler));
//   RETURN_IF_ERROR(router->Add("/health", "GET, HEAD", health_handler));
//   HttpServer server(env, options, router);
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "net/http_server.h"

namespace tieup {

class Router final : public HttpHandler {
 public:
  // `fallback` receives every request no route matches; null answers those with 404. Its
  // AllowedMethods() are enforced like a route's.
  explicit Router(std::shared_ptr<HttpHandler> fallback);

  // Routes requests whose normalized path matches `prefix` to `handler`:
  //  - a prefix ending in '/' ("/sync/") matches every path that starts with it;
  //  - any other prefix ("/health", "/sync") matches that exact path and the paths below it
  //    ("/sync/offer"), but not "/synced".
  // The longest matching prefix wins. `methods` is the Allow list for the route
  // ("GET, HEAD, POST"); empty: the handler's own AllowedMethods(), and when that is empty too
  // every method reaches the handler.
  // Errors (kInvalidArgument): a prefix that does not start with '/', a prefix already routed,
  // a null handler, a method that is not an HTTP token.
  // Not thread-safe: add every route before the router serves its first request.
  Status Add(std::string_view prefix, std::string_view methods,
             std::shared_ptr<HttpHandler> handler);

  // Dispatches. Thread-safe once the routes are in place (they are only read).
  void Handle(const HttpRequest& request, HttpResponder responder) override;

  // Empty: the router answers 405 per route itself, so every method must reach it.
  std::string_view AllowedMethods() const override { return {}; }

 private:
  struct Route {
    std::string prefix;
    bool subtree = false;  // prefix ends in '/'
    std::shared_ptr<HttpHandler> handler;
    std::string allow;                 // the Allow header value; empty: any method
    std::vector<std::string> methods;  // parsed `allow`
  };
  static Status MakeRoute(std::string_view methods, const std::shared_ptr<HttpHandler>& handler,
                          Route* route);
  static void Dispatch(const Route& route, const HttpRequest& request, HttpResponder responder);

  std::vector<Route> routes_;  // longest prefix first
  Route fallback_;
};

}  // namespace tieup

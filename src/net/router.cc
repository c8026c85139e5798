#include "net/router.h"

#include <algorithm>

namespace tieup {
namespace {

bool IsTokenChar(unsigned char c) {
  if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Router::Router(std::shared_ptr<HttpHandler> fallback) {
  if (!fallback) return;
  // The handler's own Allow list is the only input here; a malformed one lets every method
  // through (as it would reach the handler without the router) rather than refusing them all.
  if (!MakeRoute({}, fallback, &fallback_).ok()) {
    fallback_ = Route();
    fallback_.handler = std::move(fallback);
  }
}

Status Router::MakeRoute(std::string_view methods, const std::shared_ptr<HttpHandler>& handler,
                         Route* route) {
  if (!handler) return Status::InvalidArgument("a route needs a handler");
  std::string_view list = Trim(methods).empty() ? handler->AllowedMethods() : methods;
  route->handler = handler;
  route->methods.clear();
  route->allow.clear();
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view m = Trim(list.substr(0, comma));
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    if (m.empty()) continue;
    if (!std::all_of(m.begin(), m.end(), [](char c) { return IsTokenChar(c); })) {
      return Status::InvalidArgument("'" + std::string(m) +
                                     "' is not an HTTP method: list methods like \"GET, POST\"");
    }
    if (std::find(route->methods.begin(), route->methods.end(), m) != route->methods.end()) {
      continue;
    }
    if (!route->allow.empty()) route->allow += ", ";
    route->allow += m;
    route->methods.emplace_back(m);
  }
  return Status::Ok();
}

Status Router::Add(std::string_view prefix, std::string_view methods,
                   std::shared_ptr<HttpHandler> handler) {
  if (prefix.empty() || prefix.front() != '/') {
    return Status::InvalidArgument("route prefix '" + std::string(prefix) +
                                   "' must start with '/'");
  }
  for (const Route& r : routes_) {
    if (r.prefix == prefix) {
      return Status::InvalidArgument("route prefix '" + std::string(prefix) +
                                     "' is already routed");
    }
  }
  Route route;
  RETURN_IF_ERROR(MakeRoute(methods, handler, &route));
  route.prefix = std::string(prefix);
  route.subtree = prefix.back() == '/';
  auto at = std::find_if(routes_.begin(), routes_.end(),
                         [&](const Route& r) { return r.prefix.size() < route.prefix.size(); });
  routes_.insert(at, std::move(route));
  return Status::Ok();
}

void Router::Handle(const HttpRequest& request, HttpResponder responder) {
  const std::string_view path = request.path();
  for (const Route& r : routes_) {
    if (path.size() < r.prefix.size() || path.compare(0, r.prefix.size(), r.prefix) != 0) {
      continue;
    }
    // "/sync" matches "/sync" and "/sync/..." only; "/sync/" matches anything below.
    if (r.subtree || path.size() == r.prefix.size() || path[r.prefix.size()] == '/') {
      Dispatch(r, request, std::move(responder));
      return;
    }
  }
  if (!fallback_.handler) {
    HttpResponse response = HttpResponse::Text(404, "404 Not Found\n");
    response.AddHeader("X-Content-Type-Options", "nosniff");
    responder.Respond(std::move(response));
    return;
  }
  Dispatch(fallback_, request, std::move(responder));
}

void Router::Dispatch(const Route& route, const HttpRequest& request, HttpResponder responder) {
  if (!route.methods.empty() && std::find(route.methods.begin(), route.methods.end(),
                                          request.method()) == route.methods.end()) {
    HttpResponse response =
        HttpResponse::Text(405, "405 Method Not Allowed: " + std::string(request.method()) +
                                    " is not allowed here; allowed: " + route.allow + "\n");
    response.AddHeader("Allow", route.allow);
    response.AddHeader("X-Content-Type-Options", "nosniff");
    responder.Respond(std::move(response));
    return;
  }
  route.handler->Handle(request, std::move(responder));
}

}  // namespace tieup

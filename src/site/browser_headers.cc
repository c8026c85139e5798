#include "site/browser_headers.h"

#include <utility>

namespace tieup {
namespace {

class SecurityHeadersHandler final : public HttpHandler {
 public:
  explicit SecurityHeadersHandler(std::shared_ptr<HttpHandler> inner) : inner_(std::move(inner)) {}

  void Handle(const HttpRequest& request, HttpResponder responder) override {
    auto outer = std::make_shared<HttpResponder>(std::move(responder));
    inner_->Handle(request, HttpResponder::FromCallback([outer](HttpResponse response) {
                     AddBrowserSecurityHeaders(response);
                     outer->Respond(std::move(response));
                   }));
  }
  std::string_view AllowedMethods() const override { return inner_->AllowedMethods(); }

 private:
  std::shared_ptr<HttpHandler> inner_;
};

}  // namespace

void AddBrowserSecurityHeaders(HttpResponse& response) {
  auto add = [&](std::string_view name, std::string_view value) {
    if (!response.FindHeader(name).has_value()) response.AddHeader(name, value);
  };
  add("Content-Security-Policy", kPageContentSecurityPolicy);
  add("X-Frame-Options", "DENY");
  // same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on a form
  // POST, and the shop refuses those as cross-site (the forms would never work).
  add("Referrer-Policy", "same-origin");
  add("X-Content-Type-Options", "nosniff");
}

std::shared_ptr<HttpHandler> WithBrowserSecurityHeaders(std::shared_ptr<HttpHandler> inner) {
  return std::make_shared<SecurityHeadersHandler>(std::move(inner));
}

}  // namespace tieup

#include "users/form_checks.h"

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "base/encoding.h"
#include "commerce/shop_pages.h"
#include "content/page_templates.h"
#include "users/user_store.h"

namespace tieup::users {
namespace {

constexpr size_t kMaxClients = 10'000;
constexpr int64_t kForgetMicros = 3600LL * 1'000'000;
constexpr int64_t kMaxDelaySeconds = 15 * 60;

}  // namespace

std::optional<std::string> PathOnHost(std::string_view url, std::string_view host) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u || !u->has_authority() || host.empty() ||
      !EqualsIgnoreCase(u->encoded_host_and_port(), host)) {
    return std::nullopt;
  }
  std::string path = u->path();
  // push_back, not = "/": GCC 12 warns wrongly (-Wrestrict, its bug 105329) once inlined here.
  if (path.empty()) path.push_back('/');
  return path;
}

bool FromAnotherSite(const HttpRequest& request) {
  if (auto site = request.FindHeader("Sec-Fetch-Site")) {
    if (*site != "same-origin" && *site != "none") return true;
  }
  std::string_view from = request.HeaderOr("Origin");
  if (from.empty()) from = request.HeaderOr("Referer");
  return !from.empty() && !PathOnHost(from, request.HeaderOr("Host"));
}

Result<commerce::FormFields> ReadPostedForm(const HttpRequest& request) {
  std::string_view type = request.HeaderOr("Content-Type");
  if (!EqualsIgnoreCase(commerce::Trim(type.substr(0, type.find(';'))),
                        "application/x-www-form-urlencoded")) {
    return Status(StatusCode::kUnimplemented,
                  "the form must be sent as application/x-www-form-urlencoded");
  }
  commerce::FormLimits limits;
  limits.max_body_bytes = 8 * 1024;
  limits.max_fields = 16;
  limits.max_value_bytes = 1024;
  return commerce::ParseForm(request.body(), limits);
}

int FormErrorStatus(const Status& status) {
  return status.code() == StatusCode::kUnimplemented       ? 415
         : status.code() == StatusCode::kResourceExhausted ? 413
                                                           : 400;
}

std::string CustomerCookie(std::string_view name, bool https) {
  std::string cookie = std::string(content::kCustomerCookie) + "=" +
                       boost::urls::encode(name, boost::urls::unreserved_chars) +
                       "; Path=/; SameSite=Lax";
  if (https) cookie += "; Secure";
  if (name.empty()) cookie += "; Max-Age=0";
  return cookie;
}

bool HasSession(SessionStore& sessions, const HttpRequest& request, bool https,
                std::string_view cookie_base) {
  const std::string value =
      commerce::CookieValue(request.HeaderOr("Cookie"), SessionCookieName(https, cookie_base));
  return !value.empty() && sessions.Peek(value).ok();
}

std::optional<Session> SessionOf(SessionStore* sessions, const HttpRequest& request, bool https,
                                 std::string_view cookie_base, std::string* cookie_value) {
  if (sessions == nullptr) return std::nullopt;
  const std::string value =
      commerce::CookieValue(request.HeaderOr("Cookie"), SessionCookieName(https, cookie_base));
  if (value.empty()) return std::nullopt;
  auto session = sessions->Find(value);
  if (!session.ok()) return std::nullopt;
  if (cookie_value != nullptr) *cookie_value = value;
  return std::move(*session);
}

HttpResponse RenderUserPage(const content::PageTemplates& templates, const HttpRequest& request,
                            int status, std::string_view title, std::string_view name,
                            const boost::json::object& data, std::optional<std::string> customer) {
  const content::PageFrame frame{std::string(title), commerce::CartCountFromRequest(request),
                                 std::move(customer)};
  auto html = templates.Render(name, frame, data);
  if (!html.ok()) {  // only a broken built-in template (the tests render each)
    status = 500;
    html = templates.InShell(frame, HtmlEscape("This page could not be shown."));
  }
  HttpResponse r = HttpResponse::Html(status, std::move(*html));
  r.AddHeader("Cache-Control", "no-store");
  r.AddHeader("X-Content-Type-Options", "nosniff");
  r.AddHeader("Referrer-Policy", "same-origin");
  return r;
}

std::string PolicyAllowingFormTarget(std::string_view policy, std::string_view uri) {
  std::string out(policy);
  auto u = boost::urls::parse_absolute_uri(uri);
  const std::string_view self = "form-action 'self'";
  const size_t at = out.find(self);
  if (!u || at == std::string::npos) return out;
  const std::string origin =
      std::string(u->scheme()) + "://" + std::string(u->encoded_host_and_port());
  out.insert(at + self.size(), " " + origin);
  return out;
}

std::string Sentence(std::string message) {
  if (!message.empty() && message[0] >= 'a' && message[0] <= 'z') message[0] -= 'a' - 'A';
  if (!message.empty() && message.back() != '.') message += '.';
  return message;
}

void RespondOffIoThread(WorkerPool& pool, size_t max_queued, const HttpRequest& request,
                        HttpResponder responder,
                        std::function<HttpResponse(const HttpRequest&)> handle,
                        const std::function<HttpResponse(const HttpRequest&)>& busy) {
  if (request.method() == "POST") {
    if (pool.queued() >= max_queued) {
      responder.Respond(busy(request));
      return;
    }
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    const HttpRequest* req = &request;  // valid until the responder is used (HttpHandler)
    if (pool.Submit([handle, req, shared] { shared->Respond(handle(*req)); })) return;
    responder = std::move(*shared);  // the pool is stopping: answer here
  }
  responder.Respond(handle(request));
}

HttpResponse BusyResponse(const HttpRequest&) {
  HttpResponse r = HttpResponse::Text(503,
                                      "Too many requests right now; try again in a few "
                                      "seconds.\n");
  r.AddHeader("Retry-After", "5");
  return r;
}

int64_t ClientFailures::WaitSeconds(const std::string& client) {
  if (env_ == nullptr) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(client);
  if (it == clients_.end()) return 0;
  const int64_t delay = FailureDelaySeconds(it->second.failures - free_, kMaxDelaySeconds);
  if (delay == 0) return 0;
  const int64_t wait = it->second.last_micros + delay * 1'000'000 - env_->NowMicros();
  return wait <= 0 ? 0 : (wait + 999'999) / 1'000'000;
}

void ClientFailures::Count(const std::string& client) {
  if (env_ == nullptr) return;
  const int64_t now = env_->NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(client);
  if (it != clients_.end() && now - it->second.last_micros > kForgetMicros) {
    it->second.failures = 0;
  }
  if (it == clients_.end()) {
    if (clients_.size() >= kMaxClients) {
      auto oldest = clients_.begin();
      for (auto i = clients_.begin(); i != clients_.end(); ++i) {
        if (i->second.last_micros < oldest->second.last_micros) oldest = i;
      }
      clients_.erase(oldest);
    }
    it = clients_.emplace(client, Entry{}).first;
  }
  ++it->second.failures;
  it->second.last_micros = now;
}

}  // namespace tieup::users

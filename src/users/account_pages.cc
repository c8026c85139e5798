#include "users/account_pages.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "base/encoding.h"
#include "base/worker_pool.h"
#include "commerce/cart_limiter.h"
#include "commerce/form.h"
#include "commerce/shop_pages.h"

namespace tieup::users {

// Generated from src/users/templates/*.mustache (tieup_embed_files).
const content::EmbeddedTemplates& EmbeddedAccountTemplates();

const content::EmbeddedTemplates& AccountPageTemplates() { return EmbeddedAccountTemplates(); }

namespace {

namespace json = boost::json;

constexpr size_t kMaxFromPathBytes = 512;

// The path of `url` when it is an absolute URL whose host:port is `host`.
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

// True when the browser tells us the form was sent from another site (see the header).
bool FromAnotherSite(const HttpRequest& request) {
  if (auto site = request.FindHeader("Sec-Fetch-Site")) {
    if (*site != "same-origin" && *site != "none") return true;
  }
  std::string_view from = request.HeaderOr("Origin");
  if (from.empty()) from = request.HeaderOr("Referer");
  return !from.empty() && !PathOnHost(from, request.HeaderOr("Host"));
}

// The site path in a form's "from" field or, without one, the POST's Referer.
std::string FromPath(const HttpRequest& request, const commerce::FormFields& form) {
  std::string path(form.Get("from"));
  if (path.empty()) {
    path = PathOnHost(request.HeaderOr("Referer"), request.HeaderOr("Host")).value_or("");
  }
  if (path.size() > kMaxFromPathBytes || path.empty() || path[0] != '/') return "";
  return path;
}

// What the visitor typed, to show the form again (never the password).
struct FormValues {
  std::string email, display_name, from;
};

json::object RegisterData(const FormValues& v) {
  return json::object{{"email", v.email},
                      {"display_name", v.display_name},
                      {"from", v.from},
                      {"min_password_chars", kMinPasswordChars}};
}

json::object ProblemData(std::string_view heading, std::string_view message) {
  return json::object{{"heading", heading}, {"message", message}};
}

// Failed sign-ins per client address (AccountPagesOptions::failures_per_client). Thread-safe.
class ClientFailures {
 public:
  static constexpr size_t kMaxClients = 10'000;
  static constexpr int64_t kForgetMicros = 3600LL * 1'000'000;
  static constexpr int64_t kMaxDelaySeconds = 15 * 60;

  ClientFailures(Env* env, int free_failures) : env_(env), free_(free_failures) {}

  // Seconds `client` must still wait (0: none).
  int64_t WaitSeconds(const std::string& client) {
    if (env_ == nullptr) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clients_.find(client);
    if (it == clients_.end()) return 0;
    const int64_t delay = FailureDelaySeconds(it->second.failures - free_, kMaxDelaySeconds);
    if (delay == 0) return 0;
    const int64_t wait = it->second.last_micros + delay * 1'000'000 - env_->NowMicros();
    return wait <= 0 ? 0 : (wait + 999'999) / 1'000'000;
  }

  void Count(const std::string& client) {
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

 private:
  struct Entry {
    int64_t failures = 0;
    int64_t last_micros = 0;
  };
  Env* const env_;
  const int free_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> clients_;
};

content::PageSite SiteWithName(content::PageSite site, const std::string& name) {
  if (site.site_name.empty()) site.site_name = name;
  return site;
}

}  // namespace

class AccountPages::Impl {
 public:
  Impl(std::shared_ptr<AccountBackend> backend, AccountPagesOptions options)
      : backend_(std::move(backend)),
        options_(std::move(options)),
        templates_(AccountPageTemplates(), SiteWithName(options_.site, options_.site_name)),
        client_failures_(options_.env, options_.failures_per_client),
        pool_(options_.threads < 1 ? 1 : options_.threads) {}

  WorkerPool& pool() { return pool_; }
  const AccountPagesOptions& options() const { return options_; }

  // The answer to a POST that finds every worker busy and max_queued_posts waiting.
  HttpResponse Busy(const HttpRequest& request) {
    HttpResponse r = Page(request, 503, "Please try again later", "account_problem",
                          ProblemData("Please try again later",
                                      "Too many visitors are signing in right now; try again in a "
                                      "few seconds. Nothing was recorded."),
                          std::nullopt);
    r.AddHeader("Retry-After", "5");
    return r;
  }

  HttpResponse Handle(const HttpRequest& request) {
    try {
      return Route(request);
    } catch (const std::exception&) {
      return HttpResponse::Text(500, "The account page failed; please try again.\n");
    }
  }

 private:
  HttpResponse Route(const HttpRequest& request) {
    const std::string_view path = request.path();
    const bool post = request.method() == "POST";
    if (path == "/account/" || path == "/account") {
      if (post) return NotAllowed(request);
      return AccountPage(request);
    }
    if (path == "/account/logout") {
      if (!post) return NotAllowed(request);
      if (FromAnotherSite(request)) return Refused(request);
      return Logout(request);
    }
    if (path != "/account/register" && path != "/account/login") {
      return Page(request, 404, "Page not found", "account_problem",
                  ProblemData("Page not found", "There is no account page at this address."));
    }
    const bool register_page = path == "/account/register";
    if (!post) {
      if (!register_page) {
        return Page(request, 200, "Sign in", "sign_in", json::object{{"email", ""}});
      }
      FormValues v;
      v.from = PathOnHost(request.HeaderOr("Referer"), request.HeaderOr("Host")).value_or("");
      if (v.from.size() > kMaxFromPathBytes) v.from.clear();
      return Page(request, 200, "Create an account", "register", RegisterData(v));
    }
    if (FromAnotherSite(request)) return Refused(request);
    auto form = ReadForm(request);
    if (!form.ok()) {
      const StatusCode c = form.status().code();
      return Page(request,
                  c == StatusCode::kUnimplemented       ? 415
                  : c == StatusCode::kResourceExhausted ? 413
                                                        : 400,
                  "The form could not be read", "account_problem",
                  ProblemData("The form could not be read",
                              "Your browser sent a form we could not read: " +
                                  form.status().message() + ". Please go back and try again."));
    }
    return register_page ? Register(request, *form) : Login(request, *form);
  }

  HttpResponse Refused(const HttpRequest& request) {
    return Page(request, 403, "Form refused", "account_problem",
                ProblemData("Form refused",
                            "This form was sent from another site; for your safety it was "
                            "refused. Please use this site's own pages."));
  }

  HttpResponse NotAllowed(const HttpRequest& request) {
    HttpResponse r = Page(request, 405, "Not allowed", "account_problem",
                          ProblemData("Not allowed", "This page does not take that request."));
    r.AddHeader("Allow", request.path() == "/account/logout" ? "POST" : "GET, HEAD");
    return r;
  }

  // --- sessions ---

  std::string SessionCookieOf(const HttpRequest& request) const {
    return commerce::CookieValue(request.HeaderOr("Cookie"),
                                 SessionCookieName(options_.https, kSessionCookie));
  }

  // The visitor's session, if any (its last use moved to now).
  std::optional<Session> CurrentSession(const HttpRequest& request) {
    if (options_.sessions == nullptr) return std::nullopt;
    const std::string cookie = SessionCookieOf(request);
    if (cookie.empty()) return std::nullopt;
    auto session = options_.sessions->Find(cookie);
    if (!session.ok()) return std::nullopt;
    return std::move(*session);
  }

  // The customer cookie: the display name for the layouts' scripts (empty: deleted).
  std::string CustomerCookie(std::string_view name) const {
    std::string cookie = std::string(content::kCustomerCookie) + "=" +
                         boost::urls::encode(name, boost::urls::unreserved_chars) +
                         "; Path=/; SameSite=Lax";
    if (options_.https) cookie += "; Secure";
    if (name.empty()) cookie += "; Max-Age=0";
    return cookie;
  }

  // Starts a session for `user_id` on `response` (a fresh id: the visitor's previous session
  // ends). Without sessions, or when the store fails, the page is still shown (signed out).
  void StartSession(const HttpRequest& request, HttpResponse& response, std::string_view user_id,
                    std::string_view name) {
    if (options_.sessions == nullptr) return;
    if (std::string old = SessionCookieOf(request); !old.empty()) {
      (void)options_.sessions->End(old);
    }
    auto created = options_.sessions->Create(user_id, user_id, name);
    if (!created.ok()) return;
    response.AddHeader("Set-Cookie",
                       SessionCookie(created->cookie_value, options_.https, kSessionCookie, "Lax"));
    response.AddHeader("Set-Cookie", CustomerCookie(name));
  }

  HttpResponse AccountPage(const HttpRequest& request) {
    std::optional<Session> session = CurrentSession(request);
    if (!session) {
      HttpResponse r = HttpResponse::Text(303, "Sign in to see your account.\n");
      r.AddHeader("Location", std::string(content::kSignInUrl));
      r.AddHeader("Cache-Control", "no-store");
      // A customer cookie left from a session that timed out no longer names anyone.
      if (request.HeaderOr("Cookie").find(content::kCustomerCookie) != std::string_view::npos) {
        r.AddHeader("Set-Cookie", CustomerCookie(""));
      }
      return r;
    }
    HttpResponse r =
        Page(request, 200, "Your account", "account",
             json::object{{"name", session->name}, {"csrf", session->csrf_token}}, session->name);
    r.user = session->subject;
    return r;
  }

  HttpResponse Logout(const HttpRequest& request) {
    std::optional<Session> session = CurrentSession(request);
    auto form = ReadForm(request);
    if (session && !(form.ok() && CsrfMatches(*session, form->Get("csrf")))) {
      return Refused(request);
    }
    if (session) (void)options_.sessions->End(SessionCookieOf(request));
    HttpResponse r = Page(request, 200, "Signed out", "signed_out", json::object{}, std::nullopt);
    r.AddHeader("Set-Cookie", SessionCookie("", options_.https, kSessionCookie, "Lax"));
    r.AddHeader("Set-Cookie", CustomerCookie(""));
    if (session) r.user = session->subject;
    return r;
  }

  // Template `name` with `data` in the site's layout; the header's cart count from the shop's
  // cookie, its account link for `customer` (by default the visitor's session's).
  HttpResponse Page(const HttpRequest& request, int status, std::string_view title,
                    std::string_view name, const json::object& data) {
    std::optional<Session> session = CurrentSession(request);
    return Page(request, status, title, name, data,
                session ? std::optional<std::string>(session->name) : std::nullopt);
  }
  HttpResponse Page(const HttpRequest& request, int status, std::string_view title,
                    std::string_view name, const json::object& data,
                    std::optional<std::string> customer) {
    const content::PageFrame frame{std::string(title), commerce::CartCountFromRequest(request),
                                   std::move(customer)};
    auto html = templates_.Render(name, frame, data);
    if (!html.ok()) {  // only a broken built-in template (the tests render each)
      status = 500;
      html = templates_.InShell(frame, HtmlEscape("This page could not be shown."));
    }
    HttpResponse r = HttpResponse::Html(status, std::move(*html));
    r.AddHeader("Cache-Control", "no-store");
    r.AddHeader("X-Content-Type-Options", "nosniff");
    r.AddHeader("Referrer-Policy", "same-origin");
    return r;
  }

  static Result<commerce::FormFields> ReadForm(const HttpRequest& request) {
    std::string_view type = request.HeaderOr("Content-Type");
    if (!EqualsIgnoreCase(commerce::Trim(type.substr(0, type.find(';'))),
                          "application/x-www-form-urlencoded")) {
      return Status(StatusCode::kUnimplemented,
                    "the form must be sent as application/x-www-form-urlencoded");
    }
    commerce::FormLimits limits;
    limits.max_body_bytes = 8 * 1024;
    limits.max_fields = 8;
    limits.max_value_bytes = 1024;
    return commerce::ParseForm(request.body(), limits);
  }

  HttpResponse Register(const HttpRequest& request, const commerce::FormFields& form) {
    RegistrationRequest r;
    r.email = std::string(form.Get("email"));
    r.display_name = std::string(form.Get("display_name"));
    r.password = std::string(form.Get("password"));
    FormValues shown{r.email, r.display_name, FromPath(request, form)};
    Result<std::string> user_id = backend_->Register(r, shown.from);
    if (user_id.ok()) {
      // The user id is internal: the page greets by name only.
      const std::string name(commerce::Trim(r.display_name));
      HttpResponse resp = Page(request, 200, "Welcome", "welcome",
                               json::object{{"name", name}, {"signed_in", Signs()}},
                               Signs() ? std::optional<std::string>(name) : std::nullopt);
      StartSession(request, resp, *user_id, name);
      resp.user = *user_id;
      return resp;
    }
    const StatusCode c = user_id.status().code();
    if (c == StatusCode::kAlreadyExists || c == StatusCode::kInvalidArgument) {
      json::object data = RegisterData(shown);
      data["problem"] = Sentence(user_id.status().message());
      return Page(request, c == StatusCode::kAlreadyExists ? 409 : 400, "Create an account",
                  "register", data);
    }
    return Unavailable(request, "Registration");
  }

  HttpResponse Login(const HttpRequest& request, const commerce::FormFields& form) {
    LoginRequest r{std::string(form.Get("email")), std::string(form.Get("password"))};
    // By client network (an IPv6 /64 is one client), as the shop's cart limiter counts.
    const std::string client = commerce::CartLimiter::ClientNetwork(request.remote_address());
    if (const int64_t wait = client_failures_.WaitSeconds(client); wait > 0) {
      HttpResponse throttled =
          Page(request, 429, "Sign in", "sign_in",
               json::object{
                   {"email", r.email},
                   {"problem", "Too many failed sign-ins from your network: try again in " +
                                   std::to_string(wait) + (wait == 1 ? " second." : " seconds.")}});
      throttled.AddHeader("Retry-After", std::to_string(wait));
      return throttled;
    }
    Result<LoginReply> reply = backend_->Login(r);
    if (!reply.ok() && reply.status().code() == StatusCode::kUnauthenticated) {
      client_failures_.Count(client);
    }
    if (reply.ok()) {
      HttpResponse resp =
          Page(request, 200, "Signed in", "signed_in", json::object{{"name", reply->display_name}},
               Signs() ? std::optional<std::string>(reply->display_name) : std::nullopt);
      StartSession(request, resp, reply->user_id, reply->display_name);
      resp.user = reply->user_id;
      return resp;
    }
    const StatusCode c = reply.status().code();
    if (c == StatusCode::kResourceExhausted) {
      HttpResponse throttled =
          Page(request, 429, "Sign in", "sign_in",
               json::object{{"email", r.email}, {"problem", Sentence(reply.status().message())}});
      throttled.AddHeader("Retry-After", "60");
      return throttled;
    }
    if (c == StatusCode::kUnauthenticated || c == StatusCode::kInvalidArgument) {
      return Page(request, c == StatusCode::kUnauthenticated ? 401 : 400, "Sign in", "sign_in",
                  json::object{{"email", r.email},
                               {"problem", c == StatusCode::kUnauthenticated
                                               ? std::string("Wrong email address or password.")
                                               : Sentence(reply.status().message())}});
    }
    return Unavailable(request, "Signing in");
  }

  HttpResponse Unavailable(const HttpRequest& request, std::string_view what) {
    HttpResponse r =
        Page(request, 503, "Please try again later", "account_problem",
             ProblemData("Please try again later",
                         std::string(what) +
                             " is not available right now, try again in a few minutes. Nothing "
                             "was recorded."));
    r.AddHeader("Retry-After", "120");
    return r;
  }

  // Whether a sign-in here starts a session.
  bool Signs() const { return options_.sessions != nullptr; }

  // "the password must ..." -> "The password must ....".
  static std::string Sentence(std::string message) {
    if (!message.empty() && message[0] >= 'a' && message[0] <= 'z') message[0] -= 'a' - 'A';
    if (!message.empty() && message.back() != '.') message += '.';
    return message;
  }

  std::shared_ptr<AccountBackend> backend_;
  const AccountPagesOptions options_;
  const content::PageTemplates templates_;
  ClientFailures client_failures_;
  WorkerPool pool_;  // last: its destructor runs queued requests while the rest is alive
};

AccountPages::AccountPages(std::shared_ptr<AccountBackend> backend, AccountPagesOptions options)
    : impl_(std::make_unique<Impl>(std::move(backend), std::move(options))) {}

AccountPages::~AccountPages() = default;

void AccountPages::Handle(const HttpRequest& request, HttpResponder responder) {
  if (request.method() == "POST") {
    // Password hashing and calls to main block: off the I/O thread.
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    const HttpRequest* req = &request;
    Impl* impl = impl_.get();  // the pool is Impl's: it runs its queue before Impl goes
    if (impl->pool().queued() >=
        static_cast<size_t>(std::max(impl->options().max_queued_posts, 0))) {
      shared->Respond(impl->Busy(request));
      return;
    }
    if (impl->pool().Submit([impl, req, shared] { shared->Respond(impl->Handle(*req)); })) return;
    responder = std::move(*shared);
  }
  responder.Respond(HandleRequest(request));
}

HttpResponse AccountPages::HandleRequest(const HttpRequest& request) {
  return impl_->Handle(request);
}

}  // namespace tieup::users

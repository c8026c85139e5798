#include "users/account_pages.h"

#include <boost/url/parse.hpp>
#include <optional>

#include "base/encoding.h"
#include "base/worker_pool.h"
#include "commerce/form.h"

namespace tieup::users {
namespace {

constexpr size_t kMaxFromPathBytes = 512;

std::string E(std::string_view text) { return HtmlEscape(text); }

// The path of `url` when it is an absolute URL whose host:port is `host`.
std::optional<std::string> PathOnHost(std::string_view url, std::string_view host) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u || !u->has_authority() || host.empty() ||
      !EqualsIgnoreCase(u->encoded_host_and_port(), host)) {
    return std::nullopt;
  }
  std::string path = u->path();
  if (path.empty()) path = "/";
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

std::string Field(std::string_view label, std::string_view name, std::string_view type,
                  std::string_view value, std::string_view autocomplete) {
  return "<label>" + E(label) + " <input type=\"" + std::string(type) + "\" name=\"" +
         std::string(name) + "\" value=\"" + E(value) + "\" autocomplete=\"" +
         std::string(autocomplete) + "\" required></label>";
}

std::string RegisterForm(const FormValues& v) {
  return "<form method=\"post\" action=\"/account/register\">" +
         Field("Email", "email", "email", v.email, "email") +
         Field("Name shown to others", "display_name", "text", v.display_name, "nickname") +
         Field("Password (at least " + std::to_string(kMinPasswordChars) + " characters)",
               "password", "password", "", "new-password") +
         "<input type=\"hidden\" name=\"from\" value=\"" + E(v.from) +
         "\"><p><button>Create account</button></p></form>"
         "<p>Already registered? <a href=\"/account/login\">Sign in</a></p>";
}

std::string LoginForm(std::string_view email) {
  return "<form method=\"post\" action=\"/account/login\">" +
         Field("Email", "email", "email", email, "email") +
         Field("Password", "password", "password", "", "current-password") +
         "<p><button>Sign in</button></p></form>"
         "<p>No account yet? <a href=\"/account/register\">Register</a></p>";
}

std::string Problem(std::string_view message) {
  return "<p class=\"problem\" role=\"alert\">" + E(message) + "</p>";
}

}  // namespace

class AccountPages::Impl {
 public:
  Impl(std::shared_ptr<AccountBackend> backend, AccountPagesOptions options)
      : backend_(std::move(backend)),
        options_(std::move(options)),
        pool_(options_.threads < 1 ? 1 : options_.threads) {}

  WorkerPool& pool() { return pool_; }

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
    if (path != "/account/register" && path != "/account/login") {
      return Page(404, "Page not found", Problem("There is no account page at this address."));
    }
    const bool register_page = path == "/account/register";
    if (!post) {
      if (!register_page) return Page(200, "Sign in", "<h1>Sign in</h1>" + LoginForm(""));
      FormValues v;
      v.from = PathOnHost(request.HeaderOr("Referer"), request.HeaderOr("Host")).value_or("");
      if (v.from.size() > kMaxFromPathBytes) v.from.clear();
      return Page(200, "Create an account", "<h1>Create an account</h1>" + RegisterForm(v));
    }
    if (FromAnotherSite(request)) {
      return Page(403, "Form refused",
                  Problem("This form was sent from another site; for your safety it was refused. "
                          "Please use this site's own pages."));
    }
    auto form = ReadForm(request);
    if (!form.ok()) {
      const StatusCode c = form.status().code();
      return Page(c == StatusCode::kUnimplemented       ? 415
                  : c == StatusCode::kResourceExhausted ? 413
                                                        : 400,
                  "The form could not be read",
                  Problem("Your browser sent a form we could not read: " + form.status().message() +
                          ". Please go back and try again."));
    }
    return register_page ? Register(request, *form) : Login(*form);
  }

  HttpResponse Page(int status, std::string_view title, const std::string& body) {
    std::string html =
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width, initial-scale=1\"><title>" +
        E(title) + " - " + E(options_.site_name) + "</title></head><body><main>" + body +
        "<p><a href=\"/\">Home</a></p></main></body></html>\n";
    HttpResponse r = HttpResponse::Html(status, std::move(html));
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
      HttpResponse resp =
          Page(200, "Welcome",
               "<h1>Welcome, " + E(commerce::Trim(r.display_name)) +
                   "</h1><p class=\"notice\">Your account is ready (user id <code>" + E(*user_id) +
                   "</code>). <a href=\"/account/login\">Sign in</a></p>");
      resp.user = *user_id;
      return resp;
    }
    const StatusCode c = user_id.status().code();
    if (c == StatusCode::kAlreadyExists || c == StatusCode::kInvalidArgument) {
      return Page(c == StatusCode::kAlreadyExists ? 409 : 400, "Create an account",
                  "<h1>Create an account</h1>" + Problem(Sentence(user_id.status().message())) +
                      RegisterForm(shown));
    }
    return Unavailable("Registration");
  }

  HttpResponse Login(const commerce::FormFields& form) {
    LoginRequest r{std::string(form.Get("email")), std::string(form.Get("password"))};
    Result<LoginReply> reply = backend_->Login(r);
    if (reply.ok()) {
      HttpResponse resp = Page(200, "Signed in",
                               "<h1>Signed in</h1><p class=\"notice\">Signed in as <strong>" +
                                   E(reply->display_name) + "</strong>.</p>");
      resp.user = reply->user_id;
      return resp;
    }
    const StatusCode c = reply.status().code();
    if (c == StatusCode::kUnauthenticated || c == StatusCode::kInvalidArgument) {
      return Page(
          c == StatusCode::kUnauthenticated ? 401 : 400, "Sign in",
          "<h1>Sign in</h1>" +
              Problem(c == StatusCode::kUnauthenticated ? "Wrong email address or password."
                                                        : Sentence(reply.status().message())) +
              LoginForm(r.email));
    }
    return Unavailable("Signing in");
  }

  HttpResponse Unavailable(std::string_view what) {
    HttpResponse r =
        Page(503, "Please try again later",
             "<h1>Please try again later</h1>" +
                 Problem(std::string(what) +
                         " is not available right now, try again in a few minutes. Nothing "
                         "was recorded."));
    r.AddHeader("Retry-After", "120");
    return r;
  }

  // "the password must ..." -> "The password must ....".
  static std::string Sentence(std::string message) {
    if (!message.empty() && message[0] >= 'a' && message[0] <= 'z') message[0] -= 'a' - 'A';
    if (!message.empty() && message.back() != '.') message += '.';
    return message;
  }

  std::shared_ptr<AccountBackend> backend_;
  const AccountPagesOptions options_;
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
    if (impl->pool().Submit([impl, req, shared] { shared->Respond(impl->Handle(*req)); })) return;
    responder = std::move(*shared);
  }
  responder.Respond(HandleRequest(request));
}

HttpResponse AccountPages::HandleRequest(const HttpRequest& request) {
  return impl_->Handle(request);
}

}  // namespace tieup::users

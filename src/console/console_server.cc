#include "console/console_server.h"

#include <algorithm>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>

#include "base/byte_count.h"
#include "console/console_tls.h"
#include "console/embedded.h"
#include "console/event_hub.h"
#include "console/request_checks.h"
#include "content/page_templates.h"
#include "net/http_server.h"

namespace tieup::console {
namespace {

namespace json = boost::json;

// Flash messages waiting for their session's next page, at most (a bound on memory; a full
// table is emptied, losing at worst a confirmation line).
constexpr size_t kMaxPendingFlashes = 1000;

// A local path a page may redirect to: "/..." without a scheme, host, backslash or control
// character.
bool IsLocalPath(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.starts_with("//")) return false;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

HttpResponse Redirect(std::string_view location) {
  HttpResponse r(303);
  r.AddHeader("Location", location);
  r.AddHeader("Content-Type", "text/plain; charset=utf-8");
  r.SetBody("See " + std::string(location) + "\n");
  return r;
}

// A page's Download as an answer: an attachment under a file name made safe for the header.
HttpResponse DownloadResponse(int status, Download d) {
  std::string name = d.file_name.empty() ? "download" : std::move(d.file_name);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  }
  HttpResponse r(status);
  r.AddHeader("Content-Type", d.content_type.empty() ? "application/octet-stream" : d.content_type);
  r.AddHeader("Content-Disposition", "attachment; filename=\"" + name + "\"");
  r.SetBody(std::move(d.body));
  return r;
}

// The decoded query of `request` as fields; none when it is malformed.
commerce::FormFields QueryFields(const HttpRequest& request) {
  auto fields = commerce::ParseForm(request.query());
  return fields.ok() ? std::move(*fields) : commerce::FormFields();
}

// The number in a Last-Event-ID header or `since` parameter.
std::optional<int64_t> EventId(std::string_view text) {
  return commerce::ParseDigits(commerce::Trim(text), 18);
}

// The HTTP server's handler: hands every request to the console.
class ConsoleHttpHandler final : public HttpHandler {
 public:
  explicit ConsoleHttpHandler(std::function<void(const HttpRequest&, HttpResponder)> handle)
      : handle_(std::move(handle)) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    handle_(request, std::move(responder));
  }

 private:
  std::function<void(const HttpRequest&, HttpResponder)> handle_;
};

}  // namespace

class Console::Impl {
 public:
  Impl(Env& env, ConsoleOptions options, std::unique_ptr<ManagerStore> managers,
       std::unique_ptr<SessionStore> sessions, std::unique_ptr<AuditLog> audit,
       std::shared_ptr<boost::asio::ssl::context> tls)
      : env_(env),
        options_(std::move(options)),
        managers_(std::move(managers)),
        sessions_(std::move(sessions)),
        audit_(std::move(audit)),
        tls_(std::move(tls)),
        https_(tls_ != nullptr),
        loopback_only_(IsLoopbackAddress(options_.address)),
        logger_(options_.logger ? options_.logger : NewNullLogger()) {
    if (options_.title.empty()) options_.title = "tieup console";
    for (const auto& [name, text] : EmbeddedConsoleTemplates()) {
      templates_[std::string(name)] = std::string(text);
    }
    for (const auto& [name, text] : EmbeddedConsoleStyle()) style_ += text;
    for (const auto& [name, text] : EmbeddedConsoleScript()) script_ += text;
    EventHub::Options hub;
    hub.hold = options_.events_hold;
    hub.max_waiters = static_cast<size_t>(std::max(1, options_.max_event_waiters));
    hub.retry_millis = kEventRetryMillis;
    hub.first_id = env_.NowMicros();
    hub_ = std::make_unique<EventHub>(
        hub, [https = https_](HttpResponse& r) { AddConsoleSecurityHeaders(r, https); });
  }

  ~Impl() { Stop(); }

  ManagerStore& managers() { return *managers_; }
  SessionStore& sessions() { return *sessions_; }
  AuditLog& audit() { return *audit_; }

  void AddTemplates(const std::vector<std::pair<std::string_view, std::string_view>>& list) {
    for (const auto& [name, text] : list) templates_[std::string(name)] = std::string(text);
  }
  void AddStyles(std::string_view css) { (style_ += '\n') += css; }
  void AddScript(std::string_view js) { (script_ += '\n') += js; }
  void AddNav(std::string label, std::string path) {
    nav_.push_back({std::move(label), std::move(path)});
  }
  void AddPage(std::string path, PageHandler handler, PageOptions options) {
    pages_[std::move(path)] = RegisteredPage{std::move(handler), options};
  }

  Status Audit(const ConsoleRequest& r, std::string action, std::string detail) {
    return Record(r.manager.email, std::move(action), std::move(detail), r.client_address);
  }

  void Publish(std::string type, json::object data) {
    logger_->debug("console: event '{}'", type);
    hub_->Publish(std::move(type), std::move(data));
  }

  Status Start() {
    if (server_) return Status::FailedPrecondition("the console has been started already");
    style_body_ = std::make_shared<const std::string>(style_);
    script_body_ = std::make_shared<const std::string>(script_);
    HttpServerOptions o;
    o.address = options_.address;
    o.port = options_.port;
    o.threads = std::max(1, options_.threads);
    // Bodies between a page's limit (kMaxConsoleFormBytes, or its upload limit) and this get the
    // console's own 413 page.
    uint64_t largest = kMaxConsoleFormBytes;
    for (const auto& [path, page] : pages_) {
      largest = std::max(largest, page.options.max_upload_bytes);
    }
    o.max_body_bytes = 2 * largest;
    o.logger = options_.logger;
    o.tls = tls_;
    // Browsers present no client certificate: do not hold them to the sync port's short leash.
    o.unauthenticated_timeout = o.header_timeout;
    server_ = std::make_unique<HttpServer>(
        env_, o,
        std::make_shared<ConsoleHttpHandler>([this](const HttpRequest& r, HttpResponder responder) {
          Handle(r, std::move(responder));
        }));
    Status s = server_->Start();
    if (!s.ok()) {
      server_.reset();
      return s.Annotate("starting the console on " + options_.address);
    }
    logger_->info("console: listening at {}", Url());
    return Status::Ok();
  }

  void Stop() {
    hub_->Stop();
    if (server_) server_->Stop();
  }

  uint16_t port() const { return server_ ? server_->port() : 0; }

  std::string Url() const {
    std::string host = options_.address;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return std::string(https_ ? "https://" : "http://") + host + ":" + std::to_string(port()) + "/";
  }

  bool WaitForEventWaiters(size_t n, std::chrono::milliseconds timeout) {
    return hub_->WaitForWaiters(n, timeout);
  }

 private:
  // A page of the daemon (AddPage).
  struct RegisteredPage {
    PageHandler handler;
    PageOptions options;
  };

  // Who is signed in on a request.
  struct Viewer {
    Manager manager;
    Session session;
    std::string cookie;  // the session cookie's value
    std::string path;    // the request's path (for the navigation's current item)
  };

  // --- dispatch ---

  void Handle(const HttpRequest& r, HttpResponder responder) {
    if (r.path() == "/events" && r.method() == "GET" && HostAllowed(r)) {
      Events(r, std::move(responder));
      return;
    }
    HttpResponse response;
    std::optional<std::string> framed_origin;  // set: a FramedDocument, with its own headers
    try {
      response = Answer(r, &framed_origin);
    } catch (const std::exception& e) {
      logger_->error("console: {} {} failed: {}", r.method(), r.path(), e.what());
      response = Problem(500, "Something went wrong",
                         "The console could not answer this request. The error was logged.");
      framed_origin.reset();
    }
    if (framed_origin) {
      AddFramedDocumentHeaders(response, https_, *framed_origin);
    } else {
      AddConsoleSecurityHeaders(response, https_);
    }
    responder.Respond(std::move(response));
  }

  bool HostAllowed(const HttpRequest& r) const {
    return !loopback_only_ || HostIsLoopback(r.HeaderOr("Host"));
  }

  HttpResponse Answer(const HttpRequest& r, std::optional<std::string>* framed_origin) {
    if (!HostAllowed(r)) {
      return Problem(400, "Wrong address",
                     "This console answers only at a localhost address, such as " + Url() + ".");
    }
    const std::string_view path = r.path();
    const bool get = r.method() == "GET" || r.method() == "HEAD";
    const bool post = r.method() == "POST";
    if (path == "/assets/console.css" || path == "/assets/console.js") {
      if (!get) return MethodNotAllowed("GET, HEAD");
      return Asset(path.ends_with(".css"));
    }
    if (path == "/sign-in") {
      if (get) return SignInForm(r);
      if (post) return SignIn(r);
      return MethodNotAllowed("GET, HEAD, POST");
    }
    if (path == "/sign-out") return post ? SignOut(r) : MethodNotAllowed("POST");
    if (path == "/set-password") {
      if (get) return SetPasswordForm(r);
      if (post) return SetPasswordSubmit(r);
      return MethodNotAllowed("GET, HEAD, POST");
    }
    if (path == "/events") return MethodNotAllowed("GET");
    return Page(r, get, post, framed_origin);
  }

  // --- pages of the daemon ---

  HttpResponse Page(const HttpRequest& r, bool get, bool post,
                    std::optional<std::string>* framed_origin) {
    if (!get && !post) return MethodNotAllowed("GET, HEAD, POST");
    std::optional<Viewer> viewer = SignedIn(r, /*touch=*/true);
    if (!viewer && get && CookieOf(r).empty() && ArrivedFromAnotherSite(r)) {
      // A link from another site (the preview on the public host, a mail): the browser keeps the
      // SameSite=Strict session cookie back on such a navigation. Opening the same address again
      // from here sends it; without one, that request goes on to the sign-in page.
      const std::string again = SafeNextPath(std::string(r.target()));
      return Render(200, "Opening the console", "reopen", {{"refresh", again}}, nullptr, "");
    }
    if (!viewer) {
      const std::string next = post ? std::string(r.path()) : std::string(r.target());
      HttpResponse response =
          Redirect("/sign-in?next=" + commerce::PercentEncode(SafeNextPath(next)));
      ClearStaleCookie(r, response);
      return response;
    }
    const RegisteredPage* handler = FindPage(r.path());
    if (handler == nullptr) {
      return Render(404, "Not found", "problem",
                    {{"message", "There is no page at " + std::string(r.path()) + "."}}, &*viewer,
                    TakeFlash(viewer->cookie));
    }
    commerce::FormFields form;
    std::vector<UploadedFile> files;
    if (post) {
      std::optional<HttpResponse> refused = CheckForm(r, &*viewer, handler->options, &form, &files);
      if (refused) return std::move(*refused);
    }
    const ConsoleRequest request{r,    viewer->manager,    viewer->session,
                                 form, r.remote_address(), files};
    // The page's live updates start from the events before its data was read: an event sent
    // while the handler reads (a run finishing) reaches the page's script, never falls between.
    const int64_t events_since = hub_->last_id();
    ConsolePage page;
    try {
      page = handler->handler(request);
    } catch (const std::exception& e) {
      logger_->error("console: the page {} failed: {}", r.path(), e.what());
      return Render(500, "Something went wrong", "problem",
                    {{"message", "This page could not be shown. The error was logged."}}, &*viewer,
                    "");
    }
    if (page.framed) {
      std::string html = std::move(page.framed->html);
      if (page.framed->base_at_resources_origin) {
        html = WithBase(std::move(html), page.framed->resources_origin);
      }
      *framed_origin = std::move(page.framed->resources_origin);
      return HttpResponse::Html(page.status, std::move(html));
    }
    if (page.download) return DownloadResponse(page.status, std::move(*page.download));
    if (!page.redirect.empty()) {
      if (!IsLocalPath(page.redirect)) {
        logger_->error("console: the page {} redirected outside the console: refused", r.path());
        return Render(500, "Something went wrong", "problem",
                      {{"message", "This page could not be shown. The error was logged."}},
                      &*viewer, "");
      }
      if (!page.flash.empty()) PutFlash(viewer->cookie, page.flash);
      return Redirect(page.redirect);
    }
    // A page's own background re-read (console.js tieupConsole.reloader) leaves the flash for
    // the page the person is about to see: it may run between a form's POST and the browser's
    // GET of the redirect.
    std::string flash = r.FindHeader("X-Tieup-Refresh") ? "" : TakeFlash(viewer->cookie);
    if (!page.flash.empty()) flash = flash.empty() ? page.flash : flash + " " + page.flash;
    return Render(page.status, page.title, page.template_name, std::move(page.data), &*viewer,
                  std::move(flash), events_since);
  }

  const RegisteredPage* FindPage(std::string_view path) const {
    const RegisteredPage* best = nullptr;
    size_t best_length = 0;
    for (const auto& [route, handler] : pages_) {
      // "/" is the home page, not a prefix of everything.
      const bool subtree = route.ends_with('/') && route != "/";
      const bool match = subtree ? path.starts_with(route) : path == route;
      if (match && (best == nullptr || route.size() > best_length)) {
        best = &handler;
        best_length = route.size();
      }
    }
    return best;
  }

  // CheckForm for the console's own forms (sign-in, sign-out, set-password): no uploads.
  std::optional<HttpResponse> CheckForm(const HttpRequest& r, const Viewer* viewer,
                                        commerce::FormFields* form) {
    std::vector<UploadedFile> none;
    return CheckForm(r, viewer, PageOptions{}, form, &none);
  }

  // The checks every POST passes (same origin, urlencoded, size; with `viewer`, the CSRF
  // token); fills `form`, and, for a multipart POST to a page that takes uploads (`options`),
  // `files`. A refusal page otherwise.
  std::optional<HttpResponse> CheckForm(const HttpRequest& r, const Viewer* viewer,
                                        const PageOptions& options, commerce::FormFields* form,
                                        std::vector<UploadedFile>* files) {
    if (!IsSameOrigin(r, https_)) {
      logger_->warn("console: refused a cross-site POST to {} from {} (Origin '{}')", r.path(),
                    r.remote_address(), r.HeaderOr("Origin").substr(0, 100));
      return Render(403, "Refused", "problem",
                    {{"message",
                      "This form was sent from another site, so it was refused. Open the page "
                      "in the console and send the form from there."}},
                    viewer, "");
    }
    const bool upload = options.max_upload_bytes > 0 && IsMultipartForm(r);
    if (upload && r.body().size() > options.max_upload_bytes) {
      return Render(413, "Too large", "problem",
                    {{"message", "The upload is " + FormatByteSize(r.body().size()) +
                                     ", more than the " + FormatByteSize(options.max_upload_bytes) +
                                     " this page takes at once. Go back and upload fewer or "
                                     "smaller files at a time (an image saved at a smaller "
                                     "size, for instance)."}},
                    viewer, "");
    }
    if (!upload && r.body().size() > kMaxConsoleFormBytes) {
      return Render(
          413, "Too large", "problem",
          {{"message", "The form is larger than " + std::to_string(kMaxConsoleFormBytes / 1024) +
                           " KiB. Send less at once."}},
          viewer, "");
    }
    if (!upload && !IsUrlencodedForm(r)) {
      const bool multipart = IsMultipartForm(r);
      return Render(
          415, "Not a form", "problem",
          {{"message", multipart ? "This page takes no file uploads: it accepts forms sent as "
                                   "application/x-www-form-urlencoded only. Upload files on the "
                                   "page made for it."
                                 : "The console accepts forms sent as "
                                   "application/x-www-form-urlencoded only."}},
          viewer, "");
    }
    Result<commerce::FormFields> parsed = commerce::FormFields();
    if (upload) {
      MultipartLimits limits;
      limits.max_total_bytes = options.max_upload_bytes;
      limits.max_field_bytes = kMaxConsoleFormBytes;
      auto multipart = ParseMultipartForm(r.HeaderOr("Content-Type"), r.body(), limits);
      if (!multipart.ok()) {
        logger_->warn("console: refused an upload to {} from {}: {}", r.path(), r.remote_address(),
                      multipart.status().message());
        const bool too_large = multipart.status().code() == StatusCode::kResourceExhausted;
        return Render(
            too_large ? 413 : 400, too_large ? "Too large" : "Bad upload", "problem",
            {{"message", "The upload could not be taken: " + multipart.status().message() + "."}},
            viewer, "");
      }
      parsed = std::move(multipart->fields);
      *files = std::move(multipart->files);
    } else {
      commerce::FormLimits limits;
      limits.max_body_bytes = kMaxConsoleFormBytes;
      limits.max_value_bytes = kMaxConsoleFormBytes;
      limits.max_fields = 1000;
      parsed = commerce::ParseForm(r.body(), limits);
      if (!parsed.ok()) {
        const bool too_large = parsed.status().code() == StatusCode::kResourceExhausted;
        return Render(too_large ? 413 : 400, too_large ? "Too large" : "Bad form", "problem",
                      {{"message", "The form could not be read: " + parsed.status().message()}},
                      viewer, "");
      }
    }
    if (viewer != nullptr && !CsrfMatches(viewer->session, parsed->Get("csrf"))) {
      files->clear();
      logger_->warn("console: refused a POST to {} by {} without the session's CSRF token",
                    r.path(), viewer->manager.email);
      return Render(403, "Refused", "problem",
                    {{"message",
                      "This form is out of date (it was made for another session). Go back, "
                      "reload the page and send it again."}},
                    viewer, "");
    }
    *form = std::move(*parsed);
    return std::nullopt;
  }

  // --- sessions ---

  std::string CookieOf(const HttpRequest& r) const {
    return commerce::CookieValue(r.HeaderOr("Cookie"),
                                 SessionCookieName(https_, options_.cookie_name));
  }

  std::optional<Viewer> SignedIn(const HttpRequest& r, bool touch) {
    std::string cookie = CookieOf(r);
    if (cookie.empty()) return std::nullopt;
    auto session = touch ? sessions_->Find(cookie) : sessions_->Peek(cookie);
    if (!session.ok()) {
      if (session.status().code() != StatusCode::kNotFound) {
        logger_->error("console: reading a session failed: {}", session.status().ToString());
      }
      return std::nullopt;
    }
    auto manager = managers_->Get(session->subject);
    if (!manager.ok() || !manager->password_set) {
      // Removed or reset since: the session goes with the password.
      (void)sessions_->End(cookie);
      return std::nullopt;
    }
    return Viewer{std::move(*manager), std::move(*session), std::move(cookie),
                  std::string(r.path())};
  }

  // A top-level navigation from a page of another site (Fetch Metadata request headers).
  static bool ArrivedFromAnotherSite(const HttpRequest& r) {
    const std::string_view site = r.HeaderOr("Sec-Fetch-Site");
    return (site == "cross-site" || site == "same-site") &&
           r.HeaderOr("Sec-Fetch-Mode") == "navigate";
  }

  void ClearStaleCookie(const HttpRequest& r, HttpResponse& response) const {
    if (!CookieOf(r).empty())
      response.AddHeader("Set-Cookie", SessionCookie("", https_, options_.cookie_name));
  }

  void PutFlash(const std::string& cookie, const std::string& text) {
    std::lock_guard<std::mutex> lock(flash_mu_);
    if (flashes_.size() >= kMaxPendingFlashes) flashes_.clear();
    std::string& slot = flashes_[cookie];
    slot = slot.empty() ? text : slot + " " + text;
  }

  std::string TakeFlash(const std::string& cookie) {
    std::lock_guard<std::mutex> lock(flash_mu_);
    auto it = flashes_.find(cookie);
    if (it == flashes_.end()) return "";
    std::string text = std::move(it->second);
    flashes_.erase(it);
    return text;
  }

  // --- built-in pages ---

  HttpResponse SignInForm(const HttpRequest& r) {
    const commerce::FormFields query = QueryFields(r);
    const std::string next = SafeNextPath(query.Get("next"));
    if (SignedIn(r, /*touch=*/false)) return Redirect(next);
    json::object data{{"next", next}, {"email", std::string(query.Get("email"))}};
    const std::string_view done = query.Get("done");
    if (done == "password") data["notice"] = "Your password is set. Sign in with it.";
    if (done == "signed-out") data["notice"] = "You are signed out.";
    return Render(200, "Sign in", "sign_in", std::move(data), nullptr, "");
  }

  HttpResponse SignIn(const HttpRequest& r) {
    commerce::FormFields form;
    if (auto refused = CheckForm(r, nullptr, &form)) return std::move(*refused);
    const std::string next = SafeNextPath(form.Get("next"));
    const std::string_view email = form.Get("email");
    auto manager = managers_->CheckLogin(email, form.Get("password"), r.remote_address());
    if (!manager.ok()) {
      const StatusCode code = manager.status().code();
      if (code != StatusCode::kUnauthenticated && code != StatusCode::kResourceExhausted) {
        logger_->error("console: checking a sign-in failed: {}", manager.status().ToString());
        return Problem(500, "Something went wrong",
                       "Signing in failed for a reason of the server's. The error was logged.");
      }
      // What was typed is logged only when it is an address: a password typed into the
      // e-mail field must not reach the log.
      auto typed = users::NormalizeEmail(email);
      logger_->warn("console: refused a sign-in as {} from {}: {}",
                    typed.ok() ? "'" + *typed + "'" : std::string("(not an e-mail address)"),
                    r.remote_address(), manager.status().message());
      json::object data{{"next", next},
                        {"email", std::string(email.substr(0, users::kMaxEmailBytes))},
                        {"error", manager.status().message()}};
      return Render(code == StatusCode::kUnauthenticated ? 401 : 429, "Sign in", "sign_in",
                    std::move(data), nullptr, "");
    }
    // A fresh session id at every sign-in: a cookie planted before it signs no one in.
    if (std::string old = CookieOf(r); !old.empty()) (void)sessions_->End(old);
    auto created = sessions_->Create(manager->email);
    if (!created.ok()) {
      logger_->error("console: making a session failed: {}", created.status().ToString());
      return Problem(500, "Something went wrong",
                     "Signing in failed for a reason of the server's. The error was logged.");
    }
    (void)Record(manager->email, "sign in", "", r.remote_address());
    HttpResponse response = Redirect(next);
    response.AddHeader("Set-Cookie",
                       SessionCookie(created->cookie_value, https_, options_.cookie_name));
    return response;
  }

  HttpResponse SignOut(const HttpRequest& r) {
    std::optional<Viewer> viewer = SignedIn(r, /*touch=*/false);
    if (!viewer) {
      HttpResponse response = Redirect("/sign-in");
      ClearStaleCookie(r, response);
      return response;
    }
    commerce::FormFields form;
    if (auto refused = CheckForm(r, &*viewer, &form)) return std::move(*refused);
    Status s = sessions_->End(viewer->cookie);
    if (!s.ok()) {
      logger_->error("console: ending a session failed: {}", s.ToString());
      return Problem(500, "Something went wrong",
                     "Signing out failed for a reason of the server's. The error was logged.");
    }
    TakeFlash(viewer->cookie);
    (void)Record(viewer->manager.email, "sign out", "", r.remote_address());
    HttpResponse response = Redirect("/sign-in?done=signed-out");
    response.AddHeader("Set-Cookie", SessionCookie("", https_, options_.cookie_name));
    return response;
  }

  HttpResponse SetPasswordForm(const HttpRequest& r) {
    const commerce::FormFields query = QueryFields(r);
    const std::string token(query.Get("token"));
    auto email = managers_->CheckSetupToken(token);
    if (!email.ok()) return ExpiredLink(email.status());
    return Render(200, "Choose your password", "set_password",
                  {{"valid", true},
                   {"token", token},
                   {"email", *email},
                   {"min_chars", static_cast<int64_t>(users::kMinPasswordChars)}},
                  nullptr, "");
  }

  HttpResponse SetPasswordSubmit(const HttpRequest& r) {
    commerce::FormFields form;
    if (auto refused = CheckForm(r, nullptr, &form)) return std::move(*refused);
    const std::string token(form.Get("token"));
    auto email = managers_->CheckSetupToken(token);
    if (!email.ok()) return ExpiredLink(email.status());
    auto again = [&](std::string error) {
      return Render(400, "Choose your password", "set_password",
                    {{"valid", true},
                     {"token", token},
                     {"email", *email},
                     {"min_chars", static_cast<int64_t>(users::kMinPasswordChars)},
                     {"error", std::move(error)}},
                    nullptr, "");
    };
    if (form.Get("password") != form.Get("confirm")) {
      return again("The two passwords differ: type the same password twice.");
    }
    auto set = managers_->SetPassword(token, form.Get("password"));
    if (!set.ok()) {
      if (set.status().code() != StatusCode::kInvalidArgument) {
        logger_->error("console: setting a password failed: {}", set.status().ToString());
        return Problem(500, "Something went wrong",
                       "The password could not be set. The error was logged.");
      }
      if (!managers_->CheckSetupToken(token).ok()) return ExpiredLink(set.status());
      return again(set.status().message());
    }
    // A new password ends every session of the old one.
    (void)sessions_->EndAllFor(*set);
    (void)Record(*set, "set password", "", r.remote_address());
    return Redirect("/sign-in?done=password&email=" + commerce::PercentEncode(*set));
  }

  HttpResponse ExpiredLink(const Status& status) {
    if (status.code() != StatusCode::kInvalidArgument) {
      logger_->error("console: checking a set-password link failed: {}", status.ToString());
      return Problem(500, "Something went wrong",
                     "The link could not be checked. The error was logged.");
    }
    return Render(400, "Choose your password", "set_password", {{"expired", status.message()}},
                  nullptr, "");
  }

  HttpResponse Asset(bool css) const {
    HttpResponse r(200);
    r.AddHeader("Content-Type", css ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8");
    r.SetSharedBody(css ? style_body_ : script_body_);
    return r;
  }

  HttpResponse MethodNotAllowed(std::string_view allow) {
    HttpResponse r =
        Problem(405, "Not allowed", "This address does not take that kind of request.");
    r.AddHeader("Allow", allow);
    return r;
  }

  HttpResponse Problem(int status, std::string_view title, std::string message) {
    return Render(status, title, "problem", {{"message", std::move(message)}}, nullptr, "");
  }

  // --- events ---

  void Events(const HttpRequest& r, HttpResponder responder) {
    if (!SignedIn(r, /*touch=*/false)) {
      // 204 tells EventSource to stop reconnecting: the page is signed out.
      HttpResponse response(204);
      AddConsoleSecurityHeaders(response, https_);
      responder.Respond(std::move(response));
      return;
    }
    std::optional<int64_t> since;
    if (auto last = r.FindHeader("Last-Event-ID")) since = EventId(*last);
    if (!since) {
      const commerce::FormFields query = QueryFields(r);
      if (query.Has("since")) since = EventId(query.Get("since"));
    }
    hub_->Wait(since.value_or(hub_->last_id()), std::move(responder));
  }

  // --- rendering ---

  // `html` with <base href="ORIGIN/"> (template frame_base) as the first element of its head.
  // Not an HTML parser: it only finds where the head starts (after "<head ...>", or after the
  // doctype, or at the very start), where a browser takes a <base> in every case.
  std::string WithBase(std::string html, const std::string& origin) const {
    auto tag = RenderTemplate("frame_base", json::object{{"href", origin + "/"}});
    if (!tag.ok()) return html;
    std::string lower = html.substr(0, std::min<size_t>(html.size(), 64 * 1024));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    size_t at = std::string::npos;
    for (size_t from = 0; (from = lower.find("<head", from)) != std::string::npos; from += 5) {
      const char next = from + 5 < lower.size() ? lower[from + 5] : '\0';
      if (next == '>' || next == ' ' || next == '\t' || next == '\n' || next == '\r') {
        const size_t close = lower.find('>', from);
        if (close != std::string::npos) at = close + 1;
        break;
      }
    }
    if (at == std::string::npos) {
      const size_t start = lower.find_first_not_of(" \t\r\n");
      at = 0;
      if (start != std::string::npos && lower.compare(start, 9, "<!doctype") == 0) {
        const size_t close = lower.find('>', start);
        at = close == std::string::npos ? start : close + 1;
      }
    }
    html.insert(at, *tag);
    return html;
  }

  Result<std::string> RenderTemplate(std::string_view name, const json::object& data) const {
    auto it = templates_.find(name);
    if (it == templates_.end()) {
      return Status::Internal("there is no console template '" + std::string(name) + "'");
    }
    std::map<std::string, std::string> partials;
    for (const auto& [partial, text] : templates_) {
      if (partial.starts_with('_')) partials.emplace(partial, text);
    }
    return content::RenderMustacheJson(it->second, json::value(data),
                                       "console template " + std::string(name), partials);
  }

  // Template `name` with `data` inside the layout, for `viewer` (null: nobody signed in).
  // `events_since`: the last event id before the page's data was read (default: now).
  HttpResponse Render(int status, std::string_view title, std::string_view name, json::object data,
                      const Viewer* viewer, std::string flash,
                      std::optional<int64_t> events_since = std::nullopt) {
    data["csrf"] = viewer != nullptr ? viewer->session.csrf_token : std::string();
    if (!data.contains("title")) data["title"] = std::string(title);
    Result<std::string> body = RenderTemplate(name, data);
    if (!body.ok()) {
      logger_->error("console: {}", body.status().message());
      status = 500;
      title = "Something went wrong";
      body = RenderTemplate("problem", {{"title", "Something went wrong"},
                                        {"message",
                                         "This page could not be shown. The error "
                                         "was logged."}});
      if (!body.ok()) return HttpResponse::Text(500, "500: the console's templates are broken\n");
    }
    json::object layout{{"console_title", options_.title},
                        {"title", std::string(title)},
                        {"content", std::move(*body)}};
    if (!flash.empty()) layout["flash"] = std::move(flash);
    if (const json::value* refresh = data.if_contains("refresh")) layout["refresh"] = *refresh;
    if (viewer != nullptr) {
      layout["signed_in"] = true;
      layout["manager_email"] = viewer->manager.email;
      layout["manager_name"] = viewer->manager.name;
      layout["csrf"] = viewer->session.csrf_token;
      layout["events_since"] = std::to_string(events_since.value_or(hub_->last_id()));
      json::array nav;
      for (const auto& [label, path] : nav_) {
        nav.push_back(json::object{
            {"label", label}, {"path", path}, {"current", IsCurrent(path, viewer->path)}});
      }
      layout["nav"] = std::move(nav);
    }
    Result<std::string> page = RenderTemplate("layout", layout);
    if (!page.ok()) {
      logger_->error("console: {}", page.status().message());
      return HttpResponse::Text(500, "500: the console's layout is broken\n");
    }
    return HttpResponse::Html(status, std::move(*page));
  }

  // Whether the navigation item `nav_path` is the page at `path`, or holds it.
  static bool IsCurrent(const std::string& nav_path, std::string_view path) {
    if (path == nav_path) return true;
    if (nav_path.ends_with('/')) return nav_path != "/" && path.starts_with(nav_path);
    return path.starts_with(nav_path + "/");
  }

  Status Record(std::string_view actor, std::string action, std::string detail,
                std::string_view address) {
    logger_->info("console: {} by {} from {}{}{}", action, actor, address,
                  detail.empty() ? "" : ": ", detail);
    Status s = audit_->Record(
        {0, std::string(actor), std::move(action), std::move(detail), std::string(address)});
    if (!s.ok()) logger_->error("console: writing the audit log failed: {}", s.ToString());
    return s;
  }

  Env& env_;
  ConsoleOptions options_;
  std::unique_ptr<ManagerStore> managers_;
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<AuditLog> audit_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  const bool https_;
  const bool loopback_only_;
  std::shared_ptr<Logger> logger_;
  std::map<std::string, std::string, std::less<>> templates_;
  std::vector<std::pair<std::string, std::string>> nav_;
  std::map<std::string, RegisteredPage> pages_;
  std::unique_ptr<EventHub> hub_;
  std::unique_ptr<HttpServer> server_;
  std::mutex flash_mu_;
  std::map<std::string, std::string> flashes_;
  std::string style_, script_;  // set-up; served from the shared copies made at Start
  std::shared_ptr<const std::string> style_body_, script_body_;
};

Console::Console(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Console::~Console() = default;

Result<std::unique_ptr<Console>> Console::Open(Env& env, Database& db, ConsoleOptions options) {
  const bool name_ok =
      !options.cookie_name.empty() && options.cookie_name.size() <= 64 &&
      std::all_of(options.cookie_name.begin(), options.cookie_name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      });
  if (!name_ok) {
    return Status::InvalidArgument("the console's cookie name '" + options.cookie_name +
                                   "' must be 1-64 of [A-Za-z0-9_-]");
  }
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (options.tls_certificate_file.empty() != options.tls_key_file.empty()) {
    return Status::InvalidArgument(
        "the console needs both a TLS certificate and its key for HTTPS (or neither for "
        "HTTP): set [console] tls_certificate and tls_key together");
  }
  if (!options.tls_certificate_file.empty()) {
    ASSIGN_OR_RETURN(
        tls, MakeConsoleTlsContext(env, options.tls_certificate_file, options.tls_key_file));
  }
  ASSIGN_OR_RETURN(auto managers, ManagerStore::Open(env, db, options.managers));
  ASSIGN_OR_RETURN(auto sessions, SessionStore::Open(env, db, options.sessions));
  ASSIGN_OR_RETURN(auto audit, AuditLog::Open(env, db));
  return std::unique_ptr<Console>(
      new Console(std::make_unique<Impl>(env, std::move(options), std::move(managers),
                                         std::move(sessions), std::move(audit), std::move(tls))));
}

void Console::AddTemplates(
    const std::vector<std::pair<std::string_view, std::string_view>>& templates) {
  impl_->AddTemplates(templates);
}
void Console::AddStyles(std::string_view css) { impl_->AddStyles(css); }
void Console::AddScript(std::string_view js) { impl_->AddScript(js); }
void Console::AddNav(std::string label, std::string path) {
  impl_->AddNav(std::move(label), std::move(path));
}
void Console::AddPage(std::string path, PageHandler handler, PageOptions options) {
  impl_->AddPage(std::move(path), std::move(handler), options);
}
Status Console::Audit(const ConsoleRequest& request, std::string action, std::string detail) {
  return impl_->Audit(request, std::move(action), std::move(detail));
}
void Console::Publish(std::string type, boost::json::object data) {
  impl_->Publish(std::move(type), std::move(data));
}
ManagerStore& Console::managers() { return impl_->managers(); }
SessionStore& Console::sessions() { return impl_->sessions(); }
AuditLog& Console::audit() { return impl_->audit(); }
Status Console::Start() { return impl_->Start(); }
void Console::Stop() { impl_->Stop(); }
uint16_t Console::port() const { return impl_->port(); }
std::string Console::url() const { return impl_->Url(); }
bool Console::WaitForEventWaitersForTest(size_t n, std::chrono::milliseconds timeout) {
  return impl_->WaitForEventWaiters(n, timeout);
}

ConsolePage ProblemPage(int status, std::string title, std::string message) {
  ConsolePage p;
  p.status = status;
  p.title = title;
  p.template_name = "problem";
  p.data = json::object{{"heading", std::move(title)}, {"message", std::move(message)}};
  return p;
}

ConsolePage RedirectPage(std::string path, std::string flash) {
  ConsolePage p;
  p.redirect = std::move(path);
  p.flash = std::move(flash);
  return p;
}

}  // namespace tieup::console

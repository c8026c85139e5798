#include "users/account_pages.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <optional>

#include "base/encoding.h"
#include "base/worker_pool.h"
#include "commerce/cart_limiter.h"
#include "commerce/form.h"
#include "commerce/shop_pages.h"
#include "users/form_checks.h"

namespace tieup::users {

// Generated from src/users/templates/*.mustache (tieup_embed_files).
const content::EmbeddedTemplates& EmbeddedAccountTemplates();

const content::EmbeddedTemplates& AccountPageTemplates() { return EmbeddedAccountTemplates(); }

namespace {

namespace json = boost::json;

json::object ProblemData(std::string_view heading, std::string_view message) {
  return json::object{{"heading", heading}, {"message", message}};
}

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
    if (std::optional<Change> change = ChangeAt(path)) {
      if (!post) return NotAllowed(request);
      if (FromAnotherSite(request)) return Refused(request);
      return Manage(request, *change);
    }
    if (path == "/account/delete") return post ? Delete(request) : DeletePage(request, 200, "");
    if (path == "/account/export") {
      if (post) return NotAllowed(request);
      return Export(request);
    }
    if (options_.sso != nullptr && options_.sessions != nullptr) {
      if (path == "/account/callback") {
        if (post) return NotAllowed(request);
        return Callback(request);
      }
      if (path == "/account/signed-out") {
        if (post) return NotAllowed(request);
        return Page(request, 200, "Signed out", "signed_out", json::object{{"everywhere", true}});
      }
      if (path == "/account/login" || path == "/account/register") {
        // The password is typed only on main's pages: a POST to this site's old forms goes
        // back to them.
        if (post) return SeeOther(std::string(path));
        return BeginSignOn(request, path == "/account/register");
      }
    }
    if (path != "/account/login") {
      return Page(request, 404, "Page not found", "account_problem",
                  ProblemData("Page not found", "There is no account page at this address."));
    }
    if (!post) return Page(request, 200, "Sign in", "sign_in", json::object{{"email", ""}});
    if (FromAnotherSite(request)) return Refused(request);
    auto form = ReadPostedForm(request);
    if (!form.ok()) {
      return Page(
          request, FormErrorStatus(form.status()), "The form could not be read", "account_problem",
          ProblemData("The form could not be read",
                      "Your browser sent a form we could not read: " + form.status().message() +
                          ". Please go back and try again."));
    }
    return Login(request, *form);
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
    const std::string_view p = request.path();
    r.AddHeader("Allow", p == "/account/logout" || ChangeAt(p) ? "POST"
                         : p == "/account/delete"              ? "GET, HEAD, POST"
                                                               : "GET, HEAD");
    return r;
  }

  // --- single sign-on ---

  static HttpResponse SeeOther(std::string location) {
    HttpResponse r = HttpResponse::Text(303, "See " + location + "\n");
    r.AddHeader("Location", location);
    r.AddHeader("Cache-Control", "no-store");
    return r;
  }

  std::string PendingCookie(std::string_view value) const {
    std::string cookie = std::string(kSsoPendingCookie) + "=" + std::string(value) +
                         "; Path=/account/; HttpOnly; SameSite=Lax";
    if (options_.https) cookie += "; Secure";
    cookie += value.empty() ? "; Max-Age=0" : "; Max-Age=" + std::to_string(kSsoPendingSeconds);
    return cookie;
  }

  // To main's sign-in page (`create`: its registration form) for this site.
  HttpResponse BeginSignOn(const HttpRequest& request, bool create) {
    std::string from =
        PathOnHost(request.HeaderOr("Referer"), request.HeaderOr("Host")).value_or("/");
    // Never back to an account page (the sign-in itself, the sign-out page).
    if (from.starts_with(kAccountPrefix)) from = "/";
    Result<SingleSignOn::Start> start = options_.sso->Begin(from, create);
    if (!start.ok()) return Unavailable(request, create ? "Registration" : "Signing in");
    HttpResponse r = SeeOther(start->location);
    r.AddHeader("Set-Cookie", PendingCookie(start->pending_cookie));
    return r;
  }

  HttpResponse Callback(const HttpRequest& request) {
    const std::string pending =
        commerce::CookieValue(request.HeaderOr("Cookie"), kSsoPendingCookie);
    Result<SingleSignOn::SignedIn> done = options_.sso->Finish(request.query(), pending);
    if (!done.ok()) {
      HttpResponse r = [&] {
        switch (done.status().code()) {
          case StatusCode::kPermissionDenied:
            return Page(request, 200, "Not signed in", "account_problem",
                        ProblemData("Not signed in",
                                    done.status().message().starts_with("login_required")
                                        ? "You are not signed in at the network's sign-in page."
                                        : "Signing in was cancelled."));
          case StatusCode::kUnauthenticated:
            return Page(request, 400, "Signing in did not work", "account_problem",
                        ProblemData("Signing in did not work",
                                    Sentence(done.status().message()) +
                                        " Please start again from the sign-in link."));
          default:
            return Unavailable(request, "Signing in");
        }
      }();
      if (!pending.empty()) r.AddHeader("Set-Cookie", PendingCookie(""));
      return r;
    }
    if (done->new_account && options_.registered) {
      options_.registered(done->user_id, done->return_path);
    }
    if (options_.signed_in) options_.signed_in(*done);
    HttpResponse r = SeeOther(done->return_path);
    StartSession(request, r, done->user_id, done->name, done->signed_out_at);
    r.AddHeader("Set-Cookie", PendingCookie(""));
    r.user = done->user_id;
    return r;
  }

  // --- sessions ---

  std::string SessionCookieOf(const HttpRequest& request) const {
    return commerce::CookieValue(request.HeaderOr("Cookie"),
                                 SessionCookieName(options_.https, options_.session_cookie));
  }

  // The visitor's session, if any (its last use moved to now).
  std::optional<Session> CurrentSession(const HttpRequest& request) {
    return SessionOf(options_.sessions.get(), request, options_.https, options_.session_cookie);
  }

  std::string CustomerCookie(std::string_view name) const {
    return users::CustomerCookie(name, options_.https);
  }

  // Starts a session for `user_id` on `response` (a fresh id: the visitor's previous session
  // ends). Without sessions, or when the store fails, the page is still shown (signed out).
  // `generation`: main's last sign-out everywhere of the customer, as the ID token said.
  void StartSession(const HttpRequest& request, HttpResponse& response, std::string_view user_id,
                    std::string_view name, int64_t generation = 0) {
    if (options_.sessions == nullptr) return;
    if (std::string old = SessionCookieOf(request); !old.empty()) {
      (void)options_.sessions->End(old);
    }
    auto created = options_.sessions->Create(user_id, user_id, name, generation);
    if (!created.ok()) return;
    response.AddHeader("Set-Cookie", SessionCookie(created->cookie_value, options_.https,
                                                   options_.session_cookie, "Lax"));
    response.AddHeader("Set-Cookie", CustomerCookie(name));
  }

  // The account page's data for `session`: the account's details where they are kept (main),
  // else a link to main's account page.
  json::object AccountData(const Session& session) {
    json::object data{{"name", session.name},
                      {"csrf", session.csrf_token},
                      {"min_password_chars", kMinPasswordChars}};
    Result<User> account = backend_->Account(session.subject);
    if (account.ok()) {
      data["account"] = json::object{
          {"email", account->email},
          {"display_name", account->display_name},
          {"since", FormatRfc3339(account->registered_at_micros / 1'000'000).substr(0, 10)},
          {"address_name", account->address.name},
          {"line1", account->address.line1},
          {"line2", account->address.line2},
          {"postal_code", account->address.postal_code},
          {"city", account->address.city},
          {"country", account->address.country},
          {"phone", account->address.phone},
          {"has_address", !account->address.empty()},
          {"news", account->marketing_consent_micros != 0},
          {"visits", account->visits_consent_micros != 0}};
    } else if (options_.sso != nullptr) {
      if (auto url = options_.sso->AccountUrl(); url.ok()) data["manage_url"] = *url;
    }
    if (options_.orders) {
      json::array list;
      auto orders = options_.orders(session.subject);
      if (orders.ok()) {
        for (const AccountOrder& o : orders->orders) {
          json::object row{{"number", o.number},
                           {"placed", o.placed},
                           {"status", o.status},
                           {"total", o.total},
                           {"href", o.href}};
          if (!o.through.empty()) row["through"] = o.through;
          if (!o.at.empty()) row["at"] = o.at;
          list.push_back(std::move(row));
        }
        if (!orders->not_answered.empty()) {
          std::string shops;
          for (size_t i = 0; i < orders->not_answered.size(); ++i) {
            if (i > 0) shops += i + 1 == orders->not_answered.size() ? " and " : ", ";
            shops += orders->not_answered[i];
          }
          data["orders_missing"] = shops;
        }
        json::array elsewhere;
        for (const auto& [name, url] : orders->elsewhere) {
          elsewhere.push_back(json::object{{"name", name}, {"href", url}});
        }
        if (!elsewhere.empty()) data["orders_elsewhere"] = std::move(elsewhere);
      } else {
        data["orders_problem"] = true;
      }
      data["has_orders"] = !list.empty();
      data["orders"] = std::move(list);
      data["lists_orders"] = true;
    }
    if (options_.suggestions) {
      // Suggestions are a courtesy: when they cannot be read, the page goes without them.
      auto suggested = options_.suggestions(session.subject);
      if (suggested.ok() && !suggested->empty()) {
        json::array list;
        for (const AccountSuggestion& p : *suggested) {
          list.push_back(json::object{{"title", p.title}, {"price", p.price}, {"href", p.href}});
        }
        data["suggestions"] = std::move(list);
        data["has_suggestions"] = true;
      }
    }
    return data;
  }

  // What a POST to the account page changes.
  enum class Change { kName, kPassword, kAddress, kNews, kVisits };
  static std::optional<Change> ChangeAt(std::string_view path) {
    if (path == "/account/profile") return Change::kName;
    if (path == "/account/password") return Change::kPassword;
    if (path == "/account/address") return Change::kAddress;
    if (path == "/account/news") return Change::kNews;
    if (path == "/account/visits") return Change::kVisits;
    return std::nullopt;
  }

  HttpResponse Manage(const HttpRequest& request, Change change) {
    std::optional<Session> session = CurrentSession(request);
    auto form = ReadPostedForm(request);
    if (!session || !form.ok() || !CsrfMatches(*session, form->Get("csrf"))) {
      return Refused(request);
    }
    json::object data = AccountData(*session);
    if (!data.contains("account")) return NotAllowed(request);
    if (change == Change::kPassword) {
      Status changed = backend_->ChangePassword(session->subject, form->Get("current_password"),
                                                form->Get("new_password"));
      if (changed.ok()) {
        HttpResponse r = Page(request, 200, "Password changed", "password_changed", json::object{},
                              std::nullopt);
        r.AddHeader("Set-Cookie",
                    SessionCookie("", options_.https, options_.session_cookie, "Lax"));
        r.AddHeader("Set-Cookie", CustomerCookie(""));
        r.user = session->subject;
        return r;
      }
      const StatusCode c = changed.code();
      data["problem"] = c == StatusCode::kUnauthenticated
                            ? std::string("The current password is not right.")
                            : Sentence(changed.message());
      HttpResponse r = Page(request,
                            c == StatusCode::kUnauthenticated     ? 401
                            : c == StatusCode::kInvalidArgument   ? 400
                            : c == StatusCode::kResourceExhausted ? 429
                                                                  : 503,
                            "Your account", "account", data, session->name);
      r.user = session->subject;
      return r;
    }
    Result<User> saved = Status::Internal("nothing to change");
    std::string_view what;
    switch (change) {
      case Change::kName:
        saved = backend_->Rename(session->subject, form->Get("display_name"));
        what = "name";
        break;
      case Change::kAddress:
        saved = backend_->SetAddress(
            session->subject,
            PostalAddress{std::string(form->Get("address_name")), std::string(form->Get("line1")),
                          std::string(form->Get("line2")), std::string(form->Get("postal_code")),
                          std::string(form->Get("city")), std::string(form->Get("country")),
                          std::string(form->Get("phone"))});
        what = "address";
        break;
      case Change::kNews:
        saved = backend_->SetMarketingConsent(session->subject, form->Get("news") == "yes");
        what = "news";
        break;
      case Change::kVisits:
        saved = backend_->SetVisitsConsent(session->subject, form->Get("visits") == "yes");
        what = "visits";
        break;
      case Change::kPassword:
        break;
    }
    if (!saved.ok()) {
      data["problem"] = Sentence(saved.status().message());
      if (change == Change::kAddress) {
        // The form keeps what was typed.
        json::object& account = data["account"].as_object();
        for (const char* f :
             {"address_name", "line1", "line2", "postal_code", "city", "country", "phone"}) {
          account[f] = form->Get(f);
        }
      }
      HttpResponse r =
          Page(request, saved.status().code() == StatusCode::kInvalidArgument ? 400 : 503,
               "Your account", "account", data, session->name);
      r.user = session->subject;
      return r;
    }
    HttpResponse r = HttpResponse::Text(303, "See /account/\n");
    r.AddHeader("Location", std::string(content::kAccountUrl) + "?saved=" + std::string(what));
    r.AddHeader("Cache-Control", "no-store");
    // A new session under a new name (the header and the layouts' scripts show it).
    if (change == Change::kName) StartSession(request, r, session->subject, saved->display_name);
    r.user = session->subject;
    return r;
  }

  // The confirmation page of "delete my account" (where accounts are kept).
  HttpResponse DeletePage(const HttpRequest& request, int status, std::string_view problem) {
    std::optional<Session> session = CurrentSession(request);
    if (!session) {
      HttpResponse r = HttpResponse::Text(303, "Sign in to delete your account.\n");
      r.AddHeader("Location", std::string(content::kSignInUrl));
      r.AddHeader("Cache-Control", "no-store");
      return r;
    }
    Result<User> account = backend_->Account(session->subject);
    if (!account.ok()) return NotAllowed(request);
    json::object data{{"csrf", session->csrf_token}, {"email", account->email}};
    if (!problem.empty()) data["problem"] = problem;
    HttpResponse r =
        Page(request, status, "Delete your account", "account_delete", data, session->name);
    r.user = session->subject;
    return r;
  }

  HttpResponse Delete(const HttpRequest& request) {
    if (FromAnotherSite(request)) return Refused(request);
    std::optional<Session> session = CurrentSession(request);
    auto form = ReadPostedForm(request);
    if (!session || !form.ok() || !CsrfMatches(*session, form->Get("csrf"))) {
      return Refused(request);
    }
    if (form->Get("confirm") != "yes") {
      return DeletePage(request, 400, "Tick the box to confirm that the account is to go.");
    }
    Status erased = backend_->DeleteAccount(session->subject, form->Get("current_password"));
    if (!erased.ok()) {
      switch (erased.code()) {
        case StatusCode::kUnauthenticated:
          return DeletePage(request, 401, "The current password is not right.");
        case StatusCode::kResourceExhausted:
          return DeletePage(request, 429, Sentence(erased.message()));
        case StatusCode::kUnimplemented:
          return NotAllowed(request);
        default:
          return Unavailable(request, "Deleting your account");
      }
    }
    HttpResponse r =
        Page(request, 200, "Account deleted", "account_deleted", json::object{}, std::nullopt);
    r.AddHeader("Set-Cookie", SessionCookie("", options_.https, options_.session_cookie, "Lax"));
    r.AddHeader("Set-Cookie", CustomerCookie(""));
    r.user = session->subject;
    return r;
  }

  HttpResponse Export(const HttpRequest& request) {
    std::optional<Session> session = CurrentSession(request);
    if (!session) {
      HttpResponse r = HttpResponse::Text(303, "Sign in to download your data.\n");
      r.AddHeader("Location", std::string(content::kSignInUrl));
      r.AddHeader("Cache-Control", "no-store");
      return r;
    }
    Result<std::string> exported = backend_->ExportJson(session->subject);
    if (!exported.ok()) {
      if (exported.status().code() == StatusCode::kUnimplemented) return NotAllowed(request);
      return Unavailable(request, "Downloading your data");
    }
    HttpResponse r(200);
    r.AddHeader("Content-Type", "application/json; charset=utf-8");
    r.AddHeader("Content-Disposition", "attachment; filename=\"my-account.json\"");
    r.AddHeader("Cache-Control", "no-store");
    r.SetBody(std::move(*exported));
    r.user = session->subject;
    return r;
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
    json::object data = AccountData(*session);
    // After a change (Manage): fixed words, never the query's text.
    auto query = commerce::ParseForm(request.query());
    if (query.ok() && data.contains("account")) {
      const std::string_view saved = query->Get("saved");
      if (saved == "name") data["notice"] = "Your name is saved.";
      if (saved == "address") data["notice"] = "Your address is saved: checkout starts with it.";
      if (saved == "visits") {
        data["notice"] = data["account"].as_object()["visits"].as_bool()
                             ? "The shops may now record your visits under your account."
                             : "The shops no longer record your visits under your account.";
      }
      if (saved == "news") {
        data["notice"] = data["account"].as_object()["news"].as_bool()
                             ? "You will get news of the shops' offers by mail."
                             : "You will get no more news by mail.";
      }
    }
    HttpResponse r = Page(request, 200, "Your account", "account", data, session->name);
    r.user = session->subject;
    return r;
  }

  HttpResponse Logout(const HttpRequest& request) {
    std::optional<Session> session = CurrentSession(request);
    auto form = ReadPostedForm(request);
    if (session && !(form.ok() && CsrfMatches(*session, form->Get("csrf")))) {
      return Refused(request);
    }
    if (session) (void)options_.sessions->End(SessionCookieOf(request));
    json::object data;
    if (options_.sso != nullptr) {
      if (auto everywhere = options_.sso->LogoutUrl(); everywhere.ok()) {
        data["everywhere_url"] = *everywhere;
      }
    }
    HttpResponse r = Page(request, 200, "Signed out", "signed_out", data, std::nullopt);
    r.AddHeader("Set-Cookie", SessionCookie("", options_.https, options_.session_cookie, "Lax"));
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
    return RenderUserPage(templates_, request, status, title, name, data, std::move(customer));
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
  // Password hashing and calls to main block: off the I/O thread. The pool is Impl's: it runs
  // its queue before Impl goes.
  Impl* impl = impl_.get();
  RespondOffIoThread(
      impl->pool(), static_cast<size_t>(std::max(impl->options().max_queued_posts, 0)), request,
      std::move(responder), [impl](const HttpRequest& r) { return impl->Handle(r); },
      [impl](const HttpRequest& r) { return impl->Busy(r); });
}

HttpResponse AccountPages::HandleRequest(const HttpRequest& request) {
  return impl_->Handle(request);
}

}  // namespace tieup::users

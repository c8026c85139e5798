// The account pages of a site's public port (main's and every partner's):
//
//   GET  /account/login      the sign-in form
//   POST /account/login      -> 200 "Signed in as NAME"; 401 the form again (wrong email or
//                               password, the same message for both); 503 as above
//   GET  /account/           the signed-in customer's account page (303 to the sign-in form
//                               without a session)
//   POST /account/logout     signs out (the session's CSRF token in the form) -> 200 page
//   POST /account/profile    where the backend keeps accounts (main): a new display name
//   POST /account/password   (main) the current and a new password; every session ends
//   POST /account/address    (main) the postal address that pre-fills checkout (all fields
//                               empty: forgotten) -> 303 /account/?saved=address
//   POST /account/news       (main) the marketing consent ("news" = "yes" or absent)
//                               -> 303 /account/?saved=news
//   POST /account/visits     (main) the consent to having visits recorded under the account
//                               ("visits" = "yes" or absent) -> 303 /account/?saved=visits
//   GET  /account/export     (main) everything held about the customer, a JSON download
//   GET  /account/delete     (main) "delete my account": what happens, the current password
//   POST /account/delete     (main) the current password and the session's CSRF token: the
//                               account is erased (AccountBackend::DeleteAccount), signed out
//   GET  /account/callback   with single sign-on (AccountPagesOptions::sso): main's answer;
//                               303 to the page the sign-in started from, signed in
//   GET  /account/signed-out with single sign-on: where main sends the customer after signing
//                               out everywhere
//   GET  /account/register   with single sign-on: main's registration page for this site (the
//                               authorization request with prompt=create); main's own
//                               registration is users/registration.h
//
// What a sign-in POST checks is the AccountBackend's (main: its own user store). With single
// sign-on (a partner) the sign-in and registration forms are main's, and POSTs to this site's
// old forms are sent back to them. Forms are kept after a refusal, without the password.
//
// Sessions (AccountPagesOptions::sessions, users/sessions.h): a successful sign-in starts a session
// with a fresh id (the visitor's previous one, if any, ends) in the HttpOnly cookie "tieup_session"
// (SameSite=Lax; Secure and the __Host- prefix under HTTPS), and sets content::kCustomerCookie (the
// display name, for the layouts' scripts). Every page made here shows the signed-in customer in the
// layout's account link.
//
// Forms must be application/x-www-form-urlencoded (415 otherwise), at most 8 KiB (413), and are
// parsed strictly (commerce/form.h: 400 for bad syntax). CSRF: a POST is refused (403) when the
// browser says it comes from another site (Sec-Fetch-Site other than same-origin or none; or an
// Origin, else Referer, whose host:port is not the request's Host); sign-out also needs the
// session's own CSRF token. All user text in the pages is HTML-escaped; responses carry
// Cache-Control: no-store.
//
// Abuse: a client address with too many failed sign-ins waits before its next one (429,
// AccountPagesOptions::failures_per_client), besides main's own count per email address
// (users/user_store.h); POSTs beyond max_queued_posts are answered 503 at once.
//
// Pages are templates (src/users/templates/: sign_in, signed_in, account, signed_out,
// password_changed, account_problem) rendered in the site's layout (content/page_templates.h); a
// release may replace any of them. The header's cart count comes from the shop's count cookie.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "commerce/shop_pages.h"
#include "content/page_templates.h"
#include "net/http_server.h"
#include "users/sessions.h"
#include "users/sso_client.h"
#include "users/user_store.h"

namespace tieup::users {

struct LoginRequest {
  std::string email;
  std::string password;
};

struct LoginReply {
  std::string user_id;
  std::string display_name;
};

// What the account pages do with a valid form. Implementations must be thread-safe; calls may
// block (they run on the handler's own worker threads).
class AccountBackend {
 public:
  virtual ~AccountBackend() = default;

  // Checks a sign-in at this site's own form. Unauthenticated: wrong email or password (401);
  // InvalidArgument: shown with the form (400); anything else: 503. Where accounts are not kept
  // (a partner: single sign-on), the default says so (503).
  virtual Result<LoginReply> Login(const LoginRequest& /*request*/) {
    return Status::Unimplemented("accounts are kept by main");
  }

  // --- managing the account: where accounts are kept (main). Elsewhere (a partner) these stay
  // Unimplemented and the account page links to main's (AccountPagesOptions::sso). ---

  // The account of `user_id`.
  virtual Result<User> Account(std::string_view /*user_id*/) {
    return Status::Unimplemented("accounts are kept by main");
  }
  // Changes the display name (InvalidArgument: the message says what to fix).
  virtual Result<User> Rename(std::string_view /*user_id*/, std::string_view /*name*/) {
    return Status::Unimplemented("accounts are kept by main");
  }
  // Keeps the postal address (InvalidArgument: the message says what to fix).
  virtual Result<User> SetAddress(std::string_view /*user_id*/, const PostalAddress& /*address*/) {
    return Status::Unimplemented("accounts are kept by main");
  }
  // Records the marketing consent, given or withdrawn.
  virtual Result<User> SetMarketingConsent(std::string_view /*user_id*/, bool /*consent*/) {
    return Status::Unimplemented("accounts are kept by main");
  }
  // Records the consent to user logs, given or withdrawn (a withdrawal takes effect at every
  // shop at once: main_site/ledger_service.h UserVisits).
  virtual Result<User> SetVisitsConsent(std::string_view /*user_id*/, bool /*consent*/) {
    return Status::Unimplemented("accounts are kept by main");
  }
  // Changes the password after checking the current one: Unauthenticated for a wrong current
  // password, InvalidArgument for a new one the policy refuses, ResourceExhausted while
  // throttled. Every session of the account ends (the customer signs in again).
  virtual Status ChangePassword(std::string_view /*user_id*/, std::string_view /*current*/,
                                std::string_view /*next*/) {
    return Status::Unimplemented("accounts are kept by main");
  }
  // Deletes the account after checking the current password (Unauthenticated when wrong,
  // ResourceExhausted while throttled): main signs the customer out everywhere, removes the
  // personal fields of its orders and forgets the account.
  virtual Status DeleteAccount(std::string_view /*user_id*/, std::string_view /*current*/) {
    return Status::Unimplemented("accounts are kept by main");
  }
  // Everything held about the customer, as a JSON document (GET /account/export).
  virtual Result<std::string> ExportJson(std::string_view /*user_id*/) {
    return Status::Unimplemented("accounts are kept by main");
  }
};

// One of the customer's orders, as the account page lists it.
using AccountOrder = commerce::OrderSummary;

// The orders an account page lists.
struct AccountOrders {
  std::vector<AccountOrder> orders;       // newest first
  std::vector<std::string> not_answered;  // the shops whose orders could not be fetched now
  // Shops whose orders are listed only on their own account pages: name, URL of that page.
  std::vector<std::pair<std::string, std::string>> elsewhere;
};

// A product suggested to the signed-in customer on the account page (main: its recommendations,
// users/recommendations.h).
struct AccountSuggestion {
  std::string title;
  std::string price;  // as customers read it ("¥3,600")
  std::string href;   // the product's page on this site
};

struct AccountPagesOptions {
  std::string site_name;  // shown in page titles (of the built-in shell)
  int threads = 4;        // worker threads for POSTs (password hashing, calls to main)
  // The site whose layout the pages wear; without a view, the built-in shell. An empty
  // site.site_name: `site_name`.
  content::PageSite site;
  // The site's customer sessions; null: none (signing in only shows who you are).
  std::shared_ptr<SessionStore> sessions;
  // The site is reached over HTTPS (its cookies are Secure).
  bool https = false;
  // POSTs waiting for a worker thread, at most; one more is answered 503 with Retry-After at once.
  int max_queued_posts = 64;
  // Failed sign-ins from one client network (an IPv4 address or an IPv6 /64, as this port sees
  // it: commerce::CartLimiter::ClientNetwork) after which each
  // further sign-in from it must wait: 5 seconds after one more failure, then 10, 20... (at most
  // 15 minutes): 429 before the backend is asked. Counted in memory, forgotten after an hour
  // without a failure; at most 10,000 addresses (the oldest go first). The clock is `env`'s;
  // null: no throttling by address (tests of other things).
  int failures_per_client = 20;
  Env* env = nullptr;
  // Single sign-on through main (a partner's pages; users/sso_client.h). When set, GET
  // /account/login sends the browser to main's sign-in page (a POST there is sent back to it:
  // the password is typed only at main), GET /account/callback ends the sign-in, and the
  // signed-out page offers main's "sign out everywhere". Needs `sessions`.
  std::shared_ptr<SingleSignOn> sso = nullptr;
  // The session cookie's base name (with "__Host-" before it under HTTPS). Main's is
  // kMainSessionCookie, a partner's kSessionCookie + "_" + its id, so that the sessions of
  // sites on one host name (told apart by port only, as in the demo: a browser's cookies do
  // not tell ports apart) do not overwrite each other.
  std::string session_cookie = "tieup_session";
  // With single sign-on: told when main says the account that just signed in was registered
  // through this site (once per account), with the site path the customer came from (a
  // partner records the registration in its ledger).
  std::function<void(const std::string& user_id, const std::string& return_path)> registered =
      nullptr;
  // With single sign-on: told at every sign-in through main, with what main said (whether this
  // site may record the customer's visits under the account's id, the e-mail address). Null:
  // not told.
  std::function<void(const SingleSignOn::SignedIn& signed_in)> signed_in = nullptr;
  // The signed-in customer's orders, newest first, for the account page (with their status
  // pages): at this site, and at main those the partners processed themselves (AccountOrder::at).
  // Null: the page lists none.
  std::function<Result<AccountOrders>(const std::string& user_id)> orders = nullptr;
  // Products suggested to the signed-in customer, best first ("You may also like"). Null, an
  // error or none: the page has no such section.
  std::function<Result<std::vector<AccountSuggestion>>(const std::string& user_id)> suggestions =
      nullptr;
};

// The base name of the customer's session cookie (with "__Host-" before it under HTTPS): a
// partner's, and main's.
inline constexpr std::string_view kSessionCookie = "tieup_session";
inline constexpr std::string_view kMainSessionCookie = "tieup_main_session";

// The built-in account page templates.
const content::EmbeddedTemplates& AccountPageTemplates();

// Serves the pages above (any other /account/ path: 404). Thread-safe.
class AccountPages : public HttpHandler {
 public:
  AccountPages(std::shared_ptr<AccountBackend> backend, AccountPagesOptions options);
  ~AccountPages() override;

  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD, POST"; }

  // The same, synchronously (tests; the worker threads call it).
  HttpResponse HandleRequest(const HttpRequest& request);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The public route prefix of the pages.
inline constexpr std::string_view kAccountPrefix = "/account/";

}  // namespace tieup::users

// Registration at main, confirmed by mail (OWASP ASVS 2.1 and 2.5; the password is typed only on
// main's pages, users/oidc_provider.h):
//
//   GET  /account/register[?continue=URL]   the form (email, display name, password). URL is an
//                                           authorization request of main's provider
//                                           ("/oidc/authorize?client_id=shop-a&..."): the page
//                                           names that site, and the account is registered
//                                           through it
//   POST /account/register                  the same answer whether or not the address has an
//                                           account ("we sent a link to ADDRESS"): a new address
//                                           gets a link valid kConfirmSeconds; one with an
//                                           account gets a mail saying so, with links to sign in
//                                           and to choose a new password. The password is hashed
//                                           either way, so both take the same time
//   GET  /account/register/confirm?token=T  "create my account?" with a button (a GET changes
//                                           nothing: mail scanners open links)
//   POST /account/register/confirm          creates the account (its address confirmed), signs
//                                           the customer in at main, and goes on to URL (the
//                                           provider answers the site at once: signed in there
//                                           too), else a welcome page
//
// Tokens are 256 random bits, single-use, kept only as SHA-256 hashes; until confirmed only the
// password's Argon2id hash is kept, and it is dropped once the account exists (table
// registrations, schema component "registrations"). At most kMaxRegistrationMailsPerHour mails
// an hour go to one address, whatever their kind (no mail bombing through this form); past that
// the page is the same and no mail goes.
//
// A site (a partner) learns that an account was registered through it from its first ID token
// after the confirmation: TakeNewAccountNotice is true once (the provider's claim
// "tieup_new_account"), so the partner records the registration in its ledger exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "content/page_templates.h"
#include "net/http_server.h"
#include "store/database.h"
#include "users/oidc_provider.h"
#include "users/sessions.h"
#include "users/user_store.h"

namespace tieup::users {

inline constexpr int64_t kConfirmSeconds = 24 * 3600;
inline constexpr int kMaxRegistrationMailsPerHour = 3;

// What the registration form asks for.
struct RegistrationForm {
  std::string email;
  std::string display_name;
  std::string password;
  // The site the customer registers through (an OpenID Connect client: a partner's id), or ""
  // for main itself.
  std::string client_id;
  // Where to go after confirming (an authorization request on main), or "".
  std::string continue_url;
};

class PendingRegistrations {
 public:
  // Migrates schema component "registrations". `env`, `db` and `users` must outlive it.
  static Result<std::unique_ptr<PendingRegistrations>> Open(Env& env, Database& db,
                                                            UserStore& users);
  ~PendingRegistrations();

  struct Requested {
    enum class Kind {
      kConfirm,            // a new address: send `token`'s link
      kAlreadyRegistered,  // the address has an account: say so by mail
      kNoMail,             // the address got enough mail this hour
    };
    Kind kind = Kind::kNoMail;
    std::string email;         // as normalized
    std::string display_name;  // as normalized (of the account, when it exists)
    std::string token;         // kConfirm: the secret of the link (never logged)
  };
  // InvalidArgument (the message says what to fix) for a bad address, name or password;
  // Unavailable when too many passwords are being hashed. Anything else must be answered alike.
  Result<Requested> Request(const RegistrationForm& form);

  struct Waiting {
    std::string email;
    std::string display_name;
    std::string continue_url;  // its client is the one the registration is through
  };
  // The registration `token` confirms, if it is still waiting.
  std::optional<Waiting> Find(std::string_view token);

  struct Confirmed {
    User user;
    std::string client_id;
    std::string continue_url;
  };
  // Creates the account and uses the token up. NotFound for a token that is unknown, used or
  // expired (one message); AlreadyExists when the address got an account in the meantime.
  Result<Confirmed> Confirm(std::string_view token);

  // True once per account registered through `client_id` (then false): for the first ID token
  // that client gets for the account.
  bool TakeNewAccountNotice(std::string_view user_id, std::string_view client_id);

  // Drops what is kept of the account's registration and of any waiting for its address (an
  // erased account).
  Status Forget(std::string_view user_id, std::string_view email);

 private:
  PendingRegistrations(Env& env, Database& db, UserStore& users)
      : env_(env), db_(db), users_(users) {}
  Env& env_;
  Database& db_;
  UserStore& users_;
};

// A mail of the registration pages.
struct RegistrationMail {
  enum class Kind { kConfirm, kAlreadyRegistered };
  Kind kind = Kind::kConfirm;
  std::string email;
  std::string display_name;
  // kConfirm: the confirmation link; kAlreadyRegistered: main's sign-in page.
  std::string link;
  std::string reset_link;   // main's "forgot your password?" page
  std::string client_name;  // the site the customer registered through; "" for main
};

struct RegistrationPagesOptions {
  // The layout (main's own site).
  content::PageSite site;
  // Main's public URL without a trailing slash (the links in mails).
  std::string base_url;
  // Queues `mail` (main: its outbox). An error is for the function to log: the page stays the
  // same.
  std::function<Status(const RegistrationMail& mail)> send_mail;
  // The OpenID Connect client `client_id` (a partner), nullopt when there is none (or it may no
  // longer sign customers in).
  std::function<std::optional<OidcClient>(std::string_view client_id)> client;
  // The site's Content-Security-Policy (site/browser_headers.h): the confirmation page's
  // form-action allows the client's redirect URI, where the confirmation ends.
  std::string content_security_policy;
  // Main's customer sessions and their cookie: a confirmed customer is signed in.
  std::shared_ptr<SessionStore> sessions;
  std::string session_cookie;
  bool https = false;
  // Registrations from one client network (an IPv4 address, an IPv6 /64) past which it waits
  // (users/form_checks.h: 5 s, then 10, 20...; forgotten after an hour): enough for a shared
  // address (an office, a carrier's NAT), not for creating accounts by the thousand. Null env:
  // no limit.
  Env* env = nullptr;
  int requests_per_client = 30;
};

// The pages above. POSTs run on the handler's own worker threads (password hashing).
class RegistrationPages : public HttpHandler {
 public:
  RegistrationPages(std::shared_ptr<PendingRegistrations> registrations,
                    RegistrationPagesOptions options);
  ~RegistrationPages() override;

  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD, POST"; }
  HttpResponse HandleRequest(const HttpRequest& request);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The route prefix of the pages.
inline constexpr std::string_view kRegistrationPrefix = "/account/register";

// The built-in templates (register, register_sent, register_confirm, welcome,
// register_problem).
const content::EmbeddedTemplates& RegistrationTemplates();

}  // namespace tieup::users

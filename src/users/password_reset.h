// Password reset by mail, at main (where passwords are typed: users/oidc_provider.h), after
// OWASP ASVS 2.5:
//
//   GET  /account/reset                  "Forgot your password?": the form (email)
//   POST /account/reset                  the same answer whether or not the address has an
//                                        account ("if an account exists ... we sent a link");
//                                        when it has, a mail with a link valid kResetSeconds
//   GET  /account/reset/confirm?token=T  the new-password form (an expired or used link: 400
//                                        with a way to ask again)
//   POST /account/reset/confirm          sets the password; every session of the account ends
//                                        (at main at once; partners' sessions at their timeouts)
//
// Tokens are 256 random bits, single-use, kept only as SHA-256 hashes (table password_resets,
// schema component "password_resets"); a new request leaves earlier links valid until they
// expire. An account may ask at most kMaxResetsPerHour times an hour (no mail bombing); a
// disabled account gets none. Either way the page is the same. Thread-safe.
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
#include "users/user_store.h"

namespace tieup::users {

inline constexpr int64_t kResetSeconds = 30 * 60;
inline constexpr int kMaxResetsPerHour = 3;

class PasswordResets {
 public:
  // Migrates schema component "password_resets". `env`, `db` and `users` must outlive it.
  static Result<std::unique_ptr<PasswordResets>> Open(Env& env, Database& db, UserStore& users);
  ~PasswordResets();

  struct Issued {
    User user;
    std::string token;  // the secret for the link: never logged
  };
  // A reset for the account of `email`; nullopt when there is none, it is disabled or it asked
  // too often (the caller must answer alike in every case). InvalidArgument for a malformed
  // address.
  Result<std::optional<Issued>> Request(std::string_view email);

  // Whether `token` can still be used.
  bool Usable(std::string_view token);

  // Sets the password of the token's account and uses the token up. NotFound for a token that
  // is unknown, used or expired (one message for all); InvalidArgument for a password the policy
  // refuses (the token stays usable).
  Result<User> Complete(std::string_view token, std::string_view new_password);

  // Drops every link of the account (an erased account).
  Status Forget(std::string_view user_id);

 private:
  PasswordResets(Env& env, Database& db, UserStore& users) : env_(env), db_(db), users_(users) {}
  Env& env_;
  Database& db_;
  UserStore& users_;
};

struct PasswordResetPagesOptions {
  // The layout (main's own site).
  content::PageSite site;
  // Main's public URL without a trailing slash: the mail's link is base_url + the confirm path.
  std::string base_url;
  // Sends the mail with `link` to `user` (main: its mail outbox). An error is logged by the
  // caller's function; the page stays the same.
  std::function<Status(const User& user, const std::string& link)> send_mail;
  // Told after a password was changed (main: sign the customer out everywhere, partners too).
  std::function<void(const User& user)> password_changed;
  // Requests from one client network past which it waits (the sign-in throttle,
  // users/form_checks.h); null env: no limit.
  Env* env = nullptr;
  int requests_per_client = 10;
};

// The pages above. POSTs run on the handler's own worker threads (password hashing).
class PasswordResetPages : public HttpHandler {
 public:
  PasswordResetPages(std::shared_ptr<PasswordResets> resets, PasswordResetPagesOptions options);
  ~PasswordResetPages() override;

  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD, POST"; }
  HttpResponse HandleRequest(const HttpRequest& request);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The route prefix of the pages.
inline constexpr std::string_view kPasswordResetPrefix = "/account/reset";

// The built-in templates (reset_request, reset_sent, reset_form, reset_done, reset_problem).
const content::EmbeddedTemplates& PasswordResetTemplates();

}  // namespace tieup::users

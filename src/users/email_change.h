// Changing the e-mail address of an account, at main, confirmed by mail (OWASP ASVS 2.5.x):
//
//   GET  /account/email                   the form (new address, current password); needs the
//                                         customer's session (else 303 to the sign-in page)
//   POST /account/email                   with the session's CSRF token and the current
//                                         password: "we sent a link to NEW" whether or not NEW
//                                         has an account. NEW gets a link valid
//                                         kEmailChangeSeconds (or, when NEW has an account, a
//                                         mail saying so); the current address gets a notice
//                                         ("if it was not you, choose a new password")
//   GET  /account/email/confirm?token=T   "change OLD to NEW?" with a button (a GET changes
//                                         nothing)
//   POST /account/email/confirm           the account's address is NEW (confirmed); every other
//                                         pending change of the account is dropped
//
// Tokens are 256 random bits, single-use, kept only as SHA-256 (table email_changes, schema
// component "email_changes"). An account may ask at most kMaxEmailChangesPerHour times an hour
// (the answer is the same past that, and no mail goes). Thread-safe.
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
#include "users/sessions.h"
#include "users/user_store.h"

namespace tieup::users {

inline constexpr int64_t kEmailChangeSeconds = 24 * 3600;
inline constexpr int kMaxEmailChangesPerHour = 3;

class EmailChanges {
 public:
  // Migrates schema component "email_changes". `env`, `db` and `users` must outlive it.
  static Result<std::unique_ptr<EmailChanges>> Open(Env& env, Database& db, UserStore& users);
  ~EmailChanges();

  struct Requested {
    enum class Kind {
      kConfirm,  // send `token`'s link to the new address
      kTaken,    // the new address has an account: tell it so
      kNoMail,   // the account asked too often this hour
    };
    Kind kind = Kind::kNoMail;
    User user;              // the account, as it is now
    std::string new_email;  // as normalized
    std::string token;      // kConfirm: the secret of the link (never logged)
  };
  // Checks the current password (Unauthenticated when wrong; ResourceExhausted and Unavailable
  // as UserStore::CheckLogin) and the new address (InvalidArgument saying what is wrong,
  // including "it is already your address"). NotFound for an unknown account.
  Result<Requested> Request(std::string_view user_id, std::string_view current_password,
                            std::string_view new_email);

  struct Waiting {
    std::string user_id;
    std::string old_email;
    std::string new_email;
  };
  // The change `token` confirms, if it still waits.
  std::optional<Waiting> Find(std::string_view token);

  // Makes the change and uses the token up: the account as it is now. NotFound for a token
  // that is unknown, used or expired (one message); AlreadyExists when the new address got an
  // account in the meantime.
  Result<User> Confirm(std::string_view token);

  // Drops every change the account asked for (an erased account).
  Status Forget(std::string_view user_id);

 private:
  EmailChanges(Env& env, Database& db, UserStore& users) : env_(env), db_(db), users_(users) {}
  Env& env_;
  Database& db_;
  UserStore& users_;
};

// A mail of the e-mail change pages.
struct EmailChangeMail {
  enum class Kind {
    kConfirm,  // to the new address: the link
    kTaken,    // to the new address: it has an account already
    kNotice,   // to the current address: a change was asked
  };
  Kind kind = Kind::kConfirm;
  std::string to;            // the address the mail goes to
  std::string display_name;  // the account's
  std::string new_email;
  std::string link;        // kConfirm: the confirmation link
  std::string reset_link;  // main's "forgot your password?" page
};

struct EmailChangePagesOptions {
  // The layout (main's own site).
  content::PageSite site;
  // Main's public URL without a trailing slash (the links in mails).
  std::string base_url;
  // Queues `mail` (main: its outbox); an error is for the function to log.
  std::function<Status(const EmailChangeMail& mail)> send_mail;
  // Main's customer sessions and their cookie: the form needs the customer's session.
  std::shared_ptr<SessionStore> sessions;
  std::string session_cookie;
  bool https = false;
};

// The pages above. POSTs run on the handler's own worker threads (password hashing).
class EmailChangePages : public HttpHandler {
 public:
  EmailChangePages(std::shared_ptr<EmailChanges> changes, EmailChangePagesOptions options);
  ~EmailChangePages() override;

  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD, POST"; }
  HttpResponse HandleRequest(const HttpRequest& request);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The route prefix of the pages.
inline constexpr std::string_view kEmailChangePrefix = "/account/email";

// The built-in templates (email_change, email_change_sent, email_change_confirm,
// email_change_done, email_change_problem).
const content::EmbeddedTemplates& EmailChangeTemplates();

}  // namespace tieup::users

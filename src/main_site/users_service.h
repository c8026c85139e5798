// Main's users service (DESIGN.md "Management on the partners' behalf", Users): the central user
// store (users/user_store.h) in main's tieup.db and every page where a customer types a password:
// on main's public port, the registration confirmed by mail (users/registration.h), the sign-in
// and account pages (users/account_pages.h), the password reset (users/password_reset.h) and the
// OpenID Connect provider every partner signs its customers in through (users/oidc_provider.h).
// Account mail goes through main's outbox (SITE_DIR/mail). On the sync port (bodies:
// users/wire.h):
//
//   POST /v1/users/sso-client -> 200 users::SsoClientGrant: the partner's credentials at main's
//                               OpenID Connect provider (a fresh secret each time); 412 when the
//                               partnership has no public URL to send customers back to
//
// It must be signed by the partner exactly like its orders (main_site/signed_requests.h): the
// client is the TLS-authenticated, signing partner, never the body. A refused signature (401),
// a replayed nonce (409) or a body over users::kMaxUserJsonBytes (413) stores nothing. Every
// verified request is kept in the table users_signed_requests (time, partner, nonce, target,
// certificate, outcome; never the secret) as proof of who asked for what.
//
// Setting (site.toml [variables]): users.password_hashing = "interactive" (default, libsodium's
// INTERACTIVE Argon2id limits), "moderate", or "min", which is FOR TESTS ONLY (hashes that are
// fast to guess; the daemon logs a warning when it is set).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "net/http_message.h"
#include "site/config.h"
#include "store/database.h"
#include "users/user_store.h"
#include "users/wire.h"

namespace tieup {

namespace commerce {
class Shop;
struct Customer;
}  // namespace commerce
class MainDaemon;
struct PartnerOrders;

// Opens main's user store in `db` with the cost from `config` (see above). For the daemon and
// the command line. `db` must outlive the store.
// `throttled`: UserStoreOptions::throttled (the daemon mails the account's owner).
Result<std::unique_ptr<users::UserStore>> OpenMainUserStore(
    Env& env, const SiteConfig& config, Database& db,
    std::function<void(const users::User&, int64_t)> throttled = nullptr);

// What pre-fills main's checkout for a signed-in customer (commerce::ShopHandlerOptions::
// known_customer): the account's e-mail address, its kept postal address and, without a
// recipient there, its display name. Opens its own view of main's sessions and accounts in `db`
// (which must outlive the function).
Result<std::function<std::optional<commerce::Customer>(const HttpRequest&)>> MainKnownCustomer(
    Env& env, const SiteConfig& config, Database& db);

// The sync endpoints above. Thread-safe.
class MainUsersEndpoints {
 public:
  // `db` must outlive the object. Reads main's CA certificate from SITE_DIR/keys.
  // Registers partner `partner` at the OpenID Connect provider (for /v1/users/sso-client).
  using SsoRegistrar = std::function<Result<users::SsoClientGrant>(const std::string& partner)>;

  static Result<std::unique_ptr<MainUsersEndpoints>> Create(Env& env, const std::string& site_dir,
                                                            Database& db,
                                                            std::shared_ptr<Logger> logger,
                                                            SsoRegistrar sso = nullptr);
  ~MainUsersEndpoints();

  // POST /v1/users/sso-client. `request.peer_site_id()` must be the
  // TLS-authenticated partner.
  HttpResponse Handle(const HttpRequest& request);

 private:
  class Impl;
  explicit MainUsersEndpoints(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Signs `user_id` out everywhere (a disabled account, a new password): main's sessions, its
// single sign-on records (users/oidc_provider.h tables) and, for every partner the customer
// signed in to through main, a notice the daemon delivers over the sync channel (POST
// /v1/users/logout) at its next tick. For `tieup main users disable`, the console and the
// daemon itself; `db` is main's database (the tables are made when missing).
Status SignOutEverywhere(Env& env, Database& db, std::string_view user_id);

// Ends `user_id`'s sessions at every partner the customer signed in to through main (the notices
// of SignOutEverywhere), leaving main's own: after a withdrawn consent to user logs.
Status EndPartnerSessions(Env& env, Database& db, std::string_view user_id);

// Erases `user`'s account ("delete my account", `tieup main users delete`): signed out
// everywhere (SignOutEverywhere: partners told), the orders of `shop` (main's) with the account's
// address keep their lines, amounts, country and status but lose the person
// (commerce::Shop::EraseCustomer), its waiting links (registration, password reset, e-mail
// change) are forgotten, and the account is deleted from `store`. Returns how many orders were
// changed. `db` is main's database.
Result<int64_t> EraseAccount(Env& env, Database& db, users::UserStore& store, commerce::Shop& shop,
                             const users::User& user);

// Everything main holds about `user` as the JSON document of "download my data"
// (/account/export, `tieup main users export`): the account, the sites signed in to through
// main, main's orders with its address (`shop`), the partners holding a copy and their fields,
// and `at_partners` (the orders the partners processed themselves, as FetchPartnerOrders got
// them; null: not asked, as offline, and the document says where they are).
Result<std::string> ExportAccountJson(Env& env, Database& db, commerce::Shop& shop,
                                      const users::User& user,
                                      const PartnerOrders* at_partners = nullptr);

// How long main's account page and data download wait for a partner's orders.
inline constexpr std::chrono::milliseconds kPartnerOrdersTimeout{3000};

// Mails `user` a link to choose a new password (main's outbox SITE_DIR/mail, as "Forgot your
// password?" does): `tieup main users reset`. FailedPrecondition (saying why) when the account
// gets none now: disabled, or users::kMaxResetsPerHour links in the last hour.
Status MailPasswordReset(Env& env, const std::string& site_dir, const SiteConfig& config,
                         Database& db, users::UserStore& store, const users::User& user,
                         Logger& logger);

// Wires users into main's daemon: /account/ and the OpenID Connect provider
// (users/oidc_provider.h: /oidc/, /.well-known/openid-configuration; its signing key in
// SITE_DIR/keys/oidc.jwk, owner-only, made at the first start; the issuer is [site] public_url,
// or http://ADDRESS of the public port when it is not set) on the public port; the endpoints
// above and /oidc/token on the sync port.
Status AttachUsers(MainDaemon& daemon);

// Main's public URL without a trailing slash (site.toml public_url, else the public port's
// address): the OpenID issuer, and the base of the links main's mail carries.
std::string IssuerOf(const SiteConfig& config);
// The sender address of main's mail to customers: [variables] users.mail_from, else
// shop.mail_from, else no-reply@localhost.localdomain. InvalidArgument for a bad address.
Result<std::string> AccountMailSender(const SiteConfig& config);

}  // namespace tieup

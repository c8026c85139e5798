// Main's OpenID Connect provider (OpenID Connect Core 1.0, authorization code flow with PKCE,
// RFC 7636): single sign-on for every site of the network. A customer types the password only
// on main's page; every partner (and any other registered client) gets a signed ID token.
//
//   GET  /.well-known/openid-configuration   discovery (OpenID Connect Discovery 1.0)
//   GET  /oidc/jwks                          the ES256 public key (crypto/jose.h)
//   GET  /oidc/authorize                     with main's session: a code at once (303 to the
//                                            client's redirect_uri); without: the sign-in page,
//                                            naming the site the customer came from; with
//                                            prompt=create: main's registration page
//                                            (users/registration.h), which comes back here once
//                                            the account is confirmed
//   POST /oidc/authorize                     the sign-in form (email, password + the request)
//   POST /oidc/token                         code -> ID token (+ access token), client_secret_basic
//                                            or client_secret_post; also on main's sync port
//   GET  /oidc/userinfo                      Bearer access token -> claims
//   GET  /oidc/logout                        "sign out everywhere?" page (end_session_endpoint)
//   POST /oidc/logout                        ends the customer's sessions at main and tells every
//                                            client the customer signed in to (`logged_out`)
//
// Rules: response_type "code" only, scope must hold "openid", PKCE S256 required, the
// redirect_uri must be one the client registered, byte for byte (otherwise an error page, never
// a redirect). Codes are single-use (a second use revokes the access token of the first), live
// kCodeSeconds, and are kept only as SHA-256 hashes, as are access tokens and client secrets.
// ID tokens live kIdTokenSeconds and carry iss, sub (the user id), aud, exp, iat, auth_time,
// nonce, and with scope profile "name", with scope email "email" and "email_verified";
// "tieup_new_account": true in the first ID token a client gets for an account registered
// through it (OidcProviderOptions::new_account); "tieup_record_visits": whether the client may
// record the customer's visits under the account's id (OidcProviderOptions::record_visits);
// "tieup_signed_out_at": the generation of the customer's last sign-out everywhere
// (OidcProviderOptions::signed_out_at), which the client keeps with the session it makes so that
// a late notice of that sign-out does not end it (users/wire.h LogoutNotice).
//
// The sign-in honours users/user_store.h's waits and the client-network throttle of the account
// pages (users/form_checks.h). The provider's session is main's customer session
// (SessionStore, cookie `session_cookie`): signing in here signs in at main's own pages too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/page_templates.h"
#include "crypto/jose.h"
#include "net/http_server.h"
#include "store/database.h"
#include "users/sessions.h"
#include "users/user_store.h"

namespace tieup::users {

inline constexpr int64_t kCodeSeconds = 60;
inline constexpr int64_t kIdTokenSeconds = 300;

// A relying party.
struct OidcClient {
  std::string id;    // a partner's site id, or a name given at registration
  std::string name;  // shown on the sign-in page ("Sign in to continue to NAME")
  std::vector<std::string> redirect_uris;
  std::vector<std::string> post_logout_redirect_uris;
};

// The registered clients (table oidc_clients, schema component "oidc"). Thread-safe. For the
// provider and `tieup main sso-clients`.
class OidcClients {
 public:
  // Migrates schema component "oidc" in `db`. `env` and `db` must outlive it.
  static Result<std::unique_ptr<OidcClients>> Open(Env& env, Database& db);
  ~OidcClients();

  // Registers `client` (or replaces its URIs and name) with a fresh secret, which is returned:
  // the only time it is seen (only its SHA-256 is kept: it is 256 random bits). InvalidArgument
  // for a bad id or a URI that is not an absolute http(s) URL.
  Result<std::string> Register(const OidcClient& client);
  // NotFound for an unknown id.
  Result<OidcClient> Get(std::string_view client_id);
  Result<std::vector<OidcClient>> List();
  // NotFound for an unknown id.
  Status Remove(std::string_view client_id);
  // The client whose id and secret these are (the secret compared in constant time); nullopt
  // otherwise.
  std::optional<OidcClient> Authenticate(std::string_view client_id, std::string_view secret);
  // The clients `user_id` signed in to through main (until signed out everywhere), with the last
  // time (microseconds), oldest first.
  Result<std::vector<std::pair<std::string, int64_t>>> SignIns(std::string_view user_id);
  // Every client `user_id` ever signed in to through main (kept after signing out: the sites
  // that may hold the customer's data), sorted; ForgetUser forgets them (an erased account).
  Result<std::vector<std::string>> KnownTo(std::string_view user_id);
  Status ForgetUser(std::string_view user_id);

 private:
  OidcClients(Env& env, Database& db) : env_(env), db_(db) {}
  Env& env_;
  Database& db_;
};

struct OidcProviderOptions {
  // The issuer: main's public URL without a trailing slash ("https://shop.example").
  std::string issuer;
  std::shared_ptr<const JwtSigningKey> key;
  // Main's customer sessions and their cookie (users/sessions.h).
  std::shared_ptr<SessionStore> sessions;
  std::string session_cookie;
  bool https = false;
  // Main's layout for the sign-in and sign-out pages.
  content::PageSite site;
  // The Content-Security-Policy of the site's pages (site/browser_headers.h). The pages whose
  // form ends in a redirect to a client get it with that client's origin added to its
  // "form-action 'self'" (browsers apply form-action to the redirect after a POST too).
  std::string content_security_policy;
  Env* env = nullptr;  // the clock of the client-network throttle
  int failures_per_client = 20;
  // Told that `user_id` signed out everywhere: `clients` are those the customer signed in to
  // (for back-channel notices). Called after main's sessions ended; may be empty.
  std::function<void(const std::string& user_id, const std::vector<std::string>& clients)>
      logged_out;
  // Whether a registered client may still sign customers in (main: not a revoked partner);
  // refused ones are treated as unknown. Null: every registered client.
  std::function<bool(const std::string& client_id)> client_allowed = nullptr;
  // Whether the account `user_id` was registered through `client_id` and this is the first ID
  // token that client gets for it (users/registration.h: true once). Null: never.
  std::function<bool(const std::string& user_id, const std::string& client_id)> new_account =
      nullptr;
  // Whether `client_id` may record the visits of `user_id` under the account's id (main: the
  // partnership's user-log terms and the customer's consent, main_site/ledger_service.h
  // UserVisits): the ID token's "tieup_record_visits". Null: the claim is left out (the client
  // records none).
  std::function<bool(const std::string& user_id, const std::string& client_id)> record_visits =
      nullptr;
  // The generation of the last sign-out everywhere of `user_id` (main: the one its back-channel
  // notices carry; 0: none): the ID token's "tieup_signed_out_at" when positive. Null: left out.
  std::function<int64_t(const std::string& user_id)> signed_out_at = nullptr;
};

// Thread-safe. `env`, `db` and `users` must outlive it. POSTs (password hashing) run on the
// provider's own worker threads.
class OidcProvider : public HttpHandler {
 public:
  // Migrates schema component "oidc" in `db`.
  static Result<std::unique_ptr<OidcProvider>> Open(Env& env, Database& db, UserStore& users,
                                                    OidcProviderOptions options);
  ~OidcProvider() override;

  // Registers `client` (or replaces its URIs and name) with a fresh secret, which is returned:
  // the only time it is seen (only its hash is kept). InvalidArgument for a bad id or a
  // redirect URI that is not an absolute http(s) URL without a fragment.
  Result<std::string> RegisterClient(const OidcClient& client);
  // NotFound for an unknown id.
  Result<OidcClient> GetClient(std::string_view client_id);
  Status RemoveClient(std::string_view client_id);

  // The public routes above (paths under /oidc/ and /.well-known/openid-configuration).
  void Handle(const HttpRequest& request, HttpResponder responder) override;
  std::string_view AllowedMethods() const override { return "GET, HEAD, POST"; }
  // The same, synchronously (tests; main's sync port, for /oidc/token).
  HttpResponse HandleRequest(const HttpRequest& request);

  const std::string& issuer() const;

  // The clients the customer signed in to through main, with the last time (microseconds),
  // oldest first: for the customer's data export.
  Result<std::vector<std::pair<std::string, int64_t>>> SignIns(std::string_view user_id);

  // Signs the customer out everywhere, as the sign-out page does: main's sessions end, access
  // tokens are revoked, and `logged_out` is told the clients the customer signed in to. (After
  // a password change.)
  Status EndEverywhere(std::string_view user_id);

 private:
  class Impl;
  explicit OidcProvider(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The built-in templates of the provider's pages (authorize, logout, oidc_problem).
const content::EmbeddedTemplates& OidcPageTemplates();

}  // namespace tieup::users

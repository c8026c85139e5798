// A partner's side of the network's single sign-on: an OpenID Connect relying party of main's
// provider (users/oidc_provider.h), authorization code flow with PKCE (S256), state and nonce.
//
// Begin makes the authorization request: the URL of main's sign-in page to send the browser to,
// and the value of a short-lived cookie that keeps the request's secrets (state, nonce, code
// verifier) and the page to return to in the browser that started it. Finish takes main's
// answer at the redirect URI: checks the state against that cookie, exchanges the code (the
// client secret travels only over the transport: the mutual-TLS sync channel), and checks the
// ID token: ES256 signature by a key of main's JWK Set (crypto/jose.h), iss, aud, exp, iat and
// nonce.
//
// The client's credentials are asked of main at the first sign-in (SsoTransport::register_client)
// and kept in memory only; main gives a fresh secret each time, so a restart re-registers. When
// main refuses the secret (another process registered since), Finish registers again once.
// Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "net/http_message.h"
#include "users/wire.h"

namespace tieup::users {

struct SsoTransport {
  // Asks main for this site's client credentials (POST /v1/users/sso-client).
  std::function<Result<SsoClientGrant>()> register_client;
  // Sends `request` (a POST to /oidc/token) to main; main's answer, whatever its status.
  std::function<Result<HttpResponse>(const HttpRequest& request)> send_token_request;
  // Main's JWK Set (GET /oidc/jwks).
  std::function<Result<std::string>()> fetch_jwks;
};

// The name of the cookie that carries a sign-in in progress (Path=/account/).
inline constexpr std::string_view kSsoPendingCookie = "tieup_sso_pending";
// How long a sign-in may take, from Begin to Finish.
inline constexpr int64_t kSsoPendingSeconds = 600;

class SingleSignOn {
 public:
  SingleSignOn(Env& env, SsoTransport transport);
  ~SingleSignOn();

  struct Start {
    std::string location;        // main's authorization URL
    std::string pending_cookie;  // the value of kSsoPendingCookie
  };
  // `return_path`: the site path to come back to after signing in ("/" when empty or not a
  // path). `create`: main shows its registration form first (prompt=create). Unavailable when
  // main cannot be reached for the credentials.
  Result<Start> Begin(std::string_view return_path, bool create = false);

  struct SignedIn {
    std::string user_id;
    std::string name;
    std::string return_path;
    // Main says the account was registered through this site and this is its first sign-in
    // here (the ID token's "tieup_new_account").
    bool new_account = false;
    // Main lets this site record the customer's visits under the account's id (the ID token's
    // "tieup_record_visits"; absent: no).
    bool record_visits = false;
    // The account's e-mail address (the ID token's "email"), to find the customer's own orders
    // here; never stored as such (partner_site/users_service.h keeps its hash).
    std::string email;
    // The generation of the customer's last sign-out everywhere at main (the ID token's
    // "tieup_signed_out_at"; 0 when absent): kept with the session (SessionStore::Create), so a
    // late notice of that sign-out leaves this sign-in alone.
    int64_t signed_out_at = 0;
  };
  // `query`: the raw query of the request to the redirect URI; `pending_cookie`: the cookie's
  // value. PermissionDenied for an error main sent back (error=..., its description in the
  // message: the customer cancelled, or prompt=none found no session: "login_required");
  // Unauthenticated for a state that does not match, an expired or missing cookie, a refused
  // code or a bad ID token (the message says which); Unavailable when main cannot be reached.
  Result<SignedIn> Finish(std::string_view query, std::string_view pending_cookie);

  // Main's "sign out everywhere" page for this client, returning to its post-logout URI.
  Result<std::string> LogoutUrl();
  // Main's account page (where the customer changes name or password, downloads their data).
  Result<std::string> AccountUrl();

 private:
  Result<SsoClientGrant> Grant(bool fresh);
  Result<std::string> Jwks(bool fresh);

  Env& env_;
  const SsoTransport transport_;
  std::mutex mu_;
  std::optional<SsoClientGrant> grant_;
  std::string jwks_;
};

}  // namespace tieup::users

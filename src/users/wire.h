// The JSON bodies of main's user endpoint on the sync port (see main_site/users_service.h):
//
//   POST /v1/users/sso-client {}                -> 200 {"client_id":"shop-a","client_secret":"...",
//                             "issuer":"https://main.example","post_logout_redirect_uri":"...",
//                             "redirect_uri":"https://shop-a.example/account/callback"}
//     registers the partner as a client of main's OpenID Connect provider (users/oidc_provider.h)
//     with a fresh secret (the previous one stops working); the URIs come from the partnership.
//
// And from main to a partner's sync port (mutual TLS: the peer is main):
//
//   POST /v1/users/logout    {"user_id":"usr_..."} -> 200 {}: the customer signed out everywhere;
//                             the partner ends every session of theirs
//
// Parsing is strict: an object with exactly the listed string fields, at most kMaxUserJsonBytes.
// Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"
#include "users/user_store.h"

namespace tieup::users {

inline constexpr size_t kMaxUserJsonBytes = 4096;

// A partner's credentials at main's OpenID Connect provider.
struct SsoClientGrant {
  std::string client_id;
  std::string client_secret;  // never logged
  std::string issuer;
  std::string redirect_uri;
  std::string post_logout_redirect_uri;
};

std::string SsoClientGrantToJson(const SsoClientGrant& grant);
Result<SsoClientGrant> SsoClientGrantFromJson(std::string_view json);

// The body of POST /v1/users/logout.
std::string LogoutNoticeToJson(std::string_view user_id);
Result<std::string> LogoutNoticeFromJson(std::string_view json);

}  // namespace tieup::users

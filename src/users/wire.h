// The JSON bodies of main's user endpoints on the sync port (see main_site/users_service.h):
//
//   POST /v1/users/register  {"area":"tieup","display_name":"Ada","email":"ada@example.org",
//                             "password":"..."}  -> 200 {"user_id":"usr_..."}
//   POST /v1/users/login     {"email":"ada@example.org","password":"..."}
//                                               -> 200 {"display_name":"Ada","user_id":"usr_..."}
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
// A refusal is the sync error object ({"code":..., "message":...}, sync/http_api.h) with a
// "reason" that tells the partner what to show: "email_taken" (409), "invalid_input" (400,
// the message says what to fix) or "wrong_login" (401). An error without a reason is about the
// request itself (signature, size, JSON): the partner treats it as "not available now".
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

struct RegistrationRequest {
  std::string email;
  std::string display_name;
  std::string password;
  UserArea area = UserArea::kTieup;
};

struct LoginRequest {
  std::string email;
  std::string password;
};

struct LoginReply {
  std::string user_id;
  std::string display_name;
};

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

// Why main refused (the "reason" of an error reply).
enum class Refusal { kNone, kEmailTaken, kInvalidInput, kWrongLogin, kTooManyFailures };

std::string RegistrationRequestToJson(const RegistrationRequest& request);
// InvalidArgument (or ResourceExhausted for a body above kMaxUserJsonBytes) saying what is wrong.
Result<RegistrationRequest> RegistrationRequestFromJson(std::string_view json);

std::string LoginRequestToJson(const LoginRequest& request);
Result<LoginRequest> LoginRequestFromJson(std::string_view json);

std::string RegistrationReplyToJson(std::string_view user_id);
Result<std::string> RegistrationReplyFromJson(std::string_view json);

std::string LoginReplyToJson(const LoginReply& reply);
Result<LoginReply> LoginReplyFromJson(std::string_view json);

// The error reply body for a refusal by the store: {"code","message","reason"}.
std::string RefusalToJson(const Status& status, Refusal reason);
// The reason in an error reply body; kNone when there is none or the body is not an error object.
Refusal RefusalFromJson(std::string_view json);

}  // namespace tieup::users

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
//   POST /v1/users/orders    {"email_sha256":"<64 hex>"} -> 200 {"orders":[{"href":"/shop/orders/
//                             ...","number":"SHOPB-000012","placed":"...","placed_micros":N,
//                             "status":"paid","total":"$9.00"}]}: the orders the partner
//                             processed itself for the customer with that address (EmailSha256),
//                             newest first, at most kMaxPartnerOrders, for main's account page
//
// Parsing is strict: an object with exactly the listed fields, at most kMaxUserJsonBytes (an
// orders answer: kMaxPartnerOrdersJsonBytes). An order's link must be a path on the partner
// ("/..."), so that main can put the partner's public URL before it and nothing else.
// Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "commerce/shop_pages.h"
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

// The body of POST /v1/users/logout: the customer signed out everywhere at main.
struct LogoutNotice {
  std::string user_id;
  // Main's generation of that sign-out (microseconds of main's clock, rising at each one): the
  // partner ends the sessions made before it (SessionStore::EndAllBefore), not one made from a
  // sign-in at main since (its ID token carries the generation). 0: sent by a main that does not
  // say, every session of the customer ends.
  int64_t signed_out_at = 0;
  bool operator==(const LogoutNotice&) const = default;
};
std::string LogoutNoticeToJson(const LogoutNotice& notice);
Result<LogoutNotice> LogoutNoticeFromJson(std::string_view json);

// The partner's sync endpoint listing a customer's orders there, and its limits.
inline constexpr std::string_view kPartnerOrdersPath = "/v1/users/orders";
inline constexpr size_t kMaxPartnerOrders = 100;
inline constexpr size_t kMaxPartnerOrdersJsonBytes = 256 * 1024;

// The body of POST /v1/users/orders: the SHA-256 of the customer's address (EmailSha256,
// lower-case hex).
std::string PartnerOrdersQueryToJson(std::string_view email_sha256);
Result<std::string> PartnerOrdersQueryFromJson(std::string_view json);

// Its answer: number, placed, placed_micros, status, total and href of each order (through and
// at are not sent: main sets `at` to the partner).
std::string PartnerOrdersToJson(const std::vector<commerce::OrderSummary>& orders);
Result<std::vector<commerce::OrderSummary>> PartnerOrdersFromJson(std::string_view json);

}  // namespace tieup::users

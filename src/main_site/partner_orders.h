// The customer's orders that partners processed themselves (their local routing, or after
// consulting main), for main's account page and data download (issue 16 item 3). Main keeps
// only the orders it processed (its own and the delegated ones); a partner's own orders stay
// at the partner, so main asks: a POST of the SHA-256 of the customer's address to each
// partner that may know the customer (customer_copies.h PartnersOfCustomer: signed in there
// through main, registered there, or holding a copy) over the mutual-TLS sync channel
// (users/wire.h kPartnerOrdersPath), all at once, each with a deadline. A partner that does
// not answer in time, or answers wrongly, is named, not waited for: the page says its orders
// cannot be shown now. A partner main cannot reach (it pulls its updates: no sync URL) is named
// with its own account page instead.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "commerce/shop_pages.h"
#include "users/user_store.h"

namespace tieup {

class MainSync;
class Database;

struct PartnerOrders {
  // Newest first; `at` is the partner's name, `href` its public URL before the order's path.
  std::vector<commerce::OrderSummary> orders;
  // The names of the partners whose orders are missing: no answer in time, an error, a
  // malformed answer.
  std::vector<std::string> not_answered;
  // The partners main cannot ask (they pull their updates): their names and account pages.
  std::vector<std::pair<std::string, std::string>> elsewhere;
};

// Asks every partner that may know `user` (at most 8 at once), each within `timeout`. Revoked
// partners are not asked (the partnership ended; their certificate is no longer trusted).
// Errors only when main's own tables cannot be read.
Result<PartnerOrders> FetchPartnerOrders(MainSync& sync, Database& db, const users::User& user,
                                         std::chrono::milliseconds timeout);

// Main's orders and the partners', newest first (by when they were placed).
std::vector<commerce::OrderSummary> MergeOrders(std::vector<commerce::OrderSummary> a,
                                                std::vector<commerce::OrderSummary> b);

}  // namespace tieup

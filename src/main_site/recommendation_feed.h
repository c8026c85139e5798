// Feeds main's recommender (users/recommendations.h) from the network's logs, incrementally: the
// order lines of main's shop (main's own orders and every order a partner delegated) and the user
// logs (access records naming a signed-in customer who consented, main_site/ledger_service.h
// LedgerVisit) that fall on a product's page. Each source has a cursor stored with the events it
// fed in the same transaction (the orders' last id; each partner's last ledger entry), so a crash
// never counts an order twice nor loses one.
//
// The customer of an order is the account with its e-mail address, when there is one, else
// "email:" + the SHA-256 of the address (guests' purchases still teach which goods go together).
// Cancelled orders (at the time they are read) are left out. Orders partners processed
// themselves are not here: their ledger records carry no lines (ledger/records.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/status.h"
#include "commerce/shop.h"
#include "store/database.h"
#include "users/account_pages.h"
#include "users/recommendations.h"

namespace tieup {

struct RecommendationFeedResult {
  int64_t orders = 0;  // orders read
  int64_t visits = 0;  // visit records read
  users::RecommendationUpdate update;
};

// Feeds what arrived since the last call, at most `max_orders` orders and `max_visits` visits per
// source (the rest at the next call). The shop's and the ledger's tables may be absent (nothing
// to read).
Result<RecommendationFeedResult> FeedRecommendations(Database& db, users::Recommender& recommender,
                                                     int64_t max_orders = 5000,
                                                     int64_t max_visits = 20000);

// Puts into `pages` (the catalog as pages show it) the products recommended beside each product,
// from `neighbours` (users::Recommender::AllAlsoBought, unfiltered): every product with
// neighbours in stock gets its best `limit` of them (content::kAlsoBoughtField). Sold-out and
// unknown products are left out here, whatever the neighbours were read.
void AddAlsoBought(const std::map<std::string, std::vector<users::ScoredProduct>>& neighbours,
                   const std::vector<commerce::Product>& products, size_t limit,
                   std::map<std::string, std::map<std::string, std::string>>& pages);

// Up to `n` personal suggestions for `customer` (users::Recommender::ForCustomer), only products of
// `shop` in stock that have a page, priced as customers read them: what main's account page and
// the campaigns' {{#recommended}} show.
Result<std::vector<users::AccountSuggestion>> SuggestionsFor(users::Recommender& recommender,
                                                             commerce::Shop& shop,
                                                             std::string_view customer, size_t n);

}  // namespace tieup

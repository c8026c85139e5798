#include "main_site/recommendation_feed.h"

#include <set>

#include "base/encoding.h"
#include "base/money_format.h"
#include "commerce/form.h"
#include "content/builder.h"
#include "crypto/hash.h"
#include "store/database.h"

namespace tieup {
namespace {

constexpr std::string_view kOrdersCursor = "orders";

std::string VisitsCursor(const std::string& partner) { return "visits:" + partner; }

// A cursor as stored ("" before the first batch: 0).
int64_t FeedCursorValue(const std::string& text) {
  return commerce::ParseDigits(text, 18).value_or(0);
}

}  // namespace

Result<RecommendationFeedResult> FeedRecommendations(Database& db, users::Recommender& recommender,
                                                     int64_t max_orders, int64_t max_visits) {
  RecommendationFeedResult result;
  users::RecommendationBatch batch;
  ASSIGN_OR_RETURN(bool has_orders, TableExists(db, "commerce_orders"));
  ASSIGN_OR_RETURN(bool has_users, TableExists(db, "users"));
  if (has_orders) {
    ASSIGN_OR_RETURN(std::string cursor, recommender.Cursor(kOrdersCursor));
    const int64_t after = FeedCursorValue(cursor);
    // The orders first (bounded), then their lines.
    ASSIGN_OR_RETURN(auto orders, db.Query("SELECT id FROM commerce_orders WHERE id > ? ORDER BY "
                                           "id LIMIT ?",
                                           {after, max_orders}));
    if (!orders.empty()) {
      const int64_t last = orders.back().Int(0);
      const std::string account_join =
          has_users ? " LEFT JOIN users u ON u.email_key = lower(o.email)" : "";
      ASSIGN_OR_RETURN(
          auto lines,
          db.Query("SELECT o.id, lower(o.email), " + std::string(has_users ? "u.id" : "''") +
                       ", l.sku, o.created_micros FROM commerce_orders o JOIN "
                       "commerce_order_lines l ON l.order_id = o.id" +
                       account_join +
                       " WHERE o.id > ? AND o.id <= ? AND o.status <> 'cancelled' ORDER BY o.id, "
                       "l.line_no",
                   {after, last}));
      for (const SqlRow& row : lines) {
        if (!commerce::ValidateSku(row.Text(3)).ok()) continue;  // written before SKUs were checked
        const std::string email = row.Text(1);
        std::string customer = row.Text(2);
        if (customer.empty()) {
          if (email.empty()) continue;  // an erased customer's order: nobody to tie it to
          customer = "email:" + Sha256Hex(email);
        }
        batch.purchases.push_back({customer, row.Text(3), row.Int(4)});
      }
      result.orders = static_cast<int64_t>(orders.size());
      batch.cursors[std::string(kOrdersCursor)] = std::to_string(last);
    }
  }
  ASSIGN_OR_RETURN(bool has_visits, TableExists(db, "ledger_user_visits"));
  ASSIGN_OR_RETURN(bool has_products, TableExists(db, "commerce_products"));
  if (has_visits && has_products) {
    std::map<std::string, std::string> sku_of_page;
    ASSIGN_OR_RETURN(auto pages, db.Query("SELECT sku, page_path FROM commerce_products WHERE "
                                          "page_path <> ''"));
    for (const SqlRow& row : pages) sku_of_page[row.Text(1)] = row.Text(0);
    ASSIGN_OR_RETURN(auto partners, db.Query("SELECT DISTINCT partner FROM ledger_user_visits"));
    for (const SqlRow& p : partners) {
      const std::string partner = p.Text(0);
      ASSIGN_OR_RETURN(std::string cursor, recommender.Cursor(VisitsCursor(partner)));
      ASSIGN_OR_RETURN(auto visits,
                       db.Query("SELECT entry, user_id, path, time_micros, method, status FROM "
                                "ledger_user_visits WHERE partner = ? AND entry > ? ORDER BY "
                                "entry LIMIT ?",
                                {partner, FeedCursorValue(cursor), max_visits}));
      if (visits.empty()) continue;
      for (const SqlRow& v : visits) {
        if (v.Text(4) != "GET" || v.Int(5) != 200) continue;
        auto sku = sku_of_page.find(v.Text(2));
        // A partner's record names the customer: skip what cannot be a key (the recommender would
        // refuse the whole batch, and the feed would stop there for good).
        const std::string user = v.Text(1);
        if (sku == sku_of_page.end() || user.empty() || user.size() > 128 || !IsValidUtf8(user) ||
            user.find('\0') != std::string::npos) {
          continue;
        }
        batch.views.push_back({user, sku->second, v.Int(3)});
      }
      result.visits += static_cast<int64_t>(visits.size());
      batch.cursors[VisitsCursor(partner)] = std::to_string(visits.back().Int(0));
    }
  }
  if (batch.cursors.empty()) return result;
  ASSIGN_OR_RETURN(result.update, recommender.Add(batch));
  return result;
}

void AddAlsoBought(const std::map<std::string, std::vector<users::ScoredProduct>>& neighbours,
                   const std::vector<commerce::Product>& products, size_t limit,
                   std::map<std::string, std::map<std::string, std::string>>& pages) {
  std::set<std::string, std::less<>> in_stock;
  for (const commerce::Product& p : products) {
    if (p.stock > 0) in_stock.insert(p.sku);
  }
  for (const auto& [sku, list] : neighbours) {
    auto page = pages.find(sku);
    if (page == pages.end()) continue;
    std::string skus;
    size_t n = 0;
    for (const users::ScoredProduct& other : list) {
      if (n == limit) break;
      if (other.sku == sku || !in_stock.contains(other.sku)) continue;
      skus += (skus.empty() ? "" : " ") + other.sku;
      ++n;
    }
    if (!skus.empty()) page->second[std::string(content::kAlsoBoughtField)] = skus;
  }
}

Result<std::vector<users::AccountSuggestion>> SuggestionsFor(users::Recommender& recommender,
                                                             commerce::Shop& shop,
                                                             std::string_view customer, size_t n) {
  ASSIGN_OR_RETURN(std::vector<commerce::Product> products, shop.ListProducts());
  std::map<std::string, const commerce::Product*, std::less<>> in_stock;
  for (const commerce::Product& p : products) {
    if (p.stock > 0 && !p.page_path.empty()) in_stock[p.sku] = &p;
  }
  ASSIGN_OR_RETURN(auto suggested, recommender.ForCustomer(customer, n, [&](std::string_view sku) {
    return in_stock.contains(sku);
  }));
  const commerce::ShopConfig& c = shop.config();
  std::vector<users::AccountSuggestion> out;
  for (const users::ScoredProduct& s : suggested) {
    const commerce::Product& p = *in_stock.at(s.sku);
    out.push_back({p.title, FormatMoney(p.price_minor, c.currency, c.locale), p.page_path});
  }
  return out;
}

}  // namespace tieup

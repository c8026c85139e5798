// Item-to-item recommendations from the network's past logs (DESIGN.md "Management on the
// partners' behalf", Users; issue 19 item 3): "customers who bought this also bought", and
// personal suggestions, kept up to date incrementally as orders and access records arrive.
//
// The model, in main's SQL database (schema component "recommendations"):
//   - per customer, the products bought and the product pages viewed (a customer is an opaque key
//     the caller chooses: main uses the account id when the buyer has an account, else a hash of
//     the order's e-mail address);
//   - per product, its weighted count n(a) = purchase_weight * buyers + view_weight * viewers;
//   - per pair of products (a, b), w(a, b): purchase_weight for every customer who bought both,
//     plus view_weight for every customer who viewed both (each customer counts once per pair,
//     whatever the number of orders or visits);
//   - per product, its top `kept_per_product` neighbours by cosine similarity
//     w(a, b) / sqrt(n(a) * n(b)), recomputed only for the products an update touched.
// A new purchase of `p` by customer `c` adds to the pairs (p, q) for the products q that `c`
// bought before (the same for views): an update costs the new events times the customers'
// histories, never a rebuild.
//
// Sold-out goods are never recommended: every query takes an `available` predicate and skips
// the products it refuses (the product itself and the customer's own purchases are skipped too).
//
// Thread-safe (the Database serialises); Add is one transaction, so an update and the feed's
// cursors commit together or not at all.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "store/database.h"

namespace tieup::users {

struct RecommenderOptions {
  int64_t purchase_weight = 4;  // what one customer buying both adds to a pair; 1..1000000
  int64_t view_weight = 1;      // what one customer viewing both adds to a pair; 0..1000000
  // Neighbours kept per product (the lists the queries read); 1..200.
  int kept_per_product = 20;
};

// A product bought (one event per product per order line; repeats are harmless).
struct PurchaseEvent {
  std::string customer;  // 1..128 bytes, opaque (text: valid UTF-8, no NUL byte)
  std::string sku;
  int64_t time_micros = 0;
};

// A product page viewed by a customer (an access record naming a signed-in customer, mapped to
// the product whose page it was).
struct ViewEvent {
  std::string customer;
  std::string sku;
  int64_t time_micros = 0;
};

// One update: events, and the feed's cursors to store in the same transaction (name -> value;
// Cursor reads them back), so that a crash never counts an event twice nor loses it. A cursor's
// name is 1..128 bytes of text, its value at most 4096.
struct RecommendationBatch {
  std::vector<PurchaseEvent> purchases;
  std::vector<ViewEvent> views;
  std::map<std::string, std::string> cursors;
};

struct RecommendationUpdate {
  int64_t purchases = 0;        // events that were new for their customer
  int64_t views = 0;            // likewise
  int64_t pairs_changed = 0;    // distinct (a, b) rows written
  int64_t products_ranked = 0;  // products whose neighbour lists were recomputed
};

struct ScoredProduct {
  std::string sku;
  double score = 0;  // cosine similarity (AlsoBought), summed similarity divided as ForCustomer
                     // says (0 for its fill-up), or the weighted count (Popular)
};

// Says whether a product may be recommended now (false for a sold-out or unknown product). An
// empty function accepts every product.
using ProductFilter = std::function<bool(std::string_view sku)>;

class Recommender {
 public:
  // Migrates the schema in `db` (which must outlive the object). InvalidArgument for options
  // out of range.
  static Result<std::unique_ptr<Recommender>> Open(Env& env, Database& db,
                                                   RecommenderOptions options = {});
  ~Recommender();

  // Applies `batch` in one transaction (events with an empty or over-long customer or a bad SKU
  // are InvalidArgument, naming the event; nothing is written then).
  Result<RecommendationUpdate> Add(const RecommendationBatch& batch);
  // The cursor stored under `name` by Add ("" when none).
  Result<std::string> Cursor(std::string_view name);

  // The products most often bought (and viewed) with `sku`, best first, at most `limit`, only
  // those `available` accepts, never `sku` itself. Empty for an unknown product.
  Result<std::vector<ScoredProduct>> AlsoBought(std::string_view sku, size_t limit,
                                                const ProductFilter& available);
  // AlsoBought for every product that has neighbours, in one read (the catalog's pages); a
  // product whose neighbours `available` all refuses is left out.
  Result<std::map<std::string, std::vector<ScoredProduct>>> AllAlsoBought(
      size_t limit, const ProductFilter& available);
  // Personal suggestions: the neighbours of what `customer` bought and viewed (purchases
  // weighing more), their similarities summed, each product `a` of the customer's counting
  // 1/n(a) (a best seller says less of a customer's taste than a rarer purchase), never a
  // product the customer bought, best first; filled up with
  // Popular when there are fewer than `limit` (those scored 0). InvalidArgument for a customer key
  // Add would refuse.
  Result<std::vector<ScoredProduct>> ForCustomer(std::string_view customer, size_t limit,
                                                 const ProductFilter& available);
  // The products with the highest weighted counts (the baseline, and the fill-up).
  Result<std::vector<ScoredProduct>> Popular(size_t limit, const ProductFilter& available);

  // Forgets which products `customer` bought and viewed (an erased account); the pair counts it
  // contributed stay, as anonymous aggregates.
  Status ForgetCustomer(std::string_view customer);

 private:
  class Impl;
  explicit Recommender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::users

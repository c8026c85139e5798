#include "users/recommendations.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/encoding.h"
#include "commerce/shop.h"

namespace tieup::users {
namespace {

constexpr size_t kMaxCustomerBytes = 128;
constexpr size_t kMaxCursorNameBytes = 128;
constexpr size_t kMaxCursorValueBytes = 4096;
constexpr int64_t kMaxWeight = 1'000'000;
constexpr int kMaxKeptPerProduct = 200;

// Pairs keep their two counts apart (customers who bought both, customers who viewed both), as
// products keep buyers and viewers: the options' weights are applied when lists are ranked, so
// that a change of weights needs no migration of the counts.
const std::vector<Migration>& RecommendationMigrations() {
  static const std::vector<Migration> kSteps = {
      {1,
       "CREATE TABLE reco_customer_items ("
       "  customer TEXT NOT NULL,"
       "  sku TEXT NOT NULL,"
       "  bought INTEGER NOT NULL DEFAULT 0,"
       "  viewed INTEGER NOT NULL DEFAULT 0,"
       "  PRIMARY KEY (customer, sku));"
       "CREATE TABLE reco_products ("
       "  sku TEXT PRIMARY KEY,"
       "  buyers INTEGER NOT NULL DEFAULT 0,"
       "  viewers INTEGER NOT NULL DEFAULT 0);"
       "CREATE TABLE reco_pairs ("
       "  a TEXT NOT NULL,"
       "  b TEXT NOT NULL,"
       "  bought INTEGER NOT NULL DEFAULT 0,"
       "  viewed INTEGER NOT NULL DEFAULT 0,"
       "  PRIMARY KEY (a, b));"
       "CREATE TABLE reco_neighbours ("
       "  sku TEXT NOT NULL,"
       "  place INTEGER NOT NULL,"
       "  other TEXT NOT NULL,"
       "  score REAL NOT NULL,"
       "  PRIMARY KEY (sku, place));"
       "CREATE TABLE reco_cursors ("
       "  name TEXT PRIMARY KEY,"
       "  value TEXT NOT NULL);"},
  };
  return kSteps;
}

enum class EventKind { kPurchase, kView };

const char* KindName(EventKind kind) { return kind == EventKind::kPurchase ? "purchase" : "view"; }

Status ValidateCustomer(std::string_view customer) {
  if (customer.empty() || customer.size() > kMaxCustomerBytes) {
    return Status::InvalidArgument("the customer key is " + std::to_string(customer.size()) +
                                   " bytes long; it must be 1 to " +
                                   std::to_string(kMaxCustomerBytes) +
                                   " (an account id, or a hash of the order's e-mail address)");
  }
  if (!IsValidUtf8(customer) || customer.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(
        "the customer key is not text (invalid UTF-8 or a NUL byte): pass an account id or a hex "
        "hash");
  }
  return Status::Ok();
}

Status ValidateEvent(EventKind kind, size_t index, std::string_view customer,
                     std::string_view sku) {
  Status s = ValidateCustomer(customer);
  if (s.ok()) s = commerce::ValidateSku(sku);
  if (s.ok()) return s;
  return Status::InvalidArgument(std::string(KindName(kind)) + " event " + std::to_string(index) +
                                 " of the batch: " + s.message() +
                                 "; fix or drop the event (nothing of the batch was written)");
}

Status ValidateCursor(const std::string& name, const std::string& value) {
  if (name.empty() || name.size() > kMaxCursorNameBytes || !IsValidUtf8(name) ||
      name.find('\0') != std::string::npos) {
    return Status::InvalidArgument("a cursor's name must be 1 to " +
                                   std::to_string(kMaxCursorNameBytes) +
                                   " bytes of text (nothing of the batch was written)");
  }
  if (value.size() > kMaxCursorValueBytes || !IsValidUtf8(value) ||
      value.find('\0') != std::string::npos) {
    return Status::InvalidArgument("cursor '" + name + "' must hold at most " +
                                   std::to_string(kMaxCursorValueBytes) +
                                   " bytes of text (nothing of the batch was written)");
  }
  return Status::Ok();
}

bool Recommendable(const ProductFilter& available, std::string_view sku) {
  return !available || available(sku);
}

// Best first: the higher score, then the SKU in byte order (the same on every backend, whatever
// the database's collation).
bool RankedBefore(const ScoredProduct& x, const ScoredProduct& y) {
  if (x.score != y.score) return x.score > y.score;
  return x.sku < y.sku;
}

// CustomerCounts of customers, by kind of event.
struct CustomerCounts {
  int64_t bought = 0;
  int64_t viewed = 0;
  void Add(EventKind kind) { ++(kind == EventKind::kPurchase ? bought : viewed); }
};

// What one customer bought and viewed, as far as the batch knows (read once per customer).
struct HistoryItem {
  int product = 0;  // the batch's id of the SKU
  bool bought = false;
  bool viewed = false;
  bool changed = false;  // to be written back
  bool Has(EventKind kind) const { return kind == EventKind::kPurchase ? bought : viewed; }
  void Set(EventKind kind) { (kind == EventKind::kPurchase ? bought : viewed) = true; }
};
using CustomerHistory = std::map<std::string, HistoryItem, std::less<>>;  // by SKU

// The changes a batch makes, gathered in memory before anything is written: each pair and
// product is then written once, however many events touched it.
class BatchDelta {
 public:
  int Intern(const std::string& sku) {
    auto [it, added] = ids_.try_emplace(sku, static_cast<int>(skus_.size()));
    if (added) {
      skus_.push_back(sku);
      products_.emplace_back();
    }
    return it->second;
  }
  const std::string& Sku(int id) const { return skus_[id]; }
  size_t product_count() const { return skus_.size(); }

  void AddPair(int a, int b, EventKind kind) {
    pairs_[Key(a, b)].Add(kind);
    pairs_[Key(b, a)].Add(kind);
  }
  void AddProduct(int id, EventKind kind) {
    products_[id].Add(kind);
    product_changed_.insert(id);
  }

  std::map<std::string, CustomerHistory, std::less<>>& histories() { return histories_; }
  const std::vector<CustomerCounts>& products() const { return products_; }
  const std::set<int>& changed_products() const { return product_changed_; }

  // The pairs, ordered by (a, b)'s SKUs (the primary key's order: writes go in index order).
  std::vector<std::pair<std::pair<int, int>, CustomerCounts>> SortedPairs() const {
    std::vector<std::pair<std::pair<int, int>, CustomerCounts>> out;
    out.reserve(pairs_.size());
    for (const auto& [key, counts] : pairs_) {
      out.push_back({{static_cast<int>(key >> 32), static_cast<int>(key & 0xffffffff)}, counts});
    }
    std::sort(out.begin(), out.end(), [this](const auto& x, const auto& y) {
      const int c = skus_[x.first.first].compare(skus_[y.first.first]);
      if (c != 0) return c < 0;
      return skus_[x.first.second] < skus_[y.first.second];
    });
    return out;
  }

 private:
  static uint64_t Key(int a, int b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  std::unordered_map<std::string, int> ids_;
  std::vector<std::string> skus_;
  std::vector<CustomerCounts> products_;  // by id: customers added to the product's counts
  std::set<int> product_changed_;
  std::unordered_map<uint64_t, CustomerCounts> pairs_;
  std::map<std::string, CustomerHistory, std::less<>> histories_;  // by customer
};

}  // namespace

class Recommender::Impl {
 public:
  Impl(Database& db, RecommenderOptions options) : db_(db), options_(options) {}

  Result<RecommendationUpdate> Add(const RecommendationBatch& batch) {
    for (size_t i = 0; i < batch.purchases.size(); ++i) {
      const PurchaseEvent& e = batch.purchases[i];
      RETURN_IF_ERROR(ValidateEvent(EventKind::kPurchase, i, e.customer, e.sku));
    }
    for (size_t i = 0; i < batch.views.size(); ++i) {
      const ViewEvent& e = batch.views[i];
      RETURN_IF_ERROR(ValidateEvent(EventKind::kView, i, e.customer, e.sku));
    }
    for (const auto& [name, value] : batch.cursors) RETURN_IF_ERROR(ValidateCursor(name, value));

    RecommendationUpdate update;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      update = {};
      BatchDelta delta;
      for (const PurchaseEvent& e : batch.purchases) {
        RETURN_IF_ERROR(Count(db, e.customer, e.sku, EventKind::kPurchase, delta, update));
      }
      for (const ViewEvent& e : batch.views) {
        RETURN_IF_ERROR(Count(db, e.customer, e.sku, EventKind::kView, delta, update));
      }
      RETURN_IF_ERROR(WriteHistories(db, delta));
      RETURN_IF_ERROR(WriteProducts(db, delta));
      ASSIGN_OR_RETURN(std::set<std::string> touched, WritePairs(db, delta, update));
      for (const auto& [name, value] : batch.cursors) {
        RETURN_IF_ERROR(
            db.Exec("INSERT INTO reco_cursors (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    {name, value}));
      }
      // Only the products this batch touched are ranked again: those whose counts changed and
      // those in a changed pair. A product r whose pair with p did not change keeps its old
      // score for p even when n(p) grew (cosine divides by sqrt(n(p))): the documented
      // approximation, which keeps an update's cost to what it touched. r's list is exact again
      // the next time one of r's own pairs or counts changes.
      for (int id : delta.changed_products()) touched.insert(delta.Sku(id));
      for (const std::string& sku : touched) RETURN_IF_ERROR(Rank(db, sku));
      update.products_ranked = static_cast<int64_t>(touched.size());
      return Status::Ok();
    }));
    return update;
  }

  Result<std::string> Cursor(std::string_view name) {
    ASSIGN_OR_RETURN(
        auto rows, db_.Query("SELECT value FROM reco_cursors WHERE name = ?", {std::string(name)}));
    return rows.empty() ? std::string() : rows[0].Text(0);
  }

  Result<std::vector<ScoredProduct>> AlsoBought(std::string_view sku, size_t limit,
                                                const ProductFilter& available) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT other, score FROM reco_neighbours WHERE sku = ? "
                                          "ORDER BY place",
                                          {std::string(sku)}));
    std::vector<ScoredProduct> out;
    for (const SqlRow& row : rows) {
      if (out.size() >= limit) break;
      std::string other = row.Text(0);
      if (other == sku || !Recommendable(available, other)) continue;
      out.push_back({std::move(other), row.Real(1)});
    }
    return out;
  }

  Result<std::map<std::string, std::vector<ScoredProduct>>> AllAlsoBought(
      size_t limit, const ProductFilter& available) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT sku, other, score FROM reco_neighbours "
                                          "ORDER BY sku, place"));
    std::map<std::string, std::vector<ScoredProduct>> out;
    // Rows come grouped by sku (in the database's collation: only grouping matters here).
    std::string current;
    std::vector<ScoredProduct>* list = nullptr;
    for (const SqlRow& row : rows) {
      std::string sku = row.Text(0);
      if (list == nullptr || sku != current) {
        current = sku;
        list = nullptr;
      }
      std::string other = row.Text(1);
      if (other == sku || !Recommendable(available, other)) continue;
      if (list == nullptr) list = &out[sku];
      if (list->size() < limit) list->push_back({std::move(other), row.Real(2)});
    }
    return out;
  }

  Result<std::vector<ScoredProduct>> ForCustomer(std::string_view customer, size_t limit,
                                                 const ProductFilter& available) {
    RETURN_IF_ERROR(ValidateCustomer(customer));
    if (limit == 0) return std::vector<ScoredProduct>();
    // Each of the customer's products, with its weighted count n(a) and its neighbours (none: a
    // row of NULLs).
    ASSIGN_OR_RETURN(auto rows,
                     db_.Query("SELECT c.sku, c.bought, c.viewed, n.place, n.other, n.score, "
                               "p.buyers, p.viewers "
                               "FROM reco_customer_items c LEFT JOIN reco_neighbours n "
                               "ON n.sku = c.sku LEFT JOIN reco_products p ON p.sku = c.sku "
                               "WHERE c.customer = ?",
                               {std::string(customer)}));
    // Summed in one order on every backend, so that equal sums stay equal.
    std::sort(rows.begin(), rows.end(), [](const SqlRow& x, const SqlRow& y) {
      const std::string xs = x.Text(0), ys = y.Text(0);
      if (xs != ys) return xs < ys;
      return x.Int(3) < y.Int(3);
    });
    std::set<std::string, std::less<>> bought;
    for (const SqlRow& row : rows) {
      if (row.Int(1) != 0) bought.insert(row.Text(0));
    }
    // Each product `a` of the customer votes for its neighbours with their cosine, weighted by
    // what the customer did with `a` (bought, viewed) and divided by n(a): buying what nearly
    // everyone buys says little of a customer's taste, buying what few buy says much (as inverse
    // document frequency in text retrieval). Without the division, the neighbours of the best
    // sellers a customer happened to buy crowd out those of the products that mark the
    // customer's own tastes: on the offline evaluation (BENCHMARKS.md) the hit rate at 5 goes
    // from 19.8% to 23.2% (2.12x the baseline), the exponent of n(a) chosen on a validation split
    // apart from the held-out orders (an exponent of 1 is on the plateau: 0.5 and 1.5 do about as
    // well, 0 is the old sum).
    const int64_t pw = options_.purchase_weight, vw = options_.view_weight;
    std::map<std::string, double> sums;
    for (const SqlRow& row : rows) {
      if (row.IsNull(4) || row.IsNull(6)) continue;
      const int64_t weight = (row.Int(1) != 0 ? pw : 0) + (row.Int(2) != 0 ? vw : 0);
      const int64_t count = pw * row.Int(6) + vw * row.Int(7);
      std::string other = row.Text(4);
      if (weight == 0 || count <= 0 || other == row.Text(0) || bought.contains(other)) continue;
      sums[std::move(other)] +=
          row.Real(5) * (static_cast<double>(weight) / static_cast<double>(count));
    }
    std::vector<ScoredProduct> out;
    for (auto& [sku, score] : sums) {
      if (Recommendable(available, sku)) out.push_back({sku, score});
    }
    std::sort(out.begin(), out.end(), RankedBefore);
    if (out.size() >= limit) {
      out.resize(limit);
      return out;
    }
    // Filled up with the most popular products the customer did not buy, scored 0 (they are not
    // similar to anything the customer has).
    std::set<std::string, std::less<>> skip = bought;
    for (const ScoredProduct& p : out) skip.insert(p.sku);
    ASSIGN_OR_RETURN(auto popular, PopularExcept(limit - out.size(), available, skip));
    for (ScoredProduct& p : popular) out.push_back({std::move(p.sku), 0});
    return out;
  }

  Result<std::vector<ScoredProduct>> PopularExcept(size_t limit, const ProductFilter& available,
                                                   const std::set<std::string, std::less<>>& skip) {
    std::vector<ScoredProduct> out;
    // Read by weighted count, a page at a time (most calls need the first page only): every
    // product with a count below `below` is still to be read. The page's last count is read
    // whole, so that ties are ordered by SKU here, in byte order, whatever the database's
    // collation.
    const size_t page = std::max<size_t>(64, 2 * (limit + skip.size()));
    int64_t below = INT64_MAX;
    const int64_t pw = options_.purchase_weight, vw = options_.view_weight;
    while (out.size() < limit) {
      ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT sku, buyers, viewers FROM reco_products "
                                            "WHERE ? * buyers + ? * viewers < ? "
                                            "ORDER BY ? * buyers + ? * viewers DESC LIMIT ?",
                                            {pw, vw, below, pw, vw, static_cast<int64_t>(page)}));
      if (rows.empty()) break;
      const bool last_page = rows.size() < page;
      auto weighted = [&](const SqlRow& r) { return pw * r.Int(1) + vw * r.Int(2); };
      const int64_t last = weighted(rows.back());
      if (!last_page) {
        // The rows with the page's last count may go on past the page: read them all.
        while (!rows.empty() && weighted(rows.back()) == last) rows.pop_back();
        ASSIGN_OR_RETURN(auto ties, db_.Query("SELECT sku, buyers, viewers FROM reco_products "
                                              "WHERE ? * buyers + ? * viewers = ?",
                                              {pw, vw, last}));
        rows.insert(rows.end(), std::make_move_iterator(ties.begin()),
                    std::make_move_iterator(ties.end()));
      }
      std::vector<ScoredProduct> candidates;
      candidates.reserve(rows.size());
      for (const SqlRow& row : rows) {
        candidates.push_back({row.Text(0), static_cast<double>(weighted(row))});
      }
      std::sort(candidates.begin(), candidates.end(), RankedBefore);
      for (ScoredProduct& p : candidates) {
        if (out.size() >= limit) break;
        if (p.score <= 0 || skip.contains(p.sku) || !Recommendable(available, p.sku)) continue;
        out.push_back(std::move(p));
      }
      if (last_page || last <= 0) break;
      below = last;
    }
    return out;
  }

  Status ForgetCustomer(std::string_view customer) {
    RETURN_IF_ERROR(ValidateCustomer(customer));
    return db_.Exec("DELETE FROM reco_customer_items WHERE customer = ?", {std::string(customer)});
  }

 private:
  // The customer's history, read on first use within the batch.
  Result<CustomerHistory*> HistoryOf(Database& db, const std::string& customer, BatchDelta& delta) {
    auto& histories = delta.histories();
    auto it = histories.find(customer);
    if (it != histories.end()) return &it->second;
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT sku, bought, viewed FROM reco_customer_items "
                                         "WHERE customer = ?",
                                         {customer}));
    CustomerHistory history;
    for (const SqlRow& row : rows) {
      std::string sku = row.Text(0);
      HistoryItem item;
      item.product = delta.Intern(sku);
      item.bought = row.Int(1) != 0;
      item.viewed = row.Int(2) != 0;
      history.emplace(std::move(sku), item);
    }
    return &histories.emplace(customer, std::move(history)).first->second;
  }

  // CustomerCounts one event: nothing when the customer already had it; else one more customer for
  // the product, and for each pair of it with the customer's earlier products of the same kind.
  Status Count(Database& db, const std::string& customer, const std::string& sku, EventKind kind,
               BatchDelta& delta, RecommendationUpdate& update) {
    ASSIGN_OR_RETURN(CustomerHistory * history, HistoryOf(db, customer, delta));
    auto it = history->find(sku);
    if (it == history->end()) {
      HistoryItem item;
      item.product = delta.Intern(sku);
      it = history->emplace(sku, item).first;
    }
    HistoryItem& item = it->second;
    if (item.Has(kind)) return Status::Ok();
    for (const auto& [other_sku, other] : *history) {
      if (&other != &item && other.Has(kind)) delta.AddPair(item.product, other.product, kind);
    }
    item.Set(kind);
    item.changed = true;
    delta.AddProduct(item.product, kind);
    ++(kind == EventKind::kPurchase ? update.purchases : update.views);
    return Status::Ok();
  }

  Status WriteHistories(Database& db, BatchDelta& delta) {
    for (const auto& [customer, history] : delta.histories()) {
      for (const auto& [sku, item] : history) {
        if (!item.changed) continue;
        RETURN_IF_ERROR(db.Exec(
            "INSERT INTO reco_customer_items (customer, sku, bought, viewed) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (customer, sku) DO UPDATE SET bought = excluded.bought, "
            "viewed = excluded.viewed",
            {customer, sku, int64_t{item.bought}, int64_t{item.viewed}}));
      }
    }
    return Status::Ok();
  }

  Status WriteProducts(Database& db, const BatchDelta& delta) {
    for (int id : delta.changed_products()) {
      const CustomerCounts& c = delta.products()[id];
      RETURN_IF_ERROR(db.Exec(
          "INSERT INTO reco_products (sku, buyers, viewers) VALUES (?, ?, ?) "
          "ON CONFLICT (sku) DO UPDATE SET buyers = reco_products.buyers + excluded.buyers, "
          "viewers = reco_products.viewers + excluded.viewers",
          {delta.Sku(id), c.bought, c.viewed}));
    }
    return Status::Ok();
  }

  // Writes the pairs' increments; returns the products they name.
  Result<std::set<std::string>> WritePairs(Database& db, const BatchDelta& delta,
                                           RecommendationUpdate& update) {
    std::set<std::string> touched;
    for (const auto& [pair, c] : delta.SortedPairs()) {
      RETURN_IF_ERROR(
          db.Exec("INSERT INTO reco_pairs (a, b, bought, viewed) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (a, b) DO UPDATE SET bought = reco_pairs.bought + excluded.bought, "
                  "viewed = reco_pairs.viewed + excluded.viewed",
                  {delta.Sku(pair.first), delta.Sku(pair.second), c.bought, c.viewed}));
      touched.insert(delta.Sku(pair.first));
      ++update.pairs_changed;
    }
    return touched;
  }

  // Replaces `sku`'s neighbour list with its best kept_per_product pairs by cosine similarity.
  Status Rank(Database& db, const std::string& sku) {
    ASSIGN_OR_RETURN(auto rows,
                     db.Query("SELECT p.b, p.bought, p.viewed, ra.buyers, ra.viewers, rb.buyers, "
                              "rb.viewers FROM reco_pairs p "
                              "JOIN reco_products ra ON ra.sku = p.a "
                              "JOIN reco_products rb ON rb.sku = p.b WHERE p.a = ?",
                              {sku}));
    const int64_t pw = options_.purchase_weight, vw = options_.view_weight;
    std::vector<ScoredProduct> scored;
    scored.reserve(rows.size());
    for (const SqlRow& row : rows) {
      const int64_t w = pw * row.Int(1) + vw * row.Int(2);
      const int64_t na = pw * row.Int(3) + vw * row.Int(4);
      const int64_t nb = pw * row.Int(5) + vw * row.Int(6);
      if (w <= 0 || na <= 0 || nb <= 0) continue;
      scored.push_back({row.Text(0), static_cast<double>(w) / std::sqrt(static_cast<double>(na) *
                                                                        static_cast<double>(nb))});
    }
    const size_t kept = std::min(scored.size(), static_cast<size_t>(options_.kept_per_product));
    std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(kept), scored.end(),
                      RankedBefore);
    RETURN_IF_ERROR(db.Exec("DELETE FROM reco_neighbours WHERE sku = ?", {sku}));
    for (size_t i = 0; i < kept; ++i) {
      RETURN_IF_ERROR(
          db.Exec("INSERT INTO reco_neighbours (sku, place, other, score) VALUES (?, ?, ?, ?)",
                  {sku, static_cast<int64_t>(i), scored[i].sku, scored[i].score}));
    }
    return Status::Ok();
  }

  Database& db_;
  const RecommenderOptions options_;
};

Recommender::Recommender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Recommender::~Recommender() = default;

Result<std::unique_ptr<Recommender>> Recommender::Open(Env& env, Database& db,
                                                       RecommenderOptions options) {
  (void)env;  // the model holds no times nor files (yet): the events' times are not used
  if (options.purchase_weight < 1 || options.purchase_weight > kMaxWeight) {
    return Status::InvalidArgument("recommendations: purchase_weight is " +
                                   std::to_string(options.purchase_weight) + "; it must be 1 to " +
                                   std::to_string(kMaxWeight));
  }
  if (options.view_weight < 0 || options.view_weight > kMaxWeight) {
    return Status::InvalidArgument("recommendations: view_weight is " +
                                   std::to_string(options.view_weight) + "; it must be 0 to " +
                                   std::to_string(kMaxWeight) + " (0 leaves views out)");
  }
  if (options.kept_per_product < 1 || options.kept_per_product > kMaxKeptPerProduct) {
    return Status::InvalidArgument("recommendations: kept_per_product is " +
                                   std::to_string(options.kept_per_product) + "; it must be 1 to " +
                                   std::to_string(kMaxKeptPerProduct));
  }
  RETURN_IF_ERROR(Migrate(db, "recommendations", RecommendationMigrations()));
  return std::unique_ptr<Recommender>(new Recommender(std::make_unique<Impl>(db, options)));
}

Result<RecommendationUpdate> Recommender::Add(const RecommendationBatch& batch) {
  return impl_->Add(batch);
}
Result<std::string> Recommender::Cursor(std::string_view name) { return impl_->Cursor(name); }
Result<std::vector<ScoredProduct>> Recommender::AlsoBought(std::string_view sku, size_t limit,
                                                           const ProductFilter& available) {
  return impl_->AlsoBought(sku, limit, available);
}
Result<std::map<std::string, std::vector<ScoredProduct>>> Recommender::AllAlsoBought(
    size_t limit, const ProductFilter& available) {
  return impl_->AllAlsoBought(limit, available);
}
Result<std::vector<ScoredProduct>> Recommender::ForCustomer(std::string_view customer, size_t limit,
                                                            const ProductFilter& available) {
  return impl_->ForCustomer(customer, limit, available);
}
Result<std::vector<ScoredProduct>> Recommender::Popular(size_t limit,
                                                        const ProductFilter& available) {
  return impl_->PopularExcept(limit, available, {});
}
Status Recommender::ForgetCustomer(std::string_view customer) {
  return impl_->ForgetCustomer(customer);
}

}  // namespace tieup::users

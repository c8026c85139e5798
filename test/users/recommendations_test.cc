#include "users/recommendations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "store/database.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::users {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

// A product as a query returns it, for comparing with expected lists.
MATCHER_P2(Scored, sku, score, "is " + std::string(sku) + " scored " + std::to_string(score)) {
  *result_listener << "is " << arg.sku << " scored " << arg.score;
  return arg.sku == sku && std::abs(arg.score - score) < 1e-12;
}

std::vector<std::string> Skus(const std::vector<ScoredProduct>& products) {
  std::vector<std::string> out;
  for (const ScoredProduct& p : products) out.push_back(p.sku);
  return out;
}

// Lists compared exactly: the same integers through the same formula give the same doubles.
void ExpectSameLists(const std::map<std::string, std::vector<ScoredProduct>>& x,
                     const std::map<std::string, std::vector<ScoredProduct>>& y) {
  ASSERT_EQ(x.size(), y.size());
  for (const auto& [sku, list] : x) {
    ASSERT_TRUE(y.contains(sku)) << sku;
    ASSERT_EQ(Skus(list), Skus(y.at(sku))) << sku;
    for (size_t i = 0; i < list.size(); ++i) EXPECT_EQ(list[i].score, y.at(sku)[i].score) << sku;
  }
}

void ExpectSameProducts(const std::vector<ScoredProduct>& x, const std::vector<ScoredProduct>& y) {
  ASSERT_EQ(Skus(x), Skus(y));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i].score, y[i].score) << x[i].sku;
}

const ProductFilter kAll = [](std::string_view) { return true; };

ProductFilter AllBut(std::set<std::string> sold_out) {
  return [sold_out = std::move(sold_out)](std::string_view sku) {
    return !sold_out.contains(std::string(sku));
  };
}

void Buy(RecommendationBatch& batch, const std::string& customer,
         const std::vector<std::string>& skus) {
  for (const std::string& sku : skus) batch.purchases.push_back({customer, sku, 0});
}

void View(RecommendationBatch& batch, const std::string& customer,
          const std::vector<std::string>& skus) {
  for (const std::string& sku : skus) batch.views.push_back({customer, sku, 0});
}

// Two clusters, {a1, a2, a3} and {b1, b2}, and one customer buying across them. Buyers: a1 4
// (c1 c2 c3 c6), a2 2, a3 2, b1 3 (c4 c5 c6), b2 2. Customers who bought both: a1-a2 2, a1-a3 2,
// a2-a3 1, b1-b2 2, a1-b1 1. With purchases only the weight cancels out of the cosine:
// count(a, b) / sqrt(buyers(a) * buyers(b)).
RecommendationBatch Planted() {
  RecommendationBatch batch;
  Buy(batch, "c1", {"a1", "a2", "a3"});
  Buy(batch, "c2", {"a1", "a2"});
  Buy(batch, "c3", {"a1", "a3"});
  Buy(batch, "c4", {"b1", "b2"});
  Buy(batch, "c5", {"b2", "b1"});
  Buy(batch, "c6", {"a1", "b1"});
  return batch;
}

// Forwards to a real database, failing the statement numbered `fail_at` (counted from 1), for
// the failure of an update at each of its steps.
class FaultyDatabase final : public Database {
 public:
  explicit FaultyDatabase(Database& db) : db_(db) {}
  void FailAt(int n) {
    fail_at_ = n;
    count_ = 0;
  }
  bool failed() const { return failed_; }

  Status Exec(std::string_view sql, const std::vector<SqlValue>& params) override {
    RETURN_IF_ERROR(Step());
    return db_.Exec(sql, params);
  }
  Result<std::vector<SqlRow>> Query(std::string_view sql,
                                    const std::vector<SqlValue>& params) override {
    RETURN_IF_ERROR(Step());
    return db_.Query(sql, params);
  }
  int64_t LastInsertId() override { return db_.LastInsertId(); }
  int64_t ChangedRows() override { return db_.ChangedRows(); }
  Status Transaction(const std::function<Status(Database&)>& body) override {
    return db_.Transaction([&](Database&) { return body(*this); });
  }
  std::string_view Backend() const override { return db_.Backend(); }

 private:
  Status Step() {
    failed_ = ++count_ == fail_at_;
    return failed_ ? Status::IOError("injected failure") : Status::Ok();
  }

  Database& db_;
  int fail_at_ = 0;
  int count_ = 0;
  bool failed_ = false;
};

class RecommenderTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = OpenDatabase("tieup.db"); }

  std::unique_ptr<Database> OpenDatabase(const std::string& name) {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub(name));
    EXPECT_THAT(db, IsOk());
    return db.ok() ? std::move(*db) : nullptr;
  }

  std::unique_ptr<Recommender> Open(Database& db, RecommenderOptions options = {}) {
    auto r = Recommender::Open(env_, db, options);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? std::move(*r) : nullptr;
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(RecommenderTest, AlsoBoughtRanksTheClusterFirstByCosine) {
  auto r = Open(*db_);
  ASSERT_TRUE(r);
  auto update = r->Add(Planted());
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->purchases, 13);
  EXPECT_EQ(update->views, 0);
  EXPECT_EQ(update->pairs_changed, 10);  // 5 pairs, both ways
  EXPECT_EQ(update->products_ranked, 5);

  // a2 and a3 tie (2 / sqrt(4 * 2)): by SKU.
  EXPECT_THAT(*r->AlsoBought("a1", 10, kAll),
              ElementsAre(Scored("a2", 2 / std::sqrt(8.0)), Scored("a3", 2 / std::sqrt(8.0)),
                          Scored("b1", 1 / std::sqrt(12.0))));
  EXPECT_THAT(*r->AlsoBought("a2", 10, kAll),
              ElementsAre(Scored("a1", 2 / std::sqrt(8.0)), Scored("a3", 1 / std::sqrt(4.0))));
  EXPECT_THAT(*r->AlsoBought("b1", 10, kAll),
              ElementsAre(Scored("b2", 2 / std::sqrt(6.0)), Scored("a1", 1 / std::sqrt(12.0))));
  EXPECT_THAT(*r->AlsoBought("b2", 10, kAll), ElementsAre(Scored("b1", 2 / std::sqrt(6.0))));
  // At most `limit`; nothing for a product nobody bought.
  EXPECT_THAT(Skus(*r->AlsoBought("a1", 2, kAll)), ElementsAre("a2", "a3"));
  EXPECT_THAT(*r->AlsoBought("zz", 10, kAll), ElementsAre());
  EXPECT_THAT(*r->AlsoBought("a1", 0, kAll), ElementsAre());

  // The catalog's read: the same lists for every product.
  auto all = r->AllAlsoBought(2, kAll);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_THAT(all->at("a1"),
              ElementsAre(Scored("a2", 2 / std::sqrt(8.0)), Scored("a3", 2 / std::sqrt(8.0))));
  EXPECT_THAT(all->at("a3"),
              ElementsAre(Scored("a1", 2 / std::sqrt(8.0)), Scored("a2", 1 / std::sqrt(4.0))));
  EXPECT_THAT(all->at("b2"), ElementsAre(Scored("b1", 2 / std::sqrt(6.0))));

  // Popular: 4 * buyers; a2, a3 and b2 tie at 8.
  EXPECT_THAT(*r->Popular(10, kAll),
              ElementsAre(Scored("a1", 16), Scored("b1", 12), Scored("a2", 8), Scored("a3", 8),
                          Scored("b2", 8)));
}

TEST_F(RecommenderTest, KeepsOnlyKeptPerProductNeighbours) {
  RecommenderOptions o;
  o.kept_per_product = 1;
  auto r = Open(*db_, o);
  ASSERT_TRUE(r);
  ASSERT_THAT(r->Add(Planted()), IsOk());
  EXPECT_THAT(*r->AlsoBought("a1", 10, kAll), ElementsAre(Scored("a2", 2 / std::sqrt(8.0))));
  // a1's only kept neighbour sold out: nothing, never a product beyond the kept list.
  EXPECT_THAT(*r->AlsoBought("a1", 10, AllBut({"a2"})), ElementsAre());
}

TEST_F(RecommenderTest, ForCustomerSumsNeighboursSkipsPurchasesAndFillsWithPopular) {
  auto r = Open(*db_);
  ASSERT_TRUE(r);
  ASSERT_THAT(r->Add(Planted()), IsOk());
  // c2 bought a1 (n = 4 * 4 buyers = 16) and a2 (n = 8): each one's neighbours count 4 / n.
  // a3 from both (4 / 16 * 2 / sqrt 8 + 4 / 8 * 1 / sqrt 4), b1 from a1; then the most popular of
  // the rest (b2), scored 0. Only 5 products exist: 3 of the 4 asked for.
  EXPECT_THAT(*r->ForCustomer("c2", 4, kAll),
              ElementsAre(Scored("a3", 4.0 / 16 * (2 / std::sqrt(8.0)) + 4.0 / 8 * 0.5),
                          Scored("b1", 4.0 / 16 * (1 / std::sqrt(12.0))), Scored("b2", 0)));
  EXPECT_THAT(Skus(*r->ForCustomer("c2", 1, kAll)), ElementsAre("a3"));
  // A customer the model does not know: Popular.
  EXPECT_THAT(*r->ForCustomer("stranger", 2, kAll), ElementsAre(Scored("a1", 0), Scored("b1", 0)));
  // c1 bought the whole first cluster: b1 (a neighbour of a1), then b2 (popular).
  EXPECT_THAT(*r->ForCustomer("c1", 5, kAll),
              ElementsAre(Scored("b1", 4.0 / 16 * (1 / std::sqrt(12.0))), Scored("b2", 0)));
  EXPECT_THAT(r->ForCustomer("", 5, kAll), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(*r->ForCustomer("c2", 0, kAll), ElementsAre());
}

TEST_F(RecommenderTest, ViewsWeighLessAndOnlyTouchedListsAreRankedAgain) {
  auto r = Open(*db_);  // purchase_weight 4, view_weight 1
  ASSERT_TRUE(r);
  ASSERT_THAT(r->Add(Planted()), IsOk());
  RecommendationBatch views;
  View(views, "v1", {"a2", "b2", "a2"});
  auto update = r->Add(views);
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->views, 2);
  EXPECT_EQ(update->pairs_changed, 2);
  EXPECT_EQ(update->products_ranked, 2);  // a2 and b2
  // n(a2) = 4 * 2 + 1 = 9, n(b2) = 9; w(a2, b2) = 1 (one viewer of both).
  EXPECT_THAT(*r->AlsoBought("a2", 10, kAll), ElementsAre(Scored("a1", 8 / std::sqrt(16.0 * 9)),
                                                          Scored("a3", 4 / std::sqrt(9.0 * 8)),
                                                          Scored("b2", 1 / std::sqrt(9.0 * 9))));
  EXPECT_THAT(*r->AlsoBought("b2", 10, kAll),
              ElementsAre(Scored("b1", 8 / std::sqrt(12.0 * 9)), Scored("a2", 1.0 / 9)));
  // The documented approximation: a1's pairs did not change, so its list keeps a2's score from
  // before n(a2) grew (8 / sqrt(16 * 8), not 8 / sqrt(16 * 9)).
  EXPECT_THAT(*r->AlsoBought("a1", 1, kAll), ElementsAre(Scored("a2", 2 / std::sqrt(8.0))));
  // Viewed but not bought: still recommended; each viewed product's neighbours weigh 1 / n:
  // 1 / 9 for both a2 and b2.
  EXPECT_THAT(*r->ForCustomer("v1", 5, kAll),
              ElementsAre(Scored("b1", 1.0 / 9 * (8 / std::sqrt(12.0 * 9))),
                          Scored("a1", 1.0 / 9 * (8 / std::sqrt(16.0 * 9))),
                          Scored("a3", 1.0 / 9 * (4 / std::sqrt(9.0 * 8))),
                          Scored("a2", 1.0 / 9 * (1.0 / 9)), Scored("b2", 1.0 / 9 * (1.0 / 9))));
  // Popular counts viewers with their weight.
  EXPECT_THAT(*r->Popular(3, kAll),
              ElementsAre(Scored("a1", 16), Scored("b1", 12), Scored("a2", 9)));
}

TEST_F(RecommenderTest, SoldOutProductsTheProductItselfAndPurchasesAreNeverReturned) {
  auto r = Open(*db_);
  ASSERT_TRUE(r);
  ASSERT_THAT(r->Add(Planted()), IsOk());
  const ProductFilter no_a3_b2 = AllBut({"a3", "b2"});
  EXPECT_THAT(*r->AlsoBought("a1", 10, no_a3_b2),
              ElementsAre(Scored("a2", 2 / std::sqrt(8.0)), Scored("b1", 1 / std::sqrt(12.0))));
  // A sold-out product's own page still shows what goes with it.
  EXPECT_THAT(Skus(*r->AlsoBought("a3", 10, no_a3_b2)), ElementsAre("a1", "a2"));
  auto all = r->AllAlsoBought(10, no_a3_b2);
  ASSERT_THAT(all, IsOk());
  for (const auto& [sku, list] : *all) {
    for (const ScoredProduct& p : list) {
      EXPECT_NE(p.sku, "a3");
      EXPECT_NE(p.sku, "b2");
      EXPECT_NE(p.sku, sku);
    }
  }
  EXPECT_THAT(Skus(all->at("b1")), ElementsAre("a1"));
  EXPECT_THAT(Skus(all->at("a3")), ElementsAre("a1", "a2"));
  // b2's only neighbour is b1: with b1 sold out b2 has no list at all.
  auto without_b1 = r->AllAlsoBought(10, AllBut({"b1"}));
  ASSERT_THAT(without_b1, IsOk());
  EXPECT_FALSE(without_b1->contains("b2"));
  EXPECT_THAT(Skus(without_b1->at("a1")), ElementsAre("a2", "a3"));

  EXPECT_THAT(Skus(*r->Popular(10, no_a3_b2)), ElementsAre("a1", "b1", "a2"));
  // c2 (bought a1, a2): a3 and b2 sold out: b1 only; the fill-up finds nothing else.
  EXPECT_THAT(Skus(*r->ForCustomer("c2", 5, no_a3_b2)), ElementsAre("b1"));
  // c4 (bought b1, b2): a1 (b1's neighbour; n(b1) = 12), then the popular ones c4 did not buy.
  EXPECT_THAT(*r->ForCustomer("c4", 5, AllBut({"a3"})),
              ElementsAre(Scored("a1", 4.0 / 12 * (1 / std::sqrt(12.0))), Scored("a2", 0)));
  // Nothing available: nothing from any query.
  const ProductFilter none = [](std::string_view) { return false; };
  EXPECT_THAT(*r->AlsoBought("a1", 10, none), ElementsAre());
  EXPECT_TRUE(r->AllAlsoBought(10, none)->empty());
  EXPECT_THAT(*r->ForCustomer("c2", 5, none), ElementsAre());
  EXPECT_THAT(*r->Popular(5, none), ElementsAre());
  // An empty filter accepts everything.
  EXPECT_THAT(Skus(*r->Popular(2, nullptr)), ElementsAre("a1", "b1"));
}

TEST_F(RecommenderTest, RepeatedEventsCountOnce) {
  auto r = Open(*db_);
  ASSERT_TRUE(r);
  RecommendationBatch first;
  Buy(first, "c1", {"x1", "x2", "x1"});
  Buy(first, "c2", {"x1", "x3"});
  View(first, "c1", {"x2", "x2"});
  auto update = r->Add(first);
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->purchases, 4);
  EXPECT_EQ(update->views, 1);
  // x1: 2 buyers, x2: 1 buyer and 1 viewer, x3: 1 buyer.
  EXPECT_THAT(*r->Popular(5, kAll), ElementsAre(Scored("x1", 8), Scored("x2", 5), Scored("x3", 4)));
  const auto before = *r->AllAlsoBought(10, kAll);
  ASSERT_EQ(before.size(), 3u);
  EXPECT_THAT(before.at("x1"), ElementsAre(Scored("x3", 4 / std::sqrt(8.0 * 4)),
                                           Scored("x2", 4 / std::sqrt(8.0 * 5))));

  // The same events again, in a later batch: nothing new, nothing ranked again.
  RecommendationBatch again;
  Buy(again, "c1", {"x2", "x1"});
  Buy(again, "c2", {"x3"});
  View(again, "c1", {"x2"});
  update = r->Add(again);
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->purchases, 0);
  EXPECT_EQ(update->views, 0);
  EXPECT_EQ(update->pairs_changed, 0);
  EXPECT_EQ(update->products_ranked, 0);
  EXPECT_THAT(Skus(*r->Popular(5, kAll)), ElementsAre("x1", "x2", "x3"));
  EXPECT_EQ(r->Popular(1, kAll)->at(0).score, 8);
  ExpectSameLists(*r->AllAlsoBought(10, kAll), before);
}

// A deterministic mixed history: 12 products, 20 customers, purchases and views.
RecommendationBatch Mixed() {
  RecommendationBatch batch;
  uint32_t x = 12345;
  auto next = [&x](uint32_t n) {
    x = x * 1103515245u + 12345u;
    return (x >> 16) % n;
  };
  for (int i = 0; i < 120; ++i) {
    const std::string customer = "cust" + std::to_string(next(20));
    const std::string sku = "p" + std::to_string(next(12));
    if (next(3) == 0) {
      batch.views.push_back({customer, sku, i});
    } else {
      batch.purchases.push_back({customer, sku, i});
    }
  }
  return batch;
}

TEST_F(RecommenderTest, IncrementalUpdatesEqualOneBatch) {
  // Neighbour lists are ranked again only for the products a batch touched (a product whose pairs
  // did not change keeps the scores it had, although a neighbour's count may have grown since). So
  // the comparison is made after a last batch that touches every product: a new customer who buys
  // all of them changes every product's count and every pair. Lists are then exact on both sides,
  // and equal iff the pair and product counts are: what the many small updates must get right.
  const RecommendationBatch mixed = Mixed();
  RecommendationBatch last;
  for (int p = 0; p < 12; ++p) Buy(last, "everything", {"p" + std::to_string(p)});

  auto batch_db = OpenDatabase("batch.db");
  auto batch = Open(*batch_db);
  ASSERT_TRUE(batch);
  RecommendationBatch all = mixed;
  all.purchases.insert(all.purchases.end(), last.purchases.begin(), last.purchases.end());
  ASSERT_THAT(batch->Add(all), IsOk());

  auto small = Open(*db_);
  ASSERT_TRUE(small);
  // One event per update, purchases and views interleaved.
  for (size_t i = 0; i < std::max(mixed.purchases.size(), mixed.views.size()); ++i) {
    RecommendationBatch one;
    if (i < mixed.purchases.size()) one.purchases.push_back(mixed.purchases[i]);
    if (i < mixed.views.size()) one.views.push_back(mixed.views[i]);
    ASSERT_THAT(small->Add(one), IsOk());
  }
  ASSERT_THAT(small->Add(last), IsOk());

  const auto expected = *batch->AllAlsoBought(200, kAll);
  ASSERT_EQ(expected.size(), 12u);
  ExpectSameLists(*small->AllAlsoBought(200, kAll), expected);
  ExpectSameProducts(*small->Popular(12, kAll), *batch->Popular(12, kAll));
  for (int c = 0; c < 20; ++c) {
    const std::string customer = "cust" + std::to_string(c);
    const auto x = *small->ForCustomer(customer, 5, kAll);
    const auto y = *batch->ForCustomer(customer, 5, kAll);
    EXPECT_EQ(Skus(x), Skus(y)) << customer;
  }
}

TEST_F(RecommenderTest, CursorsCommitWithTheBatchAndABadEventWritesNothing) {
  auto r = Open(*db_);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->Cursor("orders"), "");
  RecommendationBatch first = Planted();
  first.cursors = {{"orders", "ord-000042"}, {"access", "log:7:1200"}};
  ASSERT_THAT(r->Add(first), IsOk());
  EXPECT_EQ(*r->Cursor("orders"), "ord-000042");
  EXPECT_EQ(*r->Cursor("access"), "log:7:1200");
  const auto lists = *r->AllAlsoBought(10, kAll);
  const auto popular = *r->Popular(10, kAll);

  auto refused = [&](RecommendationBatch batch, const std::string& message) {
    batch.cursors = {{"orders", "ord-000043"}};
    EXPECT_THAT(r->Add(batch), StatusIs(StatusCode::kInvalidArgument, HasSubstr(message)));
    EXPECT_EQ(*r->Cursor("orders"), "ord-000042");
    ExpectSameLists(*r->AllAlsoBought(10, kAll), lists);
    ExpectSameProducts(*r->Popular(10, kAll), popular);
    // c9 is still unknown: the popular products, unchanged.
    EXPECT_EQ(Skus(*r->ForCustomer("c9", 10, kAll)), Skus(popular));
  };
  // Good events first, then a bad one: none of them counts.
  RecommendationBatch bad_sku;
  Buy(bad_sku, "c9", {"a1", "a2", "b1", "new"});
  Buy(bad_sku, "c9", {"no spaces"});
  refused(bad_sku, "purchase event 4 of the batch: SKU 'no spaces'");
  RecommendationBatch bad_view;
  Buy(bad_view, "c9", {"a1", "a2"});
  View(bad_view, "c9", {"a3", "-dash"});
  refused(bad_view, "view event 1 of the batch: SKU '-dash'");
  RecommendationBatch empty_customer;
  Buy(empty_customer, "c9", {"a1"});
  Buy(empty_customer, "", {"a2"});
  refused(empty_customer, "purchase event 1 of the batch: the customer key is 0 bytes long");
  RecommendationBatch long_customer;
  Buy(long_customer, std::string(129, 'k'), {"a2"});
  refused(long_customer, "129 bytes long; it must be 1 to 128");
  RecommendationBatch not_text;
  Buy(not_text, std::string("c\0d", 3), {"a2"});
  refused(not_text, "not text");
  RecommendationBatch bad_cursor = Planted();
  bad_cursor.cursors = {{"", "x"}};
  EXPECT_THAT(r->Add(bad_cursor), StatusIs(StatusCode::kInvalidArgument, HasSubstr("cursor")));
  EXPECT_EQ(*r->Cursor("orders"), "ord-000042");

  // 128 bytes is fine; the cursor moves with the batch that is accepted.
  RecommendationBatch good;
  Buy(good, std::string(128, 'k'), {"a2"});
  good.cursors = {{"orders", "ord-000043"}};
  ASSERT_THAT(r->Add(good), IsOk());
  EXPECT_EQ(*r->Cursor("orders"), "ord-000043");
  EXPECT_EQ(*r->Cursor("access"), "log:7:1200");
  // a2 has 3 buyers now: it ties with b1 at 12, and comes first by SKU.
  EXPECT_THAT(*r->Popular(3, kAll),
              ElementsAre(Scored("a1", 16), Scored("a2", 12), Scored("b1", 12)));
}

TEST_F(RecommenderTest, ForgottenCustomersPurchasesNoLongerPair) {
  auto r = Open(*db_);
  ASSERT_TRUE(r);
  RecommendationBatch first;
  Buy(first, "gone", {"x1", "x2"});
  Buy(first, "other", {"x1", "x2"});
  ASSERT_THAT(r->Add(first), IsOk());
  ASSERT_THAT(r->ForgetCustomer("gone"), IsOk());
  // The pair counts stay (anonymous aggregates).
  EXPECT_THAT(*r->AlsoBought("x1", 5, kAll), ElementsAre(Scored("x2", 1)));
  // What "gone" bought is forgotten: a new purchase under the same key pairs with nothing, and
  // x1 and x2 may be suggested to the key again.
  RecommendationBatch later;
  Buy(later, "gone", {"x3"});
  auto update = r->Add(later);
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->purchases, 1);
  EXPECT_EQ(update->pairs_changed, 0);
  EXPECT_THAT(*r->AlsoBought("x3", 5, kAll), ElementsAre());
  EXPECT_THAT(*r->AlsoBought("x1", 5, kAll), ElementsAre(Scored("x2", 1)));
  EXPECT_THAT(Skus(*r->ForCustomer("gone", 5, kAll)), ElementsAre("x1", "x2"));
  // Buying x1 again under the key counts it again (a new customer, as far as the model knows).
  RecommendationBatch again;
  Buy(again, "gone", {"x1"});
  update = r->Add(again);
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->purchases, 1);
  EXPECT_EQ(update->pairs_changed, 2);  // (x1, x3) both ways
  EXPECT_THAT(*r->AlsoBought("x3", 5, kAll), ElementsAre(Scored("x1", 4 / std::sqrt(12.0 * 4))));
  // Forgetting an unknown key is fine; an invalid one is refused.
  EXPECT_THAT(r->ForgetCustomer("nobody"), IsOk());
  EXPECT_THAT(r->ForgetCustomer(""), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(RecommenderTest, OptionsOutOfRangeAreRefused) {
  auto refused = [&](RecommenderOptions o, const std::string& what) {
    EXPECT_THAT(Recommender::Open(env_, *db_, o),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(what)));
  };
  RecommenderOptions o;
  o.purchase_weight = 0;
  refused(o, "purchase_weight is 0; it must be 1 to 1000000");
  o.purchase_weight = 1'000'001;
  refused(o, "purchase_weight");
  o = {};
  o.view_weight = -1;
  refused(o, "view_weight is -1");
  o.view_weight = 1'000'001;
  refused(o, "view_weight");
  o = {};
  o.kept_per_product = 0;
  refused(o, "kept_per_product is 0; it must be 1 to 200");
  o.kept_per_product = 201;
  refused(o, "kept_per_product is 201");
  // Nothing was made by the refused calls; the bounds themselves are accepted.
  EXPECT_FALSE(*TableExists(*db_, "reco_pairs"));
  o = {};
  o.purchase_weight = 1'000'000;
  o.view_weight = 0;
  o.kept_per_product = 200;
  EXPECT_THAT(Recommender::Open(env_, *db_, o), IsOk());
  EXPECT_TRUE(*TableExists(*db_, "reco_pairs"));
}

TEST_F(RecommenderTest, ViewWeightZeroLeavesViewsOut) {
  RecommenderOptions o;
  o.view_weight = 0;
  auto r = Open(*db_, o);
  ASSERT_TRUE(r);
  RecommendationBatch batch = Planted();
  View(batch, "v1", {"a2", "b2"});
  View(batch, "v2", {"z1", "z2"});
  ASSERT_THAT(r->Add(batch), IsOk());
  EXPECT_THAT(Skus(*r->AlsoBought("b2", 5, kAll)), ElementsAre("b1"));
  EXPECT_THAT(*r->AlsoBought("z1", 5, kAll), ElementsAre());
  EXPECT_THAT(Skus(*r->Popular(10, kAll)), ElementsAre("a1", "b1", "a2", "a3", "b2"));
  // The model persists: a second Recommender on the same database reads the same lists.
  auto reopened = Open(*db_, o);
  ASSERT_TRUE(reopened);
  EXPECT_THAT(*reopened->AlsoBought("a1", 10, kAll),
              ElementsAre(Scored("a2", 2 / std::sqrt(8.0)), Scored("a3", 2 / std::sqrt(8.0)),
                          Scored("b1", 1 / std::sqrt(12.0))));
}

TEST_F(RecommenderTest, AFailureAtAnyStepOfAnUpdateWritesNothing) {
  FaultyDatabase faulty(*db_);
  auto r = Open(faulty);
  ASSERT_TRUE(r);
  RecommendationBatch first = Planted();
  first.cursors = {{"orders", "1"}};
  ASSERT_THAT(r->Add(first), IsOk());
  const auto lists = *r->AllAlsoBought(10, kAll);
  const auto popular = *r->Popular(10, kAll);
  RecommendationBatch next;
  Buy(next, "c2", {"a3", "b2"});
  Buy(next, "c7", {"a2", "b2"});
  View(next, "c7", {"a1", "b1"});
  next.cursors = {{"orders", "2"}};
  int step = 1;
  for (;; ++step) {
    faulty.FailAt(step);
    auto update = r->Add(next);
    faulty.FailAt(0);
    if (update.ok()) break;
    EXPECT_THAT(update, StatusIs(StatusCode::kIOError, HasSubstr("injected"))) << step;
    EXPECT_EQ(*r->Cursor("orders"), "1") << step;
    ExpectSameLists(*r->AllAlsoBought(10, kAll), lists);
    ExpectSameProducts(*r->Popular(10, kAll), popular);
    EXPECT_THAT(Skus(*r->ForCustomer("c7", 10, kAll)), ElementsAre("a1", "b1", "a2", "a3", "b2"))
        << step;
  }
  EXPECT_GT(step, 10);
  EXPECT_EQ(*r->Cursor("orders"), "2");
  EXPECT_THAT(Skus(*r->ForCustomer("c7", 5, kAll)), ElementsAre("a3", "a1", "b1"));
}

}  // namespace
}  // namespace tieup::users

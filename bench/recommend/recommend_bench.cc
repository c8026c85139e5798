// Recommender benchmark (users/recommendations.h): offline evaluation on a generated order history
// with planted co-purchase structure, and the costs of building, updating and reading the model in
// a real SQLite file. Prints one table. Usage:
//   recommend_bench [--customers N] [--products N] [--orders N] [--batch N] [--update N]
//                   [--skew S] [--validate 1] [--dir PARENT]
// Defaults: 10,000 customers, 500 products, 200,000 orders, the model built in batches of 10,000
// orders, updates of 1,000 new orders, favourite clusters drawn uniformly (skew 0), $TMPDIR or
// /tmp for the database.
//
// The history (fixed seed): products fall in clusters of 10; each customer has 1 to 3 favourite
// clusters (cluster k weighs 1/(k+1)^S: uniform by default); an order is placed by a
// customer drawn uniformly, has 1 to 3 lines, each from a favourite cluster with probability 0.7,
// else a product drawn by a global Zipf popularity (the product of rank r weighs 1/(r+1)). Each
// customer's last order is held out; the model is built from the others (purchases only) through
// Recommender::Add. Hit rate at 5: a customer is a hit when one of the 5 products suggested is in
// the held-out order; ForCustomer against the baseline, the 5 most popular products the customer
// did not buy. Beside them, what bounds any method on this history: the oracle (the 5 products not
// yet bought with the highest chance under the generator's own parameters) and the share of
// held-out orders holding any product not bought before (a product bought before is never
// suggested).
//
// --validate 1: the validation split for choosing a parameter of the model without looking at the
// test orders: each customer's last order is left out altogether, the second-to-last is held out
// and evaluated, the model is built from the rest.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/env.h"
#include "store/database.h"
#include "users/recommendations.h"

namespace tieup::users {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Row(const std::string& what, const std::string& value, const char* unit) {
  std::printf("| %-58s | %12s | %-12s |\n", what.c_str(), value.c_str(), unit);
}

std::string Num(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "recommend_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Order {
  int customer = 0;
  std::vector<int> products;
};

// Orders with planted co-purchase structure (see the file's comment), one after the other.
class OrderGenerator {
 public:
  OrderGenerator(int customers, int products, double skew)
      : customers_(customers), products_(products) {
    const int clusters = std::max(1, (products + 9) / 10);
    std::vector<double> cluster_weights;
    for (int k = 0; k < clusters; ++k) cluster_weights.push_back(std::pow(k + 1.0, -skew));
    std::discrete_distribution<int> cluster(cluster_weights.begin(), cluster_weights.end());
    std::uniform_int_distribution<int> how_many(1, 3);
    favourites_.resize(customers);
    for (auto& f : favourites_) {
      const int n = std::min(how_many(rng_), clusters);
      while (static_cast<int>(f.size()) < n) {
        const int k = cluster(rng_);
        if (std::find(f.begin(), f.end(), k) == f.end()) f.push_back(k);
      }
    }
    // Popularity ranks in a shuffled order, so that the popular products spread over clusters.
    std::vector<int> by_rank(products);
    for (int p = 0; p < products; ++p) by_rank[p] = p;
    std::shuffle(by_rank.begin(), by_rank.end(), rng_);
    std::vector<double> weights(products);
    for (int r = 0; r < products; ++r) weights[by_rank[r]] = 1.0 / (r + 1);
    popularity_ = std::discrete_distribution<int>(weights.begin(), weights.end());
  }

  // The chance that one line of `customer`'s next order is product `p` (what the generator knows
  // and a recommender can only estimate).
  double LineChance(int customer, int p) const {
    const auto& fav = favourites_[customer];
    const int k = p / 10;
    const int size = std::min(products_, k * 10 + 10) - k * 10;
    const bool favourite = std::find(fav.begin(), fav.end(), k) != fav.end();
    return (favourite ? 0.7 / static_cast<double>(fav.size()) / size : 0) +
           0.3 * popularity_.probabilities()[p];
  }

  Order Next() {
    Order o;
    o.customer = std::uniform_int_distribution<int>(0, customers_ - 1)(rng_);
    const int lines = std::uniform_int_distribution<int>(1, 3)(rng_);
    const auto& fav = favourites_[o.customer];
    for (int l = 0; l < lines; ++l) {
      if (std::bernoulli_distribution(0.7)(rng_)) {
        const int k = fav[std::uniform_int_distribution<size_t>(0, fav.size() - 1)(rng_)];
        const int first = k * 10, last = std::min(products_, first + 10) - 1;
        o.products.push_back(std::uniform_int_distribution<int>(first, last)(rng_));
      } else {
        o.products.push_back(popularity_(rng_));
      }
    }
    return o;
  }

 private:
  int customers_, products_;
  std::mt19937_64 rng_{20261206};
  std::vector<std::vector<int>> favourites_;
  std::discrete_distribution<int> popularity_;
};

std::string Sku(int p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "p%05d", p);
  return buf;
}

std::string Customer(int c) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "cust-%06d", c);
  return buf;
}

RecommendationBatch BatchOf(const std::vector<Order>& orders, size_t begin, size_t end,
                            int64_t first_time) {
  RecommendationBatch batch;
  for (size_t i = begin; i < end; ++i) {
    for (int p : orders[i].products) {
      batch.purchases.push_back(
          {Customer(orders[i].customer), Sku(p), first_time + static_cast<int64_t>(i)});
    }
  }
  batch.cursors = {{"orders", std::to_string(first_time + static_cast<int64_t>(end))}};
  return batch;
}

int Main(int argc, char** argv) {
  int customers = 10'000, products = 500, orders = 200'000, batch_size = 10'000, update = 1'000;
  double skew = 0;
  bool validate = false;
  std::string parent = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int n = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--customers") {
      customers = n;
    } else if (flag == "--products") {
      products = n;
    } else if (flag == "--orders") {
      orders = n;
    } else if (flag == "--batch") {
      batch_size = n;
    } else if (flag == "--update") {
      update = n;
    } else if (flag == "--skew") {
      skew = std::atof(argv[i + 1]);
    } else if (flag == "--validate") {
      validate = n != 0;
    } else if (flag == "--dir") {
      parent = argv[i + 1];
    } else {
      std::fprintf(stderr, "recommend_bench: unknown flag %s\n", argv[i]);
      return 2;
    }
  }

  // The history, and each customer's last order held out.
  OrderGenerator gen(customers, products, skew);
  std::vector<Order> all;
  all.reserve(orders);
  for (int i = 0; i < orders; ++i) all.push_back(gen.Next());
  // With --validate 1, each customer's last order is left out altogether and the second-to-last
  // is the one held out: a split for choosing parameters without looking at the test orders.
  std::vector<int> last_order(customers, -1), dropped(customers, -1);
  for (int i = 0; i < orders; ++i) {
    if (validate) dropped[all[i].customer] = last_order[all[i].customer];
    last_order[all[i].customer] = i;
  }
  if (validate) std::swap(last_order, dropped);  // evaluate the second-to-last, drop the last
  std::vector<Order> train;
  std::vector<std::set<int>> bought(customers);
  size_t lines = 0;
  for (int i = 0; i < orders; ++i) {
    if (last_order[all[i].customer] == i || dropped[all[i].customer] == i) continue;
    train.push_back(all[i]);
    bought[all[i].customer].insert(all[i].products.begin(), all[i].products.end());
    lines += all[i].products.size();
  }

  auto env = NewPosixEnv();
  const std::string dir = parent + "/recommend_bench_" + HexEncode(RandomString(*env, 8));
  if (Status s = env->CreateDir(dir); !s.ok()) Die("making " + dir, s);
  std::unique_ptr<Database> db = Must(OpenSqlite(dir + "/tieup.db"), "opening SQLite");
  std::unique_ptr<Recommender> model = Must(Recommender::Open(*env, *db), "opening the model");
  std::printf(
      "%d customers, %d products, %d orders (%zu held out; %zu orders, %zu lines to learn "
      "from); SQLite at %s\n\n",
      customers, products, orders, all.size() - train.size(), train.size(), lines, dir.c_str());
  std::printf("| %-58s | %12s | %-12s |\n", "measure", "value", "unit");
  std::printf("|%s|%s|%s|\n", std::string(60, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str());

  // Build, a batch at a time, as a feed catching up would.
  auto build_start = Clock::now();
  double slowest = 0;
  for (size_t b = 0; b < train.size(); b += batch_size) {
    auto start = Clock::now();
    Must(model->Add(BatchOf(train, b, std::min(train.size(), b + batch_size), 0)), "building");
    slowest = std::max(slowest, Seconds(start));
  }
  Row("build from " + std::to_string(train.size()) + " orders in batches of " +
          std::to_string(batch_size),
      Num(Seconds(build_start), 1), "s");
  Row("  slowest batch", Num(slowest, 2), "s");

  // Hit rate at 5.
  const ProductFilter available = [](std::string_view) { return true; };
  const auto popular = Must(model->Popular(static_cast<size_t>(products), available), "popular");
  int evaluated = 0, hits = 0, baseline_hits = 0, oracle_hits = 0, novel = 0;
  auto eval_start = Clock::now();
  for (int c = 0; c < customers; ++c) {
    if (last_order[c] < 0) continue;
    ++evaluated;
    std::set<std::string> held_out;
    for (int p : all[last_order[c]].products) held_out.insert(Sku(p));
    novel += std::any_of(all[last_order[c]].products.begin(), all[last_order[c]].products.end(),
                         [&](int p) { return !bought[c].contains(p); });
    const auto mine = Must(model->ForCustomer(Customer(c), 5, available), "for a customer");
    hits += std::any_of(mine.begin(), mine.end(),
                        [&](const ScoredProduct& p) { return held_out.contains(p.sku); });
    // The baseline: Popular(5 + what the customer bought), without what the customer bought.
    int taken = 0;
    bool hit = false;
    for (size_t i = 0; i < popular.size() && i < 5 + bought[c].size() && taken < 5; ++i) {
      const int p = std::atoi(popular[i].sku.c_str() + 1);
      if (bought[c].contains(p)) continue;
      ++taken;
      hit = hit || held_out.contains(popular[i].sku);
    }
    baseline_hits += hit;
    // The oracle: the 5 products not yet bought with the highest true chance.
    std::vector<std::pair<double, int>> chances;
    for (int p = 0; p < products; ++p) {
      if (!bought[c].contains(p)) chances.push_back({-gen.LineChance(c, p), p});
    }
    std::partial_sort(chances.begin(), chances.begin() + std::min<size_t>(5, chances.size()),
                      chances.end());
    bool oracle_hit = false;
    for (size_t i = 0; i < 5 && i < chances.size(); ++i) {
      oracle_hit = oracle_hit || held_out.contains(Sku(chances[i].second));
    }
    oracle_hits += oracle_hit;
  }
  const double eval_s = Seconds(eval_start);
  const double rate = static_cast<double>(hits) / evaluated;
  const double baseline = static_cast<double>(baseline_hits) / evaluated;
  Row("hit rate at 5, ForCustomer (" + std::to_string(evaluated) + " customers)",
      Num(100 * rate, 1), "%");
  Row("hit rate at 5, popular not yet bought (baseline)", Num(100 * baseline, 1), "%");
  Row("hit rate at 5, oracle (the generator's true chances)",
      Num(100.0 * oracle_hits / evaluated, 1), "%");
  Row("held-out orders with a product not bought before", Num(100.0 * novel / evaluated, 1), "%");
  Row("  ratio (goal >= 2)", baseline > 0 ? Num(rate / baseline, 2) : "inf", "x");
  Row("ForCustomer(5), per call", Num(eval_s * 1e6 / evaluated, 0), "us");

  // The catalog's read.
  std::vector<double> reads;
  size_t listed = 0;
  for (int run = 0; run < 3; ++run) {
    auto start = Clock::now();
    listed = Must(model->AllAlsoBought(4, available), "all also bought").size();
    reads.push_back(Seconds(start));
  }
  Row("AllAlsoBought(4) for " + std::to_string(listed) + " products (median of 3)",
      Num(Median(reads) * 1000, 1), "ms");

  // Updates: successive batches of new orders, each in one Add.
  std::vector<double> updates;
  for (int run = 0; run < 3; ++run) {
    std::vector<Order> fresh;
    for (int i = 0; i < update; ++i) fresh.push_back(gen.Next());
    const RecommendationBatch batch = BatchOf(fresh, 0, fresh.size(), orders + run * update);
    auto start = Clock::now();
    const RecommendationUpdate u = Must(model->Add(batch), "updating");
    updates.push_back(Seconds(start));
    Row("update " + std::to_string(run + 1) + ": " + std::to_string(u.purchases) +
            " new purchases, " + std::to_string(u.pairs_changed) + " pairs, " +
            std::to_string(u.products_ranked) + " ranked",
        Num(updates.back() * 1000, 0), "ms");
  }
  Row("update of " + std::to_string(update) + " orders, median of 3 (goal < 1 s)",
      Num(Median(updates) * 1000, 0), "ms");
  model.reset();
  db.reset();  // checkpoints the WAL into the file
  const auto bytes = Must(env->FileSize(dir + "/tieup.db"), "database size");
  Row("database size", Num(static_cast<double>(bytes) / (1 << 20), 1), "MiB");
  (void)RemoveTree(*env, dir);
  return 0;
}

}  // namespace
}  // namespace tieup::users

int main(int argc, char** argv) { return tieup::users::Main(argc, argv); }

// The store interface (store/database.h) on SQLite and on PostgreSQL, side by side in one run:
// what main's central stores would pay per operation. Prints one table. Usage:
//   store_compare [--dir DIR] [--orders N] [--lookups N]
// PostgreSQL from TIEUP_BENCH_POSTGRES_URL (bench/store/run.sh sets it: a throwaway cluster on
// this machine, fsync on, Unix socket). Workloads, each on a fresh table:
//   order:   a transaction inserting one order row and 3 line rows (what a checkout writes);
//            one connection, then 2 threads with a connection each (SQLite: the same file)
//   lookup:  a point query by primary key on 10,000 orders
//   scan:    count and sum over the 10,000 orders grouped by state
// SQLite in WAL mode with synchronous FULL (the site's setting: every commit durable).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "store/database.h"

namespace tieup {
namespace {

using Clock = std::chrono::steady_clock;

struct Figures {
  double order_tx_per_s = 0, order_p50_ms = 0, order_p99_ms = 0, order2_tx_per_s = 0;
  double lookup_us = 0, scan_ms = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "store_compare: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

Status Order(Database& db, int64_t n) {
  return db.Transaction([n](Database& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("INSERT INTO orders (id, customer, state, total) VALUES (?, ?, ?, ?)",
                            {n, "customer-" + std::to_string(n % 977),
                             std::string(n % 3 == 0 ? "paid" : "placed"), int64_t{1200 + n % 50}}));
    for (int64_t line = 0; line < 3; ++line) {
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO order_lines (order_id, line, sku, quantity) VALUES "
                  "(?, ?, ?, ?)",
                  {n, line, "SKU-" + std::to_string(line), int64_t{1}}));
    }
    return Status::Ok();
  });
}

Figures Run(const std::function<Result<std::unique_ptr<Database>>()>& open, int orders,
            int lookups) {
  Figures f;
  auto db = open();
  Check(db.status(), "open");
  Database& d = **db;
  Check(d.Exec("DROP TABLE IF EXISTS order_lines; DROP TABLE IF EXISTS orders"), "drop");
  Check(d.Exec("CREATE TABLE orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, state TEXT "
               "NOT NULL, total BIGINT NOT NULL); CREATE TABLE order_lines (order_id BIGINT NOT "
               "NULL, line BIGINT NOT NULL, sku TEXT NOT NULL, quantity BIGINT NOT NULL, "
               "PRIMARY KEY (order_id, line))"),
        "create");
  std::vector<double> ms;
  const auto start = Clock::now();
  for (int i = 0; i < orders; ++i) {
    const auto t0 = Clock::now();
    Check(Order(d, i), "order");
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  f.order_tx_per_s = orders / std::chrono::duration<double>(Clock::now() - start).count();
  f.order_p50_ms = Percentile(ms, 0.5);
  f.order_p99_ms = Percentile(ms, 0.99);

  // Two writers, a connection each.
  {
    auto other = open();
    Check(other.status(), "open a second connection");
    const auto t0 = Clock::now();
    std::thread a([&] {
      for (int i = 0; i < orders / 2; ++i) Check(Order(d, orders + 2 * i), "order (thread 1)");
    });
    std::thread b([&] {
      for (int i = 0; i < orders / 2; ++i) {
        Check(Order(**other, orders + 2 * i + 1), "order (thread 2)");
      }
    });
    a.join();
    b.join();
    f.order2_tx_per_s = (orders / 2 * 2) / std::chrono::duration<double>(Clock::now() - t0).count();
  }
  // Up to 10,000 orders for the reads.
  for (int i = 2 * orders; i < 10000; ++i) Check(Order(d, i), "fill");
  const int total = std::max(10000, 2 * orders);
  {
    const auto t0 = Clock::now();
    for (int i = 0; i < lookups; ++i) {
      auto rows = d.Query("SELECT customer, state, total FROM orders WHERE id = ?",
                          {int64_t{(i * 7919) % total}});
      Check(rows.status(), "lookup");
      if (rows->size() != 1) Check(Status::Internal("lookup found no row"), "lookup");
    }
    f.lookup_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / lookups;
  }
  {
    const auto t0 = Clock::now();
    for (int i = 0; i < 20; ++i) {
      Check(d.Query("SELECT state, count(*), sum(total) FROM orders GROUP BY state").status(),
            "scan");
    }
    f.scan_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / 20;
  }
  return f;
}

}  // namespace
}  // namespace tieup

int main(int argc, char** argv) {
  using namespace tieup;
  std::string dir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  int orders = 2000, lookups = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--orders"))
      orders = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--lookups"))
      lookups = std::atoi(argv[i + 1]);
  }
  const char* url = std::getenv("TIEUP_BENCH_POSTGRES_URL");
  const std::string file = dir + "/store-compare-" + std::to_string(::getpid()) + ".db";
  const Figures sqlite = Run([&] { return OpenSqlite(file); }, orders, lookups);
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((file + suffix).c_str());
  Figures pg;
  const bool have_pg = url != nullptr && *url != '\0';
  if (have_pg) pg = Run([&] { return OpenPostgres(url); }, orders, lookups);
  std::printf(
      "| store interface, %d orders (1 order + 3 lines per transaction) | SQLite (WAL, "
      "synchronous FULL) | PostgreSQL 15 (Unix socket, fsync on) | PG / SQLite |\n",
      orders);
  std::printf("|---|---|---|---|\n");
  auto row = [&](const char* name, double a, double b, const char* unit) {
    if (have_pg) {
      std::printf("| %s | %.2f %s | %.2f %s | %.2fx |\n", name, a, unit, b, unit, b / a);
    } else {
      std::printf("| %s | %.2f %s | (no TIEUP_BENCH_POSTGRES_URL) | |\n", name, a, unit);
    }
  };
  row("order transactions, 1 connection", sqlite.order_tx_per_s, pg.order_tx_per_s, "tx/s");
  row("order transaction latency p50", sqlite.order_p50_ms, pg.order_p50_ms, "ms");
  row("order transaction latency p99", sqlite.order_p99_ms, pg.order_p99_ms, "ms");
  row("order transactions, 2 connections at once", sqlite.order2_tx_per_s, pg.order2_tx_per_s,
      "tx/s");
  row("point lookup by key (10,000 orders)", sqlite.lookup_us, pg.lookup_us, "us");
  row("count and sum by state (10,000 orders)", sqlite.scan_ms, pg.scan_ms, "ms");
  return 0;
}

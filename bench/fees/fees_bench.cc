// Fee statement benchmark: statements for many partners, each from its own ledger entries
// (aggregation + computation + CSV). Prints one table. Usage:
//   fees_bench [--partners N] [--records N] [--datasets K] [--threads T] [--dir PARENT]
// Defaults: 1000 partners, 100000 records each, 8 distinct generated datasets (partner p reads
// dataset p % K; each is ~25 MB, so together they do not fit in a CPU cache), threads 1 and
// then 2, $TMPDIR or /tmp for the on-disk log run.
//
// The entries of one partner are encoded records of November 2026 (and some of October): about
// 95% accesses with realistic paths and user agents, 2% orders, 2% ad records, 1%
// registrations, and a few content records. Entries are aggregated with verify_root off: main
// verifies entries against signed checkpoints when it receives them (ledger::LogMirror), so
// a statement does not hash them again. The cost of re-hashing (verify_root on) and of reading
// from an on-disk ledger::Log are measured on a few partners beside it.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "base/env.h"
#include "fees/contract.h"
#include "fees/inputs.h"
#include "fees/statement.h"
#include "ledger/log.h"
#include "ledger/merkle.h"
#include "ledger/records.h"

namespace tieup::fees {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Row(const char* what, const std::string& value, const char* unit) {
  std::printf("| %-62s | %14s | %-14s |\n", what, value.c_str(), unit);
}

std::string Num(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "fees_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

std::string ContractText(const std::string& partner) {
  return "partner = \"" + partner + R"("
kind = "template"
currency = "JPY"
base_fees = { link = 10000, template = 30000, contents = 50000 }
[services.security]
price = 5000
[[content_tiers]]
measure = "tieup_pages"
from = 100
fee = 2000
[[content_tiers]]
measure = "original_pages"
from = 0
fee = 4000
[[content_tiers]]
measure = "original_pages"
from = 200
fee = 1000
[access_discount]
max_percent = 30
at_original_share_percent = 50
[[volume.tiers]]
threshold_accesses = 50000
discount_percent = 5
[advertising]
pool_minor = 20000
[transactions]
percent_bp = 250
fixed_minor = 30
)";
}

std::vector<std::string> Generate(uint64_t records, uint32_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t oct1 = *ParseRfc3339("2026-10-01T00:00:00Z") * 1'000'000;
  const int64_t span = 61LL * 86'400'000'000;  // October and November
  static const char* kAgents[] = {
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0 Safari/537.36",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
      "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"};
  std::vector<int64_t> times(records);
  for (int64_t& t : times) t = oct1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
  std::sort(times.begin(), times.end());
  std::vector<std::string> out;
  out.reserve(records);
  for (uint64_t i = 0; i < records; ++i) {
    uint64_t dice = rng() % 1000;
    int64_t t = times[i];
    ledger::RecordArea area =
        rng() % 3 == 0 ? ledger::RecordArea::kOriginal : ledger::RecordArea::kTieup;
    if (i == 0 || i == records / 2) {
      out.push_back(ledger::EncodeRecord(ledger::ContentRecord{
          t, ledger::RecordArea::kTieup, i + 1, 100 + rng() % 2000, rng() % 100'000'000}));
    } else if (i == 1 || i == records / 2 + 1) {
      out.push_back(ledger::EncodeRecord(ledger::ContentRecord{
          t, ledger::RecordArea::kOriginal, i + 1, rng() % 400, rng() % 10'000'000}));
    } else if (dice < 950) {
      ledger::AccessRecord a;
      a.time_micros = t;
      a.area = area;
      a.method = "GET";
      a.path = area == ledger::RecordArea::kTieup ? "/shop/items/" + std::to_string(rng() % 5000)
                                                  : "/blog/2026/" + std::to_string(rng() % 300);
      a.status = dice < 900 ? 200 : (dice < 930 ? 304 : 404);
      a.bytes = rng() % 200'000;
      a.referer = dice % 2 ? "https://www.example.com/search?q=tieup" : "";
      a.user_agent = kAgents[rng() % 3];
      a.user_id = dice % 5 == 0 ? "u-" + std::to_string(rng() % 100000) : "";
      a.session_id = "s-" + std::to_string(rng());
      out.push_back(ledger::EncodeRecord(a));
    } else if (dice < 970) {
      out.push_back(ledger::EncodeRecord(ledger::OrderRecord{
          t, "o-" + std::to_string(i), "shop", area,
          dice == 969 ? -500 : static_cast<int64_t>(rng() % 50'000), "JPY", 1}));
    } else if (dice < 990) {
      // As the ad frames write them (site/ad_frames.h): one impression of a named ad.
      out.push_back(ledger::EncodeRecord(
          ledger::AdRecord{t, rng() % 2 ? ledger::AdOwner::kMain : ledger::AdOwner::kPartner, 1,
                           "/", 0, "ad-" + std::to_string(rng() % 8)}));
    } else {
      out.push_back(ledger::EncodeRecord(
          ledger::RegistrationRecord{t, "shop", "u-" + std::to_string(i), area}));
    }
  }
  return out;
}

struct Dataset {
  std::vector<std::string> entries;
  ledger::Checkpoint checkpoint;
};

// One partner's statement: contract, aggregation, computation, CSV. Returns the CSV size.
size_t Statement1(const Dataset& d, uint64_t partner, bool verify_root, bool html) {
  std::string id = "partner-" + std::to_string(partner);
  auto contract = ParseContract(ContractText(id), id + ".toml");
  if (!contract.ok()) Die("contract", contract.status());
  AggregationOptions options;
  options.partner = id;
  options.currency = "JPY";
  options.period = *ParsePeriod("2026-11");
  options.verify_root = verify_root;
  auto inputs = AggregateEntries(d.entries, d.checkpoint, options);
  if (!inputs.ok()) Die("aggregate", inputs.status());
  auto statement = ComputeStatement(*contract, *inputs);
  if (!statement.ok()) Die("compute", statement.status());
  size_t n = statement->ToCsv().size();
  if (html) n += statement->ToHtml().size();
  return n;
}

double RunStatements(const std::vector<Dataset>& data, uint64_t partners, int threads,
                     bool verify_root, bool html, size_t& bytes) {
  std::atomic<uint64_t> next{0};
  std::atomic<size_t> total{0};
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      size_t mine = 0;
      for (uint64_t p = next++; p < partners; p = next++) {
        mine += Statement1(data[p % data.size()], p, verify_root, html);
      }
      total += mine;
    });
  }
  for (auto& w : workers) w.join();
  bytes = total;
  return Seconds(start);
}

int Main(int argc, char** argv) {
  uint64_t partners = 1000, records = 100000, datasets = 8;
  int max_threads = 2;
  std::string parent = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--partners") {
      partners = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--records") {
      records = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--datasets") {
      datasets = std::max<uint64_t>(1, std::strtoull(argv[i + 1], nullptr, 10));
    } else if (flag == "--threads") {
      max_threads = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--dir") {
      parent = argv[i + 1];
    } else {
      std::fprintf(stderr, "fees_bench: unknown flag %s\n", argv[i]);
      return 2;
    }
  }

  auto gen_start = Clock::now();
  std::vector<Dataset> data(datasets);
  size_t entry_bytes = 0;
  for (uint64_t k = 0; k < datasets; ++k) {
    data[k].entries = Generate(records, static_cast<uint32_t>(1000 + k));
    for (const std::string& e : data[k].entries) entry_bytes += e.size();
    data[k].checkpoint = {
        "example.com/partner/access", records, ledger::RootFromEntries(data[k].entries), {}};
  }
  std::printf(
      "generated %llu datasets of %llu records (%.0f bytes per record) in %.1f s; "
      "%u hardware threads\n\n",
      static_cast<unsigned long long>(datasets), static_cast<unsigned long long>(records),
      static_cast<double>(entry_bytes) / static_cast<double>(datasets * records),
      Seconds(gen_start), std::thread::hardware_concurrency());

  std::printf("| %-62s | %14s | %-14s |\n", "measure", "value", "unit");
  std::printf("|%s|%s|%s|\n", std::string(64, '-').c_str(), std::string(16, '-').c_str(),
              std::string(16, '-').c_str());
  for (int threads = 1; threads <= max_threads; threads *= 2) {
    size_t bytes = 0;
    double s = RunStatements(data, partners, threads, false, false, bytes);
    std::string label = std::to_string(partners) + " statements x " + std::to_string(records) +
                        " records, " + std::to_string(threads) + " thread(s): total";
    Row(label.c_str(), Num(s, 2), "s");
    Row("  per statement (aggregate + compute + CSV)",
        Num(s * 1000 / static_cast<double>(partners), 2), "ms");
    Row("  records aggregated", Num(static_cast<double>(partners * records) / s / 1e6, 1),
        "M records/s");
    if (threads == 1)
      Row("  CSV bytes per statement", Num(static_cast<double>(bytes) / partners), "bytes");
  }
  {
    uint64_t n = std::min<uint64_t>(partners, 20);
    size_t bytes = 0;
    double s = RunStatements(data, n, 1, true, false, bytes);
    Row("with verify_root (re-hash every entry), 1 thread: per statement",
        Num(s * 1000 / static_cast<double>(n), 2), "ms");
    s = RunStatements(data, n, 1, false, true, bytes);
    Row("with HTML as well, 1 thread: per statement", Num(s * 1000 / static_cast<double>(n), 2),
        "ms");
  }
  {
    // One partner's ledger on disk: ledger::Log (re-checks each record's CRC on read).
    auto env = NewPosixEnv();
    std::string dir = parent + "/fees_bench_" + HexEncode(RandomString(*env, 8));
    {
      auto log = ledger::Log::Open(*env, dir);
      if (!log.ok()) Die("open", log.status());
      std::vector<std::string> batch = data[0].entries;
      auto appended = (*log)->Append(std::move(batch));
      if (!appended.ok()) Die("append", appended.status());
      ledger::TreeHead head = (*log)->Head();
      ledger::Checkpoint cp{"example.com/partner/access", head.size, head.root, {}};
      auto contract = ParseContract(ContractText("partner-0"));
      AggregationOptions options{"partner-0", "JPY", *ParsePeriod("2026-11"), {}};
      constexpr int kRuns = 5;
      auto start = Clock::now();
      for (int r = 0; r < kRuns; ++r) {
        auto in = AggregateFromLedger(**log, cp, options);
        if (!in.ok()) Die("aggregate from log", in.status());
        auto st = ComputeStatement(*contract, *in);
        if (!st.ok()) Die("compute", st.status());
        (void)st->ToCsv();
      }
      Row("from an on-disk ledger::Log, 1 thread: per statement",
          Num(Seconds(start) * 1000 / kRuns, 2), "ms");
    }
    (void)RemoveTree(*env, dir);
  }
  return 0;
}

}  // namespace
}  // namespace tieup::fees

int main(int argc, char** argv) { return tieup::fees::Main(argc, argv); }

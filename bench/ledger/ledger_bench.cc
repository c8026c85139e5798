// Ledger benchmark: durable append throughput with group commit, verification throughput, and
// proof sizes. Prints one table. Usage:
//   ledger_bench [--append N] [--verify N] [--threads T] [--dir PARENT]
//   ledger_bench --growth N    memory of a ledger growing to N entries (tiles vs in memory)
// Defaults: 200000 appended entries, 1000000 verified entries, 4 threads, $TMPDIR or /tmp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "ledger/access_log_writer.h"
#include "ledger/log.h"
#include "ledger/merkle.h"
#include "ledger/verifier.h"

namespace tieup::ledger {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A ~200-byte entry, like an encoded access record.
std::string Entry(uint64_t i) {
  std::string e = "{\"area\":\"tieup\",\"bytes\":5120,\"method\":\"GET\",\"path\":\"/shop/items/" +
                  std::to_string(i) +
                  "\",\"referer\":\"\",\"session_id\":\"s-0123456789abcdef\",\"status\":200,"
                  "\"time_micros\":1790000000000000,\"type\":\"access\",\"user_agent\":"
                  "\"Mozilla/5.0\",\"user_id\":\"\",\"v\":1}";
  e.resize(200, ' ');
  return e;
}

// This process's resident memory now, in KiB (VmRSS).
uint64_t RssKiB() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  uint64_t kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) kib = std::strtoull(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return kib;
}

// KiB of RSS gained since `base` (0 when it shrank).
uint64_t Grown(uint64_t base) {
  const uint64_t now = RssKiB();
  return now > base ? now - base : 0;
}

void Row(const char* what, const std::string& value, const char* unit) {
  std::printf("| %-62s | %16s | %-12s |\n", what, value.c_str(), unit);
}

std::string Num(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "ledger_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// Entries/s with `threads` threads each keeping up to `window` asynchronous appends in flight.
double AsyncAppendRate(Env& env, const std::string& dir, uint64_t total, int threads, int window) {
  auto log = Log::Open(env, dir);
  if (!log.ok()) Die("open", log.status());
  std::atomic<uint64_t> failures{0};
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mutex m;
      std::condition_variable cv;
      int in_flight = 0;
      for (uint64_t i = static_cast<uint64_t>(t); i < total; i += static_cast<uint64_t>(threads)) {
        {
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return in_flight < window; });
          ++in_flight;
        }
        (*log)->AppendAsync(Entry(i), [&](Result<uint64_t> r) {
          if (!r.ok()) failures.fetch_add(1);
          std::lock_guard<std::mutex> lock(m);
          --in_flight;
          cv.notify_one();
        });
      }
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return in_flight == 0; });
    });
  }
  for (auto& w : workers) w.join();
  double secs = Seconds(start);
  if (failures.load() > 0) Die("append", Status::IOError("some appends failed"));
  return static_cast<double>(total) / secs;
}

// Entries/s with `threads` threads each calling the blocking Append (one entry per call).
double BlockingAppendRate(Env& env, const std::string& dir, uint64_t total, int threads) {
  auto log = Log::Open(env, dir);
  if (!log.ok()) Die("open", log.status());
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = static_cast<uint64_t>(t); i < total; i += static_cast<uint64_t>(threads)) {
        auto r = (*log)->Append(Entry(i));
        if (!r.ok()) Die("append", r.status());
      }
    });
  }
  for (auto& w : workers) w.join();
  return static_cast<double>(total) / Seconds(start);
}

// Records/s through the AccessLogWriter (Record from `threads` threads, then Flush).
double WriterRate(Env& env, const std::string& dir, uint64_t total, int threads,
                  uint64_t* dropped) {
  auto log = Log::Open(env, dir);
  if (!log.ok()) Die("open", log.status());
  AccessLogWriterOptions options;
  options.max_queue = 1 << 20;
  AccessLogWriter writer(env, **log, std::nullopt, options);
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = static_cast<uint64_t>(t); i < total; i += static_cast<uint64_t>(threads)) {
        AccessRecord r;
        r.time_micros = 1790000000000000 + static_cast<int64_t>(i);
        r.method = "GET";
        r.path = "/shop/items/" + std::to_string(i);
        r.status = 200;
        r.bytes = 5120;
        r.user_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36";
        r.session_id = "s-0123456789abcdef";
        writer.Record(std::move(r));
      }
    });
  }
  for (auto& w : workers) w.join();
  Status s = writer.Flush();
  if (!s.ok()) Die("flush", s);
  double secs = Seconds(start);
  *dropped = writer.dropped();
  return static_cast<double>(writer.committed()) / secs;
}

// Memory while a ledger grows to `total` entries of 200 bytes, side by side: the Log (its Merkle
// tree in tiles on disk) and the in-memory MerkleTree the Log kept before (every subtree hash).
// Prints the RSS growth at every tenth.
void Growth(Env& env, const std::string& root, uint64_t total) {
  std::printf("memory while the ledger grows to %llu entries (RSS growth since the start)\n\n",
              static_cast<unsigned long long>(total));
  std::printf("| %12s | %24s | %24s |\n", "entries", "Log, tiles on disk", "in-memory MerkleTree");
  std::printf("|%s|%s|%s|\n", std::string(14, '-').c_str(), std::string(26, '-').c_str(),
              std::string(26, '-').c_str());
  std::vector<uint64_t> tiled_kib, memory_kib;
  const uint64_t step = std::max<uint64_t>(1, total / 10);
  {
    const uint64_t base = RssKiB();
    auto log = Log::Open(env, JoinPath(root, "growth"));
    if (!log.ok()) Die("open growth", log.status());
    for (uint64_t i = 0; i < total;) {
      std::vector<std::string> batch;
      for (uint64_t end = std::min(total, i + 10000); i < end; ++i) batch.push_back(Entry(i));
      auto appended = (*log)->Append(std::move(batch));
      if (!appended.ok()) Die("append growth", appended.status());
      if (i % step == 0 || i == total) {
        // A proof at the current size, as main asks for them, so the cache is in use.
        auto proof = (*log)->InclusionProof(i / 3, i);
        if (!proof.ok()) Die("growth proof", proof.status());
        tiled_kib.push_back(Grown(base));
      }
    }
  }
  {
    const uint64_t base = RssKiB();
    MerkleTree tree;
    for (uint64_t i = 0; i < total;) {
      for (uint64_t end = std::min(total, i + 10000); i < end; ++i) tree.AppendEntry(Entry(i));
      if (i % step == 0 || i == total) memory_kib.push_back(Grown(base));
    }
  }
  for (size_t k = 0; k < tiled_kib.size() && k < memory_kib.size(); ++k) {
    const uint64_t at = std::min(total, (k + 1) * step);
    std::printf("| %12llu | %20.1f MiB | %20.1f MiB |\n", static_cast<unsigned long long>(at),
                static_cast<double>(tiled_kib[k]) / 1024,
                static_cast<double>(memory_kib[k]) / 1024);
  }
  std::printf("\n");
}

int Main(int argc, char** argv) {
  uint64_t append_n = 200000;
  uint64_t growth_n = 0;
  uint64_t verify_n = 1000000;
  int threads = 4;
  const char* tmp = std::getenv("TMPDIR");
  std::string parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--append") {
      append_n = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--verify") {
      verify_n = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--threads") {
      threads = std::atoi(argv[i + 1]);
    } else if (flag == "--growth") {
      growth_n = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (flag == "--dir") {
      parent = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: ledger_bench [--append N] [--verify N] [--threads T] "
                   "[--growth N] [--dir PARENT]\n"
                   "  --growth N: only the memory of a ledger growing to N entries (the Log on "
                   "tiles beside the in-memory Merkle tree)\n");
      return 2;
    }
  }
  auto env = NewPosixEnv();
  std::string root = JoinPath(parent, "ledger-bench-" + std::to_string(env->NowMicros()));
  Status s = CreateDirs(*env, root);
  if (!s.ok()) Die("creating " + root, s);
  if (growth_n > 0) {
    Growth(*env, root, growth_n);
    s = RemoveTree(*env, root);
    if (!s.ok()) Die("cleaning up", s);
    return 0;
  }

  std::printf(
      "ledger benchmark: %llu appended entries of 200 bytes, %d threads, %llu verified "
      "entries; files in %s\n\n",
      static_cast<unsigned long long>(append_n), threads, static_cast<unsigned long long>(verify_n),
      root.c_str());
  std::printf("| %-62s | %16s | %-12s |\n", "measure", "value", "unit");
  std::printf("|%s|%s|%s|\n", std::string(64, '-').c_str(), std::string(18, '-').c_str(),
              std::string(14, '-').c_str());

  // --- appends ---
  double async_rate = AsyncAppendRate(*env, JoinPath(root, "async"), append_n, threads, 1024);
  Row(("durable appends, AppendAsync, " + std::to_string(threads) + " threads, 1024 in flight each")
          .c_str(),
      Num(async_rate), "entries/s");
  uint64_t blocking_n = std::min<uint64_t>(append_n, 20000);
  double blocking_rate = BlockingAppendRate(*env, JoinPath(root, "blocking"), blocking_n, threads);
  Row(("durable appends, blocking Append, " + std::to_string(threads) + " threads").c_str(),
      Num(blocking_rate), "entries/s");
  double blocking16 = BlockingAppendRate(*env, JoinPath(root, "blocking16"), blocking_n, 16);
  Row("durable appends, blocking Append, 16 threads", Num(blocking16), "entries/s");
  uint64_t dropped = 0;
  double writer_rate = WriterRate(*env, JoinPath(root, "writer"), append_n, threads, &dropped);
  Row(("AccessLogWriter Record+Flush, " + std::to_string(threads) + " threads").c_str(),
      Num(writer_rate), "records/s");
  Row("AccessLogWriter records dropped", std::to_string(dropped), "records");

  auto start = Clock::now();
  auto reopened = Log::Open(*env, JoinPath(root, "async"));
  if (!reopened.ok()) Die("reopen", reopened.status());
  double open_secs = Seconds(start);
  Row(("Open (recovery scan) of " + std::to_string((*reopened)->size()) + " entries").c_str(),
      Num(static_cast<double>((*reopened)->size()) / open_secs), "entries/s");
  reopened->reset();

  // --- verification over verify_n entries ---
  std::vector<std::string> entries;
  entries.reserve(verify_n);
  for (uint64_t i = 0; i < verify_n; ++i) entries.push_back(Entry(i));
  start = Clock::now();
  Hash root_hash = RootFromEntries(entries);
  double root_secs = Seconds(start);
  Row(("RootFromEntries over " + std::to_string(verify_n) + " entries").c_str(),
      Num(static_cast<double>(verify_n) / root_secs), "entries/s");

  Ed25519PrivateKey key = *Ed25519PrivateKey::FromSeed(std::string(32, 'b'));
  NoteSigner signer = *NoteSigner::Create("bench.example/log", key);
  NoteVerifier verifier = *NoteVerifier::Create("bench.example/log", key.public_key());
  Checkpoint checkpoint{"bench.example/log", verify_n, root_hash, {}};
  LogMirror mirror(verifier, "bench.example/log");
  start = Clock::now();
  Status verified = mirror.VerifyEntries(0, entries, checkpoint);
  double verify_secs = Seconds(start);
  if (!verified.ok()) Die("verify", verified);
  Row(("LogMirror::VerifyEntries over " + std::to_string(verify_n) + " entries").c_str(),
      Num(static_cast<double>(verify_n) / verify_secs), "entries/s");

  // --- proofs at verify_n entries ---
  MerkleTree tree;
  tree.Reserve(verify_n);
  for (const std::string& e : entries) tree.AppendEntry(e);
  uint64_t n = verify_n;
  uint64_t index = n * 2 / 3;
  start = Clock::now();
  constexpr int kProofRuns = 10000;
  size_t inclusion_len = 0;
  for (int i = 0; i < kProofRuns; ++i) {
    inclusion_len = tree.InclusionProof((index + static_cast<uint64_t>(i)) % n, n)->size();
  }
  double inclusion_us = Seconds(start) * 1e6 / kProofRuns;
  auto inclusion = *tree.InclusionProof(index, n);
  start = Clock::now();
  for (int i = 0; i < kProofRuns; ++i) {
    Status st = VerifyInclusion(index, n, HashLeaf(entries[index]), inclusion, root_hash);
    if (!st.ok()) Die("inclusion", st);
  }
  double inclusion_verify_us = Seconds(start) * 1e6 / kProofRuns;
  Row(("inclusion proof, leaf " + std::to_string(index) + " of " + std::to_string(n)).c_str(),
      std::to_string(inclusion_len) + " hashes",
      (std::to_string(inclusion_len * 32) + " bytes").c_str());
  Row("inclusion proof generation", Num(inclusion_us, 2), "us/proof");
  Row("inclusion proof verification", Num(inclusion_verify_us, 2), "us/proof");
  for (uint64_t old_size : {n / 2, n - 1, n - 1000, uint64_t{1000}}) {
    if (old_size == 0 || old_size >= n) continue;
    start = Clock::now();
    auto proof = *tree.ConsistencyProof(old_size, n);
    double gen_us = Seconds(start) * 1e6;
    Status st = VerifyConsistency(old_size, n, *tree.Root(old_size), root_hash, proof);
    if (!st.ok()) Die("consistency", st);
    Row(("consistency proof " + std::to_string(old_size) + " -> " + std::to_string(n) + " (" +
         Num(gen_us, 1) + " us)")
            .c_str(),
        std::to_string(proof.size()) + " hashes",
        (std::to_string(proof.size() * 32) + " bytes").c_str());
  }
  // --- the same proofs from a Log, whose tree is in tiles on disk (cache of 16 tiles) ---
  {
    const std::string dir = JoinPath(root, "tiled");
    auto log = Log::Open(*env, dir);
    if (!log.ok()) Die("open tiled", log.status());
    for (uint64_t i = 0; i < n; i += 10000) {
      std::vector<std::string> batch(
          entries.begin() + static_cast<ptrdiff_t>(i),
          entries.begin() + static_cast<ptrdiff_t>(std::min(n, i + 10000)));
      auto appended = (*log)->Append(std::move(batch));
      if (!appended.ok()) Die("append tiled", appended.status());
    }
    if ((*log)->Head().root != root_hash) Die("tiled root", Status::Internal("roots differ"));
    log->reset();
    start = Clock::now();
    log = Log::Open(*env, dir);
    if (!log.ok()) Die("reopen tiled", log.status());
    Row(("Log::Open of " + std::to_string(n) + " entries, tiles checked").c_str(),
        Num(Seconds(start), 2), "s");
    // Proofs for leaves spread over the whole log: most need tiles the cache does not hold.
    constexpr int kTiledRuns = 2000;
    start = Clock::now();
    for (int i = 0; i < kTiledRuns; ++i) {
      const uint64_t leaf = (static_cast<uint64_t>(i) * 7919 * 131) % n;
      auto proof = (*log)->InclusionProof(leaf, n);
      if (!proof.ok()) Die("tiled inclusion", proof.status());
      if (*proof != *tree.InclusionProof(leaf, n)) Die("tiled", Status::Internal("proofs differ"));
    }
    const double tiled_us = Seconds(start) * 1e6 / kTiledRuns;
    const TileStats stats = (*log)->tile_stats();
    Row("inclusion proof from tiles, scattered leaves", Num(tiled_us, 2), "us/proof");
    Row("  tiles read from files / cache hits",
        std::to_string(stats.tile_reads) + " / " + std::to_string(stats.cache_hits), "tiles");
    start = Clock::now();
    auto consistency = (*log)->ConsistencyProof(n / 3, n);
    if (!consistency.ok()) Die("tiled consistency", consistency.status());
    Row("consistency proof from tiles, n/3 -> n", Num(Seconds(start) * 1e6, 1), "us");
    Row("tree memory: in-memory MerkleTree / tiles (cache + edges)",
        Num(static_cast<double>(n) * 64 / 1048576, 1) + " / " +
            Num(static_cast<double>(stats.cached_tiles * 8192) / 1048576, 2),
        "MiB");
  }

  std::string note = *SignCheckpoint(checkpoint, signer);
  Row("signed checkpoint note", std::to_string(note.size()), "bytes");

  s = RemoveTree(*env, root);
  if (!s.ok()) Die("cleaning up", s);
  return 0;
}

}  // namespace
}  // namespace tieup::ledger

int main(int argc, char** argv) { return tieup::ledger::Main(argc, argv); }

#include "ledger/log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "mem_env.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::MemEnv;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr size_t kHeaderBytes = 16;
constexpr size_t kRecordOverhead = 12;

std::string Entry(uint64_t i) { return "entry-" + std::to_string(i) + std::string(i % 7, 'x'); }

class LogTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> OpenLog(LogOpenOptions options = {}) {
    auto log = Log::Open(*env_, dir_, options);
    EXPECT_THAT(log, IsOk());
    return log.ok() ? std::move(log).value() : nullptr;
  }
  void AppendN(Log& log, uint64_t n) {
    for (uint64_t i = log.size(), end = log.size() + n; i < end; ++i) {
      auto index = log.Append(Entry(i));
      ASSERT_THAT(index, IsOk());
      ASSERT_EQ(*index, i);
    }
  }
  std::string SegmentPath(uint64_t first = 0) {
    return JoinPath(dir_, "entries-" + std::string(20 - std::to_string(first).size(), '0') +
                              std::to_string(first) + ".log");
  }
  // Byte offset of entry `i` in the first segment, for entries made by Entry().
  static size_t Offset(uint64_t i) {
    size_t off = kHeaderBytes;
    for (uint64_t j = 0; j < i; ++j) off += kRecordOverhead + Entry(j).size();
    return off;
  }
  std::string ReadSegment() { return *env_->ReadFile(SegmentPath()); }
  void WriteSegment(const std::string& data) {
    ASSERT_THAT(WriteFileAtomic(*env_, SegmentPath(), data), IsOk());
  }

  TempDir tmp_;
  std::unique_ptr<Env> env_ = NewPosixEnv();
  std::string dir_ = tmp_.Sub("ledger");
};

TEST_F(LogTest, AppendReadAndReopen) {
  MerkleTree want;
  {
    auto log = OpenLog();
    EXPECT_EQ(log->size(), 0u);
    EXPECT_EQ(log->Head().root, EmptyRoot());
    AppendN(*log, 50);
    auto first = log->Append(std::vector<std::string>{"batch a", "batch b", "batch c"});
    ASSERT_THAT(first, IsOk());
    EXPECT_EQ(*first, 50u);
    EXPECT_EQ(log->size(), 53u);
    for (uint64_t i = 0; i < 50; ++i) want.AppendEntry(Entry(i));
    for (const char* e : {"batch a", "batch b", "batch c"}) want.AppendEntry(e);
    EXPECT_EQ(log->Head().root, want.Root());
    EXPECT_EQ(*log->Read(51), "batch b");
  }
  auto log = OpenLog();
  ASSERT_EQ(log->size(), 53u);
  EXPECT_EQ(log->Head().root, want.Root());
  for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(*log->Read(i), Entry(i));
  auto range = log->ReadRange(48, 53);
  ASSERT_THAT(range, IsOk());
  EXPECT_EQ(*range,
            (std::vector<std::string>{Entry(48), Entry(49), "batch a", "batch b", "batch c"}));
  EXPECT_THAT(log->Read(53), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(log->ReadRange(50, 54), StatusIs(StatusCode::kOutOfRange));
  // Appends continue where the log left off.
  EXPECT_EQ(*log->Append("after reopen"), 53u);
  want.AppendEntry("after reopen");
  EXPECT_EQ(log->Head().root, want.Root());
}

TEST_F(LogTest, ProofsFromTheLogVerify) {
  auto log = OpenLog();
  AppendN(*log, 100);
  Hash root60 = *log->Root(60);
  Hash root100 = *log->Root(100);
  auto inclusion = log->InclusionProof(42, 60);
  ASSERT_THAT(inclusion, IsOk());
  EXPECT_THAT(VerifyInclusion(42, 60, HashLeaf(Entry(42)), *inclusion, root60), IsOk());
  auto consistency = log->ConsistencyProof(60, 100);
  ASSERT_THAT(consistency, IsOk());
  EXPECT_THAT(VerifyConsistency(60, 100, root60, root100, *consistency), IsOk());
  EXPECT_EQ(*log->LeafHash(7), HashLeaf(Entry(7)));
}

TEST_F(LogTest, EmptyEntriesAndBatchesWork) {
  auto log = OpenLog();
  EXPECT_EQ(*log->Append(std::vector<std::string>{}), 0u);
  EXPECT_EQ(*log->Append(""), 0u);
  EXPECT_EQ(*log->Append(""), 1u);
  log.reset();
  log = OpenLog();
  EXPECT_EQ(log->size(), 2u);
  EXPECT_EQ(*log->Read(1), "");
}

TEST_F(LogTest, OversizedEntryIsRefused) {
  LogOpenOptions options;
  options.max_entry_bytes = 100;
  auto log = OpenLog(options);
  EXPECT_THAT(log->Append(std::string(101, 'a')),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("exceeds the limit")));
  EXPECT_THAT(log->Append(std::string(100, 'a')), IsOk());
}

TEST_F(LogTest, SegmentsRollAndReopen) {
  LogOpenOptions options;
  options.segment_bytes = 200;
  {
    auto log = OpenLog(options);
    AppendN(*log, 40);
  }
  auto files = env_->ListDir(dir_);
  ASSERT_THAT(files, IsOk());
  EXPECT_GE(files->size(), 4u);
  auto log = OpenLog(options);
  ASSERT_EQ(log->size(), 40u);
  for (uint64_t i = 0; i < 40; ++i) EXPECT_EQ(*log->Read(i), Entry(i));
  MerkleTree want;
  for (uint64_t i = 0; i < 40; ++i) want.AppendEntry(Entry(i));
  EXPECT_EQ(log->Head().root, want.Root());
}

TEST_F(LogTest, MissingSegmentIsDataLoss) {
  LogOpenOptions options;
  options.segment_bytes = 200;
  {
    auto log = OpenLog(options);
    AppendN(*log, 40);
  }
  auto files = *env_->ListDir(dir_);
  ASSERT_GT(files.size(), 3u);
  ASSERT_THAT(env_->RemoveFile(JoinPath(dir_, files[1].name)), IsOk());
  EXPECT_THAT(Log::Open(*env_, dir_, options),
              StatusIs(StatusCode::kDataLoss, HasSubstr("a segment is missing")));
}

TEST_F(LogTest, TornTailIsCutOff) {
  {
    auto log = OpenLog();
    AppendN(*log, 10);
  }
  std::string data = ReadSegment();
  ASSERT_EQ(data.size(), Offset(10));
  // Every possible torn length of the last record: the first 9 entries survive.
  for (size_t cut = Offset(9) + 1; cut < Offset(10); ++cut) {
    WriteSegment(data.substr(0, cut));
    auto log = OpenLog();
    ASSERT_EQ(log->size(), 9u) << cut;
    EXPECT_EQ(ReadSegment().size(), Offset(9)) << "the torn bytes are cut off";
    EXPECT_EQ(*log->Append(Entry(9)), 9u);
  }
  EXPECT_EQ(ReadSegment(), data);
}

TEST_F(LogTest, ZeroFilledTailIsCutOff) {
  {
    auto log = OpenLog();
    AppendN(*log, 5);
  }
  WriteSegment(ReadSegment() + std::string(100, '\0'));
  auto log = OpenLog();
  EXPECT_EQ(log->size(), 5u);
  EXPECT_EQ(ReadSegment().size(), Offset(5));
}

TEST_F(LogTest, ReadOnlyOpenLeavesTornTailAlone) {
  {
    auto log = OpenLog();
    AppendN(*log, 5);
  }
  std::string torn = ReadSegment().substr(0, Offset(5) - 3);
  WriteSegment(torn);
  LogOpenOptions options;
  options.read_only = true;
  auto log = OpenLog(options);
  EXPECT_EQ(log->size(), 4u);
  EXPECT_EQ(ReadSegment(), torn);
  EXPECT_THAT(log->Append("x"), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(LogTest, FlippedByteInTheMiddleIsDataLossNamingTheEntry) {
  {
    auto log = OpenLog();
    AppendN(*log, 10);
  }
  std::string data = ReadSegment();
  // One byte inside entry 4's payload.
  std::string bad = data;
  bad[Offset(4) + 8 + 2] ^= 0x20;
  WriteSegment(bad);
  EXPECT_THAT(Log::Open(*env_, dir_),
              StatusIs(StatusCode::kDataLoss, HasSubstr("entry 4 at byte")));
  // One byte of entry 4's length field.
  bad = data;
  bad[Offset(4)] ^= 0x01;
  WriteSegment(bad);
  EXPECT_THAT(Log::Open(*env_, dir_),
              StatusIs(StatusCode::kDataLoss, HasSubstr("entry 4 at byte")));
  // One byte of the last entry's checksum: a complete record, so not a torn tail.
  bad = data;
  bad[data.size() - 1] ^= 0x01;
  WriteSegment(bad);
  EXPECT_THAT(Log::Open(*env_, dir_),
              StatusIs(StatusCode::kDataLoss, HasSubstr("entry 9 at byte")));
  // The file is left as it was for inspection.
  EXPECT_EQ(ReadSegment(), bad);
}

TEST_F(LogTest, SwappedOrDeletedRecordsAreDataLoss) {
  {
    auto log = OpenLog();
    AppendN(*log, 10);
  }
  std::string data = ReadSegment();
  auto record = [&](uint64_t i) { return data.substr(Offset(i), Offset(i + 1) - Offset(i)); };
  // Records 3 and 4 swapped: each one's checksum covers its index.
  std::string swapped = data.substr(0, Offset(3)) + record(4) + record(3) + data.substr(Offset(5));
  WriteSegment(swapped);
  EXPECT_THAT(Log::Open(*env_, dir_), StatusIs(StatusCode::kDataLoss, HasSubstr("entry 3")));
  // Record 6 deleted.
  std::string deleted = data.substr(0, Offset(6)) + data.substr(Offset(7));
  WriteSegment(deleted);
  EXPECT_THAT(Log::Open(*env_, dir_), StatusIs(StatusCode::kDataLoss, HasSubstr("entry 6")));
}

TEST_F(LogTest, NotALedgerFileIsDataLoss) {
  { auto log = OpenLog(); }
  WriteSegment("this is not a ledger segment at all\n");
  EXPECT_THAT(Log::Open(*env_, dir_), StatusIs(StatusCode::kDataLoss, HasSubstr("ledger header")));
}

TEST_F(LogTest, RecordChangedAfterOpenIsDataLossOnRead) {
  auto log = OpenLog();
  AppendN(*log, 10);
  std::string bad = ReadSegment();
  bad[Offset(2) + 9] ^= 0x10;
  WriteSegment(bad);
  EXPECT_THAT(log->Read(2), StatusIs(StatusCode::kDataLoss, HasSubstr("entry 2")));
}

TEST_F(LogTest, ConcurrentAppendersEachEntryExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 300;
  auto log = OpenLog();
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> indices(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string entry = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (i % 3 == 0) {
          std::atomic<bool> done{false};
          std::mutex m;
          std::condition_variable cv;
          uint64_t index = UINT64_MAX;
          log->AppendAsync(entry, [&](Result<uint64_t> r) {
            std::lock_guard<std::mutex> lock(m);
            index = r.ok() ? *r : UINT64_MAX;
            done = true;
            cv.notify_one();
          });
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return done.load(); });
          indices[t].push_back(index);
        } else {
          auto r = log->Append(entry);
          indices[t].push_back(r.ok() ? *r : UINT64_MAX);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_THAT(log->Sync(), IsOk());
  ASSERT_EQ(log->size(), uint64_t{kThreads * kPerThread});
  std::set<uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      uint64_t index = indices[t][i];
      ASSERT_NE(index, UINT64_MAX);
      EXPECT_TRUE(all.insert(index).second) << "index " << index << " given twice";
      EXPECT_EQ(*log->Read(index), "t" + std::to_string(t) + "-" + std::to_string(i));
    }
  }
  // Reopened, the same entries in the same order.
  Hash root = log->Head().root;
  log.reset();
  log = OpenLog();
  EXPECT_EQ(log->size(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(log->Head().root, root);
}

TEST_F(LogTest, AsyncAppendsCallBackInOrderAfterSync) {
  auto log = OpenLog();
  std::mutex m;
  std::vector<uint64_t> got;
  for (int i = 0; i < 100; ++i) {
    log->AppendAsync(Entry(i), [&](Result<uint64_t> r) {
      std::lock_guard<std::mutex> lock(m);
      got.push_back(r.ok() ? *r : UINT64_MAX);
    });
  }
  ASSERT_THAT(log->Sync(), IsOk());
  std::lock_guard<std::mutex> lock(m);
  ASSERT_EQ(got.size(), 100u);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
}

TEST_F(LogTest, CheckpointsAreSignedStoredAndListed) {
  auto signer =
      *NoteSigner::Create("example.com/log", *Ed25519PrivateKey::FromSeed(std::string(32, 's')));
  auto verifier = *NoteVerifier::Create("example.com/log", signer.public_key());
  auto log = OpenLog();
  AppendN(*log, 3);
  auto note3 = log->SignCheckpoint(signer);
  ASSERT_THAT(note3, IsOk());
  // Signing again at the same size returns the stored note.
  EXPECT_EQ(*log->SignCheckpoint(signer), *note3);
  AppendN(*log, 2);
  ASSERT_THAT(log->SignCheckpoint(signer), IsOk());
  auto stored = log->StoredCheckpoints();
  ASSERT_THAT(stored, IsOk());
  ASSERT_EQ(stored->size(), 2u);
  auto c0 = OpenCheckpoint((*stored)[0], verifier, "example.com/log");
  auto c1 = OpenCheckpoint((*stored)[1], verifier, "example.com/log");
  ASSERT_THAT(c0, IsOk());
  ASSERT_THAT(c1, IsOk());
  EXPECT_EQ(c0->size, 3u);
  EXPECT_EQ(c0->root, *log->Root(3));
  EXPECT_EQ(c1->size, 5u);
  // Another origin at a size already checkpointed is refused: one size, one checkpoint.
  EXPECT_THAT(log->SignCheckpoint(signer, "example.com/renamed"),
              StatusIs(StatusCode::kAlreadyExists));
}

// Crash at every mutating step of a sequence of appends: after recovery the log opens, holds
// every acknowledged entry in order, and its root matches its entries.
TEST(LogCrashTest, EveryCrashPointRecovers) {
  constexpr int kEntries = 6;
  for (uint64_t crash_at = 0;; ++crash_at) {
    MemEnv env;
    LogOpenOptions options;
    options.segment_bytes = 64;  // roll segments during the run too
    uint64_t acknowledged = 0;
    {
      auto log = Log::Open(env, "/ledger", options);
      ASSERT_THAT(log, IsOk());
      env.CrashAfter(crash_at);
      for (int i = 0; i < kEntries; ++i) {
        auto r = (*log)->Append(Entry(static_cast<uint64_t>(i)));
        if (!r.ok()) break;
        acknowledged = *r + 1;
      }
    }
    bool crashed = env.crashed();
    env.Recover();
    auto log = Log::Open(env, "/ledger", options);
    ASSERT_THAT(log, IsOk()) << "crash after " << crash_at << " operations";
    uint64_t n = (*log)->size();
    EXPECT_GE(n, acknowledged) << "crash after " << crash_at;
    MerkleTree want;
    for (uint64_t i = 0; i < n; ++i) {
      EXPECT_EQ(*(*log)->Read(i), Entry(i));
      want.AppendEntry(Entry(i));
    }
    EXPECT_EQ((*log)->Head().root, want.Root());
    // The recovered log takes appends again.
    EXPECT_THAT((*log)->Append("after"), IsOk());
    if (!crashed) break;  // the whole run fit in the budget: every point was tried
  }
}

// A failed write without a crash (a full disk): see log_full_disk_test.cc.

}  // namespace
}  // namespace tieup::ledger

#include <gtest/gtest.h>

#include "crypto/ed25519.h"
#include "full_disk_env.h"
#include "ledger/log.h"
#include "ledger/verifier.h"
#include "mem_env.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FullDiskEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::MemEnv;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr std::string_view kFullDiskOrigin = "example.com/shop-b/access";

std::string Entry(uint64_t i) { return "access record " + std::to_string(i); }

// A ledger on a disk that runs full: what the partner's access ledger meets when an update or
// a log file takes the last bytes.
class LogFullDiskTest : public ::testing::Test {
 protected:
  LogFullDiskTest()
      : signer_(*NoteSigner::Create(std::string(kFullDiskOrigin),
                                    *Ed25519PrivateKey::FromSeed(std::string(32, 'f')))),
        verifier_(*NoteVerifier::Create(std::string(kFullDiskOrigin), signer_.public_key())) {}

  std::unique_ptr<Log> OpenLog(LogOpenOptions options = {}) {
    auto log = Log::Open(disk_, dir_, options);
    EXPECT_THAT(log, IsOk());
    return log.ok() ? std::move(log).value() : nullptr;
  }

  // The entries a fresh, read-only open finds on disk.
  std::vector<std::string> EntriesOnDisk() {
    LogOpenOptions ro;
    ro.read_only = true;
    auto log = Log::Open(*posix_, dir_, ro);
    EXPECT_THAT(log, IsOk());
    if (!log.ok()) return {};
    auto all = (*log)->ReadRange(0, (*log)->size());
    EXPECT_THAT(all, IsOk());
    return all.value_or(std::vector<std::string>{});
  }

  std::vector<std::string> FileNames() {
    std::vector<std::string> names;
    auto files = posix_->ListDir(dir_);
    EXPECT_THAT(files, IsOk());
    for (const FileInfo& f : files.value_or(std::vector<FileInfo>{})) {
      if (!f.is_dir) names.push_back(f.name);
    }
    return names;
  }

  TempDir tmp_;
  std::unique_ptr<Env> posix_ = NewPosixEnv();
  FullDiskEnv disk_{*posix_};
  std::string dir_ = tmp_.Sub("ledger");
  NoteSigner signer_;
  NoteVerifier verifier_;
};

TEST_F(LogFullDiskTest, RefusesWhileFullThenAppendsByItselfWithNoHalfRecordLeft) {
  auto log = OpenLog();
  std::vector<std::string> want;
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_THAT(log->Append(Entry(i)), IsOk());
    want.push_back(Entry(i));
  }
  ASSERT_THAT(log->SignCheckpoint(signer_), IsOk());
  const Hash root5 = log->Head().root;

  // Room for part of the next record only: the write tears in the middle of it.
  disk_.SetFreeBytes(10);
  EXPECT_THAT(log->Append("lost while full"),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("No space left on device")));
  EXPECT_THAT(log->Sync(), StatusIs(StatusCode::kResourceExhausted));
  // Still full: refused again (with the same cause), nothing counted.
  EXPECT_THAT(log->Append(std::vector<std::string>{"also lost", "and this"}),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("recover")));
  EXPECT_EQ(log->size(), 5u);
  EXPECT_EQ(log->Head().root, root5);
  EXPECT_EQ(*log->Read(4), Entry(4));

  // Space returns: the next append recovers by itself, no reopen.
  disk_.LiftLimit();
  auto index = log->Append("after the disk was freed");
  ASSERT_THAT(index, IsOk());
  EXPECT_EQ(*index, 5u);
  want.push_back("after the disk was freed");
  EXPECT_THAT(log->Sync(), IsOk());
  ASSERT_THAT(log->Append(Entry(6)), IsOk());
  want.push_back(Entry(6));
  ASSERT_THAT(log->SignCheckpoint(signer_), IsOk());

  // On disk: exactly the acknowledged entries, no torn tail (a read-only open would stop at
  // one), no temporary file; the checkpoints before and after the fault are consistent.
  EXPECT_EQ(EntriesOnDisk(), want);
  for (const std::string& name : FileNames()) EXPECT_FALSE(name.ends_with(".tmp")) << name;
  auto verified = VerifyLog(*posix_, dir_, verifier_, kFullDiskOrigin);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(verified->entries, 7u);
  EXPECT_EQ(verified->checkpoints, 2u);
  // The same tree as if the fault had never happened.
  MerkleTree tree;
  for (const std::string& e : want) tree.AppendEntry(e);
  EXPECT_EQ(log->Head().root, tree.Root());
  log.reset();
  EXPECT_EQ(OpenLog()->size(), 7u);
}

TEST_F(LogFullDiskTest, AFailedBatchThatStartedANewSegmentLeavesNoSegmentBehind) {
  LogOpenOptions options;
  options.segment_bytes = 64;  // two records per segment
  auto log = OpenLog(options);
  std::vector<std::string> want;
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_THAT(log->Append(Entry(i)), IsOk());
    want.push_back(Entry(i));
  }
  const size_t files_before = FileNames().size();
  // Enough to finish one segment and start the next, not enough for the whole batch.
  disk_.SetFreeBytes(100);
  std::vector<std::string> batch;
  for (uint64_t i = 3; i < 9; ++i) batch.push_back(Entry(i));
  EXPECT_THAT(log->Append(batch), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(log->size(), 3u);

  disk_.LiftLimit();
  ASSERT_THAT(log->Append(batch), IsOk());
  want.insert(want.end(), batch.begin(), batch.end());
  EXPECT_EQ(EntriesOnDisk(), want);
  EXPECT_GT(FileNames().size(), files_before);
  for (uint64_t i = 0; i < want.size(); ++i) EXPECT_EQ(*log->Read(i), want[i]);
  log.reset();
  log = OpenLog(options);
  EXPECT_EQ(log->size(), want.size());
}

// Every amount of free space, from none to more than the batch: the log refuses or takes the
// batch whole, and once space returns it continues with a consistent tree.
TEST_F(LogFullDiskTest, EveryTearingPointRecovers) {
  LogOpenOptions options;
  options.segment_bytes = 80;
  for (uint64_t free_bytes = 0; free_bytes < 200; free_bytes += 7) {
    SCOPED_TRACE("free bytes " + std::to_string(free_bytes));
    TempDir tmp;
    dir_ = tmp.Sub("ledger");
    auto log = OpenLog(options);
    ASSERT_NE(log, nullptr);
    std::vector<std::string> want;
    for (uint64_t i = 0; i < 2; ++i) {
      ASSERT_THAT(log->Append(Entry(i)), IsOk());
      want.push_back(Entry(i));
    }
    disk_.SetFreeBytes(free_bytes);
    std::vector<std::string> batch = {Entry(2), Entry(3), Entry(4), Entry(5)};
    if (log->Append(batch).ok()) want.insert(want.end(), batch.begin(), batch.end());
    disk_.LiftLimit();
    ASSERT_THAT(log->Append("after"), IsOk());
    want.push_back("after");
    EXPECT_EQ(EntriesOnDisk(), want);
    MerkleTree tree;
    for (const std::string& e : want) tree.AppendEntry(e);
    EXPECT_EQ(log->Head().root, tree.Root());
  }
}

TEST(LogFailedWriteTest, RecoversByItselfOnceWritesSucceed) {
  MemEnv env;
  auto log = Log::Open(env, "/ledger");
  ASSERT_THAT(log, IsOk());
  ASSERT_THAT((*log)->Append("one"), IsOk());
  env.CrashAfter(0);
  EXPECT_THAT((*log)->Append("two"), StatusIs(StatusCode::kIOError));
  env.Recover();
  auto three = (*log)->Append("three");
  ASSERT_THAT(three, IsOk());
  EXPECT_EQ(*three, 1u);
  EXPECT_EQ(*(*log)->Read(1), "three");
  log->reset();
  auto reopened = Log::Open(env, "/ledger");
  ASSERT_THAT(reopened, IsOk());
  EXPECT_EQ((*reopened)->size(), 2u);
  EXPECT_EQ(*(*reopened)->Read(1), "three");
}

}  // namespace
}  // namespace tieup::ledger

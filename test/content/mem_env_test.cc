#include "mem_env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::ElementsAre;

Status WriteAndMaybeSync(Env& env, const std::string& path, const std::string& data, bool sync) {
  ASSIGN_OR_RETURN(auto f, env.NewWritableFile(path));
  RETURN_IF_ERROR(f->Append(data));
  if (sync) RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

class MemEnvTest : public ::testing::Test {
 protected:
  MemEnvTest() {
    EXPECT_THAT(env_.CreateDir("/d"), IsOk());
    EXPECT_THAT(env_.SyncDir("/"), IsOk());
  }
  MemEnv env_;
};

TEST_F(MemEnvTest, BehavesLikeAFileSystem) {
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/b", "bee", false), IsOk());
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/a", "ay", false), IsOk());
  ASSERT_THAT(env_.CreateDir("/d/sub"), IsOk());
  EXPECT_EQ(*env_.ReadFile("/d/b"), "bee");
  EXPECT_EQ(*env_.ReadFilePrefix("/d/b", 2), "be");
  EXPECT_EQ(*env_.FileSize("/d/a"), 2u);
  auto list = env_.ListDir("/d");
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[2].name, "sub");
  EXPECT_TRUE((*list)[2].is_dir);
  EXPECT_THAT(env_.ReadFile("/d/none"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(env_.NewWritableFile("/nodir/x"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(env_.RemoveDir("/d"), StatusIs(StatusCode::kIOError));  // not empty
  ASSERT_THAT(env_.Rename("/d/a", "/d/b"), IsOk());
  EXPECT_EQ(*env_.ReadFile("/d/b"), "ay");
  EXPECT_FALSE(env_.FileExists("/d/a"));
  ASSERT_THAT(env_.SetPermissions("/d/b", 0600), IsOk());
  EXPECT_EQ(*env_.GetPermissions("/d/b"), 0600u);
  auto app = env_.NewAppendableFile("/d/b");
  ASSERT_THAT(app, IsOk());
  ASSERT_THAT((*app)->Append("!"), IsOk());
  EXPECT_EQ(*env_.ReadFile("/d/b"), "ay!");
}

TEST_F(MemEnvTest, UnsyncedBytesAreLostInACrash) {
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/f", "synced", true), IsOk());
  ASSERT_THAT(env_.SyncDir("/d"), IsOk());
  auto f = env_.NewAppendableFile("/d/f");
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Append(" and more"), IsOk());
  EXPECT_EQ(*env_.ReadFile("/d/f"), "synced and more");
  env_.Recover();
  EXPECT_EQ(*env_.ReadFile("/d/f"), "synced");
}

TEST_F(MemEnvTest, NewEntriesNeedADirectorySync) {
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/kept", "k", true), IsOk());
  ASSERT_THAT(env_.SyncDir("/d"), IsOk());
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/lost", "l", true), IsOk());  // data synced, entry not
  ASSERT_THAT(env_.CreateDir("/d/lostdir"), IsOk());
  env_.Recover();
  EXPECT_TRUE(env_.FileExists("/d/kept"));
  EXPECT_FALSE(env_.FileExists("/d/lost"));
  EXPECT_FALSE(env_.FileExists("/d/lostdir"));
}

TEST_F(MemEnvTest, FileSyncedButNeverWrittenDurablyIsEmpty) {
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/f", "not synced", false), IsOk());
  ASSERT_THAT(env_.SyncDir("/d"), IsOk());  // the entry is durable, the bytes are not
  env_.Recover();
  EXPECT_EQ(*env_.ReadFile("/d/f"), "");
}

TEST_F(MemEnvTest, RenameAndRemoveAreDurableOnlyAfterDirectorySync) {
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/target", "old", true), IsOk());
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/gone", "g", true), IsOk());
  ASSERT_THAT(env_.SyncDir("/d"), IsOk());
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/target.tmp", "new", true), IsOk());
  ASSERT_THAT(env_.Rename("/d/target.tmp", "/d/target"), IsOk());
  ASSERT_THAT(env_.RemoveFile("/d/gone"), IsOk());
  EXPECT_EQ(*env_.ReadFile("/d/target"), "new");
  env_.Recover();
  EXPECT_EQ(*env_.ReadFile("/d/target"), "old");
  EXPECT_TRUE(env_.FileExists("/d/gone"));
  EXPECT_FALSE(env_.FileExists("/d/target.tmp"));

  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/target.tmp", "new", true), IsOk());
  ASSERT_THAT(env_.Rename("/d/target.tmp", "/d/target"), IsOk());
  ASSERT_THAT(env_.RemoveFile("/d/gone"), IsOk());
  ASSERT_THAT(env_.SyncDir("/d"), IsOk());
  env_.Recover();
  EXPECT_EQ(*env_.ReadFile("/d/target"), "new");
  EXPECT_FALSE(env_.FileExists("/d/gone"));
}

TEST_F(MemEnvTest, AnEntryInANonDurableDirectoryIsLost) {
  ASSERT_THAT(env_.CreateDir("/d/new"), IsOk());
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/new/f", "x", true), IsOk());
  ASSERT_THAT(env_.SyncDir("/d/new"), IsOk());  // but "/d" never learns about "new"
  env_.Recover();
  EXPECT_FALSE(env_.FileExists("/d/new/f"));
}

TEST_F(MemEnvTest, CrashAfterFailsEveryLaterOperationUntilRecover) {
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/f", "v1", true), IsOk());
  ASSERT_THAT(env_.SyncDir("/d"), IsOk());
  const uint64_t start = env_.mutating_ops();
  env_.CrashAfter(2);
  auto f = env_.NewWritableFile("/d/g");  // 1
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT((*f)->Append("x"), IsOk());                     // 2
  EXPECT_THAT((*f)->Sync(), StatusIs(StatusCode::kIOError));  // the crash
  EXPECT_TRUE(env_.crashed());
  EXPECT_THAT(env_.ReadFile("/d/f"), StatusIs(StatusCode::kIOError));  // reads too
  EXPECT_THAT(env_.SyncDir("/d"), StatusIs(StatusCode::kIOError));
  EXPECT_FALSE(env_.FileExists("/d/f"));
  EXPECT_EQ(env_.mutating_ops() - start, 2u);
  env_.Recover();
  EXPECT_FALSE(env_.crashed());
  EXPECT_EQ(*env_.ReadFile("/d/f"), "v1");
  EXPECT_FALSE(env_.FileExists("/d/g"));
  ASSERT_THAT(env_.SyncDir("/d"), IsOk());  // no crash pending any more
}

TEST_F(MemEnvTest, CreatingAnExistingDirectoryIsNotAMutation) {
  const uint64_t start = env_.mutating_ops();
  ASSERT_THAT(env_.CreateDir("/d"), IsOk());
  EXPECT_EQ(env_.mutating_ops(), start);
  ASSERT_THAT(env_.CreateDir("/d/x"), IsOk());
  EXPECT_EQ(env_.mutating_ops(), start + 1);
}

TEST_F(MemEnvTest, SyncAllForTestMakesEverythingDurable) {
  ASSERT_THAT(env_.CreateDir("/d/x"), IsOk());
  ASSERT_THAT(WriteAndMaybeSync(env_, "/d/x/f", "data", false), IsOk());
  env_.SyncAllForTest();
  env_.Recover();
  EXPECT_EQ(*env_.ReadFile("/d/x/f"), "data");
}

TEST_F(MemEnvTest, ClockIsSettable) {
  env_.SetNowMicros(5'000'000);
  env_.AdvanceSeconds(2);
  EXPECT_EQ(env_.NowSeconds(), 7);
}

}  // namespace
}  // namespace tieup::testing

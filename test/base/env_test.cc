#include "base/env.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup {
namespace {

using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class EnvTest : public ::testing::Test {
 protected:
  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
};

TEST_F(EnvTest, WriteFileAtomicReplacesWholeAndSetsMode) {
  const std::string p = dir_.Sub("a/b/key");
  ASSERT_THAT(CreateDirs(*env_, DirName(p)), IsOk());
  ASSERT_THAT(WriteFileAtomic(*env_, p, "one", 0600), IsOk());
  ASSERT_THAT(WriteFileAtomic(*env_, p, "two", 0600), IsOk());
  EXPECT_EQ(*env_->ReadFile(p), "two");
  EXPECT_EQ(*env_->GetPermissions(p), 0600u);
  EXPECT_FALSE(env_->FileExists(p + ".tmp"));
}

TEST_F(EnvTest, WriteFileAtomicWithWritesPartsAndLeavesTheFileOnError) {
  const std::string p = dir_.Sub("parts");
  ASSERT_THAT(WriteFileAtomicWith(*env_, p,
                                  [](WritableFile& f) -> Status {
                                    RETURN_IF_ERROR(f.Append("one,"));
                                    return f.Append("two");
                                  }),
              IsOk());
  EXPECT_EQ(*env_->ReadFile(p), "one,two");
  EXPECT_THAT(WriteFileAtomicWith(*env_, p,
                                  [](WritableFile& f) -> Status {
                                    RETURN_IF_ERROR(f.Append("half"));
                                    return Status::DataLoss("source went away");
                                  }),
              StatusIs(StatusCode::kDataLoss));
  EXPECT_EQ(*env_->ReadFile(p), "one,two");
  EXPECT_FALSE(env_->FileExists(p + ".tmp")) << "a failed write leaves no partial file";
}

TEST_F(EnvTest, ReadPrefixStopsAtLimit) {
  const std::string p = dir_.Sub("f");
  ASSERT_THAT(WriteFileAtomic(*env_, p, std::string(100000, 'x')), IsOk());
  EXPECT_EQ(env_->ReadFilePrefix(p, 10)->size(), 10u);
  EXPECT_EQ(*env_->FileSize(p), 100000u);
}

TEST_F(EnvTest, ReadFileRangeAndTruncateFile) {
  const std::string p = dir_.Sub("range");
  std::string data;
  for (int i = 0; i < 70000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  ASSERT_THAT(WriteFileAtomic(*env_, p, data), IsOk());
  EXPECT_EQ(*env_->ReadFileRange(p, 65530, 20), data.substr(65530, 20));
  EXPECT_EQ(*env_->ReadFileRange(p, 69990, 100), data.substr(69990));
  EXPECT_EQ(*env_->ReadFileRange(p, 70000, 10), "");
  EXPECT_EQ(*env_->ReadFileRange(p, 90000, 10), "");
  EXPECT_THAT(env_->ReadFileRange(dir_.Sub("missing"), 0, 1), StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(env_->TruncateFile(p, 100), IsOk());
  EXPECT_EQ(*env_->ReadFile(p), data.substr(0, 100));
  ASSERT_THAT(env_->TruncateFile(p, 500), IsOk());  // never makes a file longer
  EXPECT_EQ(*env_->FileSize(p), 100u);
  EXPECT_THAT(env_->TruncateFile(dir_.Sub("missing"), 0), StatusIs(StatusCode::kNotFound));
}

TEST_F(EnvTest, ListDirIsSortedAndRemoveTreeClears) {
  ASSERT_THAT(CreateDirs(*env_, dir_.Sub("t/sub")), IsOk());
  ASSERT_THAT(WriteFileAtomic(*env_, dir_.Sub("t/b"), "1"), IsOk());
  ASSERT_THAT(WriteFileAtomic(*env_, dir_.Sub("t/a"), "1"), IsOk());
  auto list = env_->ListDir(dir_.Sub("t"));
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_TRUE((*list)[2].is_dir);
  ASSERT_THAT(RemoveTree(*env_, dir_.Sub("t")), IsOk());
  EXPECT_FALSE(env_->FileExists(dir_.Sub("t")));
}

TEST_F(EnvTest, MissingFileIsNotFoundWithPath) {
  EXPECT_THAT(env_->ReadFile(dir_.Sub("nope")),
              StatusIs(StatusCode::kNotFound, ::testing::HasSubstr("nope")));
}

TEST(PathTest, JoinAndDirName) {
  EXPECT_EQ(JoinPath("a/", "/b"), "a/b");
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("/c"), "/");
}

}  // namespace
}  // namespace tieup

#include "console/audit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/encoding.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::console {
namespace {

using ::testing::SizeIs;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = ::tieup::testing::OpenTestDatabase(dir_.path() + "/tieup.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto log = AuditLog::Open(env_, *db_);
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, RecentIsNewestFirstWithTheClocksTime) {
  ASSERT_THAT(log_->Record({0, "ada@example.org", "sign in", "", "127.0.0.1"}), IsOk());
  const int64_t first = env_.NowMicros();
  env_.AdvanceSeconds(5);
  ASSERT_THAT(log_->Record({0, "ada@example.org", "approve update", "u3 from main", "::1"}),
              IsOk());
  ASSERT_THAT(log_->Record({42, "bob@example.org", "sign out", "", "10.0.0.1"}), IsOk());

  auto recent = log_->Recent();
  ASSERT_THAT(recent, IsOk());
  ASSERT_THAT(*recent, SizeIs(3));
  EXPECT_EQ((*recent)[0].action, "sign out");
  EXPECT_EQ((*recent)[0].at_micros, 42);
  EXPECT_EQ((*recent)[1].action, "approve update");
  EXPECT_EQ((*recent)[1].detail, "u3 from main");
  EXPECT_EQ((*recent)[1].address, "::1");
  EXPECT_EQ((*recent)[1].at_micros, first + 5'000'000);
  EXPECT_EQ((*recent)[2].actor, "ada@example.org");
  EXPECT_EQ((*recent)[2].at_micros, first);

  auto two = log_->Recent(2);
  ASSERT_THAT(two, IsOk());
  EXPECT_THAT(*two, SizeIs(2));
  EXPECT_THAT(*log_->Recent(0), SizeIs(1));  // at least one
}

TEST_F(AuditLogTest, FieldsAreBoundedAndValidText) {
  ASSERT_THAT(
      log_->Record({0, "ada@example.org", "edit page",
                    std::string(kMaxAuditDetailBytes - 1, 'x') + "\xc3\xa9" + "tail", "bad\xff"}),
      IsOk());
  auto recent = log_->Recent(1);
  ASSERT_THAT(recent, IsOk());
  EXPECT_EQ((*recent)[0].detail, std::string(kMaxAuditDetailBytes - 1, 'x'));  // cut before é
  EXPECT_TRUE(IsValidUtf8((*recent)[0].address));
  EXPECT_THAT(log_->Record({0, "ada@example.org", "", "", ""}),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tieup::console

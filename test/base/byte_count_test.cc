#include "base/byte_count.h"

#include <gtest/gtest.h>

namespace tieup {
namespace {

TEST(ByteCountTest, FormatsAsPeopleReadIt) {
  EXPECT_EQ(FormatByteCount(0), "0 B");
  EXPECT_EQ(FormatByteCount(1023), "1023 B");
  EXPECT_EQ(FormatByteCount(1024), "1.0 KiB");
  EXPECT_EQ(FormatByteCount(3174), "3.1 KiB");
  EXPECT_EQ(FormatByteCount(1u << 20), "1.0 MiB");
}

}  // namespace
}  // namespace tieup

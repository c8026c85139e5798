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

TEST(ByteCountTest, SizesInSentencesAreRoundedUp) {
  EXPECT_EQ(FormatByteSize(1), "1 byte");
  EXPECT_EQ(FormatByteSize(900), "900 bytes");
  EXPECT_EQ(FormatByteSize(1025), "2 KiB");
  EXPECT_EQ(FormatByteSize(8u << 20), "8 MiB");
  EXPECT_EQ(FormatByteSize((8u << 20) + 1), "8.1 MiB");  // just over a limit never reads as it
}

}  // namespace
}  // namespace tieup

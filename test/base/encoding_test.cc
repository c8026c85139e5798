#include "base/encoding.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup {
namespace {

using ::tieup::testing::StatusIs;

TEST(EncodingTest, HexRoundTripAndRejects) {
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*HexDecode("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_THAT(HexDecode("abc"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(HexDecode("zz"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(EncodingTest, Base64MatchesRfc4648Vectors) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(Base64Encode(plain[i]), enc[i]);
    EXPECT_EQ(*Base64Decode(enc[i]), plain[i]);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(*Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_THAT(Base64Decode("Zm9v!"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64Decode("Zm9vY"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64Decode("Zh=="), StatusIs(StatusCode::kInvalidArgument));  // stray bits
}

TEST(EncodingTest, HttpDateRoundTrip) {
  EXPECT_EQ(FormatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(*ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_THAT(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHttpDate("Sun, 06 Foo 1994 08:49:37 GMT"),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(EncodingTest, Rfc3339RoundTripAndZones) {
  EXPECT_EQ(FormatRfc3339(1795510177), "2026-11-24T08:49:37Z");
  EXPECT_EQ(*ParseRfc3339("2026-11-24T08:49:37Z"), 1795510177);
  EXPECT_EQ(*ParseRfc3339("2026-11-24T09:49:37.25+01:00"), 1795510177);
  EXPECT_THAT(ParseRfc3339("2026-11-24 08:49:37"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseRfc3339("2026-13-24T08:49:37Z"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(EncodingTest, Utf8ValidityAndSanitizing) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8d\xb5"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xae"));          // overlong '.'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xae"));      // overlong, three bytes
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe6\x97"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));              // a lone continuation byte
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x8d\xb5", 0), 4u);
  EXPECT_EQ(SanitizeUtf8("a\xff"
                         "b\xc3\xa9"),
            "a\xef\xbf\xbd"
            "b\xc3\xa9");
}

TEST(EncodingTest, HtmlEscapeCoversTextAndAttributes) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("plain"), "plain");
}

TEST(ByteReaderTest, ReadsWhatAppendBigEndianWroteAndFailsPastTheEnd) {
  std::string out;
  AppendBigEndian(out, 0x0102, 2);
  AppendBigEndian(out, 0x0a0b0c0d0e0f1011ull, 8);
  out += "tail";
  EXPECT_EQ(out.substr(0, 2), std::string("\x01\x02", 2));
  ByteReader r(out);
  EXPECT_EQ(r.BigEndian(2), 0x0102u);
  EXPECT_EQ(r.BigEndian(8), 0x0a0b0c0d0e0f1011ull);
  EXPECT_EQ(r.Take(4), "tail");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.BigEndian(1), 0u);  // past the end: zero, and the reader is failed for good
  EXPECT_FALSE(r.ok());
  ByteReader short_read("ab");
  EXPECT_EQ(short_read.Take(3), "");
  EXPECT_FALSE(short_read.ok());
  EXPECT_EQ(short_read.Take(1), "");  // nothing more after a failure
}

}  // namespace
}  // namespace tieup

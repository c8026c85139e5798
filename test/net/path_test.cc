#include "net/path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using testing::IsOk;
using testing::StatusIs;

std::string Norm(std::string_view raw) {
  Result<std::string> r = NormalizePath(raw);
  EXPECT_THAT(r, IsOk()) << raw;
  return r.ok() ? *r : "<error>";
}

void ExpectRefused(std::string_view raw, std::string_view reason) {
  Result<std::string> r = NormalizePath(raw);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, HasSubstr(std::string(reason))))
      << "target: " << raw << " gave " << (r.ok() ? *r : r.status().ToString());
}

TEST(NormalizePathTest, PlainPathsAreUnchanged) {
  EXPECT_EQ(Norm("/"), "/");
  EXPECT_EQ(Norm("/index.html"), "/index.html");
  EXPECT_EQ(Norm("/a/b/c.css"), "/a/b/c.css");
  EXPECT_EQ(Norm("/a/b/"), "/a/b/");
  EXPECT_EQ(Norm("/..."), "/...");
  EXPECT_EQ(Norm("/a..b/.c/..d"), "/a..b/.c/..d");
}

TEST(NormalizePathTest, DecodesPercentEncodingOnce) {
  EXPECT_EQ(Norm("/a%20b"), "/a b");
  EXPECT_EQ(Norm("/%41%62c"), "/Abc");
  EXPECT_EQ(Norm("/caf%C3%A9"), "/caf\xC3\xA9");
  EXPECT_EQ(Norm("/%3f%23"), "/?#");
  // Double encoding is decoded once only: the result is a literal name, not a traversal.
  EXPECT_EQ(Norm("/%252e%252e/etc/passwd"), "/%2e%2e/etc/passwd");
  EXPECT_EQ(Norm("/a/%252f/b"), "/a/%2f/b");
  EXPECT_EQ(Norm("/%25"), "/%");
}

TEST(NormalizePathTest, SplitsTheQueryOffWithoutDecodingIt) {
  Result<RequestTarget> t = ParseRequestTarget("/a/../b%20c?x=%2e%2e/&y=1");
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->path, "/b c");
  EXPECT_EQ(t->query, "x=%2e%2e/&y=1");
  EXPECT_EQ(Norm("/p?"), "/p");
  Result<RequestTarget> empty = ParseRequestTarget("/p");
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->query, "");
  // "?" inside the query is data.
  Result<RequestTarget> q2 = ParseRequestTarget("/p?a?b");
  ASSERT_THAT(q2, IsOk());
  EXPECT_EQ(q2->query, "a?b");
}

TEST(NormalizePathTest, ResolvesDotSegmentsInsideTheRoot) {
  EXPECT_EQ(Norm("/a/./b"), "/a/b");
  EXPECT_EQ(Norm("/a/../b"), "/b");
  EXPECT_EQ(Norm("/a/b/../../c"), "/c");
  EXPECT_EQ(Norm("/a/b/.."), "/a/");
  EXPECT_EQ(Norm("/a/b/."), "/a/b/");
  EXPECT_EQ(Norm("/a/.."), "/");
  EXPECT_EQ(Norm("/."), "/");
  EXPECT_EQ(Norm("/a/%2e%2e/b"), "/b");
  EXPECT_EQ(Norm("/a/%2E/b"), "/a/b");
  EXPECT_EQ(Norm("/a/.%2e/b"), "/b");
}

TEST(NormalizePathTest, CollapsesEmptySegmentsAndKeepsTheTrailingSlash) {
  EXPECT_EQ(Norm("//"), "/");
  EXPECT_EQ(Norm("//a//b"), "/a/b");
  EXPECT_EQ(Norm("/a//"), "/a/");
  EXPECT_EQ(Norm("/a///b///"), "/a/b/");
}

TEST(NormalizePathTest, AcceptsAbsoluteForm) {
  EXPECT_EQ(Norm("http://example.com/a/b"), "/a/b");
  EXPECT_EQ(Norm("HTTPS://example.com"), "/");
  Result<RequestTarget> t = ParseRequestTarget("http://example.com?x=1");
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->path, "/");
  EXPECT_EQ(t->query, "x=1");
  ExpectRefused("http://example.com/../x", "climbs above");
}

TEST(NormalizePathTest, RefusesTraversalAboveTheRootInEveryEncoding) {
  for (std::string_view raw :
       {"/..", "/../", "/../etc/passwd", "/a/../../etc/passwd", "/%2e%2e/etc/passwd",
        "/%2E%2e/etc/passwd", "/%2e%2E/", "/.%2e/etc/passwd", "/%2e./etc/passwd", "/a/b/../../../x",
        "/./../x", "//../x", "/a/%2e%2e/%2e%2e/x", "/%2e%2e"}) {
    ExpectRefused(raw, "climbs above");
  }
}

TEST(NormalizePathTest, RefusesEncodedSlashes) {
  ExpectRefused("/..%2f..%2fetc/passwd", "encoded slash");
  ExpectRefused("/..%2Fetc", "encoded slash");
  ExpectRefused("/a%2fb", "encoded slash");
  ExpectRefused("/%2e%2e%2f", "encoded slash");
}

TEST(NormalizePathTest, RefusesBackslashesRawOrEncoded) {
  ExpectRefused("/..\\..\\etc", "backslash");
  ExpectRefused("/a\\b", "backslash");
  ExpectRefused("/..%5c..%5cetc", "backslash");
  ExpectRefused("/%5C", "backslash");
}

TEST(NormalizePathTest, RefusesNulAndControlCharacters) {
  ExpectRefused("/index.html%00.txt", "NUL");
  ExpectRefused(std::string_view("/a\0b", 4), "NUL");
  ExpectRefused("/a%0d%0aSet-Cookie:x", "control character");
  ExpectRefused("/a%09b", "control character");
  ExpectRefused("/a%7f", "control character");
  ExpectRefused("/a\x01", "control character");
  ExpectRefused("/a b", "space");
}

TEST(NormalizePathTest, RefusesMalformedPercentEncoding) {
  ExpectRefused("/a%", "two hex digits");
  ExpectRefused("/a%2", "two hex digits");
  ExpectRefused("/a%zz", "two hex digits");
  ExpectRefused("/a%-1", "two hex digits");
  ExpectRefused("/%%32%65", "two hex digits");
}

TEST(NormalizePathTest, RefusesInvalidUtf8) {
  ExpectRefused("/%c0%ae%c0%ae/etc/passwd", "UTF-8");  // overlong '.'
  ExpectRefused("/%c0%af", "UTF-8");                   // overlong '/'
  ExpectRefused("/%e0%80%ae", "UTF-8");                // 3-byte overlong '.'
  ExpectRefused("/%f0%80%80%ae", "UTF-8");             // 4-byte overlong '.'
  ExpectRefused("/%c1%9c", "UTF-8");                   // overlong '\'
  ExpectRefused("/%ed%a0%80", "UTF-8");                // surrogate U+D800
  ExpectRefused("/%ed%bf%bf", "UTF-8");                // surrogate U+DFFF
  ExpectRefused("/%f4%90%80%80", "UTF-8");             // above U+10FFFF
  ExpectRefused("/%f5%80%80%80", "UTF-8");
  ExpectRefused("/%ff", "UTF-8");
  ExpectRefused("/%80", "UTF-8");       // stray continuation byte
  ExpectRefused("/%c3", "UTF-8");       // truncated
  ExpectRefused("/%e2%82", "UTF-8");    // truncated
  ExpectRefused("/%c3%28", "UTF-8");    // bad continuation
  ExpectRefused("/\xc0\xae", "UTF-8");  // raw overlong
}

TEST(NormalizePathTest, AcceptsValidMultibyteUtf8) {
  EXPECT_EQ(Norm("/%e2%82%ac"), "/\xe2\x82\xac");                             // U+20AC
  EXPECT_EQ(Norm("/%f0%9f%98%80"), "/\xf0\x9f\x98\x80");                      // U+1F600
  EXPECT_EQ(Norm("/%f4%8f%bf%bf"), "/\xf4\x8f\xbf\xbf");                      // U+10FFFF
  EXPECT_EQ(Norm("/%ed%9f%bf"), "/\xed\x9f\xbf");                             // U+D7FF
  EXPECT_EQ(Norm("/\xe6\x97\xa5\xe6\x9c\xac"), "/\xe6\x97\xa5\xe6\x9c\xac");  // raw
}

TEST(NormalizePathTest, RefusesTargetsThatAreNotPaths) {
  ExpectRefused("", "empty");
  ExpectRefused("*", "must start with '/'");
  ExpectRefused("example.com:443", "must start with '/'");
  ExpectRefused("a/b", "must start with '/'");
  ExpectRefused("/a#frag", "fragment");
  ExpectRefused("/a?x#frag", "fragment");
}

TEST(NormalizePathTest, IsValidUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xc2\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc2"));
  EXPECT_FALSE(IsValidUtf8("\xe0\x9f\x80"));
}

TEST(NormalizePathTest, NormalizePathToReusesTheOutputAndPointsTheQueryIntoTheInput) {
  std::string path = "left over from before";
  std::string_view query;
  std::string_view target = "/x/./y?q=1";
  ASSERT_THAT(NormalizePathTo(target, &path, &query), IsOk());
  EXPECT_EQ(path, "/x/y");
  EXPECT_EQ(query, "q=1");
  EXPECT_EQ(query.data(), target.data() + 7);
}

}  // namespace
}  // namespace tieup

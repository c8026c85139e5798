#include "net/http_message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tieup {
namespace {

TEST(HttpRequestTest, BuildsAndFindsHeadersIgnoringCase) {
  HttpRequest r("POST", "/a/b?x=1");
  EXPECT_EQ(r.method(), "POST");
  EXPECT_EQ(r.target(), "/a/b?x=1");
  EXPECT_EQ(r.path(), "/a/b");
  EXPECT_EQ(r.query(), "x=1");
  EXPECT_TRUE(r.AddHeader("Content-Type", "text/plain"));
  EXPECT_TRUE(r.AddHeader("X-Twice", "1"));
  EXPECT_TRUE(r.AddHeader("x-twice", "2"));
  EXPECT_EQ(r.FindHeader("content-type"), "text/plain");
  EXPECT_EQ(r.FindHeader("X-TWICE"), "1");
  EXPECT_EQ(r.FindHeader("missing"), std::nullopt);
  EXPECT_EQ(r.HeaderOr("missing", "dflt"), "dflt");
  ASSERT_EQ(r.Headers().size(), 3u);
  EXPECT_EQ(r.Headers()[2].value, "2");
  r.SetBody("payload");
  EXPECT_EQ(r.body(), "payload");
  r.Clear();
  EXPECT_EQ(r.header_count(), 0u);
  EXPECT_EQ(r.body(), "");
}

// What a prefix area's mount passes on (site/page_server.h): another path, the same request.
TEST(HttpRequestTest, WithPathAndRemoveHeader) {
  HttpRequest r("POST", "/kyoto/a%20b?x=1&y=%2F");
  r.AddHeader("Accept-Encoding", "gzip");
  r.AddHeader("Cookie", "c=1");
  r.AddHeader("accept-encoding", "br");
  r.SetBody("payload");
  r.SetRemoteAddressForTest("203.0.113.5");
  HttpRequest inner = r.WithPath("/a b");
  EXPECT_EQ(inner.path(), "/a b");
  EXPECT_EQ(inner.target(), "/a%20b?x=1&y=%2F");
  EXPECT_EQ(inner.query(), "x=1&y=%2F");
  EXPECT_EQ(inner.body(), "payload");
  EXPECT_EQ(inner.remote_address(), "203.0.113.5");
  inner.RemoveHeader("ACCEPT-ENCODING");
  EXPECT_EQ(inner.FindHeader("Accept-Encoding"), std::nullopt);
  EXPECT_EQ(inner.FindHeader("Cookie"), "c=1");
  EXPECT_EQ(inner.header_count(), 1u);
  EXPECT_EQ(r.header_count(), 3u);  // the original is untouched
  EXPECT_EQ(HttpRequest("GET", "/kyoto/").WithPath("/").target(), "/");
}

TEST(HttpRequestTest, RefusesHeaderInjection) {
  HttpRequest r("GET", "/");
  EXPECT_FALSE(r.AddHeader("X", "a\r\nEvil: 1"));
  EXPECT_FALSE(r.AddHeader("Bad Name", "v"));
  EXPECT_FALSE(r.AddHeader("", "v"));
  EXPECT_EQ(r.header_count(), 0u);
}

TEST(HttpResponseTest, HeadersArePreformattedAndValidated) {
  HttpResponse r(201);
  EXPECT_TRUE(r.AddHeader("ETag", "\"x\""));
  EXPECT_TRUE(r.AddHeader("Set-Cookie", "a=b; Path=/"));
  EXPECT_EQ(r.header_block(), "ETag: \"x\"\r\nSet-Cookie: a=b; Path=/\r\n");
  EXPECT_EQ(r.FindHeader("etag"), "\"x\"");
  EXPECT_EQ(r.FindHeader("set-cookie"), "a=b; Path=/");
  EXPECT_EQ(r.FindHeader("nope"), std::nullopt);
  EXPECT_FALSE(r.AddHeader("X", "a\r\nSet-Cookie: evil"));
  EXPECT_FALSE(r.AddHeader("X", std::string_view("a\0b", 3)));
  EXPECT_FALSE(r.AddHeader("X:Y", "v"));
  EXPECT_TRUE(r.AddHeader("X", "tab\tok"));
  // The server owns the framing headers.
  for (auto name :
       {"Content-Length", "content-length", "Transfer-Encoding", "Connection", "Date", "Server"}) {
    EXPECT_FALSE(r.AddHeader(name, "1")) << name;
  }
  ASSERT_EQ(r.Headers().size(), 3u);
}

TEST(HttpResponseTest, OwnedAndSharedBodies) {
  HttpResponse r = HttpResponse::Text(404, "gone");
  EXPECT_EQ(r.status(), 404);
  EXPECT_EQ(r.body(), "gone");
  EXPECT_EQ(r.FindHeader("Content-Type"), "text/plain; charset=utf-8");
  auto shared = std::make_shared<const std::string>("0123456789");
  r.SetSharedBody(shared, std::string_view(*shared).substr(2, 3));
  EXPECT_EQ(r.body(), "234");
  EXPECT_EQ(r.body().data(), shared->data() + 2);
  HttpResponse moved = std::move(r);
  EXPECT_EQ(moved.body(), "234");
  moved.SetSharedBody(shared);
  EXPECT_EQ(moved.body(), "0123456789");
  moved.SetBody("own");
  EXPECT_EQ(moved.body(), "own");
  EXPECT_EQ(HttpResponse::Html(200, "<p>").FindHeader("content-type"), "text/html; charset=utf-8");
}

TEST(HttpReasonPhraseTest, KnownAndUnknown) {
  EXPECT_EQ(HttpReasonPhrase(200), "OK");
  EXPECT_EQ(HttpReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(HttpReasonPhrase(799), "Unknown");
}

}  // namespace
}  // namespace tieup

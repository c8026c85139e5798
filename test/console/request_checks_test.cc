#include "console/request_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>

namespace tieup::console {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

HttpRequest Post(std::initializer_list<std::pair<std::string_view, std::string_view>> headers) {
  HttpRequest r("POST", "/orders");
  r.AddHeader("Host", "127.0.0.1:8080");
  for (const auto& [name, value] : headers) r.AddHeader(name, value);
  return r;
}

TEST(SameOriginTest, AcceptsThisConsolesPagesOnly) {
  EXPECT_TRUE(IsSameOrigin(Post({{"Origin", "http://127.0.0.1:8080"}}), false));
  EXPECT_TRUE(IsSameOrigin(Post({{"Origin", "HTTP://127.0.0.1:8080"}}), false));
  EXPECT_FALSE(IsSameOrigin(Post({{"Origin", "http://evil.example"}}), false));
  EXPECT_FALSE(IsSameOrigin(Post({{"Origin", "http://127.0.0.1:8081"}}), false));
  EXPECT_FALSE(IsSameOrigin(Post({{"Origin", "https://127.0.0.1:8080"}}), false));
  EXPECT_TRUE(IsSameOrigin(Post({{"Origin", "https://127.0.0.1:8080"}}), true));
  // Sec-Fetch-Site decides first.
  EXPECT_FALSE(IsSameOrigin(
      Post({{"Sec-Fetch-Site", "cross-site"}, {"Origin", "http://127.0.0.1:8080"}}), false));
  EXPECT_FALSE(IsSameOrigin(Post({{"Sec-Fetch-Site", "same-site"}}), false));
  EXPECT_TRUE(IsSameOrigin(Post({{"Sec-Fetch-Site", "same-origin"}}), false));
  // Referrer-Policy no-referrer: a browser's same-origin form post says "Origin: null".
  EXPECT_TRUE(IsSameOrigin(Post({{"Sec-Fetch-Site", "same-origin"}, {"Origin", "null"}}), false));
  EXPECT_FALSE(IsSameOrigin(Post({{"Origin", "null"}}), false));
  // Referer, when there is no Origin.
  EXPECT_TRUE(IsSameOrigin(Post({{"Referer", "http://127.0.0.1:8080/orders?x=1"}}), false));
  EXPECT_FALSE(IsSameOrigin(Post({{"Referer", "http://127.0.0.1:8080.evil.example/"}}), false));
  EXPECT_FALSE(IsSameOrigin(Post({{"Referer", "http://evil.example/"}}), false));
  // No browser headers at all: not a browser, left to the CSRF token.
  EXPECT_TRUE(IsSameOrigin(Post({}), false));
  HttpRequest no_host("POST", "/orders");
  EXPECT_FALSE(IsSameOrigin(no_host, false));
}

TEST(LoopbackTest, HostNames) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackAddress("192.0.2.1"));
  EXPECT_TRUE(HostIsLoopback("127.0.0.1:8080"));
  EXPECT_TRUE(HostIsLoopback("LOCALHOST:9000"));
  EXPECT_TRUE(HostIsLoopback("localhost"));
  EXPECT_TRUE(HostIsLoopback("[::1]:8080"));
  EXPECT_FALSE(HostIsLoopback("evil.example:8080"));
  EXPECT_FALSE(HostIsLoopback("127.0.0.1.evil.example"));
  EXPECT_FALSE(HostIsLoopback("[::2]:80"));
  EXPECT_FALSE(HostIsLoopback(""));
}

TEST(SafeNextPathTest, OnlyPathsOfThisConsole) {
  EXPECT_EQ(SafeNextPath("/orders?status=paid"), "/orders?status=paid");
  EXPECT_EQ(SafeNextPath(""), "/");
  EXPECT_EQ(SafeNextPath("https://evil.example/"), "/");
  EXPECT_EQ(SafeNextPath("//evil.example/"), "/");
  EXPECT_EQ(SafeNextPath("/\\evil.example"), "/");
  EXPECT_EQ(SafeNextPath("/a b"), "/");
  EXPECT_EQ(SafeNextPath("/x\r\nSet-Cookie: a=b"), "/");
  EXPECT_EQ(SafeNextPath("/sign-out"), "/");
  EXPECT_EQ(SafeNextPath("/sign-in?next=/x"), "/");
  EXPECT_EQ(SafeNextPath("/events"), "/");
}

TEST(SessionCookieTest, AttributesAndPrefix) {
  EXPECT_EQ(SessionCookie("abc", false), "tieup_console=abc; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_EQ(SessionCookie("abc", true),
            "__Host-tieup_console=abc; Path=/; HttpOnly; SameSite=Strict; Secure");
  EXPECT_THAT(SessionCookie("", false), HasSubstr("Max-Age=0"));
  EXPECT_THAT(SessionCookie("abc", false), Not(HasSubstr("Max-Age")));
}

TEST(SecurityHeadersTest, EveryHeader) {
  HttpResponse r(200);
  AddConsoleSecurityHeaders(r, false);
  EXPECT_EQ(r.FindHeader("Content-Security-Policy"), kConsoleContentSecurityPolicy);
  EXPECT_EQ(r.FindHeader("X-Frame-Options"), "DENY");
  EXPECT_EQ(r.FindHeader("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(r.FindHeader("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r.FindHeader("Cache-Control"), "no-store");
  EXPECT_FALSE(r.FindHeader("Strict-Transport-Security"));
  HttpResponse s(200);
  AddConsoleSecurityHeaders(s, true);
  EXPECT_TRUE(s.FindHeader("Strict-Transport-Security"));
}

TEST(UrlencodedTest, ContentTypes) {
  HttpRequest r("POST", "/");
  EXPECT_FALSE(IsUrlencodedForm(r));
  r.AddHeader("Content-Type", "Application/X-WWW-Form-Urlencoded; charset=UTF-8");
  EXPECT_TRUE(IsUrlencodedForm(r));
  HttpRequest m("POST", "/");
  m.AddHeader("Content-Type", "multipart/form-data; boundary=x");
  EXPECT_FALSE(IsUrlencodedForm(m));
}

TEST(MultipartCheckTest, ContentTypes) {
  HttpRequest m("POST", "/");
  EXPECT_FALSE(IsMultipartForm(m));
  m.AddHeader("Content-Type", "Multipart/Form-Data; boundary=----x");
  EXPECT_TRUE(IsMultipartForm(m));
  HttpRequest u("POST", "/");
  u.AddHeader("Content-Type", "application/x-www-form-urlencoded");
  EXPECT_FALSE(IsMultipartForm(u));
  HttpRequest mixed("POST", "/");
  mixed.AddHeader("Content-Type", "multipart/mixed; boundary=x");
  EXPECT_FALSE(IsMultipartForm(mixed));
}

TEST(FramedDocumentTest, WebOrigins) {
  for (const char* good : {"http://127.0.0.1:8081", "https://shop-b.example", "http://localhost",
                           "http://[::1]:8081", "https://tea-house.example:443"}) {
    EXPECT_TRUE(IsWebOrigin(good)) << good;
  }
  for (const char* bad : {"", "127.0.0.1:8081", "ftp://a.example", "http://", "http://a b",
                          "http://a.example/", "http://a.example:", "http://a.example:123456",
                          "http://a.example; script-src *", "http://a.example'", "http://[::1",
                          "http://[]:80", "http://[::1]x", "javascript:alert(1)"}) {
    EXPECT_FALSE(IsWebOrigin(bad)) << bad;
  }
}

TEST(FramedDocumentTest, Headers) {
  HttpResponse r(200);
  AddFramedDocumentHeaders(r, false, "http://127.0.0.1:8081");
  EXPECT_EQ(r.FindHeader("Content-Security-Policy"),
            "sandbox; default-src 'none'; style-src http://127.0.0.1:8081 'unsafe-inline'; "
            "img-src http://127.0.0.1:8081 data:; font-src http://127.0.0.1:8081; media-src "
            "http://127.0.0.1:8081; base-uri http://127.0.0.1:8081; form-action 'none'; "
            "frame-ancestors 'self'");
  EXPECT_EQ(r.FindHeader("X-Frame-Options"), "SAMEORIGIN");
  EXPECT_EQ(r.FindHeader("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(r.FindHeader("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r.FindHeader("Cache-Control"), "no-store");
  EXPECT_FALSE(r.FindHeader("Strict-Transport-Security"));
  HttpResponse s(200);
  AddFramedDocumentHeaders(s, true, "not an origin");
  EXPECT_EQ(s.FindHeader("Content-Security-Policy"),
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src "
            "'none'; media-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors "
            "'self'");
  EXPECT_TRUE(s.FindHeader("Strict-Transport-Security"));
}

}  // namespace
}  // namespace tieup::console

#include "content/release.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <functional>
#include <map>
#include <vector>

#include "base/encoding.h"
#include "content_test_util.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::tieup::content::testing::Entry;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

ReleaseManifest Sample() {
  ReleaseManifest m;
  m.site = "shop-b";
  m.area = Area::kTieup;
  m.version = 7;
  m.created = 1790000000;
  m.expires = 1790086400;
  FileEntry index = Entry(Sha256Hex("<h1>hi</h1>"), 11, "text/html; charset=utf-8");
  index.gzip = GzipVariant{Sha256Hex("gz"), 2};
  m.files["/index.html"] = index;
  FileEntry link = Entry(Sha256Hex("link"), 4, "text/html; charset=utf-8", UpdateMethod::kLink,
                         "https://main.example/cart");
  m.files["/cart.html"] = link;
  m.files["/a/b.css"] =
      Entry(Sha256Hex("b"), 1, "text/css; charset=utf-8", UpdateMethod::kOverwrite);
  return m;
}

TEST(ReleaseManifestTest, EncodeIsCanonicalSortedAndCompact) {
  ReleaseManifest m;
  m.site = "s";
  m.area = Area::kOriginal;
  m.version = 2;
  m.created = 10;
  FileEntry e = Entry(std::string(64, 'a'), 3, "text/plain");
  e.gzip = GzipVariant{std::string(64, 'b'), 2};
  m.files["/z.txt"] = e;
  m.files["/a.txt"] =
      Entry(std::string(64, 'c'), 1, "text/plain", UpdateMethod::kLink, "https://m/x");
  const std::string a(64, 'a'), b(64, 'b'), c(64, 'c');
  EXPECT_EQ(m.Encode(),
            "{\"area\":\"original\",\"created\":10,\"expires\":0,\"files\":{"
            "\"/a.txt\":{\"content_type\":\"text/plain\",\"hash\":\"" +
                c +
                "\",\"length\":1,\"link_url\":\"https://m/x\",\"method\":\"link\"},"
                "\"/z.txt\":{\"content_type\":\"text/plain\",\"gzip\":{\"hash\":\"" +
                b + "\",\"length\":2},\"hash\":\"" + a +
                "\",\"length\":3,\"method\":\"staged\"}},"
                "\"format\":1,\"site\":\"s\",\"version\":2}");
}

TEST(ReleaseManifestTest, RoundTripsThroughParse) {
  ReleaseManifest m = Sample();
  ASSERT_THAT(m.Validate(), IsOk());
  auto parsed = ReleaseManifest::Parse(m.Encode());
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, m);
  EXPECT_EQ(parsed->Encode(), m.Encode());
}

TEST(ReleaseManifestTest, ParseAcceptsOtherKeyOrderAndWhitespaceButEncodesCanonically) {
  ReleaseManifest m = Sample();
  boost::json::value v = boost::json::parse(m.Encode());
  // Re-serialize with reversed key order and whitespace.
  boost::json::object reversed;
  auto& obj = v.as_object();
  for (auto it = obj.end(); it != obj.begin();) {
    --it;
    reversed[it->key()] = it->value();
  }
  std::string text = " \n" + boost::json::serialize(reversed) + "\n";
  auto parsed = ReleaseManifest::Parse(text);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->Encode(), m.Encode());
}

TEST(ReleaseManifestTest, ParseCanonicalAcceptsOnlyTheCanonicalBytes) {
  ReleaseManifest m = Sample();
  const std::string bytes = m.Encode();
  auto parsed = ReleaseManifest::ParseCanonical(bytes);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, m);
  EXPECT_THAT(ReleaseManifest::ParseCanonical(bytes + "\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not in canonical form")));
  // A duplicated key: Parse keeps the last value, ParseCanonical refuses.
  std::string dup = bytes;
  dup.insert(1, "\"site\":\"shop-evil\",");
  EXPECT_THAT(ReleaseManifest::Parse(dup), IsOk());
  EXPECT_THAT(ReleaseManifest::ParseCanonical(dup),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate keys")));
  // An escaped character that the canonical form writes plainly.
  std::string escaped = bytes;
  escaped.replace(escaped.find("shop-b"), 6, "shop\\u002db");
  EXPECT_EQ(ReleaseManifest::Parse(escaped)->site, "shop-b");
  EXPECT_THAT(ReleaseManifest::ParseCanonical(escaped), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ReleaseManifestTest, LargeVersionsSurvive) {
  ReleaseManifest m = Sample();
  m.version = UINT64_MAX;
  auto parsed = ReleaseManifest::Parse(m.Encode());
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->version, UINT64_MAX);
}

// Applies `mutate` to the JSON of Sample() and expects Parse to refuse it naming `expected`.
struct Malformed {
  std::string name;
  std::function<void(boost::json::object&)> mutate;
  std::string expected;
};

boost::json::object& IndexEntry(boost::json::object& root) {
  return root["files"].as_object()["/index.html"].as_object();
}

class MalformedManifestTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedManifestTest, IsRefusedWithAClearMessage) {
  boost::json::value v = boost::json::parse(Sample().Encode());
  GetParam().mutate(v.as_object());
  auto parsed = ReleaseManifest::Parse(boost::json::serialize(v));
  EXPECT_THAT(parsed, StatusIs(StatusCode::kInvalidArgument, HasSubstr(GetParam().expected)));
}

const std::string kHash = std::string(64, 'e');

INSTANTIATE_TEST_SUITE_P(
    Fields, MalformedManifestTest,
    ::testing::Values(
        Malformed{"UnknownTopField", [](auto& o) { o["extra"] = 1; }, "unknown field \"extra\""},
        Malformed{"MissingFormat", [](auto& o) { o.erase("format"); }, "missing field 'format'"},
        Malformed{"MissingSite", [](auto& o) { o.erase("site"); }, "missing field 'site'"},
        Malformed{"MissingArea", [](auto& o) { o.erase("area"); }, "missing field 'area'"},
        Malformed{"MissingVersion", [](auto& o) { o.erase("version"); },
                  "missing field 'version'"},
        Malformed{"MissingCreated", [](auto& o) { o.erase("created"); },
                  "missing field 'created'"},
        Malformed{"MissingExpires", [](auto& o) { o.erase("expires"); },
                  "missing field 'expires'"},
        Malformed{"MissingFiles", [](auto& o) { o.erase("files"); }, "missing field 'files'"},
        Malformed{"FutureFormat", [](auto& o) { o["format"] = 2; }, "format 2 is not supported"},
        Malformed{"FormatAsString", [](auto& o) { o["format"] = "1"; },
                  "'format' in release metadata must be a non-negative integer"},
        Malformed{"SiteNotString", [](auto& o) { o["site"] = 5; }, "'site'"},
        Malformed{"SiteWithSlash", [](auto& o) { o["site"] = "../shop"; }, "bad site id"},
        Malformed{"EmptySite", [](auto& o) { o["site"] = ""; }, "bad site id"},
        Malformed{"UnknownArea", [](auto& o) { o["area"] = "both"; }, "unknown area \"both\""},
        Malformed{"VersionAsString", [](auto& o) { o["version"] = "7"; }, "'version'"},
        Malformed{"NegativeVersion", [](auto& o) { o["version"] = -7; }, "'version'"},
        Malformed{"FractionalVersion", [](auto& o) { o["version"] = 7.5; }, "'version'"},
        Malformed{"ZeroVersion", [](auto& o) { o["version"] = 0; }, "at least 1"},
        Malformed{"NegativeCreated", [](auto& o) { o["created"] = -1; }, "'created'"},
        Malformed{"HugeCreated", [](auto& o) { o["created"] = UINT64_MAX; }, "out of range"},
        Malformed{"ExpiresBeforeCreated", [](auto& o) { o["expires"] = 5; },
                  "is not after its creation"},
        Malformed{"FilesNotObject", [](auto& o) { o["files"] = boost::json::array(); },
                  "'files' in release metadata must be an object"},
        Malformed{"EntryNotObject",
                  [](auto& o) { o["files"].as_object()["/x.html"] = "abc"; },
                  "file \"/x.html\" must be an object"},
        Malformed{"EntryUnknownField", [](auto& o) { IndexEntry(o)["mode"] = 420; },
                  "unknown field \"mode\" in file \"/index.html\""},
        Malformed{"EntryMissingHash", [](auto& o) { IndexEntry(o).erase("hash"); },
                  "missing field 'hash' in file \"/index.html\""},
        Malformed{"EntryMissingLength", [](auto& o) { IndexEntry(o).erase("length"); },
                  "missing field 'length'"},
        Malformed{"EntryMissingType", [](auto& o) { IndexEntry(o).erase("content_type"); },
                  "missing field 'content_type'"},
        Malformed{"EntryMissingMethod", [](auto& o) { IndexEntry(o).erase("method"); },
                  "missing field 'method'"},
        Malformed{"UppercaseHash",
                  [](auto& o) { IndexEntry(o)["hash"] = std::string(64, 'E'); },
                  "bad content hash"},
        Malformed{"ShortHash", [](auto& o) { IndexEntry(o)["hash"] = "abc"; },
                  "bad content hash"},
        Malformed{"HashNotString", [](auto& o) { IndexEntry(o)["hash"] = 1; }, "'hash'"},
        Malformed{"LengthAsString", [](auto& o) { IndexEntry(o)["length"] = "11"; },
                  "'length' in file \"/index.html\" must be a non-negative integer"},
        Malformed{"ContentTypeInjection",
                  [](auto& o) { IndexEntry(o)["content_type"] = "text/html\r\nX-Evil: 1"; },
                  "bad content_type"},
        Malformed{"EmptyContentType", [](auto& o) { IndexEntry(o)["content_type"] = ""; },
                  "bad content_type"},
        Malformed{"UnknownMethod", [](auto& o) { IndexEntry(o)["method"] = "copy"; },
                  "unknown update method \"copy\""},
        Malformed{"LinkWithoutUrl", [](auto& o) { IndexEntry(o)["method"] = "link"; },
                  "has method \"link\" but no link_url"},
        Malformed{"UrlWithoutLink",
                  [](auto& o) { IndexEntry(o)["link_url"] = "https://main.example/"; },
                  "link_url is only for method \"link\""},
        Malformed{"EmptyLinkUrl", [](auto& o) { IndexEntry(o)["link_url"] = ""; },
                  "link_url is empty"},
        Malformed{"NonHttpLinkUrl",
                  [](auto& o) {
                    IndexEntry(o)["method"] = "link";
                    IndexEntry(o)["link_url"] = "javascript:alert(1)";
                  },
                  "bad link_url"},
        Malformed{"GzipNotObject", [](auto& o) { IndexEntry(o)["gzip"] = kHash; },
                  "'gzip' in file \"/index.html\" must be an object"},
        Malformed{"GzipUnknownField",
                  [](auto& o) { IndexEntry(o)["gzip"].as_object()["level"] = 9; },
                  "unknown field \"level\" in file \"/index.html\" gzip"},
        Malformed{"GzipMissingLength",
                  [](auto& o) { IndexEntry(o)["gzip"].as_object().erase("length"); },
                  "missing field 'length' in file \"/index.html\" gzip"},
        Malformed{"GzipBadHash",
                  [](auto& o) { IndexEntry(o)["gzip"].as_object()["hash"] = "../x"; },
                  "bad content hash"},
        Malformed{"PathWithDotDot",
                  [](auto& o) {
                    boost::json::value copy = IndexEntry(o);
                    o["files"].as_object()["/a/../etc/passwd"] = copy;
                  },
                  "bad page path \"/a/../etc/passwd\""}),
    [](const auto& info) { return info.param.name; });

TEST(ReleaseManifestTest, ParseRefusesNonJsonAndNonObjects) {
  EXPECT_THAT(ReleaseManifest::Parse("{\"format\":"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(ReleaseManifest::Parse("[1,2]"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("must be a JSON object")));
  EXPECT_THAT(ReleaseManifest::Parse(""), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ReleaseManifestTest, ValidateChecksHandBuiltManifests) {
  ReleaseManifest m = Sample();
  m.format = 3;
  EXPECT_THAT(m.Validate(), StatusIs(StatusCode::kInvalidArgument, HasSubstr("format 3")));
  m = Sample();
  m.files["relative.html"] = m.files["/index.html"];
  EXPECT_THAT(m.Validate(), StatusIs(StatusCode::kInvalidArgument, HasSubstr("start with '/'")));
}

struct PathCase {
  std::string name;
  std::string path;
  std::string expected;  // empty: valid
};

class PathValidationTest : public ::testing::TestWithParam<PathCase> {};

TEST_P(PathValidationTest, Validates) {
  Status s = ValidatePath(GetParam().path);
  if (GetParam().expected.empty()) {
    EXPECT_THAT(s, IsOk());
  } else {
    EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument, HasSubstr(GetParam().expected)));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Paths, PathValidationTest,
    ::testing::Values(PathCase{"Simple", "/index.html", ""},
                      PathCase{"Nested", "/news/2026/a.html", ""},
                      PathCase{"DotsInsideName", "/a..b/c...d", ""},
                      // Percent-escapes are not decoded here: "%2e%2e" is a literal name.
                      PathCase{"PercentEncodedDotsAreLiteral", "/%2e%2e/x.html", ""},
                      PathCase{"Utf8", "/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80.html", ""},
                      PathCase{"Empty", "", "start with '/'"},
                      PathCase{"Relative", "a.html", "start with '/'"},
                      PathCase{"Root", "/", "not end with '/'"},
                      PathCase{"TrailingSlash", "/news/", "not end with '/'"},
                      PathCase{"DotDotInside", "/a/../b", "\"..\" segment"},
                      PathCase{"DotDotAtStart", "/../etc/passwd", "\"..\" segment"},
                      PathCase{"DotDotAtEnd", "/a/..", "\"..\" segment"},
                      PathCase{"DotSegment", "/./a", "\".\" or \"..\" segment"},
                      PathCase{"DoubleSlash", "/a//b", "empty segment"},
                      PathCase{"LeadingDoubleSlash", "//evil.example/x", "empty segment"},
                      PathCase{"Backslash", "/a\\..\\b", "backslash"},
                      PathCase{"Nul", std::string("/a\0b", 4), "NUL"},
                      PathCase{"Newline", "/a\nb", "control character"},
                      PathCase{"Tab", "/a\tb", "control character"},
                      PathCase{"Delete", "/a\x7f", "control character"},
                      PathCase{"InvalidByte", "/a\xff", "not valid UTF-8"},
                      PathCase{"LoneContinuation", "/a\x80", "not valid UTF-8"},
                      PathCase{"OverlongSlash", "/a\xc0\xaf..", "not valid UTF-8"},
                      PathCase{"Surrogate", "/a\xed\xa0\x80", "not valid UTF-8"},
                      PathCase{"AboveUnicode", "/a\xf4\x90\x80\x80", "not valid UTF-8"},
                      PathCase{"TruncatedSequence", "/a\xe6\x97", "not valid UTF-8"},
                      PathCase{"TooLong", "/" + std::string(1024, 'a'), "longer than 1024"}),
    [](const auto& info) { return info.param.name; });

TEST(ValidateTest, SiteIds) {
  EXPECT_THAT(ValidateSiteId("shop-b"), IsOk());
  EXPECT_THAT(ValidateSiteId("Main_1.example"), IsOk());
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "a/b", "a b", "shop\n", std::string(129, 'a')}) {
    EXPECT_THAT(ValidateSiteId(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ValidateTest, AreaAndMethodNamesRoundTrip) {
  for (Area a : {Area::kTieup, Area::kOriginal}) EXPECT_EQ(*ParseArea(AreaName(a)), a);
  for (UpdateMethod m : {UpdateMethod::kStaged, UpdateMethod::kOverwrite, UpdateMethod::kLink}) {
    EXPECT_EQ(*ParseUpdateMethod(UpdateMethodName(m)), m);
  }
  EXPECT_THAT(ParseArea("Tieup"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseUpdateMethod(""), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ReleaseDiffTest, ReportsAddedChangedRemovedWithByteTotals) {
  ReleaseManifest before = Sample();
  ReleaseManifest after = Sample();
  after.version = 8;
  after.files.erase("/a/b.css");                                // removed, 1 byte
  after.files["/index.html"].hash = Sha256Hex("<h1>new</h1>");  // changed
  after.files["/index.html"].length = 12;
  after.files["/cart.html"].link_url = "https://main.example/cart2";   // changed (link only)
  after.files["/new.html"] = Entry(Sha256Hex("n"), 100, "text/html");  // added
  after.files["/old-same.html"] = Entry(Sha256Hex("o"), 5, "text/html");
  before.files["/old-same.html"] = after.files["/old-same.html"];  // unchanged

  ReleaseDiff d = Diff(before, after);
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].path, "/new.html");
  EXPECT_EQ(d.added[0].before, nullptr);
  EXPECT_EQ(d.added_bytes, 100u);
  ASSERT_EQ(d.changed.size(), 2u);
  EXPECT_EQ(d.changed[0].path, "/cart.html");
  EXPECT_EQ(d.changed[1].path, "/index.html");
  EXPECT_EQ(d.changed[1].before->length, 11u);
  EXPECT_EQ(d.changed[1].after->length, 12u);
  EXPECT_EQ(d.changed_bytes, 4u + 12u);
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].path, "/a/b.css");
  EXPECT_EQ(d.removed_bytes, 1u);
  EXPECT_FALSE(d.empty());
  EXPECT_TRUE(Diff(after, after).empty());
}

TEST(ReleaseDiffTest, FromAnEmptyReleaseEverythingIsAdded) {
  ReleaseManifest empty;
  ReleaseDiff d = Diff(empty, Sample());
  EXPECT_EQ(d.added.size(), 3u);
  EXPECT_EQ(d.added_bytes, 11u + 4u + 1u);
  EXPECT_TRUE(d.removed.empty());
}

TEST(ReleaseManifestTest, EncodeEscapesLikeJsonForOddPaths) {
  ReleaseManifest m = Sample();
  m.files["/say\"hi\".html"] = Entry(Sha256Hex("q"), 1, "text/html; charset=utf-8");
  m.files["/caf\xc3\xa9.html"] = Entry(Sha256Hex("c"), 1, "text/html; charset=utf-8");
  const std::string bytes = m.Encode();
  auto parsed = ReleaseManifest::ParseCanonical(bytes);
  ASSERT_THAT(parsed.status(), IsOk());
  EXPECT_EQ(*parsed, m);
  EXPECT_THAT(bytes, HasSubstr("\"/say\\\"hi\\\".html\""));
}

// Sample() with /index.html changed, /cart.html removed and /new.html added.
ReleaseManifest Next() {
  ReleaseManifest m = Sample();
  m.version = 9;
  m.created += 100;
  m.expires += 100;
  m.files["/index.html"].hash = Sha256Hex("<h1>hello</h1>");
  m.files["/index.html"].length = 14;
  m.files.erase("/cart.html");
  m.files["/new.html"] = Entry(Sha256Hex("new"), 3, "text/html; charset=utf-8");
  return m;
}

TEST(ReleaseDeltaTest, HoldsOnlyTheChangesAndAppliesToTheExactResult) {
  const ReleaseManifest base = Sample(), next = Next();
  ReleaseDelta d = MakeDelta(base, next);
  EXPECT_EQ(d.base_version, 7u);
  EXPECT_EQ(d.version, 9u);
  EXPECT_EQ(d.base_hash, base.Hash());
  EXPECT_EQ(d.result_hash, next.Hash());
  ASSERT_EQ(d.changes.size(), 3u);
  EXPECT_FALSE(d.changes.at("/cart.html").has_value());
  EXPECT_EQ(d.changes.at("/new.html")->length, 3u);
  EXPECT_FALSE(d.changes.contains("/a/b.css"));

  auto parsed = ReleaseDelta::ParseCanonical(d.Encode());
  ASSERT_THAT(parsed.status(), IsOk());
  EXPECT_EQ(*parsed, d);
  auto applied = ApplyDelta(base, *parsed);
  ASSERT_THAT(applied.status(), IsOk());
  EXPECT_EQ(*applied, next);
  EXPECT_EQ(applied->Encode(), next.Encode());
  EXPECT_EQ(applied->Hash(), d.result_hash);
}

TEST(ReleaseDeltaTest, ItsSizeFollowsTheChangesNotTheSite) {
  ReleaseManifest base = Sample();
  for (int i = 0; i < 5000; ++i) {
    base.files["/p/" + std::to_string(i) + ".html"] =
        Entry(Sha256Hex(std::to_string(i)), 8000, "text/html; charset=utf-8");
  }
  ReleaseManifest next = base;
  next.version = 8;
  next.files["/p/42.html"].hash = Sha256Hex("changed");
  const std::string delta = MakeDelta(base, next).Encode();
  EXPECT_LT(delta.size(), 700u);
  EXPECT_GT(next.Encode().size(), 500000u);
}

TEST(ReleaseDeltaTest, RefusesAnotherBaseOrATamperedResult) {
  const ReleaseManifest base = Sample(), next = Next();
  const ReleaseDelta d = MakeDelta(base, next);

  ReleaseManifest other = base;  // same version, other content
  other.files["/a/b.css"].length = 2;
  EXPECT_THAT(ApplyDelta(other, d).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("base hash")));
  ReleaseManifest older = base;
  older.version = 6;
  EXPECT_THAT(ApplyDelta(older, d).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("applies to version 7")));
  ReleaseManifest elsewhere = base;
  elsewhere.site = "shop-c";
  EXPECT_THAT(ApplyDelta(elsewhere, d).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("shop-b/tieup")));

  ReleaseDelta altered = d;  // a change the signer did not make
  altered.changes["/a/b.css"] = Entry(Sha256Hex("evil"), 4, "text/css; charset=utf-8");
  EXPECT_THAT(ApplyDelta(base, altered).status(),
              StatusIs(StatusCode::kDataLoss, HasSubstr("result hash")));

  ReleaseDelta removes_absent = d;
  removes_absent.changes["/nowhere.html"] = std::nullopt;
  EXPECT_THAT(ApplyDelta(base, removes_absent).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("does not have")));
}

TEST(ReleaseDeltaTest, ParseRefusesMalformedDeltas) {
  const ReleaseManifest base = Sample(), next = Next();
  const ReleaseDelta d = MakeDelta(base, next);
  const std::string good = d.Encode();
  auto mutate = [&](auto fn) {
    boost::json::value v = boost::json::parse(good);
    fn(v.as_object());
    // Canonical re-encoding of the altered JSON: sorted keys, as Encode writes them.
    boost::json::object& o = v.as_object();
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    std::sort(keys.begin(), keys.end());
    std::string out = "{";
    for (const std::string& k : keys) {
      if (out.size() > 1) out += ',';
      out += boost::json::serialize(boost::json::string(k)) + ":" + boost::json::serialize(o[k]);
    }
    return ReleaseDelta::ParseCanonical(out + "}").status();
  };
  EXPECT_THAT(mutate([](boost::json::object& o) { o["base_version"] = 9; }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("older than the result")));
  EXPECT_THAT(mutate([](boost::json::object& o) { o["base_hash"] = "xyz"; }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("base_hash")));
  EXPECT_THAT(mutate([](boost::json::object& o) { o["extra"] = 1; }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field")));
  EXPECT_THAT(mutate([](boost::json::object& o) { o.erase("result_hash"); }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("result_hash")));
  EXPECT_THAT(ReleaseDelta::ParseCanonical("{\"area\": 1}").status(),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ReleaseDelta::ParseCanonical(" " + good).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("canonical")));
  EXPECT_THAT(ReleaseDelta::ParseCanonical(good).status(), IsOk());
}

TEST(ReleaseManifestTest, CompactFormRoundTripsAndRefusesDamage) {
  ReleaseManifest m = Sample();  // link, gzip and overwrite entries
  const std::string compact = m.EncodeCompact();
  auto back = ReleaseManifest::ParseCompact(compact);
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(*back, m);
  EXPECT_EQ(back->Encode(), m.Encode());
  EXPECT_LT(compact.size(), m.Encode().size());
  EXPECT_THAT(ReleaseManifest::ParseCompact(compact.substr(0, compact.size() - 3)).status(),
              StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(ReleaseManifest::ParseCompact(compact + "x").status(),
              StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(ReleaseManifest::ParseCompact(m.Encode()).status(), StatusIs(StatusCode::kDataLoss));
}

// Main's emergency edit grant is part of the signed metadata: in the canonical bytes, the hash,
// deltas and the compact form; absent (as before) when nothing is granted.
TEST(ReleaseManifestTest, TheEmergencyEditGrantIsSignedMetadata) {
  ReleaseManifest none = Sample();
  EXPECT_EQ(none.Encode().find("emergency_edit"), std::string::npos);
  ReleaseManifest keep = Sample();
  keep.emergency_edit = EmergencyEditPolicy::kKeep;
  EXPECT_THAT(keep.Encode(), HasSubstr(",\"created\":1790000000,\"emergency_edit\":\"keep\","
                                       "\"expires\":"));
  EXPECT_NE(keep.Hash(), none.Hash());
  ReleaseManifest overwrite = keep;
  overwrite.emergency_edit = EmergencyEditPolicy::kOverwrite;
  EXPECT_NE(overwrite.Hash(), keep.Hash());
  for (const ReleaseManifest& m : {none, keep, overwrite}) {
    auto parsed = ReleaseManifest::ParseCanonical(m.Encode());
    ASSERT_THAT(parsed.status(), IsOk());
    EXPECT_EQ(*parsed, m);
    auto compact = ReleaseManifest::ParseCompact(m.EncodeCompact());
    ASSERT_THAT(compact.status(), IsOk());
    EXPECT_EQ(*compact, m);
  }
  // Releases without a grant keep their compact bytes (stored rows stay readable as they were).
  EXPECT_TRUE(none.EncodeCompact().starts_with("tieup-manifest/1\n"));

  // A delta carries the grant of its result, and a changed grant alone makes a delta.
  ReleaseManifest next = keep;
  next.version = 8;
  ReleaseDelta d = MakeDelta(none, next);
  EXPECT_EQ(d.emergency_edit, EmergencyEditPolicy::kKeep);
  EXPECT_TRUE(d.changes.empty());
  auto parsed = ReleaseDelta::ParseCanonical(d.Encode());
  ASSERT_THAT(parsed.status(), IsOk());
  auto applied = ApplyDelta(none, *parsed);
  ASSERT_THAT(applied.status(), IsOk());
  EXPECT_EQ(*applied, next);
  // A delta whose grant was altered no longer gives the signed result.
  ReleaseDelta forged = d;
  forged.emergency_edit = EmergencyEditPolicy::kOverwrite;
  EXPECT_THAT(ApplyDelta(none, forged).status(), StatusIs(StatusCode::kDataLoss));

  EXPECT_THAT(ReleaseManifest::Parse(R"({"area":"tieup","created":1,"emergency_edit":"all",)"
                                     R"("expires":0,"files":{},"format":1,"site":"s","version":1})")
                  .status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("emergency edit policy")));
  ReleaseManifest original = keep;
  original.area = Area::kOriginal;
  EXPECT_THAT(original.Validate(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("only main grants it")));
}

TEST(ReleaseManifestTest, EncodeToGivesTheCanonicalBytesInPartsAndStopsAtAnError) {
  ReleaseManifest m = Sample();
  for (int i = 0; i < 300; ++i) {
    m.files["/p/" + std::to_string(i) + ".html"] =
        Entry(Sha256Hex(std::to_string(i)), 10 + i, "text/html; charset=utf-8");
  }
  std::string joined;
  int parts = 0;
  ASSERT_THAT(m.EncodeTo([&](std::string_view part) {
    joined += part;
    ++parts;
    return Status::Ok();
  }),
              IsOk());
  EXPECT_EQ(joined, m.Encode());
  EXPECT_GT(parts, 4);
  int calls = 0;
  EXPECT_THAT(m.EncodeTo([&](std::string_view) {
    return ++calls == 2 ? Status::Unavailable("disk full") : Status::Ok();
  }),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(calls, 2);
}

// A release of `n` pages with every kind of entry (plain, gzip variant, link, overwrite), enough
// of them for many chunks.
ReleaseManifest ManyPages(int n) {
  ReleaseManifest m = Sample();
  for (int i = 0; i < n; ++i) {
    const std::string path = "/p/" + std::to_string(i) + ".html";
    FileEntry e = Entry(Sha256Hex(path), 100 + i, "text/html; charset=utf-8");
    if (i % 3 == 0) e.gzip = GzipVariant{Sha256Hex("gz" + path), static_cast<uint64_t>(40 + i)};
    if (i % 7 == 0) {
      e.method = UpdateMethod::kLink;
      e.link_url = "https://main.example" + path;
    } else if (i % 11 == 5) {
      e.method = UpdateMethod::kOverwrite;
    }
    m.files[path] = std::move(e);
  }
  return m;
}

// The compact form split for chunked storage (main's sync_chunks) is the compact form: header,
// then the chunks in order, each named by the SHA-256 of its bytes; a copy changed in one file
// shares the bytes of every other chunk.
TEST(ReleaseManifestTest, CompactChunksMakeUpTheCompactForm) {
  const ReleaseManifest m = ManyPages(400);
  const auto chunks = m.CompactChunks();
  ASSERT_EQ(chunks.size(), m.files.chunk_count());
  ASSERT_GT(chunks.size(), 4u);
  std::string joined = m.EncodeCompactHeader();
  for (const auto& [key, bytes] : chunks) {
    EXPECT_EQ(key, Sha256(bytes));
    joined += bytes;
  }
  EXPECT_EQ(joined, m.EncodeCompact());
  auto back = ReleaseManifest::ParseCompact(joined);
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(*back, m);

  ReleaseManifest next = m;
  next.files["/p/200.html"].length += 1;
  const auto next_chunks = next.CompactChunks();
  ASSERT_EQ(next_chunks.size(), chunks.size());
  size_t same = 0, equal_keys = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    same += chunks[i].bytes.data() == next_chunks[i].bytes.data() ? 1 : 0;
    equal_keys += chunks[i].key == next_chunks[i].key ? 1 : 0;
  }
  EXPECT_EQ(same, chunks.size() - 1);
  EXPECT_EQ(equal_keys, chunks.size() - 1);
}

// The same release read back from its bytes: chunks that share nothing with `m`'s, and no
// cached data.
ReleaseManifest Fresh(const ReleaseManifest& m) {
  // The compact form, which is read back without validation (some cases below are invalid).
  auto parsed = ReleaseManifest::ParseCompact(m.EncodeCompact());
  EXPECT_THAT(parsed.status(), IsOk());
  return parsed.ok() ? *parsed : ReleaseManifest{};
}

TEST(ReleaseHashTest, DependsOnTheContentNotOnHowTheReleaseWasMade) {
  const ReleaseManifest fresh = ManyPages(400);
  ASSERT_GT(fresh.files.chunk_count(), 4u);
  const std::string hash = fresh.Hash();
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_THAT(ValidateHashHex(hash), IsOk());
  EXPECT_EQ(fresh.Hash(), hash);  // from the cached digests

  // Inserted in the reverse order.
  ReleaseManifest reversed = fresh;
  reversed.files.clear();
  std::vector<std::pair<std::string, FileEntry>> entries(fresh.files.begin(), fresh.files.end());
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)
    reversed.files[it->first] = it->second;
  EXPECT_EQ(reversed.Hash(), hash);

  // A copy changed and changed back: one entry edited, every chunk's last path (a boundary)
  // removed, which merges chunks, a path added; then all undone.
  ReleaseManifest copy = fresh;
  EXPECT_EQ(copy.Hash(), hash);
  const FileEntry saved = copy.files.at("/p/42.html");
  copy.files["/p/42.html"].length = 1;
  std::vector<std::pair<std::string, FileEntry>> removed;
  const FileMap& read = copy.files;
  for (size_t i = 0; i + 1 < read.chunk_count(); ++i) {
    removed.emplace_back(*read.chunk(i).entries().rbegin());
  }
  for (const auto& [path, e] : removed) copy.files.erase(path);
  copy.files["/zz/added.html"] = Entry(Sha256Hex("added"), 5, "text/html");
  EXPECT_NE(copy.Hash(), hash);
  copy.files.erase("/zz/added.html");
  for (const auto& [path, e] : removed) copy.files[path] = e;
  copy.files["/p/42.html"] = saved;
  EXPECT_EQ(copy.Hash(), hash);
  EXPECT_EQ(copy.Encode(), fresh.Encode());

  // Read back from bytes (compact form, JSON).
  EXPECT_EQ(Fresh(fresh).Hash(), hash);
  auto parsed = ReleaseManifest::ParseCanonical(fresh.Encode());
  ASSERT_THAT(parsed.status(), IsOk());
  EXPECT_EQ(parsed->Hash(), hash);
}

TEST(ReleaseHashTest, ChangesWithEveryFieldOfTheHeaderAndOfEachEntry) {
  const ReleaseManifest base = ManyPages(100);
  const std::string base_hash = base.Hash();  // fills the chunks' caches, shared by the copies
  const std::string path = "/p/30.html";      // has a gzip variant
  ASSERT_TRUE(base.files.at(path).gzip.has_value());
  struct Case {
    std::string name;
    std::function<void(ReleaseManifest&)> change;
  };
  const std::vector<Case> cases = {
      {"format", [](ReleaseManifest& m) { m.format = 2; }},
      {"site", [](ReleaseManifest& m) { m.site = "shop-c"; }},
      {"area", [](ReleaseManifest& m) { m.area = Area::kOriginal; }},
      {"version", [](ReleaseManifest& m) { m.version += 1; }},
      {"created", [](ReleaseManifest& m) { m.created += 1; }},
      {"expires", [](ReleaseManifest& m) { m.expires += 1; }},
      {"expires never", [](ReleaseManifest& m) { m.expires = 0; }},
      {"entry hash", [&](ReleaseManifest& m) { m.files[path].hash = Sha256Hex("other"); }},
      {"entry length", [&](ReleaseManifest& m) { m.files[path].length += 1; }},
      {"entry content_type",
       [&](ReleaseManifest& m) { m.files[path].content_type = "text/plain"; }},
      {"entry method",
       [&](ReleaseManifest& m) { m.files[path].method = UpdateMethod::kOverwrite; }},
      {"entry link",
       [&](ReleaseManifest& m) {
         m.files[path].method = UpdateMethod::kLink;
         m.files[path].link_url = "https://main.example/x";
       }},
      {"entry link_url",
       [](ReleaseManifest& m) { m.files["/p/7.html"].link_url = "https://main.example/y"; }},
      {"gzip removed", [&](ReleaseManifest& m) { m.files[path].gzip.reset(); }},
      {"gzip added",
       [](ReleaseManifest& m) {
         m.files["/p/31.html"].gzip = GzipVariant{Sha256Hex("g"), 1};
       }},
      {"gzip hash", [&](ReleaseManifest& m) { m.files[path].gzip->hash = Sha256Hex("g2"); }},
      {"gzip length", [&](ReleaseManifest& m) { m.files[path].gzip->length += 1; }},
      {"path renamed",
       [&](ReleaseManifest& m) {
         FileEntry e = m.files.at(path);
         m.files.erase(path);
         m.files["/p/30.htm"] = e;
       }},
      {"file added",
       [](ReleaseManifest& m) { m.files["/new.html"] = Entry(Sha256Hex("n"), 1, "text/html"); }},
      {"file removed", [&](ReleaseManifest& m) { m.files.erase(path); }},
      {"first file removed", [](ReleaseManifest& m) { m.files.erase(m.files.begin()->first); }},
      {"all files removed", [](ReleaseManifest& m) { m.files.clear(); }},
  };
  std::map<std::string, std::string> seen = {{base_hash, "base"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ReleaseManifest changed = base;
    c.change(changed);
    const std::string h = changed.Hash();
    EXPECT_NE(h, base_hash);
    // The copy's cached digests are those of its own chunks: a fresh computation agrees.
    EXPECT_EQ(h, Fresh(changed).Hash());
    auto [it, inserted] = seen.emplace(h, c.name);
    EXPECT_TRUE(inserted) << "same hash as " << it->second;
  }
  EXPECT_EQ(base.Hash(), base_hash);  // the copies' changes did not reach the base's chunks
}

TEST(ReleaseHashTest, ACopyThatChangesOneFileSharesTheOtherChunksAndTheirDigests) {
  const ReleaseManifest base = ManyPages(1000);
  const std::string base_hash = base.Hash();
  ReleaseManifest next = base;
  next.files["/p/500.html"].hash = Sha256Hex("changed");
  const std::string next_hash = next.Hash();
  ASSERT_EQ(next.files.chunk_count(), base.files.chunk_count());
  size_t shared = 0;
  for (size_t i = 0; i < next.files.chunk_count(); ++i)
    shared += next.files.SharesChunk(i, base.files, i);
  EXPECT_EQ(shared, base.files.chunk_count() - 1);
  EXPECT_NE(next_hash, base_hash);
  EXPECT_EQ(next_hash, Fresh(next).Hash());
  EXPECT_EQ(base.Hash(), base_hash);
  EXPECT_EQ(base_hash, Fresh(base).Hash());
}

// Fails when the definition in release.h and the code drift apart: the hash is recomputed
// here from the documented recipe, with the chunks cut as documented.
TEST(ReleaseHashTest, FollowsTheDocumentedDefinition) {
  auto entry_json = [](const std::string& path, const FileEntry& e) {
    auto str = [](std::string_view s) { return boost::json::serialize(boost::json::string(s)); };
    std::string out = str(path) + ":{\"content_type\":" + str(e.content_type);
    if (e.gzip) {
      out += ",\"gzip\":{\"hash\":" + str(e.gzip->hash) +
             ",\"length\":" + std::to_string(e.gzip->length) + "}";
    }
    out += ",\"hash\":" + str(e.hash) + ",\"length\":" + std::to_string(e.length);
    if (!e.link_url.empty()) out += ",\"link_url\":" + str(e.link_url);
    out += ",\"method\":" + str(UpdateMethodName(e.method)) + "}";
    return out;
  };
  auto expected_hash = [&](const ReleaseManifest& m) {
    // The chunks: the paths in byte order, cut after every boundary path.
    std::vector<std::string> chunks(1);
    std::vector<std::vector<std::string>> chunk_paths(1);
    for (const auto& [path, e] : m.files) {
      if (!chunks.back().empty()) chunks.back() += ',';
      chunks.back() += entry_json(path, e);
      chunk_paths.back().push_back(path);
      if (FileMap::IsBoundary(path)) {
        chunks.emplace_back();
        chunk_paths.emplace_back();
      }
    }
    if (chunks.back().empty()) {
      chunks.pop_back();
      chunk_paths.pop_back();
    }
    // They are the map's chunks, and their JSON is what Encode writes for `files`.
    EXPECT_EQ(chunk_paths.size(), m.files.chunk_count());
    for (size_t i = 0; i < chunk_paths.size() && i < m.files.chunk_count(); ++i) {
      std::vector<std::string> keys;
      for (const auto& kv : m.files.chunk(i).entries()) keys.push_back(kv.first);
      EXPECT_EQ(keys, chunk_paths[i]) << "chunk " << i;
    }
    std::string files_json;
    for (const std::string& c : chunks) files_json += (files_json.empty() ? "" : ",") + c;
    EXPECT_THAT(m.Encode(), HasSubstr("\"files\":{" + files_json + "},\"format\""));

    const std::string header = "{\"area\":\"" + std::string(AreaName(m.area)) +
                               "\",\"created\":" + std::to_string(m.created) +
                               ",\"expires\":" + std::to_string(m.expires) +
                               ",\"format\":" + std::to_string(m.format) + ",\"site\":\"" + m.site +
                               "\",\"version\":" + std::to_string(m.version) + "}";
    Sha256Hasher h;
    h.Update("tieup-release-hash-1\n");
    h.Update(header);
    for (const std::string& c : chunks) h.Update(Sha256(c));
    return HexEncode(h.Finish());
  };

  ReleaseManifest m = ManyPages(300);
  m.files["/say\"hi\".html"] = Entry(Sha256Hex("q"), 1, "text/html; charset=utf-8");  // escaped
  ASSERT_GT(m.files.chunk_count(), 3u);
  EXPECT_EQ(m.Hash(), expected_hash(m));
  ReleaseManifest empty = m;
  empty.files.clear();
  EXPECT_EQ(empty.Hash(), expected_hash(empty));
  ReleaseManifest one = Sample();
  EXPECT_EQ(one.Hash(), expected_hash(one));
}

TEST(ReleaseDeltaTest, RefusesAForgedResultHash) {
  const ReleaseManifest base = ManyPages(200), next = [&] {
    ReleaseManifest n = ManyPages(200);
    n.version = 8;
    n.files["/p/5.html"].length = 1;
    return n;
  }();
  const ReleaseDelta d = MakeDelta(base, next);
  ASSERT_THAT(ApplyDelta(base, d).status(), IsOk());
  for (const std::string& forged :
       {Sha256Hex(next.Encode()) /* the hash of the bytes: not the release hash */, base.Hash(),
        std::string(64, '0')}) {
    ReleaseDelta f = d;
    f.result_hash = forged;
    EXPECT_THAT(ApplyDelta(base, f).status(),
                StatusIs(StatusCode::kDataLoss, HasSubstr("result hash differs")));
  }
  ReleaseDelta bytes_named = d;  // a base named by the hash of its bytes
  bytes_named.base_hash = Sha256Hex(base.Encode());
  EXPECT_THAT(ApplyDelta(base, bytes_named).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("base hash")));
}

}  // namespace
}  // namespace tieup::content

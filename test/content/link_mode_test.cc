// The link mode of a `link` entry (issue 15 item 2): how a partner serves it is part of the
// signed metadata (canonical JSON, release hash, deltas, compact form), omitted for the default
// redirect so that older releases encode, hash and parse as before, and parsed strictly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "content/release.h"
#include "content_test_util.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup::content {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tieup::content::testing::Entry;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

constexpr LinkMode kAllModes[] = {LinkMode::kRedirect, LinkMode::kPage, LinkMode::kRedirect301,
                                  LinkMode::kRedirect307};

ReleaseManifest WithLink(LinkMode mode) {
  ReleaseManifest m;
  m.site = "shop-b";
  m.area = Area::kTieup;
  m.version = 3;
  m.created = 1790000000;
  FileEntry link = Entry(Sha256Hex(""), 0, "text/html; charset=utf-8", UpdateMethod::kLink,
                         "https://main.example/tea.html");
  link.link_mode = mode;
  m.files["/tea.html"] = link;
  m.files["/index.html"] = Entry(Sha256Hex("<h1>hi</h1>"), 11, "text/html; charset=utf-8");
  return m;
}

// The entry of `path` in a release JSON, as text.
std::string EntryJson(const std::string& json, const std::string& path) {
  const size_t at = json.find("\"" + path + "\":{");
  if (at == std::string::npos) return "";
  return json.substr(at, json.find('}', at) - at + 1);
}

TEST(LinkModeTest, NamesStatusesAndParsing) {
  for (LinkMode m : kAllModes) {
    auto parsed = ParseLinkMode(LinkModeName(m));
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_EQ(LinkModeName(LinkMode::kRedirect), "redirect");
  EXPECT_EQ(LinkModeName(LinkMode::kPage), "page");
  EXPECT_EQ(LinkRedirectStatus(LinkMode::kRedirect), 302);
  EXPECT_EQ(LinkRedirectStatus(LinkMode::kRedirect301), 301);
  EXPECT_EQ(LinkRedirectStatus(LinkMode::kRedirect307), 307);
  EXPECT_EQ(LinkRedirectStatus(LinkMode::kPage), 0);
  EXPECT_THAT(
      ParseLinkMode("redirect-308"),
      StatusIs(StatusCode::kInvalidArgument,
               HasSubstr("unknown link mode \"redirect-308\": expected \"redirect\" (302)")));
  EXPECT_THAT(ParseLinkMode("Page"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(LinkModeTest, TheDefaultRedirectIsOmittedSoOlderReleasesKeepTheirBytesAndHash) {
  const ReleaseManifest m = WithLink(LinkMode::kRedirect);
  const std::string json = m.Encode();
  EXPECT_THAT(json, Not(HasSubstr("link_mode")));
  // What a release written before link modes existed looks like: it parses canonically, with
  // the default mode.
  const std::string old_json =
      "{\"area\":\"tieup\",\"created\":1790000000,\"expires\":0,\"files\":{"
      "\"/tea.html\":{\"content_type\":\"text/html\",\"hash\":\"" +
      Sha256Hex("") +
      "\",\"length\":0,\"link_url\":\"https://main.example/tea.html\",\"method\":\"link\"}},"
      "\"format\":1,\"site\":\"shop-b\",\"version\":1}";
  auto old = ReleaseManifest::ParseCanonical(old_json);
  ASSERT_THAT(old, IsOk());
  EXPECT_EQ(old->files.at("/tea.html").link_mode, LinkMode::kRedirect);
  EXPECT_EQ(old->Encode(), old_json);
}

TEST(LinkModeTest, EachModeRoundTripsThroughTheCanonicalBytesTheCompactFormAndADelta) {
  const ReleaseManifest base = WithLink(LinkMode::kRedirect);
  for (LinkMode mode : kAllModes) {
    SCOPED_TRACE(std::string(LinkModeName(mode)));
    const ReleaseManifest m = WithLink(mode);
    ASSERT_THAT(m.Validate(), IsOk());
    const std::string json = m.Encode();
    if (mode != LinkMode::kRedirect) {
      // In key order: after "length", before "link_url".
      EXPECT_THAT(EntryJson(json, "/tea.html"),
                  HasSubstr(",\"length\":0,\"link_mode\":\"" + std::string(LinkModeName(mode)) +
                            "\",\"link_url\":"));
      EXPECT_NE(m.Hash(), base.Hash());  // signed: a changed mode is a changed release
    }
    auto parsed = ReleaseManifest::ParseCanonical(json);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, m);
    auto compact = ReleaseManifest::ParseCompact(m.EncodeCompact());
    ASSERT_THAT(compact, IsOk());
    EXPECT_EQ(*compact, m);
    EXPECT_EQ(compact->Hash(), m.Hash());

    ReleaseManifest next = m;
    next.version = 4;
    const ReleaseDelta d = MakeDelta(base, next);
    EXPECT_EQ(d.changes.size(), mode == LinkMode::kRedirect ? 0u : 1u);
    auto delta = ReleaseDelta::ParseCanonical(d.Encode());
    ASSERT_THAT(delta, IsOk());
    auto applied = ApplyDelta(base, *delta);
    ASSERT_THAT(applied, IsOk());
    EXPECT_EQ(*applied, next);
    const ReleaseDiff diff = Diff(base, m);
    EXPECT_EQ(diff.changed.size(), mode == LinkMode::kRedirect ? 0u : 1u);
  }
}

TEST(LinkModeTest, ADeltaWhoseModeWasAlteredDoesNotGiveTheSignedResult) {
  const ReleaseManifest base = WithLink(LinkMode::kRedirect);
  ReleaseManifest next = WithLink(LinkMode::kPage);
  next.version = 4;
  ReleaseDelta forged = MakeDelta(base, next);
  forged.changes.at("/tea.html")->link_mode = LinkMode::kRedirect301;
  EXPECT_THAT(ApplyDelta(base, forged).status(), StatusIs(StatusCode::kDataLoss));
}

TEST(LinkModeTest, ParsingIsStrict) {
  const std::string json = WithLink(LinkMode::kPage).Encode();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = json;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  EXPECT_THAT(ReleaseManifest::Parse(with("\"link_mode\":\"page\"", "\"link_mode\":\"frame\"")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown link mode \"frame\"")));
  EXPECT_THAT(ReleaseManifest::Parse(with("\"link_mode\":\"page\"", "\"link_mode\":302")),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("field 'link_mode' in file \"/tea.html\" must be a string")));
  // The default written out parses, but is not the canonical form (what is signed is used).
  const std::string explicit_default = with("\"link_mode\":\"page\"", "\"link_mode\":\"redirect\"");
  ASSERT_THAT(ReleaseManifest::Parse(explicit_default), IsOk());
  EXPECT_THAT(ReleaseManifest::ParseCanonical(explicit_default),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not in canonical form")));
  // A link mode belongs to link entries only.
  ReleaseManifest staged = WithLink(LinkMode::kRedirect);
  staged.files["/index.html"].link_mode = LinkMode::kPage;
  EXPECT_THAT(staged.Validate(),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("file \"/index.html\" has a link_mode but method \"staged\"")));
  const std::string bad =
      with("\"method\":\"staged\"", "\"link_mode\":\"page\",\"method\":\"staged\"");
  EXPECT_THAT(ReleaseManifest::Parse(bad),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("link_mode is only for method")));
}

// The fuzz target's seed with every mode (fuzz/corpus/release_manifest/link_modes.json) is a
// canonical release, so the fuzzer starts from inputs that reach the link mode checks.
TEST(LinkModeTest, TheFuzzSeedIsACanonicalReleaseWithEveryMode) {
  std::ifstream in(std::string(TIEUP_SOURCE_DIR) + "/fuzz/corpus/release_manifest/link_modes.json",
                   std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  auto m = ReleaseManifest::ParseCanonical(bytes.str());
  ASSERT_THAT(m, IsOk());
  std::set<LinkMode> modes;
  for (const auto& [path, e] : m->files) modes.insert(e.link_mode);
  EXPECT_EQ(modes.size(), 4u);
}

}  // namespace
}  // namespace tieup::content

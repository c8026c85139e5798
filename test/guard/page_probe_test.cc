// Main's probes of partners' pages, the part without the network (guard/page_probe.h): the
// rotation visits every page once per pass, wraps, goes on after a release removed the page it
// stopped at; a fetched page is judged by the SHA-256 of its body; each partner's progress is
// kept in a real SQLite file across a reopen, and a pass completes after as many pages as the
// site has.
#include "guard/page_probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup::guard {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace ::tieup::testing;  // NOLINT

const std::vector<std::string> kPaths = {"/a.html", "/b.html", "/c.html", "/d.html", "/e.html"};

TEST(NextProbePathsTest, RotatesThroughEveryPathAndWraps) {
  EXPECT_THAT(NextProbePaths(kPaths, "", 2), ElementsAre("/a.html", "/b.html"));
  EXPECT_THAT(NextProbePaths(kPaths, "/b.html", 2), ElementsAre("/c.html", "/d.html"));
  EXPECT_THAT(NextProbePaths(kPaths, "/d.html", 3), ElementsAre("/e.html", "/a.html", "/b.html"));
  // Never a page twice in one round.
  EXPECT_THAT(NextProbePaths(kPaths, "/c.html", 99),
              ElementsAre("/d.html", "/e.html", "/a.html", "/b.html", "/c.html"));
  EXPECT_TRUE(NextProbePaths(kPaths, "/a.html", 0).empty());
  EXPECT_TRUE(NextProbePaths({}, "", 5).empty());
}

TEST(NextProbePathsTest, GoesOnAfterThePageItStoppedAtWasRemoved) {
  // "/c.html" is gone from the newer release: the rotation continues with the next name.
  const std::vector<std::string> newer = {"/a.html", "/b.html", "/d.html", "/e.html"};
  EXPECT_THAT(NextProbePaths(newer, "/c.html", 2), ElementsAre("/d.html", "/e.html"));
  // Past the last name: from the start.
  EXPECT_THAT(NextProbePaths(newer, "/z.html", 1), ElementsAre("/a.html"));
}

ProbePage PageOf(std::string_view body) {
  ProbePage p;
  p.path = "/a.html";
  p.url = "http://127.0.0.1:8081/a.html";
  p.accepted = {Sha256Hex("an older page"), Sha256Hex(body)};
  return p;
}

ProbeResponse Got(int status, std::string body, std::string encoding = "") {
  ProbeResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_encoding = std::move(encoding);
  return r;
}

TEST(JudgeProbeTest, TheBodysHashDecides) {
  const ProbePage page = PageOf("<h1>Tea</h1>");
  ProbeResult ok = JudgeProbe(page, Got(200, "<h1>Tea</h1>"));
  EXPECT_EQ(ok.verdict, ProbeVerdict::kMatch);
  EXPECT_EQ(ok.path, "/a.html");
  EXPECT_TRUE(ok.detail.empty());
  // Any accepted body is right (the release the partner may have just activated).
  EXPECT_EQ(JudgeProbe(page, Got(200, "an older page")).verdict, ProbeVerdict::kMatch);

  // One byte added on the way out.
  ProbeResult changed = JudgeProbe(page, Got(200, "<h1>Tea</h1><script src=//x.example>"));
  EXPECT_EQ(changed.verdict, ProbeVerdict::kMismatch);
  EXPECT_THAT(changed.detail, HasSubstr("GET http://127.0.0.1:8081/a.html served 36 bytes"));
  EXPECT_THAT(changed.detail, HasSubstr("not what main signed"));
  EXPECT_EQ(ProbeVerdictName(changed.verdict), "mismatch");
  // Compressed though the probe asked for no encoding: not the signed bytes either.
  EXPECT_EQ(JudgeProbe(page, Got(200, "<h1>Tea</h1>", "gzip")).verdict, ProbeVerdict::kMismatch);
}

TEST(JudgeProbeTest, AnotherStatusOrNoAnswer) {
  const ProbePage page = PageOf("<h1>Tea</h1>");
  ProbeResult gone = JudgeProbe(page, Got(404, "<h1>Tea</h1>"));
  EXPECT_EQ(gone.verdict, ProbeVerdict::kWrongStatus);
  EXPECT_THAT(gone.detail, HasSubstr("answered 404 where main's release has the page"));
  ProbeResult down =
      JudgeProbe(page, Result<ProbeResponse>(Status::Unavailable("connection refused")));
  EXPECT_EQ(down.verdict, ProbeVerdict::kUnreachable);
  EXPECT_THAT(down.detail, HasSubstr("got no answer: connection refused"));
}

ProbeResult Probed(std::string path, ProbeVerdict verdict = ProbeVerdict::kMatch) {
  ProbeResult r;
  r.path = std::move(path);
  r.verdict = verdict;
  if (verdict != ProbeVerdict::kMatch) r.detail = "GET " + r.path + " answered 404";
  return r;
}

TEST(ProbeRecordTest, KeepsEachPartnersRotationAndPasses) {
  TempDir dir;
  FakeClockEnv env;
  {
    auto db = ::tieup::testing::OpenTestDatabase(dir.path() + "/main.db");
    ASSERT_THAT(db, IsOk());
    auto record = ProbeRecord::Open(env, **db);
    ASSERT_THAT(record, IsOk());
    auto fresh = (*record)->Get("shop-a");
    ASSERT_THAT(fresh, IsOk());
    EXPECT_EQ(fresh->partner, "shop-a");
    EXPECT_EQ(fresh->probed, 0u);
    EXPECT_THAT(DescribeProbeProgress(*fresh), HasSubstr("not probed yet"));

    auto p = (*record)->RecordRound("shop-a", {Probed("/a.html"), Probed("/b.html")}, 3);
    ASSERT_THAT(p, IsOk());
    EXPECT_EQ(p->cursor, "/b.html");
    EXPECT_EQ(p->pass_probed, 2u);
    EXPECT_EQ(p->passes, 0);
    env.AdvanceSeconds(90);
    p = (*record)->RecordRound(
        "shop-a", {Probed("/c.html", ProbeVerdict::kWrongStatus), Probed("/a.html")}, 3);
    ASSERT_THAT(p, IsOk());
    // The third page completed the pass (90 s); the fourth began the next.
    EXPECT_EQ(p->passes, 1);
    EXPECT_EQ(p->last_pass_seconds, 90);
    EXPECT_EQ(p->pass_probed, 1u);
    EXPECT_EQ(p->probed, 4u);
    EXPECT_EQ(p->problems, 1u);
    EXPECT_EQ(p->last_problem, "GET /c.html answered 404");
    ASSERT_THAT((*record)->RecordRound("shop-b", {Probed("/x.html")}, 10), IsOk());
  }
  // Reopened: the rotation goes on where it stopped.
  auto db = ::tieup::testing::OpenTestDatabase(dir.path() + "/main.db");
  ASSERT_THAT(db, IsOk());
  auto record = ProbeRecord::Open(env, **db);
  ASSERT_THAT(record, IsOk());
  auto all = (*record)->List();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].partner, "shop-a");
  EXPECT_EQ((*all)[0].cursor, "/a.html");
  EXPECT_EQ((*all)[1].partner, "shop-b");
  const std::string text = DescribeProbeProgress((*all)[0]);
  EXPECT_THAT(text, HasSubstr("shop-a: 4 pages probed"));
  EXPECT_THAT(text, HasSubstr("1 complete passes over every page, the last took 90s"));
  EXPECT_THAT(text, HasSubstr("1 problems, the last at "));
  EXPECT_THAT(DescribeProbeProgress((*all)[1]), HasSubstr("every page as main signed it"));
}

}  // namespace
}  // namespace tieup::guard

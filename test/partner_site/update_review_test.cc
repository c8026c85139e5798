#include "partner_site/update_review.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sync/sync_fixture.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using Kind = DiffLine::Kind;

DiffLine Same(int l, int r, std::string text) { return {Kind::kSame, l, r, text, text}; }
DiffLine Removed(int l, std::string text) { return {Kind::kRemoved, l, 0, std::move(text), ""}; }
DiffLine Added(int r, std::string text) { return {Kind::kAdded, 0, r, "", std::move(text)}; }
DiffLine Changed(int l, int r, std::string before, std::string after) {
  return {Kind::kChanged, l, r, std::move(before), std::move(after)};
}
DiffLine Gap(int l, int r, int lines) {
  return {Kind::kGap, l, r, std::to_string(lines) + " unchanged lines", ""};
}

// Lines "line FROM" .. "line TO", each ending in '\n'.
std::string Lines(int from, int to) {
  std::string s;
  for (int i = from; i <= to; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

std::vector<DiffLine> Diff(std::string_view a, std::string_view b, size_t max = 2000,
                           bool* truncated = nullptr) {
  return SideBySideDiff(a, b, 3, max, truncated);
}

TEST(SideBySideDiffTest, IdenticalTextsFoldIntoOneGap) {
  bool truncated = true;
  EXPECT_THAT(Diff(Lines(1, 100), Lines(1, 100), 2000, &truncated), ElementsAre(Gap(1, 1, 100)));
  EXPECT_FALSE(truncated);
  // A single line is shown rather than folded.
  EXPECT_THAT(Diff("only\n", "only\n"), ElementsAre(Same(1, 1, "only")));
}

TEST(SideBySideDiffTest, OneChangedLineInTheMiddleShowsContextBetweenGaps) {
  std::string after = Lines(1, 49) + "line 50, now with tea\n" + Lines(51, 100);
  bool truncated = true;
  EXPECT_THAT(
      Diff(Lines(1, 100), after, 2000, &truncated),
      ElementsAre(Gap(1, 1, 46), Same(47, 47, "line 47"), Same(48, 48, "line 48"),
                  Same(49, 49, "line 49"), Changed(50, 50, "line 50", "line 50, now with tea"),
                  Same(51, 51, "line 51"), Same(52, 52, "line 52"), Same(53, 53, "line 53"),
                  Gap(54, 54, 47)));
  EXPECT_FALSE(truncated);
}

TEST(SideBySideDiffTest, ChangesCloseTogetherShareTheirContext) {
  // Lines 10 and 16 change: the 5 lines between are all within 3 of a change, so nothing
  // between them is folded; a run where only one line would be left out is shown whole.
  std::string after = Lines(1, 9) + "ten\n" + Lines(11, 15) + "sixteen\n" + Lines(17, 20);
  auto rows = Diff(Lines(1, 20), after);
  ASSERT_THAT(rows, SizeIs(1 + 3 + 1 + 5 + 1 + 3 + 1));
  EXPECT_EQ(rows.front(), Gap(1, 1, 6));
  EXPECT_EQ(rows[4], Changed(10, 10, "line 10", "ten"));
  EXPECT_EQ(rows[10], Changed(16, 16, "line 16", "sixteen"));
  EXPECT_EQ(rows.back(), Same(20, 20, "line 20"));  // 4 lines after: none folded
}

TEST(SideBySideDiffTest, LinesAddedOrRemovedAtTheStartOrEnd) {
  const std::string ten = Lines(1, 10);
  EXPECT_THAT(Diff(ten, "first\n" + ten),
              ElementsAre(Added(1, "first"), Same(1, 2, "line 1"), Same(2, 3, "line 2"),
                          Same(3, 4, "line 3"), Gap(4, 5, 7)));
  EXPECT_THAT(Diff(ten, ten + "last\n"),
              ElementsAre(Gap(1, 1, 7), Same(8, 8, "line 8"), Same(9, 9, "line 9"),
                          Same(10, 10, "line 10"), Added(11, "last")));
  EXPECT_THAT(Diff(ten, Lines(3, 10)),
              ElementsAre(Removed(1, "line 1"), Removed(2, "line 2"), Same(3, 1, "line 3"),
                          Same(4, 2, "line 4"), Same(5, 3, "line 5"), Gap(6, 4, 5)));
  EXPECT_THAT(Diff(ten, Lines(1, 9)),
              ElementsAre(Gap(1, 1, 6), Same(7, 7, "line 7"), Same(8, 8, "line 8"),
                          Same(9, 9, "line 9"), Removed(10, "line 10")));
}

TEST(SideBySideDiffTest, AChangeBlockPairsRemovedAndAddedLinesByPosition) {
  EXPECT_THAT(Diff("a\nold 1\nold 2\nz\n", "a\nnew 1\nnew 2\nnew 3\nz\n"),
              ElementsAre(Same(1, 1, "a"), Changed(2, 2, "old 1", "new 1"),
                          Changed(3, 3, "old 2", "new 2"), Added(4, "new 3"), Same(4, 5, "z")));
  EXPECT_THAT(Diff("a\nold 1\nold 2\nz\n", "a\nnew 1\nz\n"),
              ElementsAre(Same(1, 1, "a"), Changed(2, 2, "old 1", "new 1"), Removed(3, "old 2"),
                          Same(4, 3, "z")));
}

TEST(SideBySideDiffTest, EmptyTexts) {
  bool truncated = true;
  EXPECT_THAT(Diff("", "", 2000, &truncated), IsEmpty());
  EXPECT_FALSE(truncated);
  EXPECT_THAT(Diff("", "a\nb"), ElementsAre(Added(1, "a"), Added(2, "b")));
  EXPECT_THAT(Diff("a\nb\n", ""), ElementsAre(Removed(1, "a"), Removed(2, "b")));
  // An empty line is a line.
  EXPECT_THAT(Diff("\n", ""), ElementsAre(Removed(1, "")));
}

TEST(SideBySideDiffTest, TruncatedAtMaxLines) {
  std::string before, after;
  for (int i = 1; i <= 100; ++i) {
    before += "old " + std::to_string(i) + "\n";
    after += "new " + std::to_string(i) + "\n";
  }
  bool truncated = false;
  auto rows = Diff(before, after, 10, &truncated);
  ASSERT_THAT(rows, SizeIs(10));
  EXPECT_TRUE(truncated);
  EXPECT_EQ(rows[0], Changed(1, 1, "old 1", "new 1"));
  EXPECT_EQ(rows[9], Changed(10, 10, "old 10", "new 10"));
  // Exactly as many rows as allowed is not truncated.
  EXPECT_THAT(Diff(before, after, 100, &truncated), SizeIs(100));
  EXPECT_FALSE(truncated);
  EXPECT_THAT(Diff(before, after, 0, &truncated), IsEmpty());
  EXPECT_TRUE(truncated);
  // Without a flag to set.
  EXPECT_THAT(SideBySideDiff(before, after, 3, 5, nullptr), SizeIs(5));
}

TEST(SideBySideDiffTest, LineEndingsAndAFinalLineWithoutNewline) {
  // Only the line endings differ: no difference.
  EXPECT_THAT(Diff("a\r\nb\r\nc\r\n", "a\nb\nc"), ElementsAre(Gap(1, 1, 3)));
  // The text of a row never holds its line ending.
  EXPECT_THAT(Diff("a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n"),
              ElementsAre(Same(1, 1, "a"), Changed(2, 2, "b", "B"), Same(3, 3, "c")));
  // A last line without a newline is compared like any other.
  EXPECT_THAT(Diff("x\ny", "x\nz"), ElementsAre(Same(1, 1, "x"), Changed(2, 2, "y", "z")));
  EXPECT_THAT(Diff("x\ny", "x\ny\nmore"),
              ElementsAre(Same(1, 1, "x"), Same(2, 2, "y"), Added(3, "more")));
}

TEST(SideBySideDiffTest, ALargeRewriteStaysBounded) {
  // 1 MiB of short lines, every one different: the diff is cut, and comes back.
  std::string before, after;
  for (int i = 0; before.size() < (1 << 20); ++i) {
    before += "a" + std::to_string(i) + "\n";
    after += "b" + std::to_string(i) + "\n";
  }
  bool truncated = false;
  auto rows = Diff(before, after, 2000, &truncated);
  ASSERT_THAT(rows, SizeIs(2000));
  EXPECT_TRUE(truncated);
  EXPECT_EQ(rows.front(), Changed(1, 1, "a0", "b0"));
  EXPECT_EQ(rows.back(), Changed(2000, 2000, "a1999", "b1999"));
}

TEST(SideBySideDiffTest, FewChangesFarApartInALongTextAreAllShown) {
  // 100,000 lines with a change near each end: nothing is cut.
  std::string after =
      "changed 1\n" + Lines(2, 99'998) + "changed 99999\n" + Lines(100'000, 100'000);
  bool truncated = true;
  auto rows = Diff(Lines(1, 100'000), after, 2000, &truncated);
  EXPECT_FALSE(truncated);
  EXPECT_THAT(
      rows,
      ElementsAre(Changed(1, 1, "line 1", "changed 1"), Same(2, 2, "line 2"), Same(3, 3, "line 3"),
                  Same(4, 4, "line 4"), Gap(5, 5, 99'991), Same(99'996, 99'996, "line 99996"),
                  Same(99'997, 99'997, "line 99997"), Same(99'998, 99'998, "line 99998"),
                  Changed(99'999, 99'999, "line 99999", "changed 99999"),
                  Same(100'000, 100'000, "line 100000")));
}

TEST(IsTextContentTypeTest, TextTypesAndOthers) {
  for (const char* t :
       {"text/html; charset=utf-8", "TEXT/CSS", "text/javascript; charset=utf-8",
        "application/javascript", "application/json", "text/plain", "application/xml",
        "image/svg+xml", "text/markdown", "application/ld+json"}) {
    EXPECT_TRUE(IsTextContentType(t)) << t;
  }
  for (const char* t :
       {"image/png", "application/octet-stream", "application/pdf", "font/woff2", ""}) {
    EXPECT_FALSE(IsTextContentType(t)) << t;
  }
}

// A real update: main's publisher offers it, the partner's receiver (policy manager) verifies,
// fetches and stages it, and the review reads the staged and the active release from the
// partner's own site directory.
class UpdateReviewTest : public sync::testing::SyncFixture {
 protected:
  void SetUp() override {
    SyncFixture::SetUp();
    std::string about = "---\ntitle: About\n---\n";
    for (int i = 1; i <= 30; ++i) about += "Paragraph " + std::to_string(i) + ".\n\n";
    Write(authoring_ + "/pages/about.md", about);
    Write(authoring_ + "/assets/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\x0d", 12));
    Write(authoring_ + "/assets/terms.txt", "Terms of sale.\n");
    partner_ = &AddPartner("shop-r", sync::ApprovalPolicy::kAuto, sync::ApprovalPolicy::kManager);
    auto first = publisher_->PublishNow({"shop-r"});
    ASSERT_THAT(first, SizeIs(1));
    ASSERT_EQ(first[0].state, "pending_approval");
    ASSERT_THAT(partner_->receiver->Approve(first[0].update_id), IsOk());
    ASSERT_EQ(partner_->ActiveVersion(), 1u);

    SiteContentOptions o;
    o.site_id = "shop-r";
    o.serve = false;
    auto c = SiteContent::Open(env_, partner_->dir, o);
    ASSERT_THAT(c, IsOk());
    content_ = std::move(c).value();
  }

  // Publishes version 2: one paragraph of /about.html reworded, /assets/logo.png redrawn,
  // /assets/terms.txt removed, /news.html added. Returns its update id.
  std::string PublishSecondVersion() {
    std::string about = "---\ntitle: About\n---\n";
    for (int i = 1; i <= 30; ++i) {
      about += i == 15 ? "Paragraph fifteen, now about sencha.\n\n"
                       : "Paragraph " + std::to_string(i) + ".\n\n";
    }
    Write(authoring_ + "/pages/about.md", about);
    Write(authoring_ + "/assets/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\x0e\xff", 13));
    EXPECT_TRUE(env_.RemoveFile(authoring_ + "/assets/terms.txt").ok());
    Write(authoring_ + "/pages/news.md", "---\ntitle: News\n---\nNew tea in stock.\n");
    auto second = publisher_->PublishNow({"shop-r"});
    EXPECT_THAT(second, SizeIs(1));
    EXPECT_EQ(second.at(0).state, "pending_approval");
    return second.at(0).update_id;
  }

  const FileChange* Find(const UpdateReview& r, const std::string& path) {
    for (const FileChange& f : r.files) {
      if (f.path == path) return &f;
    }
    return nullptr;
  }

  sync::testing::PartnerSite* partner_ = nullptr;
  std::unique_ptr<SiteContent> content_;
};

TEST_F(UpdateReviewTest, ShowsWhatThePendingUpdateChanges) {
  const std::string id = PublishSecondVersion();
  auto review = ReviewPendingUpdate(*partner_->receiver, *content_, id);
  ASSERT_THAT(review, IsOk());
  EXPECT_EQ(review->update_id, id);
  EXPECT_EQ(review->version, 2u);
  EXPECT_EQ(review->active_version, 1u);
  EXPECT_EQ(review->received_micros, env_.NowSeconds() * 1'000'000);
  EXPECT_EQ(review->added, 1u);
  EXPECT_EQ(review->removed, 1u);
  EXPECT_GE(review->changed, 2u);  // about and the logo (and anything that lists the pages)
  EXPECT_EQ(review->files.size(), review->added + review->changed + review->removed);
  EXPECT_TRUE(
      std::is_sorted(review->files.begin(), review->files.end(),
                     [](const FileChange& a, const FileChange& b) { return a.path < b.path; }));

  const FileChange* about = Find(*review, "/about.html");
  ASSERT_NE(about, nullptr);
  EXPECT_EQ(about->kind, FileChange::Kind::kChanged);
  EXPECT_TRUE(about->text);
  EXPECT_THAT(about->content_type, HasSubstr("text/html"));
  EXPECT_GT(about->bytes_before, 0u);
  EXPECT_GT(about->bytes_after, about->bytes_before);
  EXPECT_FALSE(about->diff_truncated);
  EXPECT_THAT(about->note, IsEmpty());
  std::vector<DiffLine> changed_rows;
  for (const DiffLine& d : about->diff) {
    if (d.kind != Kind::kSame && d.kind != Kind::kGap) changed_rows.push_back(d);
  }
  ASSERT_THAT(changed_rows, SizeIs(1));
  EXPECT_EQ(changed_rows[0].kind, Kind::kChanged);
  EXPECT_THAT(changed_rows[0].left, HasSubstr("Paragraph 15."));
  EXPECT_THAT(changed_rows[0].right, HasSubstr("Paragraph fifteen, now about sencha."));
  EXPECT_EQ(changed_rows[0].left_number, changed_rows[0].right_number);
  // Context around it, the rest folded.
  EXPECT_EQ(about->diff.front().kind, Kind::kGap);
  EXPECT_EQ(about->diff.back().kind, Kind::kGap);
  EXPECT_THAT(about->diff, SizeIs(9));

  const FileChange* logo = Find(*review, "/assets/logo.png");
  ASSERT_NE(logo, nullptr);
  EXPECT_EQ(logo->kind, FileChange::Kind::kChanged);
  EXPECT_FALSE(logo->text);
  EXPECT_THAT(logo->diff, IsEmpty());
  EXPECT_EQ(logo->bytes_before, 12u);
  EXPECT_EQ(logo->bytes_after, 13u);
  EXPECT_EQ(logo->content_type, "image/png");

  const FileChange* news = Find(*review, "/news.html");
  ASSERT_NE(news, nullptr);
  EXPECT_EQ(news->kind, FileChange::Kind::kAdded);
  EXPECT_TRUE(news->text);
  EXPECT_EQ(news->bytes_before, 0u);
  EXPECT_GT(news->bytes_after, 0u);
  EXPECT_THAT(news->diff, IsEmpty());

  const FileChange* terms = Find(*review, "/assets/terms.txt");
  ASSERT_NE(terms, nullptr);
  EXPECT_EQ(terms->kind, FileChange::Kind::kRemoved);
  EXPECT_TRUE(terms->text);
  EXPECT_EQ(terms->bytes_before, 15u);
  EXPECT_EQ(terms->bytes_after, 0u);
  EXPECT_THAT(terms->content_type, HasSubstr("text/plain"));
  EXPECT_THAT(terms->diff, IsEmpty());

  // The console's form: the entry of Pending() it already holds gives the same review.
  auto pending = partner_->receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(1));
  auto again = ReviewPendingUpdate(*content_, (*pending)[0]);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->files, review->files);
}

TEST_F(UpdateReviewTest, LimitsFromTheOptions) {
  const std::string id = PublishSecondVersion();
  ReviewOptions o;
  o.max_diff_lines = 4;
  auto review = ReviewPendingUpdate(*partner_->receiver, *content_, id, o);
  ASSERT_THAT(review, IsOk());
  const FileChange* about = Find(*review, "/about.html");
  ASSERT_NE(about, nullptr);
  EXPECT_THAT(about->diff, SizeIs(4));
  EXPECT_TRUE(about->diff_truncated);

  o = ReviewOptions();
  o.max_file_bytes = 100;
  review = ReviewPendingUpdate(*partner_->receiver, *content_, id, o);
  ASSERT_THAT(review, IsOk());
  about = Find(*review, "/about.html");
  ASSERT_NE(about, nullptr);
  EXPECT_THAT(about->diff, IsEmpty());
  EXPECT_THAT(about->note, HasSubstr("larger than 100 B"));
}

TEST_F(UpdateReviewTest, UnknownOrDecidedUpdatesAreNotFound) {
  EXPECT_THAT(ReviewPendingUpdate(*partner_->receiver, *content_, "u404"),
              StatusIs(StatusCode::kNotFound, HasSubstr("no update 'u404'")));
  const std::string id = PublishSecondVersion();
  auto pending = partner_->receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(*pending, SizeIs(1));
  ASSERT_THAT(partner_->receiver->Reject(id, "not before the tea fair"), IsOk());
  EXPECT_THAT(ReviewPendingUpdate(*partner_->receiver, *content_, id),
              StatusIs(StatusCode::kNotFound));
  // The entry the console held before the decision is refused too.
  sync::ReceivedUpdate held = (*pending)[0];
  held.state = "rejected";
  EXPECT_THAT(ReviewPendingUpdate(*content_, held),
              StatusIs(StatusCode::kNotFound, HasSubstr("not waiting for approval")));
}

TEST_F(UpdateReviewTest, TheFirstReleaseIsAllAdded) {
  // A second partner that has no tie-up release yet.
  sync::testing::PartnerSite& fresh =
      AddPartner("shop-n", sync::ApprovalPolicy::kAuto, sync::ApprovalPolicy::kManager);
  auto first = publisher_->PublishNow({"shop-n"});
  ASSERT_THAT(first, SizeIs(1));
  SiteContentOptions o;
  o.site_id = "shop-n";
  o.serve = false;
  auto content = SiteContent::Open(env_, fresh.dir, o);
  ASSERT_THAT(content, IsOk());
  auto review = ReviewPendingUpdate(*fresh.receiver, **content, first[0].update_id);
  ASSERT_THAT(review, IsOk());
  EXPECT_EQ(review->active_version, 0u);
  EXPECT_EQ(review->changed, 0u);
  EXPECT_EQ(review->removed, 0u);
  EXPECT_EQ(review->added, review->files.size());
  EXPECT_NE(Find(*review, "/about.html"), nullptr);
}

}  // namespace
}  // namespace tieup

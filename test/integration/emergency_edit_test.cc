// Integration (issue 15): emergency edits of tie-up pages between real `tieup main serve` and
// `tieup partner serve` processes. The right is granted by main in the partnership; an edit is
// an overlay on main's release, so main's next version still activates; main is told at once
// (a signed report, sent again from the partner's record when main was down) and `main status`
// says what the partner serves; the partnership's policy decides what main's update does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "base/env.h"
#include "daemon_harness.h"
#include "partner_site/main_client.h"
#include "site/config.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class EmergencyEditTest : public MainSiteTest {
 protected:
  // Adds partnership `id` (with `extra` flags for `main partner add`), enrolls its site and
  // starts it; main's daemon runs.
  void StartWithPartner(const std::vector<std::string>& extra) {
    StartMain();
    partner_dir_ = dir_.Sub("shop-a");
    CommandResult init = EnrollNewPartner(main_dir_, main_sync_port_, partner_dir_, "shop-a",
                                          "Shop A", FreePort(), extra);
    ASSERT_EQ(init.exit_code, 0) << init.output;
    partner_ =
        std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", partner_dir_});
    ASSERT_TRUE(partner_->Start()) << partner_->output();
    CommandResult pub = Publish();
    ASSERT_EQ(pub.exit_code, 0) << pub.output;
    ASSERT_TRUE(Serves("Welcome to Sakura Tea")) << Page();
    ASSERT_TRUE(
        WriteFileAtomic(*env_, dir_.Sub("notice.html"), "<h1>Emergency notice: closed today</h1>")
            .ok());
  }

  CommandResult Publish() { return RunTieup({"main", "publish", main_dir_, "--all"}); }
  CommandResult EditIndex() {
    return RunTieup({"partner", "page", "put", partner_dir_, "/index.html", dir_.Sub("notice.html"),
                     "--tieup"});
  }
  std::string Page() { return BodyOf(HttpGet(partner_->port(), "/")); }
  bool Serves(const std::string& text) {
    return WaitFor([&] { return Page().find(text) != std::string::npos; },
                   std::chrono::seconds(30));
  }
  std::string MainStatus() { return RunTieup({"main", "status", main_dir_}).output; }
  std::string MainEvents() { return RunTieup({"main", "events", main_dir_}).output; }
  bool MainStatusSays(const std::string& pattern) {
    return WaitFor([&] { return std::regex_search(MainStatus(), std::regex(pattern)); },
                   std::chrono::seconds(30));
  }

  std::string partner_dir_;
  std::unique_ptr<SiteProcess> partner_;
};

TEST_F(EmergencyEditTest, KeepGrantedEditIsReportedAndMainsNextVersionStillActivates) {
  StartWithPartner({"--emergency-edit", "keep"});
  CommandResult edit = EditIndex();
  ASSERT_EQ(edit.exit_code, 0) << edit.output;
  EXPECT_THAT(edit.output, HasSubstr("EMERGENCY EDIT of a tie-up page, over main's version 1"));
  EXPECT_THAT(edit.output, HasSubstr("Main has been told."));
  ASSERT_TRUE(Serves("Emergency notice")) << Page();

  // Main knows at once, and does not call it "up to date".
  std::string status = MainStatus();
  EXPECT_THAT(status, HasRegex(R"(shop-a\s+1\s+1\s.*emergency-edited: /index.html \(\d{4}-)"))
      << status;
  EXPECT_THAT(status, Not(HasSubstr("up to date"))) << status;
  EXPECT_THAT(MainEvents(),
              HasRegex(R"(shop-a\s+emergency-edit\s+emergency edit by command line .*put )"
                       R"(/index.html .* over version 1)"));

  // Main's next version is offered and activated: no replay refusal.
  Author("pages/index.md", "# Second edition\n");
  CommandResult pub = Publish();
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 2\s+activated)")) << pub.output;
  // keep: the edit stays over main's new version of the page.
  EXPECT_THAT(Page(), HasSubstr("Emergency notice"));
  EXPECT_THAT(MainStatus(), HasRegex(R"(shop-a\s+2\s+2\s.*emergency-edited: /index.html)"));

  // The manager gives main's page back: main's version 2 is served, main is told.
  CommandResult revert = RunTieup({"partner", "page", "revert", partner_dir_, "/index.html"});
  ASSERT_EQ(revert.exit_code, 0) << revert.output;
  ASSERT_TRUE(Serves("Second edition")) << Page();
  EXPECT_TRUE(MainStatusSays(R"(shop-a\s+2\s+2\s+-\s+up to date at version 2\n)")) << MainStatus();
}

TEST_F(EmergencyEditTest, OverwriteEndsTheEditWhenMainChangesThePageAndMainDownIsToldLater) {
  StartWithPartner({"--emergency-edit", "overwrite"});
  main_->Stop();
  CommandResult edit = EditIndex();
  ASSERT_EQ(edit.exit_code, 0) << edit.output;
  EXPECT_THAT(edit.output, HasSubstr("Main could not be told now"));
  ASSERT_TRUE(Serves("Emergency notice")) << Page();
  // Main back: the partner daemon tells it from its record.
  StartMain();
  EXPECT_TRUE(MainStatusSays(R"(shop-a.*emergency-edited: /index.html)")) << MainStatus();

  Author("pages/index.md", "# Corrected by main\n");
  CommandResult pub = Publish();
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 2\s+activated)")) << pub.output;
  // overwrite: main's new version of the page replaces the edit, and main hears of it.
  ASSERT_TRUE(Serves("Corrected by main")) << Page();
  EXPECT_TRUE(MainStatusSays(R"(shop-a\s+2\s+2\s+-\s+up to date at version 2\n)")) << MainStatus();
  EXPECT_THAT(MainEvents(), HasRegex(R"(emergency-edit\s+the emergency edit of /index.html )"
                                     R"(ended: main's tie-up version 2 changes this page)"));
}

TEST_F(EmergencyEditTest, NotGrantedIsRefusedAndSiteTomlCannotGrantIt) {
  StartWithPartner({});
  CommandResult edit = EditIndex();
  EXPECT_NE(edit.exit_code, 0);
  EXPECT_THAT(edit.output, HasSubstr("only the main site manager can grant the right"));
  // The partner's own configuration cannot grant it.
  std::string toml = *env_->ReadFile(partner_dir_ + "/site.toml");
  toml.replace(toml.find("[partner]\n"), 10, "[partner]\nemergency_edit = true\n");
  ASSERT_TRUE(WriteFileAtomic(*env_, partner_dir_ + "/site.toml", toml).ok());
  edit = EditIndex();
  EXPECT_NE(edit.exit_code, 0);
  EXPECT_THAT(edit.output, HasSubstr("emergency_edit = true in this site's site.toml has no "
                                     "effect any more"));
  EXPECT_THAT(Page(), HasSubstr("Welcome to Sakura Tea"));
  EXPECT_THAT(MainStatus(), HasRegex(R"(shop-a\s+1\s+1\s+-\s+up to date at version 1)"));
}

TEST_F(EmergencyEditTest, UnsignedOrForgedReportsAreRefusedByMain) {
  StartWithPartner({"--emergency-edit", "keep"});
  auto config = LoadSiteConfig(*env_, partner_dir_);
  ASSERT_TRUE(config.ok());
  auto client = MainClient::Open(*env_, partner_dir_, *config);
  ASSERT_TRUE(client.ok()) << client.status().message();
  const std::string hash(64, 'a');
  const std::string report =
      R"({"action":"put","active_hash":")" + hash + R"(","at":1790000000,"by":"mallory",)" +
      R"("new_hash":")" + hash + R"(","old_hash":")" + hash + R"(","overlay":[{"at":1,"by":"m",)" +
      R"("hash":")" + hash + R"(","path":"/index.html"}],"path":"/index.html","reason":"",)" +
      R"("seq":1,"version":1})";

  HttpRequest bare("POST", "/v1/emergency-edits");
  bare.AddHeader("Content-Type", "application/json");
  bare.SetBody(report);
  auto unsigned_reply = (*client)->Send(bare);
  ASSERT_TRUE(unsigned_reply.ok());
  EXPECT_EQ(unsigned_reply->status(), 401) << unsigned_reply->body();

  // A signature over another body.
  auto signed_req = (*client)->SignedPost("/v1/emergency-edits", "{}");
  ASSERT_TRUE(signed_req.ok());
  HttpRequest altered("POST", "/v1/emergency-edits");
  for (const HttpHeaderView& h : signed_req->Headers()) altered.AddHeader(h.name, h.value);
  altered.SetBody(report);
  auto forged = (*client)->Send(altered);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(forged->status(), 401) << forged->body();

  // The unsigned channel of other reports does not take them either.
  EXPECT_THAT(MainEvents(), Not(HasSubstr("emergency-edit")));
  EXPECT_THAT(MainStatus(), Not(HasSubstr("emergency-edited")));
}

}  // namespace
}  // namespace tieup::testing

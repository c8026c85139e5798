// Tests site/config.h's UpdateSiteConfig: settings changed in a real site.toml in place (the
// console's Settings page writes through it).
#include <gtest/gtest.h>

#include "site/config.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

// A partner's site.toml as a manager may have edited it by hand: comments of their own, keys in
// another order, blank lines, no [variables] for the mail yet.
constexpr std::string_view kHandEdited =
    "# Kyoto Leaf, set up by Aiko. Ask her before changing the ports!\n"
    "[site]\n"
    "role = \"partner\"\n"
    "id = \"shop-b\"\n"
    "name = \"Kyoto Leaf\"   # as on the shop sign\n"
    "public = \"127.0.0.1:8082\"\n"
    "time_zone = \"Asia/Tokyo\"\n"
    "\n"
    "[partner]\n"
    "approval = \"manager\"\n"
    "main_sync_url = \"https://main.example:9443\"\n"
    "poll_seconds = 0  # main pushes\n"
    "\n"
    "# the console stays on this machine\n"
    "[console]\n"
    "listen = \"127.0.0.1:8092\"\n"
    "\n"
    "[variables]\n"
    "\"shop.currency\" = \"JPY\"\n"
    "\"shop.smtp_host\" = \"old-relay.example\"   # the relay of 2025\n"
    "phone = \"075-123\"\n";

class SiteConfigUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(Write(kHandEdited), IsOk()); }
  Status Write(std::string_view text) {
    return WriteFileAtomic(*env_, dir_.Sub("site.toml"), text, 0644);
  }
  std::string Text() { return env_->ReadFile(dir_.Sub("site.toml")).value(); }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
};

TEST_F(SiteConfigUpdateTest, ChangesOnlyTheLinesOfTheChangedKeysAndKeepsComments) {
  auto update = UpdateSiteConfig(*env_, dir_.path(), [](SiteConfig& c) {
    c.poll_seconds = 60;
    c.variables["shop.smtp_host"] = "relay.example";
    c.variables["shop.mail_from"] = "shop@kyoto-leaf.example";  // new
    c.variables.erase("phone");                                 // removed
    c.console_tls_certificate = "keys/console.crt";             // [console] gets two keys
    c.console_tls_key = "keys/console.key";
    return Status::Ok();
  });
  ASSERT_THAT(update, IsOk());
  EXPECT_TRUE(update->comments_kept);
  EXPECT_EQ(Text(),
            "# Kyoto Leaf, set up by Aiko. Ask her before changing the ports!\n"
            "[site]\n"
            "role = \"partner\"\n"
            "id = \"shop-b\"\n"
            "name = \"Kyoto Leaf\"   # as on the shop sign\n"
            "public = \"127.0.0.1:8082\"\n"
            "time_zone = \"Asia/Tokyo\"\n"
            "\n"
            "[partner]\n"
            "approval = \"manager\"\n"
            "main_sync_url = \"https://main.example:9443\"\n"
            "poll_seconds = 60  # main pushes\n"
            "\n"
            "# the console stays on this machine\n"
            "[console]\n"
            "listen = \"127.0.0.1:8092\"\n"
            "tls_certificate = \"keys/console.crt\"\n"
            "tls_key = \"keys/console.key\"\n"
            "\n"
            "[variables]\n"
            "\"shop.currency\" = \"JPY\"\n"
            "\"shop.smtp_host\" = \"relay.example\"   # the relay of 2025\n"
            "\"shop.mail_from\" = \"shop@kyoto-leaf.example\"\n");
  // What changed, before -> after, for the audit log.
  EXPECT_THAT(update->changes,
              ElementsAre(AllOf(Field(&SiteConfigChange::key, "console.tls_certificate"),
                                Field(&SiteConfigChange::before, "\"\""),
                                Field(&SiteConfigChange::after, "\"keys/console.crt\"")),
                          Field(&SiteConfigChange::key, "console.tls_key"),
                          AllOf(Field(&SiteConfigChange::key, "partner.poll_seconds"),
                                Field(&SiteConfigChange::before, "0"),
                                Field(&SiteConfigChange::after, "60")),
                          AllOf(Field(&SiteConfigChange::key, "variables.phone"),
                                Field(&SiteConfigChange::before, "\"075-123\""),
                                Field(&SiteConfigChange::after, "")),
                          AllOf(Field(&SiteConfigChange::key, "variables.shop.mail_from"),
                                Field(&SiteConfigChange::before, "")),
                          AllOf(Field(&SiteConfigChange::key, "variables.shop.smtp_host"),
                                Field(&SiteConfigChange::before, "\"old-relay.example\""),
                                Field(&SiteConfigChange::after, "\"relay.example\""))));

  // Read back by the loader: the configuration the update returned.
  auto loaded = LoadSiteConfig(*env_, dir_.path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(*loaded, update->config);
  EXPECT_EQ(loaded->poll_seconds, 60);
  EXPECT_EQ(loaded->variables.count("phone"), 0u);
  // Owner-only from now on: the file names the mail relay and the certificate's key.
  auto mode = env_->GetPermissions(dir_.Sub("site.toml"));
  ASSERT_THAT(mode, IsOk());
  EXPECT_EQ(*mode & 0777, 0600u);
}

TEST_F(SiteConfigUpdateTest, AddsAMissingSectionAtTheEnd) {
  ASSERT_THAT(Write("[site]\nrole = \"partner\"\nid = \"p\"  # no newline at the end"), IsOk());
  auto update = UpdateSiteConfig(*env_, dir_.path(), [](SiteConfig& c) {
    c.poll_seconds = 30;
    c.variables["shop.smtp_port"] = "587";
    return Status::Ok();
  });
  ASSERT_THAT(update, IsOk());
  EXPECT_TRUE(update->comments_kept);
  EXPECT_EQ(Text(),
            "[site]\nrole = \"partner\"\nid = \"p\"  # no newline at the end\n"
            "\n[partner]\npoll_seconds = 30\n"
            "\n[variables]\n\"shop.smtp_port\" = \"587\"\n");
  EXPECT_EQ(LoadSiteConfig(*env_, dir_.path())->poll_seconds, 30);
}

TEST_F(SiteConfigUpdateTest, AKeyInAnInlineTableRewritesTheFileAndSaysSo) {
  ASSERT_THAT(Write("# mine\npartner = { poll_seconds = 10 }\n[site]\nrole = \"partner\"\n"
                    "id = \"p\"\n"),
              IsOk());
  ASSERT_THAT(LoadSiteConfig(*env_, dir_.path()), IsOk());
  auto update = UpdateSiteConfig(*env_, dir_.path(), [](SiteConfig& c) {
    c.poll_seconds = 20;
    return Status::Ok();
  });
  ASSERT_THAT(update, IsOk());
  EXPECT_FALSE(update->comments_kept);
  EXPECT_THAT(Text(), ::testing::Not(HasSubstr("# mine")));
  auto loaded = LoadSiteConfig(*env_, dir_.path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(*loaded, update->config);
  EXPECT_EQ(loaded->poll_seconds, 20);
}

TEST_F(SiteConfigUpdateTest, BadValuesAreRefusedAsTheLoaderRefusesThemAndTheFileIsUnchanged) {
  struct Case {
    const char* what;
    std::function<void(SiteConfig&)> edit;
    const char* want;
  } cases[] = {
      {"a poll interval under 5 s", [](SiteConfig& c) { c.poll_seconds = 3; },
       "site.toml: 'partner.poll_seconds' must be 0 (main pushes) or at least 5"},
      {"a negative poll interval", [](SiteConfig& c) { c.poll_seconds = -1; },
       "'partner.poll_seconds' must be a whole number from 0 to 2147483647"},
      {"a certificate without its key",
       [](SiteConfig& c) { c.console_tls_certificate = "keys/console.crt"; },
       "console.tls_certificate' and console.tls_key go together"},
      {"an address the loader cannot read back",
       [](SiteConfig& c) {
         c.console_address = {"a b", 80};
       },
       "'console.listen'"},
      {"an unknown approval policy", [](SiteConfig& c) { c.approval = "later"; },
       "'partner.approval' must be \"auto\" or \"manager\""},
  };
  const std::string before = Text();
  for (const Case& c : cases) {
    auto update = UpdateSiteConfig(*env_, dir_.path(), [&](SiteConfig& config) {
      c.edit(config);
      return Status::Ok();
    });
    EXPECT_THAT(update, StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.want))) << c.what;
    EXPECT_EQ(Text(), before) << c.what;
  }
  // The edit's own refusal is returned as it is, and nothing is written either.
  EXPECT_THAT(UpdateSiteConfig(*env_, dir_.path(),
                               [](SiteConfig& c) {
                                 c.poll_seconds = 60;
                                 return Status::InvalidArgument("the SMTP port must be 1-65535");
                               }),
              StatusIs(StatusCode::kInvalidArgument, "the SMTP port must be 1-65535"));
  EXPECT_EQ(Text(), before);
  auto mode = env_->GetPermissions(dir_.Sub("site.toml"));
  EXPECT_EQ(*mode & 0777, 0644u);  // not even rewritten
  EXPECT_FALSE(env_->FileExists(dir_.Sub("site.toml.tmp")));
}

TEST_F(SiteConfigUpdateTest, RefusesWhenTheFileChangedSinceItWasShown) {
  auto shown = ReadSiteConfigFile(*env_, dir_.path());
  ASSERT_THAT(shown, IsOk());
  EXPECT_EQ(shown->config.poll_seconds, 0);
  // Someone edits the file by hand meanwhile.
  ASSERT_THAT(Write(std::string(kHandEdited) + "# changed by hand\n"), IsOk());
  const std::string edited = Text();
  auto set_poll = [](SiteConfig& c) {
    c.poll_seconds = 60;
    return Status::Ok();
  };
  EXPECT_THAT(UpdateSiteConfig(*env_, dir_.path(), set_poll, shown->sha256),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("changed by someone else")));
  EXPECT_EQ(Text(), edited);
  auto again = ReadSiteConfigFile(*env_, dir_.path());
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(UpdateSiteConfig(*env_, dir_.path(), set_poll, again->sha256), IsOk());
  EXPECT_THAT(Text(), HasSubstr("poll_seconds = 60  # main pushes\n"));
  EXPECT_THAT(Text(), HasSubstr("# changed by hand\n"));
}

TEST_F(SiteConfigUpdateTest, NoChangeWritesNothing) {
  auto update = UpdateSiteConfig(*env_, dir_.path(), [](SiteConfig&) { return Status::Ok(); });
  ASSERT_THAT(update, IsOk());
  EXPECT_TRUE(update->changes.empty());
  EXPECT_EQ(Text(), kHandEdited);
  EXPECT_EQ(*env_->GetPermissions(dir_.Sub("site.toml")) & 0777, 0644u);
}

TEST_F(SiteConfigUpdateTest, ASiteWrittenBySaveSiteConfigRoundTrips) {
  SiteConfig c;
  c.id = "shop-a";
  c.name = "Tea \"House\" Asahi";
  c.variables["shop.currency"] = "JPY";
  ASSERT_THAT(SaveSiteConfig(*env_, dir_.path(), c), IsOk());
  const std::string saved = Text();
  auto update = UpdateSiteConfig(*env_, dir_.path(), [](SiteConfig& config) {
    config.poll_seconds = 300;
    config.console_address = {"::1", 9000};
    return Status::Ok();
  });
  ASSERT_THAT(update, IsOk());
  EXPECT_TRUE(update->comments_kept);
  c.poll_seconds = 300;
  c.console_address = {"::1", 9000};
  EXPECT_EQ(*LoadSiteConfig(*env_, dir_.path()), c);
  // Only the two values changed: the file is what SaveSiteConfig writes for the new settings.
  const std::string updated = Text();
  EXPECT_NE(updated, saved);
  ASSERT_THAT(SaveSiteConfig(*env_, dir_.path(), c), IsOk());
  EXPECT_EQ(updated, Text());
}

}  // namespace
}  // namespace tieup

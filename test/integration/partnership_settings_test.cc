// Integration (issue 15 items 4 and 5): `tieup main partner set`, `suspend` and `resume` on the
// command line, against real `tieup main serve` and `tieup partner serve` processes: a changed
// variable reaches the partner with the next publish; a suspended partner is left out of
// `main publish --all` and keeps what it serves until it is resumed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "daemon_harness.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class PartnershipSettingsTest : public MainSiteTest {
 protected:
  // Enrolls and starts partner `id`; main's daemon must run.
  std::unique_ptr<SiteProcess> StartPartner(const std::string& id, const std::string& name) {
    CommandResult init =
        EnrollNewPartner(main_dir_, main_sync_port_, dir_.Sub(id), id, name, FreePort());
    EXPECT_EQ(init.exit_code, 0) << init.output;
    auto p =
        std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", dir_.Sub(id)});
    EXPECT_TRUE(p->Start()) << p->output();
    return p;
  }
  CommandResult Set(const std::vector<std::string>& flags) {
    std::vector<std::string> args = {"main", "partner", "set", main_dir_, "shop-a"};
    args.insert(args.end(), flags.begin(), flags.end());
    return RunTieup(args);
  }
  std::string Page(SiteProcess& p, const std::string& path) {
    return BodyOf(HttpGet(p.port(), path));
  }
  bool Serves(SiteProcess& p, const std::string& path, const std::string& text) {
    return WaitFor([&] { return Page(p, path).find(text) != std::string::npos; },
                   std::chrono::seconds(10));
  }
};

TEST_F(PartnershipSettingsTest, SetRefusesBadValuesWithExitCode2AndSaysWhy) {
  ASSERT_EQ(AddPartnership(main_dir_, "shop-a", "Shop A", FreePort()).exit_code, 0);
  CommandResult help = RunTieup({"main", "partner", "set", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--schedule", "--approval", "--retry", "--var", "--unset-var",
                           "--overrides", "--kind", "--emergency-edit"}) {
    EXPECT_THAT(help.output, HasSubstr(flag));
  }

  CommandResult bad = Set({"--schedule", "0 61 * * *", "--retry", "often", "--kind", "mirror"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("partner 'shop-a' is unchanged"));
  EXPECT_THAT(bad.output, HasSubstr("schedule: cron field 'hour' value 61 is out of range"));
  EXPECT_THAT(bad.output, HasSubstr("retry: retry policy 'often'"));
  EXPECT_THAT(bad.output, HasSubstr("kind: partnership kind 'mirror' is not known"));
  CommandResult var = Set({"--var", "novalue"});
  EXPECT_EQ(var.exit_code, 2);
  EXPECT_THAT(var.output, HasSubstr("--var 'novalue' must be NAME=VALUE"));
  CommandResult nothing = Set({});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_THAT(nothing.output, HasSubstr("nothing to change"));
  CommandResult unknown =
      RunTieup({"main", "partner", "set", main_dir_, "nobody", "--schedule", "@every 1h"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.output, HasSubstr("no partner 'nobody'"));
  EXPECT_THAT(RunTieup({"main", "partner", "ls", main_dir_}).output,
              HasRegex(R"(shop-a\s+contents\s+auto\s+none\s+\(manual\))"));

  CommandResult good =
      Set({"--schedule", "0 3 * * *", "--approval", "manager", "--emergency-edit", "keep"});
  ASSERT_EQ(good.exit_code, 0) << good.output;
  EXPECT_THAT(good.output, HasSubstr("schedule: (manual) -> '0 3 * * *'"));
  EXPECT_THAT(RunTieup({"main", "partner", "ls", main_dir_}).output,
              HasRegex(R"(shop-a\s+contents\s+manager\s+keep\s+0 3 \* \* \*)"));
  EXPECT_THAT(RunTieup({"main", "events", main_dir_}).output,
              HasRegex(R"(shop-a\s+changed\s+settings changed by command line .*approval: auto )"
                       R"(-> manager)"));
}

TEST_F(PartnershipSettingsTest, AVariableReachesThePartnerAndASuspendedPartnerIsSkipped) {
  StartMain();
  Author("pages/greet.md", "---\ntitle: Greet\n---\n{{greeting}} from {{partner.name}}\n");
  auto a = StartPartner("shop-a", "Shop A");
  auto b = StartPartner("shop-b", "Shop B");
  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_TRUE(Serves(*b, "/greet.html", "from Shop B")) << Page(*b, "/greet.html");

  // A variable: the next publish builds version 2 for shop-a only.
  CommandResult set = Set({"--var", "greeting=Konnichiwa"});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 2\s+activated)")) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-b\s+version 1\s+up_to_date)")) << pub.output;
  EXPECT_TRUE(Serves(*a, "/greet.html", "Konnichiwa from Shop A")) << Page(*a, "/greet.html");

  // shop-b suspended: publish --all leaves it out; it keeps serving what it has.
  CommandResult suspend = RunTieup({"main", "partner", "suspend", main_dir_, "shop-b"});
  ASSERT_EQ(suspend.exit_code, 0) << suspend.output;
  EXPECT_THAT(RunTieup({"main", "status", main_dir_}).output,
              HasRegex(R"(shop-b\s+1\s+1\s+-\s+suspended since )"));
  EXPECT_THAT(RunTieup({"main", "partner", "ls", main_dir_}).output,
              HasRegex(R"(shop-b .*SUSPENDED)"));
  Author("pages/greet.md", "---\ntitle: Greet\n---\n{{greeting}}, again, from {{partner.name}}\n");
  pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-a\s+version 3\s+activated)")) << pub.output;
  EXPECT_THAT(pub.output, Not(HasSubstr("shop-b"))) << pub.output;
  EXPECT_THAT(Page(*b, "/greet.html"), Not(HasSubstr("again")));
  // Named, it is refused with what to do.
  CommandResult named = RunTieup({"main", "publish", main_dir_, "--partner", "shop-b"});
  EXPECT_NE(named.exit_code, 0);
  EXPECT_THAT(named.output, HasSubstr("is suspended since"));
  EXPECT_THAT(named.output, HasSubstr("tieup main partner resume"));
  EXPECT_THAT(named.output, HasRegex(R"(shop-b\s+SUSPENDED: )")) << named.output;
  EXPECT_THAT(named.output, Not(HasSubstr("retried"))) << named.output;

  CommandResult resume = RunTieup({"main", "partner", "resume", main_dir_, "shop-b"});
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  EXPECT_THAT(pub.output, HasRegex(R"(shop-b\s+version 2\s+activated)")) << pub.output;
  EXPECT_TRUE(Serves(*b, "/greet.html", ", again, from Shop B")) << Page(*b, "/greet.html");
  EXPECT_THAT(RunTieup({"main", "events", main_dir_, "--partner", "shop-b"}).output,
              HasRegex(R"(shop-b\s+suspended\s+partnership suspended by command line)"));
}

}  // namespace
}  // namespace tieup::testing

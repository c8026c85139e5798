// Integration (issue 15, the partner kit): `tieup partner init --main URL --token CODE` against a
// real `tieup main serve`. A failed enrollment (a malformed, unknown, foreign, expired or used
// code; main not reachable; another server at main's address) leaves no half-made site: the
// folder init made is gone, and the message says what went wrong and to run init again. In a
// folder that was there before, the site is made and valid but not enrolled, and the message
// says how to finish with `tieup partner enroll`. A refused `partner enroll` changes nothing.
// A new site gets its starter pages (about us, contact, local specials) unless told not to.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/env.h"
#include "daemon_harness.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class EnrollmentFailuresTest : public MainSiteTest {
 protected:
  void SetUp() override {
    MainSiteTest::SetUp();
    StartMain();
  }

  std::string MainUrl() const { return "https://127.0.0.1:" + std::to_string(main_sync_port_); }

  // `tieup main partner add` for `id` (with `extra` flags); its enrollment code.
  std::string CodeFor(const std::string& id, const std::vector<std::string>& extra = {},
                      std::string* output = nullptr) {
    CommandResult add = AddPartnership(main_dir_, id, id, FreePort(), extra);
    EXPECT_EQ(add.exit_code, 0) << add.output;
    if (output != nullptr) *output = add.output;
    std::string code = EnrollmentCodeOf(add.output);
    EXPECT_FALSE(code.empty()) << add.output;
    return code;
  }

  // `tieup main partner token MAIN_DIR ID`: a new code for an existing partnership.
  std::string NewCodeFor(const std::string& id) {
    CommandResult r = RunTieup({"main", "partner", "token", main_dir_, id});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return EnrollmentCodeOf(r.output);
  }

  // `tieup partner init DIR --id ID ... --main URL --token CODE`, with `extra` flags.
  CommandResult Init(const std::string& dir, const std::string& id, const std::string& code,
                     const std::string& main_url = "", const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"partner",
                                     "init",
                                     dir,
                                     "--id",
                                     id,
                                     "--name",
                                     "Shop A",
                                     "--region",
                                     "Kansai",
                                     "--public",
                                     "127.0.0.1:0",
                                     "--sync",
                                     "127.0.0.1:" + std::to_string(FreePort()),
                                     "--main",
                                     main_url.empty() ? MainUrl() : main_url,
                                     "--token",
                                     code};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunTieup(args);
  }

  // Each file below `dir` (relative path -> bytes), to show that a command changed nothing.
  std::map<std::string, std::string> Snapshot(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      auto bytes = env_->ReadFile(e.path().string());
      out[std::filesystem::relative(e.path(), dir).string()] = bytes.ok() ? *bytes : "(unread)";
    }
    return out;
  }

  // The folder init would have made is not there at all.
  void ExpectNoSite(const std::string& dir, const CommandResult& r) {
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, AllOf(HasSubstr("\nNo site was made (nothing is left in '" + dir + "')"),
                                HasSubstr("run 'tieup partner init' again")))
        << r.output;
    EXPECT_THAT(r.output, Not(HasSubstr("Created partner site"))) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " was left behind";
  }

  // A whole partner site that is not enrolled: its configuration, its starter pages (page ls
  // works on it), no sync certificate.
  void ExpectValidUnenrolledSite(const std::string& dir) {
    EXPECT_TRUE(env_->FileExists(dir + "/site.toml"));
    EXPECT_TRUE(env_->FileExists(dir + "/keys/site.key"));
    EXPECT_FALSE(env_->FileExists(dir + "/keys/sync.crt"));
    CommandResult ls = RunTieup({"partner", "page", "ls", dir});
    EXPECT_EQ(ls.exit_code, 0) << ls.output;
    EXPECT_THAT(ls.output, AllOf(HasSubstr("/local/about.md"), HasSubstr("/local/contact.md"),
                                 HasSubstr("/local/specials.md")))
        << ls.output;
  }
};

TEST_F(EnrollmentFailuresTest, MalformedCodeLeavesNoSite) {
  const std::string dir = dir_.Sub("shop-a");
  CommandResult r = Init(dir, "shop-a", "not-a-code");
  EXPECT_THAT(r.output, HasSubstr("the enrollment code is malformed")) << r.output;
  ExpectNoSite(dir, r);
}

TEST_F(EnrollmentFailuresTest, UnknownCodeLeavesNoSite) {
  const std::string code = CodeFor("shop-a");
  // A code of the right shape, with main's fingerprint, that main never issued.
  const std::string unknown = Base64UrlEncode(std::string(32, 'x')) + code.substr(code.rfind('.'));
  const std::string dir = dir_.Sub("shop-a");
  CommandResult r = Init(dir, "shop-a", unknown);
  EXPECT_THAT(r.output, AllOf(HasSubstr("enrollment token for 'shop-a' is not known"),
                              HasSubstr("tieup main partner token MAIN_DIR shop-a")))
      << r.output;
  ExpectNoSite(dir, r);
  // The real code was not used up by the refusal.
  CommandResult ok = Init(dir, "shop-a", code);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(env_->FileExists(dir + "/keys/sync.crt"));
}

TEST_F(EnrollmentFailuresTest, AnotherPartnersCodeLeavesNoSite) {
  CodeFor("shop-a");
  const std::string other = CodeFor("shop-d");
  const std::string dir = dir_.Sub("shop-a");
  CommandResult r = Init(dir, "shop-a", other);
  EXPECT_THAT(r.output, HasSubstr("enrollment token was not issued for partner 'shop-a'"))
      << r.output;
  ExpectNoSite(dir, r);
}

TEST_F(EnrollmentFailuresTest, UsedCodeIsSaidAsSuchAndLeavesNoSite) {
  const std::string code = CodeFor("shop-a");
  const std::string first = dir_.Sub("first");
  CommandResult ok = Init(first, "shop-a", code);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;

  const std::string second = dir_.Sub("second");
  CommandResult r = Init(second, "shop-a", code);
  EXPECT_THAT(r.output, AllOf(HasSubstr("enrolling with " + MainUrl() +
                                        ": this enrollment code was already used, at "),
                              HasSubstr("a code works only once"),
                              HasSubstr("'tieup main partner token MAIN_DIR shop-a' prints one")))
      << r.output;
  ExpectNoSite(second, r);
  EXPECT_THAT(main_->output(), HasRegex("enrollment refused for 'shop-a': .*already used"));

  // What the message says to do works: a new code, the same init again.
  CommandResult again = Init(second, "shop-a", NewCodeFor("shop-a"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(env_->FileExists(second + "/keys/sync.crt"));
}

TEST_F(EnrollmentFailuresTest, ExpiredCodeLeavesNoSite) {
  std::string add;
  const std::string code = CodeFor("shop-c", {"--ttl", "1s"}, &add);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(add, m, std::regex(R"(expires (\S+Z))"))) << add;
  auto expires = ParseRfc3339(std::string(m[1]));
  ASSERT_TRUE(expires.ok()) << m[1];
  // Wait for the code's expiry on the clock main checks it with (this machine's).
  ASSERT_TRUE(WaitFor([&] { return std::time(nullptr) >= *expires; }, std::chrono::seconds(5)));

  const std::string dir = dir_.Sub("shop-c");
  CommandResult r = Init(dir, "shop-c", code);
  EXPECT_THAT(r.output, AllOf(HasSubstr("this enrollment code expired at " + std::string(m[1])),
                              HasSubstr("tieup main partner token MAIN_DIR shop-c")))
      << r.output;
  ExpectNoSite(dir, r);
}

TEST_F(EnrollmentFailuresTest, UnreachableMainLeavesNoSite) {
  const std::string code = CodeFor("shop-a");
  const std::string nobody = "https://127.0.0.1:" + std::to_string(FreePort());
  const std::string dir = dir_.Sub("shop-a");
  CommandResult r = Init(dir, "shop-a", code, nobody);
  EXPECT_THAT(r.output, AllOf(HasSubstr("fetching main's CA certificate from " + nobody),
                              HasSubstr("cannot connect")))
      << r.output;
  ExpectNoSite(dir, r);
}

TEST_F(EnrollmentFailuresTest, WrongFingerprintLeavesNoSiteAndSendsNothing) {
  const std::string code = CodeFor("shop-a");
  const std::string wrong = code.substr(0, code.rfind('.') + 1) + std::string(64, '0');
  const std::string dir = dir_.Sub("shop-a");
  CommandResult r = Init(dir, "shop-a", wrong);
  EXPECT_THAT(r.output, AllOf(HasSubstr("is not the one in your enrollment code"),
                              HasSubstr("nothing was sent")))
      << r.output;
  ExpectNoSite(dir, r);
  EXPECT_THAT(main_->output(), Not(HasSubstr("enrollment refused")));
}

TEST_F(EnrollmentFailuresTest, InAFolderThatExistedTheSiteIsLeftValidWithHowToFinish) {
  const std::string code = CodeFor("shop-a");
  ASSERT_EQ(Init(dir_.Sub("first"), "shop-a", code).exit_code, 0);
  // The manager made the folder first, and keeps a note in it.
  const std::string dir = dir_.Sub("shop-a");
  ASSERT_TRUE(CreateDirs(*env_, dir).ok());
  ASSERT_TRUE(WriteFileAtomic(*env_, dir + "/NOTES.txt", "my notes").ok());

  CommandResult r = Init(dir, "shop-a", code);  // already used
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("this enrollment code was already used"),
                    HasSubstr("The site in '" + dir + "' was made but is not enrolled"),
                    HasSubstr("finish with 'tieup partner enroll " + dir + " --main " + MainUrl() +
                              " --token CODE'"),
                    HasSubstr("Created partner site 'shop-a'"), HasSubstr("One-time link")))
      << r.output;
  EXPECT_EQ(*env_->ReadFile(dir + "/NOTES.txt"), "my notes");
  ExpectValidUnenrolledSite(dir);

  // Finishing as the message says.
  CommandResult enroll =
      RunTieup({"partner", "enroll", dir, "--main", MainUrl(), "--token", NewCodeFor("shop-a")});
  ASSERT_EQ(enroll.exit_code, 0) << enroll.output;
  EXPECT_THAT(enroll.output, HasSubstr("Enrolled with " + MainUrl()));
  EXPECT_TRUE(env_->FileExists(dir + "/keys/sync.crt"));
}

TEST_F(EnrollmentFailuresTest, RefusedEnrollChangesNothingAndCanBeRunAgain) {
  const std::string code = CodeFor("shop-a");
  ASSERT_EQ(Init(dir_.Sub("first"), "shop-a", code).exit_code, 0);
  const std::string dir = dir_.Sub("shop-a");
  CommandResult made =
      RunTieup({"partner", "init", dir, "--id", "shop-a", "--public", "127.0.0.1:0", "--sync",
                "127.0.0.1:" + std::to_string(FreePort())});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto before = Snapshot(dir);

  CommandResult used = RunTieup({"partner", "enroll", dir, "--main", MainUrl(), "--token", code});
  EXPECT_NE(used.exit_code, 0);
  EXPECT_THAT(used.output, HasSubstr("this enrollment code was already used")) << used.output;
  const std::string nobody = "https://127.0.0.1:" + std::to_string(FreePort());
  CommandResult down = RunTieup({"partner", "enroll", dir, "--main", nobody, "--token", code});
  EXPECT_NE(down.exit_code, 0);
  EXPECT_THAT(down.output, HasSubstr("cannot connect")) << down.output;
  EXPECT_EQ(Snapshot(dir), before);
  ExpectValidUnenrolledSite(dir);

  CommandResult ok =
      RunTieup({"partner", "enroll", dir, "--main", MainUrl(), "--token", NewCodeFor("shop-a")});
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
}

TEST_F(EnrollmentFailuresTest, NewSiteHasStarterPagesUnlessToldNot) {
  const std::string dir = dir_.Sub("shop-a");
  CommandResult r = Init(dir, "shop-a", CodeFor("shop-a"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("starter pages:      /local/about.html, /local/contact.html, "
                              "/local/specials.html"),
                    HasSubstr("[square brackets]"), HasSubstr("/pages), or edit the Markdown in"),
                    HasSubstr("tieup partner page put " + dir + " /local/ " + dir + "/own-pages/")))
      << r.output;
  auto source = env_->ReadFile(dir + "/own-pages/about.md");
  ASSERT_TRUE(source.ok());
  EXPECT_THAT(*source, AllOf(HasSubstr("title: About Shop A"), HasSubstr("in Kansai")));
  CommandResult ls = RunTieup({"partner", "page", "ls", dir});
  EXPECT_THAT(ls.output, AllOf(HasSubstr("/local/about.md"), HasSubstr("/local/specials.md")));

  // The served site has them, rendered in the site's layout (content/markdown_page.h), and they
  // link to each other there.
  SiteProcess partner({"partner", "serve", dir});
  ASSERT_TRUE(partner.Start()) << partner.output();
  std::string about;
  EXPECT_TRUE(WaitFor([&] {
    about = HttpGet(partner.port(), "/local/about.html");
    return BodyOf(about).find("<h1>About Shop A</h1>") != std::string::npos;
  })) << about;
  EXPECT_THAT(HeaderOf(about, "Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(BodyOf(about),
              AllOf(HasSubstr("<title>About Shop A"), HasSubstr("[a family-run shop] in Kansai"),
                    HasSubstr("<a href=\"/local/contact.html\">")));
  EXPECT_THAT(BodyOf(HttpGet(partner.port(), "/local/specials.html")),
              HasSubstr("<h1>Local specials from Kansai</h1>"));

  const std::string bare = dir_.Sub("shop-b");
  CommandResult none = RunTieup(
      {"partner", "init", bare, "--id", "shop-b", "--public", "127.0.0.1:0", "--no-starter-pages"});
  ASSERT_EQ(none.exit_code, 0) << none.output;
  EXPECT_THAT(none.output, Not(HasSubstr("starter pages:")));
  EXPECT_FALSE(env_->FileExists(bare + "/own-pages"));
  EXPECT_THAT(RunTieup({"partner", "page", "ls", bare}).output, HasSubstr("No pages yet"));
}

// `tieup main partner import`: many partnerships from one file (an operator with thousands of
// partners), each partner enrolling with its own code from the owner-only codes file. A file
// with a mistake anywhere adds nothing and says where.
TEST_F(EnrollmentFailuresTest, ImportAddsManyPartnersAndWritesTheirCodesOwnerOnly) {
  auto entry = [](const std::string& id, const std::string& extra = "") {
    return "[[partner]]\nid = \"" + id + "\"\nname = \"Shop " + id +
           "\"\npublic_url = \"http://127.0.0.1:1\"\n" + extra + "\n";
  };
  const std::string file = dir_.Sub("partners.toml");
  const std::string codes = dir_.Sub("codes.txt");

  // Mistakes: nothing is added, the message names the entry and what is wrong.
  struct Bad {
    std::string text, says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {entry("s1") + entry("s2", "colour = \"red\""), "partner 2: unknown key 'colour'"},
           {entry("s1") + entry("s1"), "partner 's1' is listed twice"},
           {entry("s1", "approval = \"sometimes\""), "partner 's1'"},
           {entry("s1", "variables = { shop = 3 }"), "variable 'shop' must be a string"},
           {"[[partner]]\nname = \"x\"\n", "'id' and 'public_url' are required"},
           {"[[partner]\n", "partners.toml:1:"},
           {"", "no [[partner]] tables"},
       }) {
    ASSERT_THAT(WriteFileAtomic(*env_, file, bad.text), IsOk());
    CommandResult r = RunTieup({"main", "partner", "import", main_dir_, file, "--codes", codes});
    EXPECT_NE(r.exit_code, 0) << bad.text;
    EXPECT_THAT(r.output, HasSubstr(bad.says)) << r.output;
    EXPECT_FALSE(env_->FileExists(codes)) << bad.text;
  }
  CommandResult listed = RunTieup({"main", "partner", "list", main_dir_});
  EXPECT_THAT(listed.output, Not(HasSubstr("s1"))) << listed.output;

  std::string text;
  for (int i = 1; i <= 3; ++i) {
    text += entry("shop-" + std::to_string(i),
                  "region = \"Kansai\"\n[partner.variables]\nmotto = \"fresh\"");
  }
  ASSERT_THAT(WriteFileAtomic(*env_, file, text), IsOk());
  CommandResult r = RunTieup({"main", "partner", "import", main_dir_, file, "--codes", codes});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("Added 3 partners"), HasSubstr(codes),
                              HasSubstr("tieup partner enroll PARTNER_DIR --main https://")))
      << r.output;
  EXPECT_EQ(std::filesystem::status(codes).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto written = env_->ReadFile(codes);
  ASSERT_THAT(written, IsOk());
  std::map<std::string, std::string> code_of;
  std::istringstream lines(*written);
  for (std::string line; std::getline(lines, line);) {
    size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    code_of[line.substr(0, tab)] = line.substr(tab + 1);
  }
  ASSERT_EQ(code_of.size(), 3u) << *written;
  // The codes work: shop-2 enrolls with its own.
  const std::string dir = dir_.Sub("shop-2");
  CommandResult init = Init(dir, "shop-2", code_of["shop-2"]);
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_TRUE(env_->FileExists(dir + "/keys/sync.crt"));
  // Another shop's code is not shop-1's.
  CommandResult wrong = Init(dir_.Sub("shop-1"), "shop-1", code_of["shop-3"]);
  EXPECT_NE(wrong.exit_code, 0) << wrong.output;

  // Importing again: the partners exist, and the codes file is not overwritten.
  const std::string codes2 = dir_.Sub("codes2.txt");
  r = RunTieup({"main", "partner", "import", main_dir_, file, "--codes", codes2});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("partner 'shop-1' exists already"), HasSubstr("nothing was added")))
      << r.output;
  ASSERT_THAT(WriteFileAtomic(*env_, file, entry("shop-9")), IsOk());
  r = RunTieup({"main", "partner", "import", main_dir_, file, "--codes", codes});
  EXPECT_THAT(r.output, HasSubstr("give another --codes file")) << r.output;
  auto unchanged = env_->ReadFile(codes);
  ASSERT_THAT(unchanged, IsOk());
  EXPECT_EQ(*unchanged, *written);
}

TEST_F(EnrollmentFailuresTest, HelpTeachesTheSteps) {
  CommandResult init = RunTieup({"partner", "init", "--help"});
  EXPECT_THAT(init.output,
              AllOf(HasSubstr("tieup main partner add MAIN_DIR"), HasSubstr("--token CODE"),
                    HasSubstr("tieup partner enroll"), HasSubstr("no site is made"),
                    HasSubstr("--no-starter-pages"), HasSubstr("docs/partner-guide.md")))
      << init.output;
  CommandResult enroll = RunTieup({"partner", "enroll", "--help"});
  EXPECT_THAT(enroll.output,
              AllOf(HasSubstr("tieup main partner token MAIN_DIR ID"),
                    HasSubstr("changes nothing in DIR"), HasSubstr("docs/partner-guide.md")))
      << enroll.output;
}

}  // namespace
}  // namespace tieup::testing

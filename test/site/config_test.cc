#include "site/config.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

class SiteConfigTest : public ::testing::Test {
 protected:
  Status WriteConfig(const std::string& text) {
    return WriteFileAtomic(*env_, dir_.Sub("site.toml"), text);
  }
  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
};

// An older site.toml that still grants itself emergency edits loads (the daemon and `page put
// --tieup` then say that the key no longer has an effect).
TEST_F(SiteConfigTest, TheObsoleteEmergencyEditKeyStillLoads) {
  ASSERT_THAT(WriteConfig("[site]\nrole = \"partner\"\nid = \"p1\"\n[partner]\n"
                          "emergency_edit = true\n"),
              IsOk());
  auto loaded = LoadSiteConfig(*env_, dir_.path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_TRUE(loaded->emergency_edit);
}

TEST_F(SiteConfigTest, SaveThenLoadRoundTrips) {
  SiteConfig c;
  c.role = SiteRole::kPartner;
  c.id = "shop-a";
  c.name = "Shop \"A\"";
  c.region = "Kansai";
  c.public_address = {"127.0.0.1", 0};
  c.sync_address = {"::1", 9444};
  c.approval = "manager";
  c.emergency_edit = true;  // obsolete: no longer written (main grants the right)
  c.poll_seconds = 60;
  c.area_prefix = "/kyoto/";
  c.time_zone = "Asia/Tokyo";
  c.locale = "ja-JP";
  c.variables["phone"] = "06-1234";
  c.waf_mode = "detect";
  c.waf_paranoia_level = 2;
  c.waf_anomaly_threshold = 7;
  c.waf_exclude_rules = {920350, 942100};
  c.waf_on_failure = "open";
  c.ops_address = {"127.0.0.1", 9464};
  c.log_format = "json";
  ASSERT_THAT(SaveSiteConfig(*env_, dir_.path(), c), IsOk());
  auto loaded = LoadSiteConfig(*env_, dir_.path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->id, "shop-a");
  EXPECT_EQ(loaded->name, "Shop \"A\"");
  EXPECT_EQ(loaded->sync_address.ToString(), "[::1]:9444");
  EXPECT_EQ(loaded->approval, "manager");
  EXPECT_FALSE(loaded->emergency_edit);
  EXPECT_EQ(env_->ReadFile(dir_.path() + "/site.toml")->find("emergency_edit"), std::string::npos);
  EXPECT_EQ(loaded->poll_seconds, 60);
  EXPECT_EQ(loaded->area_prefix, "/kyoto/");
  EXPECT_EQ(loaded->area_host, "");
  EXPECT_EQ(loaded->variables.at("phone"), "06-1234");
  EXPECT_EQ(loaded->time_zone, "Asia/Tokyo");
  EXPECT_EQ(loaded->locale, "ja-JP");
  EXPECT_EQ(loaded->waf_mode, "detect");
  EXPECT_EQ(loaded->waf_paranoia_level, 2);
  EXPECT_EQ(loaded->waf_anomaly_threshold, 7);
  EXPECT_EQ(loaded->waf_exclude_rules, (std::vector<int>{920350, 942100}));
  EXPECT_EQ(loaded->waf_on_failure, "open");
  EXPECT_EQ(loaded->ops_address.ToString(), "127.0.0.1:9464");
  EXPECT_EQ(loaded->log_format, "json");
  // The operations port off: written as "" and read back off.
  c.ops_address = {"", 0};
  ASSERT_THAT(SaveSiteConfig(*env_, dir_.path(), c), IsOk());
  EXPECT_THAT(*env_->ReadFile(dir_.path() + "/site.toml"), HasSubstr("[ops]\nlisten = \"\""));
  auto off = LoadSiteConfig(*env_, dir_.path());
  ASSERT_THAT(off, IsOk());
  EXPECT_EQ(off->ops_address.host, "");
  // A site.toml without [waf] (every site made before it) blocks attacks at level 1.
  ASSERT_THAT(WriteConfig("[site]\nrole = \"main\"\nid = \"m\"\n"), IsOk());
  auto plain = LoadSiteConfig(*env_, dir_.path());
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->waf_mode, "block");
  EXPECT_EQ(plain->waf_paranoia_level, 1);
  EXPECT_EQ(plain->waf_anomaly_threshold, 5);
  EXPECT_TRUE(plain->waf_exclude_rules.empty());
  EXPECT_EQ(plain->waf_on_failure, "closed");
  // ... and, without [ops] and [log], has its operations port on loopback at the public port +
  // 3000 (port 0 when the public port is 0), and logs text.
  EXPECT_EQ(plain->ops_address.ToString(), "127.0.0.1:11080");  // the default public 8080
  EXPECT_EQ(plain->log_format, "text");
  // ... and keeps its store in SQLite; a main site's [store] round-trips.
  EXPECT_EQ(plain->store_backend, "sqlite");
  EXPECT_EQ(plain->store_schema, "tieup");
  SiteConfig m = *plain;
  m.store_backend = "postgres";
  m.store_url = "postgresql://tieup@db.example:5432/tieup?sslmode=require";
  m.store_schema = "tieup_main";
  ASSERT_THAT(SaveSiteConfig(*env_, dir_.path(), m), IsOk());
  auto pg = LoadSiteConfig(*env_, dir_.path());
  ASSERT_THAT(pg, IsOk());
  EXPECT_EQ(pg->store_backend, "postgres");
  EXPECT_EQ(pg->store_url, m.store_url);
  EXPECT_EQ(pg->store_schema, "tieup_main");
  ASSERT_THAT(WriteConfig("[site]\nrole = \"main\"\nid = \"m\"\npublic = \"0.0.0.0:0\"\n"), IsOk());
  EXPECT_EQ(LoadSiteConfig(*env_, dir_.path())->ops_address.ToString(), "127.0.0.1:0");
  EXPECT_EQ(DefaultOpsAddress({"0.0.0.0", 65000}).port, 0);
}

TEST_F(SiteConfigTest, MissingFileSaysHowToCreateASite) {
  EXPECT_THAT(LoadSiteConfig(*env_, dir_.path()),
              StatusIs(StatusCode::kNotFound, HasSubstr("tieup partner init")));
}

TEST_F(SiteConfigTest, BadConfigsAreRefusedWithTheKey) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"[site]\nrole = \"main\"\nid = \"main\"\npubilc = \"x\"\n", "unknown key 'pubilc'"},
      {"[site]\nrole = \"boss\"\nid = \"main\"\n", "site.role"},
      {"[site]\nrole = \"main\"\nid = \"Main Site\"\n", "site.id"},
      {"[site]\nrole = \"main\"\nid = \"m\"\npublic = \"127.0.0.1\"\n", "has no port"},
      {"[site]\nrole = \"main\"\nid = \"m\"\npublic = \"127.0.0.1:99999\"\n", "bad port"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[http]\nthreads = \"two\"\n", "whole number"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[content]\nkeep_releases = 1\n", "rollback"},
      {"[site]\nrole = \"partner\"\nid = \"p\"\n[partner]\napproval = \"later\"\n", "approval"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[variables]\nx = 3\n", "variables.x"},
      {"[site]\nrole = \"partner\"\nid = \"p\"\n[partner]\npoll_seconds = 1\n", "at least 5"},
      {"[site]\nrole = \"partner\"\nid = \"p\"\n[partner]\narea_prefix = \"/kyoto\"\n",
       "partner.area_prefix"},
      {"[site]\nrole = \"partner\"\nid = \"p\"\n[partner]\narea_prefix = \"/a/../b/\"\n",
       "'.' or '..' segment"},
      {"[site]\nrole = \"partner\"\nid = \"p\"\n[partner]\narea_host = \"10.0.0.1\"\n",
       "partner.area_host"},
      {"[site]\nrole = \"partner\"\nid = \"p\"\n[partner]\narea_host = \"a..b\"\n",
       "not a host name"},
      {"[site]\nrole = \"partner\"\nid = \"p\"\n[partner]\narea_host = \"a.b\"\n"
       "area_prefix = \"/a/\"\n",
       "exclude each other"},
      {"[site\nrole = \"main\"\n", "site.toml:1"},
      {"[http]\nthreads = 2\n", "[site] table is missing"},
      {"site = 3\n", "must be a [site] table"},
      {"[site]\nrole = \"main\"\nid = \"m\"\ntime_zone = \"Tokyo\"\n", "site.time_zone"},
      {"[site]\nrole = \"main\"\nid = \"m\"\nlocale = \"klingon-XX\"\n", "site.locale"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[waf]\nmode = \"on\"\n", "waf.mode"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[waf]\nparanoia_level = 5\n", "waf.paranoia_level"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[waf]\nanomaly_threshold = 0\n",
       "waf.anomaly_threshold"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[waf]\nexclude_rules = 942100\n", "waf.exclude_rules"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[waf]\nexclude_rules = [\"942100\"]\n",
       "waf.exclude_rules"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[waf]\non_failure = \"ignore\"\n", "waf.on_failure"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[waf]\nrules = 1\n", "unknown key 'rules'"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[ops]\nlisten = \"0.0.0.0:9464\"\n",
       "ops.listen' must be a loopback address"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[ops]\nlisten = \"10.1.2.3:9464\"\n",
       "authentication in front"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[ops]\nlisten = \"127.0.0.1\"\n", "has no port"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[ops]\nport = 1\n", "unknown key 'port'"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[log]\nformat = \"xml\"\n", "log.format"},
      {"ops = 3\n[site]\nrole = \"main\"\nid = \"m\"\n", "must be a [ops] table"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[store]\nbackend = \"mysql\"\n", "store.backend"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[store]\nbackend = \"postgres\"\n",
       "'store.url' is needed"},
      {"[site]\nrole = \"partner\"\nid = \"p\"\n[store]\nbackend = \"postgres\"\nurl = "
       "\"postgresql://t@db/t\"\n",
       "a partner keeps its data in SITE_DIR/tieup.db"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[store]\nbackend = \"postgres\"\nurl = "
       "\"postgresql://t:s3cret@db/t\"\n",
       "holds a password"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[store]\nbackend = \"postgres\"\nurl = "
       "\"postgresql://t@db/t?password=s3cret\"\n",
       "holds a password"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[store]\nbackend = \"postgres\"\nurl = "
       "\"host=db user=t password = s3cret\"\n",
       "holds a password"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[store]\nschema = \"Tieup\"\n", "store.schema"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[store]\nschema = \"1st\"\n", "store.schema"},
      {"[site]\nrole = \"main\"\nid = \"m\"\n[store]\npassword = \"x\"\n",
       "unknown key 'password'"},
  };
  for (const Case& c : cases) {
    ASSERT_THAT(WriteConfig(c.text), IsOk());
    EXPECT_THAT(LoadSiteConfig(*env_, dir_.path()),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.want)))
        << c.text;
  }
}

TEST(LoopbackTest, OnlyThisMachinesAddresses) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host :
       {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "", "example.com", "127.0.0.1.example.com"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(BrowserPortsTest, TheFetchStandardsBadPortsAreRefused) {
  for (uint16_t port : {1, 25, 6000, 6667, 10080}) EXPECT_TRUE(BrowsersRefusePort(port)) << port;
  for (uint16_t port : {0, 80, 443, 8080, 10079, 10081, 65535}) {
    EXPECT_FALSE(BrowsersRefusePort(port)) << port;
  }
}

TEST(HostPortTest, ParsesAndRefuses) {
  EXPECT_EQ(ParseHostPort("localhost:0")->port, 0);
  EXPECT_EQ(ParseHostPort("[::1]:80")->host, "::1");
  EXPECT_THAT(ParseHostPort(":80"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHostPort("a:b"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHostPort("[::1]80"), StatusIs(StatusCode::kInvalidArgument));
  // Hosts that HostPort::ToString could not write back (found by fuzz/site_config).
  EXPECT_THAT(ParseHostPort("=::1]:9444"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHostPort("[]:80"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHostPort("a b:80"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(AreaTest, PrefixesAndHostsAreValidated) {
  for (const char* ok : {"/brand2/", "/tea/kyoto/", "/a.b_c-d/"}) {
    EXPECT_THAT(ValidateAreaPrefix(ok), IsOk()) << ok;
  }
  for (const char* bad : {"", "/", "brand2/", "/brand2", "//", "/a//b/", "/./", "/A/", "/a b/"}) {
    EXPECT_EQ(ValidateAreaPrefix(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  for (const char* ok : {"books.shop.example", "localhost", "a-b.c9", "xn--r8jz45g.jp"}) {
    EXPECT_THAT(ValidateAreaHost(ok), IsOk()) << ok;
  }
  for (const char* bad :
       {"", ".a", "a.", "-a.b", "a-.b", "A.b", "a_b.c", "127.0.0.1", "a:80", "[::1]"}) {
    EXPECT_EQ(ValidateAreaHost(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ValidateAreaHost(std::string(64, 'a') + ".b").code(), StatusCode::kInvalidArgument);
}

TEST(SiteIdTest, Validates) {
  EXPECT_TRUE(IsValidSiteId("shop-a"));
  EXPECT_FALSE(IsValidSiteId("-a"));
  EXPECT_FALSE(IsValidSiteId("Shop"));
  EXPECT_FALSE(IsValidSiteId("a/b"));
  EXPECT_FALSE(IsValidSiteId(std::string(64, 'a')));
}

TEST(SiteLockTest, SecondHolderWaitsThenGivesUp) {
  TempDir dir;
  auto first = SiteLock::Acquire(dir.path());
  ASSERT_THAT(first, IsOk());
  // flock locks belong to the open file description, so a second open in this process
  // conflicts just as another process would.
  EXPECT_THAT(SiteLock::Acquire(dir.path(), 100),
              StatusIs(StatusCode::kUnavailable, HasSubstr("busy")));
}

}  // namespace
}  // namespace tieup

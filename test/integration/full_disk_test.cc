// Integration: a partner whose disk runs full, with real `tieup` daemons on loopback. The
// partner's site directory is a small tmpfs the test mounts (root only: the test is skipped,
// saying why, where mounting is not permitted; the unit tests in test/ledger and test/content
// cover the same faults through an injected Env). An update that does not fit leaves nothing
// behind and the old release stays served; the access ledger refuses while the disk is full
// and recovers by itself once space returns, losing no request.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>

#include "base/env.h"
#include "daemon_harness.h"
#include "sync_harness.h"
#include "test_support.h"

namespace tieup::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Every file under `dir`, relative to it.
std::set<std::string> FilesUnder(Env& env, const std::string& dir, const std::string& prefix = "") {
  std::set<std::string> out;
  auto entries = env.ListDir(dir);
  if (!entries.ok()) return out;
  for (const FileInfo& e : *entries) {
    if (e.is_dir) {
      auto sub = FilesUnder(env, JoinPath(dir, e.name), prefix + e.name + "/");
      out.insert(sub.begin(), sub.end());
    } else {
      out.insert(prefix + e.name);
    }
  }
  return out;
}

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

// Writes `path` with up to `bytes` bytes (all that fits when the disk fills first).
void Fill(const std::string& path, uint64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  const std::string chunk(64 * 1024, 'f');
  for (uint64_t written = 0; written < bytes && out;) {
    const uint64_t n = std::min<uint64_t>(chunk.size(), bytes - written);
    out.write(chunk.data(), static_cast<std::streamsize>(n));
    out.flush();
    written += n;
  }
}

// Text that does not compress much (a gzip variant cannot make it fit).
std::string Noise(size_t bytes) {
  std::string out;
  out.reserve(bytes + 80);
  uint64_t x = 88172645463325252ull;
  static constexpr char kHex[] = "0123456789abcdef";
  while (out.size() < bytes) {
    for (int i = 0; i < 64; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      out.push_back(kHex[x & 15]);
    }
    out += "\n\n";
  }
  return out;
}

class FullDiskTest : public MainSiteTest {
 protected:
  void TearDown() override {
    if (partner_) partner_->Stop();
    if (mounted_) ::umount2(disk_.c_str(), MNT_DETACH);
  }

  // Mounts a tmpfs of `megabytes` at a fresh directory; false when not permitted.
  bool MountSmallDisk(int megabytes) {
    disk_ = dir_.Sub("small-disk");
    if (!CreateDirs(*env_, disk_).ok()) return false;
    const std::string options = "size=" + std::to_string(megabytes) + "m,mode=0700";
    if (::mount("tmpfs", disk_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      mount_error_ = std::strerror(errno);
      return false;
    }
    mounted_ = true;
    return true;
  }

  std::string Updates() { return RunTieup({"partner", "updates", shop_}).output; }
  std::string Page(const std::string& path = "/") {
    return BodyOf(HttpGet(partner_->port(), path));
  }

  std::string disk_, shop_;
  bool mounted_ = false;
  std::string mount_error_;
  std::unique_ptr<SiteProcess> partner_;
};

TEST_F(FullDiskTest, UpdateThatDoesNotFitLeavesNothingAndTheLedgerRecoversByItself) {
  if (!MountSmallDisk(16)) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (" << mount_error_
                 << "): this test needs root; the full-disk unit tests in test/ledger and "
                    "test/content cover the same faults through an injected Env";
  }
  StartMain();
  shop_ = JoinPath(disk_, "shop-b");
  const int sync_port = FreePort();
  CommandResult init =
      EnrollNewPartner(main_dir_, main_sync_port_, shop_, "shop-b", "Shop B", sync_port);
  ASSERT_EQ(init.exit_code, 0) << init.output;
  partner_ = std::make_unique<SiteProcess>(std::vector<std::string>{"partner", "serve", shop_});
  ASSERT_TRUE(partner_->Start()) << partner_->output();

  CommandResult pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  ASSERT_TRUE(WaitFor([&] { return Page().find("Welcome to Sakura Tea") != std::string::npos; }))
      << Page() << partner_->output();
  const std::string served_before = Page();

  // 1. An update that does not fit: a large new page and small ones, with 1.5 MiB left on the
  // disk: room for the small pages and the large page's gzip variant, not for the page itself
  // (so blobs are stored before the one that does not fit, whatever order they come in).
  const std::set<std::string> blobs_before = FilesUnder(*env_, shop_ + "/blobs");
  const std::set<std::string> releases_before = FilesUnder(*env_, shop_ + "/releases");
  const uint64_t free_now = FreeBytes(disk_);
  ASSERT_GT(free_now, 4u << 20);
  Fill(JoinPath(disk_, "filler-1"), free_now - (1536 << 10));
  Author("pages/catalogue.md", "---\ntitle: Catalogue\n---\n# Catalogue\n\n" + Noise(2 << 20));
  for (int i = 0; i < 8; ++i) {
    Author("pages/tea-" + std::to_string(i) + ".md",
           "---\ntitle: Tea " + std::to_string(i) + "\n---\n# Tea " + std::to_string(i) + "\n");
  }
  pub = RunTieup({"main", "publish", main_dir_, "--all"});
  ASSERT_TRUE(WaitFor([&] {
    return Updates().find("No space left on device") != std::string::npos;
  })) << Updates()
      << pub.output;
  // The failed attempt is in the partner's update list with its reason; nothing it wrote stays;
  // the old release is served, whole.
  EXPECT_THAT(Updates(), HasRegex(R"(v2 +failed +storing fetched blobs failed: .*No space left on )"
                                  R"(device.*; the \d+ blob\(s\) it stored were removed)"));
  EXPECT_EQ(FilesUnder(*env_, shop_ + "/blobs"), blobs_before);
  EXPECT_EQ(FilesUnder(*env_, shop_ + "/releases"), releases_before);
  EXPECT_EQ(Page(), served_before);
  EXPECT_EQ(StatusOf(HttpGet(partner_->port(), "/catalogue.html")), 404);

  // 2. The disk is full to the last byte: requests are still served while the ledger refuses.
  Fill(JoinPath(disk_, "filler-2"), uint64_t{1} << 40);
  ASSERT_EQ(FreeBytes(disk_), 0u);
  int served = 0;
  for (int i = 0; i < 200 && partner_->output().find("cannot be written") == std::string::npos;
       ++i) {
    ASSERT_EQ(StatusOf(HttpGet(partner_->port(), "/")), 200);
    ++served;
  }
  ASSERT_TRUE(WaitFor([&] {
    return partner_->output().find("cannot be written") != std::string::npos;
  })) << partner_->output();
  for (int i = 0; i < 20; ++i, ++served) {
    EXPECT_EQ(StatusOf(HttpGet(partner_->port(), "/")), 200);
  }

  // 3. Space returns: the ledger is written again without a restart, nothing was lost.
  ASSERT_TRUE(env_->RemoveFile(JoinPath(disk_, "filler-2")).ok());
  ASSERT_TRUE(env_->RemoveFile(JoinPath(disk_, "filler-1")).ok());
  ASSERT_TRUE(WaitFor([&] {
    return partner_->output().find("is written again") != std::string::npos;
  })) << partner_->output();
  for (int i = 0; i < 5; ++i, ++served) EXPECT_EQ(StatusOf(HttpGet(partner_->port(), "/")), 200);
  EXPECT_EQ(partner_->Stop(), 0) << partner_->output();  // flushes and signs a checkpoint
  EXPECT_THAT(partner_->output(), Not(HasSubstr("could not be written before the stop")));

  CommandResult verify = RunTieup({"partner", "ledger", "verify", shop_});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("all verified"));
  EXPECT_THAT(verify.output, Not(HasSubstr("unrecorded")));
  CommandResult push = RunTieup({"partner", "ledger", "push", shop_});
  ASSERT_EQ(push.exit_code, 0) << push.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(push.output, m, std::regex(R"(main holds (\d+) verified entries)")))
      << push.output;
  // Every request of the test (and the content records) is in main's verified copy.
  EXPECT_GE(std::stoi(m[1].str()), served);
  verify = RunTieup({"main", "ledger", "verify", main_dir_, "--partner", "shop-b"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("\nOK\n"));

  // 4. The update goes through now that there is room.
  ASSERT_TRUE(partner_->Start()) << partner_->output();
  pub = RunTieup({"main", "publish", main_dir_, "--all"});
  EXPECT_TRUE(WaitFor([&] { return StatusOf(HttpGet(partner_->port(), "/catalogue.html")) == 200; },
                      std::chrono::seconds(20)))
      << pub.output << Updates();
}

}  // namespace
}  // namespace tieup::testing

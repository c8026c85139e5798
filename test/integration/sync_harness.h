// Helpers for integration tests of remote updating: real `tieup` main and partner processes on
// loopback, enrolled through the printed enrollment code.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "base/env.h"
#include "daemon_harness.h"
#include "test_support.h"

namespace tieup::testing {

// The enrollment code in the output of `tieup main partner add` or `... partner token`
// ("" when there is none).
std::string EnrollmentCodeOf(const std::string& output);

// The update id in a line "ID  version N  pending_approval  update uK" of `tieup main publish`
// for partner `partner` ("" when there is none).
std::string UpdateIdOf(const std::string& publish_output, const std::string& partner);

// On the pg.* run of a binary registered with POSTGRES (test_database.h): moves the main site at
// `dir`, just made by `tieup main init`, to the test cluster with `tieup main store migrate`, as
// a manager would. Otherwise nothing (exit code 0).
CommandResult MoveMainToTestStore(const std::string& dir);

// `tieup main init DIR --name NAME --public 127.0.0.1:0 --sync 127.0.0.1:PORT` on a free port
// (and MoveMainToTestStore); returns the sync port, or 0 with `*output` set when init failed.
int InitMainSite(const std::string& dir, const std::string& name, std::string* output);

// `tieup main partner add MAIN_DIR --id ID --name NAME` for a partner whose sync port is
// `sync_port` (public URL http://127.0.0.1:1), with `extra` arguments; the output carries the
// enrollment code.
CommandResult AddPartnership(const std::string& main_dir, const std::string& id,
                             const std::string& name, int sync_port,
                             const std::vector<std::string>& extra = {});

// Adds partnership `id` and creates its site at `dir`, enrolled with main (whose daemon must
// run on `main_sync_port`) by `tieup partner init ... --token CODE`. Returns the result of
// partner init, or of partner add when that failed (or printed no code).
CommandResult EnrollNewPartner(const std::string& main_dir, int main_sync_port,
                               const std::string& dir, const std::string& id,
                               const std::string& name, int sync_port,
                               const std::vector<std::string>& add_extra = {});

// A main site made by `tieup main init` ("Sakura Tea") in a fresh directory before each test;
// its daemon is made but not started (StartMain).
class MainSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_dir_ = dir_.Sub("main");
    std::string output;
    main_sync_port_ = InitMainSite(main_dir_, "Sakura Tea", &output);
    ASSERT_NE(main_sync_port_, 0) << output;
    main_ = std::make_unique<SiteProcess>(std::vector<std::string>{"main", "serve", main_dir_});
  }

  void StartMain() { ASSERT_TRUE(main_->Start()) << main_->output(); }

  // Writes an authoring file of main (relative to authoring/).
  void Author(const std::string& rel, const std::string& text) {
    const std::string path = main_dir_ + "/authoring/" + rel;
    ASSERT_TRUE(CreateDirs(*env_, DirName(path)).ok());
    ASSERT_TRUE(WriteFileAtomic(*env_, path, text).ok());
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
  std::string main_dir_;
  int main_sync_port_ = 0;
  std::unique_ptr<SiteProcess> main_;
};

// ECMAScript regular expressions (gtest's own regex lacks \\d and \\s).
MATCHER_P(HasRegex, pattern, "contains a match of /" + std::string(pattern) + "/") {
  return std::regex_search(std::string(arg), std::regex(pattern));
}

// Runs any program (argv[0] is a path) with `input` on its standard input; returns its exit
// code and interleaved standard output and error. Killed after `timeout`.
CommandResult RunProgram(const std::vector<std::string>& argv, const std::string& input,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends `request` (a plain HTTP/1.1 request) through `openssl s_client` to 127.0.0.1:port over
// TLS, presenting no client certificate; returns what s_client printed.
std::string TlsWithoutCertificate(int port, const std::string& request);

// The text of the first mail waiting in SITE_DIR/mail/pending (a site's outbox) that contains
// `needle`; "" when there is none (yet).
std::string PendingMailWith(Env& env, const std::string& site_dir, std::string_view needle);

}  // namespace tieup::testing

#include "main_site/control.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "main_site/main_daemon.h"
#include "main_site/main_sync.h"
#include "main_site/own_site.h"
#include "main_site/publish_run.h"
#include "site/public_site.h"
#include "site/site_store.h"
#include "store/database.h"
#include "test_database.h"
#include "test_support.h"

namespace tieup {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

// One reported line: 'o' for standard output, 'e' for standard error.
using Lines = std::vector<std::pair<char, std::string>>;

PublishOutput Collect(Lines* lines) {
  PublishOutput out;
  out.out = [lines](std::string_view l) { lines->emplace_back('o', std::string(l)); };
  out.err = [lines](std::string_view l) { lines->emplace_back('e', std::string(l)); };
  return out;
}

// A main site as `tieup main init` makes it (ports 0), not built yet.
Status MakeMainSite(Env& env, const std::string& dir) {
  SiteConfig c;
  c.role = SiteRole::kMain;
  c.id = "main";
  c.name = "Sakura Tea";
  c.public_address = {"127.0.0.1", 0};
  c.sync_address = {"127.0.0.1", 0};
  RETURN_IF_ERROR(CreateSiteDir(env, dir, c));
  RETURN_IF_ERROR(::tieup::testing::UseTestStore(env, dir));
  RETURN_IF_ERROR(InitMainTrust(env, dir, c.name));
  return WriteStarterAuthoring(env, AuthoringDir(c, dir));
}

// A partnership whose partner cannot be reached (nothing listens on port 1).
sync::Partnership Unreachable(const std::string& id) {
  sync::Partnership p;
  p.id = id;
  p.name = id;
  p.public_url = "http://127.0.0.1:1";
  p.sync_url = "https://127.0.0.1:1";
  p.retry = "manual";  // the daemon's scheduler must not retry behind the test's back
  return p;
}

// Sends `bytes` to the socket at `path` as they are (optionally ending the request with end of
// file) and returns every line received until the server closes.
std::vector<std::string> RawExchange(const std::string& path, const std::string& bytes,
                                     bool shutdown_write = false) {
  std::vector<std::string> lines;
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ADD_FAILURE() << "connect " << path << ": " << std::strerror(errno);
    ::close(fd);
    return lines;
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (shutdown_write) ::shutdown(fd, SHUT_WR);
  timeval tv{20, 0};  // a server that never closes fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string all;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) all.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(n, 0) << "the server did not close the connection: " << std::strerror(errno);
  ::close(fd);
  size_t start = 0;
  for (size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(all.substr(start, nl - start));
  }
  EXPECT_EQ(start, all.size()) << "an unterminated line: " << all.substr(start);
  return lines;
}

// The parsed error line: {"status":"error","code":...,"message":...}.
struct ErrorLine {
  std::string code, message;
};
ErrorLine ParseError(const std::string& line) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << line;
  ErrorLine e;
  if (ec || !v.is_object()) return e;
  const auto& o = v.get_object();
  EXPECT_EQ(o.at("status"), "error") << line;
  if (auto* c = o.if_contains("code")) e.code = c->as_string().c_str();
  if (auto* m = o.if_contains("message")) e.message = m->as_string().c_str();
  return e;
}

// GET `target` from 127.0.0.1:port; the raw response.
std::string HttpGet(uint16_t port, const std::string& target) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return "";
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req), ec);
  std::string resp;
  asio::read(s, asio::dynamic_buffer(resp), ec);
  return resp;
}

class ControlTest : public ::testing::Test {
 protected:
  ControlTest() : env_(NewPosixEnv()) {
    dir_ = tmp_.Sub("main");
    EXPECT_THAT(MakeMainSite(*env_, dir_), IsOk());
  }

  // Opens and starts main's daemon on dir_.
  void StartDaemon(MainDaemonOptions options = {}) {
    options.tick = std::chrono::hours(1);  // no scheduler work during a test
    auto d = MainDaemon::Open(*env_, dir_, NewNullLogger(), options);
    ASSERT_THAT(d.status(), IsOk());
    daemon_ = std::move(*d);
    ASSERT_THAT(daemon_->Start(), IsOk());
  }

  // ForwardToDaemon with its lines collected; the daemon's pid in *pid.
  Result<bool> Forward(const PublishRequest& request, Lines* lines, pid_t* pid = nullptr) {
    PublishOutput out = Collect(lines);
    return ForwardToDaemon(dir_, request, out, [pid](pid_t p) {
      if (pid != nullptr) *pid = p;
    });
  }

  std::string Socket() const { return ControlSocketPath(dir_); }

  // A valid request line must still be served after a refused one.
  void ExpectStillPublishes() {
    Lines lines;
    Result<bool> r = Forward(PublishRequest{}, &lines);
    ASSERT_THAT(r.status(), IsOk());
    EXPECT_TRUE(*r);
    EXPECT_THAT(lines, SizeIs(2));
  }

  TempDir tmp_;
  std::unique_ptr<Env> env_;
  std::string dir_;
  std::unique_ptr<MainDaemon> daemon_;
};

TEST_F(ControlTest, PublishThroughTheDaemonReportsWhatAnInProcessRunReports) {
  // Two identical sites with the same unreachable partner: one published through its daemon,
  // the other in this process, as `tieup main publish --in-process` does.
  const std::string other = tmp_.Sub("other");
  ASSERT_THAT(MakeMainSite(*env_, other), IsOk());
  StartDaemon();
  ASSERT_THAT(daemon_->sync().AddPartner(Unreachable("shop-x"), 3600).status(), IsOk());

  Lines through;
  pid_t pid = 0;
  PublishRequest all;
  all.all = true;
  Result<bool> forwarded = Forward(all, &through, &pid);
  EXPECT_THAT(forwarded.status(),
              StatusIs(StatusCode::kUnavailable, HasSubstr("1 partner update(s) failed")));
  EXPECT_EQ(pid, ::getpid());  // the daemon runs in this test's process

  auto config = LoadSiteConfig(*env_, other);
  ASSERT_THAT(config.status(), IsOk());
  auto db = OpenSiteDatabase(*config, other);
  ASSERT_THAT(db.status(), IsOk());
  auto sync = MainSync::Open(*env_, other, *config, **db, NewNullLogger());
  ASSERT_THAT(sync.status(), IsOk());
  ASSERT_THAT((*sync)->AddPartner(Unreachable("shop-x"), 3600).status(), IsOk());
  SiteContentOptions o;
  o.site_id = "main";
  o.serve = false;
  auto content = SiteContent::Open(*env_, other, o);
  ASSERT_THAT(content.status(), IsOk());
  Lines in_process;
  PublishOutput out = Collect(&in_process);
  Status local = RunPublish(*env_, *config, **content, (*sync)->publisher(), all, out);
  EXPECT_EQ(local, forwarded.status());

  EXPECT_EQ(through, in_process);
  ASSERT_THAT(through, SizeIs(8));
  EXPECT_EQ(through[0], std::make_pair('o', std::string("main: activated release 1 (5 files)")));
  EXPECT_EQ(through[1], std::make_pair('e', std::string("publishing to every partner...")));
  // The partner's steps as they happen, on standard error.
  EXPECT_EQ(through[2], std::make_pair('e', std::string("  shop-x: building")));
  EXPECT_EQ(through[3], std::make_pair('e', std::string("  shop-x: offering version 1")));
  EXPECT_EQ(through[4].first, 'e');
  EXPECT_THAT(through[4].second, ::testing::StartsWith("  shop-x: failed: "));
  EXPECT_EQ(through[5].first, 'o');
  EXPECT_THAT(through[5].second, ::testing::StartsWith("shop-x         FAILED: "));
  EXPECT_EQ(through[6], std::make_pair('e', std::string("1 partner: 0 activated, 0 waiting for "
                                                        "approval, 1 failed")));
  EXPECT_THAT(through[7].second, HasSubstr("1 partner(s) failed; they are retried"));
}

// A client that draws its own progress (the command line's bar on a terminal) asks for the
// steps as data and without the step lines: every field of each step comes over the socket.
TEST_F(ControlTest, ProgressComesAsDataWhenAskedForWithoutTheStepLines) {
  StartDaemon();
  ASSERT_THAT(daemon_->sync().AddPartner(Unreachable("shop-x"), 3600).status(), IsOk());
  Lines lines;
  std::vector<sync::PublishProgress> steps;
  PublishOutput out = Collect(&lines);
  out.step_lines = false;
  out.progress = [&steps](const sync::PublishProgress& step) { steps.push_back(step); };
  PublishRequest all;
  all.all = true;
  Result<bool> r = ForwardToDaemon(dir_, all, out);
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kUnavailable));
  for (const auto& [stream, line] : lines) {
    EXPECT_THAT(line, ::testing::Not(::testing::StartsWith("  shop-x: "))) << "a step line";
  }
  EXPECT_THAT(lines, ::testing::Contains(std::make_pair(
                         'e', std::string("1 partner: 0 activated, 0 waiting for approval, "
                                          "1 failed"))));
  ASSERT_THAT(steps, SizeIs(4));
  EXPECT_EQ(steps[0].stage, "queued");
  EXPECT_EQ(steps[1].stage, "building");
  EXPECT_EQ(steps[2].stage, "offering");
  EXPECT_EQ(steps[2].version, 1u);
  EXPECT_FALSE(steps[2].update_id.empty());
  EXPECT_EQ(steps[3].stage, "failed");
  EXPECT_TRUE(steps[3].done);
  EXPECT_FALSE(steps[3].reason.empty());
  EXPECT_EQ(steps[3].partner, "shop-x");
  EXPECT_EQ(steps[3].update_id, steps[2].update_id);
}

TEST_F(ControlTest, DaemonServesMainsNewReleaseAtOnce) {
  StartDaemon();
  Lines lines;
  Result<bool> r = Forward(PublishRequest{}, &lines);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_TRUE(*r);
  EXPECT_THAT(lines,
              ElementsAre(std::make_pair('o', std::string("main: activated release 1 (5 files)")),
                          std::make_pair('o', std::string("No partners named: add --all or "
                                                          "--partner ID to update partners."))));
  EXPECT_THAT(HttpGet(daemon_->public_port(), "/"), HasSubstr("Welcome to Sakura Tea"));

  // An edit, published again: the running daemon serves it without reloading anything.
  ASSERT_THAT(WriteFileAtomic(*env_, dir_ + "/authoring/pages/index.md",
                              "---\ntitle: Home\n---\nFresh leaves today.\n"),
              IsOk());
  lines.clear();
  r = Forward(PublishRequest{}, &lines);
  ASSERT_THAT(r.status(), IsOk());
  ASSERT_THAT(lines, Not(::testing::IsEmpty()));
  EXPECT_EQ(lines[0].second, "main: activated release 2 (5 files)");
  EXPECT_THAT(HttpGet(daemon_->public_port(), "/"), HasSubstr("Fresh leaves today."));

  lines.clear();
  r = Forward(PublishRequest{}, &lines);
  ASSERT_THAT(r.status(), IsOk());
  ASSERT_THAT(lines, Not(::testing::IsEmpty()));
  EXPECT_EQ(lines[0].second, "main: unchanged, release 2 (5 files)");
}

TEST_F(ControlTest, UnknownPartnerIsReportedThroughTheSocket) {
  StartDaemon();
  Lines lines;
  PublishRequest one;
  one.partners = {"nobody"};
  Result<bool> r = Forward(one, &lines);
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kUnavailable));
  ASSERT_THAT(lines, SizeIs(6));
  EXPECT_EQ(lines[1], std::make_pair('e', std::string("publishing to 1 partner(s)...")));
  EXPECT_EQ(lines[2], std::make_pair('e', std::string("  nobody: failed: no partner 'nobody'; add "
                                                      "it with 'tieup main partner add'")));
  EXPECT_THAT(lines[3].second, ::testing::StartsWith("nobody         FAILED: "));
}

TEST_F(ControlTest, SocketIsOwnerOnlyAndRemovedAtStop) {
  StartDaemon();
  struct stat st {};
  ASSERT_EQ(::stat(Socket().c_str(), &st), 0) << std::strerror(errno);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_FALSE(env_->FileExists(Socket() + ".new"));
  daemon_->Stop();
  EXPECT_FALSE(env_->FileExists(Socket()));
  Lines lines;
  Result<bool> r = Forward(PublishRequest{}, &lines);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_FALSE(*r);  // no daemon: the caller publishes itself
  EXPECT_TRUE(lines.empty());
}

TEST_F(ControlTest, NoSocketFileMeansNoDaemon) {
  Lines lines;
  Result<bool> r = Forward(PublishRequest{}, &lines);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_FALSE(*r);
}

// A socket file nobody listens on: what a daemon killed with SIGKILL leaves behind.
void MakeStaleSocket(Env& env, const std::string& path) {
  ASSERT_THAT(CreateDirs(env, DirName(path)), IsOk());
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << std::strerror(errno);
  ASSERT_EQ(::listen(fd, 1), 0);
  ::close(fd);
  ASSERT_TRUE(env.FileExists(path));
}

TEST_F(ControlTest, StaleSocketFileMeansNoDaemon) {
  MakeStaleSocket(*env_, Socket());
  Lines lines;
  Result<bool> r = Forward(PublishRequest{}, &lines);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_FALSE(*r);
  EXPECT_TRUE(lines.empty());
}

TEST_F(ControlTest, DaemonReplacesAStaleSocketFile) {
  MakeStaleSocket(*env_, Socket());
  StartDaemon();
  ExpectStillPublishes();
}

TEST_F(ControlTest, SecondDaemonForTheSameSiteIsRefused) {
  StartDaemon();
  auto second = MainDaemon::Open(*env_, dir_, NewNullLogger());
  ASSERT_THAT(second.status(), IsOk());
  EXPECT_THAT((*second)->Start(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("another 'tieup main serve")));
  (*second)->Stop();
  // The first one's socket is untouched.
  ExpectStillPublishes();
}

// Each bad request gets one error line naming what is wrong, the connection is closed, and the
// daemon goes on serving publishes.
TEST_F(ControlTest, BadRequestsAreRefusedWithOneErrorLineAndTheDaemonGoesOn) {
  StartDaemon();
  struct Case {
    std::string request, code, message;
  } cases[] = {
      {"{\"command\": publish\n", "invalid_argument", "the request is not valid JSON"},
      {"{\"command\": publish\n", "invalid_argument", R"({"command":"publish","all":true})"},
      {"[\"publish\"]\n", "invalid_argument", "must be a JSON object"},
      {R"({"command":"publish","partners":[")" + std::string(70 * 1024, 'a') + "\"]}\n",
       "resource_exhausted", "larger than 65536 bytes"},
      {"{\"command\":\"rollback\"}\n", "unimplemented", "unknown command 'rollback'"},
      {"{\"all\":true}\n", "invalid_argument", "no \"command\" string"},
      {"{\"command\":\"publish\",\"all\":\"yes\"}\n", "invalid_argument",
       "\"all\" must be true or false"},
      {"{\"command\":\"publish\",\"partners\":\"shop-a\"}\n", "invalid_argument",
       "\"partners\" must be an array"},
      {"{\"command\":\"publish\",\"partners\":[\"shop-a\",7]}\n", "invalid_argument",
       "must hold only strings"},
      {"{\"command\":\"publish\",\"al\":true}\n", "invalid_argument", "unknown field \"al\""},
      {"{\"command\":\"publish\",\"progress\":1}\n", "invalid_argument",
       "\"progress\" must be true or false"},
      {"{\"command\":\"publish\",\"steps\":null}\n", "invalid_argument",
       "\"steps\" must be true or false"},
  };
  for (const Case& c : cases) {
    const std::string shown = c.request.substr(0, 80);
    std::vector<std::string> lines = RawExchange(Socket(), c.request);
    ASSERT_THAT(lines, SizeIs(1)) << shown;
    ErrorLine e = ParseError(lines[0]);
    EXPECT_EQ(e.code, c.code) << shown;
    EXPECT_THAT(e.message, HasSubstr(c.message)) << shown;
  }
  ExpectStillPublishes();
}

TEST_F(ControlTest, RequestEndedByEndOfFileIsServed) {
  StartDaemon();
  std::vector<std::string> lines =
      RawExchange(Socket(), R"({"command":"publish"})", /*shutdown_write=*/true);
  ASSERT_THAT(lines, SizeIs(4));
  EXPECT_THAT(lines[0], HasSubstr("\"pid\":"));
  EXPECT_EQ(lines[1], R"j({"stdout":"main: activated release 1 (5 files)"})j");
  EXPECT_EQ(lines[3], R"({"status":"ok"})");
}

TEST_F(ControlTest, ClientThatSendsNothingIsDroppedAfterTheRequestTimeout) {
  MainDaemonOptions o;
  o.control.request_timeout = std::chrono::milliseconds(100);
  StartDaemon(o);
  std::vector<std::string> lines = RawExchange(Socket(), "{\"command\":");
  ASSERT_THAT(lines, SizeIs(1));
  ErrorLine e = ParseError(lines[0]);
  EXPECT_EQ(e.code, "deadline_exceeded");
  EXPECT_THAT(e.message, HasSubstr("no complete request line arrived within 100 ms"));
  ExpectStillPublishes();
}

// A daemon that dies after accepting: the client must not report success nor hang. The "daemon"
// here is a socket that answers like one and then closes, as a killed process's socket does.
TEST_F(ControlTest, DaemonThatStopsMidRunIsUnavailable) {
  const std::string path = Socket();
  ASSERT_THAT(CreateDirs(*env_, DirName(path)), IsOk());
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  std::thread dying([listener] {
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    char buf[1024];
    std::string got;
    ssize_t n;
    while (got.find('\n') == std::string::npos && (n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
      got.append(buf, static_cast<size_t>(n));
    }
    const std::string answer =
        "{\"pid\":4242}\n{\"stdout\":\"main: activated release 9 (3 files)\"}\n";
    (void)::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(fd);
  });
  Lines lines;
  pid_t pid = 0;
  PublishRequest all;
  all.all = true;
  Result<bool> r = Forward(all, &lines, &pid);
  dying.join();
  ::close(listener);
  EXPECT_THAT(r.status(),
              StatusIs(StatusCode::kUnavailable,
                       HasSubstr("the daemon stopped before the publish finished: 'tieup main "
                                 "status " +
                                 dir_ + "' shows what reached the partners")));
  EXPECT_EQ(pid, 4242);
  EXPECT_THAT(lines,
              ElementsAre(std::make_pair('o', std::string("main: activated release 9 (3 files)"))));
}

// Two processes on one PostgreSQL store: a site task runs in one of them at a time. While
// another connection (the other process) holds its lease the daemon skips it, and runs it once
// the lease is free; a process's own task runs every tick regardless.
TEST_F(ControlTest, ASiteTaskRunsInOneProcessAtATime) {
  if (!::tieup::testing::TestStoreIsPostgres()) {
    GTEST_SKIP() << "one process owns a SQLite store: its leases are always granted";
  }
  auto other = OpenSiteDatabase(*env_, dir_);  // the other process's connection
  ASSERT_THAT(other.status(), IsOk());
  auto held = TryLockName(**other, "task:deliveries");
  ASSERT_THAT(held.status(), IsOk());
  ASSERT_TRUE(*held);

  MainDaemonOptions options;
  options.tick = std::chrono::milliseconds(5);
  auto d = MainDaemon::Open(*env_, dir_, NewNullLogger(), options);
  ASSERT_THAT(d.status(), IsOk());
  std::mutex mu;
  std::condition_variable cv;
  int deliveries = 0, statements = 0, connections = 0;
  auto count = [&](int& n) {
    return [&] {
      std::lock_guard<std::mutex> lock(mu);
      ++n;
      cv.notify_all();
    };
  };
  (*d)->AddPeriodicTask("deliveries", count(deliveries));
  (*d)->AddPeriodicTask("statements", count(statements));
  (*d)->AddPeriodicTask("connections", count(connections), MainDaemon::TaskScope::kProcess);
  ASSERT_THAT((*d)->Start(), IsOk());
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return statements >= 5 && connections >= 5; });
    EXPECT_EQ(deliveries, 0) << "ran although another process held its lease";
  }
  ASSERT_THAT(UnlockName(**other, "task:deliveries"), IsOk());
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return deliveries >= 2; });
  }
  // The daemon frees a lease after each run: the other process can take it between ticks.
  bool taken = false;
  while (!taken) {
    auto again = TryLockName(**other, "task:deliveries");
    ASSERT_THAT(again.status(), IsOk());
    taken = *again;
  }
  ASSERT_THAT(UnlockName(**other, "task:deliveries"), IsOk());
  (*d)->Stop();
}

}  // namespace
}  // namespace tieup

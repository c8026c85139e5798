#include "sync_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "test_database.h"

namespace tieup::testing {

CommandResult MoveMainToTestStore(const std::string& dir) {
  if (!TestStoreIsPostgres()) return CommandResult{0, ""};
  return RunTieup({"main", "store", "migrate", dir, "--to", "postgres", TestPostgresUrl(),
                   "--schema", TestSchemaFor(dir)});
}

int InitMainSite(const std::string& dir, const std::string& name, std::string* output) {
  const int port = FreePort();
  CommandResult r = RunTieup({"main", "init", dir, "--name", name, "--public", "127.0.0.1:0",
                              "--sync", "127.0.0.1:" + std::to_string(port)});
  if (r.exit_code == 0) r = MoveMainToTestStore(dir);
  if (output != nullptr) *output = r.output;
  return r.exit_code == 0 ? port : 0;
}

CommandResult AddPartnership(const std::string& main_dir, const std::string& id,
                             const std::string& name, int sync_port,
                             const std::vector<std::string>& extra) {
  std::vector<std::string> args = {
      "main",         "partner",
      "add",          main_dir,
      "--id",         id,
      "--name",       name,
      "--public-url", "http://127.0.0.1:1",
      "--sync-url",   "https://127.0.0.1:" + std::to_string(sync_port)};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunTieup(args);
}

CommandResult EnrollNewPartner(const std::string& main_dir, int main_sync_port,
                               const std::string& dir, const std::string& id,
                               const std::string& name, int sync_port,
                               const std::vector<std::string>& add_extra) {
  CommandResult add = AddPartnership(main_dir, id, name, sync_port, add_extra);
  const std::string code = EnrollmentCodeOf(add.output);
  if (add.exit_code != 0 || code.empty()) {
    if (add.exit_code == 0) add.exit_code = -1;
    return add;
  }
  return RunTieup({"partner", "init", dir, "--id", id, "--name", name, "--public", "127.0.0.1:0",
                   "--sync", "127.0.0.1:" + std::to_string(sync_port), "--main",
                   "https://127.0.0.1:" + std::to_string(main_sync_port), "--token", code});
}

std::string EnrollmentCodeOf(const std::string& output) {
  std::smatch m;
  static const std::regex kCode(R"(code[^\n]*:\n\s+(\S+))");
  if (std::regex_search(output, m, kCode)) return m[1];
  return "";
}

std::string UpdateIdOf(const std::string& publish_output, const std::string& partner) {
  std::smatch m;
  const std::regex re(partner + R"(\s+version \d+\s+\S+\s+update (u\d+))");
  return std::regex_search(publish_output, m, re) ? std::string(m[1]) : "";
}

CommandResult RunProgram(const std::vector<std::string>& argv, const std::string& input,
                         std::chrono::milliseconds timeout) {
  CommandResult r;
  int out_fd = -1, in_fd = -1;
  pid_t pid = SpawnProgram(argv, &out_fd, &in_fd);
  if (pid < 0) return r;
  size_t off = 0;
  while (off < input.size()) {
    ssize_t n = ::write(in_fd, input.data() + off, input.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  // Keep stdin open until the deadline: s_client stops reading the connection at stdin's EOF.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd p{out_fd, POLLIN, 0};
  while (std::chrono::steady_clock::now() < deadline) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) break;
    char buf[4096];
    ssize_t n = ::read(out_fd, buf, sizeof(buf));
    if (n <= 0) break;
    r.output.append(buf, static_cast<size_t>(n));
  }
  ::close(in_fd);
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ::close(out_fd);
  r.exit_code = ExitCodeOf(status);
  return r;
}

std::string TlsWithoutCertificate(int port, const std::string& request) {
  CommandResult r = RunProgram({"/usr/bin/openssl", "s_client", "-connect",
                                "127.0.0.1:" + std::to_string(port), "-quiet", "-no_ign_eof"},
                               request, std::chrono::milliseconds(3000));
  return r.output;
}

std::string PendingMailWith(Env& env, const std::string& site_dir, std::string_view needle) {
  auto files = env.ListDir(site_dir + "/mail/pending");
  if (!files.ok()) return "";
  for (const FileInfo& f : *files) {
    auto text = env.ReadFile(site_dir + "/mail/pending/" + f.name);
    if (text.ok() && text->find(needle) != std::string::npos) return *text;
  }
  return "";
}

}  // namespace tieup::testing

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

namespace tieup::testing {
namespace {

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Forks and execs `argv` (argv[0] a path) with stdout+stderr to a pipe (*out_fd) and, when
// in_fd is not null, stdin from a pipe (*in_fd, the write end).
pid_t SpawnProgram(const std::vector<std::string>& argv_in, int* out_fd, int* in_fd) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return -1;
  int in[2] = {-1, -1};
  if (in_fd != nullptr && ::pipe2(in, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return -1;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    if (in_fd != nullptr) {
      ::dup2(in[0], 0);
    } else {
      int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
    }
    std::vector<std::string> copy = argv_in;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  *out_fd = out[0];
  if (in_fd != nullptr) {
    ::close(in[0]);
    *in_fd = in[1];
  }
  return pid;
}

}  // namespace

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return port;
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string EnrollmentCodeOf(const std::string& output) {
  std::smatch m;
  static const std::regex kCode(R"(code[^\n]*:\n\s+(\S+))");
  if (std::regex_search(output, m, kCode)) return m[1];
  return "";
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

SiteProcess::~SiteProcess() { Stop(); }

bool SiteProcess::Start() {
  Stop();
  port_ = 0;
  std::vector<std::string> argv = {TIEUP_BINARY};
  argv.insert(argv.end(), args_.begin(), args_.end());
  pid_ = SpawnProgram(argv, &out_fd_, nullptr);
  if (pid_ < 0) return false;
  const size_t from = output_.size();
  static const std::regex kServing(R"(serving http://[^:]+:(\d+)/)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    Drain(50);
    std::smatch m;
    std::string fresh = output_.substr(from);
    if (std::regex_search(fresh, m, kServing)) {
      port_ = std::stoi(m[1]);
      return true;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      Drain(100);
      pid_ = -1;
      return false;
    }
  }
  Kill();
  return false;
}

void SiteProcess::Drain(int timeout_ms) {
  if (out_fd_ < 0) return;
  pollfd p{out_fd_, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) > 0) {
    char buf[4096];
    ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n <= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
      return;
    }
    output_.append(buf, static_cast<size_t>(n));
    timeout_ms = 0;
  }
}

std::string SiteProcess::output() {
  Drain(0);
  return output_;
}

int SiteProcess::Stop() {
  if (pid_ < 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 200; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      Drain(100);
      if (out_fd_ >= 0) ::close(out_fd_);
      out_fd_ = -1;
      return ExitCodeOf(status);
    }
    Drain(50);
  }
  Kill();
  return 128 + SIGKILL;
}

void SiteProcess::Kill() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  Drain(0);
  if (out_fd_ >= 0) ::close(out_fd_);
  out_fd_ = -1;
}

std::string TlsWithoutCertificate(int port, const std::string& request) {
  CommandResult r = RunProgram({"/usr/bin/openssl", "s_client", "-connect",
                                "127.0.0.1:" + std::to_string(port), "-quiet", "-no_ign_eof"},
                               request, std::chrono::milliseconds(3000));
  return r.output;
}

}  // namespace tieup::testing

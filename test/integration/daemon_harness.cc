#include "daemon_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "base/env.h"

namespace tieup::testing {
namespace {

// A connection to 127.0.0.1:port, from `source` when it is not empty; -1 when it fails.
int ConnectTo(int port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int Connect(int port) { return ConnectTo(port, ""); }

}  // namespace

int ConnectFrom(const std::string& source, int port) { return ConnectTo(port, source); }

bool LiftPerClientRequestRate(const std::string& site_dir) {
  std::unique_ptr<Env> env = NewPosixEnv();
  auto text = env->ReadFile(site_dir + "/site.toml");
  if (!text.ok()) return false;
  static const std::regex kRate("requests_per_second_per_client = [0-9]+");
  if (!std::regex_search(*text, kRate)) return false;
  std::string lifted = std::regex_replace(*text, kRate, "requests_per_second_per_client = 0");
  // The shop's own limit on cart additions per client network, too.
  static const std::regex kCartAdds("\"shop.cart_adds_per_10_minutes_per_client\" = \"[0-9]+\"");
  lifted = std::regex_replace(lifted, kCartAdds, "");
  if (lifted.find("\n[variables]\n") == std::string::npos) lifted += "\n[variables]\n";
  size_t at = lifted.find("\n[variables]\n") + 13;
  lifted.insert(at, "\"shop.cart_adds_per_10_minutes_per_client\" = \"0\"\n");
  return WriteFileAtomic(*env, site_dir + "/site.toml", lifted, 0600).ok();
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

CommandResult RunTieup(const std::vector<std::string>& args) {
  CommandResult r;
  int fd = -1;
  std::vector<std::string> argv = {TIEUP_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = SpawnProgram(argv, &fd, nullptr);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) r.output.append(buf, static_cast<size_t>(n));
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = ExitCodeOf(status);
  return r;
}

CommandResult RunTieupOnTerminal(const std::vector<std::string>& args, int columns) {
  CommandResult r;
  winsize size{};
  size.ws_row = 40;
  size.ws_col = static_cast<unsigned short>(columns);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) {
    r.exit_code = -1;
    r.output = "forkpty failed";
    return r;
  }
  if (pid == 0) {
    ::setenv("TERM", "xterm", 1);
    std::vector<std::string> copy = {TIEUP_BINARY};
    copy.insert(copy.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  char buf[4096];
  ssize_t n;
  // Read until the terminal closes (EIO once the command and its children exited).
  while ((n = ::read(master, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) r.output.append(buf, static_cast<size_t>(n));
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = ExitCodeOf(status);
  return r;
}

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
    // Wait 50 ms per try even after the output pipe closed (the process closes it while it
    // is still shutting down), or the loop would give up in microseconds and SIGKILL it.
    if (out_fd_ >= 0) {
      Drain(50);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
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

std::string RawExchange(int port, const std::string& bytes, int timeout_ms) {
  int fd = Connect(port);
  if (fd < 0) return "";
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string out;
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) > 0) {
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string HttpGet(int port, const std::string& target, const std::vector<std::string>& headers,
                    const std::string& method) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  req += "Connection: close\r\n\r\n";
  return RawExchange(port, req);
}

int StatusOf(const std::string& r) {
  if (r.rfind("HTTP/1.", 0) != 0 || r.size() < 12) return 0;
  return std::atoi(r.substr(9, 3).c_str());
}

std::string HeaderOf(const std::string& r, const std::string& name) {
  size_t end = r.find("\r\n\r\n");
  std::string head = r.substr(0, end);
  std::string lname;
  for (char c : name) lname += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    size_t colon = head.find(':', pos);
    size_t eol = head.find("\r\n", pos);
    if (colon == std::string::npos || (eol != std::string::npos && colon > eol)) continue;
    std::string key = head.substr(pos, colon - pos);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == lname) {
      std::string v =
          head.substr(colon + 1, (eol == std::string::npos ? head.size() : eol) - colon - 1);
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      return v;
    }
  }
  return "";
}

std::string BodyOf(const std::string& r) {
  size_t end = r.find("\r\n\r\n");
  return end == std::string::npos ? "" : r.substr(end + 4);
}

namespace {

// True when 127.0.0.1:port can be bound now.
bool Bindable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// The lowest port of the kernel's ephemeral range (32768 when it cannot be read).
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  return in >> low && low > 2048 ? low : 32768;
}

}  // namespace

int FreePort() {
  // Not a port the kernel chose for a bind to port 0: those come from the ephemeral range, which
  // every outgoing connection also draws from, so between this check and the daemon's bind a
  // connection of a test running in parallel could take it ("address already in use"). Ports
  // below the range are only taken by binds like ours; each process starts at a random one.
  static const int low = 10000;
  static const int high = EphemeralLow();
  static std::atomic<int> next = [] {
    std::random_device rd;
    return static_cast<int>(rd() % static_cast<unsigned>(std::max(1, high - low)));
  }();
  for (int tries = 0; tries < 1000 && high > low; ++tries) {
    const int port = low + next.fetch_add(1) % (high - low);
    if (Bindable(port)) return port;
  }
  return 0;
}

std::string FirstMatch(const std::string& text, const std::string& pattern) {
  std::smatch m;
  std::regex re(pattern);
  return std::regex_search(text, m, re) ? m[1].str() : std::string();
}

std::string ThisMonthUtc(int months_back) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  tm.tm_mon -= months_back;
  while (tm.tm_mon < 0) {
    tm.tm_mon += 12;
    tm.tm_year -= 1;
  }
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m", &tm);
  return buf;
}

std::vector<std::string> Received(Env& env, const std::string& site_dir) {
  std::vector<std::string> out;
  auto list = env.ListDir(site_dir + "/statements");
  if (!list.ok()) return out;
  for (const FileInfo& f : *list) {
    if (f.is_dir && !f.name.starts_with(".")) out.push_back(f.name);
  }
  return out;
}

}  // namespace tieup::testing

#include "guard/integrity_monitor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "crypto/hash.h"

namespace tieup::guard {
namespace {

constexpr uint32_t kFileEvents =
    IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE;

}  // namespace

class IntegrityMonitor::Impl {
 public:
  Impl(Env& env, Lister lister, Reporter reporter, IntegrityOptions options)
      : env_(env), lister_(std::move(lister)), reporter_(std::move(reporter)), options_(options) {}

  ~Impl() {
    Stop();
    if (inotify_ >= 0) ::close(inotify_);
    if (wake_ >= 0) ::close(wake_);
  }

  Status Open(const std::vector<std::string>& dirs) {
    inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_ < 0) {
      return Status::Unavailable(std::string("inotify is not available (") + std::strerror(errno) +
                                 "): raise fs.inotify.max_user_instances");
    }
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) return Status::Unavailable("eventfd: " + std::string(std::strerror(errno)));
    for (const std::string& dir : dirs) RETURN_IF_ERROR(WatchTree(dir, 2));
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
  }

  void Rescan() {
    rescan_ = true;
    uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }

  IntegrityStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  // Watches `dir` and its subdirectories down to `depth` levels.
  Status WatchTree(const std::string& dir, int depth) {
    const int wd = ::inotify_add_watch(inotify_, dir.c_str(), kFileEvents | IN_ONLYDIR);
    if (wd < 0) {
      return Status::Unavailable("cannot watch " + dir + " (" + std::strerror(errno) +
                                 "): raise fs.inotify.max_user_watches");
    }
    dirs_[wd] = dir;
    if (depth == 0) return Status::Ok();
    auto entries = env_.ListDir(dir);
    if (!entries.ok()) return Status::Ok();  // gone meanwhile
    for (const FileInfo& f : *entries) {
      if (f.is_dir) RETURN_IF_ERROR(WatchTree(dir + "/" + f.name, depth - 1));
    }
    return Status::Ok();
  }

  // Lists the files again; a new sweep starts from the first unless `keep_place`.
  void Reload(bool keep_place = false) {
    FileList list = lister_();
    if (list == nullptr) list = std::make_shared<const std::vector<WatchedFile>>();
    next_ = keep_place ? std::min(next_, list->size()) : 0;
    if (list == list_) return;  // the same list: its index stands
    list_ = std::move(list);
    index_.clear();
    index_.reserve(list_->size());
    for (size_t i = 0; i < list_->size(); ++i) index_.emplace((*list_)[i].path, i);
    // What was bad and is no longer listed is forgotten.
    std::set<std::string> still;
    for (const std::string& key : bad_) {
      if (index_.count(key.substr(0, key.find('\n'))) != 0) still.insert(key);
    }
    bad_ = std::move(still);
  }

  // Checks one file; reports what is wrong once, until it checks out again.
  void Check(const WatchedFile& f, bool memory_too) {
    uint64_t bytes = 0;
    std::string reason;
    auto data = env_.ReadFilePrefix(f.path, f.length + 1);
    if (!data.ok()) {
      reason = data.status().code() == StatusCode::kNotFound
                   ? "missing"
                   : "unreadable (" + data.status().message() + ")";
    } else {
      bytes += data->size();
      if (data->size() != f.length) {
        reason = "changed on disk (" +
                 std::to_string(data->size() > f.length ? f.length + 1 : data->size()) +
                 " bytes where " + std::to_string(f.length) + " were signed)";
      } else if (Sha256Hex(*data) != f.sha256) {
        reason = "changed on disk (the bytes do not match the signed hash)";
      }
    }
    Note(f, false, reason);
    if (memory_too && f.memory != nullptr) {
      bytes += f.memory->size();
      const bool same = f.memory->size() == f.length && Sha256Hex(*f.memory) == f.sha256;
      Note(f, true, same ? std::string() : "changed in memory (the copy being served)");
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.files_checked;
    stats_.bytes_checked += bytes;
  }

  void Note(const WatchedFile& f, bool in_memory, const std::string& reason) {
    const std::string key = f.path + (in_memory ? "\nmemory" : "\ndisk");
    if (reason.empty()) {
      if (bad_.erase(key) != 0) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.cleared;
        }
        reporter_(IntegrityFinding{f, in_memory, ""});  // checks out again
      }
      return;
    }
    if (!bad_.insert(key).second) return;  // reported already
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.findings;
    }
    reporter_(IntegrityFinding{f, in_memory, reason});
  }

  // Reads the pending inotify events; checks the watched files they name.
  void DrainEvents() {
    alignas(inotify_event) char buf[16384];
    std::set<std::string> touched;
    for (;;) {
      const ssize_t n = ::read(inotify_, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        auto dir = dirs_.find(e->wd);
        if (dir == dirs_.end() || e->len == 0) continue;
        const std::string path = dir->second + "/" + e->name;
        if ((e->mask & IN_ISDIR) != 0) {
          if ((e->mask & (IN_CREATE | IN_MOVED_TO)) != 0) (void)WatchTree(path, 1);
          continue;
        }
        touched.insert(path);
      }
    }
    // A file the list does not name: a new release may be served since it was made (its files
    // are written before it is activated); list again, once.
    bool relisted = false;
    for (auto it = touched.begin(); it != touched.end();) {
      if (index_.count(*it) == 0 && !relisted) {
        Reload(/*keep_place=*/true);
        relisted = true;
      }
      it = index_.count(*it) != 0 ? std::next(it) : touched.erase(it);
    }
    for (const std::string& path : touched) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.events;
      }
      Check((*list_)[index_.at(path)], /*memory_too=*/false);
    }
  }

  void Run() {
    // Only this thread: a tid names one thread to setpriority on Linux. Lowering one's own
    // priority needs no privilege; when refused (a seccomp filter), the sweep runs as before.
    if (options_.nice != 0) {
      (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), options_.nice);
    }
    Reload();
    auto sweep_started = std::chrono::steady_clock::now();
    while (!stopping_) {
      pollfd fds[2] = {{inotify_, POLLIN, 0}, {wake_, POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(options_.slice.count()));
      if (stopping_) break;
      if (ready > 0 && (fds[1].revents & POLLIN) != 0) {
        uint64_t v;
        (void)!::read(wake_, &v, sizeof v);
      }
      if (rescan_.exchange(false)) {
        Reload();
        sweep_started = std::chrono::steady_clock::now();
      }
      if (ready > 0 && (fds[0].revents & POLLIN) != 0) DrainEvents();
      // This slice's share of the sweep.
      if (next_ >= list_->size()) {
        if (std::chrono::steady_clock::now() - sweep_started < options_.sweep_interval) continue;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (!list_->empty()) ++stats_.sweeps;
        }
        Reload();
        sweep_started = std::chrono::steady_clock::now();
      }
      uint64_t budget =
          options_.bytes_per_second * static_cast<uint64_t>(options_.slice.count()) / 1000;
      while (next_ < list_->size() && !stopping_) {
        const WatchedFile& f = (*list_)[next_++];
        Check(f, /*memory_too=*/true);
        const uint64_t cost = f.length * (f.memory ? 2 : 1) + 1;
        if (cost >= budget) break;
        budget -= cost;
      }
    }
  }

  Env& env_;
  const Lister lister_;
  const Reporter reporter_;
  const IntegrityOptions options_;
  int inotify_ = -1;
  int wake_ = -1;
  std::map<int, std::string> dirs_;  // watch descriptor -> directory
  // The monitor thread's own state.
  FileList list_ = std::make_shared<const std::vector<WatchedFile>>();
  // path -> list_ index (hashed: relisting a site of 10,000 pages is on the update path)
  std::unordered_map<std::string, size_t> index_;
  size_t next_ = 0;            // the sweep's next file
  std::set<std::string> bad_;  // "path\ndisk" / "path\nmemory" reported, not fixed
  std::atomic<bool> stopping_{false};
  std::atomic<bool> rescan_{false};
  mutable std::mutex mu_;  // stats_
  IntegrityStats stats_;
  std::thread thread_;
};

Result<std::unique_ptr<IntegrityMonitor>> IntegrityMonitor::Start(Env& env,
                                                                  std::vector<std::string> dirs,
                                                                  Lister lister, Reporter reporter,
                                                                  IntegrityOptions options) {
  if (!lister || !reporter)
    return Status::InvalidArgument("the monitor needs a lister and a reporter");
  if (options.bytes_per_second < 4096) {
    return Status::InvalidArgument("the integrity sweep's budget is at least 4 KiB per second");
  }
  if (options.nice < 0 || options.nice > 19) {
    return Status::InvalidArgument(
        "the integrity monitor's nice value is 0 to 19 (it may only "
        "run below the daemon's priority)");
  }
  auto impl = std::make_unique<Impl>(env, std::move(lister), std::move(reporter), options);
  RETURN_IF_ERROR(impl->Open(dirs));
  return std::unique_ptr<IntegrityMonitor>(new IntegrityMonitor(std::move(impl)));
}

IntegrityMonitor::IntegrityMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IntegrityMonitor::~IntegrityMonitor() { Stop(); }
void IntegrityMonitor::Rescan() { impl_->Rescan(); }
void IntegrityMonitor::Stop() {
  if (impl_) impl_->Stop();
}
IntegrityStats IntegrityMonitor::stats() const { return impl_->stats(); }

}  // namespace tieup::guard

// Defacement and intrusion detection on a site's own disk (issue 17 item 3): every file a site
// serves is known by the SHA-256 its signed release states (a tie-up page: main signed it; an
// original page: recorded when the partner manager published it), so checking is exact.
//
// The monitor runs its own thread and
//   - watches the given directories (and their subdirectories, the blob store's "ab/" folders)
//     with inotify: a file written, replaced or removed there is checked at once, so an edit in
//     place, even one that keeps the length, is found within milliseconds;
//   - sweeps every file all the time, within a budget of bytes hashed per second (and no more
//     often than one whole sweep per `sweep_interval`), which also finds what inotify cannot
//     see (a change made while the daemon was down, a file system without events);
//   - checks the copies served from memory in the same sweep (what a patched process or a bit
//     flip would change without touching the disk).
// A finding (missing, changed on disk, changed in memory) is reported once, until the file
// checks out again, which is reported too (an empty reason). inotify is Linux's, outside Env on
// purpose (as SiteLock's flock): it watches the real file system, which is what an intruder
// changes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace tieup::guard {

// A file to keep checking.
struct WatchedFile {
  std::string path;    // on disk
  std::string sha256;  // lower-case hex, as the release states
  uint64_t length = 0;
  // The copy served from memory, when there is one (checked too).
  std::shared_ptr<const std::string> memory;
};

struct IntegrityFinding {
  WatchedFile file;
  bool in_memory = false;  // the copy served from memory differs (the disk may be fine)
  // "missing", "changed on disk (...)", "changed in memory"; empty: a file reported before
  // checks out again (restored).
  std::string reason;
};

struct IntegrityOptions {
  // What a sweep may hash per second, disk and memory together (a partner's CPU budget).
  uint64_t bytes_per_second = 32ull << 20;
  // A new sweep starts at most this often (small sites would otherwise hash all the time).
  std::chrono::milliseconds sweep_interval{10'000};
  // How long the thread waits for inotify events between two slices of a sweep.
  std::chrono::milliseconds slice{100};
  // The nice value of the monitor's thread (Linux's per-thread priority): 19, the lowest, gives
  // the sweep only the CPU that serving pages and taking updates leave (measured: 20 partners
  // on 2 cores spent half the CPU sweeping while an update waited). 0 keeps the process's.
  int nice = 19;
};

struct IntegrityStats {
  uint64_t sweeps = 0;         // whole sweeps finished
  uint64_t files_checked = 0;  // by sweeps and by events
  uint64_t bytes_checked = 0;
  uint64_t events = 0;  // inotify events about watched files
  uint64_t findings = 0;
  uint64_t cleared = 0;  // findings whose file checked out again (restored)
};

class IntegrityMonitor {
 public:
  // What to check now (called at the start of each sweep, after Rescan, and when an event names
  // a file the list does not); thread-safe. Returning the list it returned last time (the same
  // pointer) says nothing changed: the monitor keeps its index of it.
  using FileList = std::shared_ptr<const std::vector<WatchedFile>>;
  using Lister = std::function<FileList()>;
  // Told of each finding, from the monitor's thread; must be quick.
  using Reporter = std::function<void(const IntegrityFinding&)>;

  // Starts watching `dirs` (each must exist) and sweeping. An error when inotify cannot be set
  // up (the message names the limit to raise).
  static Result<std::unique_ptr<IntegrityMonitor>> Start(Env& env, std::vector<std::string> dirs,
                                                         Lister lister, Reporter reporter,
                                                         IntegrityOptions options = {});
  ~IntegrityMonitor();  // Stop()
  IntegrityMonitor(const IntegrityMonitor&) = delete;
  IntegrityMonitor& operator=(const IntegrityMonitor&) = delete;

  // The list changed (a new release is served): start a sweep over the new one now.
  void Rescan();
  void Stop();
  IntegrityStats stats() const;

 private:
  class Impl;
  explicit IntegrityMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::guard

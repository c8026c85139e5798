// A site's content as the daemon and the command line share it: the content store, changed
// only under the site lock, and the view the public port serves, refreshed whenever a release
// is activated, whether by this process or by another (`tieup partner page put` on a running
// site).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/content_store.h"
#include "content/site_view.h"
#include "sync/tieup_notices.h"

namespace tieup {

struct SiteContentOptions {
  std::string site_id;
  size_t keep_releases = 5;
  // Load the served view (the daemon). The command line leaves it off: it never serves.
  bool serve = true;
  uint64_t cache_bytes_limit = 256ull << 20;
  // A daemon prunes old releases and unreferenced blobs at most this often (by the Env's
  // clock), on a RefreshIfChanged after an activation: pruning reads every kept release and
  // lists every blob, which would otherwise compete with the next update for the CPU.
  int64_t prune_interval_seconds = 600;
  // Called (with the site lock held, on the thread that loaded it) after each load of the
  // served view with the views before (null on the first load) and after, so that the caller
  // can record activations (the partner writes a ContentRecord to its ledger). Must be quick
  // and must not call back into this object.
  std::function<void(const content::SiteView* before, const content::SiteView& after)>
      on_view_loaded;
};

class SiteContent {
 public:
  static Result<std::unique_ptr<SiteContent>> Open(Env& env, std::string site_dir,
                                                   SiteContentOptions options);

  // Runs `change` on the content store while holding the site lock, so it sees every change
  // made by other processes and none can interleave (the store is reopened when another
  // process activated a release since this one last looked; otherwise the open store, which
  // holds only the active releases in memory, is reused); then, if a release was activated,
  // refreshes the served view and prunes old releases and their blobs (a daemon prunes on its
  // next RefreshIfChanged instead, off the path of the request that activated).
  // Thread-safe.
  Status Mutate(const std::function<Status(content::ContentStore&)>& change);

  // Like Mutate, for reads that must see the newest state (no refresh afterwards).
  Status Read(const std::function<Status(content::ContentStore&)>& read);

  // The view being served (null when options.serve is false). Thread-safe, wait-free.
  std::shared_ptr<const content::SiteView> view() const { return std::atomic_load(&view_); }

  // Reloads the view if an area's active pointer changed since the last load (cheap: reads
  // two small files), and runs a prune that an activation left due when prune_interval_seconds
  // have passed since the last one. Returns true when it reloaded. Thread-safe.
  Result<bool> RefreshIfChanged();

  // The blobs the served view cannot use: those its load found missing or damaged (their files
  // answer 503), and those reported by ReportReadFault since (a body read from disk on
  // request). Empty when options.serve is false. Thread-safe.
  std::vector<content::BlobFault> Faults() const;

  // Records a blob found missing or damaged when a body not held in memory was read for a
  // request, so that Faults() lists it until a reload finds it intact. Thread-safe, cheap.
  void ReportReadFault(content::BlobFault fault);

  // When a blob of Faults() is intact again (fetched again from main, or the manager put the
  // page again), reloads the view so that its files are served again; returns true when it
  // reloaded. Cheap when there are no faults. Thread-safe.
  Result<bool> ReloadIfRepaired();

  const std::string& site_dir() const { return site_dir_; }
  // What the public port shows instead of the tie-up pages (a withdrawal in effect); the
  // partner's withdrawal keeper sets it.
  sync::TieupNotices& tieup_notices() { return tieup_notices_; }

 private:
  SiteContent(Env& env, std::string site_dir, SiteContentOptions options)
      : env_(env), site_dir_(std::move(site_dir)), options_(std::move(options)) {}
  Result<std::unique_ptr<content::ContentStore>> OpenStore();
  // The open store when no other process activated anything since; a fresh one otherwise.
  Result<std::shared_ptr<content::ContentStore>> CurrentStore();
  Status PruneLocked(content::ContentStore& store);
  bool PruneDueLocked() const;
  Status LoadView(std::shared_ptr<content::ContentStore> store);
  std::string PointerState();

  Env& env_;
  const std::string site_dir_;
  const SiteContentOptions options_;
  sync::TieupNotices tieup_notices_;
  content::TieupAreaRules area_rules_;  // set by Open
  std::mutex mu_;                       // serialises Mutate/Read/Refresh within the process
  std::shared_ptr<const content::SiteView> view_;
  std::string loaded_pointers_;  // guarded by mu_
  bool recovered_ = false;       // guarded by mu_: the first open in this process ran recovery
  std::shared_ptr<content::ContentStore> store_;           // guarded by mu_: the store last used
  std::string store_pointers_;                             // guarded by mu_: the pointers it saw
  bool prune_due_ = false;                                 // guarded by mu_
  int64_t last_prune_micros_ = 0;                          // guarded by mu_
  std::shared_ptr<const content::SiteView> retired_view_;  // guarded by mu_: freed on refresh
  mutable std::mutex faults_mu_;                           // never held while taking mu_
  std::vector<content::BlobFault> read_faults_;            // guarded by faults_mu_
};

}  // namespace tieup

#include "site/site_content.h"

#include <algorithm>

#include "site/config.h"
#include "site/main_areas.h"

namespace tieup {

Result<std::unique_ptr<SiteContent>> SiteContent::Open(Env& env, std::string site_dir,
                                                       SiteContentOptions options) {
  std::unique_ptr<SiteContent> sc(new SiteContent(env, std::move(site_dir), std::move(options)));
  // Several main sites: the paths each may publish (site/main_areas.h).
  ASSIGN_OR_RETURN(sc->area_rules_, LoadTieupAreaRules(env, sc->site_dir_));
  if (sc->options_.serve) {
    ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(sc->site_dir_));
    std::lock_guard<std::mutex> guard(sc->mu_);
    ASSIGN_OR_RETURN(auto store, sc->CurrentStore());
    RETURN_IF_ERROR(sc->LoadView(std::move(store)));
  }
  return sc;
}

Result<std::shared_ptr<content::ContentStore>> SiteContent::CurrentStore() {
  const std::string pointers = PointerState();
  if (store_ && pointers == store_pointers_) return store_;
  ASSIGN_OR_RETURN(auto opened, OpenStore());
  store_ = std::move(opened);
  store_pointers_ = pointers;
  return store_;
}

bool SiteContent::PruneDueLocked() const {
  return prune_due_ &&
         env_.NowMicros() - last_prune_micros_ >= options_.prune_interval_seconds * 1000000;
}

Status SiteContent::PruneLocked(content::ContentStore& store) {
  prune_due_ = false;
  last_prune_micros_ = env_.NowMicros();
  auto pruned = store.Prune();
  return pruned.ok() ? Status::Ok() : pruned.status().Annotate("pruning old releases");
}

Result<std::unique_ptr<content::ContentStore>> SiteContent::OpenStore() {
  content::ContentStoreOptions o;
  o.site_id = options_.site_id;
  o.keep_releases = options_.keep_releases;
  o.recover_blob_leftovers = !recovered_;
  auto store = content::ContentStore::Open(env_, site_dir_, o);
  if (store.ok()) {
    recovered_ = true;
    (*store)->SetAreaRules(area_rules_);
  }
  return store;
}

std::string SiteContent::PointerState() {
  std::string state;
  for (const char* area : {"tieup", "original"}) {
    auto v = env_.ReadFilePrefix(site_dir_ + "/releases/" + area + "/ACTIVE", 64);
    state += v.ok() ? *v : std::string("-");
    state += '|';
  }
  // The emergency edits: their record begins with a counter that changes with what they serve
  // (content/content_store.h).
  auto overlay = env_.ReadFilePrefix(site_dir_ + "/releases/tieup/OVERLAY", 64);
  state += overlay.ok() ? *overlay : std::string("-");
  return state;
}

Status SiteContent::LoadView(std::shared_ptr<content::ContentStore> store) {
  // Read the pointers before loading: a change racing with the load is then seen as a change
  // on the next refresh rather than missed.
  std::string pointers = PointerState();
  content::SiteViewOptions vo;
  vo.cache_bytes_limit = options_.cache_bytes_limit;
  std::shared_ptr<const content::SiteView> previous = std::atomic_load(&view_);
  ASSIGN_OR_RETURN(auto view, content::SiteView::Load(*store, vo, previous.get()));
  // The view reads uncached blobs through the store, so the store lives as long as the view:
  // one control block owns both, and in-flight requests keep an old pair alive.
  struct Pair {
    std::shared_ptr<content::ContentStore> store;
    std::shared_ptr<const content::SiteView> view;
  };
  auto pair = std::make_shared<Pair>(Pair{std::move(store), std::move(view)});
  std::shared_ptr<const content::SiteView> aliased(pair, pair->view.get());
  std::shared_ptr<const content::SiteView> before = std::atomic_exchange(&view_, aliased);
  loaded_pointers_ = std::move(pointers);
  if (options_.on_view_loaded) options_.on_view_loaded(before.get(), *aliased);
  // Freeing a large view takes a while: a daemon leaves it to its next refresh rather than the
  // request that activated.
  retired_view_ = std::move(before);
  return Status::Ok();
}

Status SiteContent::Mutate(const std::function<Status(content::ContentStore&)>& change) {
  ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(site_dir_));
  std::lock_guard<std::mutex> guard(mu_);
  ASSIGN_OR_RETURN(auto store, CurrentStore());
  const std::string before = store_pointers_;
  Status changed = change(*store);
  const std::string after = PointerState();
  if (after != before) {
    // This store activated (its in-memory state follows its own changes), whatever `change`
    // returned.
    store_pointers_ = after;
  }
  RETURN_IF_ERROR(changed);
  if (after == before) {
    // Nothing was activated: no old release became prunable, and pruning now would delete
    // blobs an update is still fetching across several calls (they are referenced only once
    // its release is staged). The served view is unchanged too.
    return Status::Ok();
  }
  // Pruning is housekeeping: a failure is reported but does not undo the change.
  if (!options_.serve) return PruneLocked(*store);
  prune_due_ = true;
  return LoadView(std::move(store));
}

Status SiteContent::Read(const std::function<Status(content::ContentStore&)>& read) {
  ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(site_dir_));
  std::lock_guard<std::mutex> guard(mu_);
  ASSIGN_OR_RETURN(auto store, CurrentStore());
  return read(*store);
}

Result<bool> SiteContent::RefreshIfChanged() {
  if (!options_.serve) return false;
  {
    std::lock_guard<std::mutex> guard(mu_);
    retired_view_.reset();
    if (PointerState() == loaded_pointers_ && !PruneDueLocked()) return false;
  }
  ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(site_dir_));
  std::lock_guard<std::mutex> guard(mu_);
  ASSIGN_OR_RETURN(auto store, CurrentStore());
  bool reloaded = false;
  if (PointerState() != loaded_pointers_) {
    RETURN_IF_ERROR(LoadView(store));
    reloaded = true;
  }
  if (PruneDueLocked()) RETURN_IF_ERROR(PruneLocked(*store));
  return reloaded;
}

std::vector<content::BlobFault> SiteContent::Faults() const {
  std::vector<content::BlobFault> out;
  if (auto v = view()) out = v->faults();
  std::lock_guard<std::mutex> lock(faults_mu_);
  for (const content::BlobFault& f : read_faults_) {
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  return out;
}

void SiteContent::ReportReadFault(content::BlobFault fault) {
  std::lock_guard<std::mutex> lock(faults_mu_);
  for (const content::BlobFault& f : read_faults_) {
    if (f.path == fault.path && f.hash == fault.hash) return;
  }
  // Bounded: a site with thousands of damaged files is reported by its first ones.
  if (read_faults_.size() < 1000) read_faults_.push_back(std::move(fault));
}

Result<bool> SiteContent::ReloadIfRepaired() {
  if (!options_.serve) return false;
  const std::vector<content::BlobFault> faults = Faults();
  if (faults.empty()) return false;
  ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(site_dir_));
  std::lock_guard<std::mutex> guard(mu_);
  ASSIGN_OR_RETURN(auto store, CurrentStore());
  std::vector<content::BlobFault> repaired;
  for (const content::BlobFault& f : faults) {
    if (store->blobs().Get(f.hash, f.length).ok()) repaired.push_back(f);
  }
  if (repaired.empty()) return false;
  {
    std::lock_guard<std::mutex> lock(faults_mu_);
    std::erase_if(read_faults_, [&](const content::BlobFault& f) {
      return std::find(repaired.begin(), repaired.end(), f) != repaired.end();
    });
  }
  // The new view looks again at every blob the previous one found faulty.
  RETURN_IF_ERROR(LoadView(std::move(store)));
  return true;
}

}  // namespace tieup

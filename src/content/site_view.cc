#include "content/site_view.h"

#include <cassert>
#include <set>
#include <unordered_map>

namespace tieup::content {
namespace {

bool IsPage(const ServedFile& f) { return f.content_type.starts_with("text/html"); }

}  // namespace

void SiteView::AddToTotals(const ServedFile& f) {
  AreaTotals& t = f.area == Area::kTieup ? tieup_totals_ : original_totals_;
  t.bytes += f.length;
  if (IsPage(f)) ++t.pages;
}

void SiteView::SubtractFromTotals(const ServedFile& f) {
  AreaTotals& t = f.area == Area::kTieup ? tieup_totals_ : original_totals_;
  // `f` was counted in when it entered files_.
  assert(t.bytes >= f.length && (!IsPage(f) || t.pages > 0));
  t.bytes -= f.length;
  if (IsPage(f)) --t.pages;
}

Result<std::shared_ptr<const SiteView>> SiteView::Load(ContentStore& store, Options options,
                                                       const SiteView* previous) {
  std::shared_ptr<SiteView> view(new SiteView(store.blobs()));
  for (Area area : {Area::kTieup, Area::kOriginal}) {
    // What is served: main's tie-up release with the emergency edits in effect applied.
    auto active = store.Served(area);
    if (active.ok()) {
      (area == Area::kTieup ? view->tieup_ : view->original_) = *active;
    } else if (active.status().code() != StatusCode::kNotFound) {
      return active.status();
    }
  }
  view->tieup_version_ = view->tieup_ ? view->tieup_->version : 0;
  view->original_version_ = view->original_ ? view->original_->version : 0;

  std::unordered_map<std::string, std::shared_ptr<const std::string>> loaded;  // by hash
  std::unordered_map<std::string, Status> failed;  // by hash: blobs found missing or damaged
  // Loads a blob into the cache when it fits, verified, sharing bodies with equal hashes; a
  // blob that does not fit is only checked to be there with at least its stated size (null
  // body). An error: the blob is missing or damaged.
  auto cache = [&](const std::string& hash,
                   uint64_t length) -> Result<std::shared_ptr<const std::string>> {
    if (auto it = loaded.find(hash); it != loaded.end()) return it->second;
    if (auto it = failed.find(hash); it != failed.end()) return it->second;
    if (view->cached_bytes_ + length > options.cache_bytes_limit) {
      Status s;
      auto size = store.blobs().Size(hash);
      if (!size.ok()) {
        s = Status::NotFound("blob " + hash + " is not in " + store.blobs().dir());
      } else if (*size < length) {
        s = Status::DataLoss("blob " + hash + " is truncated: " + std::to_string(*size) +
                             " bytes of " + std::to_string(length));
      }
      if (!s.ok()) {
        failed.emplace(hash, s);
        return s;
      }
      return std::shared_ptr<const std::string>();
    }
    auto data = store.blobs().Get(hash, length);
    if (!data.ok()) {
      failed.emplace(hash, data.status());
      return data.status();
    }
    view->cached_bytes_ += length;
    auto body = std::make_shared<const std::string>(std::move(*data));
    loaded.emplace(hash, body);
    return body;
  };
  // The entry for `path` of `m`; `before` (optional): the file the previous view served there,
  // whose verified bodies are shared when the hashes are the same. A blob that is missing or
  // damaged is recorded in the view's faults (the file is unavailable when it is the body's).
  auto make = [&](Area area, const ReleaseManifest& m, const std::string& path, const FileEntry& e,
                  const ServedFile* before) -> ServedFile {
    ServedFile f;
    f.path = path;
    f.area = area;
    f.content_type = e.content_type;
    f.hash = e.hash;
    f.length = e.length;
    f.last_modified = m.created;
    f.method = e.method;
    f.link_url = e.link_url;
    f.link_mode = e.link_mode;
    auto reuse = [&](const std::shared_ptr<const std::string>& body, uint64_t length) {
      if (!body || body->size() != length ||
          view->cached_bytes_ + length > options.cache_bytes_limit) {
        return false;
      }
      view->cached_bytes_ += length;
      return true;
    };
    auto fault = [&](const std::string& hash, uint64_t length, bool gzip, const Status& why) {
      view->faults_[path].push_back(BlobFault{path, area, hash, length, gzip, why.message()});
    };
    if (before != nullptr && before->hash == e.hash && reuse(before->body, e.length)) {
      f.body = before->body;
    } else if (auto body = cache(e.hash, e.length); body.ok()) {
      f.body = std::move(*body);
    } else {
      f.unavailable = true;
      fault(e.hash, e.length, false, body.status());
    }
    if (e.gzip) {
      f.gzip = e.gzip;
      if (f.unavailable) {
        // Not served at all until its body is back: the variant is looked at then.
      } else if (before != nullptr && before->gzip == e.gzip &&
                 reuse(before->gzip_body, e.gzip->length)) {
        f.gzip_body = before->gzip_body;
      } else if (auto gz = cache(e.gzip->hash, e.gzip->length); gz.ok()) {
        f.gzip_body = std::move(*gz);
      } else {
        fault(e.gzip->hash, e.gzip->length, true, gz.status());
      }
    }
    return f;
  };
  auto in_both = [](const std::string& path) {
    return Status::DataLoss("'" + path +
                            "' is active in both areas; a path belongs to one area only: remove "
                            "it from the original pages");
  };
  auto held = [](const ServedFile& f) {
    return (f.body ? f.length : 0) + (f.gzip_body && f.gzip ? f.gzip->length : 0);
  };

  if (previous != nullptr && previous->options_limit_ == options.cache_bytes_limit) {
    // From the previous view: apply what changed in each area since the releases it was built
    // from. Chunks of files shared by the two releases are not even looked at.
    view->files_ = previous->files_;
    view->cached_bytes_ = previous->cached_bytes_;
    view->tieup_totals_ = previous->tieup_totals_;
    view->original_totals_ = previous->original_totals_;
    view->faults_ = previous->faults_;
    std::set<std::string> touched;  // paths whose entry was replaced or removed below
    for (Area area : {Area::kTieup, Area::kOriginal}) {
      const auto& now = area == Area::kTieup ? view->tieup_ : view->original_;
      const auto& then = area == Area::kTieup ? previous->tieup_ : previous->original_;
      if (now == then) continue;
      static const ReleaseManifest kNone;
      const ReleaseManifest& after = now ? *now : kNone;
      const ReleaseManifest& before = then ? *then : kNone;
      const auto& other = area == Area::kTieup ? view->original_ : view->tieup_;
      Status status;
      before.files.ForEachDifference(
          after.files, [&](const std::string& path, const FileEntry*, const FileEntry* e) {
            if (!status.ok()) return;
            const CowMap<ServedFile>& served = view->files_;
            auto it = served.find(path);
            const ServedFile* cur = it != served.end() ? &it->second : nullptr;
            if (e == nullptr) {
              // Removed from this area (it may already serve the other area's new file there).
              if (cur != nullptr && cur->area == area) {
                view->cached_bytes_ -= held(*cur);
                view->SubtractFromTotals(*cur);
                view->faults_.erase(path);
                touched.insert(path);
                view->files_.erase(path);
              }
              return;
            }
            if (other && other->files.count(path) != 0) {
              status = in_both(path);
              return;
            }
            if (cur != nullptr) view->cached_bytes_ -= held(*cur);
            view->faults_.erase(path);
            touched.insert(path);
            ServedFile f = make(area, after, path, *e, cur);
            // `cur` may be of the other area (a path that moved here): out of that one's totals.
            if (cur != nullptr) view->SubtractFromTotals(*cur);
            view->AddToTotals(f);
            view->files_.insert_or_assign(path, std::move(f));
          });
      RETURN_IF_ERROR(status);
    }
    // Files that were faulty in the previous view and did not change: their blobs are looked
    // at again (a repair, or the manager putting the page again, may have restored them).
    for (const auto& [path, list] : previous->faults_) {
      if (touched.count(path) != 0) continue;
      const CowMap<ServedFile>& served = view->files_;
      auto it = served.find(path);
      if (it == served.end()) continue;
      const ServedFile cur = it->second;
      const auto& m = cur.area == Area::kTieup ? view->tieup_ : view->original_;
      if (!m) continue;
      auto e = m->files.find(path);
      if (e == m->files.end()) continue;
      view->faults_.erase(path);
      view->cached_bytes_ -= held(cur);
      ServedFile f = make(cur.area, *m, path, e->second, &cur);
      f.last_modified = cur.last_modified;
      view->SubtractFromTotals(cur);
      view->AddToTotals(f);
      view->files_.insert_or_assign(path, std::move(f));
    }
    // Times of unchanged files stay what they were; the header of each area is the new one.
  } else {
    for (Area area : {Area::kTieup, Area::kOriginal}) {
      const auto& m = area == Area::kTieup ? view->tieup_ : view->original_;
      if (!m) continue;
      for (const auto& [path, e] : m->files) {
        if (view->files_.count(path) != 0) return in_both(path);
        ServedFile f = make(area, *m, path, e, nullptr);
        view->AddToTotals(f);
        view->files_.try_emplace(path, std::move(f));
      }
    }
  }
  view->options_limit_ = options.cache_bytes_limit;
  view->not_found_page_ = view->Find("/404.html");
  return std::shared_ptr<const SiteView>(std::move(view));
}

std::vector<BlobFault> SiteView::faults() const {
  std::vector<BlobFault> out;
  for (const auto& [path, list] : faults_) out.insert(out.end(), list.begin(), list.end());
  return out;
}

const ServedFile* SiteView::Find(std::string_view normalized_path) const {
  auto it = files_.find(normalized_path);
  return it == files_.end() ? nullptr : &it->second;
}

LookupResult SiteView::Lookup(std::string_view path) const {
  LookupResult r;
  r.file = not_found_page_;
  if (path.empty() || path[0] != '/') return r;
  std::string target(path);
  if (target.back() == '/') target += "index.html";
  if (!ValidatePath(target).ok()) return r;
  if (const ServedFile* f = Find(target)) {
    r.kind = LookupResult::Kind::kFound;
    r.file = f;
    return r;
  }
  if (path.back() != '/' && Find(target + "/index.html") != nullptr) {
    r.kind = LookupResult::Kind::kRedirect;
    r.file = nullptr;
    r.location = std::string(path) + "/";
  }
  return r;
}

Result<std::shared_ptr<const std::string>> SiteView::ReadBody(const ServedFile& file) const {
  if (file.body) return file.body;
  ASSIGN_OR_RETURN(std::string data, blobs_.Get(file.hash, file.length));
  return std::make_shared<const std::string>(std::move(data));
}

Result<std::shared_ptr<const std::string>> SiteView::ReadGzipBody(const ServedFile& file) const {
  if (!file.gzip) return Status::NotFound("'" + file.path + "' has no gzip variant");
  if (file.gzip_body) return file.gzip_body;
  ASSIGN_OR_RETURN(std::string data, blobs_.Get(file.gzip->hash, file.gzip->length));
  return std::make_shared<const std::string>(std::move(data));
}

}  // namespace tieup::content

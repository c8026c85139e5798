#include "content/site_view.h"

#include <unordered_map>

namespace tieup::content {

Result<std::shared_ptr<const SiteView>> SiteView::Load(ContentStore& store, Options options,
                                                       const SiteView* previous) {
  std::shared_ptr<SiteView> view(new SiteView(store.blobs()));
  std::unordered_map<std::string, std::shared_ptr<const std::string>> loaded;  // by hash
  uint64_t budget = options.cache_bytes_limit;
  // Loads a blob into the cache when it fits; shares bodies with equal hashes.
  auto cache = [&](const std::string& path, const std::string& hash,
                   uint64_t length) -> Result<std::shared_ptr<const std::string>> {
    if (auto it = loaded.find(hash); it != loaded.end()) return it->second;
    if (length > budget) return std::shared_ptr<const std::string>();
    auto data = store.blobs().Get(hash, length);
    if (!data.ok()) return data.status().Annotate("loading '" + path + "' for serving");
    budget -= length;
    view->cached_bytes_ += length;
    auto body = std::make_shared<const std::string>(std::move(*data));
    loaded.emplace(hash, body);
    return body;
  };
  // A body the previous view verified and holds for the same path and hash is shared as it is
  // (no read, no hash, no map): an update of one page of a large site reads one page.
  auto reuse = [&](const std::shared_ptr<const std::string>& body, uint64_t length) {
    if (!body || body->size() != length || length > budget) return false;
    budget -= length;
    view->cached_bytes_ += length;
    return true;
  };

  for (Area area : {Area::kTieup, Area::kOriginal}) {
    auto active = store.Active(area);
    if (!active.ok()) {
      if (active.status().code() == StatusCode::kNotFound) continue;
      return active.status();
    }
    const ReleaseManifest& m = **active;
    (area == Area::kTieup ? view->tieup_version_ : view->original_version_) = m.version;
    for (const auto& [path, e] : m.files) {
      if (view->files_.count(path) != 0) {
        return Status::DataLoss("'" + path +
                                "' is active in both areas; a path belongs to one area only: "
                                "remove it from the original pages");
      }
      ServedFile f;
      f.path = path;
      f.area = area;
      f.content_type = e.content_type;
      f.hash = e.hash;
      f.length = e.length;
      f.last_modified = m.created;
      f.method = e.method;
      f.link_url = e.link_url;
      const ServedFile* before = previous != nullptr ? previous->Find(path) : nullptr;
      if (before != nullptr && before->hash == e.hash && reuse(before->body, e.length)) {
        f.body = before->body;
      } else {
        ASSIGN_OR_RETURN(f.body, cache(path, e.hash, e.length));
      }
      if (e.gzip) {
        f.gzip = e.gzip;
        if (before != nullptr && before->gzip == e.gzip &&
            reuse(before->gzip_body, e.gzip->length)) {
          f.gzip_body = before->gzip_body;
        } else {
          ASSIGN_OR_RETURN(f.gzip_body, cache(path, e.gzip->hash, e.gzip->length));
        }
      }
      view->files_.emplace_hint(view->files_.end(), path, std::move(f));
    }
  }
  view->not_found_page_ = view->Find("/404.html");
  return std::shared_ptr<const SiteView>(std::move(view));
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

// Helpers shared by the content tests.
#pragma once

#include <map>
#include <string>

#include "content/content_store.h"
#include "content/release.h"
#include "content/site_view.h"
#include "test_support.h"

namespace tieup::content::testing {

// A FileEntry without a gzip variant.
inline FileEntry Entry(std::string hash, uint64_t length, std::string content_type,
                       UpdateMethod method = UpdateMethod::kStaged, std::string link_url = "") {
  FileEntry e;
  e.hash = std::move(hash);
  e.length = length;
  e.content_type = std::move(content_type);
  e.method = method;
  e.link_url = std::move(link_url);
  return e;
}

// A release of `area` with `pages` (path -> body, served as text/html), whose blobs are put in
// `store`. Fails the test when a Put fails.
inline ReleaseManifest MakeRelease(ContentStore& store, Area area, uint64_t version,
                                   const std::map<std::string, std::string>& pages,
                                   const std::string& site = "shop-b") {
  ReleaseManifest m;
  m.site = site;
  m.area = area;
  m.version = version;
  m.created = 1790000000 + static_cast<int64_t>(version);
  for (const auto& [path, body] : pages) {
    auto hash = store.blobs().Put(body);
    EXPECT_TRUE(hash.ok()) << hash.status().ToString();
    if (!hash.ok()) continue;
    m.files[path] = Entry(*hash, body.size(), "text/html; charset=utf-8");
  }
  return m;
}

// Stages and activates; returns the first error.
inline Status Publish(ContentStore& store, const ReleaseManifest& m) {
  RETURN_IF_ERROR(store.Stage(m));
  return store.Activate(m.area, m.version);
}

// What a view serves: path -> (area name, content type, body).
using Served = std::map<std::string, std::string>;

// Every file of `view` as "area|type|body", read through the view (verifying each body).
inline Result<Served> Snapshot(const SiteView& view) {
  Served out;
  for (const auto& [path, file] : view.files()) {
    ASSIGN_OR_RETURN(auto body, view.ReadBody(file));
    std::string gz;
    if (file.gzip) {
      ASSIGN_OR_RETURN(auto g, view.ReadGzipBody(file));
      gz = "|gz:" + std::to_string(g->size());
    }
    out[path] = std::string(AreaName(file.area)) + "|" + file.content_type + "|" + *body + gz;
  }
  return out;
}

}  // namespace tieup::content::testing

// SiteView: what the HTTP layer serves, built from the served releases of both areas of a
// ContentStore (ContentStore::Served: the active releases, with the emergency edits in effect
// applied on main's tie-up release). Immutable after Load and safe to share across threads; to pick
// up a newly activated release, Load a new view and swap the shared_ptr.
//
// A missing or damaged blob never fails a load: the file is kept in the view marked
// `unavailable` (never served with wrong bytes: the HTTP layer answers 503) and listed in
// faults(), so that the site keeps serving everything else while the file is fetched again.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/cow_map.h"
#include "base/status.h"
#include "content/blob_store.h"
#include "content/content_store.h"
#include "content/release.h"

namespace tieup::content {

// One servable file.
struct ServedFile {
  std::string path;  // the normalized URL path
  Area area = Area::kOriginal;
  std::string content_type;
  std::string hash;  // hex SHA-256 of the body: the ETag
  uint64_t length = 0;
  // The `created` time (unix seconds) of the release that brought this entry: a view loaded
  // from a previous one keeps the time of unchanged files; a view loaded afresh uses the
  // active release's time for all of them.
  int64_t last_modified = 0;
  UpdateMethod method = UpdateMethod::kStaged;
  std::string link_url;                      // for UpdateMethod::kLink
  LinkMode link_mode = LinkMode::kRedirect;  // for UpdateMethod::kLink: how it is served
  // The body, verified, when it fitted in the cache; null otherwise (use SiteView::ReadBody).
  std::shared_ptr<const std::string> body;
  std::optional<GzipVariant> gzip;               // a precompressed variant, when there is one
  std::shared_ptr<const std::string> gzip_body;  // as `body`, for the variant
  // True when the body's blob was missing or damaged at load: the file must not be served
  // (answer 503) until a later load finds the blob intact; `body` is null. A damaged gzip
  // variant alone does not make the file unavailable (the identity body is served); it is
  // listed in SiteView::faults() all the same.
  bool unavailable = false;
};

// A blob the view needs but could not use: absent from the blob store, of another length, or
// with bytes that do not hash to its name.
struct BlobFault {
  std::string path;  // the file that needs it
  Area area = Area::kOriginal;
  std::string hash;  // the blob's name (the hash the release states)
  uint64_t length = 0;
  bool gzip_variant = false;  // the blob is the file's gzip variant, not its body
  std::string reason;         // what the blob store said

  friend bool operator==(const BlobFault&, const BlobFault&) = default;
};

struct SiteViewOptions {
  // Bodies (and gzip variants) are held in memory while their total stays under this.
  uint64_t cache_bytes_limit = 256ull << 20;
};

// How much one area of a view serves. Kept up to date by every Load, so reading it costs nothing
// (no walk over the files).
struct AreaTotals {
  uint64_t bytes = 0;  // the sum of `length` of the area's files (gzip variants not counted)
  uint64_t pages = 0;  // the area's files whose content_type starts with "text/html"

  friend bool operator==(const AreaTotals&, const AreaTotals&) = default;
};

// The answer of SiteView::Lookup.
struct LookupResult {
  enum class Kind {
    kFound,     // `file` is the file to serve
    kRedirect,  // redirect to `location` (a directory without its trailing '/')
    kNotFound,  // `file` is the site's /404.html, or null
  };
  Kind kind = Kind::kNotFound;
  const ServedFile* file = nullptr;
  std::string location;
};

class SiteView {
 public:
  using Options = SiteViewOptions;

  // Builds the view of the releases active in `store` now (an area without one is empty), and
  // loads the bodies that fit in the cache, verifying each hash; for the others it checks that
  // the blob is there with the stated size (a stat, not a read). A blob that is missing or
  // damaged does not fail the load: see ServedFile::unavailable and faults(). DataLoss when a
  // path is in both areas. `store` must outlive the view (bodies not cached are read from its
  // BlobStore).
  // `previous` (optional): a view of an earlier state of the same store; the view is then made
  // from it by applying the difference between the releases each was built from, sharing its
  // entries and the bodies it verified (an update of one page of a large site reads, checks and
  // allocates for one page; the cost does not grow with the site). The totals of each area are
  // then previous's, adjusted only for the files that differ. The faults of `previous` are
  // looked at again (each faulty blob is read again), so a load after a repair serves the
  // repaired files.
  static Result<std::shared_ptr<const SiteView>> Load(ContentStore& store, Options options = {},
                                                      const SiteView* previous = nullptr);

  // The file at exactly `normalized_path`, or null.
  const ServedFile* Find(std::string_view normalized_path) const;

  // Resolves a request path (already percent-decoded and normalized by the HTTP layer): "/" and
  // "/news/" serve their "index.html"; "/news" redirects to "/news/" when only
  // "/news/index.html" exists; anything else (including a malformed path) is kNotFound with the
  // not-found page.
  LookupResult Lookup(std::string_view normalized_path) const;

  // The site's "/404.html", or null.
  const ServedFile* not_found_page() const { return not_found_page_; }

  // The body of `file` (from the cache, or read from the blob store and verified: DataLoss when
  // damaged). `file` must come from this view.
  Result<std::shared_ptr<const std::string>> ReadBody(const ServedFile& file) const;
  // The same for the gzip variant; NotFound when `file` has none.
  Result<std::shared_ptr<const std::string>> ReadGzipBody(const ServedFile& file) const;

  // The active versions the view was built from (0: the area had no active release).
  uint64_t version(Area area) const {
    return area == Area::kTieup ? tieup_version_ : original_version_;
  }
  // Every file, by path.
  const CowMap<ServedFile>& files() const { return files_; }
  // The bytes and pages of the files of `area` (zeros for an area without files): always equal
  // to a count over files(), without walking them.
  const AreaTotals& totals(Area area) const {
    return area == Area::kTieup ? tieup_totals_ : original_totals_;
  }
  // Bytes of bodies held in memory.
  uint64_t cached_bytes() const { return cached_bytes_; }
  // The blobs this view found missing or damaged when it was loaded, by path then variant
  // (empty when every file is servable).
  std::vector<BlobFault> faults() const;
  bool has_faults() const { return !faults_.empty(); }

 private:
  explicit SiteView(BlobStore& blobs) : blobs_(blobs) {}
  // Count `f` in (Add) or out of (Subtract) the totals of its area. Every change to files_ goes
  // with these.
  void AddToTotals(const ServedFile& f);
  void SubtractFromTotals(const ServedFile& f);

  BlobStore& blobs_;
  CowMap<ServedFile> files_;
  // The releases the view was built from (null: the area had none).
  std::shared_ptr<const ReleaseManifest> tieup_;
  std::shared_ptr<const ReleaseManifest> original_;
  const ServedFile* not_found_page_ = nullptr;
  uint64_t tieup_version_ = 0;
  uint64_t original_version_ = 0;
  uint64_t cached_bytes_ = 0;
  AreaTotals tieup_totals_;
  AreaTotals original_totals_;
  uint64_t options_limit_ = 0;  // the cache limit it was loaded with
  // By path: the faults of the file there (its body's blob, its gzip variant's, or both).
  std::map<std::string, std::vector<BlobFault>> faults_;
};

}  // namespace tieup::content

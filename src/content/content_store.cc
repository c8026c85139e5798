#include "content/content_store.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "content/gzip_variant.h"

namespace tieup::content {
namespace {

constexpr std::string_view kPointerName = "ACTIVE";
constexpr std::string_view kOverlayName = "OVERLAY";
constexpr int kOverlayFormat = 1;
// Changes kept for main at most (the oldest go first when main has been unreachable that long).
constexpr size_t kMaxUnreportedChanges = 1000;
constexpr std::string_view kMetadataSuffix = ".json";
constexpr std::string_view kTmpSuffix = ".tmp";
constexpr Area kAreas[] = {Area::kTieup, Area::kOriginal};

Area OtherArea(Area a) { return a == Area::kTieup ? Area::kOriginal : Area::kTieup; }

std::string AreaLabel(Area a) { return "area '" + std::string(AreaName(a)) + "'"; }

// "<digits>" with no sign, no leading zero, at least 1.
std::optional<uint64_t> ParseVersion(std::string_view s) {
  if (s.empty() || s.size() > 20 || s[0] == '0') return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Creates `dir` (and missing parents), then syncs its parent so that its entry is durable.
// The parent is synced even when `dir` exists: a run that crashed may have created it without.
Status CreateDirDurably(Env& env, const std::string& dir) {
  const std::string parent = DirName(dir);
  if (!env.FileExists(parent)) RETURN_IF_ERROR(CreateDirDurably(env, parent));
  RETURN_IF_ERROR(env.CreateDir(dir));
  return env.SyncDir(parent);
}

// Refuses metadata past its expiry (a "freeze": someone replaying an old, once-valid release).
Status CheckNotExpired(const ReleaseManifest& m, int64_t now) {
  if (m.expires != 0 && m.expires <= now) {
    return Status::FailedPrecondition("release " + std::to_string(m.version) + " of " +
                                      AreaLabel(m.area) + " expired at " +
                                      std::to_string(m.expires) + " (now " + std::to_string(now) +
                                      "): refusing stale metadata; ask main for a fresh release");
  }
  return Status::Ok();
}

// Whether `e` is in effect under main's active tie-up release `release` (see the file comment of
// content_store.h); when not, `why` says why in a sentence.
bool InEffect(const OverlayEntry& e, const ReleaseManifest& release, std::string* why) {
  const std::string v = "main's tie-up version " + std::to_string(release.version);
  if (release.emergency_edit == EmergencyEditPolicy::kNone) {
    if (why) *why = v + " does not grant emergency edits";
    return false;
  }
  auto it = release.files.find(e.path);
  if (it == release.files.end()) {
    if (why) *why = v + " no longer has this page";
    return false;
  }
  if (release.emergency_edit == EmergencyEditPolicy::kOverwrite && it->second.hash != e.main_hash) {
    if (why) *why = v + " changes this page, and the partnership's policy is overwrite";
    return false;
  }
  return true;
}

namespace json = boost::json;

json::object EncodeFileEntry(const FileEntry& e) {
  json::object o;
  o["hash"] = e.hash;
  o["length"] = e.length;
  o["content_type"] = e.content_type;
  o["method"] = UpdateMethodName(e.method);
  if (!e.link_url.empty()) o["link_url"] = e.link_url;
  if (e.link_mode != LinkMode::kRedirect) o["link_mode"] = LinkModeName(e.link_mode);
  if (e.gzip) o["gzip"] = json::object{{"hash", e.gzip->hash}, {"length", e.gzip->length}};
  return o;
}

// The overlay record is written by this program only: a damaged one is DataLoss (Open says what
// to do), and every field is checked so that a bad path or hash is never served.
struct OverlayReader {
  const json::object& o;
  std::string problem;
  std::string Str(std::string_view k) {
    const json::value* v = o.if_contains(k);
    if (v != nullptr && v->is_string()) return std::string(v->get_string());
    if (problem.empty()) problem = "field '" + std::string(k) + "' is missing or not a string";
    return "";
  }
  uint64_t Uint(std::string_view k) {
    const json::value* v = o.if_contains(k);
    if (v != nullptr && v->is_uint64()) return v->get_uint64();
    if (v != nullptr && v->is_int64() && v->get_int64() >= 0) return v->get_int64();
    if (problem.empty()) problem = "field '" + std::string(k) + "' is missing or not a number";
    return 0;
  }
};

Result<FileEntry> DecodeFileEntry(const std::string& path, const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("an entry is not an object");
  OverlayReader r{v.get_object(), ""};
  FileEntry e;
  e.hash = r.Str("hash");
  e.length = r.Uint("length");
  e.content_type = r.Str("content_type");
  auto method = ParseUpdateMethod(r.Str("method"));
  if (!r.problem.empty()) return Status::InvalidArgument(r.problem);
  if (!method.ok()) return method.status();
  e.method = *method;
  if (v.get_object().contains("link_url")) e.link_url = r.Str("link_url");
  if (v.get_object().contains("link_mode")) {
    auto mode = ParseLinkMode(r.Str("link_mode"));
    if (!mode.ok()) return mode.status();
    e.link_mode = *mode;
  }
  if (const json::value* gz = v.get_object().if_contains("gzip")) {
    if (!gz->is_object()) return Status::InvalidArgument("gzip is not an object");
    OverlayReader g{gz->get_object(), ""};
    GzipVariant variant{g.Str("hash"), g.Uint("length")};
    if (!g.problem.empty()) return Status::InvalidArgument(g.problem);
    e.gzip = std::move(variant);
  }
  RETURN_IF_ERROR(ValidateFileEntry(path, e));
  return e;
}

}  // namespace

ContentStore::ContentStore(Env& env, std::string site_dir, Options options)
    : env_(env),
      site_dir_(std::move(site_dir)),
      options_(std::move(options)),
      blobs_(env, JoinPath(site_dir_, "blobs")) {}

std::string ContentStore::AreaDir(Area area) const {
  return JoinPath(JoinPath(site_dir_, "releases"), AreaName(area));
}

std::string ContentStore::MetadataPath(Area area, uint64_t version) const {
  return JoinPath(AreaDir(area), std::to_string(version) + std::string(kMetadataSuffix));
}

std::optional<FileInfo> ContentStore::MetadataFileInfo(Area area, uint64_t version) const {
  auto entries = env_.ListDir(AreaDir(area));
  if (!entries.ok()) return std::nullopt;
  const std::string name = std::to_string(version) + std::string(kMetadataSuffix);
  for (const FileInfo& e : *entries) {
    if (e.name == name && !e.is_dir) return e;
  }
  return std::nullopt;
}

bool ContentStore::StagedFileUnchangedLocked(Area area, uint64_t version) const {
  // Another process may have staged the same version since this store did (then its file is
  // parsed). A file with the size, time and inode it had when written is the one written;
  // without those (an Env that does not tell them) it is read and compared with the release's
  // encoding.
  const FileInfo& was = last_staged_file_;
  if (was.inode != 0 && was.mtime_ns != 0) {
    const std::optional<FileInfo> now = MetadataFileInfo(area, version);
    return now && now->inode == was.inode && now->mtime_ns == was.mtime_ns && now->size == was.size;
  }
  auto bytes = env_.ReadFile(MetadataPath(area, version));
  if (!bytes.ok()) return false;
  size_t at = 0;
  Status same = last_staged_->EncodeTo([&](std::string_view part) -> Status {
    if (bytes->compare(at, part.size(), part) != 0) return Status::DataLoss("differs");
    at += part.size();
    return Status::Ok();
  });
  return same.ok() && at == bytes->size();
}

std::string ContentStore::PointerPath(Area area) const {
  return JoinPath(AreaDir(area), kPointerName);
}

Result<std::unique_ptr<ContentStore>> ContentStore::Open(Env& env, std::string site_dir,
                                                         Options options) {
  if (!options.site_id.empty()) RETURN_IF_ERROR(ValidateSiteId(options.site_id));
  std::unique_ptr<ContentStore> store(
      new ContentStore(env, std::move(site_dir), std::move(options)));
  RETURN_IF_ERROR(store->Recover());
  return store;
}

Status ContentStore::Recover() {
  // Directories: create what is missing and sync each parent every time, since a directory made
  // by a run that crashed before its parent's sync is not durable yet.
  const std::string releases = JoinPath(site_dir_, "releases");
  for (const std::string& dir :
       {site_dir_, blobs_.dir(), releases, AreaDir(Area::kTieup), AreaDir(Area::kOriginal)}) {
    RETURN_IF_ERROR(CreateDirDurably(env_, dir));
  }
  if (options_.recover_blob_leftovers) RETURN_IF_ERROR(blobs_.RemoveLeftoversForRecovery());
  for (Area area : kAreas) {
    ASSIGN_OR_RETURN(auto entries, env_.ListDir(AreaDir(area)));
    for (const FileInfo& e : entries) {
      if (!e.is_dir && e.name.ends_with(kTmpSuffix)) {
        RETURN_IF_ERROR(env_.RemoveFile(JoinPath(AreaDir(area), e.name)));
      }
    }
    const std::string pointer = PointerPath(area);
    if (!env_.FileExists(pointer)) continue;
    auto text = env_.ReadFilePrefix(pointer, 64);
    if (!text.ok()) return text.status().Annotate("reading the active release pointer");
    std::string_view t = *text;
    if (t.ends_with('\n')) t.remove_suffix(1);
    std::optional<uint64_t> version = ParseVersion(t);
    if (!version) {
      return Status::DataLoss("the active release pointer " + pointer +
                              " is corrupt: expected a version number; restore it or write the "
                              "version to serve (see the releases in " +
                              AreaDir(area) + ")");
    }
    const std::string meta_path = MetadataPath(area, *version);
    if (!env_.FileExists(meta_path)) {
      return Status::DataLoss(pointer + " names release " + std::to_string(*version) + " of " +
                              AreaLabel(area) + ", but its metadata " + meta_path +
                              " is missing: restore it from a backup or point ACTIVE at a kept "
                              "release");
    }
    auto m = ReadMetadataLocked(area, *version);
    if (!m.ok()) return m.status();
    ActiveSlot(area) = std::make_shared<const ReleaseManifest>(std::move(*m));
  }
  RETURN_IF_ERROR(LoadOverlayLocked());
  // A crash between an activation's pointer switch and its overlay write left entries that are
  // no longer in effect (they are not served either way): drop and log them now.
  return ResolveOverlayLocked();
}

Result<ReleaseManifest> ContentStore::ReadMetadataLocked(Area area, uint64_t version) const {
  const std::string path = MetadataPath(area, version);
  if (!env_.FileExists(path)) {
    return Status::NotFound("release " + std::to_string(version) + " of " + AreaLabel(area) +
                            " is not staged (no " + path + ")");
  }
  ASSIGN_OR_RETURN(std::string bytes, env_.ReadFile(path));
  auto m = ReleaseManifest::Parse(bytes);
  if (!m.ok()) {
    return Status::DataLoss("release metadata " + path + " is corrupt (" + m.status().message() +
                            "); remove it and stage the release again");
  }
  if (m->area != area || m->version != version) {
    return Status::DataLoss("release metadata " + path + " describes version " +
                            std::to_string(m->version) + " of area '" +
                            std::string(AreaName(m->area)) +
                            "', not its file name; remove it and stage the release again");
  }
  return std::move(*m);
}

Result<std::vector<uint64_t>> ContentStore::VersionsLocked(Area area) const {
  ASSIGN_OR_RETURN(auto entries, env_.ListDir(AreaDir(area)));
  std::vector<uint64_t> out;
  for (const FileInfo& e : entries) {
    std::string_view name = e.name;
    if (e.is_dir || !name.ends_with(kMetadataSuffix)) continue;
    name.remove_suffix(kMetadataSuffix.size());
    if (auto v = ParseVersion(name)) out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<uint64_t>> ContentStore::StagedVersions(Area area) const {
  std::lock_guard<std::mutex> lock(mu_);
  return VersionsLocked(area);
}

Result<ReleaseManifest> ContentStore::ReadStaged(Area area, uint64_t version) const {
  std::lock_guard<std::mutex> lock(mu_);
  return ReadMetadataLocked(area, version);
}

Result<std::shared_ptr<const ReleaseManifest>> ContentStore::Active(Area area) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& slot = ActiveSlot(area);
  if (!slot) return Status::NotFound("no release of " + AreaLabel(area) + " is active");
  return slot;
}

Status ContentStore::CheckBlobsLocked(const ReleaseManifest& m) {
  auto check = [&](const std::string& path, const std::string& hash, uint64_t length,
                   std::string_view what) -> Status {
    auto size = blobs_.Size(hash);
    if (!size.ok()) {
      return Status::NotFound("release " + std::to_string(m.version) + " of " + AreaLabel(m.area) +
                              " needs blob " + hash + " (" + std::string(what) + "'" + path +
                              "'), which is not stored: fetch it before staging");
    }
    if (*size != length) {
      return Status::DataLoss("blob " + hash + " (" + std::string(what) + "'" + path + "') has " +
                              std::to_string(*size) + " bytes but release " +
                              std::to_string(m.version) + " says " + std::to_string(length) +
                              ": remove the blob and fetch it again");
    }
    return Status::Ok();
  };
  // An entry the active release of the area already has was checked when that release was
  // activated, and its blobs are kept while it is active: only the others are looked at (a
  // one-page update of a large site checks one page, not all of them).
  const auto& active = ActiveSlot(m.area);
  Status status;
  auto check_entry = [&](const std::string& path, const FileEntry& e) {
    if (!status.ok()) return;
    status = check(path, e.hash, e.length, "");
    if (status.ok() && e.gzip)
      status = check(path, e.gzip->hash, e.gzip->length, "gzip variant of ");
  };
  if (!active) {
    for (const auto& [path, e] : m.files) check_entry(path, e);
    return status;
  }
  // Entries equal to the active ones are skipped; a release made from the active one (an
  // update) shares its unchanged chunks with it, which are not even looked at.
  active->files.ForEachDifference(
      m.files, [&](const std::string& path, const FileEntry* before, const FileEntry* after) {
        if (after == nullptr) return;
        if (before != nullptr && before->hash == after->hash && before->length == after->length &&
            before->gzip == after->gzip) {
          return;
        }
        check_entry(path, *after);
      });
  return status;
}

Status CheckTieupAreaRules(const TieupAreaRules& rules, const ReleaseManifest& m) {
  if (rules.empty()) return Status::Ok();
  const bool tieup = m.area == Area::kTieup;
  const std::string what = (tieup ? "tie-up release " : "original release ") +
                           std::to_string(m.version) + " of " +
                           (tieup ? rules.owner : std::string("this partner's own pages"));
  for (const auto& [path, e] : m.files) {
    for (const TieupAreaRules::Reserved& r : rules.reserved) {
      if (!path.starts_with(r.prefix)) continue;
      return Status::PermissionDenied(
          what + " has '" + path + "', which lies in the tie-up area " + r.prefix + " of " +
          r.owner +
          (tieup ? ": two mains may never publish the same path; the first must "
                   "publish elsewhere"
                 : ": choose a path outside " + r.prefix));
    }
  }
  return Status::Ok();
}

Status ContentStore::CheckCollisionsLocked(const ReleaseManifest& m) const {
  RETURN_IF_ERROR(CheckTieupAreaRules(area_rules_, m));
  const auto& other = ActiveSlot(OtherArea(m.area));
  if (!other) return Status::Ok();
  // Looks up the paths of the smaller of the two releases in the larger.
  const FileMap& small = other->files.size() < m.files.size() ? other->files : m.files;
  const FileMap& large = &small == &m.files ? other->files : m.files;
  for (const auto& [path, e] : small) {
    if (large.count(path) == 0) continue;
    if (m.area == Area::kTieup) {
      return Status::AlreadyExists("tie-up release " + std::to_string(m.version) + " has '" + path +
                                   "', which is an original page of this site: a path "
                                   "belongs to one area only; the partner must remove or move "
                                   "its page, or main must publish under another path");
    }
    return Status::AlreadyExists("original release " + std::to_string(m.version) + " has '" + path +
                                 "', which is a tie-up page managed by the main site; "
                                 "choose another path");
  }
  return Status::Ok();
}

Status ContentStore::Stage(const ReleaseManifest& manifest) {
  std::lock_guard<std::mutex> lock(mu_);
  return StageLocked(manifest);
}

Status ContentStore::StageLocked(const ReleaseManifest& m) {
  RETURN_IF_ERROR(m.Validate());
  if (!options_.site_id.empty() && m.site != options_.site_id) {
    return Status::PermissionDenied("release " + std::to_string(m.version) + " is for site '" +
                                    m.site + "', but this is site '" + options_.site_id +
                                    "': refusing another site's release");
  }
  RETURN_IF_ERROR(CheckNotExpired(m, env_.NowSeconds()));
  const auto& active = ActiveSlot(m.area);
  if (active && m.version <= active->version) {
    return Status::FailedPrecondition("release version " + std::to_string(m.version) + " of " +
                                      AreaLabel(m.area) + " is not above the active version " +
                                      std::to_string(active->version) +
                                      ": refusing a rollback or replay (versions only grow)");
  }
  RETURN_IF_ERROR(CheckCollisionsLocked(m));
  RETURN_IF_ERROR(CheckBlobsLocked(m));
  // Written in parts through one buffer: the metadata of a large site is megabytes, and joining
  // it in a fresh string on every update costs more than writing it.
  Status written = WriteFileAtomicWith(env_, MetadataPath(m.area, m.version), [&](WritableFile& f) {
    constexpr size_t kFlushAt = 256 << 10;
    std::string buffer;
    buffer.reserve(kFlushAt + (64 << 10));
    RETURN_IF_ERROR(m.EncodeTo([&](std::string_view part) -> Status {
      buffer += part;
      if (buffer.size() < kFlushAt) return Status::Ok();
      Status s = f.Append(buffer);
      buffer.clear();
      return s;
    }));
    return f.Append(buffer);
  });
  if (!written.ok()) {
    // A full disk leaves part of the file: nothing of a failed staging stays behind.
    (void)env_.RemoveFile(MetadataPath(m.area, m.version) + std::string(kTmpSuffix));
    return written;
  }
  last_staged_ = std::make_shared<const ReleaseManifest>(m);
  last_staged_file_ = MetadataFileInfo(m.area, m.version).value_or(FileInfo{});
  return Status::Ok();
}

Status ContentStore::Activate(Area area, uint64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  return ActivateLocked(area, version, /*allow_older=*/false);
}

Status ContentStore::ActivateLocked(Area area, uint64_t version, bool allow_older) {
  auto& slot = ActiveSlot(area);
  if (slot && version < slot->version && !allow_older) {
    return Status::FailedPrecondition("release " + std::to_string(version) + " of " +
                                      AreaLabel(area) + " is older than the active version " +
                                      std::to_string(slot->version) + ": use rollback");
  }
  ReleaseManifest m;
  if (last_staged_ && last_staged_->area == area && last_staged_->version == version &&
      StagedFileUnchangedLocked(area, version)) {
    m = *last_staged_;
  }
  if (m.version != version) {
    ASSIGN_OR_RETURN(m, ReadMetadataLocked(area, version));
  }
  if (!options_.site_id.empty() && m.site != options_.site_id) {
    return Status::PermissionDenied("staged release " + std::to_string(version) + " is for site '" +
                                    m.site + "', not '" + options_.site_id + "'");
  }
  // A rollback or a repeated activation may use metadata past its expiry (it was accepted
  // before); moving forward may not.
  if (!slot || version > slot->version) RETURN_IF_ERROR(CheckNotExpired(m, env_.NowSeconds()));
  RETURN_IF_ERROR(CheckCollisionsLocked(m));
  RETURN_IF_ERROR(CheckBlobsLocked(m));
  // Everything the pointer will name must be durable before it switches: the blobs are (a Put
  // returns only after its directory sync), the metadata file's entry is made so here even if
  // its staging ran in a process that died before its own directory sync.
  RETURN_IF_ERROR(env_.SyncDir(AreaDir(area)));
  RETURN_IF_ERROR(WriteFileAtomic(env_, PointerPath(area), std::to_string(version) + "\n"));
  slot = std::make_shared<const ReleaseManifest>(std::move(m));
  if (area == Area::kTieup) {
    RefreshServedLocked();  // serves only the entries in effect, whatever the write below does
    // The release is active whatever this write does: when it fails, the entries no longer in
    // effect (never served) are dropped and logged at the next activation or Open.
    (void)ResolveOverlayLocked();
  }
  return Status::Ok();
}

Result<uint64_t> ContentStore::Rollback(Area area, const std::function<bool(uint64_t)>& eligible) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& slot = ActiveSlot(area);
  if (!slot) {
    return Status::FailedPrecondition("no release of " + AreaLabel(area) +
                                      " is active: nothing to roll back");
  }
  const uint64_t current = slot->version;
  ASSIGN_OR_RETURN(auto versions, VersionsLocked(area));
  auto it = std::lower_bound(versions.begin(), versions.end(), current);
  while (it != versions.begin() && eligible && !eligible(*std::prev(it))) --it;
  if (it == versions.begin()) {
    return Status::FailedPrecondition("no release of " + AreaLabel(area) +
                                      " older than the active version " + std::to_string(current) +
                                      " that was live before is kept: cannot roll back");
  }
  uint64_t previous = *std::prev(it);
  Status s = ActivateLocked(area, previous, /*allow_older=*/true);
  if (!s.ok()) return s.Annotate("rolling back to release " + std::to_string(previous));
  return previous;
}

Result<PruneStats> ContentStore::Prune() {
  std::lock_guard<std::mutex> lock(mu_);
  PruneStats stats;
  std::set<std::string> referenced;
  struct Doomed {
    Area area;
    uint64_t version;
  };
  std::vector<Doomed> doomed;
  // First read every kept release: if one is corrupt nothing is removed, since its blobs are
  // unknown.
  for (Area area : kAreas) {
    ASSIGN_OR_RETURN(auto versions, VersionsLocked(area));
    const auto& active = ActiveSlot(area);
    size_t keep_from =
        versions.size() > options_.keep_releases ? versions.size() - options_.keep_releases : 0;
    for (size_t i = 0; i < versions.size(); ++i) {
      bool keep = i >= keep_from || (active && versions[i] == active->version);
      if (!keep) {
        doomed.push_back({area, versions[i]});
        continue;
      }
      ASSIGN_OR_RETURN(ReleaseManifest m, ReadMetadataLocked(area, versions[i]));
      for (const auto& [path, e] : m.files) {
        referenced.insert(e.hash);
        if (e.gzip) referenced.insert(e.gzip->hash);
        // Main's template of a page made here: the next release with other values needs it.
        if (e.expanded_from) referenced.insert(e.expanded_from->hash);
      }
    }
  }
  // The emergency edits' pages are served too.
  for (const auto& [path, e] : overlay_.entries) {
    if (!e.entry) continue;
    referenced.insert(e.entry->hash);
    if (e.entry->gzip) referenced.insert(e.entry->gzip->hash);
  }
  for (const Doomed& d : doomed) {
    RETURN_IF_ERROR(env_.RemoveFile(MetadataPath(d.area, d.version)));
    ++stats.releases_removed;
  }
  // The removals must be durable before blobs go, or a crash could bring back metadata whose
  // blobs are gone (harmless, since activation re-checks blobs, but confusing).
  for (Area area : kAreas) RETURN_IF_ERROR(env_.SyncDir(AreaDir(area)));

  const std::set<std::string> spared = blobs_.TakeRecentlyPut();
  std::vector<std::string> unreferenced;
  RETURN_IF_ERROR(blobs_.ForEach([&](const std::string& hash) {
    if (referenced.count(hash) == 0 && spared.count(hash) == 0) unreferenced.push_back(hash);
    return Status::Ok();
  }));
  for (const std::string& hash : unreferenced) {
    RETURN_IF_ERROR(blobs_.Remove(hash));
    ++stats.blobs_removed;
  }
  return stats;
}

Result<size_t> ContentStore::RemoveUnreferencedBlobs(const std::vector<std::string>& hashes) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> candidates(hashes.begin(), hashes.end());
  auto spare_referenced = [&](const ReleaseManifest& m) {
    for (const auto& [path, e] : m.files) {
      candidates.erase(e.hash);
      if (e.gzip) candidates.erase(e.gzip->hash);
      if (e.expanded_from) candidates.erase(e.expanded_from->hash);
    }
  };
  for (const auto& [path, e] : overlay_.entries) {
    if (!e.entry) continue;
    candidates.erase(e.entry->hash);
    if (e.entry->gzip) candidates.erase(e.entry->gzip->hash);
  }
  for (Area area : kAreas) {
    const auto& active = ActiveSlot(area);
    if (active) spare_referenced(*active);
    ASSIGN_OR_RETURN(auto versions, VersionsLocked(area));
    for (uint64_t v : versions) {
      if (candidates.empty()) return size_t{0};
      if (active && v == active->version) continue;
      ASSIGN_OR_RETURN(ReleaseManifest m, ReadMetadataLocked(area, v));
      spare_referenced(m);
    }
  }
  size_t removed = 0;
  for (const std::string& hash : candidates) {
    if (!blobs_.Has(hash)) continue;
    RETURN_IF_ERROR(blobs_.Remove(hash));
    ++removed;
  }
  return removed;
}

Result<PageEdit> ContentStore::PutOriginalPage(std::string_view path, std::string_view bytes,
                                               std::string_view content_type, bool allow_tieup_edit,
                                               std::string_view by) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string data(bytes);
  return EditLocked(path, &data, content_type, allow_tieup_edit, by);
}

Result<PageEdit> ContentStore::RemoveOriginalPage(std::string_view path, bool allow_tieup_edit,
                                                  std::string_view by) {
  std::lock_guard<std::mutex> lock(mu_);
  return EditLocked(path, nullptr, "", allow_tieup_edit, by);
}

Result<PageEdit> ContentStore::EditLocked(std::string_view path_view, const std::string* bytes,
                                          std::string_view content_type, bool allow_tieup_edit,
                                          std::string_view by) {
  const std::string path(path_view);
  RETURN_IF_ERROR(ValidatePath(path));
  PageEdit edit;
  edit.path = path;
  edit.area = Area::kOriginal;
  const auto& tieup = ActiveSlot(Area::kTieup);
  if (tieup && tieup->files.count(path) != 0) {
    if (!allow_tieup_edit) {
      return Status::PermissionDenied("'" + path +
                                      "' is a tie-up page managed by the main site; choose "
                                      "another path");
    }
    return EmergencyEditLocked(path, bytes, content_type, by);
  }
  const auto& base = ActiveSlot(edit.area);
  ReleaseManifest next;
  if (base) {
    next = *base;
    edit.previous_version = base->version;
  } else {
    next.area = edit.area;
    next.site = options_.site_id;
    if (next.site.empty()) {
      return Status::FailedPrecondition("the site id is unknown (no release of " +
                                        AreaLabel(edit.area) +
                                        " yet): open the content store with Options.site_id");
    }
  }
  auto old = next.files.find(path);
  if (old != next.files.end()) edit.old_hash = old->second.hash;

  if (bytes == nullptr) {
    if (old == next.files.end()) {
      return Status::NotFound("there is no page '" + path + "' to remove");
    }
    next.files.erase(path);
  } else {
    FileEntry entry;
    entry.length = bytes->size();
    entry.content_type = std::string(content_type);
    ASSIGN_OR_RETURN(entry.hash, blobs_.Put(*bytes));
    edit.new_hash = entry.hash;
    if (old != next.files.end() && old->second.hash == entry.hash &&
        old->second.content_type == entry.content_type &&
        old->second.method == UpdateMethod::kStaged) {
      edit.version = edit.previous_version;
      return edit;  // unchanged: no new release
    }
    ASSIGN_OR_RETURN(entry.gzip, internal::MakeGzipVariant(blobs_, *bytes, content_type));
    next.files[path] = std::move(entry);
  }
  // Above every version on disk, so a release staged for approval is never overwritten.
  ASSIGN_OR_RETURN(auto versions, VersionsLocked(edit.area));
  uint64_t top = versions.empty() ? 0 : versions.back();
  next.version = std::max(top, edit.previous_version) + 1;
  next.created = env_.NowSeconds();
  // A local edit is not main's signed metadata: it carries no expiry of its own.
  next.expires = 0;
  RETURN_IF_ERROR(StageLocked(next));
  RETURN_IF_ERROR(ActivateLocked(edit.area, next.version, /*allow_older=*/false));
  edit.version = next.version;
  edit.changed = true;
  return edit;
}

Result<PageEdit> ContentStore::PutOriginalPages(const std::vector<PageWrite>& pages) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pages.empty()) return Status::InvalidArgument("no pages to put");
  PageEdit edit;
  edit.area = Area::kOriginal;
  const auto& tieup = ActiveSlot(Area::kTieup);
  std::set<std::string> seen;
  for (const PageWrite& w : pages) {
    RETURN_IF_ERROR(ValidatePath(w.path));
    if (!seen.insert(w.path).second) {
      return Status::InvalidArgument("'" + w.path + "' is given twice in one put");
    }
    if (tieup && tieup->files.count(w.path) != 0) {
      return Status::PermissionDenied("'" + w.path +
                                      "' is a tie-up page managed by the main site; choose "
                                      "another path");
    }
  }
  const auto& base = ActiveSlot(Area::kOriginal);
  ReleaseManifest next;
  if (base) {
    next = *base;
    edit.previous_version = base->version;
  } else {
    next.area = Area::kOriginal;
    next.site = options_.site_id;
    if (next.site.empty()) {
      return Status::FailedPrecondition(
          "the site id is unknown (no original release yet): open the content store with "
          "Options.site_id");
    }
  }
  bool changed = false;
  for (const PageWrite& w : pages) {
    FileEntry entry;
    entry.length = w.bytes.size();
    entry.content_type = w.content_type;
    ASSIGN_OR_RETURN(entry.hash, blobs_.Put(w.bytes));
    auto old = next.files.find(w.path);
    if (old != next.files.end() && old->second.hash == entry.hash &&
        old->second.content_type == entry.content_type &&
        old->second.method == UpdateMethod::kStaged) {
      continue;
    }
    ASSIGN_OR_RETURN(entry.gzip, internal::MakeGzipVariant(blobs_, w.bytes, w.content_type));
    next.files[w.path] = std::move(entry);
    changed = true;
  }
  if (!changed) {
    edit.version = edit.previous_version;
    return edit;
  }
  ASSIGN_OR_RETURN(auto versions, VersionsLocked(Area::kOriginal));
  uint64_t top = versions.empty() ? 0 : versions.back();
  next.version = std::max(top, edit.previous_version) + 1;
  next.created = env_.NowSeconds();
  next.expires = 0;
  RETURN_IF_ERROR(StageLocked(next));
  RETURN_IF_ERROR(ActivateLocked(Area::kOriginal, next.version, /*allow_older=*/false));
  edit.version = next.version;
  edit.changed = true;
  return edit;
}

// --- emergency edits: the overlay on main's tie-up release ---

std::string ContentStore::OverlayPath() const {
  return JoinPath(AreaDir(Area::kTieup), kOverlayName);
}

Status ContentStore::LoadOverlayLocked() {
  overlay_ = OverlayRecord{};
  const std::string path = OverlayPath();
  if (!env_.FileExists(path)) return Status::Ok();
  ASSIGN_OR_RETURN(std::string bytes, env_.ReadFile(path));
  auto damaged = [&](const std::string& why) {
    return Status::DataLoss("the emergency edits record " + path + " is damaged (" + why +
                            "); remove it to serve main's tie-up pages as main signed them");
  };
  boost::system::error_code ec;
  json::value v = json::parse(bytes, ec);
  if (ec || !v.is_object()) return damaged("not a JSON object");
  const json::object& o = v.get_object();
  OverlayReader r{o, ""};
  if (r.Uint("format") != kOverlayFormat) return damaged("unknown format");
  OverlayRecord rec;
  rec.next_seq = r.Uint("next_seq");
  const json::value* entries = o.if_contains("entries");
  const json::value* changes = o.if_contains("changes");
  if (!r.problem.empty()) return damaged(r.problem);
  if (entries == nullptr || !entries->is_array() || changes == nullptr || !changes->is_array()) {
    return damaged("'entries' or 'changes' is not a list");
  }
  for (const json::value& item : entries->get_array()) {
    if (!item.is_object()) return damaged("an entry is not an object");
    OverlayReader er{item.get_object(), ""};
    OverlayEntry e;
    e.path = er.Str("path");
    e.main_hash = er.Str("main_hash");
    e.by = er.Str("by");
    e.at = static_cast<int64_t>(er.Uint("at"));
    e.main_version = er.Uint("main_version");
    const json::value* page = item.get_object().if_contains("entry");
    if (!er.problem.empty() || page == nullptr) return damaged(er.problem + " in an entry");
    if (Status s = ValidatePath(e.path); !s.ok()) return damaged(s.message());
    if (Status s = ValidateHashHex(e.main_hash); !s.ok()) return damaged(s.message());
    if (!page->is_null()) {
      auto fe = DecodeFileEntry(e.path, *page);
      if (!fe.ok()) return damaged(fe.status().message());
      e.entry = std::move(*fe);
    }
    rec.entries[e.path] = std::move(e);
  }
  for (const json::value& item : changes->get_array()) {
    if (!item.is_object()) return damaged("a change is not an object");
    OverlayReader cr{item.get_object(), ""};
    OverlayChange c;
    c.seq = cr.Uint("seq");
    c.at = static_cast<int64_t>(cr.Uint("at"));
    c.by = cr.Str("by");
    c.action = cr.Str("action");
    c.path = cr.Str("path");
    c.old_hash = cr.Str("old_hash");
    c.new_hash = cr.Str("new_hash");
    c.version = cr.Uint("version");
    c.reason = cr.Str("reason");
    if (!cr.problem.empty()) return damaged(cr.problem + " in a change");
    rec.changes.push_back(std::move(c));
  }
  overlay_ = std::move(rec);
  return Status::Ok();
}

Status ContentStore::WriteOverlayLocked(OverlayRecord record) {
  json::array entries;
  for (const auto& [path, e] : record.entries) {
    json::object o;
    o["path"] = e.path;
    o["entry"] = e.entry ? json::value(EncodeFileEntry(*e.entry)) : json::value(nullptr);
    o["main_hash"] = e.main_hash;
    o["by"] = e.by;
    o["at"] = e.at;
    o["main_version"] = e.main_version;
    entries.push_back(std::move(o));
  }
  json::array changes;
  for (const OverlayChange& c : record.changes) {
    changes.push_back(json::object{{"seq", c.seq},
                                   {"at", c.at},
                                   {"by", c.by},
                                   {"action", c.action},
                                   {"path", c.path},
                                   {"old_hash", c.old_hash},
                                   {"new_hash", c.new_hash},
                                   {"version", c.version},
                                   {"reason", c.reason}});
  }
  json::object o;
  o["format"] = kOverlayFormat;
  o["next_seq"] = record.next_seq;
  o["entries"] = std::move(entries);
  o["changes"] = std::move(changes);
  Status written = WriteFileAtomic(env_, OverlayPath(), json::serialize(o) + "\n");
  if (!written.ok()) {
    (void)env_.RemoveFile(OverlayPath() + std::string(kTmpSuffix));
    return written.Annotate("writing the emergency edits record");
  }
  overlay_ = std::move(record);
  RefreshServedLocked();
  return Status::Ok();
}

void ContentStore::AppendChange(OverlayRecord& record, OverlayChange change) const {
  change.seq = record.next_seq++;
  if (change.at == 0) change.at = env_.NowSeconds();
  record.changes.push_back(std::move(change));
  if (record.changes.size() > kMaxUnreportedChanges) {
    record.changes.erase(record.changes.begin(),
                         record.changes.end() - static_cast<ptrdiff_t>(kMaxUnreportedChanges));
  }
}

Status ContentStore::ResolveOverlayLocked() {
  if (overlay_.entries.empty()) {
    RefreshServedLocked();
    return Status::Ok();
  }
  OverlayRecord next = overlay_;
  for (auto it = next.entries.begin(); it != next.entries.end();) {
    std::string why = "no tie-up release is active";
    if (active_tieup_ && InEffect(it->second, *active_tieup_, &why)) {
      ++it;
      continue;
    }
    OverlayChange c;
    c.by = active_tieup_ ? "main's tie-up version " + std::to_string(active_tieup_->version) : "";
    c.action = "dropped";
    c.path = it->first;
    c.old_hash = it->second.entry ? it->second.entry->hash : "";
    if (active_tieup_) {
      auto mains = active_tieup_->files.find(it->first);
      if (mains != active_tieup_->files.end()) c.new_hash = mains->second.hash;
      c.version = active_tieup_->version;
    }
    c.reason = "the emergency edit of " + it->first + " ended: " + why;
    AppendChange(next, std::move(c));
    it = next.entries.erase(it);
  }
  if (next.entries.size() == overlay_.entries.size()) {
    RefreshServedLocked();
    return Status::Ok();
  }
  return WriteOverlayLocked(std::move(next));
}

void ContentStore::RefreshServedLocked() {
  served_tieup_ = active_tieup_;
  if (!active_tieup_) return;
  std::optional<ReleaseManifest> served;
  for (const auto& [path, e] : overlay_.entries) {
    if (!InEffect(e, *active_tieup_, nullptr)) continue;
    if (!served) served.emplace(*active_tieup_);  // shares every chunk the overlay leaves alone
    if (e.entry) {
      served->files.insert_or_assign(path, *e.entry);
    } else {
      served->files.erase(path);
    }
  }
  if (served) served_tieup_ = std::make_shared<const ReleaseManifest>(std::move(*served));
}

Result<std::shared_ptr<const ReleaseManifest>> ContentStore::Served(Area area) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& slot = area == Area::kTieup ? served_tieup_ : active_original_;
  if (!slot) return Status::NotFound("no release of " + AreaLabel(area) + " is active");
  return slot;
}

std::vector<OverlayEntry> ContentStore::Overlay() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OverlayEntry> out;
  if (!active_tieup_) return out;
  for (const auto& [path, e] : overlay_.entries) {
    if (InEffect(e, *active_tieup_, nullptr)) out.push_back(e);
  }
  return out;
}

std::vector<OverlayChange> ContentStore::UnreportedOverlayChanges() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overlay_.changes;
}

Status ContentStore::MarkOverlayChangesReported(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  OverlayRecord next = overlay_;
  std::erase_if(next.changes, [&](const OverlayChange& c) { return c.seq <= seq; });
  if (next.changes.size() == overlay_.changes.size()) return Status::Ok();
  return WriteOverlayLocked(std::move(next));
}

Result<bool> ContentStore::RevertEmergencyEdit(std::string_view path_view, std::string_view by) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string path(path_view);
  auto it = overlay_.entries.find(path);
  if (it == overlay_.entries.end()) return false;
  OverlayRecord next = overlay_;
  OverlayChange c;
  c.by = std::string(by);
  c.action = "revert";
  c.path = path;
  c.old_hash = it->second.entry ? it->second.entry->hash : "";
  if (active_tieup_) {
    auto mains = active_tieup_->files.find(path);
    if (mains != active_tieup_->files.end()) c.new_hash = mains->second.hash;
    c.version = active_tieup_->version;
  }
  AppendChange(next, std::move(c));
  next.entries.erase(path);
  RETURN_IF_ERROR(WriteOverlayLocked(std::move(next)));
  return true;
}

Result<PageEdit> ContentStore::EmergencyEditLocked(const std::string& path,
                                                   const std::string* bytes,
                                                   std::string_view content_type,
                                                   std::string_view by) {
  const ReleaseManifest& mains = *active_tieup_;
  if (mains.emergency_edit == EmergencyEditPolicy::kNone) {
    return Status::PermissionDenied(
        "'" + path + "' is a tie-up page, and main's tie-up release " +
        std::to_string(mains.version) +
        " does not grant this site emergency edits: only the main site manager can grant the "
        "right, in the partnership ('tieup main partner add ... --emergency-edit keep' or "
        "'overwrite'); ask them to change the page, or to grant the right");
  }
  const FileEntry& main_entry = mains.files.at(path);
  PageEdit edit;
  edit.path = path;
  edit.area = Area::kTieup;
  edit.emergency_tieup_edit = true;
  edit.previous_version = edit.version = mains.version;
  const OverlayEntry* existing = nullptr;
  if (auto it = overlay_.entries.find(path);
      it != overlay_.entries.end() && InEffect(it->second, mains, nullptr)) {
    existing = &it->second;
  }
  // What is served there now.
  const FileEntry* served =
      existing ? (existing->entry ? &*existing->entry : nullptr) : &main_entry;
  edit.old_hash = served ? served->hash : "";

  OverlayRecord next = overlay_;
  OverlayChange change;
  change.by = std::string(by);
  change.path = path;
  change.old_hash = edit.old_hash;
  change.version = mains.version;
  if (bytes == nullptr) {
    if (served == nullptr) return edit;  // already removed
    OverlayEntry e{path,         std::nullopt, main_entry.hash, std::string(by), env_.NowSeconds(),
                   mains.version};
    next.entries[path] = std::move(e);
    change.action = "remove";
  } else {
    FileEntry entry;
    entry.length = bytes->size();
    entry.content_type = std::string(content_type);
    ASSIGN_OR_RETURN(entry.hash, blobs_.Put(*bytes));
    edit.new_hash = entry.hash;
    if (served != nullptr && served->hash == entry.hash &&
        served->content_type == entry.content_type) {
      return edit;  // unchanged
    }
    if (main_entry.hash == entry.hash && main_entry.content_type == entry.content_type) {
      // Main's own page back: the edit ends.
      next.entries.erase(path);
      change.action = "revert";
    } else {
      ASSIGN_OR_RETURN(entry.gzip, internal::MakeGzipVariant(blobs_, *bytes, content_type));
      next.entries[path] = OverlayEntry{
          path,         std::move(entry), main_entry.hash, std::string(by), env_.NowSeconds(),
          mains.version};
      change.action = "put";
    }
    change.new_hash = edit.new_hash;
  }
  AppendChange(next, std::move(change));
  RETURN_IF_ERROR(WriteOverlayLocked(std::move(next)));
  edit.changed = true;
  return edit;
}

}  // namespace tieup::content

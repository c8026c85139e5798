// ContentStore: the releases of a site's two areas under SITE_DIR/releases/<area>/ and the blobs
// they reference (SITE_DIR/blobs). A release is first STAGED (its metadata written durably beside
// the active one, every blob already present) and then ACTIVATED by one atomic pointer switch
// (releases/<area>/ACTIVE), so a reader or a crash sees the old release or the new one, never a
// mix.
//
// On disk:
//   releases/<area>/<version>.json   canonical ReleaseManifest bytes
//   releases/<area>/ACTIVE           "<version>\n": the active release of the area
//   releases/tieup/OVERLAY           the emergency edits (JSON; absent: none), see below. It
//                                    begins {"format":1,"next_seq":N, and N grows with every
//                                    change of what it serves: a process that watches the first
//                                    64 bytes (site/site_content.h) sees each change
//
// Emergency edits (DESIGN.md "Pages on a partner"). The partner manager may edit or remove a
// tie-up page only when main's ACTIVE tie-up release grants it (ReleaseManifest::emergency_edit,
// signed by main). Such an edit is never a release: it is an entry of the OVERLAY, a small record
// beside main's releases (written atomically, like every other file here), which the served view
// applies on top of main's active release (Served). Main's releases, their versions and the
// replay checks are untouched by it, so main's next version is staged and activated as usual.
// Which entries are in effect is a function of the entry and main's active release:
//   - the active release grants nothing (kNone): none (main has withdrawn the right);
//   - main's release no longer has the path: the entry is dropped (main removed the page);
//   - kKeep: the entry stays over every later version of main's page;
//   - kOverwrite: the entry stays while main's page is still the one the edit replaced (same
//     hash); a version of main that changes that page drops the edit of that page only.
// Every activation (an update or a rollback) drops the entries no longer in effect, and Open does
// the same after a crash between the pointer switch and that write. Each change of the overlay
// (an edit, a revert, a drop by an update) is also logged in the record with who, when and the
// old and new hashes, until the caller has told main (UnreportedOverlayChanges).
//
// Thread-safe: every method takes an internal lock (writers are serialized).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/blob_store.h"
#include "content/release.h"

namespace tieup::content {

// Where a partner's releases may put paths when it trades with several main sites
// (site/main_areas.h). Empty (the default, and always on a main site): anywhere.
struct TieupAreaRules {
  // Who publishes this store's tie-up area, for messages ("main at https://main-b.example:9443").
  std::string owner;
  // The prefixes further mains own (site/main_areas.h): no release of this store, tie-up or
  // original, may hold a path under one. (A further main's own store has none: its paths are
  // main's, served under its prefix with the prefix taken off.)
  struct Reserved {
    std::string prefix;
    std::string owner;
  };
  std::vector<Reserved> reserved;
  bool empty() const { return reserved.empty(); }
};

// Checks every path of `m` against `rules`: PermissionDenied naming the path, the main that
// publishes `m` (or the partner, for an original release) and the main whose area it is.
Status CheckTieupAreaRules(const TieupAreaRules& rules, const ReleaseManifest& m);

struct ContentStoreOptions {
  // Release metadata files kept per area by Prune (the active one is always kept too).
  size_t keep_releases = 5;
  // This site's id. When set, Stage refuses a release made for another site, and page edits
  // use it for an area's first release. Empty: not checked (page edits then need an existing
  // release to take the id from).
  std::string site_id;
  // Scan the blob store for files left by interrupted writes and remove them. Needed once per
  // process start; a process that reopens the store for every change (to see other processes'
  // activations) turns it off after the first open, since the scan lists every blob.
  bool recover_blob_leftovers = true;
};

// What a page edit (PutOriginalPage / RemoveOriginalPage) did; enough for the caller to record
// and, for an emergency edit of a tie-up page, report to main.
struct PageEdit {
  Area area = Area::kOriginal;  // the area of the page
  // True iff a tie-up page was edited (allow_tieup_edit): an overlay entry was written, no
  // release (`version` is then main's active tie-up version, unchanged).
  bool emergency_tieup_edit = false;
  bool changed = false;           // false when the page already had these bytes and type
  uint64_t previous_version = 0;  // the area's active version before (0: none)
  uint64_t version = 0;           // the area's active version after
  std::string path;
  std::string old_hash;  // empty when the page is new
  std::string new_hash;  // empty when the page was removed
};

// One emergency edit in effect: the partner's page (or its removal) over main's tie-up page.
struct OverlayEntry {
  std::string path;
  std::optional<FileEntry> entry;  // the partner's page; nullopt: the page is removed
  std::string main_hash;           // main's page the edit replaced (its FileEntry::hash)
  std::string by;                  // who edited it (as the caller named them)
  int64_t at = 0;                  // when (unix seconds)
  uint64_t main_version = 0;       // main's active tie-up version at the edit
  friend bool operator==(const OverlayEntry&, const OverlayEntry&) = default;
};

// One change of the overlay, as recorded for main.
struct OverlayChange {
  uint64_t seq = 0;    // 1, 2, ... in the order made; never reused
  int64_t at = 0;      // unix seconds
  std::string by;      // who; for "dropped": "update to version N" or "rollback to version N"
  std::string action;  // "put", "remove" (emergency edits), "revert" (the manager gave main's
                       // page back), "dropped" (main's release ended the edit)
  std::string path;
  std::string old_hash;  // what was served before ("" for a removed page)
  std::string new_hash;  // what is served after ("" for a removed page)
  uint64_t version = 0;  // main's active tie-up version after the change
  std::string reason;    // for "dropped": why, in a sentence
  friend bool operator==(const OverlayChange&, const OverlayChange&) = default;
};

// What Prune removed.
struct PruneStats {
  size_t releases_removed = 0;
  size_t blobs_removed = 0;
};

class ContentStore {
 public:
  using Options = ContentStoreOptions;

  // Opens (creating when missing) the store of `site_dir`. Recovers from a crash: removes
  // leftover temporary files; staged releases that were never activated are kept and harmless.
  // DataLoss when an ACTIVE pointer is unreadable or names metadata that is missing or corrupt.
  // `env` must outlive the store.
  static Result<std::unique_ptr<ContentStore>> Open(Env& env, std::string site_dir,
                                                    Options options = {});

  ContentStore(const ContentStore&) = delete;
  ContentStore& operator=(const ContentStore&) = delete;

  // The blob store (SITE_DIR/blobs): put a release's blobs here before staging it.
  BlobStore& blobs() { return blobs_; }
  // The paths this store's releases may hold (Stage, Activate and the page edits check them;
  // the receiver checks an offer against them before it fetches anything). Set right after
  // Open, before the store is shared; none by default.
  void SetAreaRules(TieupAreaRules rules) { area_rules_ = std::move(rules); }
  const TieupAreaRules& area_rules() const { return area_rules_; }
  const std::string& site_dir() const { return site_dir_; }

  // Writes the metadata of `manifest` durably as a staged release of its area. Refuses:
  // invalid metadata (InvalidArgument); another site's release (PermissionDenied); a version not
  // above the active one (FailedPrecondition, naming both); metadata whose `expires` is not after
  // env.NowSeconds() (FailedPrecondition); a path that is active in the other
  // area (AlreadyExists); a referenced blob that is absent (NotFound) or of another length
  // (DataLoss). Re-staging a version that is staged but not active replaces it. A write that
  // fails (a full disk) leaves no metadata file, whole or partial.
  Status Stage(const ReleaseManifest& manifest);

  // Makes the staged `version` the active release of `area`: re-checks it (metadata, blobs,
  // collisions with the other area), syncs, then switches the pointer with one atomic rename.
  // NotFound when not staged; FailedPrecondition for a version below the active one (use
  // Rollback) or, for a newer version, expired metadata. Activating the active version again is
  // OK.
  Status Activate(Area area, uint64_t version);

  // The active release of `area`; NotFound when it has none. For the tie-up area this is main's
  // release as signed, without the emergency edits (see Served).
  Result<std::shared_ptr<const ReleaseManifest>> Active(Area area) const;

  // What the site serves in `area`: the active release with the emergency edits in effect
  // applied (tie-up area; the same pointer as Active when there are none, and always for the
  // original area). Its version, times and grant are main's. NotFound when there is no release.
  Result<std::shared_ptr<const ReleaseManifest>> Served(Area area) const;

  // The emergency edits in effect, by path.
  std::vector<OverlayEntry> Overlay() const;

  // Gives main's page back at `path`: drops its emergency edit (logged as "revert"). Returns
  // false when `path` has none.
  Result<bool> RevertEmergencyEdit(std::string_view path, std::string_view by);

  // The changes of the overlay not yet marked reported, oldest first (the caller sends them to
  // main; at most the newest 1000 are kept).
  std::vector<OverlayChange> UnreportedOverlayChanges() const;
  // Marks every change up to `seq` as reported (main has recorded them): they are forgotten.
  Status MarkOverlayChangesReported(uint64_t seq);

  // The versions of `area` whose metadata is on disk (staged, active, or kept), ascending.
  Result<std::vector<uint64_t>> StagedVersions(Area area) const;

  // Reads the staged release `version` of `area` (for a diff or preview before approval).
  // NotFound when absent; DataLoss when corrupt.
  Result<ReleaseManifest> ReadStaged(Area area, uint64_t version) const;

  // Re-activates the newest kept release older than the active one for which `eligible` is
  // true (null: any; a caller passes "was live before", so that a release kept but never
  // activated, e.g. one its manager rejected, is not made live by a rollback); returns its
  // version. FailedPrecondition when there is no active release or no eligible older one.
  Result<uint64_t> Rollback(Area area, const std::function<bool(uint64_t)>& eligible = nullptr);

  // Keeps the newest `keep_releases` metadata files per area (and always the active one), then
  // removes every blob referenced by no kept release of any area. Blobs put since the previous
  // Prune are spared (a release being fetched). DataLoss, with nothing removed, when a kept
  // metadata file is corrupt.
  Result<PruneStats> Prune();

  // Cleans up after a release that failed to stage (a full disk, a refused blob): removes each
  // blob of `hashes` that no release of either area on disk (active, staged or kept) references.
  // Blobs are content-addressed and shared, so pass only what the failed attempt stored itself;
  // one another release uses is kept whatever the caller passes. Returns how many were removed.
  // A metadata file that cannot be read removes nothing (its error is returned: its blobs are
  // unknown).
  Result<size_t> RemoveUnreferencedBlobs(const std::vector<std::string>& hashes);

  // The partner manager's "page put": a new `original` release = the active one with `path` set
  // to `bytes`, staged and activated. A path of the active tie-up area is refused
  // (PermissionDenied: "... is a tie-up page managed by the main site; choose another path")
  // unless `allow_tieup_edit`; then it is an emergency edit: an overlay entry (see the file
  // comment), written only when main's active tie-up release grants the right (PermissionDenied
  // otherwise, saying that only the main site manager can grant it), logged with `by` for main.
  // Putting main's own bytes back drops the entry. Text types above 1 KiB get a gzip variant.
  Result<PageEdit> PutOriginalPage(std::string_view path, std::string_view bytes,
                                   std::string_view content_type, bool allow_tieup_edit = false,
                                   std::string_view by = "");

  // The manager's "page rm": as PutOriginalPage, removing `path`. NotFound when no area has it.
  // One page of a PutOriginalPages batch.
  struct PageWrite {
    std::string path;
    std::string bytes;
    std::string content_type;
  };
  // Puts every page of `pages` as ONE new `original` release (a reader sees all of them or
  // none). Tie-up paths are refused as in PutOriginalPage (no emergency edit in a batch); a
  // path given twice is InvalidArgument. `changed` is false, and nothing is written, when
  // every page already has these bytes and type. The PageEdit's path and hashes are empty.
  Result<PageEdit> PutOriginalPages(const std::vector<PageWrite>& pages);

  Result<PageEdit> RemoveOriginalPage(std::string_view path, bool allow_tieup_edit = false,
                                      std::string_view by = "");

 private:
  ContentStore(Env& env, std::string site_dir, Options options);

  std::string AreaDir(Area area) const;
  std::string MetadataPath(Area area, uint64_t version) const;
  std::string PointerPath(Area area) const;
  Status Recover();
  Result<std::vector<uint64_t>> VersionsLocked(Area area) const;
  Result<ReleaseManifest> ReadMetadataLocked(Area area, uint64_t version) const;
  Status CheckBlobsLocked(const ReleaseManifest& m);
  Status CheckCollisionsLocked(const ReleaseManifest& m) const;
  Status StageLocked(const ReleaseManifest& m);
  Status ActivateLocked(Area area, uint64_t version, bool allow_older);
  Result<PageEdit> EditLocked(std::string_view path, const std::string* bytes,
                              std::string_view content_type, bool allow_tieup_edit,
                              std::string_view by);
  Result<PageEdit> EmergencyEditLocked(const std::string& path, const std::string* bytes,
                                       std::string_view content_type, std::string_view by);

  // The overlay record (releases/tieup/OVERLAY), guarded by mu_.
  struct OverlayRecord {
    std::map<std::string, OverlayEntry> entries;
    std::vector<OverlayChange> changes;  // not yet reported, oldest first
    uint64_t next_seq = 1;
  };
  std::string OverlayPath() const;
  Status LoadOverlayLocked();
  // Writes `record` atomically and makes it the overlay; then recomputes the served release.
  Status WriteOverlayLocked(OverlayRecord record);
  // Drops the entries not in effect under the active tie-up release (each logged as "dropped"),
  // and writes the record when it changed.
  Status ResolveOverlayLocked();
  void RefreshServedLocked();
  void AppendChange(OverlayRecord& record, OverlayChange change) const;
  std::shared_ptr<const ReleaseManifest>& ActiveSlot(Area area) {
    return area == Area::kTieup ? active_tieup_ : active_original_;
  }
  const std::shared_ptr<const ReleaseManifest>& ActiveSlot(Area area) const {
    return area == Area::kTieup ? active_tieup_ : active_original_;
  }

  Env& env_;
  const std::string site_dir_;
  const Options options_;
  TieupAreaRules area_rules_;
  BlobStore blobs_;
  mutable std::mutex mu_;
  std::shared_ptr<const ReleaseManifest> active_tieup_;     // guarded by mu_
  std::shared_ptr<const ReleaseManifest> active_original_;  // guarded by mu_
  OverlayRecord overlay_;                                   // guarded by mu_
  // active_tieup_ with the overlay applied; the same pointer when it changes nothing.
  std::shared_ptr<const ReleaseManifest> served_tieup_;  // guarded by mu_
  // The release this store staged last, so that activating it need not parse the file it just
  // wrote, and how the file looked when written (size, modification time, inode; zeros when
  // the Env does not tell them: the file is then compared with the release's encoding).
  std::shared_ptr<const ReleaseManifest> last_staged_;  // guarded by mu_
  FileInfo last_staged_file_;                           // guarded by mu_
  // How the metadata file of `version` looks now (its directory's listing); nullopt if absent.
  std::optional<FileInfo> MetadataFileInfo(Area area, uint64_t version) const;
  // True when the metadata file of `version` is still the one this store staged last.
  bool StagedFileUnchangedLocked(Area area, uint64_t version) const;
};

}  // namespace tieup::content

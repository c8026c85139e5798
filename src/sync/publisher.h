// Publisher: main's updating unit (DESIGN.md "Remote updating"). It keeps the partnerships,
// renders and signs each partner's release, offers it at the scheduled times (or on "publish
// now"), commands activation after the partner manager's approval, retries failed or rejected
// updates under each partnership's policy, and records every attempt.
//
// Storage: the site's SQLite database (tables sync_*; schema component "sync"), and a BlobStore
// for the rendered files (the blobs partners fetch). A release's snapshot and build inputs are
// stored as chunked records (sync/chunk_store.h): a new release writes only the chunks that
// differ from its predecessor's, and partners with the same pages share them.
//
// Per-partner variations (kind `contents`): the release is BuildRelease(authoring dir, the
// partnership's overrides dir) with the variables partner.id, partner.name, partner.region and
// the partnership's own variables (which may override those). Equal rendered bytes are equal
// blobs, so pages that do not differ are stored and sent once.
// Kind `template`: only main's layouts, styles and scripts are inherited. The partner's content
// is its overrides dir (same layout as an authoring dir: pages/, assets/): the release holds
// main's /assets/** plus every page the overrides dir adds or replaces, rendered into main's
// layouts, so layout changes flow to the partner automatically; main's own pages are left out.
// Kind `link`: no copies of main's pages: every path of main's release becomes a link entry with
// link_url = main's public URL (PublisherOptions::public_url) + the path, except the machine
// files under /.tieup/ (the page shell, page templates: the partner's own pages and the link
// page wear main's layout) and the assets they name (sync/link_release.h). Every link entry of a
// partner's release (kind link, or a page whose front matter says `method: link`) carries the
// partnership's link mode (how the partner serves it: a redirect or a page with the link;
// content::LinkMode) and an empty body, since the partner never serves a link entry's body.
//
// A new version is built only when the rendered files differ from the previous release's (or
// when the previous release is past half of its validity, so that offered metadata never
// freezes); otherwise the previous release is re-used.
//
// Builds are incremental (content::BuildReleaseIncremental): each release is stored with the
// digests of what each path was built from, and the next build renders only the paths whose
// source, layouts or variables changed; one publish run reads each source file once for all
// partners. Offers carry a signed DELTA (content::ReleaseDelta: the changed entries, the hash
// of the base and of the result) from the release main last saw active at the partner, so
// metadata on the wire grows with the change, not with the site; the full metadata is signed
// and sent only for a first release, a partner main has no base for, or a partner that answers
// NotFound (it lacks the base). Main keeps the newest 10 releases per partner and the one the
// partner has active.
//
// Thread-safe. Operations on one partner are serialized; different partners run in parallel,
// at most `max_concurrency` at a time in PublishNow/RunDue.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/blob_store.h"
#include "content/builder.h"
#include "crypto/ed25519.h"
#include "store/database.h"
#include "sync/protocol.h"
#include "sync/retry.h"
#include "sync/schedule.h"

namespace tieup::sync {

// One partnership as main keeps it.
struct Partnership {
  std::string id;  // the partner's site id
  std::string name;
  std::string region;
  std::string public_url;  // the partner's public (browser) URL
  // The partner's sync URL (https://host:port). Empty: pull mode (main cannot reach the
  // partner; it polls LatestFor).
  std::string sync_url;
  PartnershipKind kind = PartnershipKind::kContents;
  ApprovalPolicy approval =
      ApprovalPolicy::kAuto;                     // main's requirement (the partner may be stricter)
  std::string schedule;                          // Schedule text; "" = only "publish now"
  std::string retry = "backoff:30s..1h";         // RetryPolicy text
  std::map<std::string, std::string> variables;  // extra template variables
  std::string overrides_dir;                     // per-partner override files; "" for none
  // May the partner manager edit tie-up pages, and what main's next update does to an edited
  // page (content/release.h). Carried in every release's signed metadata: only main grants it.
  content::EmergencyEditPolicy emergency_edit = content::EmergencyEditPolicy::kNone;
  // How the partner serves the link entries of its releases (a 302, 301 or 307 redirect to
  // main, or a page with the link). Written into each link entry of the signed metadata.
  content::LinkMode link_mode = content::LinkMode::kRedirect;
  bool revoked = false;
  // Suspended (SuspendPartnership): a temporary stop. No updates reach it (no scheduled run,
  // no "publish all", nothing new when it polls) until ResumePartnership; unlike a revoked one
  // it keeps its certificate and may still report and answer.
  bool suspended = false;
  int64_t suspended_since = 0;  // unix seconds; 0 unless suspended
  int64_t created = 0;          // unix seconds; set by AddPartnership
};

// A change to a partnership (Publisher::UpdatePartnership, `tieup main partner set`): only the
// fields that are set change. Texts are parsed as `tieup main partner add` parses them.
struct PartnershipChanges {
  std::optional<std::string> name;
  std::optional<std::string> region;
  std::optional<std::string> public_url;
  std::optional<std::string> sync_url;        // "" : pull mode
  std::optional<std::string> kind;            // contents | template | link
  std::optional<std::string> approval;        // auto | manager
  std::optional<std::string> schedule;        // Schedule text; "" : only "publish now"
  std::optional<std::string> retry;           // RetryPolicy text
  std::optional<std::string> overrides_dir;   // "" : none
  std::optional<std::string> emergency_edit;  // none | keep | overwrite
  std::optional<std::string> link_mode;       // redirect | redirect-301 | redirect-307 | page
  // Replaces every variable (a form that shows them all); then set_variables are set and
  // unset_variables removed (the command line's --var and --unset-var).
  std::optional<std::map<std::string, std::string>> variables;
  std::map<std::string, std::string> set_variables;
  std::vector<std::string> unset_variables;
};

// A field of PartnershipChanges that was refused: "schedule", "retry", "approval", "kind",
// "emergency_edit", "link_mode", "overrides", "variables", "name", "public_url" or "sync_url",
// and why.
struct PartnershipFieldError {
  std::string field;
  std::string message;
};

struct PublisherOptions {
  std::string authoring_dir;  // main's authoring directory (content/builder.h layout)
  // Main's public URL, for kind `link` ("https://shop.example": site.toml [site] public_url).
  // Empty: a release of kind link is refused (FailedPrecondition naming the setting).
  std::string public_url;
  std::string root_envelope;  // main's signed root metadata (canonical envelope JSON)
  int64_t release_validity_seconds = 7 * 86400;  // a release's `expires` = created + this
  size_t max_concurrency = 16;                   // partners handled at once
  // Main's template variables (site.name, site.id, [variables]), given to every partner's
  // build; a partner's own variables override them.
  std::map<std::string, std::string> site_variables;
  // Main's catalog as pages show it (content/builder.h, main_site/catalog_pages.h), read for
  // the builds of each run; empty: no catalog (a page naming products then fails to build).
  std::function<Result<std::shared_ptr<const content::PageProducts>>()> products;
};

// What one publish attempt for one partner did.
struct PublishOutcome {
  std::string partner;
  Status status;          // OK unless the attempt failed (the reason is also recorded)
  uint64_t version = 0;   // the partner's latest release
  std::string update_id;  // empty when nothing was offered
  // "activated", "pending_approval", "up_to_date", "awaiting_approval" (already pending),
  // "pull" (pull mode: the partner will poll), "failed", "already_active", "rejected" (the
  // partner's manager rejected this version; not offered again, see PublishNow), "suspended"
  // (nothing done: the partnership is suspended), "elsewhere" (nothing done here: another main
  // process sharing the PostgreSQL store is publishing this partner now, and records the outcome).
  std::string state;
};

// One step of one partner's publish, reported as it happens (PublishNow's `progress`): "queued"
// (for every partner of the run, before any starts), "building", "offering" (version known),
// "fetching" (after each batch of files main sent the partner for this offer; fetched_* count
// what was sent so far: an initial sync's progress), "staged" (the partner fetched the files it
// lacked and staged the version; fetched_* say what it fetched), and last, with `done`, the
// outcome's state (PublishOutcome::state). A partner that
// is up to date, pull-mode or failed skips the steps it never reached.
struct PublishProgress {
  std::string partner;
  std::string stage;
  bool done = false;           // the partner's last report: `stage` is its outcome's state
  uint64_t version = 0;        // the version built for it (0 before the build)
  std::string update_id;       // with "offering" and after: the update offered
  uint64_t fetched_blobs = 0;  // with "staged": the files the partner fetched
  uint64_t fetched_bytes = 0;  // and their bytes
  std::string reason;          // with "failed": why
};
// Receives PublishProgress reports. Called on PublishNow's worker threads, concurrently for
// different partners (in order for one partner); it must return quickly and must not call the
// publisher.
using PublishProgressFn = std::function<void(const PublishProgress&)>;

// One attempt as main records it (table sync_updates).
struct UpdateRecord {
  std::string update_id;  // "u<number>"
  std::string partner;
  uint64_t version = 0;
  std::string mode;  // "push" or "pull"
  // offered, pending_approval, approved, activated, rejected, failed, superseded
  std::string state;
  std::string reason;  // why it failed or was rejected
  int64_t offered = 0;
  int64_t finished = 0;  // 0 while open
  uint64_t fetched_blobs = 0;
  uint64_t fetched_bytes = 0;
};

// One line of `tieup main status`.
struct PartnerStatusReport {
  Partnership partnership;
  uint64_t active_version = 0;  // at the partner, as last reported (0: unknown / none)
  uint64_t latest_version = 0;  // newest release built for it (0: none yet)
  std::optional<UpdateRecord> last_update;
  // What the partner last reported it serves (EmergencyEditReport): the hash of main's release
  // it has active ("" : never reported) and the emergency edits in effect over it.
  std::string served_hash;
  std::vector<EmergencyEditState> emergency_edits;
  int failures = 0;          // consecutive failed or rejected attempts
  int64_t next_attempt = 0;  // unix seconds of the next retry or scheduled run; 0: none
  std::string summary;       // one sentence: "up to date at version 4", "version 5 waiting
                             // for the partner manager (update u9)", "failed: ...; retry at ...";
                             // never "up to date" while the partner serves emergency edits
                             // ("...; emergency-edited: /a.html (<time>)") or another release
};

// What a partner should be serving, as main knows it (Publisher::ServingOf): main's probes of
// the partner's public pages (main_site/page_probes.h) compare what they fetch with it.
struct PartnerServing {
  Partnership partnership;
  uint64_t active_version = 0;  // the release the partner reported active (0: none known)
  uint64_t latest_version = 0;  // the newest release built for it (0: none)
  // The emergency edits the partner reported in effect over `active_version` (their hash is
  // the page it serves instead of main's; "" : it removed main's page).
  std::vector<EmergencyEditState> emergency_edits;
};

class Publisher {
 public:
  // Migrates the schema and returns a publisher. `env`, `db`, `blobs` and `link` must outlive
  // it. `blobs` must never be pruned: entries of a partner's previous release are reused
  // without checking that their blobs are still there. InvalidArgument for bad options (no
  // authoring dir, an unparseable root envelope).
  static Result<std::unique_ptr<Publisher>> Open(Env& env, Database& db, content::BlobStore& blobs,
                                                 PartnerLink& link, Ed25519PrivateKey release_key,
                                                 PublisherOptions options);
  ~Publisher();

  // Adds a partnership (validating id, URLs, schedule, retry policy, variables). AlreadyExists
  // when the id is taken (even by a revoked one). The first scheduled run is the schedule's next
  // time after now.
  Status AddPartnership(const Partnership& partnership);
  // Marks it revoked: no more offers, blobs or responses. NotFound when unknown.
  Status RevokePartnership(const std::string& id);
  // Changes the partnership's settings as `changes` says, each checked by the parser `partner
  // add` uses, and records one "changed" event naming `by` and every change (before -> after).
  // Returns those changes in words ("schedule: (manual) -> '0 3 * * *'"); none when nothing
  // differs. A new schedule counts from now. The next publish uses the new settings: a change
  // of what the partner's release holds (name, region, variables, overrides, kind, emergency
  // edit grant) makes it build a new version when the release differs. InvalidArgument (or
  // NotFound for a missing overrides directory) naming every bad field, each also in `errors`
  // when given; nothing is changed then. NotFound for an unknown partnership,
  // FailedPrecondition for a revoked one.
  Result<std::vector<std::string>> UpdatePartnership(
      const std::string& id, const PartnershipChanges& changes, const std::string& by,
      std::vector<PartnershipFieldError>* errors = nullptr);
  // A temporary stop (Partnership::suspended), recorded with `by`: any update still open for
  // the partner is superseded. FailedPrecondition when revoked or already suspended; NotFound
  // when unknown.
  Status SuspendPartnership(const std::string& id, const std::string& by);
  // Ends a suspension: scheduled runs count from now again (nothing is sent at once).
  // FailedPrecondition when it is not suspended; NotFound when unknown.
  Status ResumePartnership(const std::string& id, const std::string& by);
  // Every partnership, sorted by id.
  Result<std::vector<Partnership>> ListPartnerships();
  Result<Partnership> GetPartnership(const std::string& id);

  // Renders the partner's release and signs a new version when it changed (see the file
  // comment). Returns the latest version. Errors from rendering name the file at fault.
  Result<uint64_t> BuildFor(const std::string& id);
  // What a build of `p`'s release is made from (all but version, created and expires): main's
  // authoring dir, the partnership's overrides dir, main's variables with the partner's
  // (partner.id, partner.name, partner.region, its own), the catalog, and for kind `template`
  // main's own pages left out. The builds use it, and so does the console's preview of a page
  // as the partner will see it. Errors from reading the catalog.
  Result<content::BuildOptions> BuildOptionsFor(const Partnership& p);

  // Who asks for a publish: the main manager (`tieup main publish`), or the daemon after a change
  // of its sources (the catalog). Only the manager's publish offers again, unchanged, a version
  // the partner's manager rejected.
  enum class Trigger { kManager, kAutomatic };

  // "Publish now": builds and offers to each of `ids` (all active partnerships when empty:
  // neither revoked nor suspended), at most max_concurrency at once. One outcome per partner, in
  // the order given (or by id); a suspended partner named in `ids` gets state "suspended" and
  // FailedPrecondition.
  // `cache` (optional) is shared with a build that just read the same sources (main's own).
  // A version the partner's manager rejected is offered again only when it changed, when the
  // trigger is the manager, or when the partnership's retry policy says so (`rejected=`);
  // otherwise its outcome is "rejected" (status OK) with the update that was rejected.
  // `progress` (optional) hears each partner's steps as they happen (PublishProgress).
  std::vector<PublishOutcome> PublishNow(const std::vector<std::string>& ids = {},
                                         content::SourceCache* cache = nullptr,
                                         Trigger trigger = Trigger::kManager,
                                         const PublishProgressFn& progress = {});

  // The scheduler tick: publishes every partnership whose scheduled time or retry time is at or
  // before `now` (unix seconds), and re-commands activations that failed. At the first tick and
  // after many releases were dropped, it also deletes the stored chunks no release names. The
  // daemon calls it periodically (e.g. every 10 s); tests call it with a fake clock. `cache`
  // as for PublishNow (a daemon passes the one it keeps, after SourceCache::NewRun).
  std::vector<PublishOutcome> RunDue(int64_t now, content::SourceCache* cache = nullptr);

  // Readies a publisher that just started for a fast first publish: reads the sources of the
  // authoring directory into `cache` (optional; the caller serializes it with the runs that use
  // it), and each active partner's newest release and build inputs from the database, with the
  // encodings and hashes the next build and offer need. A daemon runs it in the background after
  // it starts; publishing meanwhile is safe (partners are handled one at a time either way).
  Status Prepare(content::SourceCache* cache);

  // The catalog as pages show it (PublisherOptions::products; null without one).
  Result<std::shared_ptr<const content::PageProducts>> ReadProducts();

  // --- requests from partners (the caller has authenticated `partner_id` by mutual TLS) ---

  // The partner manager's response to `response.update_id`. Affirmative: commands activation
  // (PartnerLink::Activate), or, in pull mode, answers activate=true. Negative: marks the update
  // rejected with the reason; the same version is offered again only when the main manager
  // publishes again or after the retry policy's `rejected=` delay. NotFound for an unknown
  // update of this partner; FailedPrecondition when it is not waiting for approval.
  Result<UpdateResponseReply> HandleResponse(const std::string& partner_id,
                                             const UpdateResponse& response);
  // The bytes of blobs for `partner_id`, in order. PermissionDenied for a hash that no release
  // of this partner references (a partner only gets its own files) or a revoked partner.
  Result<std::vector<std::string>> ServeBlobs(const std::string& partner_id,
                                              const std::vector<std::string>& hashes);
  // Pull mode: the partner's latest release (built if none yet) as an offer with an update id.
  // `have_version`: the partner's active version; when main still holds it, the offer carries
  // the signed delta from it (0: the full metadata). When it is the latest version, the answer
  // names that version and the update that delivered it, with no release (nothing is
  // recorded); so does the answer to a suspended partner, naming `have_version`.
  Result<OfferRequest> LatestFor(const std::string& partner_id, uint64_t have_version = 0);
  // Records an event the partner reports; "activated", "pending", "refused" and "rollback"
  // with an update id or version also update main's view of that partner. "emergency-edit" is
  // refused (PermissionDenied): those come signed, through HandleEmergencyEdit.
  Status HandleReport(const std::string& partner_id, const EventReport& report);
  // Records an emergency edit the partner reports (the caller has verified the partner's
  // signature on it): an "emergency-edit" event, once per change (`seq` at or below the last
  // recorded is acknowledged without recording it again), and what the partner now serves (its
  // active version, release hash and edits in effect), shown by StatusReport. PermissionDenied
  // for a revoked partner, NotFound for an unknown one.
  Status HandleEmergencyEdit(const std::string& partner_id, const EmergencyEditReport& report);

  // What partner `id` should be serving now (PartnerServing). NotFound when unknown.
  Result<PartnerServing> ServingOf(const std::string& id);
  // The release `version` of partner `id` as main built it; NotFound when main no longer keeps
  // it (main keeps the newest 10 and the partner's active one), DataLoss when it does not read.
  Result<std::shared_ptr<const content::ReleaseManifest>> KeptRelease(const std::string& id,
                                                                      uint64_t version);

  // --- status ---
  Result<std::vector<PartnerStatusReport>> StatusReport();
  // Attempts for one partner, newest first.
  Result<std::vector<UpdateRecord>> Updates(const std::string& partner_id, size_t limit = 50);
  // The record (oldest first, the newest `limit`), of one partner or ("") all.
  Result<std::vector<SyncEvent>> Events(const std::string& partner_id = "", size_t limit = 200);

 private:
  struct PartnerState;
  // A partner's newest release as the last build left it (guarded by the partner's mutex).
  struct Latest {
    uint64_t version = 0;
    std::shared_ptr<const content::ReleaseManifest> manifest;  // null: read it from the database
    std::shared_ptr<const content::BuildInputs> inputs;
    bool chunks_stored = false;  // its snapshot and inputs are chunked records (all chunks stored)
    bool unreadable = false;     // the stored release did not read back (recorded once)
  };
  Latest& LatestSlot(const std::string& id);
  Publisher(Env& env, Database& db, content::BlobStore& blobs, PartnerLink& link,
            Ed25519PrivateKey release_key, PublisherOptions options);

  std::mutex& PartnerMutex(const std::string& id);
  Result<PartnerState> LoadState(const std::string& id);
  // The partner's newest release in memory, read from the database when it holds a newer one.
  Result<Latest*> LoadLatestLocked(const Partnership& p);
  Result<uint64_t> BuildLocked(const Partnership& p, int64_t now, content::SourceCache* cache);
  // The full signed metadata of a stored release (signed on first use).
  Result<std::string> FullEnvelopeLocked(const std::string& id, uint64_t version);
  // The signed delta from `base` to `version`; "" when either is not stored (or base is 0).
  Result<std::string> DeltaEnvelopeLocked(const std::string& id, uint64_t base, uint64_t version);
  PublishOutcome PublishLocked(const std::string& id, std::string_view why,
                               content::SourceCache* cache, const PublishProgressFn& progress);
  Result<uint64_t> CommandActivationLocked(const PartnerState& st, const UpdateRecord& u);
  Status RecordFailureLocked(const PartnerState& st, int64_t update_rowid, std::string_view state,
                             const std::string& reason, std::string_view kind);
  Result<std::optional<UpdateRecord>> LastUpdate(const std::string& id);
  Status Event(std::string_view partner, std::string_view update_id, uint64_t version,
               std::string_view kind, std::string_view message);
  // Deletes the stored chunks no release names any more (sync/chunk_store.h).
  Status SweepChunks();
  std::vector<PublishOutcome> RunParallel(const std::vector<std::string>& ids, std::string_view why,
                                          content::SourceCache* cache,
                                          const PublishProgressFn& progress = {});

  Env& env_;
  Database& db_;
  content::BlobStore& blobs_;
  PartnerLink& link_;
  const Ed25519PrivateKey release_key_;
  const PublisherOptions options_;
  std::mutex mutexes_mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> partner_mutexes_;  // guarded by mutexes_mu_
  std::map<std::string, std::unique_ptr<Latest>> latest_;               // guarded by mutexes_mu_
  // Offers waiting for the partner, by partner: ServeBlobs reports "fetching" to them.
  struct InFlight {
    PublishProgressFn progress;
    PublishProgress step;  // "fetching", with the counts so far
  };
  std::mutex in_flight_mu_;
  std::map<std::string, InFlight> in_flight_;  // guarded by in_flight_mu_
  std::atomic<int> dropped_since_sweep_{0};    // releases deleted since the last sweep
  std::atomic<bool> swept_{false};             // RunDue swept once
};

}  // namespace tieup::sync

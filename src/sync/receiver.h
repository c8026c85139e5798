// Receiver: the partner side of remote updating (DESIGN.md "Trust" and "Remote updating").
//
// An offer is checked BEFORE anything is fetched: the release envelope must verify against the
// pinned root key (forged or missing signature: kUnauthenticated), be for this partner
// (kPermissionDenied), have a version above the active tie-up release (older: kFailedPrecondition
// "rollback"; the active one: kAlreadyExists "replay"), and not be expired (kFailedPrecondition
// "frozen"). A version the manager rolled back from is refused too. Only then are the blobs the
// store lacks fetched, in batches; each is read up to its stated length only and checked against
// its hash (kDataLoss otherwise), then the release is staged beside the active one. An offer
// may carry a signed delta instead of the full metadata: it is applied to the base it names
// (the active or a staged release, whose ReleaseManifest::Hash() must be the delta's base hash)
// and the result's Hash() must be the signed result hash (kDataLoss otherwise); every check above
// then runs on the result. A base this site does not hold is answered with kNotFound (recorded,
// not a refusal): main then sends the full metadata. Policy auto: activated at once. Policy manager
// (the partner's, or main's requirement in the offer): recorded as pending with a diff summary
// until the manager approves or rejects; the response goes to main, which then commands activation
// (HandleActivate) or schedules a retry.
//
// Crash safety: blobs and staged releases are durable and activation is one atomic switch
// (content/content_store.h). A re-offer of a version that is staged but not active is handled
// again from the start (its blobs are already there), so an update interrupted at any step
// completes on the next offer. "Active" and "staged" are distinct: only the active version
// counts as a replay.
//
// Every offer, fetch, refusal, decision and activation is recorded in SQLite (sync_events) with
// a clear message; updates are in sync_received.
//
// Thread-safe. Offers are handled one at a time. No internal lock is held while calling main
// (so main may call HandleActivate while Approve waits for main's answer).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "content/release.h"
#include "crypto/ed25519.h"
#include "store/database.h"
#include "sync/protocol.h"

namespace tieup::sync {

struct ReceiverOptions {
  std::string site_id;           // this partner's id (releases must name it)
  Ed25519PublicKey pinned_root;  // main's root key, pinned at enrollment
  std::string root_envelope;     // main's root metadata from enrollment (canonical JSON);
                                 // an offer's root must be at least this version
  ApprovalPolicy approval = ApprovalPolicy::kAuto;
  uint64_t fetch_batch_bytes = 4 * 1024 * 1024;  // stated bytes per FetchBlobs call (at least
                                                 // one blob per call)
  size_t fetch_batch_count = 256;                // blobs per FetchBlobs call
};

// An update as the partner records it (table sync_received).
struct ReceivedUpdate {
  std::string update_id;
  uint64_t version = 0;
  // pending, approved, rejected, activated, superseded
  std::string state;
  int64_t received = 0;  // unix seconds
  int64_t decided = 0;   // 0 until approved or rejected
  std::string reason;    // the rejection reason
  uint64_t added = 0, changed = 0, removed = 0;
  uint64_t added_bytes = 0, changed_bytes = 0, removed_bytes = 0;
  // The paths (at most 1000 of each kind are kept).
  std::vector<std::string> added_paths, changed_paths, removed_paths;
  bool response_unsent = false;  // the manager decided but main has not been told yet
};

// What Poll did.
struct PollResult {
  std::string state;  // "up_to_date", "activated", "pending"
  uint64_t version = 0;
  std::string update_id;
  // Blobs of the active tie-up release that were missing and were fetched again (repaired), or
  // could not be (unrepaired, with the reason in repair_error).
  size_t repaired = 0;
  size_t unrepaired = 0;
  std::string repair_error;
};

// What an offer's fetch has done so far (Poll's `progress`): after the missing files were
// counted (done 0), then after each batch stored.
struct FetchProgress {
  std::string update_id;
  uint64_t version = 0;
  uint64_t files_total = 0, bytes_total = 0;  // what this site lacked
  uint64_t files_done = 0, bytes_done = 0;    // fetched, checked and stored so far
};
using FetchProgressFn = std::function<void(const FetchProgress&)>;

// A blob of the active tie-up release to fetch again from main (missing or damaged here).
struct BlobRepair {
  std::string path;  // the file that needs it (the body's or its gzip variant's blob)
  std::string hash;
  uint64_t length = 0;

  friend bool operator==(const BlobRepair&, const BlobRepair&) = default;
};

// What `store` serves in its tie-up area, as main is told (PartnerSyncStatus,
// EmergencyEditReport): main's active release (version, ReleaseManifest::Hash; 0 and "" when
// none) and the emergency edits in effect.
struct ServedTieup {
  uint64_t version = 0;
  std::string active_hash;
  std::vector<EmergencyEditState> overlay;
};
// `active_main`: the active release as main signed it (content::MainForm), when the caller has
// it; otherwise it is made from the active release.
ServedTieup DescribeServedTieup(const content::ContentStore& store,
                                const content::ReleaseManifest* active_main = nullptr);

class Receiver {
 public:
  // Migrates the schema; parses the root metadata from enrollment (InvalidArgument when it does
  // not verify against `pinned_root`). `env`, `db` and `main` must outlive the receiver.
  static Result<std::unique_ptr<Receiver>> Open(Env& env, Database& db, ContentMutator content,
                                                MainLink& main, ReceiverOptions options);

  // Handles main's offer (see the file comment). The refusal codes are listed there; kUnavailable
  // when main could not be reached to fetch blobs; kDataLoss for a blob whose hash or length is
  // not the stated one. Nothing is staged unless every check passed.
  Result<OfferReply> HandleOffer(const OfferRequest& offer);

  // Main's command to activate an approved update; returns the active version. Idempotent for
  // an update already activated. NotFound for an unknown update; FailedPrecondition unless the
  // manager approved it.
  Result<uint64_t> HandleActivate(const ActivateRequest& request);

  // This site's tie-up state for main, with what it serves (DescribeServedTieup).
  Result<PartnerSyncStatus> GetStatus();

  // Updates waiting for the manager, oldest first.
  Result<std::vector<ReceivedUpdate>> Pending();
  // Every recorded update, newest first.
  Result<std::vector<ReceivedUpdate>> Updates(size_t limit = 50);

  // The manager approves a pending update: recorded, then the affirmative response is sent to
  // main (which commands activation). If main cannot be reached the decision stays recorded and
  // kUnavailable is returned; ResendResponses sends it later.
  Status Approve(const std::string& update_id);
  // The manager rejects a pending update with a reason (required); the negative response is
  // sent to main as for Approve.
  Status Reject(const std::string& update_id, const std::string& reason);
  // Sends decisions main has not received yet. Call periodically.
  Status ResendResponses();

  // Re-activates the previous tie-up release; returns its version. The version rolled back
  // from is refused if offered again (main must publish a newer one). Main is told
  // (best effort).
  Result<uint64_t> Rollback();

  // Pull mode: asks main for the latest release and handles it like an offer (same checks).
  // When main cannot be reached the active release stays served and the error is returned.
  // With `repair_missing`, blobs of the active tie-up release that are missing first are
  // fetched again (FindMissingBlobs, RepairBlobs; see PollResult): an update only fetches what
  // differs from the active release, so it would never bring them back.
  // `progress` (optional) hears the fetch of a new release as it goes (FetchProgress), on the
  // calling thread.
  Result<PollResult> Poll(bool repair_missing = true, const FetchProgressFn& progress = {});

  // Fetches `blobs` again from main (the same endpoint as an offer's fetch, in batches), checks
  // each against its hash and stated length, and stores it atomically in place of the missing
  // or damaged copy; returns how many were stored. Blobs the active tie-up release does not
  // reference at `path` with that hash and length, and blobs that are intact now, are skipped.
  // Records a "repaired" event naming the files (and tells main), or a "failed" one with the
  // reason. kUnavailable when main cannot be reached, kPermissionDenied when main does not hold
  // the blob, kDataLoss when main's bytes are not the stated ones: the batch that failed is not
  // stored, and the caller tries again later. Serialized with offers.
  Result<size_t> RepairBlobs(const std::vector<BlobRepair>& blobs);

  // The blobs of the active tie-up release that are absent from the blob store or shorter than
  // stated (a stat per blob: the bytes are not read).
  Result<std::vector<BlobRepair>> FindMissingBlobs();

  // Records that a file cannot be served ("damaged" in this site's record). `message` names the
  // file, says why and what is done about it. (Main is told by the partner's signed security
  // events, partner_site/security_events.h.)
  void RecordDamage(const std::string& message);
  // The same for what the partner's WAF saw (guard/waf_events.h WafSummary in words): recorded
  // here as a "waf" event.
  void RecordWafSummary(const std::string& message);

  // The record (oldest first, the newest `limit`).
  Result<std::vector<SyncEvent>> Events(size_t limit = 200);

 private:
  Receiver(Env& env, Database& db, ContentMutator content, MainLink& main, ReceiverOptions options,
           int64_t root_version);

  Result<OfferReply> HandleOfferLocked(const OfferRequest& offer,
                                       const FetchProgressFn& progress = {});
  // The release a delta offer describes, from the base this site holds. NotFound (main then
  // sends the full metadata) when the base is not held or differs from main's.
  Result<content::ReleaseManifest> ApplyReleaseDelta(
      const std::shared_ptr<const content::ReleaseManifest>& active,
      const content::ReleaseDelta& delta);
  Result<uint64_t> ActivateLocked(const ActivateRequest& request, std::string_view by);
  Result<uint64_t> ActiveVersion();
  Result<ReceivedUpdate> LoadUpdate(const std::string& update_id);
  Status SendResponse(const ReceivedUpdate& u);
  Status Event(std::string_view update_id, uint64_t version, std::string_view kind,
               std::string_view message);
  Status Refuse(const OfferRequest& offer, uint64_t version, const Status& why);
  // Tells main about a fault or a repair (best effort; a failure is recorded).
  void TellMain(uint64_t version, std::string_view kind, const std::string& message);
  // `release` (an expanded release of this site) as main signed it: pages made from templates
  // are the templates again (content::MainForm). Kept for the newest release it was asked for
  // or staged, so each release is turned back once.
  std::shared_ptr<const content::ReleaseManifest> MainFormOf(
      const std::shared_ptr<const content::ReleaseManifest>& release);

  Env& env_;
  Database& db_;
  ContentMutator content_;
  MainLink& main_;
  const ReceiverOptions options_;
  const int64_t root_version_;
  std::mutex offer_mu_;  // serializes offers and polls
  std::mutex mu_;        // serializes update state changes
  std::mutex main_form_mu_;
  std::shared_ptr<const content::ReleaseManifest> main_form_;  // guarded by main_form_mu_
};

}  // namespace tieup::sync

// The main <-> partner update protocol (DESIGN.md "Remote updating"): the messages, their JSON
// form, and the two links each side talks through.
//
//   main (Publisher)                                  partner (Receiver)
//   PartnerLink::Offer(signed release)   ------->     HandleOffer: verify, diff,
//                                        <-------       MainLink::FetchBlobs (missing only),
//                                                       stage, activate (auto) or pending
//   Publisher::HandleResponse            <-------     Approve/Reject: MainLink::RespondToUpdate
//   PartnerLink::Activate                ------->     HandleActivate
//   Publisher::LatestFor (pull mode)     <-------     Poll: MainLink::LatestRelease
//   Publisher::HandleReport              <-------     MainLink::ReportEvent (refusals, pull
//                                                       results, rollbacks)
//
// The links are abstract so that the transport can be swapped: sync/http_api.h maps them to
// HTTPS requests under /v1/ (the integrator supplies the mutual-TLS client and server); tests
// connect the two sides in process.
//
// JSON parsing is strict: unknown, missing or mistyped fields are refused with a message naming
// the field. All functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tieup::content {
class ContentStore;
}

namespace tieup::sync {

// Runs `fn` on the site's content store, holding whatever lock the site needs (the integrator's
// implementation holds the site's cross-process lock and refreshes the served view afterwards).
// Returns fn's Status, or an error of its own when the store is unavailable.
using ContentMutator =
    std::function<Status(const std::function<Status(content::ContentStore&)>& fn)>;

// How much of main's site a partnership inherits (DESIGN.md "Pages on a partner").
enum class PartnershipKind { kContents, kTemplate, kLink };
std::string_view PartnershipKindName(PartnershipKind kind);  // "contents", "template", "link"
Result<PartnershipKind> ParsePartnershipKind(std::string_view name);

// Whether an update is activated at once or waits for the partner manager.
enum class ApprovalPolicy { kAuto, kManager };
std::string_view ApprovalPolicyName(ApprovalPolicy policy);  // "auto", "manager"
Result<ApprovalPolicy> ParseApprovalPolicy(std::string_view name);

// main -> partner: "here is your next release". The signed metadata rules; `version` is a copy
// for logs and must equal the signed version.
struct OfferRequest {
  std::string partner;    // the partner the release is for
  std::string update_id;  // main's id of this attempt ("u17"), echoed in every later message
  uint64_t version = 0;
  ApprovalPolicy approval = ApprovalPolicy::kAuto;  // main's requirement for this partnership
  std::string root;     // main's root metadata envelope (canonical JSON text)
  std::string release;  // the release envelope (canonical JSON text), payload = the manifest
  // Blobs main sends with a small update (hash -> bytes; at most kMaxOfferBlobBytes in all), so
  // that the partner need not call back to fetch them: the receiver takes those it lacks and
  // checks each against the signed metadata exactly as a fetched one. Encoded as "blobs":
  // [{"bytes":"<base64>","hash":"<hex>"}], absent when empty (a partner that predates the
  // field refuses it as unknown; main then offers again without).
  std::map<std::string, std::string> blobs;
};
inline constexpr uint64_t kMaxOfferBlobBytes = 256 * 1024;
inline constexpr size_t kMaxOfferBlobs = 64;

// What the partner did with an offer.
enum class OfferOutcome { kActivated, kPending };
std::string_view OfferOutcomeName(OfferOutcome outcome);  // "activated", "pending"

struct OfferReply {
  std::string update_id;
  OfferOutcome outcome = OfferOutcome::kActivated;
  uint64_t version = 0;         // the offered version
  uint64_t active_version = 0;  // the partner's active tie-up version after handling the offer
  uint64_t fetched_blobs = 0;   // blobs fetched for this offer
  uint64_t fetched_bytes = 0;
  uint64_t added = 0, changed = 0, removed = 0;  // the diff against the active release
};

// partner -> main: "please command activation" / "the manager refused".
struct UpdateResponse {
  std::string update_id;
  bool approved = false;
  std::string reason;  // required when not approved
};

// main's answer to an UpdateResponse. `activate` is true when main cannot reach the partner
// (pull mode): the partner then activates `version` itself on main's word.
struct UpdateResponseReply {
  bool activate = false;
  uint64_t version = 0;
};

// main -> partner: "activate the approved update".
struct ActivateRequest {
  std::string update_id;
  uint64_t version = 0;
};

// One emergency edit in effect at a partner (content::OverlayEntry as main sees it).
struct EmergencyEditState {
  std::string path;
  std::string hash;  // the partner's page ("" when the partner removed main's page)
  int64_t at = 0;    // when it was edited (unix seconds, the partner's clock)
  std::string by;    // who edited it
  friend bool operator==(const EmergencyEditState&, const EmergencyEditState&) = default;
};

// A partner's view of its tie-up area, as reported to main: what it actually serves is main's
// release `active_version` (whose ReleaseManifest::Hash() is `active_hash`) with `overlay` on top.
struct PartnerSyncStatus {
  std::string site;
  uint64_t active_version = 0;
  std::vector<uint64_t> staged_versions;     // on disk, ascending (includes the active one)
  std::vector<std::string> pending_updates;  // update ids waiting for the manager
  std::string active_hash;                   // "" when no release is active
  std::vector<EmergencyEditState> overlay;   // the emergency edits in effect, by path
};

// partner -> main, SIGNED (POST /v1/emergency-edits on main's sync port, see
// main_site/emergency_edits.h): one change of the partner's emergency edits
// (content::OverlayChange), sent at once and again from the partner's record until main has it,
// with what the partner serves when it is sent.
struct EmergencyEditReport {
  uint64_t seq = 0;    // the partner's change number: main records each once
  int64_t at = 0;      // when the change was made
  std::string by;      // who made it
  std::string action;  // "put", "remove", "revert", "dropped"
  std::string path;
  std::string old_hash;  // served before ("" : absent)
  std::string new_hash;  // served after ("" : absent)
  std::string reason;    // for "dropped"
  // What the partner serves now: main's release `version` (hash `active_hash`) and the edits in
  // effect.
  uint64_t version = 0;
  std::string active_hash;
  std::vector<EmergencyEditState> overlay;
};

// partner -> main: something main should record ("refused", "activated" in pull mode,
// "rollback"). Emergency edits are not reported this way: see EmergencyEditReport.
struct EventReport {
  std::string update_id;  // may be empty
  uint64_t version = 0;   // may be 0
  std::string kind;       // [a-z-]+, at most 32 characters
  std::string message;    // at most 4096 bytes
};

// One line of a site's sync record (both sides keep one in SQLite, table sync_events). Kinds:
// built, offered, fetched, staged, pending, approved, rejected, interrupted, activated, failed,
// refused, rollback, reported, revoked.
struct SyncEvent {
  int64_t id = 0;
  int64_t time = 0;       // unix seconds
  std::string partner;    // main: the partner concerned; partner: its own id
  std::string update_id;  // may be empty
  uint64_t version = 0;   // may be 0
  std::string kind;
  std::string message;  // a clear sentence: what happened and, for a failure, why
};

// JSON forms (canonical: sorted keys, no whitespace). Parse* are strict.
std::string EncodeOfferRequest(const OfferRequest& m);
Result<OfferRequest> ParseOfferRequest(std::string_view json);
std::string EncodeOfferReply(const OfferReply& m);
Result<OfferReply> ParseOfferReply(std::string_view json);
std::string EncodeUpdateResponse(const UpdateResponse& m);
Result<UpdateResponse> ParseUpdateResponse(std::string_view json);
std::string EncodeUpdateResponseReply(const UpdateResponseReply& m);
Result<UpdateResponseReply> ParseUpdateResponseReply(std::string_view json);
std::string EncodeActivateRequest(const ActivateRequest& m);
Result<ActivateRequest> ParseActivateRequest(std::string_view json);
std::string EncodePartnerSyncStatus(const PartnerSyncStatus& m);
Result<PartnerSyncStatus> ParsePartnerSyncStatus(std::string_view json);
std::string EncodeEventReport(const EventReport& m);
Result<EventReport> ParseEventReport(std::string_view json);
std::string EncodeEmergencyEditReport(const EmergencyEditReport& m);
Result<EmergencyEditReport> ParseEmergencyEditReport(std::string_view json);
// {"hashes":["<hex>",...]}: at most kMaxBlobsPerRequest valid hashes.
std::string EncodeBlobRequest(const std::vector<std::string>& hashes);
Result<std::vector<std::string>> ParseBlobRequest(std::string_view json);

// The blob batch body: for each blob, its length as 8 bytes big-endian, then its bytes.
std::string EncodeBlobBatch(const std::vector<std::string>& blobs);
// Splits a batch body into `expected_count` blobs; InvalidArgument when the framing is broken.
Result<std::vector<std::string>> ParseBlobBatch(std::string_view body, size_t expected_count);

inline constexpr size_t kMaxBlobsPerRequest = 1024;

// main, as seen by one partner.
class MainLink {
 public:
  virtual ~MainLink() = default;
  // The bytes of the blobs named by `hashes`, in the same order, in ONE round trip. Main may
  // send more bytes than the metadata states (a fault or an attack): the caller uses at most
  // the stated length of each and verifies its hash. kPermissionDenied when main refuses a
  // hash not in this partner's releases; kUnavailable when main cannot be reached. Called from
  // two threads at once: an offer's fetch keeps the next batch in flight while it stores one.
  virtual Result<std::vector<std::string>> FetchBlobs(const std::vector<std::string>& hashes) = 0;
  // Pull mode: main's latest signed release for this partner. kNotFound when none is built.
  // `have_version` is the partner's active tie-up version: main may answer with a signed delta
  // from it (0: always the full metadata).
  virtual Result<OfferRequest> LatestRelease(uint64_t have_version) = 0;
  // The manager's affirmative or negative response to an update.
  virtual Result<UpdateResponseReply> RespondToUpdate(const UpdateResponse& response) = 0;
  // Records an event at main.
  virtual Status ReportEvent(const EventReport& event) = 0;
};

// One partner, as seen by main. Implementations for different partners are independent; one
// implementation may be called from several threads for different partners.
class PartnerLink {
 public:
  virtual ~PartnerLink() = default;
  // Sends an offer to `partner_id`. The partner's refusal comes back as its Status (code and
  // message kept): kUnauthenticated, kPermissionDenied, kFailedPrecondition, kAlreadyExists
  // (that version is already active), kDataLoss; kUnavailable when it cannot be reached.
  virtual Result<OfferReply> Offer(const std::string& partner_id, const OfferRequest& offer) = 0;
  // Commands activation of an approved update; returns the partner's active version after.
  virtual Result<uint64_t> Activate(const std::string& partner_id,
                                    const ActivateRequest& request) = 0;
  // The partner's current state.
  virtual Result<PartnerSyncStatus> GetStatus(const std::string& partner_id) = 0;
};

}  // namespace tieup::sync

// Checking a partner's ledger from main's side (or anyone's): signed checkpoints that only ever
// grow consistently, and entries that hash to the checkpointed roots.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"

namespace tieup::ledger {

// Main's copy of what it knows about one partner log: the last accepted checkpoint, and the
// leaf hashes of the entries it has verified so far (a prefix of the log).
//
// Every refusal leaves the mirror unchanged and says why: a bad signature, another log's
// checkpoint, a smaller size (truncation), the same size with another root (rewrite or fork),
// or growth without a valid consistency proof. Not thread-safe: one owner.
class LogMirror {
 public:
  // Checkpoints must be signed by `verifier` and name `origin`.
  LogMirror(NoteVerifier verifier, std::string origin);

  // Accepts `note` when it is validly signed and consistent with the last accepted checkpoint,
  // as proven by `consistency_proof` (from the old size to the new). The first checkpoint (or
  // one of size 0) needs no proof. Re-sending the current checkpoint is accepted (a no-op).
  Status AcceptCheckpoint(std::string_view note, std::span<const Hash> consistency_proof);
  // The same with a proof in raw bytes from the network (each element must be 32 bytes).
  Status AcceptCheckpoint(std::string_view note, std::span<const std::string> consistency_proof);

  // Checks entries [begin, begin + entries.size()) against `checkpoint` (usually checkpoint()):
  // `begin` must equal verified_size() (entries are verified in order, without gaps) and the
  // entries must end exactly at checkpoint.size; the root recomputed from the verified prefix
  // plus these entries must equal the checkpoint's root. On success the entries become part of
  // the verified prefix.
  Status VerifyEntries(uint64_t begin, std::span<const std::string> entries,
                       const Checkpoint& checkpoint);

  // Checks that `entry` is entry `index` of the log of the last accepted checkpoint, using
  // `proof` from the partner (no need to hold the entries).
  Status VerifyInclusion(uint64_t index, std::string_view entry, std::span<const Hash> proof) const;

  // The last accepted checkpoint and its note; nullopt / empty before the first.
  const std::optional<Checkpoint>& checkpoint() const { return checkpoint_; }
  const std::string& note() const { return note_; }
  // Number of entries whose leaf hashes VerifyEntries has checked.
  uint64_t verified_size() const { return verified_.size(); }
  const std::string& origin() const { return origin_; }

 private:
  NoteVerifier verifier_;
  std::string origin_;
  std::optional<Checkpoint> checkpoint_;
  std::string note_;
  MerkleTree verified_;
};

// What VerifyLog found in a stored log that checks out.
struct LogVerification {
  uint64_t entries = 0;              // durable entries in the log
  uint64_t checkpoints = 0;          // stored checkpoints, all verified
  std::optional<Checkpoint> latest;  // the largest stored checkpoint
};

// Opens the log in `dir` read-only (changing nothing) and checks: every record's checksum;
// every stored checkpoint's signature by `verifier` and origin `origin`; that no checkpoint
// names more entries than the log holds (truncation); that each checkpoint's root equals the
// root recomputed from the stored entries (alteration, deletion, reordering); and that
// successive checkpoints are consistent. The first failure is returned: Unauthenticated for a
// checkpoint whose signature does not verify, DataLoss for everything wrong with the stored
// data (checksums, truncation, roots that do not match the entries).
Result<LogVerification> VerifyLog(Env& env, const std::string& dir, const NoteVerifier& verifier,
                                  std::string_view origin);

}  // namespace tieup::ledger

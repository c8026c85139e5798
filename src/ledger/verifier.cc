#include "ledger/verifier.h"

#include "ledger/log.h"

namespace tieup::ledger {

LogMirror::LogMirror(NoteVerifier verifier, std::string origin)
    : verifier_(std::move(verifier)), origin_(std::move(origin)) {}

Status LogMirror::AcceptCheckpoint(std::string_view note, std::span<const Hash> consistency_proof) {
  auto opened = OpenCheckpoint(note, verifier_, origin_);
  if (!opened.ok()) {
    return opened.status().Annotate("refusing a checkpoint of log '" + origin_ + "'");
  }
  const Checkpoint& c = *opened;
  const std::string log = "log '" + origin_ + "': ";

  // Whatever the proof says, a checkpoint must agree with the entries already verified.
  if (c.size <= verified_.size()) {
    auto root = verified_.Root(c.size);
    if (!root.ok() || *root != c.root) {
      return Status::Unauthenticated(log + "the checkpoint of size " + std::to_string(c.size) +
                                     " does not match the " + std::to_string(verified_.size()) +
                                     " entries already verified: the log was rewritten");
    }
  }

  if (checkpoint_.has_value()) {
    const Checkpoint& old = *checkpoint_;
    if (c.size < old.size) {
      return Status::Unauthenticated(log + "the checkpoint of size " + std::to_string(c.size) +
                                     " is smaller than the accepted size " +
                                     std::to_string(old.size) +
                                     ": the log was truncated; refusing it");
    }
    if (c.size == old.size) {
      if (c.root != old.root) {
        return Status::Unauthenticated(
            log + "two checkpoints of size " + std::to_string(c.size) +
            " with different roots: the log was rewritten or forked; keep both notes as "
            "evidence");
      }
      if (!consistency_proof.empty()) {
        return Status::InvalidArgument(log + "a checkpoint of the same size needs no proof, got " +
                                       std::to_string(consistency_proof.size()) + " hashes");
      }
    } else if (old.size == 0) {
      if (!consistency_proof.empty()) {
        return Status::InvalidArgument(log + "growth from the empty log needs no proof, got " +
                                       std::to_string(consistency_proof.size()) + " hashes");
      }
    } else {
      Status s = VerifyConsistency(old.size, c.size, old.root, c.root, consistency_proof);
      if (!s.ok()) {
        return s.Annotate(log + "growth from size " + std::to_string(old.size) + " to " +
                          std::to_string(c.size) + " is not proven consistent");
      }
    }
  }
  checkpoint_ = c;
  note_ = std::string(note);
  return Status::Ok();
}

Status LogMirror::AcceptCheckpoint(std::string_view note,
                                   std::span<const std::string> consistency_proof) {
  std::vector<Hash> proof;
  proof.reserve(consistency_proof.size());
  for (size_t i = 0; i < consistency_proof.size(); ++i) {
    auto h = HashFromBytes(consistency_proof[i], "consistency proof hash " + std::to_string(i));
    if (!h.ok()) return h.status().Annotate("refusing a checkpoint of log '" + origin_ + "'");
    proof.push_back(*h);
  }
  return AcceptCheckpoint(note, proof);
}

Status LogMirror::VerifyEntries(uint64_t begin, std::span<const std::string> entries,
                                const Checkpoint& checkpoint) {
  const std::string log = "log '" + origin_ + "': ";
  if (checkpoint.origin != origin_) {
    return Status::InvalidArgument(log + "cannot verify entries against a checkpoint of '" +
                                   checkpoint.origin + "'");
  }
  if (begin != verified_.size()) {
    return Status::InvalidArgument(log + "entries must continue the verified prefix at " +
                                   std::to_string(verified_.size()) + ", got entries from " +
                                   std::to_string(begin));
  }
  uint64_t end = begin + entries.size();
  if (end != checkpoint.size) {
    return Status::InvalidArgument(log + "entries [" + std::to_string(begin) + ", " +
                                   std::to_string(end) + ") do not end at the checkpoint's size " +
                                   std::to_string(checkpoint.size));
  }
  verified_.Reserve(end);
  for (const std::string& e : entries) verified_.AppendEntry(e);
  if (verified_.Root() != checkpoint.root) {
    verified_.Truncate(begin);
    return Status::Unauthenticated(
        log + "entries [" + std::to_string(begin) + ", " + std::to_string(end) +
        ") do not hash to the checkpoint's root: an entry was altered, removed, added or "
        "reordered");
  }
  return Status::Ok();
}

Status LogMirror::VerifyInclusion(uint64_t index, std::string_view entry,
                                  std::span<const Hash> proof) const {
  if (!checkpoint_.has_value()) {
    return Status::FailedPrecondition("log '" + origin_ +
                                      "': no checkpoint accepted yet to check inclusion against");
  }
  return ledger::VerifyInclusion(index, checkpoint_->size, HashLeaf(entry), proof,
                                 checkpoint_->root)
      .Annotate("log '" + origin_ + "': entry " + std::to_string(index));
}

Result<LogVerification> VerifyLog(Env& env, const std::string& dir, const NoteVerifier& verifier,
                                  std::string_view origin) {
  LogOpenOptions options;
  options.read_only = true;
  ASSIGN_OR_RETURN(std::unique_ptr<Log> log, Log::Open(env, dir, options));
  ASSIGN_OR_RETURN(std::vector<std::string> notes, log->StoredCheckpoints());
  LogVerification out;
  out.entries = log->size();
  for (size_t i = 0; i < notes.size(); ++i) {
    const std::string where = "ledger '" + dir + "', stored checkpoint " + std::to_string(i + 1) +
                              " of " + std::to_string(notes.size());
    auto opened = OpenCheckpoint(notes[i], verifier, origin);
    if (!opened.ok()) return opened.status().Annotate(where);
    const Checkpoint& c = *opened;
    if (c.size > out.entries) {
      return Status::DataLoss(where + ": it commits to " + std::to_string(c.size) +
                              " entries but the log holds only " + std::to_string(out.entries) +
                              ": the log was truncated");
    }
    if (out.latest.has_value()) {
      if (c.size < out.latest->size) {
        return Status::DataLoss(where + ": its size " + std::to_string(c.size) +
                                " is below the previous checkpoint's " +
                                std::to_string(out.latest->size) +
                                ": checkpoints were tampered with");
      }
      if (c.size == out.latest->size && c.root != out.latest->root) {
        return Status::DataLoss(where + ": two checkpoints of size " + std::to_string(c.size) +
                                " with different roots: the log was rewritten or forked");
      }
    }
    ASSIGN_OR_RETURN(Hash root, log->Root(c.size));
    if (root != c.root) {
      return Status::DataLoss(where + ": the first " + std::to_string(c.size) +
                              " stored entries do not hash to its root: entries were altered, "
                              "deleted, added or reordered");
    }
    // Both roots are recomputed from the same stored entries, so successive checkpoints that
    // pass are consistent with each other by construction.
    out.latest = c;
    ++out.checkpoints;
  }
  return out;
}

}  // namespace tieup::ledger

#include "ledger/verifier.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ledger/log.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using ::tieup::testing::TempDir;

constexpr std::string_view kVerifierOrigin = "example.com/shop-b/access";

std::string VerifierEntry(uint64_t i) { return "access " + std::to_string(i); }

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest()
      : signer_(*NoteSigner::Create(std::string(kVerifierOrigin),
                                    *Ed25519PrivateKey::FromSeed(std::string(32, 'p')))),
        verifier_(*NoteVerifier::Create(std::string(kVerifierOrigin), signer_.public_key())) {}

  // Writes a log in `dir` with `entries`, signing a checkpoint after each size in `at`.
  std::vector<std::string> WriteLog(const std::string& dir, const std::vector<std::string>& entries,
                                    const std::vector<uint64_t>& at) {
    auto log = Log::Open(*env_, dir);
    EXPECT_THAT(log, IsOk());
    std::vector<std::string> notes;
    for (size_t i = 0; i < entries.size(); ++i) {
      EXPECT_THAT((*log)->Append(entries[i]), IsOk());
      if (std::find(at.begin(), at.end(), i + 1) != at.end()) {
        auto note = (*log)->SignCheckpoint(signer_);
        EXPECT_THAT(note, IsOk());
        notes.push_back(note.value_or(""));
      }
    }
    return notes;
  }
  static std::vector<std::string> Entries(uint64_t n) {
    std::vector<std::string> out;
    for (uint64_t i = 0; i < n; ++i) out.push_back(VerifierEntry(i));
    return out;
  }
  // Replaces the entries of the log in `dir` with `entries`, keeping its checkpoints: what an
  // attacker with write access who rewrites records (with valid checksums) would produce.
  void RewriteEntries(const std::string& dir, const std::vector<std::string>& entries) {
    std::string other = tmp_.Sub("rewritten-" + std::to_string(rewrites_++));
    WriteLog(other, entries, {});
    auto files = *env_->ListDir(other);
    for (const FileInfo& f : files) {
      if (f.is_dir) continue;
      ASSERT_THAT(
          WriteFileAtomic(*env_, JoinPath(dir, f.name), *env_->ReadFile(JoinPath(other, f.name))),
          IsOk());
    }
  }

  TempDir tmp_;
  std::unique_ptr<Env> env_ = NewPosixEnv();
  NoteSigner signer_;
  NoteVerifier verifier_;
  int rewrites_ = 0;
};

// --- LogMirror ---

TEST_F(VerifierTest, MirrorFollowsAGrowingLog) {
  std::string dir = tmp_.Sub("log");
  std::vector<std::string> notes = WriteLog(dir, Entries(100), {10, 10, 37, 64, 100});
  auto log = *Log::Open(*env_, dir);
  LogMirror mirror(verifier_, std::string(kVerifierOrigin));
  EXPECT_FALSE(mirror.checkpoint().has_value());
  ASSERT_THAT(mirror.AcceptCheckpoint(notes[0], std::span<const Hash>()), IsOk());
  uint64_t prev = 10;
  for (size_t i = 1; i < notes.size(); ++i) {
    Checkpoint c = *OpenCheckpoint(notes[i], verifier_);
    auto proof = *log->ConsistencyProof(prev, c.size);
    ASSERT_THAT(mirror.AcceptCheckpoint(notes[i], proof), IsOk()) << c.size;
    EXPECT_EQ(mirror.checkpoint()->size, c.size);
    EXPECT_EQ(mirror.note(), notes[i]);
    prev = c.size;
  }
  // Entries verified in two steps against checkpoints.
  LogMirror entries_mirror(verifier_, std::string(kVerifierOrigin));
  Checkpoint c37 = *OpenCheckpoint(notes[1], verifier_);
  Checkpoint c100 = *OpenCheckpoint(notes[3], verifier_);
  std::vector<std::string> all = Entries(100);
  ASSERT_THAT(entries_mirror.VerifyEntries(0, std::span(all).subspan(0, 37), c37), IsOk());
  ASSERT_THAT(entries_mirror.VerifyEntries(37, std::span(all).subspan(37), c100), IsOk());
  EXPECT_EQ(entries_mirror.verified_size(), 100u);
  // Inclusion of one entry against the accepted checkpoint.
  auto proof = *log->InclusionProof(55, 100);
  EXPECT_THAT(mirror.VerifyInclusion(55, VerifierEntry(55), proof), IsOk());
  EXPECT_THAT(mirror.VerifyInclusion(55, "access 56", proof),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(VerifierTest, MirrorAcceptsProofsAsBytes) {
  std::string dir = tmp_.Sub("log");
  std::vector<std::string> notes = WriteLog(dir, Entries(20), {5, 20});
  auto log = *Log::Open(*env_, dir);
  LogMirror mirror(verifier_, std::string(kVerifierOrigin));
  ASSERT_THAT(mirror.AcceptCheckpoint(notes[0], std::span<const Hash>()), IsOk());
  std::vector<std::string> proof;
  std::vector<Hash> hashes = *log->ConsistencyProof(5, 20);
  for (const Hash& h : hashes) proof.push_back(HashToBytes(h));
  std::vector<std::string> bad = proof;
  bad[0].pop_back();
  EXPECT_THAT(mirror.AcceptCheckpoint(notes[1], bad),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("31 bytes")));
  EXPECT_THAT(mirror.AcceptCheckpoint(notes[1], proof), IsOk());
}

TEST_F(VerifierTest, MirrorRefusesTruncation) {
  std::string dir = tmp_.Sub("log");
  std::vector<std::string> notes = WriteLog(dir, Entries(20), {10, 20});
  LogMirror mirror(verifier_, std::string(kVerifierOrigin));
  auto log = *Log::Open(*env_, dir);
  ASSERT_THAT(mirror.AcceptCheckpoint(notes[0], std::span<const Hash>()), IsOk());
  ASSERT_THAT(mirror.AcceptCheckpoint(notes[1], *log->ConsistencyProof(10, 20)), IsOk());
  EXPECT_THAT(mirror.AcceptCheckpoint(notes[0], std::span<const Hash>()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("truncated")));
  EXPECT_EQ(mirror.checkpoint()->size, 20u);
}

TEST_F(VerifierTest, MirrorRefusesTwoRootsForOneSize) {
  std::vector<std::string> a = Entries(10);
  std::vector<std::string> b = a;
  b[3] = "rewritten";
  std::string note_a = WriteLog(tmp_.Sub("a"), a, {10})[0];
  std::string note_b = WriteLog(tmp_.Sub("b"), b, {10})[0];
  LogMirror mirror(verifier_, std::string(kVerifierOrigin));
  ASSERT_THAT(mirror.AcceptCheckpoint(note_a, std::span<const Hash>()), IsOk());
  // The same checkpoint again is fine.
  EXPECT_THAT(mirror.AcceptCheckpoint(note_a, std::span<const Hash>()), IsOk());
  EXPECT_THAT(mirror.AcceptCheckpoint(note_b, std::span<const Hash>()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("rewritten or forked")));
  EXPECT_EQ(mirror.note(), note_a);
}

TEST_F(VerifierTest, MirrorRefusesGrowthThatRewritesHistory) {
  // Log b has the same first 10 entries except one, then grows: no valid proof links them.
  std::vector<std::string> a = Entries(10);
  std::vector<std::string> b = Entries(30);
  b[4] = "rewritten";
  std::string note_a = WriteLog(tmp_.Sub("a"), a, {10})[0];
  std::string note_b = WriteLog(tmp_.Sub("b"), b, {30})[0];
  auto log_b = *Log::Open(*env_, tmp_.Sub("b"));
  LogMirror mirror(verifier_, std::string(kVerifierOrigin));
  ASSERT_THAT(mirror.AcceptCheckpoint(note_a, std::span<const Hash>()), IsOk());
  EXPECT_THAT(mirror.AcceptCheckpoint(note_b, *log_b->ConsistencyProof(10, 30)),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not proven consistent")));
  // Unproven growth (no proof at all).
  EXPECT_THAT(mirror.AcceptCheckpoint(note_b, std::span<const Hash>()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_EQ(mirror.checkpoint()->size, 10u);
}

TEST_F(VerifierTest, MirrorRefusesBadSignatureAndOtherLogs) {
  std::string note = WriteLog(tmp_.Sub("log"), Entries(5), {5})[0];
  LogMirror other_origin(verifier_, "example.com/other");
  EXPECT_THAT(other_origin.AcceptCheckpoint(note, std::span<const Hash>()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not 'example.com/other'")));
  auto stranger =
      *NoteVerifier::Create(std::string(kVerifierOrigin),
                            (*Ed25519PrivateKey::FromSeed(std::string(32, 'q'))).public_key());
  LogMirror wrong_key(stranger, std::string(kVerifierOrigin));
  EXPECT_THAT(wrong_key.AcceptCheckpoint(note, std::span<const Hash>()),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(VerifierTest, VerifyEntriesDetectsTampering) {
  std::vector<std::string> entries = Entries(20);
  std::string note = WriteLog(tmp_.Sub("log"), entries, {20})[0];
  Checkpoint c = *OpenCheckpoint(note, verifier_);
  struct Case {
    std::string name;
    std::vector<std::string> entries;
    StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    auto v = entries;
    v[7][2] ^= 0x01;
    cases.push_back({"flipped byte", v, StatusCode::kUnauthenticated, "do not hash"});
  }
  {
    auto v = entries;
    std::swap(v[3], v[4]);
    cases.push_back({"swapped", v, StatusCode::kUnauthenticated, "do not hash"});
  }
  {
    auto v = entries;
    v.erase(v.begin() + 5);
    v.push_back("padding to keep the size");
    cases.push_back({"deleted and padded", v, StatusCode::kUnauthenticated, "do not hash"});
  }
  {
    auto v = entries;
    v.pop_back();
    cases.push_back({"truncated", v, StatusCode::kInvalidArgument, "do not end at"});
  }
  for (const Case& tc : cases) {
    LogMirror mirror(verifier_, std::string(kVerifierOrigin));
    EXPECT_THAT(mirror.VerifyEntries(0, tc.entries, c), StatusIs(tc.code, HasSubstr(tc.message)))
        << tc.name;
    EXPECT_EQ(mirror.verified_size(), 0u) << "a failed verification leaves nothing behind";
  }
  LogMirror mirror(verifier_, std::string(kVerifierOrigin));
  EXPECT_THAT(mirror.VerifyEntries(0, entries, c), IsOk());
  EXPECT_THAT(mirror.VerifyEntries(5, entries, c),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("continue the verified prefix")));
}

TEST_F(VerifierTest, MirrorRefusesCheckpointContradictingVerifiedEntries) {
  std::vector<std::string> a = Entries(10);
  std::vector<std::string> b = a;
  b[9] = "other";
  std::string note_a = WriteLog(tmp_.Sub("a"), a, {10})[0];
  std::string note_b = WriteLog(tmp_.Sub("b"), b, {10})[0];
  LogMirror mirror(verifier_, std::string(kVerifierOrigin));
  ASSERT_THAT(mirror.VerifyEntries(0, a, *OpenCheckpoint(note_a, verifier_)), IsOk());
  EXPECT_THAT(mirror.AcceptCheckpoint(note_b, std::span<const Hash>()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("already verified")));
}

// --- VerifyLog over stored logs ---

TEST_F(VerifierTest, VerifyLogAcceptsAnIntactLog) {
  std::string dir = tmp_.Sub("log");
  WriteLog(dir, Entries(50), {1, 20, 50});
  auto v = VerifyLog(*env_, dir, verifier_, kVerifierOrigin);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->entries, 50u);
  EXPECT_EQ(v->checkpoints, 3u);
  ASSERT_TRUE(v->latest.has_value());
  EXPECT_EQ(v->latest->size, 50u);
}

TEST_F(VerifierTest, VerifyLogDetectsRewrittenRecords) {
  std::string dir = tmp_.Sub("log");
  WriteLog(dir, Entries(50), {20, 50});
  auto altered = Entries(50);
  altered[30] = "access 30 (altered)";
  RewriteEntries(dir, altered);
  EXPECT_THAT(VerifyLog(*env_, dir, verifier_, kVerifierOrigin),
              StatusIs(StatusCode::kDataLoss, HasSubstr("do not hash to its root")));
}

TEST_F(VerifierTest, VerifyLogDetectsDeletedRecord) {
  std::string dir = tmp_.Sub("log");
  WriteLog(dir, Entries(50), {50});
  auto v = Entries(50);
  v.erase(v.begin() + 10);
  v.push_back("filler");  // same size, so only the root gives it away
  RewriteEntries(dir, v);
  EXPECT_THAT(VerifyLog(*env_, dir, verifier_, kVerifierOrigin),
              StatusIs(StatusCode::kDataLoss, HasSubstr("do not hash to its root")));
}

TEST_F(VerifierTest, VerifyLogDetectsSwappedRecords) {
  std::string dir = tmp_.Sub("log");
  WriteLog(dir, Entries(50), {50});
  auto v = Entries(50);
  std::swap(v[11], v[12]);
  RewriteEntries(dir, v);
  EXPECT_THAT(VerifyLog(*env_, dir, verifier_, kVerifierOrigin),
              StatusIs(StatusCode::kDataLoss, HasSubstr("reordered")));
}

TEST_F(VerifierTest, VerifyLogDetectsTruncation) {
  std::string dir = tmp_.Sub("log");
  WriteLog(dir, Entries(50), {20, 50});
  RewriteEntries(dir, Entries(40));
  EXPECT_THAT(VerifyLog(*env_, dir, verifier_, kVerifierOrigin),
              StatusIs(StatusCode::kDataLoss, HasSubstr("the log was truncated")));
}

TEST_F(VerifierTest, VerifyLogDetectsFlippedByteWithoutFixingTheChecksum) {
  std::string dir = tmp_.Sub("log");
  WriteLog(dir, Entries(50), {50});
  std::string seg = JoinPath(dir, "entries-00000000000000000000.log");
  std::string data = *env_->ReadFile(seg);
  data[data.size() / 2] ^= 0x04;
  ASSERT_THAT(WriteFileAtomic(*env_, seg, data), IsOk());
  EXPECT_THAT(VerifyLog(*env_, dir, verifier_, kVerifierOrigin),
              StatusIs(StatusCode::kDataLoss, HasSubstr("entry")));
}

TEST_F(VerifierTest, VerifyLogDetectsTwoCheckpointsForOneSizeAndForgedNotes) {
  std::string dir = tmp_.Sub("log");
  WriteLog(dir, Entries(10), {10});
  std::string other = tmp_.Sub("other");
  auto v = Entries(10);
  v[0] = "different";
  std::string forked = WriteLog(other, v, {10})[0];
  // Plant the fork's checkpoint (validly signed, same size) beside the real one.
  ASSERT_THAT(
      WriteFileAtomic(*env_, JoinPath(dir, "checkpoints/00000000000000000009.note"), forked),
      IsOk());
  EXPECT_THAT(VerifyLog(*env_, dir, verifier_, kVerifierOrigin), StatusIs(StatusCode::kDataLoss));
  // A forged (unsigned) checkpoint.
  std::string dir2 = tmp_.Sub("log2");
  WriteLog(dir2, Entries(10), {10});
  std::string path = JoinPath(dir2, "checkpoints/00000000000000000010.note");
  std::string note = *env_->ReadFile(path);
  note.replace(note.find("\n10\n"), 4, "\n11\n");
  ASSERT_THAT(WriteFileAtomic(*env_, path, note), IsOk());
  EXPECT_THAT(VerifyLog(*env_, dir2, verifier_, kVerifierOrigin),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
}

TEST_F(VerifierTest, VerifyLogOfMissingDirectoryIsNotFound) {
  EXPECT_THAT(VerifyLog(*env_, tmp_.Sub("nothing"), verifier_, kVerifierOrigin),
              StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace tieup::ledger

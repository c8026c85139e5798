#include "ledger/merkle.h"

// The one-shot SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, but EVP costs
// about 300 ns of dispatch per digest, three times the hashing of a 65-byte node with SHA-NI;
// the Merkle tree hashes millions of small inputs, so it uses the direct functions.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <bit>
#include <cstdlib>
#include <cstring>

#include "crypto/hash.h"
#include "ledger/merkle_paths.h"

namespace tieup::ledger {
namespace {

Hash Digest(uint8_t prefix, const void* a, size_t a_len, const void* b, size_t b_len) {
  SHA256_CTX ctx;
  Hash out;
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, &prefix, 1) != 1 ||
      (a_len > 0 && SHA256_Update(&ctx, a, a_len) != 1) ||
      (b_len > 0 && SHA256_Update(&ctx, b, b_len) != 1) || SHA256_Final(out.data(), &ctx) != 1) {
    std::abort();  // cannot fail short of memory corruption
  }
  return out;
}

std::string Describe(std::string_view what, uint64_t index) {
  return std::string(what) + " " + std::to_string(index);
}

}  // namespace

std::string_view HashView(const Hash& hash) {
  return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

std::string HashToBytes(const Hash& hash) { return std::string(HashView(hash)); }

Result<Hash> HashFromBytes(std::string_view raw, std::string_view what) {
  if (raw.size() != kHashSize) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(raw.size()) +
                                   " bytes long; a SHA-256 hash is 32 bytes");
  }
  Hash out;
  std::memcpy(out.data(), raw.data(), kHashSize);
  return out;
}

Hash HashLeaf(std::string_view entry) { return Digest(0x00, entry.data(), entry.size(), "", 0); }

Hash HashChildren(const Hash& left, const Hash& right) {
  return Digest(0x01, left.data(), left.size(), right.data(), right.size());
}

Hash EmptyRoot() {
  static const Hash empty = [] {
    Hash h;
    std::string digest = Sha256("");
    std::memcpy(h.data(), digest.data(), kHashSize);
    return h;
  }();
  return empty;
}

Hash RootFromLeafHashes(std::span<const Hash> leaf_hashes) {
  MerkleFrontier frontier;
  for (const Hash& leaf : leaf_hashes) frontier.AppendLeafHash(leaf);
  return frontier.Root();
}

Hash RootFromEntries(std::span<const std::string> entries) {
  std::vector<Hash> leaves;
  leaves.reserve(entries.size());
  for (const std::string& e : entries) leaves.push_back(HashLeaf(e));
  return RootFromLeafHashes(leaves);
}

// --- MerkleTree ---

// --- MerkleFrontier ---

void MerkleFrontier::AppendLeafHash(const Hash& leaf_hash) {
  // The subtrees mirror the binary form of the size: a new leaf merges with the equal-sized
  // subtrees at the end, one per trailing one bit of the old size.
  Hash h = leaf_hash;
  for (uint64_t c = size_; (c & 1) == 1; c >>= 1) {
    h = HashChildren(subtrees_.back(), h);
    subtrees_.pop_back();
  }
  subtrees_.push_back(h);
  ++size_;
}

Result<MerkleFrontier> MerkleFrontier::FromSubtrees(uint64_t size, std::vector<Hash> subtrees) {
  if (static_cast<size_t>(std::popcount(size)) != subtrees.size()) {
    return Status::InvalidArgument(
        "a tree of " + std::to_string(size) + " leaves has " + std::to_string(std::popcount(size)) +
        " complete subtrees along its right edge, not " + std::to_string(subtrees.size()));
  }
  MerkleFrontier f;
  f.size_ = size;
  f.subtrees_ = std::move(subtrees);
  return f;
}

Hash MerkleFrontier::Root() const {
  if (subtrees_.empty()) return EmptyRoot();
  Hash root = subtrees_.back();
  for (size_t i = subtrees_.size() - 1; i-- > 0;) root = HashChildren(subtrees_[i], root);
  return root;
}

void MerkleTree::AppendLeafHash(const Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  // Every time a level gets an even number of hashes, the last two make a complete parent.
  for (size_t k = 0; levels_[k].size() % 2 == 0; ++k) {
    if (levels_.size() == k + 1) levels_.emplace_back();
    const auto& level = levels_[k];
    Hash parent = HashChildren(level[level.size() - 2], level[level.size() - 1]);
    levels_[k + 1].push_back(parent);
  }
}

void MerkleTree::Reserve(uint64_t leaves) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].reserve(leaves);
  if (levels_.size() < 2) levels_.emplace_back();
  levels_[1].reserve(leaves / 2);
}

void MerkleTree::Truncate(uint64_t new_size) {
  if (new_size >= size()) return;
  for (size_t k = 0; k < levels_.size(); ++k) levels_[k].resize(new_size >> k);
}

Result<Hash> MerkleTree::Node(unsigned level, uint64_t index) const {
  return levels_[level][index];
}

MerkleFrontier MerkleTree::Frontier() const {
  std::vector<Hash> subtrees;
  const uint64_t n = size();
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((n & width) == 0) continue;
    subtrees.push_back(levels_[level][begin >> level]);
    begin += width;
  }
  return *MerkleFrontier::FromSubtrees(n, std::move(subtrees));
}

Result<Hash> MerkleTree::LeafHash(uint64_t index) const {
  if (index >= size()) return internal::LeafOutOfRange(index, size());
  return levels_[0][index];
}

Hash MerkleTree::Root() const {
  auto root = Root(size());
  return *root;  // in memory: no source error, and size() is in range
}

Result<Hash> MerkleTree::Root(uint64_t tree_size) const {
  return internal::RootOf([this](unsigned l, uint64_t i) { return Node(l, i); }, size(), tree_size);
}

Result<std::vector<Hash>> MerkleTree::InclusionProof(uint64_t index, uint64_t tree_size) const {
  return internal::InclusionProofOf([this](unsigned l, uint64_t i) { return Node(l, i); }, size(),
                                    index, tree_size);
}

Result<std::vector<Hash>> MerkleTree::ConsistencyProof(uint64_t old_size, uint64_t new_size) const {
  return internal::ConsistencyProofOf([this](unsigned l, uint64_t i) { return Node(l, i); }, size(),
                                      old_size, new_size);
}

// --- verification ---

Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                       std::span<const Hash> proof, const Hash& root) {
  if (index >= size) {
    return Status::InvalidArgument("inclusion proof for leaf " + std::to_string(index) +
                                   " in a tree of " + std::to_string(size) +
                                   " leaves: the index is beyond the size");
  }
  // RFC 9162 section 2.1.3.2.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (size_t i = 0; i < proof.size(); ++i) {
    if (sn == 0) {
      return Status::InvalidArgument("inclusion proof for leaf " + std::to_string(index) +
                                     " in a tree of " + std::to_string(size) +
                                     " leaves is too long: " + std::to_string(proof.size()) +
                                     " hashes, only " + std::to_string(i) + " needed");
    }
    if ((fn & 1) == 1 || fn == sn) {
      r = HashChildren(proof[i], r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = HashChildren(r, proof[i]);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Status::InvalidArgument(
        "inclusion proof for leaf " + std::to_string(index) + " in a tree of " +
        std::to_string(size) + " leaves is too short: " + std::to_string(proof.size()) + " hashes");
  }
  if (r != root) {
    return Status::Unauthenticated("inclusion proof for leaf " + std::to_string(index) +
                                   " in a tree of " + std::to_string(size) +
                                   " leaves does not lead to the expected root: the entry, the "
                                   "proof or the root is not what the log committed to");
  }
  return Status::Ok();
}

Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                       std::span<const std::string> proof, std::string_view root) {
  ASSIGN_OR_RETURN(Hash leaf, HashFromBytes(leaf_hash, "the leaf hash"));
  ASSIGN_OR_RETURN(Hash want_root, HashFromBytes(root, "the root hash"));
  std::vector<Hash> path;
  path.reserve(proof.size());
  for (size_t i = 0; i < proof.size(); ++i) {
    ASSIGN_OR_RETURN(Hash h, HashFromBytes(proof[i], Describe("inclusion proof hash", i)));
    path.push_back(h);
  }
  return VerifyInclusion(index, size, leaf, path, want_root);
}

namespace {

// The checks every consistency verification starts with; sets `done` when they settle it.
Status ConsistencyPreamble(uint64_t old_size, uint64_t new_size, bool roots_equal,
                           size_t proof_size, bool& done) {
  done = true;
  if (old_size > new_size) {
    return Status::InvalidArgument("consistency from size " + std::to_string(old_size) +
                                   " to the smaller size " + std::to_string(new_size) +
                                   ": a log never shrinks (truncation)");
  }
  if (old_size == 0) {
    return Status::InvalidArgument(
        "consistency from the empty tree proves nothing: accept the first checkpoint on its "
        "signature alone");
  }
  if (old_size == new_size) {
    if (proof_size != 0) {
      return Status::InvalidArgument("consistency between equal sizes (" +
                                     std::to_string(old_size) + ") needs an empty proof, got " +
                                     std::to_string(proof_size) + " hashes");
    }
    if (!roots_equal) {
      return Status::Unauthenticated("two different roots for the same size " +
                                     std::to_string(old_size) +
                                     ": the log was rewritten or forked");
    }
    return Status::Ok();
  }
  if (proof_size == 0) {
    return Status::InvalidArgument("consistency from size " + std::to_string(old_size) + " to " +
                                   std::to_string(new_size) + " needs a proof, got an empty one");
  }
  done = false;
  return Status::Ok();
}

}  // namespace

Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                         const Hash& new_root, std::span<const Hash> proof) {
  bool done = false;
  RETURN_IF_ERROR(
      ConsistencyPreamble(old_size, new_size, old_root == new_root, proof.size(), done));
  if (done) return Status::Ok();

  auto describe = [&] {
    return "consistency proof from size " + std::to_string(old_size) + " to " +
           std::to_string(new_size);
  };
  // RFC 9162 section 2.1.4.2. When old_size is a power of two, the old root is itself the first
  // node of the path.
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());

  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    if (sn == 0) {
      return Status::InvalidArgument(describe() + " is too long: " + std::to_string(proof.size()) +
                                     " hashes");
    }
    const Hash& c = path[i];
    if ((fn & 1) == 1 || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Status::InvalidArgument(describe() + " is too short: " + std::to_string(proof.size()) +
                                   " hashes");
  }
  if (fr != old_root) {
    return Status::Unauthenticated(
        describe() + " does not match the old root: the log's history before size " +
        std::to_string(old_size) + " was rewritten, or the proof is bad");
  }
  if (sr != new_root) {
    return Status::Unauthenticated(describe() +
                                   " does not match the new root: the new tree does not extend "
                                   "the old one, or the proof is bad");
  }
  return Status::Ok();
}

Status VerifyConsistency(uint64_t old_size, uint64_t new_size, std::string_view old_root,
                         std::string_view new_root, std::span<const std::string> proof) {
  // Settle the cases that need no hashing first: there the roots are only compared, whatever
  // their form.
  bool done = false;
  RETURN_IF_ERROR(
      ConsistencyPreamble(old_size, new_size, old_root == new_root, proof.size(), done));
  if (done) return Status::Ok();
  ASSIGN_OR_RETURN(Hash old_hash, HashFromBytes(old_root, "the old root"));
  ASSIGN_OR_RETURN(Hash new_hash, HashFromBytes(new_root, "the new root"));
  std::vector<Hash> path;
  path.reserve(proof.size());
  for (size_t i = 0; i < proof.size(); ++i) {
    ASSIGN_OR_RETURN(Hash h, HashFromBytes(proof[i], Describe("consistency proof hash", i)));
    path.push_back(h);
  }
  return VerifyConsistency(old_size, new_size, old_hash, new_hash, path);
}

}  // namespace tieup::ledger

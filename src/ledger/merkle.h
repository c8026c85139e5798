// Merkle trees over the ledger's entries, as in Certificate Transparency (RFC 6962 section 2,
// with the proof verification algorithms of RFC 9162 section 2.1).
//
// Leaf hash = SHA-256(0x00 || entry); node hash = SHA-256(0x01 || left || right); the tree of n
// leaves splits at the largest power of two smaller than n. The root of the empty tree is
// SHA-256 of the empty string.
//
// Verification functions take untrusted input (sizes, hashes and proofs from a partner or from
// disk) and answer with a Status whose message says what did not check out; they never assert.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tieup::ledger {

inline constexpr size_t kHashSize = 32;

// A SHA-256 digest: a leaf, node or root hash.
using Hash = std::array<uint8_t, kHashSize>;

// The 32 raw bytes of `hash`, as a view (valid while `hash` lives) or a copy.
std::string_view HashView(const Hash& hash);
std::string HashToBytes(const Hash& hash);
// Fails with InvalidArgument unless `raw` is exactly 32 bytes; `what` names it in the message.
Result<Hash> HashFromBytes(std::string_view raw, std::string_view what = "hash");

// RFC 6962 leaf hash of one entry: SHA-256(0x00 || entry). Thread-safe.
Hash HashLeaf(std::string_view entry);
// RFC 6962 interior node hash: SHA-256(0x01 || left || right). Thread-safe.
Hash HashChildren(const Hash& left, const Hash& right);
// The root of the tree with no leaves: SHA-256("").
Hash EmptyRoot();

// MTH (RFC 6962 section 2.1) of a tree whose leaf hashes are `leaf_hashes`. O(n) hashing,
// O(log n) memory.
Hash RootFromLeafHashes(std::span<const Hash> leaf_hashes);
// MTH of the tree whose leaves are `entries`.
Hash RootFromEntries(std::span<const std::string> entries);

// The right edge of a Merkle tree (a "compact range"): one hash per complete subtree along it,
// largest first, as many as bits set in the size. O(log n) memory, enough to append leaves and
// compute the current root; a copy is cheap (how a caller tries a batch before keeping it).
class MerkleFrontier {
 public:
  MerkleFrontier() = default;
  // The frontier of a tree of `size` leaves from the hashes of its complete subtrees along the
  // right edge, largest first: one per bit set in `size` (InvalidArgument otherwise).
  static Result<MerkleFrontier> FromSubtrees(uint64_t size, std::vector<Hash> subtrees);

  void AppendLeafHash(const Hash& leaf_hash);
  void AppendEntry(std::string_view entry) { AppendLeafHash(HashLeaf(entry)); }

  // Number of leaves.
  uint64_t size() const { return size_; }
  // MTH of the leaves appended so far.
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> subtrees_;  // complete subtrees, largest (leftmost) first
};

// An append-only in-memory Merkle tree that keeps every complete subtree hash (about 64 bytes
// per leaf), so roots and proofs for any earlier size take O(log n) hash operations.
// Not thread-safe: the owner serializes access (ledger::Log does so with its mutex).
class MerkleTree {
 public:
  MerkleTree() = default;

  // Adds one leaf whose RFC 6962 leaf hash is `leaf_hash`.
  void AppendLeafHash(const Hash& leaf_hash);
  // Adds one leaf: the entry's bytes.
  void AppendEntry(std::string_view entry) { AppendLeafHash(HashLeaf(entry)); }
  // Reserves memory for `leaves` leaves in total.
  void Reserve(uint64_t leaves);

  // Drops every leaf from `size` on (used to undo a failed verification); no-op when
  // size >= size().
  void Truncate(uint64_t size);

  // The right edge of the current tree.
  MerkleFrontier Frontier() const;

  // Number of leaves.
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  // The leaf hash at `index`; OutOfRange when index >= size().
  Result<Hash> LeafHash(uint64_t index) const;

  // The root of the current tree.
  Hash Root() const;
  // The root of the tree made of the first `size` leaves; OutOfRange when size > size().
  Result<Hash> Root(uint64_t size) const;

  // The audit path (RFC 6962 section 2.1.1) of leaf `index` in the tree of the first `size`
  // leaves, leaf side first. OutOfRange unless index < size <= size().
  Result<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size) const;
  // The consistency proof (RFC 6962 section 2.1.2) between the trees of the first `old_size`
  // and `new_size` leaves. Empty when old_size is 0 or equals new_size (nothing to prove).
  // OutOfRange unless old_size <= new_size <= size().
  Result<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;

 private:
  Result<Hash> Node(unsigned level, uint64_t index) const;

  // levels_[k][i] is the hash of the complete subtree of 2^k leaves starting at leaf i * 2^k.
  std::vector<std::vector<Hash>> levels_;
};

// Checks that `proof` proves the leaf with hash `leaf_hash` at `index` is in the tree of `size`
// leaves whose root is `root` (RFC 9162 section 2.1.3.2). Every argument is untrusted: hashes
// of the wrong length, an index beyond the size, a proof too long or too short, and a computed
// root that differs are refused with InvalidArgument (malformed) or Unauthenticated (well
// formed, but does not prove inclusion).
Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                       std::span<const std::string> proof, std::string_view root);
Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                       std::span<const Hash> proof, const Hash& root);

// Checks that `proof` proves the tree of `old_size` leaves with root `old_root` is a prefix of
// the tree of `new_size` leaves with root `new_root` (RFC 9162 section 2.1.4.2). Refused:
// old_size > new_size (truncation); old_size == 0 (a proof from the empty tree proves nothing:
// callers accept the first checkpoint on its signature alone); equal sizes with different
// roots (a fork) or with a non-empty proof; hashes of the wrong length; a proof too long, too
// short or not matching either root. With equal sizes the roots are compared byte for byte.
Status VerifyConsistency(uint64_t old_size, uint64_t new_size, std::string_view old_root,
                         std::string_view new_root, std::span<const std::string> proof);
Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                         const Hash& new_root, std::span<const Hash> proof);

}  // namespace tieup::ledger

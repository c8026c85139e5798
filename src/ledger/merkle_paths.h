// Private to the ledger module: RFC 6962 roots and proofs computed from a source of complete
// subtree hashes, shared by the in-memory MerkleTree and the on-disk TiledMerkleTree.
//
// `node(level, index)` returns Result<Hash>: the hash of the complete subtree of 2^level leaves
// that starts at leaf index * 2^level. Callers check the sizes first; the functions only
// recurse and propagate a source's error (a tile that cannot be read, say).
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "ledger/merkle.h"

namespace tieup::ledger::internal {

// Largest power of two strictly smaller than n (n >= 2).
inline uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// MTH of leaves [begin, end), 0 < end - begin.
template <typename NodeFn>
Result<Hash> SubtreeHash(const NodeFn& node, uint64_t begin, uint64_t end) {
  const uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    const unsigned level = static_cast<unsigned>(std::countr_zero(n));
    return node(level, begin >> level);
  }
  const uint64_t k = SplitPoint(n);
  ASSIGN_OR_RETURN(Hash left, SubtreeHash(node, begin, begin + k));
  ASSIGN_OR_RETURN(Hash right, SubtreeHash(node, begin + k, end));
  return HashChildren(left, right);
}

// The audit path of leaf `index` within [begin, end), leaf side first (RFC 6962 2.1.1).
template <typename NodeFn>
Status AppendPath(const NodeFn& node, uint64_t index, uint64_t begin, uint64_t end,
                  std::vector<Hash>& proof) {
  const uint64_t n = end - begin;
  if (n == 1) return Status::Ok();
  const uint64_t k = SplitPoint(n);
  if (index < begin + k) {
    RETURN_IF_ERROR(AppendPath(node, index, begin, begin + k, proof));
    ASSIGN_OR_RETURN(Hash right, SubtreeHash(node, begin + k, end));
    proof.push_back(right);
  } else {
    RETURN_IF_ERROR(AppendPath(node, index, begin + k, end, proof));
    ASSIGN_OR_RETURN(Hash left, SubtreeHash(node, begin, begin + k));
    proof.push_back(left);
  }
  return Status::Ok();
}

// SUBPROOF of RFC 6962 2.1.2 for the first `old_size` leaves of [begin, end).
template <typename NodeFn>
Status AppendSubProof(const NodeFn& node, uint64_t old_size, uint64_t begin, uint64_t end,
                      bool whole, std::vector<Hash>& proof) {
  const uint64_t n = end - begin;
  if (old_size == n) {
    if (!whole) {
      ASSIGN_OR_RETURN(Hash h, SubtreeHash(node, begin, end));
      proof.push_back(h);
    }
    return Status::Ok();
  }
  const uint64_t k = SplitPoint(n);
  if (old_size <= k) {
    RETURN_IF_ERROR(AppendSubProof(node, old_size, begin, begin + k, whole, proof));
    ASSIGN_OR_RETURN(Hash right, SubtreeHash(node, begin + k, end));
    proof.push_back(right);
  } else {
    RETURN_IF_ERROR(AppendSubProof(node, old_size - k, begin + k, end, false, proof));
    ASSIGN_OR_RETURN(Hash left, SubtreeHash(node, begin, begin + k));
    proof.push_back(left);
  }
  return Status::Ok();
}

// The checks and proofs both trees answer the same way; `size` is the tree's leaf count.
template <typename NodeFn>
Result<Hash> RootOf(const NodeFn& node, uint64_t size, uint64_t tree_size) {
  if (tree_size > size) {
    return Status::OutOfRange("no root for size " + std::to_string(tree_size) + ": the tree has " +
                              std::to_string(size) + " leaves");
  }
  if (tree_size == 0) return EmptyRoot();
  return SubtreeHash(node, 0, tree_size);
}

template <typename NodeFn>
Result<std::vector<Hash>> InclusionProofOf(const NodeFn& node, uint64_t size, uint64_t index,
                                           uint64_t tree_size) {
  if (tree_size > size) {
    return Status::OutOfRange("no inclusion proof for size " + std::to_string(tree_size) +
                              ": the tree has " + std::to_string(size) + " leaves");
  }
  if (index >= tree_size) {
    return Status::OutOfRange("leaf " + std::to_string(index) + " is not in the tree of " +
                              std::to_string(tree_size) + " leaves");
  }
  std::vector<Hash> proof;
  RETURN_IF_ERROR(AppendPath(node, index, 0, tree_size, proof));
  return proof;
}

template <typename NodeFn>
Result<std::vector<Hash>> ConsistencyProofOf(const NodeFn& node, uint64_t size, uint64_t old_size,
                                             uint64_t new_size) {
  if (new_size > size) {
    return Status::OutOfRange("no consistency proof to size " + std::to_string(new_size) +
                              ": the tree has " + std::to_string(size) + " leaves");
  }
  if (old_size > new_size) {
    return Status::OutOfRange("no consistency proof from size " + std::to_string(old_size) +
                              " to the smaller size " + std::to_string(new_size));
  }
  std::vector<Hash> proof;
  if (old_size == 0 || old_size == new_size) return proof;
  RETURN_IF_ERROR(AppendSubProof(node, old_size, 0, new_size, true, proof));
  return proof;
}

inline Status LeafOutOfRange(uint64_t index, uint64_t size) {
  return Status::OutOfRange("leaf " + std::to_string(index) + " is beyond the tree of " +
                            std::to_string(size) + " leaves");
}

}  // namespace tieup::ledger::internal

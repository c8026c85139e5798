#include "ledger/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json.hpp>
#include <functional>

#include "base/encoding.h"
#include "base/env.h"
#include "crypto/hash.h"
#include "test_support.h"

namespace tieup::ledger {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

// --- a naive reference: RFC 6962 section 2.1 written out literally on byte strings ---

std::string RefLeaf(const std::string& d) { return Sha256(std::string(1, '\0') + d); }
std::string RefNode(const std::string& l, const std::string& r) {
  return Sha256(std::string(1, '\1') + l + r);
}
uint64_t RefSplit(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
std::string RefMth(const std::vector<std::string>& d, uint64_t b, uint64_t e) {
  if (e == b) return Sha256("");
  if (e - b == 1) return RefLeaf(d[b]);
  uint64_t k = RefSplit(e - b);
  return RefNode(RefMth(d, b, b + k), RefMth(d, b + k, e));
}
std::vector<std::string> RefPath(uint64_t m, const std::vector<std::string>& d, uint64_t b,
                                 uint64_t e) {
  if (e - b == 1) return {};
  uint64_t k = RefSplit(e - b);
  std::vector<std::string> p;
  if (m < k) {
    p = RefPath(m, d, b, b + k);
    p.push_back(RefMth(d, b + k, e));
  } else {
    p = RefPath(m - k, d, b + k, e);
    p.push_back(RefMth(d, b, b + k));
  }
  return p;
}
std::vector<std::string> RefSubproof(uint64_t m, const std::vector<std::string>& d, uint64_t b,
                                     uint64_t e, bool whole) {
  uint64_t n = e - b;
  if (m == n) {
    if (whole) return {};
    return {RefMth(d, b, e)};
  }
  uint64_t k = RefSplit(n);
  std::vector<std::string> p;
  if (m <= k) {
    p = RefSubproof(m, d, b, b + k, whole);
    p.push_back(RefMth(d, b + k, e));
  } else {
    p = RefSubproof(m - k, d, b + k, e, false);
    p.push_back(RefMth(d, b, b + k));
  }
  return p;
}

std::vector<std::string> Entries(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("entry " + std::to_string(i));
  return out;
}

std::vector<std::string> ToBytes(const std::vector<Hash>& v) {
  std::vector<std::string> out;
  for (const Hash& h : v) out.push_back(HashToBytes(h));
  return out;
}

TEST(MerkleTest, KnownAnswers) {
  // RFC 6962 empty tree and the leaf hash of the empty entry (transparency-dev test data).
  EXPECT_EQ(HexEncode(HashView(EmptyRoot())),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(HashView(HashLeaf(""))),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(MerkleTest, RootsMatchReferenceForZeroToManyLeaves) {
  std::vector<std::string> d = Entries(130);
  MerkleTree tree;
  for (size_t n = 0; n <= d.size(); ++n) {
    std::string want = RefMth(d, 0, n);
    std::vector<std::string> prefix(d.begin(), d.begin() + static_cast<long>(n));
    EXPECT_EQ(HashToBytes(RootFromEntries(prefix)), want) << n;
    ASSERT_EQ(tree.size(), n);
    EXPECT_EQ(HashToBytes(tree.Root()), want) << n;
    if (n < d.size()) tree.AppendEntry(d[n]);
  }
  // Roots of every earlier size from the full tree.
  for (size_t n = 0; n <= d.size(); ++n) {
    auto root = tree.Root(n);
    ASSERT_THAT(root, IsOk());
    EXPECT_EQ(HashToBytes(*root), RefMth(d, 0, n)) << n;
  }
  EXPECT_THAT(tree.Root(d.size() + 1), StatusIs(StatusCode::kOutOfRange));
}

TEST(MerkleTest, InclusionProofsForAllIndicesAndSizes) {
  constexpr uint64_t kMax = 64;
  std::vector<std::string> d = Entries(kMax);
  MerkleTree tree;
  for (const auto& e : d) tree.AppendEntry(e);
  for (uint64_t n = 1; n <= kMax; ++n) {
    Hash root = *tree.Root(n);
    for (uint64_t i = 0; i < n; ++i) {
      auto proof = tree.InclusionProof(i, n);
      ASSERT_THAT(proof, IsOk());
      ASSERT_EQ(ToBytes(*proof), RefPath(i, d, 0, n)) << i << "/" << n;
      Hash leaf = HashLeaf(d[i]);
      EXPECT_THAT(VerifyInclusion(i, n, leaf, *proof, root), IsOk()) << i << "/" << n;
      // The proof does not prove any other leaf or index.
      EXPECT_FALSE(VerifyInclusion(i, n, HashLeaf("other"), *proof, root).ok());
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion((i + 1) % n, n, leaf, *proof, root).ok()) << i << "/" << n;
      }
      // (The same proof can fit another size with the same path shape: the size is bound by
      // the signed checkpoint, not by the proof.)
      if (!proof->empty()) {
        std::vector<Hash> bad = *proof;
        bad.back()[0] ^= 1;
        EXPECT_THAT(VerifyInclusion(i, n, leaf, bad, root), StatusIs(StatusCode::kUnauthenticated));
      }
    }
  }
}

TEST(MerkleTest, ConsistencyProofsForAllSizePairs) {
  constexpr uint64_t kMax = 64;
  std::vector<std::string> d = Entries(kMax);
  MerkleTree tree;
  for (const auto& e : d) tree.AppendEntry(e);
  for (uint64_t n = 1; n <= kMax; ++n) {
    Hash new_root = *tree.Root(n);
    for (uint64_t m = 1; m <= n; ++m) {
      Hash old_root = *tree.Root(m);
      auto proof = tree.ConsistencyProof(m, n);
      ASSERT_THAT(proof, IsOk());
      std::vector<std::string> want =
          m == n ? std::vector<std::string>{} : RefSubproof(m, d, 0, n, true);
      ASSERT_EQ(ToBytes(*proof), want) << m << "->" << n;
      EXPECT_THAT(VerifyConsistency(m, n, old_root, new_root, *proof), IsOk()) << m << "->" << n;
      if (m < n) {
        // A different old root (a rewritten history) or new root is refused.
        Hash other = old_root;
        other[5] ^= 0x40;
        EXPECT_FALSE(VerifyConsistency(m, n, other, new_root, *proof).ok()) << m << "->" << n;
        other = new_root;
        other[5] ^= 0x40;
        EXPECT_FALSE(VerifyConsistency(m, n, old_root, other, *proof).ok()) << m << "->" << n;
        std::vector<Hash> shorter(proof->begin(), proof->end() - 1);
        EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, shorter).ok());
        std::vector<Hash> longer = *proof;
        longer.push_back(new_root);
        EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, longer).ok());
      }
    }
  }
}

TEST(MerkleTest, RootFromLeafHashesMatchesTree) {
  std::vector<Hash> leaves;
  MerkleTree tree;
  for (int i = 0; i < 1000; ++i) {
    leaves.push_back(HashLeaf(std::to_string(i)));
    tree.AppendLeafHash(leaves.back());
  }
  EXPECT_EQ(RootFromLeafHashes(leaves), tree.Root());
}

TEST(MerkleTest, TruncateUndoesAppends) {
  MerkleTree tree;
  for (int i = 0; i < 37; ++i) tree.AppendEntry(std::to_string(i));
  Hash at20 = *tree.Root(20);
  tree.Truncate(20);
  EXPECT_EQ(tree.size(), 20u);
  EXPECT_EQ(tree.Root(), at20);
  tree.AppendEntry("x");
  std::vector<std::string> d;
  for (int i = 0; i < 20; ++i) d.push_back(std::to_string(i));
  d.push_back("x");
  EXPECT_EQ(HashToBytes(tree.Root()), RefMth(d, 0, d.size()));
}

TEST(MerkleTest, ProofRequestsOutOfRangeAreRefused) {
  MerkleTree tree;
  for (int i = 0; i < 5; ++i) tree.AppendEntry(std::to_string(i));
  EXPECT_THAT(tree.InclusionProof(5, 5), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tree.InclusionProof(0, 6), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tree.ConsistencyProof(4, 6), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tree.ConsistencyProof(5, 4), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(tree.LeafHash(5), StatusIs(StatusCode::kOutOfRange));
  EXPECT_TRUE(tree.ConsistencyProof(0, 5)->empty());
}

TEST(MerkleTest, VerificationMessagesSayWhatIsWrong) {
  MerkleTree tree;
  for (int i = 0; i < 8; ++i) tree.AppendEntry(std::to_string(i));
  Hash root = tree.Root();
  auto proof = *tree.InclusionProof(3, 8);
  Hash leaf = HashLeaf("3");
  EXPECT_THAT(VerifyInclusion(8, 8, leaf, proof, root),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("beyond the size")));
  std::vector<Hash> longer = proof;
  longer.push_back(root);
  EXPECT_THAT(VerifyInclusion(3, 8, leaf, longer, root),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("too long")));
  std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
  EXPECT_THAT(VerifyInclusion(3, 8, leaf, shorter, root),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("too short")));
  std::vector<std::string> raw = ToBytes(proof);
  raw[1].pop_back();
  EXPECT_THAT(VerifyInclusion(3, 8, HashToBytes(leaf), raw, HashToBytes(root)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("31 bytes")));
  EXPECT_THAT(VerifyConsistency(8, 4, root, root, std::span<const Hash>()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("truncation")));
  Hash other = root;
  other[0] ^= 1;
  EXPECT_THAT(VerifyConsistency(8, 8, root, other, std::span<const Hash>()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("rewritten or forked")));
}

// --- the transparency-dev/merkle test vectors, every file ---

std::string VectorsDir() { return std::string(TIEUP_SOURCE_DIR) + "/../shared/testdata/merkle"; }

// Every *.json file below `dir`, recursively.
void CollectJson(Env& env, const std::string& dir, std::vector<std::string>& out) {
  auto entries = env.ListDir(dir);
  ASSERT_THAT(entries, IsOk());
  for (const FileInfo& f : *entries) {
    std::string path = JoinPath(dir, f.name);
    if (f.is_dir) {
      CollectJson(env, path, out);
    } else if (f.name.ends_with(".json")) {
      out.push_back(path);
    }
  }
}

uint64_t U64(const boost::json::value& v) {
  return v.is_uint64() ? v.get_uint64() : static_cast<uint64_t>(v.get_int64());
}

std::string B64(const boost::json::value& v) {
  auto decoded = Base64Decode(std::string(v.get_string()));
  EXPECT_THAT(decoded, IsOk());
  return decoded.value_or("");
}

std::vector<std::string> B64List(const boost::json::value& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  for (const auto& e : v.get_array()) out.push_back(B64(e));
  return out;
}

struct VectorCounts {
  int files = 0;
  int accepted = 0;
  int refused = 0;
};

VectorCounts RunVectors(const std::string& kind,
                        const std::function<Status(const boost::json::object&)>& verify) {
  VectorCounts counts;
  auto env = NewPosixEnv();
  std::vector<std::string> files;
  CollectJson(*env, VectorsDir() + "/" + kind, files);
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    auto text = env->ReadFile(path);
    EXPECT_THAT(text, IsOk());
    if (!text.ok()) continue;
    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(*text, ec);
    EXPECT_FALSE(ec) << ec.message();
    if (ec) continue;
    const boost::json::object& o = doc.get_object();
    bool want_err = o.at("wantErr").get_bool();
    Status s = verify(o);
    ++counts.files;
    if (want_err) {
      EXPECT_FALSE(s.ok()) << "accepted, but must be refused: " << o.at("desc").get_string();
      if (!s.ok()) ++counts.refused;
      // A refusal always says why.
      EXPECT_FALSE(s.message().empty());
    } else {
      EXPECT_THAT(s, IsOk()) << o.at("desc").get_string();
      if (s.ok()) ++counts.accepted;
    }
  }
  return counts;
}

TEST(MerkleVectorsTest, InclusionVectors) {
  auto env = NewPosixEnv();
  if (!env->FileExists(VectorsDir() + "/inclusion")) {
    GTEST_SKIP() << "Merkle test vectors not found in " << VectorsDir();
  }
  VectorCounts c = RunVectors("inclusion", [](const boost::json::object& o) {
    return VerifyInclusion(U64(o.at("leafIdx")), U64(o.at("treeSize")), B64(o.at("leafHash")),
                           B64List(o.at("proof")), B64(o.at("root")));
  });
  EXPECT_GE(c.files, 90);
  EXPECT_GE(c.accepted, 6);  // the happy paths and the matching single entry
  EXPECT_EQ(c.accepted + c.refused, c.files);
}

TEST(MerkleVectorsTest, ConsistencyVectors) {
  auto env = NewPosixEnv();
  if (!env->FileExists(VectorsDir() + "/consistency")) {
    GTEST_SKIP() << "Merkle test vectors not found in " << VectorsDir();
  }
  VectorCounts c = RunVectors("consistency", [](const boost::json::object& o) {
    return VerifyConsistency(U64(o.at("size1")), U64(o.at("size2")), B64(o.at("root1")),
                             B64(o.at("root2")), B64List(o.at("proof")));
  });
  EXPECT_GE(c.files, 90);
  EXPECT_GE(c.accepted, 6);
  EXPECT_EQ(c.accepted + c.refused, c.files);
}

}  // namespace
}  // namespace tieup::ledger

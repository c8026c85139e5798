#include "base/cow_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

namespace tieup {
namespace {

std::string Key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/p/%05d.html", i);
  return buf;
}

// Checks `m` against a std::map holding what it should, and the chunk invariants.
void ExpectSame(const CowMap<int>& m, const std::map<std::string, int>& want) {
  ASSERT_EQ(m.size(), want.size());
  auto w = want.begin();
  for (const auto& [k, v] : m) {
    ASSERT_NE(w, want.end());
    EXPECT_EQ(k, w->first);
    EXPECT_EQ(v, w->second);
    ++w;
  }
  EXPECT_EQ(w, want.end());
  for (size_t i = 0; i < m.chunk_count(); ++i) {
    const auto& e = m.chunk(i).entries();
    ASSERT_FALSE(e.empty()) << "chunk " << i;
    for (auto it = e.begin(); it != e.end(); ++it) {
      const bool last = std::next(it) == e.end();
      if (!last) {
        EXPECT_FALSE(CowMap<int>::IsBoundary(it->first)) << it->first;
      } else if (i + 1 < m.chunk_count()) {
        EXPECT_TRUE(CowMap<int>::IsBoundary(it->first));
      }
    }
  }
  for (const auto& [k, v] : want) {
    auto it = m.find(k);
    ASSERT_NE(it, m.end()) << k;
    EXPECT_EQ(it->second, v);
  }
  EXPECT_EQ(m.find("/zzz-not-there"), m.end());
}

TEST(CowMapTest, BehavesAsAMapUnderRandomChanges) {
  CowMap<int> m;
  std::map<std::string, int> want;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    const int k = static_cast<int>(rng() % 3000);
    switch (rng() % 4) {
      case 0:
      case 1:
        m[Key(k)] = step;
        want[Key(k)] = step;
        break;
      case 2:
        EXPECT_EQ(m.erase(Key(k)), want.erase(Key(k)));
        break;
      case 3:
        m.insert_or_assign(Key(k), -step);
        want.insert_or_assign(Key(k), -step);
        break;
    }
  }
  ExpectSame(m, want);
  EXPECT_GT(m.chunk_count(), want.size() / (4 * CowMap<int>::kChunkTarget));
}

TEST(CowMapTest, TheChunksDependOnTheKeysOnly) {
  CowMap<int> ascending, descending;
  for (int i = 0; i < 2000; ++i) ascending.emplace(Key(i), i);
  for (int i = 1999; i >= 0; --i) descending.emplace(Key(i), i);
  ASSERT_EQ(ascending.chunk_count(), descending.chunk_count());
  for (size_t i = 0; i < ascending.chunk_count(); ++i) {
    EXPECT_EQ(ascending.chunk(i).entries(), descending.chunk(i).entries());
  }
  EXPECT_TRUE(ascending == descending);
  descending[Key(5)] = 99;
  EXPECT_FALSE(ascending == descending);
}

TEST(CowMapTest, ACopySharesChunksUntilOneSideChanges) {
  CowMap<int> a;
  for (int i = 0; i < 5000; ++i) a.emplace(Key(i), i);
  CowMap<int> b = a;
  b[Key(2500)] = -1;
  b.erase(Key(10));
  b.emplace(Key(9999), 1);
  EXPECT_EQ(a.at(Key(2500)), 2500);
  EXPECT_EQ(a.count(Key(10)), 1u);
  EXPECT_EQ(a.count(Key(9999)), 0u);
  size_t shared = 0;
  for (size_t i = 0; i < a.chunk_count() && i < b.chunk_count(); ++i) {
    if (a.SharesChunk(i, b, i)) ++shared;
  }
  EXPECT_GE(shared + 6, a.chunk_count());
  std::vector<std::string> diffs;
  a.ForEachDifference(b, [&](const std::string& k, const int* mine, const int* theirs) {
    diffs.push_back(k + (mine ? "+" : "-") + (theirs ? "+" : "-"));
  });
  EXPECT_THAT(diffs, ::testing::ElementsAre(Key(10) + "+-", Key(2500) + "++", Key(9999) + "-+"));
}

TEST(CowMapTest, DifferencesOfUnrelatedMapsAreFoundEntryByEntry) {
  CowMap<int> a, b;
  for (int i = 0; i < 300; ++i) a.emplace(Key(i), i);
  for (int i = 100; i < 400; ++i) b.emplace(Key(i), i == 200 ? 0 : i);
  int only_a = 0, only_b = 0, changed = 0;
  a.ForEachDifference(b, [&](const std::string&, const int* mine, const int* theirs) {
    if (mine && theirs) {
      ++changed;
    } else if (mine) {
      ++only_a;
    } else {
      ++only_b;
    }
  });
  EXPECT_EQ(only_a, 100);
  EXPECT_EQ(only_b, 100);
  EXPECT_EQ(changed, 1);
}

TEST(CowMapTest, ChunkCachesSurviveCopiesAndAreDroppedOnChange) {
  CowMap<int> a;
  for (int i = 0; i < 500; ++i) a.emplace(Key(i), i);
  int computed = 0;
  auto make = [&](const CowMap<int>::Entries& e) {
    ++computed;
    return std::to_string(e.size());
  };
  for (size_t i = 0; i < a.chunk_count(); ++i) a.chunk(i).Cached(0, make);
  const int first = computed;
  CowMap<int> b = a;
  b[Key(0)] = 7;
  computed = 0;
  for (size_t i = 0; i < b.chunk_count(); ++i) b.chunk(i).Cached(0, make);
  EXPECT_EQ(computed, 1);  // only the changed chunk
  EXPECT_GT(first, 1);
}

TEST(CowMapTest, ChunkEncodingsAreCachedPerChunkWithTheirDigests) {
  CowMap<int> a;
  for (int i = 0; i < 500; ++i) a.emplace(Key(i), i);
  int encoded = 0, digested = 0;
  auto encode = [&](const CowMap<int>::Entries& e) {
    ++encoded;
    std::string out;
    for (const auto& [k, v] : e) out += k + "=" + std::to_string(v) + ";";
    return out;
  };
  auto digest = [&](std::string_view bytes) {
    ++digested;
    return "#" + std::to_string(bytes.size());
  };
  const auto parts = a.ChunkEncodings(0, encode, 1, digest);
  ASSERT_EQ(parts.size(), a.chunk_count());
  std::string all;
  for (const auto& [key, bytes] : parts) {
    EXPECT_EQ(key, "#" + std::to_string(bytes.size()));
    all += bytes;
  }
  EXPECT_TRUE(all.starts_with(Key(0) + "=0;" + Key(1) + "=1;"));
  EXPECT_EQ(encoded, static_cast<int>(a.chunk_count()));
  EXPECT_EQ(digested, static_cast<int>(a.chunk_count()));
  CowMap<int> b = a;
  b[Key(3)] = 1234567;
  encoded = digested = 0;
  const auto again = b.ChunkEncodings(0, encode, 1, digest);
  EXPECT_EQ(encoded, 1);  // only the changed chunk
  EXPECT_EQ(digested, 1);
  ASSERT_EQ(again.size(), parts.size());
  EXPECT_EQ(again.back().bytes.data(), parts.back().bytes.data());
}

TEST(CowMapTest, MutableIterationDoesNotChangeACopy) {
  CowMap<int> a;
  for (int i = 0; i < 1000; ++i) a.emplace(Key(i), i);
  CowMap<int> b = a;
  for (auto& [k, v] : b) v = -v;
  EXPECT_EQ(a.at(Key(999)), 999);
  EXPECT_EQ(b.at(Key(999)), -999);
  auto it = b.find(Key(3));
  it->second = 3;
  EXPECT_EQ(b.at(Key(3)), 3);
  EXPECT_EQ(a.at(Key(3)), 3);
  EXPECT_EQ(a.at(Key(4)), 4);
}

TEST(CowMapTest, EmptyMap) {
  CowMap<int> m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.begin(), m.end());
  EXPECT_EQ(m.find("/a"), m.end());
  EXPECT_EQ(m.erase("/a"), 0u);
  m.emplace("/a", 1);
  EXPECT_EQ(m.erase("/a"), 1u);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.chunk_count(), 0u);
}

}  // namespace
}  // namespace tieup

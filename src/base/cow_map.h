// CowMap: an ordered map from string keys to values whose copies share storage, for the large
// maps of a site (a release's files, the served view) that are copied and changed in a few
// places on every update.
//
// The entries are split into chunks (small std::maps) at "boundary" keys: a key is a boundary
// when a fixed hash of it is 0 modulo kChunkTarget, and every chunk but the last ends with one.
// The split is therefore a function of the set of keys alone, not of the history of the map, so
// two maps with equal keys have equal chunks, and changing one key changes one chunk.
// Copying a CowMap copies one shared pointer per chunk; the first change to a shared chunk copies
// that chunk only (copy-on-write). Unchanged chunks stay shared, which lets a comparison skip
// them (ForEachDifference) and lets a caller keep per-chunk derived data (Chunk::Cached: e.g.
// the encoded bytes of the chunk's entries) that survives copies.
//
// The interface is the part of std::map that tieup uses. Differences: iterators are invalidated
// by any change to the map (as for a vector); a non-const iterator or find() makes the chunk it
// reaches private to this map first (a copy when it is shared), so iterate through a const
// reference when only reading. Not thread-safe for writes; concurrent reads (including
// Chunk::Cached) are safe, also across maps sharing chunks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tieup {

// One part of a value encoded chunk by chunk (CowMap::ChunkEncodings): the part's bytes and a
// digest naming them. Views into a chunk's cache.
struct EncodedChunk {
  std::string_view key;
  std::string_view bytes;
};

template <typename V>
class CowMap {
 public:
  using key_type = std::string;
  using mapped_type = V;
  using Entries = std::map<std::string, V, std::less<>>;
  using value_type = typename Entries::value_type;
  using size_type = size_t;

  // The average number of entries per chunk.
  static constexpr uint64_t kChunkTarget = 32;
  // Slots of derived data a chunk can cache (see Chunk::Cached).
  static constexpr size_t kCacheSlots = 5;

  // A run of consecutive entries. Immutable while shared.
  class Chunk {
   public:
    Chunk() = default;
    explicit Chunk(Entries entries) : entries_(std::move(entries)) {}
    Chunk(const Chunk&) = delete;
    Chunk& operator=(const Chunk&) = delete;

    const Entries& entries() const { return entries_; }

    // Bytes derived from this chunk's entries by `make`, computed on the first call for `slot`
    // (< kCacheSlots) and kept while the chunk lives unchanged. Every caller of one slot must
    // pass an equivalent `make`. Thread-safe.
    template <typename Make>
    const std::string& Cached(size_t slot, Make&& make) const {
      std::lock_guard<std::mutex> lock(mu_);
      std::optional<std::string>& c = cache_[slot];
      if (!c) c.emplace(make(entries_));
      return *c;
    }

   private:
    friend class CowMap;
    void Invalidate() {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& c : cache_) c.reset();
    }
    Entries entries_;
    mutable std::mutex mu_;
    mutable std::array<std::optional<std::string>, kCacheSlots> cache_;
  };

  template <bool Const>
  class Iter {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = CowMap::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const value_type*, value_type*>;
    using reference = std::conditional_t<Const, const value_type&, value_type&>;
    using MapPtr = std::conditional_t<Const, const CowMap*, CowMap*>;
    using EntryIt =
        std::conditional_t<Const, typename Entries::const_iterator, typename Entries::iterator>;

    Iter() = default;
    // A mutable iterator converts to a const one.
    template <bool C = Const, typename = std::enable_if_t<C>>
    Iter(const Iter<false>& o) : map_(o.map_), chunk_(o.chunk_), it_(o.it_) {}

    reference operator*() const { return *it_; }
    pointer operator->() const { return &*it_; }
    Iter& operator++() {
      ++it_;
      if (it_ == map_->ChunkEntries(chunk_).end()) {
        ++chunk_;
        if (chunk_ < map_->chunks_.size()) it_ = Begin(chunk_);
      }
      return *this;
    }
    Iter operator++(int) {
      Iter old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const Iter& a, const Iter& b) { return a.Equals(b); }

   private:
    friend class CowMap;
    template <bool>
    friend class Iter;
    Iter(MapPtr map, size_t chunk, EntryIt it) : map_(map), chunk_(chunk), it_(it) {}
    bool Equals(const Iter& b) const {
      return chunk_ == b.chunk_ &&
             (map_ == nullptr || chunk_ >= map_->chunks_.size() || it_ == b.it_);
    }
    EntryIt Begin(size_t chunk) {
      if constexpr (Const) {
        return map_->chunks_[chunk]->entries_.cbegin();
      } else {
        return map_->Detach(chunk).begin();
      }
    }
    MapPtr map_ = nullptr;
    size_t chunk_ = 0;
    EntryIt it_{};
  };
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;

  CowMap() = default;
  CowMap(std::initializer_list<value_type> init) {
    for (const auto& kv : init) emplace(kv.first, kv.second);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const_iterator begin() const { return cbegin(); }
  const_iterator end() const { return cend(); }
  const_iterator cbegin() const {
    if (chunks_.empty()) return cend();
    return const_iterator(this, 0, chunks_[0]->entries_.cbegin());
  }
  const_iterator cend() const { return const_iterator(this, chunks_.size(), {}); }
  iterator begin() {
    if (chunks_.empty()) return end();
    return iterator(this, 0, Detach(0).begin());
  }
  iterator end() { return iterator(this, chunks_.size(), {}); }

  const_iterator find(std::string_view key) const {
    const size_t i = LowerChunk(key);
    if (i == chunks_.size()) return cend();
    auto it = chunks_[i]->entries_.find(key);
    if (it == chunks_[i]->entries_.end()) return cend();
    return const_iterator(this, i, it);
  }
  iterator find(std::string_view key) {
    const size_t i = LowerChunk(key);
    if (i == chunks_.size()) return end();
    if (chunks_[i]->entries_.find(key) == chunks_[i]->entries_.end()) return end();
    Entries& e = Detach(i);
    return iterator(this, i, e.find(key));
  }
  size_t count(std::string_view key) const { return find(key) == cend() ? 0 : 1; }
  bool contains(std::string_view key) const { return count(key) != 0; }

  const V& at(std::string_view key) const {
    auto it = find(key);
    if (it == cend()) throw std::out_of_range("CowMap::at");
    return it->second;
  }

  template <typename... Args>
  std::pair<iterator, bool> try_emplace(std::string key, Args&&... args) {
    const size_t i = ChunkForInsert(key);
    Entries& e = Detach(i);
    auto hint = (!e.empty() && e.rbegin()->first < key) ? e.end() : e.lower_bound(key);
    if (hint != e.end() && hint->first == key) return {iterator(this, i, hint), false};
    auto it = e.emplace_hint(hint, std::piecewise_construct, std::forward_as_tuple(std::move(key)),
                             std::forward_as_tuple(std::forward<Args>(args)...));
    ++size_;
    if (IsBoundary(it->first) && std::next(it) != e.end()) {
      // A boundary key ends its chunk: the entries after it start a new one.
      auto rest = std::make_shared<Chunk>();
      rest->entries_.insert(std::next(it), e.end());
      e.erase(std::next(it), e.end());
      chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(rest));
      it = std::prev(chunks_[i]->entries_.end());
    }
    return {iterator(this, i, it), true};
  }
  std::pair<iterator, bool> emplace(std::string key, V value) {
    return try_emplace(std::move(key), std::move(value));
  }
  std::pair<iterator, bool> insert(value_type kv) {
    return try_emplace(std::string(kv.first), std::move(kv.second));
  }
  template <typename M>
  std::pair<iterator, bool> insert_or_assign(std::string key, M&& value) {
    auto r = try_emplace(std::move(key), std::forward<M>(value));
    if (!r.second) r.first->second = std::forward<M>(value);
    return r;
  }
  V& operator[](std::string_view key) {
    auto it = find(key);
    if (it != end()) return it->second;
    return try_emplace(std::string(key)).first->second;
  }

  // Removes `key`; returns 1 when it was there.
  size_t erase(std::string_view key) {
    const size_t i = LowerChunk(key);
    if (i == chunks_.size() || chunks_[i]->entries_.count(key) == 0) return 0;
    Entries& e = Detach(i);
    auto it = e.find(key);
    const bool was_last = std::next(it) == e.end();
    e.erase(it);
    --size_;
    // The chunk lost its boundary key (only a chunk's last key can be one): it continues into
    // the next chunk.
    if (was_last && i + 1 < chunks_.size()) {
      const Entries& next = chunks_[i + 1]->entries_;
      e.insert(next.begin(), next.end());
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
    if (e.empty()) chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(i));
    return 1;
  }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }

  // The chunks, in key order.
  size_t chunk_count() const { return chunks_.size(); }
  const Chunk& chunk(size_t i) const { return *chunks_[i]; }
  // For each chunk in order: {digest(bytes), bytes}, where bytes = encode(entries) is cached in
  // `bytes_slot` and its digest in `digest_slot` (for chunked storage: a value's encoding split
  // into parts named by their hash). The views stay valid while this map lives unchanged.
  template <typename Encode, typename Digest>
  std::vector<EncodedChunk> ChunkEncodings(size_t bytes_slot, Encode&& encode, size_t digest_slot,
                                           Digest&& digest) const {
    std::vector<EncodedChunk> out;
    out.reserve(chunks_.size());
    for (const auto& c : chunks_) {
      const std::string& bytes = c->Cached(bytes_slot, encode);
      const std::string& key =
          c->Cached(digest_slot, [&](const Entries&) { return digest(bytes); });
      out.push_back({key, bytes});
    }
    return out;
  }
  // True when chunk `i` of this map and chunk `j` of `other` are the same storage (hence equal).
  bool SharesChunk(size_t i, const CowMap& other, size_t j) const {
    return chunks_[i] == other.chunks_[j];
  }

  // Calls f(key, mine, theirs) in key order for every key whose value differs between this map
  // and `other` (mine or theirs null when the key is absent on that side). Shared chunks are
  // skipped without looking at their entries.
  template <typename F>
  void ForEachDifference(const CowMap& other, F&& f) const {
    size_t i = 0, j = 0;
    typename Entries::const_iterator a, b;
    bool a_start = true, b_start = true;  // at the first entry of chunk i / j
    auto a_end = [&] { return i >= chunks_.size(); };
    auto b_end = [&] { return j >= other.chunks_.size(); };
    auto load_a = [&] {
      if (!a_end()) a = chunks_[i]->entries_.begin();
      a_start = true;
    };
    auto load_b = [&] {
      if (!b_end()) b = other.chunks_[j]->entries_.begin();
      b_start = true;
    };
    auto next_a = [&] {
      a_start = false;
      if (++a == chunks_[i]->entries_.end()) {
        ++i;
        load_a();
      }
    };
    auto next_b = [&] {
      b_start = false;
      if (++b == other.chunks_[j]->entries_.end()) {
        ++j;
        load_b();
      }
    };
    load_a();
    load_b();
    while (!a_end() || !b_end()) {
      if (!a_end() && !b_end() && a_start && b_start && chunks_[i] == other.chunks_[j]) {
        ++i;
        ++j;
        load_a();
        load_b();
        continue;
      }
      if (b_end() || (!a_end() && a->first < b->first)) {
        f(a->first, &a->second, static_cast<const V*>(nullptr));
        next_a();
      } else if (a_end() || b->first < a->first) {
        f(b->first, static_cast<const V*>(nullptr), &b->second);
        next_b();
      } else {
        if (!(a->second == b->second)) f(a->first, &a->second, &b->second);
        next_a();
        next_b();
      }
    }
  }

  friend bool operator==(const CowMap& x, const CowMap& y) {
    if (x.size_ != y.size_ || x.chunks_.size() != y.chunks_.size()) return false;
    for (size_t i = 0; i < x.chunks_.size(); ++i) {
      if (x.chunks_[i] != y.chunks_[i] && !(x.chunks_[i]->entries() == y.chunks_[i]->entries())) {
        return false;
      }
    }
    return true;
  }

  // Whether `key` ends a chunk (exposed for tests).
  static bool IsBoundary(std::string_view key) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then a final mix
    for (unsigned char c : key) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h % kChunkTarget == 0;
  }

 private:
  const Entries& ChunkEntries(size_t i) const { return chunks_[i]->entries_; }
  // The chunk that holds `key` if any map entry does: the first whose last key is >= key
  // (chunks_.size() when key is above every key).
  size_t LowerChunk(std::string_view key) const {
    size_t lo = 0, hi = chunks_.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (chunks_[mid]->entries_.rbegin()->first < key) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
  // The chunk a new `key` goes into (created when needed).
  size_t ChunkForInsert(std::string_view key) {
    size_t i = LowerChunk(key);
    if (i < chunks_.size()) return i;
    if (chunks_.empty() || IsBoundary(chunks_.back()->entries_.rbegin()->first)) {
      chunks_.push_back(std::make_shared<Chunk>());
    }
    return chunks_.size() - 1;
  }
  // Chunk `i`'s entries, made private to this map, for a change.
  Entries& Detach(size_t i) {
    std::shared_ptr<Chunk>& c = chunks_[i];
    if (c.use_count() != 1) {
      c = std::make_shared<Chunk>(Entries(c->entries_));
    } else {
      c->Invalidate();
    }
    return c->entries_;
  }

  std::vector<std::shared_ptr<Chunk>> chunks_;
  size_t size_ = 0;
};

}  // namespace tieup

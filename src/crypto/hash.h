// SHA-256, the hash of content addressing (blob names), release metadata and the Merkle log.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace tieup {

inline constexpr size_t kSha256Size = 32;

// The 32-byte SHA-256 digest of `data`. Thread-safe.
std::string Sha256(std::string_view data);
// The lower-case hex SHA-256 digest of `data`.
std::string Sha256Hex(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces (a blob being fetched). Not thread-safe.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view data);
  // The digest of everything given so far; the hasher then starts over.
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The 32-byte HMAC-SHA256 of `data` under `key` (RFC 2104). Thread-safe.
std::string HmacSha256(std::string_view key, std::string_view data);

// Compares two secrets in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace tieup

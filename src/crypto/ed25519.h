// Ed25519 keys and signatures (libsodium): release metadata, checkpoints, request signatures.
#pragma once

#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"

namespace tieup {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

// A public key: 32 raw bytes. Cheap to copy.
class Ed25519PublicKey {
 public:
  Ed25519PublicKey() = default;
  // Fails unless `raw` is 32 bytes.
  static Result<Ed25519PublicKey> FromBytes(std::string_view raw);
  const std::string& bytes() const { return bytes_; }
  // Returns true iff `signature` is a valid signature of `message` by this key.
  bool Verify(std::string_view message, std::string_view signature) const;

 private:
  std::string bytes_;
};

// A private key (the 32-byte seed is what is stored). Never logged, never sent.
class Ed25519PrivateKey {
 public:
  // A fresh key from `env`'s randomness.
  static Ed25519PrivateKey Generate(Env& env);
  // Fails unless `seed` is 32 bytes.
  static Result<Ed25519PrivateKey> FromSeed(std::string_view seed);
  ~Ed25519PrivateKey();
  Ed25519PrivateKey(const Ed25519PrivateKey&) = default;
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey&) = default;

  const Ed25519PublicKey& public_key() const { return public_key_; }
  // The 64-byte detached signature of `message`.
  std::string Sign(std::string_view message) const;
  const std::string& seed() const { return seed_; }

 private:
  Ed25519PrivateKey() = default;
  std::string seed_;
  std::string secret_;  // libsodium's 64-byte expanded secret key
  Ed25519PublicKey public_key_;
};

// Writes the key's seed (base64) to `path` with mode 0600, atomically.
Status SavePrivateKey(Env& env, const std::string& path, const Ed25519PrivateKey& key);
// Reads a key written by SavePrivateKey; refuses a file readable by group or others.
Result<Ed25519PrivateKey> LoadPrivateKey(Env& env, const std::string& path);

}  // namespace tieup

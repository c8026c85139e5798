#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstdio>

#include "base/encoding.h"

namespace tieup {

Result<Ed25519PublicKey> Ed25519PublicKey::FromBytes(std::string_view raw) {
  if (raw.size() != kEd25519PublicKeySize) {
    return Status::InvalidArgument("an Ed25519 public key is 32 bytes, got " +
                                   std::to_string(raw.size()));
  }
  Ed25519PublicKey k;
  k.bytes_ = std::string(raw);
  return k;
}

bool Ed25519PublicKey::Verify(std::string_view message, std::string_view signature) const {
  if (bytes_.size() != kEd25519PublicKeySize || signature.size() != kEd25519SignatureSize) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(bytes_.data())) == 0;
}

Ed25519PrivateKey Ed25519PrivateKey::Generate(Env& env) {
  std::string seed = RandomString(env, crypto_sign_SEEDBYTES);
  auto key = FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return std::move(key).value();
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(std::string_view seed) {
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return Status::InvalidArgument("an Ed25519 seed is 32 bytes");
  }
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  Ed25519PrivateKey k;
  k.seed_ = std::string(seed);
  k.secret_.assign(crypto_sign_SECRETKEYBYTES, '\0');
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()),
                           reinterpret_cast<unsigned char*>(k.secret_.data()),
                           reinterpret_cast<const unsigned char*>(k.seed_.data()));
  k.public_key_ = Ed25519PublicKey::FromBytes(pk).value();
  return k;
}

Ed25519PrivateKey::~Ed25519PrivateKey() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(secret_.data(), secret_.size());
}

std::string Ed25519PrivateKey::Sign(std::string_view message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret_.data()));
  return sig;
}

Status SavePrivateKey(Env& env, const std::string& path, const Ed25519PrivateKey& key) {
  std::string text = "tieup-ed25519-seed " + Base64Encode(key.seed()) + "\n";
  Status s = WriteFileAtomic(env, path, text, 0600);
  sodium_memzero(text.data(), text.size());
  return s;
}

Result<Ed25519PrivateKey> LoadPrivateKey(Env& env, const std::string& path) {
  ASSIGN_OR_RETURN(uint32_t mode, env.GetPermissions(path));
  if ((mode & 077) != 0) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04o", mode);
    return Status::PermissionDenied("private key '" + path + "' has mode " + buf +
                                    ", readable by others: run 'chmod 600 " + path +
                                    "' and consider the key compromised");
  }
  ASSIGN_OR_RETURN(std::string text, env.ReadFile(path));
  constexpr std::string_view kPrefix = "tieup-ed25519-seed ";
  if (text.rfind(kPrefix, 0) != 0) {
    return Status::DataLoss("'" + path + "' is not a tieup private key file");
  }
  std::string_view b64 = std::string_view(text).substr(kPrefix.size());
  while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r')) b64.remove_suffix(1);
  auto seed = Base64Decode(b64);
  sodium_memzero(text.data(), text.size());
  if (!seed.ok()) return Status::DataLoss("private key '" + path + "' is corrupt");
  auto key = Ed25519PrivateKey::FromSeed(*seed);
  sodium_memzero(seed->data(), seed->size());
  if (!key.ok()) return Status::DataLoss("private key '" + path + "' is corrupt");
  return key;
}

}  // namespace tieup

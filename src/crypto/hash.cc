#include "crypto/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include "base/encoding.h"

namespace tieup {
namespace {

// EVP_sha256() is a static table; fetching it once avoids a lookup per hash.
const EVP_MD* Md() {
  static const EVP_MD* md = EVP_sha256();
  return md;
}

}  // namespace

struct Sha256Hasher::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>()) {
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, Md(), nullptr) != 1) std::abort();
}

Sha256Hasher::~Sha256Hasher() = default;

void Sha256Hasher::Update(std::string_view data) {
  EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

std::string Sha256Hasher::Finish() {
  std::string out(kSha256Size, '\0');
  unsigned int n = 0;
  EVP_DigestFinal_ex(impl_->ctx, reinterpret_cast<unsigned char*>(out.data()), &n);
  EVP_DigestInit_ex(impl_->ctx, Md(), nullptr);
  return out;
}

std::string Sha256(std::string_view data) {
  std::string out(kSha256Size, '\0');
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &n, Md(),
             nullptr);
  return out;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &len) == nullptr) {
    std::abort();  // only on allocation failure inside OpenSSL
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tieup

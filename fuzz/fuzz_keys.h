// Fixed keys and a fixed "now" for the fuzz targets and for seeds.cc, which signs the seed
// corpora with them: seeds then verify, and the fuzzer starts from inputs that reach the code
// after the signature checks. Test keys only.
#pragma once

#include <optional>
#include <string>

#include "crypto/ed25519.h"

namespace tieup::fuzz {

// Seconds since the Unix epoch at which the targets verify (testing::MemEnv's default start).
inline constexpr int64_t kNow = 1'790'000'000;

inline const Ed25519PrivateKey& KeyFromLetter(char letter) {
  // One key per letter, made once (the targets are single-threaded).
  static std::optional<Ed25519PrivateKey> keys[26];
  int i = letter - 'a';
  if (!keys[i]) keys[i].emplace(*Ed25519PrivateKey::FromSeed(std::string(32, letter)));
  return *keys[i];
}

inline const Ed25519PrivateKey& RootKey() { return KeyFromLetter('r'); }
inline const Ed25519PrivateKey& ReleaseKey() { return KeyFromLetter('l'); }
inline const Ed25519PrivateKey& NoteKey() { return KeyFromLetter('n'); }
inline const Ed25519PrivateKey& RequestKey() { return KeyFromLetter('q'); }

// An ES256 key (crypto/jose.h) for the ID token targets: a test key only.
inline constexpr std::string_view kJwtPrivateJwk =
    R"({"kty":"EC","crv":"P-256","x":"V3Ez_X-BZf4shOHPmpu-obuAbgSoUWfe3U8wbI7IVZU",)"
    R"("y":"6UqfjkGWxS3aUU1T8XaaDMAYEEvlxE5nDNIsS0oDe0k","d":"FZUvwWzhhrsftGgRI_6SfCHC0jfFNFdKFRV_sMmekJ4"})";

inline constexpr std::string_view kNoteKeyName = "example.com/shop-b/access";
inline constexpr std::string_view kRequestKeyId = "shop-b";

}  // namespace tieup::fuzz

// Per-message signatures on requests between sites (DESIGN.md "Trust", Requests between
// sites): HTTP Message Signatures (RFC 9421) with Ed25519 (alg "ed25519"), over the request's
// method, authority, path, query and body digest (Content-Digest, RFC 9530, sha-256), with
// `created`, `expires`, `nonce` and `keyid` parameters. The receiver keeps the signed request
// to prove later who asked for what, and a ReplayCache refuses a nonce seen before.
//
// The signature label is "tieup". The signature base is built exactly as RFC 9421 section 2.5
// says: one line per covered component, `"<name>": <value>`, in the order listed, then the
// `"@signature-params"` line, lines separated by LF with no trailing LF.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "crypto/ed25519.h"

namespace tieup {

// Header fields as (name, value) pairs; names compare case-insensitively. Repeated names are
// combined with ", " (RFC 9110 5.3) when read.
using HttpFields = std::vector<std::pair<std::string, std::string>>;

// The parts of a request that every signature covers.
struct SignedRequestTarget {
  std::string_view method;  // "POST" (case-sensitive, as sent)
  // The Host as sent: "main.example:8443". Lower-cased for signing; a default port is NOT
  // removed, so both sides must use the same form (tieup always sends host:port).
  std::string_view authority;
  std::string_view target;  // origin-form: "/orders?id=7"
};

// The signature label tieup uses in Signature-Input and Signature.
inline constexpr std::string_view kSignatureLabel = "tieup";
// Components every tieup request signature covers, in this order.
const std::vector<std::string>& RequiredSignatureComponents();

// "sha-256=:<base64 of SHA-256(body)>:".
std::string ContentDigest(std::string_view body);

// The RFC 9421 signature base for `components` (derived components "@method", "@authority",
// "@path", "@query", or lower-case header field names found in `fields`) and the serialized
// signature parameters `params` (what follows the inner list in Signature-Input, e.g.
// `;created=1;keyid="k"`). kInvalidArgument for an unknown component or a missing field.
Result<std::string> SignatureBase(const SignedRequestTarget& request, const HttpFields& fields,
                                  const std::vector<std::string>& components,
                                  std::string_view params);

// Signs a request. Covers the required components plus every field in `covered_fields`
// (names lower-cased), valid from `now` for `ttl_seconds`, with a fresh 128-bit nonce from
// `env`. Returns the fields to add to the request: Content-Digest, Signature-Input and
// Signature. kInvalidArgument for a bad target, keyid or ttl.
Result<HttpFields> SignRequest(Env& env, const Ed25519PrivateKey& key, std::string_view keyid,
                               const SignedRequestTarget& request, const HttpFields& covered_fields,
                               std::string_view body, int64_t now, int64_t ttl_seconds);

// Remembers (key id, nonce) pairs until their signatures expire, so a captured request cannot be
// sent again. Bounded: when full of unexpired entries it refuses new ones rather than forget
// one (forgetting would reopen a replay). Thread-safe.
class ReplayCache {
 public:
  explicit ReplayCache(size_t max_entries = 100000) : max_entries_(max_entries) {}

  // Records `nonce` for `keyid` until `expires_at`, first dropping entries expired at `now`.
  // kAlreadyExists when the pair is present; kResourceExhausted when the cache is full.
  Status Insert(std::string_view keyid, std::string_view nonce, int64_t expires_at, int64_t now);
  // Entries currently held.
  size_t size() const;

 private:
  void DropExpiredLocked(int64_t now);

  const size_t max_entries_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t, std::less<>> entries_;  // key -> expiry
  std::multimap<int64_t, std::string> by_expiry_;        // expiry -> key
};

// Limits on what VerifyRequest accepts.
struct RequestVerifyOptions {
  int64_t max_clock_skew_seconds = 60;  // how far `created` may lie in the future
  int64_t max_lifetime_seconds = 600;   // expires - created at most (bounds the replay cache)
};

// The public key for a key id; any non-OK status refuses the request (kUnauthenticated).
using SignatureKeyLookup = std::function<Result<Ed25519PublicKey>(std::string_view keyid)>;

// What a verified signature said.
struct VerifiedRequest {
  std::string keyid;
  std::string nonce;
  int64_t created = 0;
  int64_t expires = 0;
  std::vector<std::string> covered_components;
};

// Verifies the "tieup" signature on a request. Refuses (kUnauthenticated, with what was wrong):
// missing Signature-Input, Signature or Content-Digest; a signature that does not cover the
// required components; alg other than ed25519; an unknown key id; a body that does not match
// Content-Digest; expired, not yet valid (beyond the skew) or over-long validity; a bad
// signature; a replayed nonce (kAlreadyExists) or a full replay cache (kResourceExhausted).
// Garbled structured fields are kInvalidArgument. The nonce enters the cache only once the
// signature verified.
Result<VerifiedRequest> VerifyRequest(const SignatureKeyLookup& lookup,
                                      const SignedRequestTarget& request, const HttpFields& fields,
                                      std::string_view body, int64_t now, ReplayCache& cache,
                                      const RequestVerifyOptions& options = {});

}  // namespace tieup

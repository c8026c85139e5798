// Signed release metadata on the model of The Update Framework (TUF) (DESIGN.md "Trust",
// Content). An offline root key signs the root metadata, which certifies the online release
// key(s); the release key signs each release's metadata. A partner pins main's root public key
// at enrollment and checks every release against it before fetching any file.
//
// Envelopes follow DSSE (github.com/secure-systems-lab/dsse): the signature covers the
// pre-authentication encoding PAE(payloadType, payload), so a root document can never pass as
// a release or the other way round, and the payload is signed as opaque bytes (no
// re-serialisation before verifying). The envelope's JSON is canonical: sorted keys, no
// whitespace. A key id is the lower-case hex SHA-256 of the 32 raw public key bytes.
//
// All functions are pure and thread-safe; time is passed in (seconds since the Unix epoch).
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "crypto/ed25519.h"

namespace tieup {

// The payload types tieup signs.
inline constexpr std::string_view kRootPayloadType = "application/vnd.tieup.root+json";
inline constexpr std::string_view kReleasePayloadType = "application/vnd.tieup.release+json";
// A release written as changes from an earlier one (content/release.h ReleaseDelta).
inline constexpr std::string_view kReleaseDeltaPayloadType =
    "application/vnd.tieup.release-delta+json";

// The key id of `key`: hex SHA-256 of its raw bytes.
std::string KeyId(const Ed25519PublicKey& key);

// Sorted keys, no insignificant whitespace, minimal string escapes. Integers print exactly;
// tieup metadata uses no floating-point numbers (a double prints as Boost.JSON prints it; an
// infinite one, which JSON cannot express, as null).
std::string CanonicalJson(const boost::json::value& value);

// DSSE's PAE: "DSSEv1 <len(type)> <type> <len(payload)> <payload>" (lengths in decimal ASCII).
std::string PreAuthEncoding(std::string_view payload_type, std::string_view payload);

struct EnvelopeSignature {
  std::string keyid;  // hex SHA-256 of the signer's public key
  std::string sig;    // 64 raw bytes
};

// A signed payload. JSON: {"payload":"<base64>","payloadType":"...","signatures":
// [{"keyid":"<hex>","sig":"<base64>"}]}.
struct SignedEnvelope {
  std::string payload_type;
  std::string payload;
  std::vector<EnvelopeSignature> signatures;
};

// Signs PAE(payload_type, payload) with `key`.
SignedEnvelope SignEnvelope(const Ed25519PrivateKey& key, std::string_view payload_type,
                            std::string_view payload);
// The canonical JSON text of `envelope`.
std::string EncodeEnvelope(const SignedEnvelope& envelope);
// Parses envelope JSON; kInvalidArgument with what is wrong for anything malformed.
Result<SignedEnvelope> ParseEnvelope(std::string_view json);

// The root of trust: which keys may sign releases, until when.
struct RootMetadata {
  int64_t version = 1;  // grows with each re-signing
  int64_t expires = 0;  // seconds since the Unix epoch
  Ed25519PublicKey root_key;
  std::vector<Ed25519PublicKey> release_keys;  // the online keys certified to sign releases
};

// The canonical JSON payload of `root`: {"_type":"root","expires":"<RFC 3339>",
// "release_keys":[{"keyid":..,"public":"<base64>"}],"root_key":{..},"version":N}.
std::string EncodeRootMetadata(const RootMetadata& root);
// Parses a root payload; kInvalidArgument when malformed.
Result<RootMetadata> ParseRootMetadata(std::string_view payload);

// The root envelope for `root`, signed by `root_key`; kInvalidArgument when `root_key` is not
// `root.root_key` or `root` certifies no release key.
Result<SignedEnvelope> SignRootMetadata(const Ed25519PrivateKey& root_key,
                                        const RootMetadata& root);
// A release envelope: `payload` (the release metadata bytes) signed by `release_key`.
SignedEnvelope SignRelease(const Ed25519PrivateKey& release_key, std::string_view payload);
// A release delta envelope: `payload` (a ReleaseDelta's bytes) signed by `release_key`.
SignedEnvelope SignReleaseDelta(const Ed25519PrivateKey& release_key, std::string_view payload);

// Checks root envelope JSON against the pinned root key: signed by it (kUnauthenticated), names
// it as root (kUnauthenticated), not expired at `now` (kFailedPrecondition).
Result<RootMetadata> VerifyRootMetadata(const Ed25519PublicKey& pinned_root,
                                        std::string_view root_envelope_json, int64_t now);

// Checks an envelope signed by a release key that main's root certifies (releases, withdrawals,
// fee statement signatures): the root envelope as VerifyRootMetadata, then the envelope: its
// payload type is one of `payload_types` and one signature is valid and by a certified release
// key. `what` names the message in errors ("release metadata"). Returns the envelope, whose
// payload the caller then parses and checks. kUnauthenticated for another payload type, no
// signature, a bad signature or an uncertified key; kInvalidArgument for a malformed envelope.
Result<SignedEnvelope> VerifyReleaseKeySigned(const Ed25519PublicKey& pinned_root,
                                              std::string_view root_envelope_json,
                                              std::string_view envelope_json,
                                              const std::vector<std::string_view>& payload_types,
                                              std::string_view what, int64_t now);

// Checks a release: the root envelope as above, then the release envelope: its payload type,
// and a valid signature by a release key the root certifies. Returns the release payload bytes,
// which the caller must then check (CheckReleaseHeader, file hashes). kUnauthenticated for a
// missing or bad signature or an uncertified key; kFailedPrecondition for expired root
// metadata; kInvalidArgument for malformed envelopes. When `payload_type` is not null a release
// delta (kReleaseDeltaPayloadType) is accepted too, and *payload_type says which type was signed.
Result<std::string> VerifyRelease(const Ed25519PublicKey& pinned_root,
                                  std::string_view root_envelope_json,
                                  std::string_view release_envelope_json, int64_t now,
                                  std::string* payload_type = nullptr);

// Checks a verified release's header against this site's state: it must be for
// `expected_site` (kPermissionDenied otherwise), its version must be above `active_version`
// (kFailedPrecondition for a rollback, kAlreadyExists for a replay of the active version; use
// active_version 0 before the first release), and it must not have expired at `now`
// (kFailedPrecondition: frozen metadata).
Status CheckReleaseHeader(std::string_view expected_site, int64_t active_version, int64_t now,
                          std::string_view site, int64_t version, int64_t expires);

}  // namespace tieup

// Main's signature on a fee statement it delivers (issue 15 item 8): a partner checks that the
// statement and the contract it holds are the ones main wrote for it, with no file from main's
// folder and no trust in the channel it came over.
//
// Signed like release metadata (trust/signed_metadata.h): a DSSE envelope of payload type
// kFeeStatementPayloadType, signed by a release key that main's root metadata certifies; the
// partner verifies it against the root key it pinned at enrollment. The payload names the
// partner, the period, the SHA-256 of the statement CSV and of the contract's TOML bytes, and when
// main wrote it:
//   {"_type":"fee-statement","contract_sha256":"<hex>","partner":"...","period":"2026-11",
//    "statement_sha256":"<hex>","written":<unix s>}   (canonical JSON)
// Main sends the envelope with the statement (GET /v1/ledger/statement, field "signature");
// the partner keeps it beside the statement (signature.json) and checks it again whenever it
// verifies the statement. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/ed25519.h"

namespace tieup::sync {

inline constexpr std::string_view kFeeStatementPayloadType =
    "application/vnd.tieup.fee-statement+json";

struct StatementAttestation {
  std::string partner;
  std::string period;            // the statement's period label
  std::string statement_sha256;  // lower-case hex SHA-256 of the CSV bytes
  std::string contract_sha256;   // lower-case hex SHA-256 of the contract's TOML bytes
  int64_t written = 0;           // unix seconds, main's clock
  friend bool operator==(const StatementAttestation&, const StatementAttestation&) = default;
};

// The canonical payload of `a`.
std::string EncodeStatementAttestation(const StatementAttestation& a);
// Parses a payload strictly (unknown, missing or mistyped fields, hashes that are not 64
// lower-case hex digits, an empty partner or period): kInvalidArgument naming the field.
Result<StatementAttestation> ParseStatementAttestation(std::string_view payload);

// The envelope JSON of `a` signed by `release_key`.
std::string SignStatementAttestation(const Ed25519PrivateKey& release_key,
                                     const StatementAttestation& a);

// Checks a statement's signature envelope against the pinned root (root metadata as
// VerifyRootMetadata at `now`), then that it is signed by a certified release key
// (kUnauthenticated otherwise), is for `expected_partner` (kPermissionDenied) and names exactly
// `csv` and `contract` by their SHA-256 (kDataLoss: the statement or contract held is not the
// one main signed). Returns the attestation.
Result<StatementAttestation> VerifyStatementSignature(const Ed25519PublicKey& pinned_root,
                                                      std::string_view root_envelope_json,
                                                      std::string_view signature_envelope_json,
                                                      std::string_view expected_partner,
                                                      std::string_view csv,
                                                      std::string_view contract, int64_t now);

}  // namespace tieup::sync

#include "sync/statement_signature.h"

#include <boost/json.hpp>

#include "crypto/hash.h"
#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace {

namespace json = boost::json;

Status Bad(const std::string& what) {
  return Status::InvalidArgument("fee statement signature: " + what);
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> Text(const json::object& o, std::string_view key, size_t max_bytes) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return Bad("field '" + std::string(key) + "' is missing or not a string");
  }
  if (v->as_string().size() > max_bytes) {
    return Bad("field '" + std::string(key) + "' is longer than " + std::to_string(max_bytes));
  }
  return std::string(v->as_string());
}

}  // namespace

std::string EncodeStatementAttestation(const StatementAttestation& a) {
  json::object o;
  o["_type"] = "fee-statement";
  o["contract_sha256"] = a.contract_sha256;
  o["partner"] = a.partner;
  o["period"] = a.period;
  o["statement_sha256"] = a.statement_sha256;
  o["written"] = a.written;
  return CanonicalJson(o);
}

Result<StatementAttestation> ParseStatementAttestation(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return Bad("the payload is not a JSON object");
  const json::object& o = v.as_object();
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    if (k != "_type" && k != "contract_sha256" && k != "partner" && k != "period" &&
        k != "statement_sha256" && k != "written") {
      return Bad("unknown field '" + std::string(k.substr(0, 40)) + "'");
    }
  }
  ASSIGN_OR_RETURN(std::string type, Text(o, "_type", 32));
  if (type != "fee-statement") return Bad("_type '" + type + "' is not 'fee-statement'");
  StatementAttestation a;
  ASSIGN_OR_RETURN(a.partner, Text(o, "partner", 256));
  ASSIGN_OR_RETURN(a.period, Text(o, "period", 64));
  ASSIGN_OR_RETURN(a.statement_sha256, Text(o, "statement_sha256", 64));
  ASSIGN_OR_RETURN(a.contract_sha256, Text(o, "contract_sha256", 64));
  if (a.partner.empty()) return Bad("field 'partner' is empty");
  if (a.period.empty()) return Bad("field 'period' is empty");
  if (!IsHex64(a.statement_sha256)) return Bad("statement_sha256 is not 64 lower-case hex digits");
  if (!IsHex64(a.contract_sha256)) return Bad("contract_sha256 is not 64 lower-case hex digits");
  const json::value* w = o.if_contains("written");
  if (w == nullptr || !w->is_int64() || w->as_int64() < 0) {
    return Bad("field 'written' is missing or not a non-negative integer");
  }
  a.written = w->as_int64();
  if (EncodeStatementAttestation(a) != payload) {
    return Bad("the payload is not in canonical form");
  }
  return a;
}

std::string SignStatementAttestation(const Ed25519PrivateKey& release_key,
                                     const StatementAttestation& a) {
  return EncodeEnvelope(
      SignEnvelope(release_key, kFeeStatementPayloadType, EncodeStatementAttestation(a)));
}

Result<StatementAttestation> VerifyStatementSignature(const Ed25519PublicKey& pinned_root,
                                                      std::string_view root_envelope_json,
                                                      std::string_view signature_envelope_json,
                                                      std::string_view expected_partner,
                                                      std::string_view csv,
                                                      std::string_view contract, int64_t now) {
  ASSIGN_OR_RETURN(
      SignedEnvelope envelope,
      VerifyReleaseKeySigned(pinned_root, root_envelope_json, signature_envelope_json,
                             {kFeeStatementPayloadType}, "fee statement signature", now));
  ASSIGN_OR_RETURN(StatementAttestation a, ParseStatementAttestation(envelope.payload));
  if (a.partner != expected_partner) {
    return Status::PermissionDenied("the fee statement signature is for partner '" + a.partner +
                                    "', not this site ('" + std::string(expected_partner) + "')");
  }
  if (Sha256Hex(csv) != a.statement_sha256) {
    return Status::DataLoss("the statement held here (SHA-256 " + Sha256Hex(csv) +
                            ") is not the one main signed (" + a.statement_sha256 +
                            "): it was changed after main wrote it");
  }
  if (Sha256Hex(contract) != a.contract_sha256) {
    return Status::DataLoss("the contract held here (SHA-256 " + Sha256Hex(contract) +
                            ") is not the one main signed with the statement (" +
                            a.contract_sha256 + ")");
  }
  return a;
}

}  // namespace tieup::sync

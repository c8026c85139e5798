#include "sync/withdrawal.h"

#include <boost/json.hpp>

#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace {

namespace json = boost::json;

constexpr size_t kMaxMessageBytes = 1000;
constexpr size_t kMaxNameBytes = 200;
// How far ahead of the partner's clock main's may be before a message is suspicious.
constexpr int64_t kMaxClockAheadSeconds = 86400;

Status Bad(std::string_view what) {
  return Status::InvalidArgument("withdrawal message: " + std::string(what));
}

Result<std::string> Text(const json::object& o, std::string_view key, size_t max_bytes) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return Bad("field '" + std::string(key) + "' is missing or not a string");
  }
  if (v->get_string().size() > max_bytes) {
    return Bad("field '" + std::string(key) + "' is longer than " + std::to_string(max_bytes) +
               " bytes");
  }
  return std::string(v->get_string());
}

Result<int64_t> Integer(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Bad("field '" + std::string(key) + "' is missing");
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->get_uint64());
  }
  return Bad("field '" + std::string(key) + "' is not an integer");
}

}  // namespace

std::string_view WithdrawalActionName(WithdrawalAction action) {
  return action == WithdrawalAction::kWithdraw ? "withdraw" : "reinstate";
}

std::string_view WithdrawalReasonName(WithdrawalReason reason) {
  switch (reason) {
    case WithdrawalReason::kNone:
      return "";
    case WithdrawalReason::kRevoked:
      return "revoked";
    case WithdrawalReason::kSuspended:
      return "suspended";
    case WithdrawalReason::kExpired:
      return "expired";
  }
  return "";
}

Result<WithdrawalReason> ParseWithdrawalReason(std::string_view name) {
  for (WithdrawalReason r : {WithdrawalReason::kNone, WithdrawalReason::kRevoked,
                             WithdrawalReason::kSuspended, WithdrawalReason::kExpired}) {
    if (WithdrawalReasonName(r) == name) return r;
  }
  return Bad("reason '" + std::string(name) + "' is not one of revoked, suspended, expired");
}

std::string EncodeWithdrawal(const Withdrawal& w) {
  json::object o;
  o["_type"] = "withdrawal";
  o["action"] = WithdrawalActionName(w.action);
  o["expiry_grace"] = w.expiry_grace;
  o["issued"] = w.issued;
  o["main_name"] = w.main_name;
  o["message"] = w.message;
  o["partner"] = w.partner;
  o["reason"] = WithdrawalReasonName(w.reason);
  o["seq"] = w.seq;
  return CanonicalJson(o);
}

Result<Withdrawal> ParseWithdrawal(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec) return Bad("not JSON: " + ec.message());
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad("not a JSON object");
  static constexpr std::string_view kFields[] = {"_type",   "action",    "expiry_grace",
                                                 "issued",  "main_name", "message",
                                                 "partner", "reason",    "seq"};
  for (const auto& kv : *o) {
    bool known = false;
    for (std::string_view f : kFields) known = known || kv.key() == f;
    if (!known) return Bad("unknown field '" + std::string(kv.key()) + "'");
  }
  ASSIGN_OR_RETURN(std::string type, Text(*o, "_type", 32));
  if (type != "withdrawal") return Bad("_type is '" + type + "', not 'withdrawal'");
  Withdrawal w;
  ASSIGN_OR_RETURN(std::string action, Text(*o, "action", 32));
  if (action == "withdraw") {
    w.action = WithdrawalAction::kWithdraw;
  } else if (action == "reinstate") {
    w.action = WithdrawalAction::kReinstate;
  } else {
    return Bad("action '" + action + "' is not 'withdraw' or 'reinstate'");
  }
  ASSIGN_OR_RETURN(std::string reason, Text(*o, "reason", 32));
  ASSIGN_OR_RETURN(w.reason, ParseWithdrawalReason(reason));
  if ((w.action == WithdrawalAction::kWithdraw) == (w.reason == WithdrawalReason::kNone)) {
    return Bad(w.action == WithdrawalAction::kWithdraw
                   ? "a withdrawal needs a reason (revoked, suspended or expired)"
                   : "a reinstatement has no reason");
  }
  ASSIGN_OR_RETURN(w.partner, Text(*o, "partner", kMaxNameBytes));
  if (w.partner.empty()) return Bad("field 'partner' is empty");
  ASSIGN_OR_RETURN(w.main_name, Text(*o, "main_name", kMaxNameBytes));
  ASSIGN_OR_RETURN(w.message, Text(*o, "message", kMaxMessageBytes));
  ASSIGN_OR_RETURN(w.issued, Integer(*o, "issued"));
  if (w.issued < 0) return Bad("field 'issued' is negative");
  ASSIGN_OR_RETURN(w.expiry_grace, Integer(*o, "expiry_grace"));
  if (w.expiry_grace < 0 || w.expiry_grace > kMaxGraceSeconds) {
    return Bad("field 'expiry_grace' must be between 0 and " + std::to_string(kMaxGraceSeconds) +
               " seconds");
  }
  ASSIGN_OR_RETURN(int64_t seq, Integer(*o, "seq"));
  if (seq < 1) return Bad("field 'seq' must be at least 1");
  w.seq = static_cast<uint64_t>(seq);
  return w;
}

std::string SignWithdrawal(const Ed25519PrivateKey& release_key, const Withdrawal& w) {
  return EncodeEnvelope(SignEnvelope(release_key, kWithdrawalPayloadType, EncodeWithdrawal(w)));
}

Result<Withdrawal> VerifyWithdrawal(const Ed25519PublicKey& pinned_root,
                                    std::string_view root_envelope_json,
                                    std::string_view withdrawal_envelope_json,
                                    std::string_view expected_partner, uint64_t last_seq,
                                    int64_t now) {
  ASSIGN_OR_RETURN(SignedEnvelope envelope,
                   VerifyReleaseKeySigned(pinned_root, root_envelope_json, withdrawal_envelope_json,
                                          {kWithdrawalPayloadType}, "withdrawal message", now));
  ASSIGN_OR_RETURN(Withdrawal w, ParseWithdrawal(envelope.payload));
  if (w.partner != expected_partner) {
    return Status::PermissionDenied("withdrawal message is for partner '" + w.partner +
                                    "', not for this site ('" + std::string(expected_partner) +
                                    "'): refusing it");
  }
  if (w.seq <= last_seq) {
    return Status::FailedPrecondition("withdrawal message number " + std::to_string(w.seq) + " (" +
                                      std::string(WithdrawalActionName(w.action)) +
                                      ") is not newer than number " + std::to_string(last_seq) +
                                      ", already accepted: refusing a replay of an old message");
  }
  if (w.issued > now + kMaxClockAheadSeconds) {
    return Status::InvalidArgument("withdrawal message was issued at " + std::to_string(w.issued) +
                                   ", more than a day ahead of this site's clock: refusing it");
  }
  return w;
}

}  // namespace tieup::sync

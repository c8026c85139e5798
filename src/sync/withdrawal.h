// Withdrawal of a partner's tie-up pages (DESIGN.md "Pages on a partner", Withdrawal; issue 15
// item 4): the message main signs when it revokes or suspends a partnership, and the one it
// signs when a suspension ends (a reinstatement).
//
// A withdrawal is signed like release metadata (trust/signed_metadata.h): a DSSE envelope of
// payload type kWithdrawalPayloadType, signed by a release key that main's root metadata
// certifies, so a partner verifies it against the root key it pinned at enrollment and needs no
// channel it trusts (a revoked partner may fetch it without its certificate). The payload names
// the partner, what happens (withdraw or reinstate), why, a sentence for people, when, and a
// sequence number that grows with every message main signs for that partner: a partner accepts
// only a number above the last one it accepted, so an old withdrawal replayed after a
// reinstatement (or an old reinstatement after a revocation) is refused.
//
// Each message states the whole standing of the partnership's tie-up pages, so only the newest
// counts: withdrawn (and why) or served ("reinstate"), and the partnership's expiry grace period
// (how long after a release's `expires` the partner withdraws it by itself when main sends
// nothing newer), which main changes by signing a new message with the same standing.
//
// Payload (canonical JSON): {"_type":"withdrawal","action":"withdraw"|"reinstate",
// "expiry_grace":<seconds>,"issued":<unix s>,"main_name":"...","message":"...","partner":"...",
// "reason":"revoked"|"suspended"|"expired"|"" (empty iff reinstate),"seq":N}.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/ed25519.h"

namespace tieup::sync {

inline constexpr std::string_view kWithdrawalPayloadType = "application/vnd.tieup.withdrawal+json";

// The default grace period after a tie-up release's `expires` before the partner withdraws it
// (until main signs another), and the longest main may set.
inline constexpr int64_t kDefaultExpiryGraceSeconds = 7 * 86400;
inline constexpr int64_t kMaxGraceSeconds = 10LL * 365 * 86400;

enum class WithdrawalAction { kWithdraw, kReinstate };
std::string_view WithdrawalActionName(WithdrawalAction action);  // "withdraw", "reinstate"

// Why the tie-up pages are withdrawn. kNone only for a reinstatement.
enum class WithdrawalReason { kNone, kRevoked, kSuspended, kExpired };
// "", "revoked", "suspended", "expired"
std::string_view WithdrawalReasonName(WithdrawalReason reason);
Result<WithdrawalReason> ParseWithdrawalReason(std::string_view name);

struct Withdrawal {
  std::string partner;  // the partner whose tie-up pages this is about
  WithdrawalAction action = WithdrawalAction::kWithdraw;
  WithdrawalReason reason = WithdrawalReason::kRevoked;
  std::string main_name;  // main's name, for the partner's notice page ("Example Shop")
  std::string message;    // a sentence for the partner manager, at most 1000 bytes
  int64_t issued = 0;     // unix seconds, main's clock
  uint64_t seq = 0;       // per partner, from 1, grows with every message
  int64_t expiry_grace = kDefaultExpiryGraceSeconds;  // seconds, at most kMaxGraceSeconds

  friend bool operator==(const Withdrawal&, const Withdrawal&) = default;
};

// The canonical payload of `w`.
std::string EncodeWithdrawal(const Withdrawal& w);
// Parses a payload strictly (unknown, missing or mistyped fields, a reason that does not match
// the action, seq 0, an empty partner): kInvalidArgument naming the field.
Result<Withdrawal> ParseWithdrawal(std::string_view payload);

// The envelope JSON of `w` signed by `release_key`.
std::string SignWithdrawal(const Ed25519PrivateKey& release_key, const Withdrawal& w);

// Checks a withdrawal envelope and returns its message:
// - root metadata: as VerifyRootMetadata (pinned root, not expired at `now`);
// - envelope: payload type kWithdrawalPayloadType and a valid signature by a release key the
//   root certifies (kUnauthenticated otherwise: forged, unsigned, another key);
// - payload: well formed (kInvalidArgument), for `expected_partner` (kPermissionDenied: another
//   partner's withdrawal), seq above `last_seq` (kFailedPrecondition: a replay of an old
//   message), issued at most a day after `now` (kInvalidArgument: main's clock is that far off,
//   or the message is not genuine).
Result<Withdrawal> VerifyWithdrawal(const Ed25519PublicKey& pinned_root,
                                    std::string_view root_envelope_json,
                                    std::string_view withdrawal_envelope_json,
                                    std::string_view expected_partner, uint64_t last_seq,
                                    int64_t now);

}  // namespace tieup::sync

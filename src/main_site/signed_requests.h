// Per-message signatures on partners' requests to main's sync port (DESIGN.md "Trust",
// Requests between sites), as main's shop and user endpoints check them.
//
// A signed request carries an RFC 9421 signature (trust/request_signature.h, label "tieup") made
// with the partner's sync key: keyid = the partner id, which must be the TLS-authenticated peer;
// the signature covers the request, its body digest, Content-Type and the header
// Tieup-Certificate (base64 of the partner's DER certificate). Main checks that the certificate
// was issued by its partnership CA for that partner and verifies the signature with the
// certificate's Ed25519 key; a replayed nonce or an altered request is refused.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "net/http_message.h"
#include "store/database.h"

namespace tieup {

// What a verified request proves: who signed it, with which nonce and certificate.
struct SignedPartnerRequest {
  std::string partner;          // the TLS-authenticated peer, which signed the request
  std::string nonce;            // the signature's nonce (unique per partner while valid)
  std::string certificate_b64;  // the Tieup-Certificate header (base64 DER)
};

// Checks signed requests from partners. Thread-safe. Checked certificates are remembered
// (bounded) so the next request skips the X.509 work. Seen nonces are kept in memory and in
// `db` (table main_seen_nonces) until their signatures expire, so a request captured on the
// wire cannot be replayed after main restarts either.
class PartnerRequestVerifier {
 public:
  // Reads main's partnership CA certificate from SITE_DIR/keys; `db` must outlive the verifier.
  static Result<std::unique_ptr<PartnerRequestVerifier>> Create(Env& env,
                                                                const std::string& site_dir,
                                                                Database& db);
  ~PartnerRequestVerifier();

  // Verifies `request`, which must come from `request.peer_site_id()`, an enrolled partner.
  // Unauthenticated (with what was wrong): no partner peer, a missing or foreign certificate,
  // a key id other than the peer, a bad, expired or missing signature, an altered body;
  // AlreadyExists: a replayed nonce; ResourceExhausted: the replay cache is full.
  Result<SignedPartnerRequest> Verify(const HttpRequest& request);

 private:
  class Impl;
  explicit PartnerRequestVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The SQL creating `table`, which keeps verified requests as proof of who asked for what: id,
// at (unix seconds), partner, nonce, method, target, then `more_columns` (SQL column
// definitions separated by commas), and an index `table`_partner on (partner, at). For Migrate.
std::string SignedRequestsTableSql(std::string_view table, std::string_view more_columns);

// A JSON answer of a sync endpoint (Content-Type application/json, Cache-Control no-store).
HttpResponse SyncJsonReply(int status, std::string body);

}  // namespace tieup

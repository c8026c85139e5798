// TLS contexts for the sync port: TLS 1.3 only, mutual authentication, trust in the partnership
// CA only (never the system roots), and a check that the peer's certificate names the site we
// expect and is not revoked (DESIGN.md "Trust", Channel).
//
// The check runs inside OpenSSL's certificate verification, so a refused peer fails the
// handshake itself; PeerRefusalReason() then says why, for the log. After a successful
// handshake, PeerSiteId() names the authenticated peer.
//
// Session resumption is switched off on both sides, so every connection runs the full check
// (a resumed session would skip the revocation hook).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/x509.h"

namespace tieup {

// Which peers a context accepts, beyond "has a certificate from the partnership CA".
// Copied into the context; the functions must be thread-safe (they run on whatever thread
// performs a handshake) and must outlive the context.
struct PeerCheck {
  // When non-empty: the peer must be exactly this site (a partner expects "main").
  std::string expected_site_id;
  // When expected_site_id is empty: the peer is accepted iff this returns true for its site id
  // (main accepts any enrolled partner). Null with an empty expected_site_id accepts any site
  // id the CA certified.
  std::function<bool(std::string_view site_id)> is_accepted;
  // Returns true iff the peer's certificate (by its site id and hex SHA-256 fingerprint) is
  // revoked. Null: nothing is revoked.
  std::function<bool(std::string_view site_id, std::string_view cert_fingerprint)> is_revoked;
  // Server only: also accept a client that presents no certificate (a partner enrolling has
  // none yet). A certificate that IS presented is still checked in full. PeerSiteId() is then
  // kUnauthenticated for such a client, and the server must refuse it everything but
  // enrollment.
  bool allow_anonymous_client = false;

  // The peer must be `site_id`.
  static PeerCheck Site(std::string site_id,
                        std::function<bool(std::string_view, std::string_view)> is_revoked = {});
  // The peer may be any site for which `is_accepted` is true.
  static PeerCheck AnyOf(std::function<bool(std::string_view)> is_accepted,
                         std::function<bool(std::string_view, std::string_view)> is_revoked = {});
};

using TlsContextPtr = std::shared_ptr<boost::asio::ssl::context>;

// A server context for the sync port: presents `own_cert` with `own_key`, requires a client
// certificate chaining to `ca_cert` and passing `peer_check`. Fails (kInvalidArgument) when
// the key does not match the certificate or the certificate was not issued by `ca_cert`.
Result<TlsContextPtr> MakeServerContext(const Certificate& ca_cert, const Certificate& own_cert,
                                        const CertificateKey& own_key, PeerCheck peer_check);

// A client context: presents `own_cert`, requires the server's certificate to chain to
// `ca_cert` and pass `peer_check` (or the per-connection SetExpectedPeerSiteId). Host names are
// not checked: the site id in the certificate is the identity.
Result<TlsContextPtr> MakeClientContext(const Certificate& ca_cert, const Certificate& own_cert,
                                        const CertificateKey& own_key, PeerCheck peer_check);

// A client context that presents no certificate but checks the server's in full: a partner
// enrolling, once it has main's CA certificate.
Result<TlsContextPtr> MakeAnonymousClientContext(const Certificate& ca_cert, PeerCheck peer_check);

// A TLS 1.3 client context that does NOT verify the server. Only for enrollment's first step:
// downloading main's CA certificate, which the caller must then compare with the fingerprint
// the main site manager handed over with the enrollment token. Never use it for anything else.
Result<TlsContextPtr> MakeBootstrapClientContext();

// A client context for the public web (main probing a partner's https public URL): TLS 1.2 or
// newer, the server's certificate verified against the system's trusted CAs and, when
// `extra_ca_file` is set, the PEM certificates in that file too (a private CA). The host name
// is checked per connection (HttpClientOptions::verify_host_name). InvalidArgument naming the
// file when it does not load.
Result<TlsContextPtr> MakeWebClientContext(const std::string& extra_ca_file = "");

// For one connection, before its handshake: the peer must be exactly `site_id`, whatever the
// context's PeerCheck says about accepted ids (revocation is still checked). This is how main,
// with one client context, connects to partner 'shop-a' and refuses anyone else.
Status SetExpectedPeerSiteId(SSL* ssl, std::string_view site_id);

// After a successful handshake on a connection built from these contexts: the peer's site id.
// kUnauthenticated when there is no verified peer certificate.
Result<std::string> PeerSiteId(SSL* ssl);

// The verified peer of a connection: the site its certificate names and that certificate's
// hex SHA-256 fingerprint (as CertificateFingerprint gives it), so that a server can check the
// peer's standing again on every request, not only at the handshake.
struct PeerIdentity {
  std::string site_id;
  std::string certificate_fingerprint;
};
// As PeerSiteId, with the certificate's fingerprint.
Result<PeerIdentity> VerifiedPeer(SSL* ssl);
template <typename NextLayer>
Result<std::string> PeerSiteId(boost::asio::ssl::stream<NextLayer>& stream) {
  return PeerSiteId(stream.native_handle());
}

// After a failed handshake: why this side refused the peer's certificate ("peer certificate
// names site 'shop-b', but 'shop-a' was expected"); "" when it did not refuse one.
std::string PeerRefusalReason(SSL* ssl);
template <typename NextLayer>
std::string PeerRefusalReason(boost::asio::ssl::stream<NextLayer>& stream) {
  return PeerRefusalReason(stream.native_handle());
}

}  // namespace tieup

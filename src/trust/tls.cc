#include "trust/tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <exception>

namespace tieup {
namespace {

namespace ssl = boost::asio::ssl;

// --- per-connection strings kept in the SSL object's ex_data ---

void FreeString(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                void* /*argp*/) {
  delete static_cast<std::string*>(ptr);
}

int ReasonIndex() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeString);
  return idx;
}

int ExpectedPeerIndex() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeString);
  return idx;
}

bool SetString(SSL* ssl, int idx, std::string_view value) {
  auto* fresh = new std::string(value);
  auto* old = static_cast<std::string*>(SSL_get_ex_data(ssl, idx));
  if (SSL_set_ex_data(ssl, idx, fresh) != 1) {
    delete fresh;
    return false;
  }
  delete old;
  return true;
}

const std::string* GetString(const SSL* ssl, int idx) {
  return static_cast<const std::string*>(SSL_get_ex_data(ssl, idx));
}

std::string CommonNameOf(X509* x) {
  if (x == nullptr) return "";
  auto cert = CertificateFromX509(x);
  return cert.ok() ? cert->common_name() : "";
}

Result<Certificate> FromX509(X509* x) {
  auto cert = CertificateFromX509(x);
  if (!cert.ok()) return Status::Unauthenticated("peer " + cert.status().message());
  return cert;
}

// Decides whether the verified leaf certificate `x` is a peer we accept; "" when it is, else
// the reason.
std::string CheckLeaf(const PeerCheck& check, SSL* ssl, X509* x) {
  auto cert = FromX509(x);
  if (!cert.ok()) return "peer certificate is unreadable: " + cert.status().message();
  auto site = CertificateSiteId(*cert);
  if (!site.ok()) return "peer " + site.status().message();
  const std::string* override_id = ssl == nullptr ? nullptr : GetString(ssl, ExpectedPeerIndex());
  const std::string& expected = override_id != nullptr ? *override_id : check.expected_site_id;
  if (!expected.empty()) {
    if (*site != expected) {
      return "peer certificate names site '" + *site + "', but '" + expected + "' was expected";
    }
  } else if (check.is_accepted && !check.is_accepted(*site)) {
    return "peer certificate names site '" + *site +
           "', which is not an enrolled partner of this site";
  }
  const std::string fingerprint = CertificateFingerprint(*cert);
  if (check.is_revoked && check.is_revoked(*site, fingerprint)) {
    return "site '" + *site + "' presented certificate sha256:" + fingerprint.substr(0, 16) +
           "..., which is revoked: refusing the connection";
  }
  return "";
}

bool VerifyPeer(const PeerCheck& check, bool preverified, ssl::verify_context& vctx) {
  X509_STORE_CTX* store = vctx.native_handle();
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto refuse = [&](const std::string& reason) {
    // The first reason is the root cause; later calls for the same chain only repeat it.
    if (ssl != nullptr && GetString(ssl, ReasonIndex()) == nullptr) {
      SetString(ssl, ReasonIndex(), reason);
    }
    return false;
  };
  X509* current = X509_STORE_CTX_get_current_cert(store);
  if (!preverified) {
    const int err = X509_STORE_CTX_get_error(store);
    const std::string what = X509_verify_cert_error_string(err);
    const std::string who = "peer certificate for '" + CommonNameOf(current) + "'";
    switch (err) {
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return refuse(who + " was not issued by this partnership's CA (" + what +
                      "): the peer belongs to another partnership or must enroll again");
      default:
        return refuse(who + " failed verification: " + what);
    }
  }
  if (X509_STORE_CTX_get_error_depth(store) > 0) return true;  // the CA itself
  std::string reason;
  try {
    reason = CheckLeaf(check, ssl, current);
  } catch (const std::exception& e) {
    reason = std::string("peer check failed: ") + e.what();
  }
  if (reason.empty()) return true;
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return refuse(reason);
}

// `own_cert`/`own_key` may both be null for a client that presents no certificate (a partner
// enrolling: it has none yet).
Result<TlsContextPtr> MakeContext(bool server, const Certificate& ca_cert,
                                  const Certificate* own_cert_ptr,
                                  const CertificateKey* own_key_ptr, PeerCheck peer_check) {
  if (!ca_cert.is_ca()) {
    return Status::InvalidArgument("the partnership CA certificate '" + ca_cert.common_name() +
                                   "' is not a CA certificate");
  }
  const bool anonymous = own_cert_ptr == nullptr;
  if (anonymous && (server || own_key_ptr != nullptr)) {
    return Status::Internal("a TLS server, or a client with a key, needs its certificate");
  }
  // An anonymous client checks the CA only; these stand-ins are never used below.
  const Certificate& own_cert = anonymous ? ca_cert : *own_cert_ptr;
  if (!anonymous) {
    RETURN_IF_ERROR(CertificateSiteId(own_cert).status().Annotate("own certificate"));
  }
  if (!anonymous && own_cert.public_key_der() != own_key_ptr->PublicKeyDer()) {
    return Status::InvalidArgument("the site key does not belong to the certificate for '" +
                                   own_cert.common_name() +
                                   "': restore the matching key or enroll again");
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(ca_cert.der().data());
  std::unique_ptr<X509, decltype(&X509_free)> ca(
      d2i_X509(nullptr, &p, static_cast<long>(ca_cert.der().size())), &X509_free);
  p = reinterpret_cast<const unsigned char*>(own_cert.der().data());
  std::unique_ptr<X509, decltype(&X509_free)> own(
      d2i_X509(nullptr, &p, static_cast<long>(own_cert.der().size())), &X509_free);
  if (!ca || !own) {
    ERR_clear_error();
    return Status::InvalidArgument("certificate does not parse");
  }
  if (!anonymous && (X509_check_issued(ca.get(), own.get()) != X509_V_OK ||
                     X509_verify(own.get(), X509_get0_pubkey(ca.get())) != 1)) {
    ERR_clear_error();
    return Status::InvalidArgument("own certificate for '" + own_cert.common_name() +
                                   "' was not issued by the partnership CA '" +
                                   ca_cert.common_name() + "': enroll again");
  }

  TlsContextPtr ctx;
  try {
    ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server
                                                : ssl::context::tls_client);
  } catch (const boost::system::system_error& e) {
    return Status::Internal(std::string("creating a TLS context: ") + e.what());
  }
  SSL_CTX* h = ctx->native_handle();
  auto fail = [](std::string_view what) {
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return Status::Internal("configuring TLS (" + std::string(what) + "): " + buf);
  };
  if (SSL_CTX_set_min_proto_version(h, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(h, TLS1_3_VERSION) != 1) {
    return fail("TLS 1.3 only");
  }
  SSL_CTX_set_options(h, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(h, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_num_tickets(h, 0) != 1) return fail("session tickets off");

  // Trust exactly the partnership CA: a fresh store, no default paths.
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr || X509_STORE_add_cert(store, ca.get()) != 1) {
    X509_STORE_free(store);
    return fail("trusting the partnership CA");
  }
  SSL_CTX_set_cert_store(h, store);  // takes ownership
  SSL_CTX_set_verify_depth(h, 1);
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(h), X509_V_FLAG_X509_STRICT);

  if (!anonymous) {
    if (SSL_CTX_use_certificate(h, own.get()) != 1) return fail("own certificate");
    if (SSL_CTX_use_PrivateKey(h, static_cast<EVP_PKEY*>(own_key_ptr->native_handle())) != 1) {
      return fail("own key");
    }
    if (SSL_CTX_check_private_key(h) != 1) return fail("key matches certificate");
  }
  if (server && SSL_CTX_add_client_CA(h, ca.get()) != 1) return fail("client CA list");

  boost::system::error_code ec;
  // A server that allows anonymous clients still verifies any certificate a client presents;
  // the application must then refuse everything but enrollment to a peer without a site id.
  const bool require_cert = !(server && peer_check.allow_anonymous_client);
  ctx->set_verify_mode(
      require_cert ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert : ssl::verify_peer, ec);
  if (ec) return Status::Internal("setting the TLS verify mode: " + ec.message());
  auto check = std::make_shared<const PeerCheck>(std::move(peer_check));
  ctx->set_verify_callback(
      [check](bool preverified, ssl::verify_context& vctx) {
        return VerifyPeer(*check, preverified, vctx);
      },
      ec);
  if (ec) return Status::Internal("setting the TLS verify callback: " + ec.message());
  return ctx;
}

}  // namespace

PeerCheck PeerCheck::Site(std::string site_id,
                          std::function<bool(std::string_view, std::string_view)> is_revoked) {
  PeerCheck c;
  c.expected_site_id = std::move(site_id);
  c.is_revoked = std::move(is_revoked);
  return c;
}

PeerCheck PeerCheck::AnyOf(std::function<bool(std::string_view)> is_accepted,
                           std::function<bool(std::string_view, std::string_view)> is_revoked) {
  PeerCheck c;
  c.is_accepted = std::move(is_accepted);
  c.is_revoked = std::move(is_revoked);
  return c;
}

Result<TlsContextPtr> MakeServerContext(const Certificate& ca_cert, const Certificate& own_cert,
                                        const CertificateKey& own_key, PeerCheck peer_check) {
  return MakeContext(true, ca_cert, &own_cert, &own_key, std::move(peer_check));
}

Result<TlsContextPtr> MakeClientContext(const Certificate& ca_cert, const Certificate& own_cert,
                                        const CertificateKey& own_key, PeerCheck peer_check) {
  return MakeContext(false, ca_cert, &own_cert, &own_key, std::move(peer_check));
}

Result<TlsContextPtr> MakeAnonymousClientContext(const Certificate& ca_cert, PeerCheck peer_check) {
  return MakeContext(false, ca_cert, nullptr, nullptr, std::move(peer_check));
}

namespace {

// A client context that speaks `min_version` (TLS1_2_VERSION, TLS1_3_VERSION) or newer; `what`
// names it in errors.
Result<TlsContextPtr> NewClientContext(int min_version, std::string_view what) {
  TlsContextPtr ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  } catch (const boost::system::system_error& e) {
    return Status::Internal(std::string("creating a TLS context: ") + e.what());
  }
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), min_version) != 1) {
    return Status::Internal("configuring the TLS version of the " + std::string(what));
  }
  return ctx;
}

}  // namespace

Result<TlsContextPtr> MakeBootstrapClientContext() {
  ASSIGN_OR_RETURN(TlsContextPtr ctx, NewClientContext(TLS1_3_VERSION, "bootstrap context"));
  boost::system::error_code ec;
  ctx->set_verify_mode(ssl::verify_none, ec);
  if (ec) return Status::Internal("setting the TLS verify mode: " + ec.message());
  return ctx;
}

Result<TlsContextPtr> MakeWebClientContext(const std::string& extra_ca_file) {
  ASSIGN_OR_RETURN(TlsContextPtr ctx, NewClientContext(TLS1_2_VERSION, "web client context"));
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) return Status::Internal("reading the system's trusted CAs: " + ec.message());
  if (!extra_ca_file.empty()) {
    ctx->load_verify_file(extra_ca_file, ec);
    if (ec) {
      ERR_clear_error();
      return Status::InvalidArgument("cannot load the CA certificates in '" + extra_ca_file +
                                     "' (a PEM file): " + ec.message());
    }
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return Status::Internal("setting the TLS verify mode: " + ec.message());
  return ctx;
}

Status SetExpectedPeerSiteId(SSL* ssl, std::string_view site_id) {
  RETURN_IF_ERROR(ValidateSiteId(site_id));
  if (ssl == nullptr || !SetString(ssl, ExpectedPeerIndex(), site_id)) {
    return Status::Internal("cannot attach the expected peer to the TLS connection");
  }
  return Status::Ok();
}

Result<PeerIdentity> VerifiedPeer(SSL* ssl) {
  X509* peer = ssl == nullptr ? nullptr : SSL_get0_peer_certificate(ssl);
  if (peer == nullptr) {
    return Status::Unauthenticated("the TLS peer presented no certificate");
  }
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    return Status::Unauthenticated("the TLS peer's certificate was not verified");
  }
  ASSIGN_OR_RETURN(Certificate cert, FromX509(peer));
  PeerIdentity id;
  ASSIGN_OR_RETURN(id.site_id, CertificateSiteId(cert));
  id.certificate_fingerprint = CertificateFingerprint(cert);
  return id;
}

Result<std::string> PeerSiteId(SSL* ssl) {
  ASSIGN_OR_RETURN(PeerIdentity id, VerifiedPeer(ssl));
  return std::move(id.site_id);
}

std::string PeerRefusalReason(SSL* ssl) {
  const std::string* reason = ssl == nullptr ? nullptr : GetString(ssl, ReasonIndex());
  return reason == nullptr ? "" : *reason;
}

}  // namespace tieup

#include "partner_site/main_client.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/encoding.h"
#include "crypto/ed25519.h"
#include "net/http_client.h"
#include "net/http_client_pool.h"
#include "site/sync_transport.h"
#include "sync/http_api.h"
#include "trust/request_signature.h"
#include "trust/tls.h"

namespace tieup {
namespace {

constexpr int64_t kSignatureTtlSeconds = 60;

// The Ed25519 key inside a certificate key (OpenSSL keeps the 32-byte seed).
Result<Ed25519PrivateKey> SigningKeyOf(const CertificateKey& key) {
  unsigned char seed[32];
  size_t len = sizeof(seed);
  if (EVP_PKEY_get_raw_private_key(static_cast<EVP_PKEY*>(key.native_handle()), seed, &len) != 1 ||
      len != sizeof(seed)) {
    return Status::Internal("the sync key is not an Ed25519 key: enroll the site again");
  }
  auto k = Ed25519PrivateKey::FromSeed(std::string_view(reinterpret_cast<char*>(seed), len));
  OPENSSL_cleanse(seed, sizeof(seed));
  return k;
}

}  // namespace

class MainClient::Impl {
 public:
  Impl(Env& env, std::string partner_id, SyncEndpoint main, HttpClientOptions options,
       Ed25519PrivateKey key, std::string certificate_b64)
      : env_(env),
        partner_id_(std::move(partner_id)),
        main_(std::move(main)),
        options_(std::move(options)),
        key_(std::move(key)),
        certificate_b64_(std::move(certificate_b64)) {
    bool ipv6 = main_.host.find(':') != std::string::npos;
    authority_ = (ipv6 ? "[" + main_.host + "]" : main_.host) + ":" + std::to_string(main_.port);
  }

  Result<HttpRequest> SignedPost(std::string_view path, std::string body) {
    HttpRequest req("POST", path);
    req.AddHeader("Host", authority_);
    req.AddHeader("Content-Type", "application/json");
    req.AddHeader("Accept", "application/json");
    req.AddHeader("Tieup-Certificate", certificate_b64_);
    HttpFields covered = {{"content-type", "application/json"},
                          {"tieup-certificate", certificate_b64_}};
    ASSIGN_OR_RETURN(HttpFields sig,
                     SignRequest(env_, key_, partner_id_, {"POST", authority_, path}, covered, body,
                                 env_.NowSeconds(), kSignatureTtlSeconds));
    for (const auto& [name, value] : sig) req.AddHeader(name, value);
    req.SetBody(std::move(body));
    return req;
  }

  // Sends `request` on a kept connection (or a new one with `fresh`). *stale is set when it
  // failed only because main had closed that kept connection before answering: nothing was
  // processed, and the caller may send the request again on a new connection.
  Result<HttpResponse> Send(const HttpRequest& request, bool fresh = false, bool* stale = nullptr) {
    return connections_.Fetch(request, fresh, stale);
  }

  Result<HttpResponse> SendOnceMoreIfStale(const HttpRequest& request) {
    return connections_.FetchOnceMoreIfStale(request);
  }

  Result<HttpResponse> Post(std::string_view path, const std::string& body) {
    for (int attempt = 0;; ++attempt) {
      // A new signature each time: main's replay cache refuses a nonce it has seen.
      ASSIGN_OR_RETURN(HttpRequest req, SignedPost(path, body));
      bool stale = false;
      Result<HttpResponse> r = Send(req, /*fresh=*/attempt > 0, &stale);
      if (r.ok()) return r;
      if (attempt == 0 && stale) continue;
      return r.status().Annotate("main at " + main_.ToUrl());
    }
  }

  Result<HttpResponse> Get(std::string_view path) {
    HttpRequest req("GET", path);
    req.AddHeader("Host", authority_);
    req.AddHeader("Accept", "application/json");
    Result<HttpResponse> r = Send(req);  // a GET is repeated by HttpClient itself
    if (!r.ok()) return r.status().Annotate("main at " + main_.ToUrl());
    if (r->status() < 200 || r->status() >= 300) return sync::StatusFromResponse(*r);
    return r;
  }

 private:
  Env& env_;
  const std::string partner_id_;
  const SyncEndpoint main_;
  const HttpClientOptions options_;
  const Ed25519PrivateKey key_;
  const std::string certificate_b64_;
  std::string authority_;
  // Kept connections to main's sync port, not reused after 3 s unused (the port closes them
  // at 5 s).
  static HttpClientPoolOptions KeepOptions() {
    HttpClientPoolOptions o;
    o.max_idle = kSyncIdleTimeout - std::chrono::seconds(2);
    return o;
  }
  HttpClientPool connections_{main_.host, main_.port, options_, KeepOptions()};
};

MainClient::MainClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MainClient::~MainClient() = default;

Result<std::unique_ptr<MainClient>> MainClient::Open(Env& env, const std::string& site_dir,
                                                     const SiteConfig& config) {
  ASSIGN_OR_RETURN(SyncIdentity id, LoadSyncIdentity(env, site_dir));
  if (config.main_sync_url.empty()) {
    return Status::FailedPrecondition("site.toml has no main_sync_url: enroll first");
  }
  ASSIGN_OR_RETURN(SyncEndpoint main, ParseSyncUrl(config.main_sync_url));
  ASSIGN_OR_RETURN(TlsContextPtr tls,
                   MakeClientContext(id.ca, id.certificate, id.key, PeerCheck::Site("main")));
  ASSIGN_OR_RETURN(Ed25519PrivateKey key, SigningKeyOf(id.key));
  HttpClientOptions o;
  o.tls = tls;
  o.expected_peer_site_id = "main";
  o.connect_timeout = std::chrono::seconds(2);
  o.request_timeout = std::chrono::seconds(10);
  o.max_body_bytes = 8ull << 20;
  return std::unique_ptr<MainClient>(
      new MainClient(std::make_unique<Impl>(env, config.id, std::move(main), std::move(o),
                                            std::move(key), Base64Encode(id.certificate.der()))));
}

Result<HttpResponse> MainClient::Post(std::string_view path, const std::string& body) {
  return impl_->Post(path, body);
}

Result<HttpResponse> MainClient::Call(std::string_view path, const std::string& body) {
  ASSIGN_OR_RETURN(HttpResponse r, impl_->Post(path, body));
  if (r.status() != 200) return sync::StatusFromResponse(r);
  return r;
}

Result<HttpResponse> MainClient::Get(std::string_view path) { return impl_->Get(path); }

Result<HttpRequest> MainClient::SignedPost(std::string_view path, std::string body) {
  return impl_->SignedPost(path, std::move(body));
}

Result<HttpResponse> MainClient::Send(const HttpRequest& request) {
  return impl_->SendOnceMoreIfStale(request);
}

}  // namespace tieup

#include "main_site/main_sync.h"

#include <algorithm>
#include <boost/json.hpp>

#include "base/encoding.h"
#include "crypto/ed25519.h"
#include "main_site/enrollment_store.h"
#include "main_site/own_site.h"
#include "trust/signed_metadata.h"

namespace tieup {
namespace {

constexpr int64_t kCaValiditySeconds = 10LL * 365 * 86400;
constexpr int64_t kSiteCertValiditySeconds = 2LL * 365 * 86400;
constexpr int64_t kRootValiditySeconds = 5LL * 365 * 86400;
// What one address may send to the anonymous enrollment endpoints (/v1/ca, /v1/enroll): an
// enrolling partner needs two requests; a network's worth of partners enrolled from one
// address (a set-up script) fits in the burst.
constexpr double kEnrollRequestsPerMinute = 60;
constexpr double kEnrollBurst = 60;

std::string KeysPath(const std::string& site_dir, const char* name) {
  return site_dir + "/keys/" + name;
}

const std::vector<Migration>& MainMigrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE main_enrolled (partner TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
       "serial TEXT NOT NULL, issued INTEGER NOT NULL)"},
  };
  return steps;
}

HttpResponse JsonResponse(int status, const boost::json::object& body) {
  HttpResponse r(status);
  r.AddHeader("Content-Type", "application/json");
  r.SetBody(boost::json::serialize(body));
  return r;
}

}  // namespace

Status InitMainTrust(Env& env, const std::string& site_dir, const std::string& site_name) {
  if (env.FileExists(KeysPath(site_dir, "ca.key"))) {
    return Status::AlreadyExists("'" + site_dir + "' already has a partnership CA");
  }
  ASSIGN_OR_RETURN(
      CertificateAuthority ca,
      CertificateAuthority::Create(env, site_name + " partnership CA", kCaValiditySeconds));
  RETURN_IF_ERROR(ca.Save(KeysPath(site_dir, "ca.key"), CaCertPath(site_dir)));
  // Main's own sync identity, from its own CA.
  CertificateKey key = CertificateKey::Generate(env);
  ASSIGN_OR_RETURN(std::string csr, MakeCertificateRequest(key, "main"));
  ASSIGN_OR_RETURN(Certificate cert, ca.SignRequest(csr, "main", kSiteCertValiditySeconds));
  RETURN_IF_ERROR(SaveCertificateKey(env, SyncKeyPath(site_dir), key));
  RETURN_IF_ERROR(WriteFileAtomic(env, SyncCertPath(site_dir), cert.ToPem()));
  // TUF-style keys: the offline-able root certifies the online release key.
  Ed25519PrivateKey root = Ed25519PrivateKey::Generate(env);
  Ed25519PrivateKey release = Ed25519PrivateKey::Generate(env);
  RETURN_IF_ERROR(SavePrivateKey(env, KeysPath(site_dir, "root.key"), root));
  RETURN_IF_ERROR(SavePrivateKey(env, KeysPath(site_dir, "release.key"), release));
  RootMetadata meta;
  meta.version = 1;
  meta.expires = env.NowSeconds() + kRootValiditySeconds;
  meta.root_key = root.public_key();
  meta.release_keys = {release.public_key()};
  ASSIGN_OR_RETURN(SignedEnvelope env_root, SignRootMetadata(root, meta));
  return WriteFileAtomic(env, KeysPath(site_dir, "root.json"), EncodeEnvelope(env_root));
}

MainSync::MainSync(Env& env, std::string site_dir, SiteConfig config, Database& db,
                   std::shared_ptr<Logger> logger)
    : env_(env),
      site_dir_(std::move(site_dir)),
      config_(std::move(config)),
      db_(db),
      logger_(logger ? std::move(logger) : NewNullLogger()) {
  ClientLimitOptions enroll;
  enroll.requests_per_second = kEnrollRequestsPerMinute / 60.0;
  enroll.burst = kEnrollBurst;
  enroll_limiter_ = std::make_unique<ClientLimiter>(enroll);
}

MainSync::~MainSync() = default;

Result<std::unique_ptr<MainSync>> MainSync::Open(Env& env, const std::string& site_dir,
                                                 const SiteConfig& config, Database& db,
                                                 std::shared_ptr<Logger> logger) {
  if (config.role != SiteRole::kMain) {
    return Status::FailedPrecondition("'" + site_dir + "' is not a main site");
  }
  std::unique_ptr<MainSync> m(new MainSync(env, site_dir, config, db, std::move(logger)));
  RETURN_IF_ERROR(Migrate(db, "main_site", MainMigrations()));
  ASSIGN_OR_RETURN(
      CertificateAuthority ca,
      CertificateAuthority::Load(env, KeysPath(site_dir, "ca.key"), CaCertPath(site_dir)));
  m->ca_ = std::make_unique<CertificateAuthority>(std::move(ca));
  ASSIGN_OR_RETURN(SyncIdentity id, LoadSyncIdentity(env, site_dir));
  m->identity_ = std::make_unique<SyncIdentity>(std::move(id));
  ASSIGN_OR_RETURN(Ed25519PrivateKey root, LoadPrivateKey(env, KeysPath(site_dir, "root.key")));
  m->root_public_key_ = root.public_key().bytes();
  ASSIGN_OR_RETURN(Ed25519PrivateKey release,
                   LoadPrivateKey(env, KeysPath(site_dir, "release.key")));
  ASSIGN_OR_RETURN(m->root_envelope_, env.ReadFile(KeysPath(site_dir, "root.json")));

  // Partner releases live in their own blob store: main's own pages are pruned on their own
  // schedule, and must never take partner blobs with them.
  const std::string blobs = PartnerBlobsDir(config, site_dir);
  RETURN_IF_ERROR(CreateDirs(env, blobs));
  m->partner_blobs_ = std::make_unique<content::BlobStore>(env, blobs);
  ASSIGN_OR_RETURN(m->token_store_, OpenDatabaseTokenStore(env, db, site_dir));
  m->tokens_ = std::make_unique<EnrollmentTokens>(env, *m->token_store_);

  ASSIGN_OR_RETURN(m->client_context_,
                   MakeClientContext(m->identity_->ca, m->identity_->certificate, m->identity_->key,
                                     PeerCheck::AnyOf([](std::string_view) { return false; })));
  MainSync* self = m.get();
  m->link_ = std::make_unique<sync::HttpPartnerLink>(
      [self](const std::string& partner_id) { return self->ConnectToPartner(partner_id); });

  sync::PublisherOptions po;
  po.authoring_dir = AuthoringDir(config, site_dir);
  po.public_url = config.public_url;  // [site] public_url; kind link needs it
  po.root_envelope = m->root_envelope_;
  po.site_variables = config.variables;
  po.site_variables["site.name"] = config.name;
  po.site_variables["site.id"] = config.id;
  ASSIGN_OR_RETURN(m->catalog_, CatalogPages::Open(env, site_dir, config, db));
  po.products = [catalog = m->catalog_] { return catalog->Read(); };
  ASSIGN_OR_RETURN(m->publisher_, sync::Publisher::Open(env, db, *m->partner_blobs_, *m->link_,
                                                        std::move(release), po));
  return m;
}

Result<EnrollmentCode> MainSync::AddPartner(const sync::Partnership& partnership,
                                            int64_t ttl_seconds) {
  RETURN_IF_ERROR(publisher_->AddPartnership(partnership));
  return NewEnrollmentCode(partnership.id, ttl_seconds);
}

Result<EnrollmentCode> MainSync::NewEnrollmentCode(const std::string& partner_id,
                                                   int64_t ttl_seconds) {
  ASSIGN_OR_RETURN(sync::Partnership p, publisher_->GetPartnership(partner_id));
  if (p.revoked) {
    return Status::FailedPrecondition("partner '" + partner_id + "' is revoked");
  }
  ASSIGN_OR_RETURN(std::string token, tokens_->IssueToken(partner_id, ttl_seconds));
  EnrollmentCode code;
  code.ca_fingerprint = CertificateFingerprint(ca_->certificate());
  code.code = token + "." + code.ca_fingerprint;
  code.expires = env_.NowSeconds() + ttl_seconds;
  return code;
}

Status MainSync::Revoke(const std::string& partner_id) {
  RETURN_IF_ERROR(publisher_->RevokePartnership(partner_id));
  logger_->warn("partner '{}' revoked: its certificate is refused from now on", partner_id);
  return Status::Ok();
}

bool MainSync::IsAccepted(std::string_view partner_id) {
  auto p = publisher_->GetPartnership(std::string(partner_id));
  return p.ok() && !p->revoked;
}

bool MainSync::InGoodStanding(std::string_view partner_id, std::string_view fingerprint) {
  return !IsRevoked(partner_id, fingerprint);
}

bool MainSync::IsRevoked(std::string_view partner_id, std::string_view fingerprint) {
  // Only the newest certificate issued to a partner is valid: re-enrolling retires the old one.
  auto rows = db_.Query("SELECT fingerprint FROM main_enrolled WHERE partner = ?",
                        {std::string(partner_id)});
  if (!rows.ok() || rows->empty()) return true;
  return (*rows)[0].Text(0) != fingerprint || !IsAccepted(partner_id);
}

Result<TlsContextPtr> MainSync::ServerContext() {
  PeerCheck check = PeerCheck::AnyOf(
      [this](std::string_view id) { return IsAccepted(id); },
      [this](std::string_view id, std::string_view fp) { return IsRevoked(id, fp); });
  check.allow_anonymous_client = true;
  return MakeServerContext(identity_->ca, identity_->certificate, identity_->key, std::move(check));
}

namespace {
// True iff `path` is routed by `prefix`: a subtree for a prefix ending in '/', else exact.
bool RouteMatches(std::string_view prefix, std::string_view path) {
  if (!prefix.empty() && prefix.back() == '/') return path.substr(0, prefix.size()) == prefix;
  return path == prefix;
}
}  // namespace

void MainSync::AddSyncRoute(std::string prefix, SyncRoute handler) {
  routes_.emplace_back(std::move(prefix), std::move(handler));
}

void MainSync::AddAnonymousSyncRoute(std::string path, SyncRoute handler) {
  anonymous_routes_.emplace_back(std::move(path), std::move(handler));
}

Result<sync::HttpRoundTrip> MainSync::ConnectToPartner(const std::string& partner_id,
                                                       std::chrono::milliseconds request_timeout) {
  ASSIGN_OR_RETURN(sync::Partnership p, publisher_->GetPartnership(partner_id));
  if (p.sync_url.empty()) {
    return Status::FailedPrecondition("partner '" + partner_id +
                                      "' has no sync URL (it pulls its updates)");
  }
  ASSIGN_OR_RETURN(SyncEndpoint e, ParseSyncUrl(p.sync_url));
  HttpClientOptions o;
  o.max_body_bytes = 64ull << 20;
  // An offer returns once the partner has fetched, verified and staged the release:
  // for a large first release that takes minutes, not the default 30 s (the default argument).
  o.request_timeout = request_timeout;
  // A short message is not kept waiting longer for the connection either.
  o.connect_timeout = std::min(o.connect_timeout, request_timeout);
  return TlsRoundTrip(e, client_context_, partner_id, o);
}

HttpResponse MainSync::HandleSyncRequest(const HttpRequest& request) {
  const bool anonymous_route =
      request.peer_site_id().empty() &&
      std::any_of(anonymous_routes_.begin(), anonymous_routes_.end(),
                  [&](const auto& route) { return route.first == request.path(); });
  if (request.path() == "/v1/ca" || request.path() == "/v1/enroll" || anonymous_route) {
    // Anyone may call these two without a certificate: they get a tighter limit of their own
    // than the port's, so that guessing codes or burning CPU on certificate requests is slow.
    int retry_after = 1;
    if (!enroll_limiter_->TryRequest(request.remote_address(), env_.NowMicros() / 1000,
                                     &retry_after)) {
      HttpResponse r = sync::ErrorResponse(
          Status::ResourceExhausted("too many enrollment requests from this address: wait " +
                                    std::to_string(retry_after) + " s and try again"));
      r.set_status(429);  // a rate, not a size (ErrorResponse's 413)
      r.AddHeader("Retry-After", std::to_string(retry_after));
      r.set_close_connection(true);
      return r;
    }
  }
  if (request.path() == "/v1/ca" && request.method() == "GET") {
    HttpResponse r(200);
    r.AddHeader("Content-Type", "application/x-pem-file");
    r.SetBody(identity_->ca.ToPem());
    return r;
  }
  if (request.path() == "/v1/enroll") return HandleEnroll(request);
  for (const auto& [path, handler] : anonymous_routes_) {
    if (anonymous_route && path == request.path()) return handler(request);
  }
  if (request.peer_site_id().empty()) {
    return sync::ErrorResponse(Status::Unauthenticated(
        "this request needs the partner's certificate: enroll first with 'tieup partner enroll'"));
  }
  // The handshake checked the peer's standing when the connection opened; a keep-alive
  // connection may outlive it (a revocation, a re-enrollment that superseded this
  // certificate), so every request is checked again.
  if (!InGoodStanding(request.peer_site_id(), request.peer_certificate_fingerprint())) {
    logger_->warn("sync: refused {} {} from '{}': its certificate is revoked or superseded",
                  request.method(), request.path(), request.peer_site_id());
    HttpResponse refused = sync::ErrorResponse(Status::PermissionDenied(
        "partner '" + std::string(request.peer_site_id()) +
        "' is revoked, or this certificate was superseded by a newer enrollment: this main "
        "site accepts no more requests from it"));
    refused.set_close_connection(true);
    return refused;
  }
  for (const auto& [prefix, handler] : routes_) {
    if (RouteMatches(prefix, request.path())) return handler(request);
  }
  return sync::HandleMainSyncRequest(*publisher_, request.peer_site_id(), request);
}

HttpResponse MainSync::HandleEnroll(const HttpRequest& request) {
  if (request.method() != "POST") {
    return sync::ErrorResponse(Status::InvalidArgument("enrollment is a POST"));
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(request.body(), ec);
  const boost::json::object* o = ec ? nullptr : v.if_object();
  auto field = [&](const char* name) -> std::string {
    if (o == nullptr) return "";
    const boost::json::value* f = o->if_contains(name);
    return f && f->is_string() ? std::string(f->as_string()) : "";
  };
  const std::string partner = field("partner"), token = field("token"), csr = field("csr");
  if (partner.empty() || token.empty() || csr.empty()) {
    return sync::ErrorResponse(Status::InvalidArgument(
        "an enrollment request is JSON with \"partner\", \"token\" and \"csr\""));
  }
  // The token first: an anonymous caller without a valid one learns nothing, not even
  // whether a partnership of that id exists (the answer is the same for every id).
  if (Status valid = tokens_->CheckToken(token, partner); !valid.ok()) {
    logger_->warn("enrollment refused for '{}': {} (from {})", partner, valid.message(),
                  request.remote_address());
    return sync::ErrorResponse(valid);
  }
  auto p = publisher_->GetPartnership(partner);
  if (!p.ok() || p->revoked) {
    logger_->warn("enrollment refused for '{}': no such partnership, or revoked", partner);
    return sync::ErrorResponse(Status::PermissionDenied("there is no active partnership '" +
                                                        partner + "' at this main site"));
  }
  // Sign first (this checks the request), redeem the token only for a request that can succeed.
  auto cert = ca_->SignRequest(csr, partner, kSiteCertValiditySeconds);
  if (!cert.ok()) {
    logger_->warn("enrollment refused for '{}': {}", partner, cert.status().message());
    return sync::ErrorResponse(cert.status());
  }
  Status redeemed = tokens_->RedeemToken(token, partner);
  if (!redeemed.ok()) {
    logger_->warn("enrollment refused for '{}': {}", partner, redeemed.message());
    return sync::ErrorResponse(redeemed);
  }
  Status saved = db_.Exec(
      "INSERT INTO main_enrolled (partner, fingerprint, serial, issued) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(partner) DO UPDATE SET fingerprint = excluded.fingerprint, serial = "
      "excluded.serial, issued = excluded.issued",
      {partner, CertificateFingerprint(*cert), cert->serial_hex(), env_.NowSeconds()});
  if (!saved.ok()) return sync::ErrorResponse(saved);
  logger_->info("partner '{}' enrolled (certificate {})", partner, cert->serial_hex());
  boost::json::object reply;
  reply["certificate"] = cert->ToPem();
  reply["ca_certificate"] = identity_->ca.ToPem();
  reply["root_public_key"] = Base64Encode(root_public_key_);
  reply["root_envelope"] = root_envelope_;
  return JsonResponse(200, reply);
}

}  // namespace tieup

#include "partner_site/partner_sync.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "crypto/ed25519.h"
#include "trust/signed_metadata.h"

namespace tieup {
namespace {

std::string RootKeyPath(const std::string& site_dir) { return site_dir + "/keys/root.pub"; }
std::string RootEnvelopePath(const std::string& site_dir) { return site_dir + "/keys/root.json"; }

Status ResponseError(const Result<HttpResponse>& r, std::string_view what) {
  if (!r.ok()) return r.status().Annotate(what);
  if (r->status() != 200) return sync::StatusFromResponse(*r).Annotate(what);
  return Status::Ok();
}

}  // namespace

bool IsEnrolled(Env& env, const std::string& site_dir) {
  return env.FileExists(SyncCertPath(site_dir));
}

Status EnrollWithMain(Env& env, const std::string& site_dir, const std::string& main_sync_url,
                      const std::string& code, const std::string& from_address) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, site_dir));
  if (config.role != SiteRole::kPartner) {
    return Status::FailedPrecondition("'" + site_dir + "' is not a partner site");
  }
  if (IsEnrolled(env, site_dir)) {
    return Status::AlreadyExists(
        "'" + site_dir + "' is already enrolled with " + config.main_sync_url +
        "; to trade with a further main too, give it a tie-up area of its own: --area-prefix "
        "/PREFIX/ or --area-host HOST, with --sync-address HOST:PORT (tieup partner enroll "
        "--help)");
  }
  size_t dot = code.rfind('.');
  if (dot == std::string::npos || code.size() - dot - 1 != 64) {
    return Status::InvalidArgument(
        "the enrollment code is malformed: it is the whole text 'tieup main partner add' "
        "printed (a token, a dot and 64 hex digits)");
  }
  const std::string token = code.substr(0, dot);
  const std::string fingerprint = code.substr(dot + 1);
  ASSIGN_OR_RETURN(SyncEndpoint main, ParseSyncUrl(main_sync_url));
  HttpClientOptions options;
  options.connect_timeout = std::chrono::seconds(5);
  options.request_timeout = std::chrono::seconds(30);
  options.local_address = from_address;

  // 1. Main's CA certificate, over TLS that does not yet know whom to trust; it is accepted
  //    only if it is the one the code names.
  ASSIGN_OR_RETURN(TlsContextPtr bootstrap, MakeBootstrapClientContext());
  HttpClientOptions boot = options;
  boot.tls = bootstrap;
  auto ca_reply = HttpFetch(main.host, main.port, HttpRequest("GET", "/v1/ca"), boot);
  RETURN_IF_ERROR(ResponseError(ca_reply, "fetching main's CA certificate from " + main_sync_url));
  ASSIGN_OR_RETURN(Certificate ca, ParseCertificate(ca_reply->body()));
  if (CertificateFingerprint(ca) != fingerprint) {
    return Status::Unauthenticated(
        "the server at " + main_sync_url + " presented a CA certificate (SHA-256 " +
        CertificateFingerprint(ca) +
        ") that is not the one in your enrollment code: check the --main address; nothing was "
        "sent. If the address is right, someone may be impersonating the main site");
  }

  // 2. Our key and certificate request.
  CertificateKey key = CertificateKey::Generate(env);
  ASSIGN_OR_RETURN(std::string csr, MakeCertificateRequest(key, config.id));

  // 3. Enroll over TLS that authenticates main with that CA.
  ASSIGN_OR_RETURN(TlsContextPtr anon, MakeAnonymousClientContext(ca, PeerCheck::Site("main")));
  boost::json::object body;
  body["partner"] = config.id;
  body["token"] = token;
  body["csr"] = csr;
  HttpRequest req("POST", "/v1/enroll");
  req.AddHeader("Content-Type", "application/json");
  req.SetBody(boost::json::serialize(body));
  HttpClientOptions enroll = options;
  enroll.tls = anon;
  enroll.expected_peer_site_id = "main";
  auto reply = HttpFetch(main.host, main.port, req, enroll);
  RETURN_IF_ERROR(ResponseError(reply, "enrolling with " + main_sync_url));

  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(reply->body(), ec);
  const boost::json::object* o = ec ? nullptr : v.if_object();
  auto field = [&](const char* name) -> std::string {
    const boost::json::value* f = o ? o->if_contains(name) : nullptr;
    return f && f->is_string() ? std::string(f->as_string()) : "";
  };
  ASSIGN_OR_RETURN(Certificate cert, ParseCertificate(field("certificate")));
  RETURN_IF_ERROR(VerifyCertificateIssuedBy(cert, ca, env.NowSeconds())
                      .Annotate("the certificate main issued"));
  ASSIGN_OR_RETURN(std::string root_key, Base64Decode(field("root_public_key")));
  ASSIGN_OR_RETURN(Ed25519PublicKey root, Ed25519PublicKey::FromBytes(root_key));
  const std::string root_envelope = field("root_envelope");
  RETURN_IF_ERROR(VerifyRootMetadata(root, root_envelope, env.NowSeconds())
                      .status()
                      .Annotate("main's root metadata"));

  RETURN_IF_ERROR(SaveCertificateKey(env, SyncKeyPath(site_dir), key));
  RETURN_IF_ERROR(WriteFileAtomic(env, CaCertPath(site_dir), ca.ToPem()));
  RETURN_IF_ERROR(WriteFileAtomic(env, RootKeyPath(site_dir), Base64Encode(root_key) + "\n"));
  RETURN_IF_ERROR(WriteFileAtomic(env, RootEnvelopePath(site_dir), root_envelope));
  // The certificate last: its presence marks an enrolled site.
  RETURN_IF_ERROR(WriteFileAtomic(env, SyncCertPath(site_dir), cert.ToPem()));
  config.main_sync_url = main.ToUrl();
  return SaveSiteConfig(env, site_dir, config);
}

Result<PinnedMainRoot> LoadPinnedRoot(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(std::string root_b64, env.ReadFile(RootKeyPath(site_dir)));
  while (!root_b64.empty() && (root_b64.back() == '\n' || root_b64.back() == '\r')) {
    root_b64.pop_back();
  }
  ASSIGN_OR_RETURN(std::string root_raw, Base64Decode(root_b64));
  PinnedMainRoot root;
  ASSIGN_OR_RETURN(root.key, Ed25519PublicKey::FromBytes(root_raw));
  ASSIGN_OR_RETURN(root.envelope, env.ReadFile(RootEnvelopePath(site_dir)));
  return root;
}

PartnerSync::~PartnerSync() = default;

Result<std::unique_ptr<PartnerSync>> PartnerSync::Open(Env& env, const std::string& site_dir,
                                                       const SiteConfig& config, Database& db,
                                                       SiteContent& content,
                                                       std::shared_ptr<Logger> logger,
                                                       const std::string& from_address) {
  (void)logger;
  std::unique_ptr<PartnerSync> p(new PartnerSync());
  ASSIGN_OR_RETURN(SyncIdentity id, LoadSyncIdentity(env, site_dir));
  p->identity_ = std::make_unique<SyncIdentity>(std::move(id));
  ASSIGN_OR_RETURN(std::string root_b64, env.ReadFile(RootKeyPath(site_dir)));
  while (!root_b64.empty() && (root_b64.back() == '\n' || root_b64.back() == '\r')) {
    root_b64.pop_back();
  }
  ASSIGN_OR_RETURN(std::string root_raw, Base64Decode(root_b64));
  ASSIGN_OR_RETURN(Ed25519PublicKey root, Ed25519PublicKey::FromBytes(root_raw));
  ASSIGN_OR_RETURN(std::string root_envelope, env.ReadFile(RootEnvelopePath(site_dir)));
  if (config.main_sync_url.empty()) {
    return Status::FailedPrecondition("site.toml has no main_sync_url: enroll again");
  }
  ASSIGN_OR_RETURN(SyncEndpoint main, ParseSyncUrl(config.main_sync_url));
  ASSIGN_OR_RETURN(TlsContextPtr client,
                   MakeClientContext(p->identity_->ca, p->identity_->certificate, p->identity_->key,
                                     PeerCheck::Site("main")));
  HttpClientOptions o;
  o.max_body_bytes = 64ull << 20;
  o.local_address = from_address;
  // Kept connections: an update's fetches, answer and events share one handshake.
  p->link_ = std::make_unique<sync::HttpMainLink>(KeptAliveTlsRoundTrip(main, client, "main", o));

  sync::ReceiverOptions ro;
  ro.site_id = config.id;
  ro.pinned_root = root;
  ro.root_envelope = root_envelope;
  ro.approval =
      config.approval == "manager" ? sync::ApprovalPolicy::kManager : sync::ApprovalPolicy::kAuto;
  sync::ContentMutator mutate =
      [&content](const std::function<Status(content::ContentStore&)>& change) {
        return content.Mutate(change);
      };
  ASSIGN_OR_RETURN(p->receiver_, sync::Receiver::Open(env, db, mutate, *p->link_, ro));
  return p;
}

Result<TlsContextPtr> PartnerSync::ServerContext() {
  return MakeServerContext(identity_->ca, identity_->certificate, identity_->key,
                           PeerCheck::Site("main"));
}

namespace {
// True iff `path` is routed by `prefix`: a subtree for a prefix ending in '/', else exact.
bool RouteMatches(std::string_view prefix, std::string_view path) {
  if (!prefix.empty() && prefix.back() == '/') return path.substr(0, prefix.size()) == prefix;
  return path == prefix;
}
}  // namespace

void PartnerSync::AddSyncRoute(std::string prefix, SyncRoute handler) {
  routes_.emplace_back(std::move(prefix), std::move(handler));
}

HttpResponse PartnerSync::HandleSyncRequest(const HttpRequest& request) {
  if (request.peer_site_id() != "main") {
    return sync::ErrorResponse(Status::Unauthenticated("only main may use this sync port"));
  }
  for (const auto& [prefix, handler] : routes_) {
    if (RouteMatches(prefix, request.path())) return handler(request);
  }
  return sync::HandlePartnerSyncRequest(*receiver_, "main", request.peer_site_id(), request);
}

}  // namespace tieup

#include "main_site/emergency_edits.h"

#include "main_site/main_daemon.h"
#include "main_site/signed_requests.h"
#include "sync/http_api.h"
#include "sync/protocol.h"

namespace tieup {
namespace {

constexpr std::string_view kPath = "/v1/emergency-edits";
// A report lists every edit in effect; 10,000 of them fit well within this.
constexpr size_t kMaxBodyBytes = 4 << 20;
constexpr std::string_view kKeptColumns =
    "  certificate TEXT NOT NULL,\n  seq INTEGER NOT NULL,\n  action TEXT NOT NULL,\n"
    "  path TEXT NOT NULL,\n  outcome TEXT NOT NULL";

}  // namespace

class MainEmergencyEditEndpoint::Impl {
 public:
  Impl(Env& env, sync::Publisher& publisher, Database& db,
       std::unique_ptr<PartnerRequestVerifier> verifier, std::shared_ptr<Logger> logger)
      : env_(env),
        publisher_(publisher),
        db_(db),
        verifier_(std::move(verifier)),
        logger_(std::move(logger)) {}

  HttpResponse Handle(const HttpRequest& request) {
    if (request.path() != kPath) {
      return sync::ErrorResponse(Status::NotFound("no endpoint " + std::string(request.path())));
    }
    if (request.method() != "POST") {
      return sync::ErrorResponse(Status::InvalidArgument(std::string(kPath) + " takes POST"));
    }
    if (request.body().size() > kMaxBodyBytes) {
      return sync::ErrorResponse(Status::ResourceExhausted("the report is larger than 4 MiB"));
    }
    Result<SignedPartnerRequest> proof = verifier_->Verify(request);
    if (!proof.ok()) {
      logger_->warn("refused an emergency edit report from '{}': {}", request.peer_site_id(),
                    proof.status().message());
      return sync::ErrorResponse(proof.status());
    }
    auto report = sync::ParseEmergencyEditReport(request.body());
    if (!report.ok()) {
      Keep(request, *proof, 0, "", "", "bad request: " + report.status().message());
      return sync::ErrorResponse(report.status());
    }
    Status recorded = publisher_.HandleEmergencyEdit(proof->partner, *report);
    Keep(request, *proof, report->seq, report->action, report->path,
         recorded.ok() ? "recorded" : "refused: " + recorded.message());
    if (!recorded.ok()) return sync::ErrorResponse(recorded);
    logger_->info("partner '{}' reports an emergency edit: {} {}", proof->partner, report->action,
                  report->path);
    return SyncJsonReply(200, "{\"seq\":" + std::to_string(report->seq) + "}");
  }

 private:
  void Keep(const HttpRequest& request, const SignedPartnerRequest& proof, uint64_t seq,
            const std::string& action, const std::string& path, std::string outcome) {
    Status s = db_.Exec(
        "INSERT INTO emergency_signed_requests(at, partner, nonce, method, target, certificate, "
        "seq, action, path, outcome) VALUES(?,?,?,?,?,?,?,?,?,?)",
        {env_.NowSeconds(), proof.partner, proof.nonce, std::string(request.method()),
         std::string(request.target()), proof.certificate_b64, static_cast<int64_t>(seq), action,
         path, std::move(outcome)});
    if (!s.ok()) logger_->error("keeping a signed emergency edit report: {}", s.message());
  }

  Env& env_;
  sync::Publisher& publisher_;
  Database& db_;
  const std::unique_ptr<PartnerRequestVerifier> verifier_;
  std::shared_ptr<Logger> logger_;
};

MainEmergencyEditEndpoint::MainEmergencyEditEndpoint(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
MainEmergencyEditEndpoint::~MainEmergencyEditEndpoint() = default;

Result<std::unique_ptr<MainEmergencyEditEndpoint>> MainEmergencyEditEndpoint::Create(
    Env& env, const std::string& site_dir, sync::Publisher& publisher, Database& db,
    std::shared_ptr<Logger> logger) {
  RETURN_IF_ERROR(
      Migrate(db, "main_emergency_edits",
              {{1, SignedRequestsTableSql("emergency_signed_requests", kKeptColumns)}}));
  ASSIGN_OR_RETURN(std::unique_ptr<PartnerRequestVerifier> verifier,
                   PartnerRequestVerifier::Create(env, site_dir, db));
  return std::unique_ptr<MainEmergencyEditEndpoint>(
      new MainEmergencyEditEndpoint(std::make_unique<Impl>(env, publisher, db, std::move(verifier),
                                                           logger ? logger : NewNullLogger())));
}

HttpResponse MainEmergencyEditEndpoint::Handle(const HttpRequest& request) {
  return impl_->Handle(request);
}

Status AttachEmergencyEdits(MainDaemon& daemon) {
  ASSIGN_OR_RETURN(
      std::shared_ptr<MainEmergencyEditEndpoint> endpoint,
      MainEmergencyEditEndpoint::Create(daemon.env(), daemon.site().site_dir(),
                                        daemon.sync().publisher(), daemon.db(), daemon.logger()));
  daemon.sync().AddSyncRoute(std::string(kPath),
                             [endpoint](const HttpRequest& r) { return endpoint->Handle(r); });
  return Status::Ok();
}

}  // namespace tieup

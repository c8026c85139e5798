#include "sync/http_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sync/sync_fixture.h"

namespace tieup::sync {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

// The HTTP mapping, with round trips that hand the request to the other side's handler (the
// integrator puts mutual TLS in between).
class HttpApiTest : public testing::SyncFixture {
 protected:
  void SetUp() override {
    SyncFixture::SetUp();
    http_partner_link_ = std::make_unique<HttpPartnerLink>(
        [this](const std::string& partner_id) -> Result<HttpRoundTrip> {
          return HttpRoundTrip([this, partner_id](const HttpRequest& req) -> Result<HttpResponse> {
            ++requests_;
            auto it = partners_.find(partner_id);
            if (it == partners_.end()) return Status::Unavailable("connection refused");
            return HandlePartnerSyncRequest(*it->second->receiver, "main", "main", Server(req));
          });
        });
    OpenPublisher(4, http_partner_link_.get());
  }

  // What a server would hand the handler: parsed anew from the client's request.
  static HttpRequest Server(const HttpRequest& client) {
    HttpRequest r(client.method(), client.target());
    for (const auto& h : client.Headers()) r.AddHeader(h.name, h.value);
    r.SetBody(std::string(client.body()));
    return r;
  }

  testing::PartnerSite& AddHttpPartner(const std::string& id, ApprovalPolicy policy) {
    EXPECT_THAT(publisher_->AddPartnership(MakePartnership(id, ApprovalPolicy::kAuto, id)), IsOk());
    auto link = std::make_unique<HttpMainLink>([this, id](const HttpRequest& req) {
      ++requests_;
      return Result<HttpResponse>(HandleMainSyncRequest(*publisher_, id, Server(req)));
    });
    MainLink* raw = link.get();
    testing::PartnerSite& s = CreatePartnerSite(id, policy, raw);
    s.main_link = std::move(link);
    return s;
  }

  std::unique_ptr<HttpPartnerLink> http_partner_link_;
  int requests_ = 0;
};

TEST_F(HttpApiTest, FullUpdateOverTheHttpMapping) {
  testing::PartnerSite& a = AddHttpPartner("shop-a", ApprovalPolicy::kAuto);
  testing::PartnerSite& m = AddHttpPartner("shop-m", ApprovalPolicy::kManager);
  for (const auto& o : publisher_->PublishNow()) ASSERT_THAT(o.status, IsOk()) << o.partner;
  EXPECT_EQ(a.ActiveVersion(), 1u);
  EXPECT_THAT(a.Page("/index.html"), HasSubstr("Welcome to shop-a"));
  auto pending = m.receiver->Pending();
  ASSERT_THAT(pending, IsOk());
  ASSERT_EQ(pending->size(), 1u);
  ASSERT_THAT(m.receiver->Approve((*pending)[0].update_id), IsOk());
  EXPECT_EQ(m.ActiveVersion(), 1u);
  auto status = http_partner_link_->GetStatus("shop-m");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->active_version, 1u);
  EXPECT_EQ(status->site, "shop-m");
}

TEST_F(HttpApiTest, PollingSaysWhichVersionThePartnerHas) {
  EXPECT_THAT(publisher_->AddPartnership(MakePartnership("shop-p", ApprovalPolicy::kAuto, "P")),
              IsOk());
  ASSERT_THAT(publisher_->BuildFor("shop-p"), IsOk());
  for (const char* bad : {"/v1/latest?have=x", "/v1/latest?have=", "/v1/latest?v=1",
                          "/v1/latest?have=1&x=2", "/v1/latest?have=-1"}) {
    EXPECT_EQ(HandleMainSyncRequest(*publisher_, "shop-p", HttpRequest("GET", bad)).status(), 400)
        << bad;
  }
  HttpResponse current =
      HandleMainSyncRequest(*publisher_, "shop-p", HttpRequest("GET", "/v1/latest?have=1"));
  ASSERT_EQ(current.status(), 200) << current.body();
  auto none = ParseOfferRequest(current.body());
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->release.empty());  // up to date: no metadata at all
  HttpResponse full =
      HandleMainSyncRequest(*publisher_, "shop-p", HttpRequest("GET", "/v1/latest"));
  ASSERT_EQ(full.status(), 200);
  EXPECT_FALSE(ParseOfferRequest(full.body())->release.empty());

  // A partner polling over the mapping: full metadata first, then a delta, then nothing.
  testing::PartnerSite& q = AddHttpPartner("shop-q", ApprovalPolicy::kAuto);
  ASSERT_EQ(q.receiver->Poll()->state, "activated");
  Write(authoring_ + "/pages/about.md", "About, polled.\n");
  ASSERT_THAT(publisher_->BuildFor("shop-q"), IsOk());
  ASSERT_EQ(q.receiver->Poll()->state, "activated");
  EXPECT_THAT(q.Page("/about.html"), HasSubstr("About, polled."));
  EXPECT_EQ(q.receiver->Poll()->state, "up_to_date");
}

TEST_F(HttpApiTest, RefusalsKeepTheirCodeAcrossHttp) {
  testing::PartnerSite& a = AddHttpPartner("shop-a", ApprovalPolicy::kAuto);
  const Ed25519PrivateKey attacker = Ed25519PrivateKey::Generate(env_);
  auto forged = SignedOffer(HandMadeRelease("shop-a", 1, "x"), &attacker);
  EXPECT_THAT(http_partner_link_->Offer("shop-a", forged),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
  ASSERT_THAT(publisher_->PublishNow(), ::testing::SizeIs(1));
  EXPECT_THAT(http_partner_link_->Offer("shop-a", SignedOffer(HandMadeRelease("shop-a", 1, "x"))),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("replay")));
  // Main refuses blobs of other partners over HTTP too.
  EXPECT_THAT(a.main_link->FetchBlobs({std::string(64, 'b')}),
              StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(HttpApiTest, PartnerEndpointsOnlyServeMain) {
  AddHttpPartner("shop-a", ApprovalPolicy::kAuto);
  Receiver& r = *partners_["shop-a"]->receiver;
  HttpRequest req("GET", "/v1/status");
  HttpResponse resp = HandlePartnerSyncRequest(r, "main", "shop-b", req);
  EXPECT_EQ(resp.status(), 403);
  EXPECT_THAT(StatusFromResponse(resp), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_EQ(HandlePartnerSyncRequest(r, "main", "main", req).status(), 200);
}

TEST_F(HttpApiTest, MethodsTypesAndPathsAreChecked) {
  AddHttpPartner("shop-a", ApprovalPolicy::kAuto);
  Receiver& r = *partners_["shop-a"]->receiver;
  HttpResponse wrong_method =
      HandlePartnerSyncRequest(r, "main", "main", HttpRequest("GET", "/v1/offer"));
  EXPECT_EQ(wrong_method.status(), 405);
  EXPECT_EQ(wrong_method.FindHeader("Allow").value_or(""), "POST");
  HttpRequest no_type("POST", "/v1/offer");
  no_type.SetBody("{}");
  EXPECT_EQ(HandlePartnerSyncRequest(r, "main", "main", no_type).status(), 415);
  HttpRequest bad_json("POST", "/v1/offer");
  bad_json.AddHeader("Content-Type", "application/json; charset=utf-8");
  bad_json.SetBody("{\"nope\":1}");
  HttpResponse bad = HandlePartnerSyncRequest(r, "main", "main", bad_json);
  EXPECT_EQ(bad.status(), 400);
  EXPECT_THAT(StatusFromResponse(bad), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(HandlePartnerSyncRequest(r, "main", "main", HttpRequest("GET", "/v2/offer")).status(),
            404);
  EXPECT_EQ(
      HandleMainSyncRequest(*publisher_, "shop-a", HttpRequest("GET", "/v1/nothing")).status(),
      404);
  HttpRequest blobs("POST", "/v1/blobs");
  blobs.AddHeader("Content-Type", "application/json");
  blobs.SetBody("{\"hashes\":[\"../../etc/passwd\"]}");
  EXPECT_EQ(HandleMainSyncRequest(*publisher_, "shop-a", blobs).status(), 400);
}

TEST_F(HttpApiTest, ErrorStatusMapping) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kFailedPrecondition), 412);
  EXPECT_EQ(HttpStatusFor(StatusCode::kDataLoss), 422);
  HttpResponse plain(502);
  plain.SetBody("bad gateway");
  EXPECT_THAT(StatusFromResponse(plain), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(StatusFromResponse(ErrorResponse(Status::DataLoss("x"))),
              StatusIs(StatusCode::kDataLoss, "x"));
  EXPECT_THAT(StatusFromResponse(HttpResponse(200)), IsOk());
}

}  // namespace
}  // namespace tieup::sync

#include "sync/protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

const std::string kHash(64, 'a');

TEST(ProtocolTest, OfferRoundTripsCanonically) {
  OfferRequest m{"shop-b", "u7", 3, ApprovalPolicy::kManager, "{\"root\":1}", "{\"rel\":2}", {}};
  const std::string text = EncodeOfferRequest(m);
  EXPECT_EQ(text.find(' '), std::string::npos);
  EXPECT_LT(text.find("\"approval\""), text.find("\"partner\""));  // sorted keys
  auto back = ParseOfferRequest(text);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->partner, "shop-b");
  EXPECT_EQ(back->update_id, "u7");
  EXPECT_EQ(back->version, 3u);
  EXPECT_EQ(back->approval, ApprovalPolicy::kManager);
  EXPECT_EQ(back->root, m.root);
  EXPECT_EQ(back->release, m.release);
}

TEST(ProtocolTest, BlobsSentWithAnOfferRoundTripAndAreBounded) {
  OfferRequest m{"shop-b", "u7", 3, ApprovalPolicy::kAuto, "r", "x", {}};
  m.blobs[kHash] = std::string("\0\xff<p>binary</p>", 15);
  m.blobs[std::string(64, 'b')] = "";
  const std::string text = EncodeOfferRequest(m);
  auto back = ParseOfferRequest(text);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->blobs, m.blobs);
  // Absent when empty: an offer without blobs is what partners before the field read.
  EXPECT_EQ(
      EncodeOfferRequest({"shop-b", "u7", 3, ApprovalPolicy::kAuto, "r", "x", {}}).find("blobs"),
      std::string::npos);

  auto with = [&](const std::string& blobs) {
    std::string t = EncodeOfferRequest({"shop-b", "u7", 3, ApprovalPolicy::kAuto, "r", "x", {}});
    t.insert(t.find("\"partner\""), "\"blobs\":" + blobs + ",");
    return ParseOfferRequest(t);
  };
  EXPECT_THAT(with("[{\"bytes\":\"eA==\",\"hash\":\"../etc\"}]"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not 64 lower-case hex")));
  EXPECT_THAT(with("[{\"bytes\":\"%%%\",\"hash\":\"" + kHash + "\"}]"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not base64")));
  EXPECT_THAT(with("[{\"bytes\":\"eA==\",\"hash\":\"" + kHash + "\",\"x\":1}]"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field 'x'")));
  EXPECT_THAT(with("[{\"bytes\":\"eA==\",\"hash\":\"" + kHash +
                   "\"},{\"bytes\":\"eQ==\",\"hash\":\"" + kHash + "\"}]"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(with("{}"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("array of objects")));
  OfferRequest many{"shop-b", "u7", 3, ApprovalPolicy::kAuto, "r", "x", {}};
  for (size_t i = 0; i <= kMaxOfferBlobs; ++i) {
    const std::string n = std::to_string(i);
    many.blobs[std::string(64 - n.size(), '0') + n] = "x";
  }
  EXPECT_THAT(ParseOfferRequest(EncodeOfferRequest(many)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most")));
  OfferRequest big{"shop-b", "u7", 3, ApprovalPolicy::kAuto, "r", "x", {}};
  big.blobs[kHash] = std::string(kMaxOfferBlobBytes + 1, 'x');
  EXPECT_THAT(ParseOfferRequest(EncodeOfferRequest(big)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bytes of blobs")));
}

TEST(ProtocolTest, ParsingIsStrict) {
  const std::string good =
      EncodeOfferRequest({"shop-b", "u7", 3, ApprovalPolicy::kAuto, "r", "x", {}});
  std::string unknown = good;
  unknown.insert(1, "\"extra\":1,");
  EXPECT_THAT(ParseOfferRequest(unknown),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown field 'extra'")));
  EXPECT_THAT(ParseOfferRequest("{\"approval\":\"auto\"}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("missing field")));
  EXPECT_THAT(ParseOfferRequest("[1]"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("must be a JSON object")));
  EXPECT_THAT(ParseOfferRequest("{"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  std::string bad_type = good;
  bad_type.replace(bad_type.find("\"version\":3"), 11, "\"version\":\"3\"");
  EXPECT_THAT(ParseOfferRequest(bad_type),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'version' must be")));
  EXPECT_THAT(
      ParseOfferRequest(EncodeOfferRequest({"../x", "u7", 3, ApprovalPolicy::kAuto, "r", "x", {}})),
      StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseOfferRequest(
                  EncodeOfferRequest({"shop", "u 7", 3, ApprovalPolicy::kAuto, "r", "x", {}})),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("update id")));
  EXPECT_THAT(ParseUpdateResponse(EncodeUpdateResponse({"u1", false, ""})),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("needs a reason")));
  EXPECT_THAT(ParseEventReport(EncodeEventReport({"", 0, "Bad Kind", "m"})),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("[a-z-]")));
}

TEST(ProtocolTest, OtherMessagesRoundTrip) {
  OfferReply r;
  r.update_id = "u1";
  r.outcome = OfferOutcome::kPending;
  r.version = 4;
  r.active_version = 3;
  r.fetched_blobs = 2;
  r.fetched_bytes = 99;
  r.added = 1;
  auto rb = ParseOfferReply(EncodeOfferReply(r));
  ASSERT_THAT(rb, IsOk());
  EXPECT_EQ(rb->outcome, OfferOutcome::kPending);
  EXPECT_EQ(rb->fetched_bytes, 99u);
  const EmergencyEditState edit{"/a.html", kHash, 1790000000, "ann"};
  auto st =
      ParsePartnerSyncStatus(EncodePartnerSyncStatus({"p", 3, {1, 2, 3}, {"u4"}, kHash, {edit}}));
  ASSERT_THAT(st, IsOk());
  EXPECT_THAT(st->staged_versions, ElementsAre(1u, 2u, 3u));
  EXPECT_THAT(st->pending_updates, ElementsAre("u4"));
  EXPECT_EQ(st->active_hash, kHash);
  EXPECT_THAT(st->overlay, ElementsAre(edit));
  // A partner from before emergency edits were overlays sends neither.
  auto old = ParsePartnerSyncStatus(
      R"({"active_version":3,"pending_updates":[],"site":"p","staged_versions":[3]})");
  ASSERT_THAT(old, IsOk());
  EXPECT_TRUE(old->overlay.empty());
  auto a = ParseActivateRequest(EncodeActivateRequest({"u4", 4}));
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->version, 4u);
  EXPECT_THAT(ParseActivateRequest(EncodeActivateRequest({"u4", 0})),
              StatusIs(StatusCode::kInvalidArgument));
  auto rr = ParseUpdateResponseReply(EncodeUpdateResponseReply({true, 5}));
  ASSERT_THAT(rr, IsOk());
  EXPECT_TRUE(rr->activate);
}

TEST(ProtocolTest, EmergencyEditReportsRoundTripAndAreChecked) {
  EmergencyEditReport r{7,
                        1790000000,
                        "ann",
                        "put",
                        "/a.html",
                        kHash,
                        kHash,
                        "",
                        4,
                        kHash,
                        {{"/a.html", kHash, 1790000000, "ann"}, {"/b.html", "", 1790000001, "bo"}}};
  auto back = ParseEmergencyEditReport(EncodeEmergencyEditReport(r));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->seq, 7u);
  EXPECT_EQ(back->by, "ann");
  EXPECT_EQ(back->version, 4u);
  ASSERT_EQ(back->overlay.size(), 2u);
  EXPECT_EQ(back->overlay[1].hash, "");
  EmergencyEditReport bad = r;
  bad.action = "rewrite";
  EXPECT_THAT(ParseEmergencyEditReport(EncodeEmergencyEditReport(bad)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("action 'rewrite'")));
  bad = r;
  bad.path = "/../etc/passwd";
  EXPECT_THAT(ParseEmergencyEditReport(EncodeEmergencyEditReport(bad)),
              StatusIs(StatusCode::kInvalidArgument));
  bad = r;
  bad.overlay[0].hash = "not a hash";
  EXPECT_THAT(ParseEmergencyEditReport(EncodeEmergencyEditReport(bad)),
              StatusIs(StatusCode::kInvalidArgument));
  bad = r;
  bad.seq = 0;
  EXPECT_THAT(ParseEmergencyEditReport(EncodeEmergencyEditReport(bad)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("seq")));
}

TEST(ProtocolTest, BlobRequestsAreLimitedAndChecked) {
  auto ok = ParseBlobRequest(EncodeBlobRequest({kHash}));
  ASSERT_THAT(ok, IsOk());
  EXPECT_THAT(*ok, ElementsAre(kHash));
  EXPECT_THAT(ParseBlobRequest(EncodeBlobRequest({"../../etc/passwd"})),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseBlobRequest(EncodeBlobRequest({})), StatusIs(StatusCode::kInvalidArgument));
  std::vector<std::string> many(kMaxBlobsPerRequest + 1, kHash);
  EXPECT_THAT(ParseBlobRequest(EncodeBlobRequest(many)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most")));
}

TEST(ProtocolTest, BlobBatchFraming) {
  const std::string body = EncodeBlobBatch({"abc", "", std::string(300, 'x')});
  auto back = ParseBlobBatch(body, 3);
  ASSERT_THAT(back, IsOk());
  EXPECT_THAT(*back, ElementsAre("abc", "", std::string(300, 'x')));
  EXPECT_THAT(ParseBlobBatch(body, 4), StatusIs(StatusCode::kInvalidArgument, HasSubstr("ends")));
  EXPECT_THAT(ParseBlobBatch(body, 2),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("after the last blob")));
  EXPECT_THAT(ParseBlobBatch(body.substr(0, body.size() - 1), 3),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("claims")));
}

}  // namespace
}  // namespace tieup::sync

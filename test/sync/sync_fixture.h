// Test scaffolding shared by sync_test and http_api_test: a main site (authoring dir, blob store,
// SQLite, keys, Publisher) and partner sites (ContentStore, SQLite, Receiver) connected by
// in-process links that call the other side directly, with switches for faults.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "content/blob_store.h"
#include "content/content_store.h"
#include "content/template_vars.h"
#include "crypto/ed25519.h"
#include "store/database.h"
#include "sync/protocol.h"
#include "sync/publisher.h"
#include "sync/receiver.h"
#include "test_database.h"
#include "test_support.h"
#include "trust/signed_metadata.h"

namespace tieup::sync::testing {

using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::TempDir;

// One partner site.
struct PartnerSite {
  std::string id;
  std::string dir;
  std::unique_ptr<content::ContentStore> store;
  std::unique_ptr<Database> db;
  std::unique_ptr<MainLink> main_link;
  std::unique_ptr<Receiver> receiver;
  // Fault injection for the mutator: when fail_at == calls (counted from 0), the call fails
  // with IOError without running.
  std::atomic<int> mutator_calls{0};
  std::atomic<int> fail_at{-1};
  // What the receiver was opened with (for RestartPartner).
  ReceiverOptions options;
  ContentMutator mutator;
  MainLink* link = nullptr;

  // The bytes the partner serves at `path` from its active tie-up release ("" when absent).
  std::string Page(const std::string& path) {
    auto active = store->Active(content::Area::kTieup);
    if (!active.ok()) return "";
    auto it = (*active)->files.find(path);
    if (it == (*active)->files.end()) return "";
    auto bytes = store->blobs().Get(it->second.hash, it->second.length);
    return bytes.ok() ? *bytes : "";
  }
  uint64_t ActiveVersion() {
    auto active = store->Active(content::Area::kTieup);
    return active.ok() ? (*active)->version : 0;
  }
};

// main as one partner sees it: calls the Publisher directly, with switches.
class InProcessMainLink : public MainLink {
 public:
  InProcessMainLink(Publisher*& publisher, std::string partner_id)
      : publisher_(publisher), partner_id_(std::move(partner_id)) {}

  Result<std::vector<std::string>> FetchBlobs(const std::vector<std::string>& hashes) override {
    const int call = ++fetch_calls;
    if (down) return Status::Unavailable("main unreachable (test)");
    if (fail_fetch_call == call) return Status::Unavailable("connection reset (test)");
    auto blobs = publisher_->ServeBlobs(partner_id_, hashes);
    if (!blobs.ok()) return blobs.status();
    for (auto& b : *blobs) {
      if (tamper) tamper(b);
      fetched_blobs += 1;
      fetched_bytes += b.size();
    }
    return blobs;
  }
  Result<OfferRequest> LatestRelease(uint64_t have_version) override {
    if (down) return Status::Unavailable("main unreachable (test)");
    return publisher_->LatestFor(partner_id_, have_version);
  }
  Result<UpdateResponseReply> RespondToUpdate(const UpdateResponse& response) override {
    if (down) return Status::Unavailable("main unreachable (test)");
    return publisher_->HandleResponse(partner_id_, response);
  }
  Status ReportEvent(const EventReport& event) override {
    if (down) return Status::Unavailable("main unreachable (test)");
    return publisher_->HandleReport(partner_id_, event);
  }

  std::atomic<bool> down{false};
  std::atomic<int> fetch_calls{0};
  std::atomic<int> fail_fetch_call{-1};  // the fetch call number (1-based) that fails
  std::atomic<uint64_t> fetched_blobs{0};
  std::atomic<uint64_t> fetched_bytes{0};
  std::function<void(std::string&)> tamper;

 private:
  Publisher*& publisher_;
  std::string partner_id_;
};

// The partners as main sees them.
class InProcessPartnerLink : public PartnerLink {
 public:
  Result<OfferReply> Offer(const std::string& partner_id, const OfferRequest& offer) override {
    ASSIGN_OR_RETURN(Receiver * r, Find(partner_id));
    ++offers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      offered_.push_back(offer);
    }
    if (predates_offer_blobs && !offer.blobs.empty()) {
      // What a partner built before OfferRequest::blobs answers (ParseOfferRequest).
      return Status::InvalidArgument(
          "offer has unknown field 'blobs'; is the peer running a newer protocol?");
    }
    return r->HandleOffer(offer);
  }
  Result<uint64_t> Activate(const std::string& partner_id,
                            const ActivateRequest& request) override {
    ASSIGN_OR_RETURN(Receiver * r, Find(partner_id));
    if (fail_activate) return Status::Unavailable("partner unreachable (test)");
    return r->HandleActivate(request);
  }
  Result<PartnerSyncStatus> GetStatus(const std::string& partner_id) override {
    ASSIGN_OR_RETURN(Receiver * r, Find(partner_id));
    return r->GetStatus();
  }

  void Add(const std::string& id, Receiver* r) {
    std::lock_guard<std::mutex> lock(mu_);
    receivers_[id] = r;
  }
  void SetDown(const std::string& id, bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    if (down) {
      down_.insert(id);
    } else {
      down_.erase(id);
    }
  }

  std::atomic<int> offers{0};
  std::atomic<bool> fail_activate{false};
  // Every offer sent, in order.
  std::atomic<bool> predates_offer_blobs{false};
  std::vector<OfferRequest> Offered() {
    std::lock_guard<std::mutex> lock(mu_);
    return offered_;
  }

 private:
  Result<Receiver*> Find(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (down_.contains(id)) return Status::Unavailable("partner '" + id + "' unreachable (test)");
    auto it = receivers_.find(id);
    if (it == receivers_.end()) return Status::Unavailable("no partner '" + id + "' (test)");
    return it->second;
  }
  std::mutex mu_;
  std::map<std::string, Receiver*> receivers_;
  std::set<std::string> down_;
  std::vector<OfferRequest> offered_;
};

class SyncFixture : public ::testing::Test {
 protected:
  SyncFixture()
      : root_key_(Ed25519PrivateKey::Generate(env_)),
        release_key_(Ed25519PrivateKey::Generate(env_)) {}

  void SetUp() override {
    authoring_ = dir_.Sub("authoring");
    Write(authoring_ + "/layouts/default.mustache",
          "<html><title>{{title}}</title><body>{{{content}}}</body></html>\n");
    Write(authoring_ + "/pages/index.md", "---\ntitle: Home\n---\n# Welcome to {{partner.name}}\n");
    Write(authoring_ + "/pages/about.md", "---\ntitle: About\n---\nAbout the main shop.\n");
    Write(authoring_ + "/assets/site.css", "body { color: #123; }\n");

    RootMetadata root;
    root.version = 1;
    root.expires = env_.NowSeconds() + 365 * 86400;
    root.root_key = root_key_.public_key();
    root.release_keys = {release_key_.public_key()};
    auto signed_root = SignRootMetadata(root_key_, root);
    ASSERT_TRUE(signed_root.ok()) << signed_root.status().ToString();
    root_envelope_ = EncodeEnvelope(*signed_root);

    main_blobs_ = std::make_unique<content::BlobStore>(env_, dir_.Sub("main/blobs"));
    auto db = ::tieup::testing::OpenTestDatabase(dir_.Sub("main-tieup.db"));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    main_db_ = std::move(*db);
    OpenPublisher(16);
  }

  void OpenPublisher(size_t concurrency, PartnerLink* link = nullptr) {
    PublisherOptions o;
    o.authoring_dir = authoring_;
    o.public_url = "https://main.example";
    o.root_envelope = root_envelope_;
    o.max_concurrency = concurrency;
    auto p = Publisher::Open(env_, *main_db_, *main_blobs_, link ? *link : partner_link_,
                             release_key_, o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    publisher_owned_ = std::move(*p);
    publisher_ = publisher_owned_.get();
  }

  void Write(const std::string& path, const std::string& bytes) {
    ASSERT_TRUE(CreateDirs(env_, DirName(path)).ok());
    ASSERT_TRUE(WriteFileAtomic(env_, path, bytes).ok());
  }

  Partnership MakePartnership(const std::string& id, ApprovalPolicy approval,
                              const std::string& name) {
    Partnership p;
    p.id = id;
    p.name = name;
    p.region = "north";
    p.public_url = "https://" + id + ".example";
    p.sync_url = "https://" + id + ".example:8443";
    p.approval = approval;
    p.retry = "backoff:30s..5m";
    return p;
  }

  // Adds the partnership at main and creates the partner site with `partner_policy`.
  PartnerSite& AddPartner(const std::string& id, ApprovalPolicy main_policy = ApprovalPolicy::kAuto,
                          ApprovalPolicy partner_policy = ApprovalPolicy::kAuto,
                          const std::string& name = "",
                          const std::function<void(Partnership&)>& edit = nullptr) {
    Partnership p = MakePartnership(id, main_policy, name.empty() ? "Shop " + id : name);
    if (edit) edit(p);
    EXPECT_TRUE(publisher_->AddPartnership(p).ok());
    return CreatePartnerSite(id, partner_policy);
  }

  // `edit_receiver` (optional) changes the receiver's options (e.g. its fetch batches).
  PartnerSite& CreatePartnerSite(const std::string& id, ApprovalPolicy policy,
                                 MainLink* link = nullptr,
                                 const std::function<void(ReceiverOptions&)>& edit_receiver = {}) {
    auto site = std::make_unique<PartnerSite>();
    PartnerSite& s = *site;
    s.id = id;
    s.dir = dir_.Sub("partner-" + id);
    content::ContentStore::Options so;
    so.site_id = id;
    auto store = content::ContentStore::Open(env_, s.dir, so);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    s.store = std::move(*store);
    auto db = OpenSqlite(s.dir + "/tieup.db");
    EXPECT_TRUE(db.ok());
    s.db = std::move(*db);
    if (link == nullptr) {
      s.main_link = std::make_unique<InProcessMainLink>(publisher_, id);
      link = s.main_link.get();
    }
    ReceiverOptions ro;
    ro.site_id = id;
    ro.pinned_root = root_key_.public_key();
    ro.root_envelope = root_envelope_;
    ro.approval = policy;
    if (edit_receiver) edit_receiver(ro);
    auto mutator = [&s](const std::function<Status(content::ContentStore&)>& fn) -> Status {
      const int call = s.mutator_calls++;
      if (call == s.fail_at)
        return Status::IOError("disk failure (test) at mutator call " + std::to_string(call));
      return fn(*s.store);
    };
    auto r = Receiver::Open(env_, *s.db, mutator, *link, ro);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    s.receiver = std::move(*r);
    s.options = ro;
    s.mutator = mutator;
    s.link = link;
    partner_link_.Add(id, s.receiver.get());
    partners_[id] = std::move(site);
    return s;
  }

  // The partner's daemon restarts: its content store and receiver are opened again from disk
  // (what they kept in memory is gone).
  void RestartPartner(PartnerSite& s) {
    content::ContentStore::Options so;
    so.site_id = s.id;
    auto store = content::ContentStore::Open(env_, s.dir, so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    s.store = std::move(*store);
    auto r = Receiver::Open(env_, *s.db, s.mutator, *s.link, s.options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    s.receiver = std::move(*r);
    partner_link_.Add(s.id, s.receiver.get());
  }

  InProcessMainLink& MainLinkOf(PartnerSite& s) {
    return static_cast<InProcessMainLink&>(*s.main_link);
  }

  // An offer of `m` signed by `key` (the genuine release key unless given).
  OfferRequest SignedOffer(const content::ReleaseManifest& m,
                           const Ed25519PrivateKey* key = nullptr,
                           const std::string& update_id = "u900") {
    OfferRequest o;
    o.partner = m.site;
    o.update_id = update_id;
    o.version = m.version;
    o.root = root_envelope_;
    o.release = EncodeEnvelope(SignRelease(key ? *key : release_key_, m.Encode()));
    return o;
  }

  // A delta offer from `base` to `next`, signed by the genuine release key.
  OfferRequest SignedDeltaOffer(const content::ReleaseManifest& base,
                                const content::ReleaseManifest& next,
                                const std::function<void(content::ReleaseDelta&)>& edit = nullptr) {
    content::ReleaseDelta d = content::MakeDelta(base, next);
    if (edit) edit(d);
    OfferRequest o;
    o.partner = next.site;
    o.update_id = "u901";
    o.version = next.version;
    o.root = root_envelope_;
    o.release = EncodeEnvelope(SignReleaseDelta(release_key_, d.Encode()));
    return o;
  }

  // The active tie-up release of `p` as main signed it (pages made from templates are the
  // templates again), and version 2 of it with /about.html replaced by `body` (its blob stored
  // at main): the base and result of a hand-made delta offer.
  std::pair<content::ReleaseManifest, content::ReleaseManifest> ActiveAndNextWithAbout(
      PartnerSite& p, const std::string& body) {
    auto active = p.store->Active(content::Area::kTieup);
    EXPECT_TRUE(active.ok());
    content::ReleaseManifest base = content::MainForm(**active);
    content::ReleaseManifest next = base;
    next.version = 2;
    next.files["/about.html"] = HandMadeRelease(p.id, 2, body).files.at("/hand.html");
    return {std::move(base), std::move(next)};
  }

  // A valid release for `site` with one page, its blob stored at main and referenced for it.
  content::ReleaseManifest HandMadeRelease(const std::string& site, uint64_t version,
                                           const std::string& body, int64_t expires_in = 3600) {
    auto hash = main_blobs_->Put(body);
    EXPECT_TRUE(hash.ok());
    EXPECT_TRUE(
        main_db_
            ->Exec("INSERT INTO sync_blob_refs(partner, hash) VALUES(?,?) ON CONFLICT DO NOTHING",
                   {site, *hash})
            .ok());
    content::ReleaseManifest m;
    m.site = site;
    m.area = content::Area::kTieup;
    m.version = version;
    m.expires = env_.NowSeconds() + expires_in;
    m.created = std::min(env_.NowSeconds(), m.expires - 3600);
    content::FileEntry e;
    e.hash = *hash;
    e.length = body.size();
    e.content_type = "text/html; charset=utf-8";
    m.files["/hand.html"] = e;
    return m;
  }

  bool HasEvent(const std::vector<SyncEvent>& events, const std::string& kind,
                const std::string& text) {
    for (const auto& e : events) {
      if (e.kind == kind && e.message.find(text) != std::string::npos) return true;
    }
    return false;
  }

  FakeClockEnv env_;
  TempDir dir_;
  std::string authoring_;
  Ed25519PrivateKey root_key_;
  Ed25519PrivateKey release_key_;
  std::string root_envelope_;
  std::unique_ptr<content::BlobStore> main_blobs_;
  std::unique_ptr<Database> main_db_;
  InProcessPartnerLink partner_link_;
  std::unique_ptr<Publisher> publisher_owned_;
  Publisher* publisher_ = nullptr;
  std::map<std::string, std::unique_ptr<PartnerSite>> partners_;
};

}  // namespace tieup::sync::testing

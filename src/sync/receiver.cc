#include "sync/receiver.h"

#include <boost/json.hpp>
#include <cstdio>
#include <future>
#include <map>
#include <optional>
#include <set>

#include "content/content_store.h"
#include "content/release.h"
#include "content/template_vars.h"
#include "sync/schema.h"
#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace json = boost::json;
namespace {

constexpr size_t kMaxPathsKept = 1000;
constexpr std::string_view kReceivedColumns =
    "update_id, version, state, received, decided, reason, added, changed, removed, "
    "added_bytes, changed_bytes, removed_bytes, paths, response_unsent";

std::string EncodePaths(const content::ReleaseDiff& d) {
  auto list = [](const std::vector<content::DiffEntry>& entries) {
    json::array a;
    for (size_t i = 0; i < entries.size() && i < kMaxPathsKept; ++i)
      a.emplace_back(entries[i].path);
    return a;
  };
  json::object o;
  o["added"] = list(d.added);
  o["changed"] = list(d.changed);
  o["removed"] = list(d.removed);
  return CanonicalJson(json::value(std::move(o)));
}

void DecodePaths(const std::string& text, ReceivedUpdate& u) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return;
  auto get = [&](const char* key, std::vector<std::string>& out) {
    const json::value* a = v.get_object().if_contains(key);
    if (a == nullptr || !a->is_array()) return;
    for (const auto& e : a->get_array()) {
      if (e.is_string()) out.emplace_back(e.get_string());
    }
  };
  get("added", u.added_paths);
  get("changed", u.changed_paths);
  get("removed", u.removed_paths);
}

ReceivedUpdate UpdateFromRow(const SqlRow& r) {
  ReceivedUpdate u;
  u.update_id = r.Text(0);
  u.version = static_cast<uint64_t>(r.Int(1));
  u.state = r.Text(2);
  u.received = r.Int(3);
  u.decided = r.Int(4);
  u.reason = r.Text(5);
  u.added = static_cast<uint64_t>(r.Int(6));
  u.changed = static_cast<uint64_t>(r.Int(7));
  u.removed = static_cast<uint64_t>(r.Int(8));
  u.added_bytes = static_cast<uint64_t>(r.Int(9));
  u.changed_bytes = static_cast<uint64_t>(r.Int(10));
  u.removed_bytes = static_cast<uint64_t>(r.Int(11));
  DecodePaths(r.Text(12), u);
  u.response_unsent = r.Int(13) != 0;
  return u;
}

}  // namespace

Result<std::unique_ptr<Receiver>> Receiver::Open(Env& env, Database& db, ContentMutator content,
                                                 MainLink& main, ReceiverOptions options) {
  RETURN_IF_ERROR(content::ValidateSiteId(options.site_id).Annotate("receiver site id"));
  if (!content) return Status::InvalidArgument("receiver: no content mutator given");
  if (options.pinned_root.bytes().size() != kEd25519PublicKeySize) {
    return Status::InvalidArgument("receiver: main's root key is not pinned; enroll first");
  }
  int64_t root_version = 0;
  if (!options.root_envelope.empty()) {
    // Parse without the expiry check (a long-running partner's enrollment root may expire;
    // offers carry main's current root): only the signature and the version matter here.
    auto env_parsed = ParseEnvelope(options.root_envelope);
    if (!env_parsed.ok()) return env_parsed.status().Annotate("receiver: pinned root metadata");
    auto root = VerifyRootMetadata(options.pinned_root, options.root_envelope, 0);
    if (!root.ok()) return root.status().Annotate("receiver: pinned root metadata");
    root_version = root->version;
  }
  if (options.fetch_batch_count == 0) options.fetch_batch_count = 1;
  if (options.fetch_batch_count > kMaxBlobsPerRequest) {
    options.fetch_batch_count = kMaxBlobsPerRequest;
  }
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  return std::unique_ptr<Receiver>(
      new Receiver(env, db, std::move(content), main, std::move(options), root_version));
}

Receiver::Receiver(Env& env, Database& db, ContentMutator content, MainLink& main,
                   ReceiverOptions options, int64_t root_version)
    : env_(env),
      db_(db),
      content_(std::move(content)),
      main_(main),
      options_(std::move(options)),
      root_version_(root_version) {}

Status Receiver::Event(std::string_view update_id, uint64_t version, std::string_view kind,
                       std::string_view message) {
  return internal::RecordEvent(db_, env_.NowSeconds(), options_.site_id, update_id, version, kind,
                               message);
}

Status Receiver::Refuse(const OfferRequest& offer, uint64_t version, const Status& why) {
  (void)Event(offer.update_id, version, "refused",
              "refused update " + offer.update_id + ": " + why.message());
  return why;
}

std::shared_ptr<const content::ReleaseManifest> Receiver::MainFormOf(
    const std::shared_ptr<const content::ReleaseManifest>& release) {
  if (!release || !content::UsesTemplates(*release)) return release;
  std::lock_guard<std::mutex> lock(main_form_mu_);
  // A release of this site is named by its version: the one staged as that version is the one
  // activated (a re-offer of a staged version stages the same signed release).
  if (main_form_ && main_form_->version == release->version && main_form_->site == release->site &&
      main_form_->area == release->area) {
    return main_form_;
  }
  main_form_ = std::make_shared<const content::ReleaseManifest>(content::MainForm(*release));
  return main_form_;
}

Result<uint64_t> Receiver::ActiveVersion() {
  uint64_t version = 0;
  RETURN_IF_ERROR(content_([&](content::ContentStore& store) -> Status {
    auto active = store.Active(content::Area::kTieup);
    if (active.ok()) {
      version = (*active)->version;
    } else if (active.status().code() != StatusCode::kNotFound) {
      return active.status();
    }
    return Status::Ok();
  }));
  return version;
}

Result<content::ReleaseManifest> Receiver::ApplyReleaseDelta(
    const std::shared_ptr<const content::ReleaseManifest>& active,
    const content::ReleaseDelta& delta) {
  std::optional<content::ReleaseManifest> base;
  Status read = content_([&](content::ContentStore& store) -> Status {
    // Main signed its own form: pages made here from main's templates are those again.
    if (active && active->version == delta.base_version) {
      base = *MainFormOf(active);  // shares the storage (content/release.h FileMap)
    } else {
      auto staged = store.ReadStaged(content::Area::kTieup, delta.base_version);
      if (!staged.ok()) return staged.status();
      base = content::UsesTemplates(*staged) ? content::MainForm(*staged) : std::move(*staged);
    }
    return Status::Ok();
  });
  if (read.code() == StatusCode::kNotFound) {
    return Status::NotFound("this site does not hold version " +
                            std::to_string(delta.base_version) + ", the delta's base");
  }
  RETURN_IF_ERROR(read.Annotate("reading the delta's base"));
  // The active release shares its chunks (and their cached digests) with the release this
  // receiver verified last, so hashing it costs little; a staged one read back is hashed whole.
  auto applied = content::ApplyDelta(*base, delta);
  if (!applied.ok() && applied.status().code() == StatusCode::kInvalidArgument) {
    // This site's copy of the base is not the one main signed against (e.g. an emergency edit).
    return Status::NotFound(applied.status().message());
  }
  return applied;
}

Result<OfferReply> Receiver::HandleOffer(const OfferRequest& offer) {
  std::lock_guard<std::mutex> lock(offer_mu_);
  return HandleOfferLocked(offer);
}

Result<OfferReply> Receiver::HandleOfferLocked(const OfferRequest& offer,
                                               const FetchProgressFn& progress) {
  const int64_t now = env_.NowSeconds();
  (void)Event(offer.update_id, offer.version, "offered",
              "main offered version " + std::to_string(offer.version) + " (update " +
                  offer.update_id + ")");
  if (offer.partner != options_.site_id) {
    return Refuse(offer, offer.version,
                  Status::PermissionDenied("offer is addressed to partner '" + offer.partner +
                                           "', but this is '" + options_.site_id +
                                           "': refusing another partner's release"));
  }
  // 1. Signatures: root against the pinned key, release against the root's release keys.
  const std::string& root = offer.root.empty() ? options_.root_envelope : offer.root;
  std::string payload_type;
  auto payload = VerifyRelease(options_.pinned_root, root, offer.release, now, &payload_type);
  if (!payload.ok()) {
    return Refuse(offer, offer.version,
                  Status(payload.status().code(),
                         "release metadata does not verify: " + payload.status().message()));
  }
  if (!offer.root.empty()) {
    auto r = VerifyRootMetadata(options_.pinned_root, offer.root, now);
    if (r.ok() && r->version < root_version_) {
      return Refuse(
          offer, offer.version,
          Status::FailedPrecondition("root metadata version " + std::to_string(r->version) +
                                     " is older than the pinned version " +
                                     std::to_string(root_version_) + ": refusing a root rollback"));
    }
  }
  // 2. The header: this partner, a newer version, not expired.
  std::shared_ptr<const content::ReleaseManifest> active;
  Status read = content_([&](content::ContentStore& store) -> Status {
    auto a = store.Active(content::Area::kTieup);
    if (a.ok()) {
      active = *a;
    } else if (a.status().code() != StatusCode::kNotFound) {
      return a.status();
    }
    return Status::Ok();
  });
  if (!read.ok()) return Refuse(offer, offer.version, read.Annotate("reading the active release"));
  const uint64_t active_version = active ? active->version : 0;
  Result<content::ReleaseManifest> manifest = Status::Internal("no release metadata");
  if (payload_type == kReleaseDeltaPayloadType) {
    auto delta = content::ReleaseDelta::ParseCanonical(*payload);
    if (!delta.ok()) {
      return Refuse(offer, offer.version,
                    delta.status().Annotate("signed release delta is malformed"));
    }
    Status header =
        CheckReleaseHeader(options_.site_id, static_cast<int64_t>(active_version), now, delta->site,
                           static_cast<int64_t>(delta->version), delta->expires);
    if (!header.ok()) return Refuse(offer, delta->version, header);
    manifest = ApplyReleaseDelta(active, *delta);
    if (!manifest.ok()) {
      if (manifest.status().code() == StatusCode::kNotFound) {
        // Not a refusal: main sends the full metadata when told the base is missing.
        (void)Event(offer.update_id, delta->version, "offered",
                    "cannot apply the delta: " + manifest.status().message() +
                        "; asking main for the full metadata");
        return manifest.status();
      }
      return Refuse(offer, delta->version, manifest.status());
    }
  } else {
    manifest = content::ReleaseManifest::ParseCanonical(*payload);
    if (!manifest.ok()) {
      return Refuse(offer, offer.version,
                    manifest.status().Annotate("signed release metadata is malformed"));
    }
  }
  const content::ReleaseManifest& m = *manifest;
  if (m.area != content::Area::kTieup) {
    return Refuse(
        offer, m.version,
        Status::PermissionDenied("release is for the '" + std::string(content::AreaName(m.area)) +
                                 "' area; main may only update tie-up pages"));
  }
  if (m.version != offer.version) {
    return Refuse(
        offer, m.version,
        Status::InvalidArgument("offer says version " + std::to_string(offer.version) +
                                " but the signed metadata says " + std::to_string(m.version)));
  }
  Status header = CheckReleaseHeader(options_.site_id, static_cast<int64_t>(active_version), now,
                                     m.site, static_cast<int64_t>(m.version), m.expires);
  if (!header.ok()) return Refuse(offer, m.version, header);
  // Several mains: a path outside this main's tie-up area, or in another main's, is refused
  // before anything is fetched (site/main_areas.h).
  Status area = content_([&](content::ContentStore& store) {
    return content::CheckTieupAreaRules(store.area_rules(), m);
  });
  if (!area.ok()) return Refuse(offer, m.version, area);
  {
    auto rolled = db_.Query("SELECT time FROM sync_rolled_back WHERE version = ?",
                            {static_cast<int64_t>(m.version)});
    if (!rolled.ok()) return Refuse(offer, m.version, rolled.status());
    if (!rolled->empty()) {
      return Refuse(offer, m.version,
                    Status::FailedPrecondition(
                        "version " + std::to_string(m.version) +
                        " was rolled back by this site's manager: refusing it again; main must "
                        "publish a newer version"));
    }
  }

  // 3. Fetch only what the store lacks, in batches; read each up to its stated length.
  std::map<std::string, uint64_t> wanted;  // hash -> stated length
  auto want = [&](const content::FileEntry& e) {
    wanted.emplace(e.hash, e.length);
    if (e.gzip) wanted.emplace(e.gzip->hash, e.gzip->length);
  };
  // The active release as main signed it (pages made from templates are the templates again).
  const std::shared_ptr<const content::ReleaseManifest> active_main = MainFormOf(active);
  if (active_main) {
    // The active release's blobs are here (kept while it is active): only entries that differ
    // from it are looked at, and chunks shared with it (a delta's result) are skipped unread.
    active_main->files.ForEachDifference(m.files, [&](const std::string&, const content::FileEntry*,
                                                      const content::FileEntry* after) {
      if (after != nullptr) want(*after);
    });
    if (active_main->variables != m.variables) {
      // Other values: every page made from a template is made again, so every template is
      // needed (the active release's are kept here, so usually none is fetched).
      for (const auto& [path, e] : m.files) {
        if (e.vars) want(e);
      }
    }
  } else {
    for (const auto& [path, e] : m.files) want(e);
  }
  std::vector<std::pair<std::string, uint64_t>> missing;
  Status scan = content_([&](content::ContentStore& store) -> Status {
    for (const auto& [hash, length] : wanted) {
      if (!store.blobs().Has(hash)) missing.emplace_back(hash, length);
    }
    return Status::Ok();
  });
  if (!scan.ok()) return Refuse(offer, m.version, scan.Annotate("checking stored blobs"));
  uint64_t fetched_blobs = 0;
  uint64_t fetched_bytes = 0;
  // The blobs this attempt stored: removed again when it fails (a full disk must not keep the
  // part of a release that did not fit), except one another release uses (content addressing
  // shares blobs). Done before the failure is recorded, so the record has room. An interrupted
  // fetch keeps them instead: the next offer resumes from them.
  std::vector<std::string> stored;
  auto clean_up = [&]() -> std::string {
    if (stored.empty()) return "";
    size_t removed = 0;
    Status s = content_([&](content::ContentStore& store) -> Status {
      ASSIGN_OR_RETURN(removed, store.RemoveUnreferencedBlobs(stored));
      return Status::Ok();
    });
    stored.clear();
    if (!s.ok()) return "; removing the blobs it stored failed: " + s.ToString();
    return "; the " + std::to_string(removed) + " blob(s) it stored were removed";
  };
  auto refuse = [&](const Status& why) {
    return Refuse(offer, m.version, Status(why.code(), why.message() + clean_up()));
  };
  FetchProgress fetch;
  fetch.update_id = offer.update_id;
  fetch.version = m.version;
  fetch.files_total = missing.size();
  for (const auto& [hash, length] : missing) fetch.bytes_total += length;
  if (progress) progress(fetch);
  // How long fetching, then making and staging took, in the events (a first sync's figures).
  const int64_t fetch_began = env_.NowMicros();
  auto seconds_since = [this](int64_t began) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s",
                  static_cast<double>(env_.NowMicros() - began) / 1'000'000.0);
    return std::string(text);
  };
  struct FetchBatch {
    std::vector<std::string> hashes;
    std::vector<uint64_t> lengths;
    bool with_offer = false;  // main sent these with the offer: nothing to fetch
  };
  std::vector<FetchBatch> batches;
  size_t with_offer = 0;
  {
    // What main sent with the offer first (a small update's blobs), checked as a fetched batch.
    FetchBatch sent;
    sent.with_offer = true;
    for (const auto& [hash, length] : missing) {
      if (offer.blobs.contains(hash)) {
        sent.hashes.push_back(hash);
        sent.lengths.push_back(length);
      }
    }
    with_offer = sent.hashes.size();
    if (with_offer > 0) batches.push_back(std::move(sent));
    uint64_t batch_bytes = 0;
    for (const auto& [hash, length] : missing) {
      if (offer.blobs.contains(hash)) continue;
      if (batches.empty() || batches.back().with_offer ||
          batches.back().hashes.size() >= options_.fetch_batch_count ||
          (!batches.back().hashes.empty() && batch_bytes + length > options_.fetch_batch_bytes)) {
        batches.emplace_back();
        batch_bytes = 0;
      }
      batches.back().hashes.push_back(hash);
      batches.back().lengths.push_back(length);
      batch_bytes += length;
    }
  }
  // One batch in flight while the one before is checked and stored (main reads and sends the
  // next while this partner hashes and writes): a first sync of thousands of blobs waited for
  // each round trip in turn. Leaving the loop early waits for the one in flight (std::future).
  auto fetch_batch = [this, &batches, &offer](size_t b) {
    if (batches[b].with_offer) {
      return std::async(std::launch::deferred, [&batches, &offer, b] {
        std::vector<std::string> bytes;
        for (const std::string& hash : batches[b].hashes) bytes.push_back(offer.blobs.at(hash));
        return Result<std::vector<std::string>>(std::move(bytes));
      });
    }
    return std::async(std::launch::async,
                      [this, &batches, b] { return main_.FetchBlobs(batches[b].hashes); });
  };
  std::future<Result<std::vector<std::string>>> in_flight;
  if (!batches.empty()) in_flight = fetch_batch(0);
  for (size_t b = 0; b < batches.size(); ++b) {
    const std::vector<std::string>& hashes = batches[b].hashes;
    const std::vector<uint64_t>& lengths = batches[b].lengths;
    auto got = in_flight.get();
    if (!got.ok()) {
      Status s =
          got.status().Annotate("fetching " + std::to_string(hashes.size()) + " blobs from main");
      (void)Event(offer.update_id, m.version, "failed",
                  s.message() + "; " + std::to_string(fetched_blobs) +
                      " blobs were stored, the rest will be fetched on the next offer");
      return s;
    }
    if (b + 1 < batches.size()) in_flight = fetch_batch(b + 1);
    if (got->size() != hashes.size()) {
      Status s = Status::DataLoss("main sent " + std::to_string(got->size()) + " blobs for " +
                                  std::to_string(hashes.size()) + " requested");
      return refuse(s);
    }
    for (size_t k = 0; k < hashes.size(); ++k) {
      const std::string& bytes = (*got)[k];
      if (bytes.size() < lengths[k]) {
        return refuse(Status::DataLoss(
            "main sent " + std::to_string(bytes.size()) + " bytes for blob " + hashes[k] +
            ", but the release states " + std::to_string(lengths[k]) + ": refusing the update"));
      }
    }
    // The whole batch in one call on the content store (one open, one lock): per blob, the
    // store was reopened for every file of a large release. Made durable together (BlobBatch:
    // two syncs of the file system, not two per blob).
    size_t bad = hashes.size();
    Status put = content_([&](content::ContentStore& store) -> Status {
      std::optional<content::BlobBatch> batch;
      if (hashes.size() >= content::kBlobBatchWorthIt) batch.emplace(store.blobs());
      content::BlobWriter& out = batch ? static_cast<content::BlobWriter&>(*batch) : store.blobs();
      for (size_t k = 0; k < hashes.size(); ++k) {
        // Never more than the stated length is hashed or stored.
        const std::string_view stated((*got)[k].data(), lengths[k]);
        Status s = out.PutExpected(hashes[k], stated);
        if (!s.ok()) {
          bad = k;
          return s;
        }
        // Listed before the commit: a failed commit's blobs that got their names are removed
        // with the rest.
        stored.push_back(hashes[k]);
      }
      return batch ? batch->Commit() : Status::Ok();
    });
    if (!put.ok()) {
      if (put.code() == StatusCode::kDataLoss && bad < hashes.size()) {
        return refuse(Status::DataLoss("blob " + hashes[bad] +
                                       " from main does not match its hash in the signed "
                                       "release (first " +
                                       std::to_string(lengths[bad]) +
                                       " bytes read): refusing the update"));
      }
      const std::string cleaned = clean_up();
      (void)Event(offer.update_id, m.version, "failed",
                  "storing fetched blobs failed: " + put.ToString() + cleaned +
                      "; the active release stays served");
      return put;
    }
    for (size_t k = 0; k < hashes.size(); ++k) {
      const std::string& bytes = (*got)[k];
      if (bytes.size() > lengths[k]) {
        (void)Event(offer.update_id, m.version, "fetched",
                    "main sent " + std::to_string(bytes.size()) + " bytes for blob " + hashes[k] +
                        "; only the stated " + std::to_string(lengths[k]) + " were read");
      }
      ++fetched_blobs;
      fetched_bytes += lengths[k];
    }
    fetch.files_done = fetched_blobs;
    fetch.bytes_done = fetched_bytes;
    if (progress) progress(fetch);
  }
  size_t referenced = 0;  // blobs the release names (a file and its gzip variant are two)
  for (const auto& [path, e] : m.files) referenced += e.gzip ? 2 : 1;
  (void)Event(offer.update_id, m.version, "fetched",
              "fetched " + std::to_string(fetched_blobs) + " of " + std::to_string(referenced) +
                  " blobs (" + std::to_string(fetched_bytes) + " bytes) in " +
                  seconds_since(fetch_began) +
                  (with_offer > 0 ? ", " + std::to_string(with_offer) + " sent with the offer"
                                  : std::string()) +
                  "; the rest were present");
  const int64_t stage_began = env_.NowMicros();

  // 4. The pages made from main's templates with this partner's values (content/template_vars.h),
  // then stage beside the active release (one call on the content store).
  std::optional<content::ReleaseManifest> expanded;
  Status made;
  Status staged = content_([&](content::ContentStore& store) -> Status {
    if (content::UsesTemplates(m)) {
      auto e = content::ExpandRelease(m, store.blobs(), active.get(), active_main.get());
      if (!e.ok()) {
        made = e.status();
        return made;
      }
      for (const auto& [path, f] : e->files) {
        if (!f.expanded_from) continue;
        stored.push_back(f.hash);
        if (f.gzip) stored.push_back(f.gzip->hash);
      }
      expanded = std::move(*e);
    }
    return store.Stage(expanded ? *expanded : m);
  });
  if (!made.ok()) {
    if (made.code() == StatusCode::kInvalidArgument) {
      return refuse(made.Annotate("making the pages of the signed templates"));
    }
    const std::string cleaned = clean_up();
    (void)Event(offer.update_id, m.version, "failed",
                "making the pages of version " + std::to_string(m.version) +
                    " from main's templates failed: " + made.ToString() + cleaned +
                    "; the active release stays served");
    return made;
  }
  const content::ReleaseManifest& to_stage = expanded ? *expanded : m;
  if (staged.ok() && expanded) {
    // The signed form of what was staged: the next offer's delta applies to it.
    std::lock_guard<std::mutex> lock(main_form_mu_);
    main_form_ = std::make_shared<const content::ReleaseManifest>(m);
  }
  if (!staged.ok()) {
    const std::string cleaned = clean_up();
    (void)Event(offer.update_id, m.version, "failed",
                "staging version " + std::to_string(m.version) + " failed: " + staged.ToString() +
                    cleaned + "; the active release stays served");
    return staged;
  }
  const content::ReleaseDiff diff =
      content::Diff(active ? *active : content::ReleaseManifest{}, to_stage);
  (void)Event(offer.update_id, m.version, "staged",
              "staged version " + std::to_string(m.version) + ": " +
                  std::to_string(diff.added.size()) + " added, " +
                  std::to_string(diff.changed.size()) + " changed, " +
                  std::to_string(diff.removed.size()) + " removed (" +
                  (expanded ? "pages made and staged" : "staged") + " in " +
                  seconds_since(stage_began) + ")");

  OfferReply reply;
  reply.update_id = offer.update_id;
  reply.version = m.version;
  reply.fetched_blobs = fetched_blobs;
  reply.fetched_bytes = fetched_bytes;
  reply.added = diff.added.size();
  reply.changed = diff.changed.size();
  reply.removed = diff.removed.size();
  const bool manager =
      options_.approval == ApprovalPolicy::kManager || offer.approval == ApprovalPolicy::kManager;

  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(
        db.Exec("UPDATE sync_received SET state = 'superseded', decided = ? "
                "WHERE state IN ('pending', 'approved') AND update_id != ?",
                {now, offer.update_id}));
    return db.Exec(
        "INSERT OR REPLACE INTO sync_received(update_id, version, state, received, added, "
        "changed, removed, added_bytes, changed_bytes, removed_bytes, paths) "
        "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
        {offer.update_id, static_cast<int64_t>(m.version), manager ? "pending" : "staged", now,
         static_cast<int64_t>(diff.added.size()), static_cast<int64_t>(diff.changed.size()),
         static_cast<int64_t>(diff.removed.size()), static_cast<int64_t>(diff.added_bytes),
         static_cast<int64_t>(diff.changed_bytes), static_cast<int64_t>(diff.removed_bytes),
         EncodePaths(diff)});
  }));
  if (manager) {
    (void)Event(offer.update_id, m.version, "pending",
                "version " + std::to_string(m.version) +
                    " waits for the manager: approve with 'tieup partner approve DIR " +
                    offer.update_id + "' or reject with a reason");
    reply.outcome = OfferOutcome::kPending;
    reply.active_version = active_version;
    return reply;
  }
  const int64_t activate_began = env_.NowMicros();
  Status activated = content_([&](content::ContentStore& store) {
    return store.Activate(content::Area::kTieup, m.version);
  });
  if (!activated.ok()) {
    (void)Event(offer.update_id, m.version, "failed",
                "activating version " + std::to_string(m.version) +
                    " failed: " + activated.ToString() + "; it stays staged");
    return activated;
  }
  RETURN_IF_ERROR(
      db_.Exec("UPDATE sync_received SET state = 'activated', decided = ? "
               "WHERE update_id = ?",
               {now, offer.update_id}));
  (void)Event(offer.update_id, m.version, "activated",
              "activated version " + std::to_string(m.version) + " (policy auto) in " +
                  seconds_since(activate_began));
  reply.outcome = OfferOutcome::kActivated;
  reply.active_version = m.version;
  return reply;
}

Result<ReceivedUpdate> Receiver::LoadUpdate(const std::string& update_id) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kReceivedColumns) +
                                            " FROM sync_received WHERE update_id = ?",
                                        {update_id}));
  if (rows.empty()) {
    return Status::NotFound("no update '" + update_id +
                            "' here; 'tieup partner pending' lists the pending ones");
  }
  return UpdateFromRow(rows[0]);
}

Result<uint64_t> Receiver::HandleActivate(const ActivateRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  return ActivateLocked(request, "main's command");
}

Result<uint64_t> Receiver::ActivateLocked(const ActivateRequest& request, std::string_view by) {
  auto u = LoadUpdate(request.update_id);
  auto refuse = [&](Status s) {
    (void)Event(request.update_id, request.version, "refused",
                "activation of update " + request.update_id + " refused: " + s.message());
    return s;
  };
  if (!u.ok()) return refuse(u.status());
  if (u->version != request.version) {
    return refuse(Status::InvalidArgument("update " + request.update_id + " is version " +
                                          std::to_string(u->version) + ", not " +
                                          std::to_string(request.version)));
  }
  if (u->state == "activated") {
    ASSIGN_OR_RETURN(uint64_t active, ActiveVersion());
    return active;
  }
  if (u->state != "approved") {
    return refuse(Status::FailedPrecondition(
        "update " + request.update_id + " is " + u->state +
        "; only an update the manager approved is activated ('tieup partner approve')"));
  }
  Status s = content_([&](content::ContentStore& store) {
    return store.Activate(content::Area::kTieup, request.version);
  });
  if (!s.ok()) {
    (void)Event(
        request.update_id, request.version, "failed",
        "activating version " + std::to_string(request.version) + " failed: " + s.ToString());
    return s;
  }
  RETURN_IF_ERROR(db_.Exec("UPDATE sync_received SET state = 'activated' WHERE update_id = ?",
                           {request.update_id}));
  (void)Event(request.update_id, request.version, "activated",
              "activated version " + std::to_string(request.version) + " on " + std::string(by));
  return request.version;
}

ServedTieup DescribeServedTieup(const content::ContentStore& store,
                                const content::ReleaseManifest* active_main) {
  ServedTieup out;
  auto active = store.Active(content::Area::kTieup);
  if (!active.ok()) return out;
  out.version = (*active)->version;
  // Main names releases by the hash of its own form (pages made here from templates are the
  // templates again).
  if (active_main != nullptr && active_main->version == (*active)->version) {
    out.active_hash = active_main->Hash();
  } else {
    out.active_hash =
        content::UsesTemplates(**active) ? content::MainForm(**active).Hash() : (*active)->Hash();
  }
  for (const content::OverlayEntry& e : store.Overlay()) {
    out.overlay.push_back(
        EmergencyEditState{e.path, e.entry ? e.entry->hash : std::string(), e.at, e.by});
  }
  return out;
}

Result<PartnerSyncStatus> Receiver::GetStatus() {
  PartnerSyncStatus st;
  st.site = options_.site_id;
  RETURN_IF_ERROR(content_([&](content::ContentStore& store) -> Status {
    auto active = store.Active(content::Area::kTieup);
    const std::shared_ptr<const content::ReleaseManifest> main_form =
        active.ok() ? MainFormOf(*active) : nullptr;
    ServedTieup served = DescribeServedTieup(store, main_form.get());
    st.active_version = served.version;
    st.active_hash = std::move(served.active_hash);
    st.overlay = std::move(served.overlay);
    ASSIGN_OR_RETURN(st.staged_versions, store.StagedVersions(content::Area::kTieup));
    return Status::Ok();
  }));
  ASSIGN_OR_RETURN(auto pending, Pending());
  for (const auto& p : pending) st.pending_updates.push_back(p.update_id);
  return st;
}

Result<std::vector<ReceivedUpdate>> Receiver::Pending() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kReceivedColumns) +
                                        " FROM sync_received WHERE state = 'pending' ORDER BY "
                                        "received, update_id"));
  std::vector<ReceivedUpdate> out;
  for (const auto& r : rows) out.push_back(UpdateFromRow(r));
  return out;
}

Result<std::vector<ReceivedUpdate>> Receiver::Updates(size_t limit) {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT " + std::string(kReceivedColumns) +
                                 " FROM sync_received ORDER BY received DESC, rowid DESC LIMIT ?",
                             {static_cast<int64_t>(limit)}));
  std::vector<ReceivedUpdate> out;
  for (const auto& r : rows) out.push_back(UpdateFromRow(r));
  return out;
}

Status Receiver::Approve(const std::string& update_id) {
  ReceivedUpdate u;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(u, LoadUpdate(update_id));
    if (u.state != "pending") {
      return Status::FailedPrecondition("update " + update_id + " is " + u.state +
                                        ", not pending: nothing to approve");
    }
    RETURN_IF_ERROR(
        db_.Exec("UPDATE sync_received SET state = 'approved', decided = ?, response_unsent = 1 "
                 "WHERE update_id = ?",
                 {env_.NowSeconds(), update_id}));
    (void)Event(update_id, u.version, "approved",
                "manager approved version " + std::to_string(u.version));
    u.state = "approved";
  }
  return SendResponse(u);
}

Status Receiver::Reject(const std::string& update_id, const std::string& reason) {
  if (reason.empty()) {
    return Status::InvalidArgument("a rejection needs a reason (--reason TEXT) for main's manager");
  }
  if (reason.size() > 4096) return Status::InvalidArgument("the reason is above 4096 bytes");
  ReceivedUpdate u;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(u, LoadUpdate(update_id));
    if (u.state != "pending") {
      return Status::FailedPrecondition("update " + update_id + " is " + u.state +
                                        ", not pending: nothing to reject");
    }
    RETURN_IF_ERROR(
        db_.Exec("UPDATE sync_received SET state = 'rejected', decided = ?, reason = ?, "
                 "response_unsent = 1 WHERE update_id = ?",
                 {env_.NowSeconds(), reason, update_id}));
    (void)Event(update_id, u.version, "rejected",
                "manager rejected version " + std::to_string(u.version) + ": " + reason);
    u.state = "rejected";
    u.reason = reason;
  }
  return SendResponse(u);
}

Status Receiver::SendResponse(const ReceivedUpdate& u) {
  UpdateResponse r;
  r.update_id = u.update_id;
  r.approved = u.state == "approved";
  r.reason = u.reason;
  auto reply = main_.RespondToUpdate(r);
  if (!reply.ok()) {
    (void)Event(u.update_id, u.version, "failed",
                std::string("could not send the ") + (r.approved ? "approval" : "rejection") +
                    " to main: " + reply.status().ToString() + "; it will be sent again");
    return Status(reply.status().code(),
                  std::string("the decision is recorded, but main could not be told: ") +
                      reply.status().message() + "; it will be sent again");
  }
  RETURN_IF_ERROR(
      db_.Exec("UPDATE sync_received SET response_unsent = 0 WHERE update_id = ?", {u.update_id}));
  if (r.approved && reply->activate) {
    if (reply->version != u.version) {
      return Status::InvalidArgument("main answered with version " +
                                     std::to_string(reply->version) + " for update " + u.update_id +
                                     " of version " + std::to_string(u.version));
    }
    uint64_t active = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ASSIGN_OR_RETURN(active,
                       ActivateLocked(ActivateRequest{u.update_id, u.version}, "main's answer"));
    }
    Status told = main_.ReportEvent(EventReport{u.update_id, active, "activated",
                                                "activated version " + std::to_string(active)});
    if (!told.ok()) {
      (void)Event(u.update_id, active, "failed",
                  "could not report the activation to main: " + told.ToString());
    }
  }
  return Status::Ok();
}

Status Receiver::ResendResponses() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kReceivedColumns) +
                                        " FROM sync_received WHERE response_unsent = 1 ORDER BY "
                                        "received"));
  Status first;
  for (const auto& row : rows) {
    ReceivedUpdate u = UpdateFromRow(row);
    if (u.state == "superseded") continue;
    Status s = SendResponse(u);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Result<uint64_t> Receiver::Rollback() {
  uint64_t before = 0;
  uint64_t after = 0;
  {
    std::lock_guard<std::mutex> offer_lock(offer_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    // Only a version that was live before may become live again: a staged release the manager
    // rejected (or one never approved) is kept on disk, but never activated by a rollback, nor
    // is one the manager already rolled back from.
    std::set<uint64_t> was_live, rolled_back;
    ASSIGN_OR_RETURN(auto live_rows,
                     db_.Query("SELECT DISTINCT version FROM sync_events WHERE partner = ? AND "
                               "kind IN ('activated', 'rollback')",
                               {options_.site_id}));
    for (const auto& row : live_rows) was_live.insert(static_cast<uint64_t>(row.Int(0)));
    ASSIGN_OR_RETURN(auto gone_rows, db_.Query("SELECT version FROM sync_rolled_back", {}));
    for (const auto& row : gone_rows) rolled_back.insert(static_cast<uint64_t>(row.Int(0)));
    Status s = content_([&](content::ContentStore& store) -> Status {
      auto a = store.Active(content::Area::kTieup);
      if (!a.ok()) {
        return Status::FailedPrecondition("there is no active tie-up release to roll back");
      }
      before = (*a)->version;
      ASSIGN_OR_RETURN(after, store.Rollback(content::Area::kTieup, [&](uint64_t v) {
        return was_live.contains(v) && !rolled_back.contains(v);
      }));
      return Status::Ok();
    });
    if (!s.ok()) {
      (void)Event("", before, "failed", "rollback failed: " + s.message());
      return s;
    }
    RETURN_IF_ERROR(db_.Exec("INSERT OR REPLACE INTO sync_rolled_back(version, time) VALUES(?,?)",
                             {static_cast<int64_t>(before), env_.NowSeconds()}));
    (void)Event("", after, "rollback",
                "manager rolled back from version " + std::to_string(before) + " to " +
                    std::to_string(after) + "; version " + std::to_string(before) +
                    " will be refused if offered again");
  }
  Status told =
      main_.ReportEvent(EventReport{"", after, "rollback",
                                    "manager rolled back from version " + std::to_string(before) +
                                        " to " + std::to_string(after)});
  if (!told.ok()) {
    (void)Event("", after, "failed", "could not tell main about the rollback: " + told.ToString());
  }
  return after;
}

Result<PollResult> Receiver::Poll(bool repair_missing, const FetchProgressFn& progress) {
  PollResult result;
  if (repair_missing) {
    ASSIGN_OR_RETURN(std::vector<BlobRepair> missing, FindMissingBlobs());
    if (!missing.empty()) {
      auto repaired = RepairBlobs(missing);
      if (repaired.ok()) {
        result.repaired = *repaired;
      } else {
        result.repair_error = repaired.status().ToString();
      }
      // What is still missing (a repair that failed, or a blob main sent that did not fit).
      ASSIGN_OR_RETURN(std::vector<BlobRepair> left, FindMissingBlobs());
      result.unrepaired = left.size();
      if (result.unrepaired > 0 && result.repair_error.empty()) {
        result.repair_error = "main did not send them";
      }
    }
  }
  ASSIGN_OR_RETURN(const uint64_t have, ActiveVersion());
  auto offer = main_.LatestRelease(have);
  if (!offer.ok()) {
    (void)Event(
        "", 0, "failed",
        "polling main failed: " + offer.status().ToString() + "; the active release stays served");
    return offer.status();
  }
  result.update_id = offer->update_id;
  result.version = offer->version;
  ASSIGN_OR_RETURN(uint64_t active, ActiveVersion());
  if (offer->version == active) {
    result.state = "up_to_date";
    return result;
  }
  if (auto known = LoadUpdate(offer->update_id);
      known.ok() && known->version == offer->version &&
      (known->state == "pending" || known->state == "approved")) {
    result.state = "pending";
    return result;
  }
  auto handle = [&](const OfferRequest& o) {
    std::lock_guard<std::mutex> lock(offer_mu_);
    return HandleOfferLocked(o, progress);
  };
  auto reply = handle(*offer);
  if (!reply.ok() && reply.status().code() == StatusCode::kNotFound) {
    // Main's delta does not apply to what this site holds: ask for the full metadata.
    auto full = main_.LatestRelease(0);
    if (!full.ok()) return full.status();
    offer = std::move(full);
    reply = handle(*offer);
  }
  if (!reply.ok()) {
    (void)main_.ReportEvent(
        EventReport{offer->update_id, offer->version, "refused", reply.status().ToString()});
    return reply.status();
  }
  result.state = reply->outcome == OfferOutcome::kPending ? "pending" : "activated";
  Status told = main_.ReportEvent(EventReport{
      offer->update_id,
      reply->outcome == OfferOutcome::kPending ? offer->version : reply->active_version,
      result.state,
      result.state == "activated"
          ? "activated version " + std::to_string(reply->active_version) + " (pulled)"
          : "version " + std::to_string(offer->version) + " waits for the partner manager"});
  if (!told.ok()) {
    (void)Event(offer->update_id, offer->version, "failed",
                "could not report the result to main: " + told.ToString());
  }
  return result;
}

namespace {
// Main keeps at most 4096 bytes of a report's message.
std::string ForReport(const std::string& message) {
  return message.size() > 4000 ? message.substr(0, 4000) + "..." : message;
}
}  // namespace

void Receiver::TellMain(uint64_t version, std::string_view kind, const std::string& message) {
  Status told = main_.ReportEvent(EventReport{"", version, std::string(kind), ForReport(message)});
  if (!told.ok()) {
    (void)Event("", version, "failed",
                "could not tell main (" + std::string(kind) + "): " + told.ToString());
  }
}

void Receiver::RecordDamage(const std::string& message) {
  auto version = ActiveVersion();
  (void)Event("", version.ok() ? *version : 0, "damaged", message);
}

void Receiver::RecordWafSummary(const std::string& message) {
  auto version = ActiveVersion();
  (void)Event("", version.ok() ? *version : 0, "waf", message);
}

Result<std::vector<BlobRepair>> Receiver::FindMissingBlobs() {
  std::vector<BlobRepair> out;
  RETURN_IF_ERROR(content_([&](content::ContentStore& store) -> Status {
    auto active = store.Active(content::Area::kTieup);
    if (!active.ok()) {
      return active.status().code() == StatusCode::kNotFound ? Status::Ok() : active.status();
    }
    std::set<std::string> seen;
    auto check = [&](const std::string& path, const std::string& hash, uint64_t length) {
      if (!seen.insert(hash).second) return;
      auto size = store.blobs().Size(hash);
      if (!size.ok() || *size < length) out.push_back(BlobRepair{path, hash, length});
    };
    for (const auto& [path, e] : (*active)->files) {
      check(path, e.hash, e.length);
      if (e.gzip) check(path, e.gzip->hash, e.gzip->length);
    }
    return Status::Ok();
  }));
  return out;
}

Result<size_t> Receiver::RepairBlobs(const std::vector<BlobRepair>& blobs) {
  std::lock_guard<std::mutex> lock(offer_mu_);
  // Only what the active tie-up release references there, and is not intact (now), once each.
  struct Wanted {
    uint64_t length = 0;
    std::set<std::string> paths;
  };
  std::map<std::string, Wanted> wanted;  // by hash
  uint64_t version = 0;
  // Pages made here from main's templates: made again from the template (fetched first when it
  // is missing too), never fetched (main holds the template only).
  std::shared_ptr<const content::ReleaseManifest> release;
  std::set<std::string> remake;  // their paths
  RETURN_IF_ERROR(content_([&](content::ContentStore& store) -> Status {
    auto active = store.Active(content::Area::kTieup);
    if (!active.ok()) {
      return active.status().code() == StatusCode::kNotFound ? Status::Ok() : active.status();
    }
    release = *active;
    version = (*active)->version;
    const content::FileMap& files = (*active)->files;
    for (const BlobRepair& b : blobs) {
      auto e = files.find(b.path);
      if (e == files.end()) continue;
      const content::FileEntry& f = e->second;
      const bool body = f.hash == b.hash && f.length == b.length;
      const bool gzip = f.gzip && f.gzip->hash == b.hash && f.gzip->length == b.length;
      if (!body && !gzip) continue;
      if (store.blobs().Get(b.hash, b.length).ok()) continue;
      if (f.expanded_from) {
        remake.insert(b.path);
        const content::BlobRef& t = *f.expanded_from;
        if (store.blobs().Get(t.hash, t.length).ok()) continue;
        Wanted& w = wanted[t.hash];
        w.length = t.length;
        w.paths.insert(b.path);
        continue;
      }
      Wanted& w = wanted[b.hash];
      w.length = b.length;
      w.paths.insert(b.path);
    }
    return Status::Ok();
  }));
  if (wanted.empty() && remake.empty()) return 0;
  auto names = [](const std::set<std::string>& paths) {
    std::string out;
    size_t n = 0;
    for (const std::string& p : paths) {
      if (++n > 20) {
        out += ", ...";
        break;
      }
      out += (out.empty() ? "" : ", ") + p;
    }
    return out;
  };
  std::set<std::string> all_paths = remake;
  for (const auto& [hash, w] : wanted) all_paths.insert(w.paths.begin(), w.paths.end());

  size_t stored = 0;
  uint64_t stored_bytes = 0;
  std::set<std::string> repaired_paths;
  auto it = wanted.begin();
  while (it != wanted.end()) {
    std::vector<std::string> hashes;
    std::vector<uint64_t> lengths;
    std::vector<const Wanted*> entries;
    uint64_t batch_bytes = 0;
    for (; it != wanted.end() && hashes.size() < options_.fetch_batch_count; ++it) {
      if (!hashes.empty() && batch_bytes + it->second.length > options_.fetch_batch_bytes) break;
      hashes.push_back(it->first);
      lengths.push_back(it->second.length);
      entries.push_back(&it->second);
      batch_bytes += it->second.length;
    }
    Status s;
    auto got = main_.FetchBlobs(hashes);
    if (!got.ok()) {
      s = got.status();
    } else if (got->size() != hashes.size()) {
      s = Status::DataLoss("main sent " + std::to_string(got->size()) + " blobs for " +
                           std::to_string(hashes.size()) + " requested");
    } else {
      for (size_t k = 0; k < hashes.size() && s.ok(); ++k) {
        if ((*got)[k].size() < lengths[k]) {
          s = Status::DataLoss("main sent " + std::to_string((*got)[k].size()) +
                               " bytes for blob " + hashes[k] + ", but the release states " +
                               std::to_string(lengths[k]));
        }
      }
    }
    if (s.ok()) {
      // Never more than the stated length is hashed or stored; PutExpected replaces a damaged
      // copy atomically (a temporary file renamed over it).
      s = content_([&](content::ContentStore& store) -> Status {
        for (size_t k = 0; k < hashes.size(); ++k) {
          const std::string_view stated((*got)[k].data(), lengths[k]);
          RETURN_IF_ERROR(store.blobs().PutExpected(hashes[k], stated));
          ++stored;
          stored_bytes += lengths[k];
          // A template: its pages are made below.
          for (const std::string& p : entries[k]->paths) {
            if (!remake.contains(p)) repaired_paths.insert(p);
          }
        }
        return Status::Ok();
      });
    }
    if (!s.ok()) {
      std::set<std::string> left;
      for (const std::string& p : all_paths) {
        if (repaired_paths.count(p) == 0) left.insert(p);
      }
      (void)Event("", version, "failed",
                  "fetching missing or damaged files of tie-up release " + std::to_string(version) +
                      " again from main failed: " + s.ToString() +
                      "; until repaired (tried again later) these answer 503: " + names(left));
      if (stored > 0) {
        (void)Event("", version, "repaired",
                    "fetched again from main and verified " + std::to_string(stored) + " blobs (" +
                        std::to_string(stored_bytes) + " bytes): " + names(repaired_paths));
      }
      return s.Annotate("fetching " + std::to_string(hashes.size()) +
                        " missing or damaged blobs again from main");
    }
  }
  if (!remake.empty()) {
    Status s = content_([&](content::ContentStore& store) -> Status {
      for (const std::string& path : remake) {
        const content::FileEntry& f = release->files.at(path);
        Status one = content::RemakeExpandedPage(*release, f, store.blobs());
        if (!one.ok()) return one.Annotate(path);
        ++stored;
        stored_bytes += f.length;
        repaired_paths.insert(path);
      }
      return Status::Ok();
    });
    if (!s.ok()) {
      (void)Event("", version, "failed",
                  "making missing or damaged pages of tie-up release " + std::to_string(version) +
                      " again from main's templates failed: " + s.ToString());
      return s;
    }
  }
  const std::string message =
      std::string(remake.empty() ? "fetched again from main"
                                 : "fetched again from main or made "
                                   "again from main's templates") +
      " and verified " + std::to_string(stored) + (stored == 1 ? " blob (" : " blobs (") +
      std::to_string(stored_bytes) + " bytes) of tie-up release " + std::to_string(version) + ": " +
      names(repaired_paths) + " can be served again";
  (void)Event("", version, "repaired", message);
  TellMain(version, "repaired", message);
  return stored;
}

Result<std::vector<SyncEvent>> Receiver::Events(size_t limit) {
  return internal::ListEvents(db_, "", limit);
}

}  // namespace tieup::sync

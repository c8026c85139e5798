#include "sync/publisher.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <set>
#include <thread>
#include <unordered_set>
#include <utility>

#include "base/encoding.h"
#include "content/builder.h"
#include "content/release.h"
#include "crypto/hash.h"
#include "sync/chunk_store.h"
#include "sync/link_release.h"
#include "sync/partner_overview.h"
#include "sync/partnership_terms.h"
#include "sync/schema.h"
#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace json = boost::json;

namespace {

// The `why` of a publish the main manager asked for (Trigger::kManager).
constexpr std::string_view kManagerPublish = "publish now";

// Releases main keeps per partner (besides the one the partner has active), for deltas.
constexpr uint64_t kKeptReleases = 10;
// Stored chunks no release names any more are swept by the scheduler tick (RunDue) after this
// many releases were dropped, and at the first tick.
constexpr int kSweepAfterDropped = 64;

// A stored value: the chunked record it was stored as (sync/chunk_store.h), or the value itself
// in rows from before chunked records.
Result<std::string> StoredValue(Database& db, std::string text) {
  if (!internal::IsChunkedRecord(text)) return text;
  return internal::ReadChunked(db, text);
}

// A stored release: its manifest and its ReleaseManifest::Hash.
struct StoredRelease {
  content::ReleaseManifest manifest;
  std::string payload_hash;
  bool chunked = false;  // read from a chunked record, all of whose chunks are stored
};

// The columns "payload, snapshot, payload_hash" of a sync_releases row starting at `col`: the
// compact snapshot when it is whole, the JSON otherwise (rows from before snapshots).
Result<StoredRelease> ReadStoredRelease(Database& db, const SqlRow& row, size_t col,
                                        const std::string& partner, uint64_t version) {
  StoredRelease r;
  auto snapshot = StoredValue(db, row.Text(col + 1));
  auto compact = snapshot.ok() ? content::ReleaseManifest::ParseCompact(*snapshot)
                               : Result<content::ReleaseManifest>(snapshot.status());
  if (compact.ok() && compact->version == version &&
      (row.Text(col + 2).empty() || row.Text(col + 2).size() == 64)) {
    r.manifest = std::move(*compact);
    // Rows from before ReleaseManifest::Hash had their hash cleared (schema step 6).
    r.payload_hash = row.Text(col + 2).empty() ? r.manifest.Hash() : row.Text(col + 2);
    r.chunked = internal::IsChunkedRecord(row.Text(col + 1));
    return r;
  }
  const std::string payload = row.Text(col);
  auto parsed = content::ReleaseManifest::Parse(payload);
  if (!parsed.ok() || parsed->version != version) {
    return Status::DataLoss(
        "stored release " + std::to_string(version) + " of partner '" + partner + "' is corrupt: " +
        (parsed.ok() ? std::string("wrong version") : parsed.status().message()));
  }
  r.manifest = std::move(*parsed);
  r.payload_hash = r.manifest.Hash();
  return r;
}

constexpr std::string_view kColumns =
    "id, name, region, public_url, sync_url, kind, approval, schedule, retry, variables, "
    "overrides_dir, revoked, created, active_version, failures, next_retry, next_scheduled, "
    "last_update, emergency_edit, served_hash, served_overlay, emergency_seq, served_version, "
    "suspended, suspended_since, link_mode";

constexpr std::string_view kUpdateColumns =
    "id, partner, version, mode, state, reason, offered, finished, fetched_blobs, fetched_bytes";

std::string EncodeVariables(const std::map<std::string, std::string>& vars) {
  json::object o;
  for (const auto& [k, v] : vars) o[k] = v;
  return CanonicalJson(json::value(std::move(o)));
}

std::string EncodeServedOverlay(const std::vector<EmergencyEditState>& overlay) {
  json::array a;
  for (const EmergencyEditState& e : overlay) {
    a.push_back(json::object{{"at", e.at}, {"by", e.by}, {"hash", e.hash}, {"path", e.path}});
  }
  return json::serialize(a);
}

// Main's own columns, read back (sync/partner_overview.h): what does not read is left out.
using internal::DecodeServedOverlay;
using internal::DecodeVariables;

bool IsHttpUrl(std::string_view url) {
  return (url.starts_with("https://") && url.size() > 8) ||
         (url.starts_with("http://") && url.size() > 7);
}

std::string UpdateId(int64_t rowid) { return "u" + std::to_string(rowid); }

// The row id of "u<n>"; 0 when malformed.
int64_t UpdateRowId(std::string_view id) {
  if (id.size() < 2 || id[0] != 'u' || id.size() > 19) return 0;
  int64_t n = 0;
  for (char c : id.substr(1)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

UpdateRecord UpdateFromRow(const SqlRow& r) {
  UpdateRecord u;
  u.update_id = UpdateId(r.Int(0));
  u.partner = r.Text(1);
  u.version = static_cast<uint64_t>(r.Int(2));
  u.mode = r.Text(3);
  u.state = r.Text(4);
  u.reason = r.Text(5);
  u.offered = r.Int(6);
  u.finished = r.Int(7);
  u.fetched_blobs = static_cast<uint64_t>(r.Int(8));
  u.fetched_bytes = static_cast<uint64_t>(r.Int(9));
  return u;
}

bool IsVariableName(std::string_view k) {
  bool ok = !k.empty() && k.size() <= 64;
  for (char c : k) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  return ok;
}

Status ValidatePartnership(Env& env, const Partnership& p) {
  RETURN_IF_ERROR(content::ValidateSiteId(p.id).Annotate("partner id"));
  if (!IsHttpUrl(p.public_url)) {
    return Status::InvalidArgument("partner '" + p.id + "': public URL '" + p.public_url +
                                   "' must start with http:// or https://");
  }
  if (!p.sync_url.empty() && !IsHttpUrl(p.sync_url)) {
    return Status::InvalidArgument("partner '" + p.id + "': sync URL '" + p.sync_url +
                                   "' must start with https:// (or be empty for pull mode)");
  }
  if (!p.schedule.empty()) {
    auto s = Schedule::Parse(p.schedule);
    if (!s.ok()) return s.status().Annotate("partner '" + p.id + "'");
  }
  auto r = RetryPolicy::Parse(p.retry);
  if (!r.ok()) return r.status().Annotate("partner '" + p.id + "'");
  for (const auto& [k, v] : p.variables) {
    if (!IsVariableName(k)) {
      return Status::InvalidArgument("partner '" + p.id + "': variable name '" + k +
                                     "' must be 1..64 characters of [A-Za-z0-9._-]");
    }
  }
  if (!p.overrides_dir.empty() && !env.FileExists(p.overrides_dir)) {
    return Status::NotFound("partner '" + p.id + "': overrides directory '" + p.overrides_dir +
                            "' does not exist; create it or leave it empty");
  }
  return Status::Ok();
}

// Main's WAF settings for partner `id` (sync/partnership_terms.h WafTerms) as the signed machine
// file kWafTermsPath of its tie-up release, while its `security` service is on; without the
// service the file is left out (the partner uses its own site.toml), whatever the authoring
// directory holds at that path.
Status ApplySecurityTerms(Database& db, content::BlobStore& blobs, const std::string& id,
                          content::ReleaseManifest& m) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query("SELECT options, waf FROM sync_partnerships WHERE id = ?", {id}));
  bool security = false;
  if (!rows.empty()) {
    const std::string options = "," + rows[0].Text(0) + ",";
    security = options.find(",security,") != std::string::npos;
  }
  const std::string path(kWafTermsPath);
  if (!security) {
    m.files.erase(path);
    return Status::Ok();
  }
  WafTerms terms;
  if (!rows[0].Text(1).empty()) {
    ASSIGN_OR_RETURN(terms, ParseWafTerms(rows[0].Text(1)));
  }
  const std::string body = EncodeWafTerms(terms);
  ASSIGN_OR_RETURN(std::string hash, blobs.Put(body));
  content::FileEntry e;
  e.hash = std::move(hash);
  e.length = body.size();
  e.content_type = "application/json";
  const auto& files = std::as_const(m.files);  // a const find leaves the chunk shared
  const auto old = files.find(path);
  if (old == files.cend() || !(old->second == e)) m.files.insert_or_assign(path, std::move(e));
  return Status::Ok();
}

// The blobs of a small update to send with its offer (OfferRequest::blobs): those of the files
// the signed delta `delta_envelope` adds or changes that main holds, while they fit in
// kMaxOfferBlobBytes and kMaxOfferBlobs. The partner then need not call back to fetch them (for
// a one-page change to thousands of partners, that call was half of the TLS handshakes). None
// when the delta cannot be read (the partner fetches as before).
std::map<std::string, std::string> BlobsToSendWith(content::BlobStore& blobs,
                                                   std::string_view delta_envelope) {
  std::map<std::string, std::string> out;
  auto envelope = ParseEnvelope(delta_envelope);
  if (!envelope.ok()) return out;
  auto delta = content::ReleaseDelta::ParseCanonical(envelope->payload);
  if (!delta.ok()) return out;
  uint64_t total = 0;
  auto add = [&](const std::string& hash, uint64_t length) {
    if (out.contains(hash) || out.size() >= kMaxOfferBlobs || total + length > kMaxOfferBlobBytes) {
      return;
    }
    auto bytes = blobs.Get(hash, length);
    if (!bytes.ok()) return;  // not held at main (a page the partner makes): fetched or made there
    total += bytes->size();
    out.emplace(hash, std::move(*bytes));
  };
  for (const auto& [path, entry] : delta->changes) {
    if (!entry) continue;
    add(entry->hash, entry->length);
    if (entry->gzip) add(entry->gzip->hash, entry->gzip->length);
  }
  return out;
}

}  // namespace

struct Publisher::PartnerState {
  Partnership p;
  uint64_t active_version = 0;
  int failures = 0;
  int64_t next_retry = 0;
  int64_t next_scheduled = 0;
  int64_t last_update = 0;
  std::string served_hash;
  std::vector<EmergencyEditState> served_overlay;
  uint64_t emergency_seq = 0;
  uint64_t served_version = 0;  // the version served_hash was reported for
};

Result<std::unique_ptr<Publisher>> Publisher::Open(Env& env, Database& db,
                                                   content::BlobStore& blobs, PartnerLink& link,
                                                   Ed25519PrivateKey release_key,
                                                   PublisherOptions options) {
  if (options.authoring_dir.empty()) {
    return Status::InvalidArgument("publisher: the authoring directory is not set");
  }
  if (!ParseEnvelope(options.root_envelope).ok()) {
    return Status::InvalidArgument(
        "publisher: the root metadata envelope is missing or malformed; run key setup first");
  }
  if (options.max_concurrency == 0) options.max_concurrency = 1;
  if (options.release_validity_seconds < 60) {
    return Status::InvalidArgument("publisher: release validity must be at least 60 seconds");
  }
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  return std::unique_ptr<Publisher>(
      new Publisher(env, db, blobs, link, std::move(release_key), std::move(options)));
}

Publisher::Publisher(Env& env, Database& db, content::BlobStore& blobs, PartnerLink& link,
                     Ed25519PrivateKey release_key, PublisherOptions options)
    : env_(env),
      db_(db),
      blobs_(blobs),
      link_(link),
      release_key_(std::move(release_key)),
      options_(std::move(options)) {}

Publisher::~Publisher() = default;

std::mutex& Publisher::PartnerMutex(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutexes_mu_);
  auto& m = partner_mutexes_[id];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

Status Publisher::Event(std::string_view partner, std::string_view update_id, uint64_t version,
                        std::string_view kind, std::string_view message) {
  return internal::RecordEvent(db_, env_.NowSeconds(), partner, update_id, version, kind, message);
}

Status Publisher::AddPartnership(const Partnership& partnership) {
  RETURN_IF_ERROR(ValidatePartnership(env_, partnership));
  const int64_t now = env_.NowSeconds();
  int64_t next_scheduled = 0;
  if (!partnership.schedule.empty()) {
    ASSIGN_OR_RETURN(auto s, Schedule::Parse(partnership.schedule));
    next_scheduled = s.NextAfter(now);
  }
  return db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT revoked FROM sync_partnerships WHERE id = ?",
                                         {partnership.id}));
    if (!rows.empty()) {
      return Status::AlreadyExists("partner '" + partnership.id + "' already exists" +
                                   (rows[0].Int(0) != 0 ? " (revoked); choose another id" : ""));
    }
    RETURN_IF_ERROR(db.Exec(
        "INSERT INTO sync_partnerships(id, name, region, public_url, sync_url, kind, approval, "
        "schedule, retry, variables, overrides_dir, revoked, created, next_scheduled, "
        "emergency_edit, link_mode) VALUES(?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,?)",
        {partnership.id, partnership.name, partnership.region, partnership.public_url,
         partnership.sync_url, std::string(PartnershipKindName(partnership.kind)),
         std::string(ApprovalPolicyName(partnership.approval)), partnership.schedule,
         partnership.retry, EncodeVariables(partnership.variables), partnership.overrides_dir, now,
         next_scheduled, std::string(content::EmergencyEditPolicyName(partnership.emergency_edit)),
         std::string(content::LinkModeName(partnership.link_mode))}));
    return internal::RecordEvent(
        db, now, partnership.id, "", 0, "added",
        "partnership added: kind " + std::string(PartnershipKindName(partnership.kind)) +
            ", approval " + std::string(ApprovalPolicyName(partnership.approval)) +
            ", emergency edit " +
            std::string(content::EmergencyEditPolicyName(partnership.emergency_edit)) +
            ", link mode " + std::string(content::LinkModeName(partnership.link_mode)) +
            (partnership.sync_url.empty() ? ", pull mode" : ", sync " + partnership.sync_url) +
            (partnership.schedule.empty() ? "" : ", schedule '" + partnership.schedule + "'"));
  });
}

Status Publisher::RevokePartnership(const std::string& id) {
  std::lock_guard<std::mutex> lock(PartnerMutex(id));
  RETURN_IF_ERROR(
      db_.Exec("UPDATE sync_partnerships SET revoked = 1, next_retry = 0 WHERE id = ?", {id}));
  if (db_.ChangedRows() == 0) return Status::NotFound("no partner '" + id + "'");
  return Event(id, "", 0, "revoked", "partnership revoked: no more updates, blobs or responses");
}

namespace {

// A partnership setting as the change record shows it.
std::string Quoted(const std::string& v, std::string_view empty) {
  return v.empty() ? std::string(empty) : "'" + v + "'";
}

std::string VariablesWords(const std::map<std::string, std::string>& vars) {
  std::string out;
  for (const auto& [k, v] : vars) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return out.empty() ? "(none)" : out;
}

}  // namespace

Result<std::vector<std::string>> Publisher::UpdatePartnership(
    const std::string& id, const PartnershipChanges& c, const std::string& by,
    std::vector<PartnershipFieldError>* errors) {
  std::lock_guard<std::mutex> lock(PartnerMutex(id));
  ASSIGN_OR_RETURN(PartnerState st, LoadState(id));
  if (st.p.revoked) {
    return Status::FailedPrecondition("partner '" + id + "' is revoked: its settings stay");
  }
  const Partnership before = st.p;
  Partnership p = st.p;
  std::vector<PartnershipFieldError> problems;
  auto refuse = [&](std::string field, const Status& why) {
    problems.push_back({std::move(field), why.message()});
  };
  auto trimmed = [](const std::string& v) {
    size_t b = v.find_first_not_of(" \t\r\n");
    size_t e = v.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
  };
  if (c.name) {
    p.name = trimmed(*c.name);
    if (p.name.empty()) refuse("name", Status::InvalidArgument("the name must not be empty"));
  }
  if (c.region) p.region = trimmed(*c.region);
  if (c.public_url) {
    p.public_url = trimmed(*c.public_url);
    if (!IsHttpUrl(p.public_url)) {
      refuse("public_url", Status::InvalidArgument("the public URL '" + p.public_url +
                                                   "' must start with http:// or https://"));
    }
  }
  if (c.sync_url) {
    p.sync_url = trimmed(*c.sync_url);
    if (!p.sync_url.empty() && !IsHttpUrl(p.sync_url)) {
      refuse("sync_url", Status::InvalidArgument("the sync URL '" + p.sync_url +
                                                 "' must start with https:// (or be empty: the "
                                                 "partner pulls)"));
    }
  }
  if (c.kind) {
    auto kind = ParsePartnershipKind(trimmed(*c.kind));
    if (kind.ok()) {
      p.kind = *kind;
    } else {
      refuse("kind", kind.status());
    }
  }
  if (c.approval) {
    auto approval = ParseApprovalPolicy(trimmed(*c.approval));
    if (approval.ok()) {
      p.approval = *approval;
    } else {
      refuse("approval", approval.status());
    }
  }
  if (c.emergency_edit) {
    auto grant = content::ParseEmergencyEditPolicy(trimmed(*c.emergency_edit));
    if (grant.ok()) {
      p.emergency_edit = *grant;
    } else {
      refuse("emergency_edit", grant.status());
    }
  }
  if (c.link_mode) {
    auto mode = content::ParseLinkMode(trimmed(*c.link_mode));
    if (mode.ok()) {
      p.link_mode = *mode;
    } else {
      refuse("link_mode", mode.status());
    }
  }
  if (c.schedule) {
    p.schedule = trimmed(*c.schedule);
    if (!p.schedule.empty()) {
      auto schedule = Schedule::Parse(p.schedule);
      if (!schedule.ok()) refuse("schedule", schedule.status());
    }
  }
  if (c.retry) {
    p.retry = trimmed(*c.retry);
    auto retry = RetryPolicy::Parse(p.retry);
    if (!retry.ok()) refuse("retry", retry.status());
  }
  if (c.overrides_dir) {
    p.overrides_dir = trimmed(*c.overrides_dir);
    if (!p.overrides_dir.empty() && !env_.FileExists(p.overrides_dir)) {
      refuse("overrides", Status::NotFound("the overrides directory '" + p.overrides_dir +
                                           "' does not exist; create it or leave it empty"));
    }
  }
  if (c.variables) p.variables = *c.variables;
  for (const auto& [k, v] : c.set_variables) p.variables[k] = v;
  for (const std::string& k : c.unset_variables) {
    if (p.variables.erase(k) == 0) {
      refuse("variables", Status::InvalidArgument("there is no variable '" + k + "' to unset"));
    }
  }
  for (const auto& [k, v] : p.variables) {
    if (!IsVariableName(k)) {
      refuse("variables", Status::InvalidArgument("variable name '" + k +
                                                  "' must be 1..64 characters of [A-Za-z0-9._-]"));
    }
  }
  if (problems.empty()) {
    // What `partner add` checks, on the whole: nothing above should have let anything through.
    Status whole = ValidatePartnership(env_, p);
    if (!whole.ok()) refuse("", whole);
  }
  if (!problems.empty()) {
    // As `partner add` says it: a missing directory is NotFound, anything else bad input.
    const StatusCode code = problems.size() == 1 && problems[0].field == "overrides"
                                ? StatusCode::kNotFound
                                : StatusCode::kInvalidArgument;
    std::string message = "partner '" + id + "' is unchanged: ";
    for (size_t i = 0; i < problems.size(); ++i) {
      std::string field = problems[i].field;
      std::replace(field.begin(), field.end(), '_', ' ');
      message += (i ? "; " : "") + (field.empty() ? "" : field + ": ") + problems[i].message;
    }
    if (errors != nullptr) *errors = std::move(problems);
    return Status(code, message);
  }

  std::vector<std::string> changes;
  bool release_changes = false;
  auto note = [&](bool differs, std::string words, bool in_release) {
    if (!differs) return;
    changes.push_back(std::move(words));
    release_changes = release_changes || in_release;
  };
  note(p.name != before.name,
       "name: " + Quoted(before.name, "(none)") + " -> " + Quoted(p.name, "(none)"), true);
  note(p.region != before.region,
       "region: " + Quoted(before.region, "(none)") + " -> " + Quoted(p.region, "(none)"), true);
  note(p.public_url != before.public_url,
       "public URL: " + before.public_url + " -> " + p.public_url, false);
  note(p.sync_url != before.sync_url,
       "sync URL: " + Quoted(before.sync_url, "(pulls)") + " -> " + Quoted(p.sync_url, "(pulls)"),
       false);
  note(p.kind != before.kind,
       "kind: " + std::string(PartnershipKindName(before.kind)) + " -> " +
           std::string(PartnershipKindName(p.kind)),
       true);
  note(p.approval != before.approval,
       "approval: " + std::string(ApprovalPolicyName(before.approval)) + " -> " +
           std::string(ApprovalPolicyName(p.approval)),
       false);
  note(p.schedule != before.schedule,
       "schedule: " + Quoted(before.schedule, "(manual)") + " -> " + Quoted(p.schedule, "(manual)"),
       false);
  note(p.retry != before.retry, "retry: '" + before.retry + "' -> '" + p.retry + "'", false);
  note(p.variables != before.variables,
       "variables: " + VariablesWords(before.variables) + " -> " + VariablesWords(p.variables),
       true);
  note(p.overrides_dir != before.overrides_dir,
       "overrides: " + Quoted(before.overrides_dir, "(none)") + " -> " +
           Quoted(p.overrides_dir, "(none)"),
       true);
  note(p.emergency_edit != before.emergency_edit,
       "emergency edit: " + std::string(content::EmergencyEditPolicyName(before.emergency_edit)) +
           " -> " + std::string(content::EmergencyEditPolicyName(p.emergency_edit)),
       true);
  note(p.link_mode != before.link_mode,
       "link mode: " + std::string(content::LinkModeName(before.link_mode)) + " -> " +
           std::string(content::LinkModeName(p.link_mode)),
       true);
  if (changes.empty()) return changes;

  const int64_t now = env_.NowSeconds();
  int64_t next_scheduled = st.next_scheduled;
  if (p.schedule != before.schedule) {
    next_scheduled = 0;
    if (!p.schedule.empty()) {
      ASSIGN_OR_RETURN(auto schedule, Schedule::Parse(p.schedule));
      next_scheduled = schedule.NextAfter(now);
    }
  }
  int64_t next_retry = st.next_retry;
  if (p.retry != before.retry && RetryPolicy::Parse(p.retry).value_or(RetryPolicy()).manual()) {
    next_retry = 0;  // a manual policy retries nothing by itself, from now on
  }
  std::string message = "settings changed by " + (by.empty() ? "the main manager" : by) + ": ";
  for (size_t i = 0; i < changes.size(); ++i) message += (i ? "; " : "") + changes[i];
  if (release_changes) message += " (the next publish builds the partner's release again)";
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(db.Exec(
        "UPDATE sync_partnerships SET name = ?, region = ?, public_url = ?, sync_url = ?, "
        "kind = ?, approval = ?, schedule = ?, retry = ?, variables = ?, overrides_dir = ?, "
        "emergency_edit = ?, link_mode = ?, next_scheduled = ?, next_retry = ? WHERE id = ?",
        {p.name, p.region, p.public_url, p.sync_url, std::string(PartnershipKindName(p.kind)),
         std::string(ApprovalPolicyName(p.approval)), p.schedule, p.retry,
         EncodeVariables(p.variables), p.overrides_dir,
         std::string(content::EmergencyEditPolicyName(p.emergency_edit)),
         std::string(content::LinkModeName(p.link_mode)), next_scheduled, next_retry, id}));
    return internal::RecordEvent(db, now, id, "", 0, "changed", message);
  }));
  return changes;
}

Status Publisher::SuspendPartnership(const std::string& id, const std::string& by) {
  std::lock_guard<std::mutex> lock(PartnerMutex(id));
  ASSIGN_OR_RETURN(PartnerState st, LoadState(id));
  if (st.p.revoked) return Status::FailedPrecondition("partner '" + id + "' is revoked");
  if (st.p.suspended) {
    return Status::FailedPrecondition("partner '" + id + "' is already suspended (since " +
                                      FormatRfc3339(st.p.suspended_since) + ")");
  }
  const int64_t now = env_.NowSeconds();
  return db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(
        db.Exec("UPDATE sync_partnerships SET suspended = 1, suspended_since = ?, next_retry = 0 "
                "WHERE id = ?",
                {now, id}));
    RETURN_IF_ERROR(
        db.Exec("UPDATE sync_updates SET state = 'superseded', finished = ?, reason = ? "
                "WHERE partner = ? AND finished = 0",
                {now, std::string("the partnership was suspended"), id}));
    const int64_t superseded = db.ChangedRows();
    return internal::RecordEvent(
        db, now, id, "", 0, "suspended",
        "partnership suspended by " + (by.empty() ? "the main manager" : by) +
            ": no updates (scheduled, publish all, polls) until it is resumed; its certificate "
            "stays valid" +
            (superseded > 0 ? "; the update it had open is withdrawn" : ""));
  });
}

Status Publisher::ResumePartnership(const std::string& id, const std::string& by) {
  std::lock_guard<std::mutex> lock(PartnerMutex(id));
  ASSIGN_OR_RETURN(PartnerState st, LoadState(id));
  if (st.p.revoked) return Status::FailedPrecondition("partner '" + id + "' is revoked");
  if (!st.p.suspended) {
    return Status::FailedPrecondition("partner '" + id + "' is not suspended");
  }
  const int64_t now = env_.NowSeconds();
  int64_t next_scheduled = 0;
  if (!st.p.schedule.empty()) {
    if (auto s = Schedule::Parse(st.p.schedule); s.ok()) next_scheduled = s->NextAfter(now);
  }
  return db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(db.Exec(
        "UPDATE sync_partnerships SET suspended = 0, suspended_since = 0, next_scheduled = ?, "
        "failures = 0 WHERE id = ?",
        {next_scheduled, id}));
    return internal::RecordEvent(
        db, now, id, "", 0, "resumed",
        "partnership resumed by " + (by.empty() ? "the main manager" : by) + " (suspended since " +
            FormatRfc3339(st.p.suspended_since) + "): updates go on" +
            (next_scheduled > 0 ? " at the next scheduled run (" + FormatRfc3339(next_scheduled) +
                                      ") or when you publish"
                                : " when you publish"));
  });
}

Result<Publisher::PartnerState> Publisher::LoadState(const std::string& id) {
  ASSIGN_OR_RETURN(
      auto rows,
      db_.Query("SELECT " + std::string(kColumns) + " FROM sync_partnerships WHERE id = ?", {id}));
  if (rows.empty()) {
    return Status::NotFound("no partner '" + id + "'; add it with 'tieup main partner add'");
  }
  const SqlRow& r = rows[0];
  PartnerState st;
  st.p.id = r.Text(0);
  st.p.name = r.Text(1);
  st.p.region = r.Text(2);
  st.p.public_url = r.Text(3);
  st.p.sync_url = r.Text(4);
  st.p.kind = ParsePartnershipKind(r.Text(5)).value_or(PartnershipKind::kContents);
  st.p.approval = ParseApprovalPolicy(r.Text(6)).value_or(ApprovalPolicy::kManager);
  st.p.schedule = r.Text(7);
  st.p.retry = r.Text(8);
  st.p.variables = DecodeVariables(r.Text(9));
  st.p.overrides_dir = r.Text(10);
  st.p.revoked = r.Int(11) != 0;
  st.p.created = r.Int(12);
  st.active_version = static_cast<uint64_t>(r.Int(13));
  st.failures = static_cast<int>(r.Int(14));
  st.next_retry = r.Int(15);
  st.next_scheduled = r.Int(16);
  st.last_update = r.Int(17);
  st.p.emergency_edit =
      content::ParseEmergencyEditPolicy(r.Text(18)).value_or(content::EmergencyEditPolicy::kNone);
  st.served_hash = r.Text(19);
  st.served_overlay = DecodeServedOverlay(r.Text(20));
  st.emergency_seq = static_cast<uint64_t>(r.Int(21));
  st.served_version = static_cast<uint64_t>(r.Int(22));
  st.p.suspended = r.Int(23) != 0;
  st.p.suspended_since = r.Int(24);
  st.p.link_mode = content::ParseLinkMode(r.Text(25)).value_or(content::LinkMode::kRedirect);
  return st;
}

Result<std::vector<Partnership>> Publisher::ListPartnerships() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT id FROM sync_partnerships ORDER BY id"));
  std::vector<Partnership> out;
  for (const auto& r : rows) {
    ASSIGN_OR_RETURN(auto st, LoadState(r.Text(0)));
    out.push_back(std::move(st.p));
  }
  return out;
}

Result<Partnership> Publisher::GetPartnership(const std::string& id) {
  ASSIGN_OR_RETURN(auto st, LoadState(id));
  return st.p;
}

Result<std::optional<UpdateRecord>> Publisher::LastUpdate(const std::string& id) {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT " + std::string(kUpdateColumns) +
                                 " FROM sync_updates WHERE partner = ? ORDER BY id DESC LIMIT 1",
                             {id}));
  if (rows.empty()) return std::optional<UpdateRecord>();
  return std::optional<UpdateRecord>(UpdateFromRow(rows[0]));
}

Result<uint64_t> Publisher::BuildFor(const std::string& id) {
  std::lock_guard<std::mutex> lock(PartnerMutex(id));
  ASSIGN_OR_RETURN(auto st, LoadState(id));
  if (st.p.revoked) return Status::PermissionDenied("partner '" + id + "' is revoked");
  return BuildLocked(st.p, env_.NowSeconds(), nullptr);
}

Publisher::Latest& Publisher::LatestSlot(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutexes_mu_);
  auto& slot = latest_[id];
  if (!slot) slot = std::make_unique<Latest>();
  return *slot;
}

Result<Publisher::Latest*> Publisher::LoadLatestLocked(const Partnership& p) {
  // The newest release is kept in memory from the previous build (a daemon publishes many
  // times); the database is read only when it holds a newer one (another process built it) or
  // on the first build.
  ASSIGN_OR_RETURN(auto version_rows,
                   db_.Query("SELECT version FROM sync_releases WHERE partner = ? ORDER BY "
                             "version DESC LIMIT 1",
                             {p.id}));
  const uint64_t prev_version =
      version_rows.empty() ? 0 : static_cast<uint64_t>(version_rows[0].Int(0));
  Latest& latest = LatestSlot(p.id);
  if (latest.version != prev_version || (!latest.manifest && !latest.unreadable)) {
    latest = Latest{};
    latest.version = prev_version;
  }
  if (prev_version != 0 && !latest.manifest && !latest.unreadable) {
    ASSIGN_OR_RETURN(auto prev_rows,
                     db_.Query("SELECT inputs, payload, snapshot, payload_hash FROM sync_releases "
                               "WHERE partner = ? AND version = ?",
                               {p.id, static_cast<int64_t>(prev_version)}));
    if (!prev_rows.empty()) {
      auto stored = ReadStoredRelease(db_, prev_rows[0], 1, p.id, prev_version);
      if (stored.ok()) {
        latest.manifest =
            std::make_shared<const content::ReleaseManifest>(std::move(stored->manifest));
      } else {
        // Not fatal: the next release is built in full and offered with full metadata.
        latest.unreadable = true;
        (void)Event(p.id, "", prev_version, "failed",
                    stored.status().message() + "; building the next release in full");
      }
      // Inputs that do not parse (or releases from before incremental builds) only mean a full
      // render.
      auto inputs = StoredValue(db_, prev_rows[0].Text(0));
      latest.inputs = std::make_shared<const content::BuildInputs>(
          inputs.ok() ? content::BuildInputs::Parse(*inputs).value_or(content::BuildInputs{})
                      : content::BuildInputs{});
      latest.chunks_stored = stored.ok() && stored->chunked && inputs.ok() &&
                             internal::IsChunkedRecord(prev_rows[0].Text(0));
    }
  }
  return &latest;
}

Result<content::BuildOptions> Publisher::BuildOptionsFor(const Partnership& p) {
  content::BuildOptions o;
  o.authoring_dir = options_.authoring_dir;
  o.overrides_dir = p.overrides_dir;
  o.area = content::Area::kTieup;
  o.site = p.id;
  o.variables = options_.site_variables;  // main's own (site.name, ...); the partner's win
  o.variables["partner.id"] = p.id;
  o.variables["partner.name"] = p.name;
  o.variables["partner.region"] = p.region;
  for (const auto& [k, v] : p.variables) o.variables[k] = v;
  // What differs between partners: pages that show only these in text are one template for
  // every partner, stored once (content/template_vars.h). Kind link serves main's pages as links.
  if (p.kind != PartnershipKind::kLink) {
    o.partner_variables = {"partner.id", "partner.name", "partner.region"};
    for (const auto& [k, v] : p.variables) o.partner_variables.insert(k);
  }
  {
    auto products = ReadProducts();
    if (!products.ok()) {
      return products.status().Annotate("reading the catalog for partner '" + p.id + "'");
    }
    o.products = std::move(*products);
  }
  // Kind template: main's own pages are left out; main's assets and every page the partner's
  // directory adds or replaces stay.
  o.only_overridden_pages = p.kind == PartnershipKind::kTemplate;
  // ... and main's layouts as shells: the partner renders its own pages into them.
  o.layout_shells = p.kind == PartnershipKind::kTemplate;
  return o;
}

Result<uint64_t> Publisher::BuildLocked(const Partnership& p, int64_t now,
                                        content::SourceCache* cache) {
  ASSIGN_OR_RETURN(Latest * latest_ptr, LoadLatestLocked(p));
  Latest& latest = *latest_ptr;
  const uint64_t prev_version = latest.version;
  const std::shared_ptr<const content::ReleaseManifest> prev = latest.manifest;
  const std::shared_ptr<const content::BuildInputs> prev_inputs =
      latest.inputs ? latest.inputs : std::make_shared<const content::BuildInputs>();
  ASSIGN_OR_RETURN(content::BuildOptions o, BuildOptionsFor(p));
  o.version = prev_version + 1;
  o.created = now;
  o.expires = now + options_.release_validity_seconds;

  content::PreviousBuild previous;
  // A release built as kind `link` holds main's links in place of the pages: after a change of
  // kind (UpdatePartnership) its entries are not reused, or the links would stay.
  bool prev_links = false;
  if (prev && p.kind != PartnershipKind::kLink) {
    for (const auto& [path, e] : prev->files) {
      if (e.method == content::UpdateMethod::kLink) {  // kind link links /assets/** too
        prev_links = true;
        break;
      }
    }
  }
  // partner-blobs is never pruned, so a reused entry's blobs are there: no stat per entry.
  if (prev && !prev_links && !prev_inputs->digests.empty()) {
    previous = {prev.get(), prev_inputs.get(), false};
  }
  auto built = content::BuildReleaseIncremental(env_, blobs_, o, previous, cache);
  if (!built.ok()) {
    return built.status().Annotate("rendering the release of partner '" + p.id + "'");
  }
  content::ReleaseManifest m = std::move(built->manifest);
  m.emergency_edit = p.emergency_edit;  // signed with the release: only main grants the right
  // Kind link's links to main, and the partnership's link mode on every link entry (signed
  // with the release: only main sets how the partner serves them).
  Status linked =
      internal::ApplyLinkSettings(p.id, p.kind, p.link_mode, options_.public_url, blobs_, m);
  if (linked.code() == StatusCode::kAborted && previous.manifest != nullptr) {
    // Kind link now needs a copy of a file the previous release only linked to (the layout
    // names a new asset): that entry cannot be reused, so the release is built afresh.
    built = content::BuildReleaseIncremental(env_, blobs_, o, content::PreviousBuild{}, cache);
    if (!built.ok()) {
      return built.status().Annotate("rendering the release of partner '" + p.id + "'");
    }
    m = std::move(built->manifest);
    m.emergency_edit = p.emergency_edit;
    linked = internal::ApplyLinkSettings(p.id, p.kind, p.link_mode, options_.public_url, blobs_, m);
  }
  RETURN_IF_ERROR(linked);
  RETURN_IF_ERROR(ApplySecurityTerms(db_, blobs_, p.id, m)
                      .Annotate("the WAF settings of partner '" + p.id + "'"));
  if (p.kind == PartnershipKind::kLink) {
    RETURN_IF_ERROR(m.Validate().Annotate("release of partner '" + p.id + "'"));
  }

  const content::ReleaseDiff diff = content::Diff(prev ? *prev : content::ReleaseManifest{}, m);
  const bool same_grant = prev && prev->emergency_edit == m.emergency_edit;
  // The partner's values, put in the templates' pages at the partner, are signed with it too.
  const bool same_values = prev && prev->variables == m.variables;
  if (prev && diff.empty() && same_grant && same_values &&
      prev->expires - now > options_.release_validity_seconds / 2) {
    return prev->version;  // nothing changed: no new release
  }
  // ReleaseManifest::Hash names the release in deltas (computed from the chunks' cached hashes:
  // only the changed chunks are hashed); the JSON itself is rebuilt from the snapshot when a
  // full envelope is first needed.
  const std::string payload_hash = m.Hash();
  // The signed delta from the previous release: what an offer sends when the partner has that
  // release active (the usual case). The full metadata is signed when first needed.
  std::string delta_envelope;
  if (prev) {
    const content::ReleaseDelta delta =
        content::MakeDelta(*prev, m);  // both hashes come from the chunks' caches
    delta_envelope = EncodeEnvelope(SignReleaseDelta(release_key_, delta.Encode()));
  }
  // The chunks of the previous release and inputs are stored already (the unchanged ones are
  // shared with this release's): only the others are written.
  std::unordered_set<std::string_view> stored_chunks;
  if (prev && latest.chunks_stored) {
    for (const auto& [key, bytes] : prev->CompactChunks()) stored_chunks.insert(key);
    for (const auto& [key, bytes] : prev_inputs->EncodedChunks()) stored_chunks.insert(key);
  }
  auto is_stored = [&](std::string_view key) { return stored_chunks.contains(key); };
  int64_t dropped = 0;
  ASSIGN_OR_RETURN(auto active_rows,
                   db_.Query("SELECT active_version FROM sync_partnerships WHERE id = ?", {p.id}));
  const int64_t active_version = active_rows.empty() ? 0 : active_rows[0].Int(0);
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(
        const std::string snapshot,
        internal::PutChunked(db, m.EncodeCompactHeader(), m.CompactChunks(), is_stored));
    ASSIGN_OR_RETURN(const std::string inputs,
                     internal::PutChunked(db, built->inputs.EncodeHeader(),
                                          built->inputs.EncodedChunks(), is_stored));
    RETURN_IF_ERROR(db.Exec(
        "INSERT INTO sync_releases(partner, version, payload, envelope, created, expires, "
        "inputs, delta_base, delta_envelope, snapshot, payload_hash) "
        "VALUES(?,?,'','',?,?,?,?,?,?,?)",
        {p.id, static_cast<int64_t>(m.version), m.created, m.expires, inputs,
         static_cast<int64_t>(prev ? prev->version : 0), delta_envelope, snapshot, payload_hash}));
    // Only entries new in this release can add a blob the partner may fetch. A template made
    // from main's own directory (no overrides: nothing of this partner's) is the same for every
    // partner: it is recorded once for all, so main's records do not grow with partners x pages.
    const bool shared_templates = p.overrides_dir.empty();
    auto add_refs = [&](const std::vector<content::DiffEntry>& entries) -> Status {
      for (const content::DiffEntry& d : entries) {
        if (shared_templates && d.after->vars) {
          RETURN_IF_ERROR(
              db.Exec("INSERT INTO sync_shared_blobs(hash) VALUES(?) ON CONFLICT DO NOTHING",
                      {d.after->hash}));
          continue;
        }
        RETURN_IF_ERROR(
            db.Exec("INSERT INTO sync_blob_refs(partner, hash) VALUES(?,?) ON CONFLICT DO NOTHING",
                    {p.id, d.after->hash}));
        if (d.after->gzip) {
          RETURN_IF_ERROR(db.Exec(
              "INSERT INTO sync_blob_refs(partner, hash) VALUES(?,?) ON CONFLICT DO NOTHING",
              {p.id, d.after->gzip->hash}));
        }
      }
      return Status::Ok();
    };
    RETURN_IF_ERROR(add_refs(diff.added));
    RETURN_IF_ERROR(add_refs(diff.changed));
    // Old releases are kept for deltas and rollbacks at the partner, but not forever; the one
    // the partner has active is always kept.
    RETURN_IF_ERROR(
        db.Exec("DELETE FROM sync_releases WHERE partner = ? AND version + ? <= ? AND version != ?",
                {p.id, static_cast<int64_t>(kKeptReleases), static_cast<int64_t>(m.version),
                 active_version}));
    dropped = db.ChangedRows();
    return internal::RecordEvent(
        db, now, p.id, "", m.version, "built",
        "built version " + std::to_string(m.version) + ": " + std::to_string(m.files.size()) +
            " files (" + std::to_string(diff.added.size()) + " added, " +
            std::to_string(diff.changed.size()) + " changed, " +
            std::to_string(diff.removed.size()) + " removed; " + std::to_string(built->rendered) +
            " rendered, " + std::to_string(built->reused) + " unchanged" +
            (!same_grant && prev
                 ? "; emergency edit now " +
                       std::string(content::EmergencyEditPolicyName(m.emergency_edit))
                 : "") +
            (prev && !same_values ? "; the partner's values changed" : "") +
            (diff.empty() && same_grant && same_values
                 ? "; re-signed before the previous release expires"
                 : "") +
            ")");
  }));
  latest.version = m.version;
  latest.chunks_stored = true;
  latest.inputs = std::make_shared<const content::BuildInputs>(std::move(built->inputs));
  latest.manifest = std::make_shared<const content::ReleaseManifest>(std::move(m));
  dropped_since_sweep_ += static_cast<int>(dropped);
  return latest.version;
}

Status Publisher::SweepChunks() {
  // One transaction: no release can be stored between reading the records and deleting.
  return db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT snapshot, inputs FROM sync_releases"));
    std::vector<std::string> records;
    records.reserve(rows.size() * 2);
    for (const SqlRow& row : rows) {
      records.push_back(row.Text(0));
      records.push_back(row.Text(1));
    }
    return internal::SweepChunks(db, records).status();
  });
}

Result<std::string> Publisher::FullEnvelopeLocked(const std::string& id, uint64_t version) {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT envelope, payload, snapshot, payload_hash FROM sync_releases "
                             "WHERE partner = ? AND version = ?",
                             {id, static_cast<int64_t>(version)}));
  if (rows.empty()) {
    return Status::DataLoss("release " + std::to_string(version) + " of partner '" + id +
                            "' is not stored");
  }
  std::string envelope = rows[0].Text(0);
  if (!envelope.empty()) return envelope;
  ASSIGN_OR_RETURN(StoredRelease stored, ReadStoredRelease(db_, rows[0], 1, id, version));
  const std::string payload = stored.manifest.Encode();
  if (stored.manifest.Hash() != stored.payload_hash) {
    return Status::DataLoss("stored release " + std::to_string(version) + " of partner '" + id +
                            "' does not encode to the metadata it was built as");
  }
  // Not stored: the full metadata of a site of 10,000 pages is megabytes per partner, and Ed25519
  // signs it again to the same bytes when it is next needed (a first sync, a re-offer).
  return EncodeEnvelope(SignRelease(release_key_, payload));
}

Result<std::string> Publisher::DeltaEnvelopeLocked(const std::string& id, uint64_t base,
                                                   uint64_t version) {
  if (base == 0 || base >= version) return std::string();
  // The usual case first: the partner has the release before this one, whose delta was signed
  // when this one was built (only small columns are read).
  ASSIGN_OR_RETURN(auto kept,
                   db_.Query("SELECT version, delta_base, delta_envelope FROM sync_releases WHERE "
                             "partner = ? AND version IN (?, ?)",
                             {id, static_cast<int64_t>(base), static_cast<int64_t>(version)}));
  if (kept.size() != 2) return std::string();  // not kept: send it whole
  for (const SqlRow& r : kept) {
    if (static_cast<uint64_t>(r.Int(0)) == version && static_cast<uint64_t>(r.Int(1)) == base &&
        !r.Text(2).empty()) {
      return r.Text(2);
    }
  }
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT version, payload, snapshot, payload_hash FROM sync_releases "
                             "WHERE partner = ? AND version IN (?, ?)",
                             {id, static_cast<int64_t>(base), static_cast<int64_t>(version)}));
  const SqlRow* base_row = nullptr;
  const SqlRow* row = nullptr;
  for (const SqlRow& r : rows) {
    (static_cast<uint64_t>(r.Int(0)) == base ? base_row : row) = &r;
  }
  if (row == nullptr || base_row == nullptr) return std::string();  // deleted meanwhile
  // The partner is further behind than one release: a delta from what it has.
  auto from = ReadStoredRelease(db_, *base_row, 1, id, base);
  if (!from.ok()) return std::string();  // a damaged base: send the release whole
  ASSIGN_OR_RETURN(StoredRelease to, ReadStoredRelease(db_, *row, 1, id, version));
  const content::ReleaseDelta delta = content::MakeDeltaFromHashes(
      from->manifest, from->payload_hash, to.manifest, to.payload_hash);
  return EncodeEnvelope(SignReleaseDelta(release_key_, delta.Encode()));
}

Status Publisher::RecordFailureLocked(const PartnerState& st, int64_t update_rowid,
                                      std::string_view state, const std::string& reason,
                                      std::string_view kind) {
  const int64_t now = env_.NowSeconds();
  const int failures = st.failures + 1;
  auto policy = RetryPolicy::Parse(st.p.retry).value_or(RetryPolicy());
  std::optional<int64_t> next = policy.NextAttempt(failures, now, env_);
  std::string message = reason;
  if (next) {
    message += "; attempt " + std::to_string(failures + 1) + " at " + FormatRfc3339(*next);
  } else if (policy.manual()) {
    message += "; retry policy is manual: publish again with 'tieup main publish'";
  } else {
    message += "; gave up after " + std::to_string(failures) +
               " attempts: publish again with 'tieup main publish'";
  }
  uint64_t version = 0;
  return db_.Transaction([&](Database& db) -> Status {
    if (update_rowid != 0) {
      RETURN_IF_ERROR(db.Exec(
          "UPDATE sync_updates SET state = ?, reason = ?, finished = ? WHERE id = ?",
          {std::string(state), reason, state == "approved" ? int64_t{0} : now, update_rowid}));
      ASSIGN_OR_RETURN(auto rows,
                       db.Query("SELECT version FROM sync_updates WHERE id = ?", {update_rowid}));
      if (!rows.empty()) version = static_cast<uint64_t>(rows[0].Int(0));
    }
    RETURN_IF_ERROR(
        db.Exec("UPDATE sync_partnerships SET failures = ?, next_retry = ? WHERE id = ?",
                {static_cast<int64_t>(failures), next.value_or(0), st.p.id}));
    return internal::RecordEvent(db, now, st.p.id, update_rowid ? UpdateId(update_rowid) : "",
                                 version, kind, message);
  });
}

Result<uint64_t> Publisher::CommandActivationLocked(const PartnerState& st, const UpdateRecord& u) {
  const int64_t rowid = UpdateRowId(u.update_id);
  auto active = link_.Activate(st.p.id, ActivateRequest{u.update_id, u.version});
  if (!active.ok()) {
    RETURN_IF_ERROR(RecordFailureLocked(st, rowid, "approved",
                                        "commanding activation of version " +
                                            std::to_string(u.version) +
                                            " failed: " + active.status().ToString(),
                                        "failed"));
    return active.status();
  }
  const int64_t now = env_.NowSeconds();
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(db.Exec(
        "UPDATE sync_updates SET state = 'activated', reason = '', finished = ? WHERE id = ?",
        {now, rowid}));
    RETURN_IF_ERROR(
        db.Exec("UPDATE sync_partnerships SET active_version = ?, failures = 0, next_retry = 0 "
                "WHERE id = ?",
                {static_cast<int64_t>(*active), st.p.id}));
    return internal::RecordEvent(
        db, now, st.p.id, u.update_id, u.version, "activated",
        "partner activated version " + std::to_string(u.version) + " on main's command");
  }));
  return *active;
}

PublishOutcome Publisher::PublishLocked(const std::string& id, std::string_view why,
                                        content::SourceCache* cache,
                                        const PublishProgressFn& progress) {
  PublishOutcome out;
  out.partner = id;
  // Each step as it happens (PublishNow's `progress`).
  auto report = [&](std::string_view stage, const OfferReply* reply = nullptr) {
    if (!progress) return;
    PublishProgress step;
    step.partner = id;
    step.stage = stage;
    step.version = out.version;
    step.update_id = out.update_id;
    if (reply != nullptr) {
      step.fetched_blobs = reply->fetched_blobs;
      step.fetched_bytes = reply->fetched_bytes;
    }
    progress(step);
  };
  auto loaded = LoadState(id);
  if (!loaded.ok()) {
    out.status = loaded.status();
    out.state = "failed";
    return out;
  }
  PartnerState st = std::move(*loaded);
  if (st.p.revoked) {
    out.status = Status::PermissionDenied("partner '" + id + "' is revoked");
    out.state = "failed";
    return out;
  }
  if (st.p.suspended) {
    out.status = Status::FailedPrecondition(
        "partner '" + id + "' is suspended since " + FormatRfc3339(st.p.suspended_since) +
        ": resume it first ('tieup main partner resume DIR " + id + "')");
    out.state = "suspended";
    return out;
  }
  const int64_t now = env_.NowSeconds();
  // This attempt consumes a due scheduled run, and any pending retry time.
  int64_t next_scheduled = st.next_scheduled;
  if (!st.p.schedule.empty() && next_scheduled <= now) {
    if (auto s = Schedule::Parse(st.p.schedule); s.ok()) next_scheduled = s->NextAfter(now);
  }
  Status s =
      db_.Exec("UPDATE sync_partnerships SET next_scheduled = ?, next_retry = 0 WHERE id = ?",
               {next_scheduled, id});
  if (!s.ok()) {
    out.status = s;
    out.state = "failed";
    return out;
  }
  auto fail = [&](int64_t rowid, const Status& status, std::string_view state) {
    Status r = RecordFailureLocked(st, rowid, state, status.ToString(), "failed");
    out.status = r.ok() ? status : r;
    out.state = "failed";
    return out;
  };

  report("building");
  auto built = BuildLocked(st.p, now, cache);
  if (!built.ok()) return fail(0, built.status(), "failed");
  const uint64_t latest = *built;
  out.version = latest;

  auto last_or = LastUpdate(id);
  if (!last_or.ok()) return fail(0, last_or.status(), "failed");
  const std::optional<UpdateRecord>& last = *last_or;

  if (st.active_version >= latest) {
    out.state = "up_to_date";
    (void)db_.Exec("UPDATE sync_partnerships SET failures = 0 WHERE id = ?", {id});
    return out;
  }
  if (last && last->version == latest && last->state == "pending_approval") {
    out.state = "awaiting_approval";
    out.update_id = last->update_id;
    return out;
  }
  if (last && last->version == latest && last->state == "rejected") {
    const bool retry_due = st.next_retry > 0 && st.next_retry <= now;
    if (why != kManagerPublish && !retry_due) {
      out.state = "rejected";
      out.update_id = last->update_id;
      return out;
    }
    if (st.p.sync_url.empty()) {
      // Pull mode: the partner's next poll gets this version again under a new update.
      Status again = db_.Transaction([&](Database& db) -> Status {
        RETURN_IF_ERROR(
            db.Exec("INSERT INTO sync_updates(partner, version, mode, state, offered) "
                    "VALUES(?,?,'pull','offered',?)",
                    {id, static_cast<int64_t>(latest), now}));
        const int64_t rowid = db.LastInsertId();
        RETURN_IF_ERROR(
            db.Exec("UPDATE sync_partnerships SET last_update = ? WHERE id = ?", {rowid, id}));
        return internal::RecordEvent(db, now, id, UpdateId(rowid), latest, "offered",
                                     "version " + std::to_string(latest) +
                                         ", rejected before, offered again (" + std::string(why) +
                                         "): the partner gets it at its next poll");
      });
      if (!again.ok()) return fail(0, again, "failed");
      out.state = "pull";
      return out;
    }
  }
  if (last && last->version == latest && last->state == "approved" && last->mode == "push") {
    out.update_id = last->update_id;
    auto active = CommandActivationLocked(st, *last);
    out.status = active.status();
    out.state = active.ok() ? "activated" : "failed";
    return out;
  }
  if (st.p.sync_url.empty()) {
    out.state = "pull";
    return out;
  }

  // A newer version supersedes whatever the partner still has pending.
  if (last && last->finished == 0 && last->version < latest) {
    (void)db_.Exec(
        "UPDATE sync_updates SET state = 'superseded', finished = ?, reason = ? WHERE id = ?",
        {now, "superseded by version " + std::to_string(latest), UpdateRowId(last->update_id)});
  }
  int64_t rowid = 0;
  Status ins = db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(
        db.Exec("INSERT INTO sync_updates(partner, version, mode, state, offered) "
                "VALUES(?,?,'push','offered',?)",
                {id, static_cast<int64_t>(latest), now}));
    rowid = db.LastInsertId();
    RETURN_IF_ERROR(
        db.Exec("UPDATE sync_partnerships SET last_update = ? WHERE id = ?", {rowid, id}));
    return internal::RecordEvent(db, now, id, UpdateId(rowid), latest, "offered",
                                 "offered version " + std::to_string(latest) + " (" +
                                     std::string(why) + ") to " + st.p.sync_url);
  });
  if (!ins.ok()) return fail(0, ins, "failed");
  out.update_id = UpdateId(rowid);

  // The delta from the release the partner has active when main still holds it (metadata as
  // small as the change); the full metadata otherwise, or when the partner asks for it.
  auto delta = DeltaEnvelopeLocked(id, st.active_version, latest);
  if (!delta.ok()) return fail(rowid, delta.status(), "failed");
  OfferRequest offer;
  offer.partner = id;
  offer.update_id = out.update_id;
  offer.version = latest;
  offer.approval = st.p.approval;
  offer.root = options_.root_envelope;
  report("offering");
  // While the partner fetches what it lacks, ServeBlobs reports each batch sent ("fetching").
  struct FetchReports {
    Publisher& p;
    const std::string& id;
    ~FetchReports() {
      std::lock_guard<std::mutex> lock(p.in_flight_mu_);
      p.in_flight_.erase(id);
    }
  } fetch_reports{*this, id};
  if (progress) {
    InFlight f;
    f.progress = progress;
    f.step.partner = id;
    f.step.stage = "fetching";
    f.step.version = out.version;
    f.step.update_id = out.update_id;
    std::lock_guard<std::mutex> lock(in_flight_mu_);
    in_flight_[id] = std::move(f);
  }
  Result<OfferReply> reply = Status::NotFound("no delta");
  const bool sent_delta = !delta->empty();
  if (sent_delta) {
    offer.blobs = BlobsToSendWith(blobs_, *delta);
    offer.release = std::move(*delta);
    reply = link_.Offer(id, offer);
    if (!reply.ok() && reply.status().code() == StatusCode::kInvalidArgument &&
        !offer.blobs.empty() &&
        reply.status().message().find("unknown field 'blobs'") != std::string::npos) {
      // A partner that predates blobs sent with an offer: it fetches them itself.
      offer.blobs.clear();
      reply = link_.Offer(id, offer);
    }
    if (!reply.ok() && reply.status().code() == StatusCode::kNotFound) {
      (void)Event(id, out.update_id, latest, "offered",
                  "partner cannot apply the delta from version " +
                      std::to_string(st.active_version) + " (" + reply.status().message() +
                      "): sending the full metadata");
    }
  }
  if (!sent_delta || (!reply.ok() && reply.status().code() == StatusCode::kNotFound)) {
    auto full = FullEnvelopeLocked(id, latest);
    if (!full.ok()) return fail(rowid, full.status(), "failed");
    offer.release = std::move(*full);
    offer.blobs.clear();
    reply = link_.Offer(id, offer);
  }
  if (!reply.ok()) {
    if (reply.status().code() == StatusCode::kAlreadyExists) {
      // The partner already has this version active (e.g. main crashed before recording it).
      (void)db_.Transaction([&](Database& db) -> Status {
        RETURN_IF_ERROR(db.Exec(
            "UPDATE sync_updates SET state = 'activated', reason = ?, finished = ? WHERE id = ?",
            {"already active at the partner", now, rowid}));
        RETURN_IF_ERROR(
            db.Exec("UPDATE sync_partnerships SET active_version = ?, failures = 0 WHERE id = ?",
                    {static_cast<int64_t>(latest), id}));
        return internal::RecordEvent(db, now, id, out.update_id, latest, "activated",
                                     "partner reports version " + std::to_string(latest) +
                                         " already active: " + reply.status().message());
      });
      out.state = "already_active";
      return out;
    }
    return fail(rowid, reply.status().Annotate("offer of version " + std::to_string(latest)),
                "failed");
  }
  const OfferReply& r = *reply;
  report("staged", &r);
  const bool activated = r.outcome == OfferOutcome::kActivated;
  Status rec = db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(db.Exec(
        "UPDATE sync_updates SET state = ?, fetched_blobs = ?, fetched_bytes = ?, finished = ? "
        "WHERE id = ?",
        {std::string(activated ? "activated" : "pending_approval"),
         static_cast<int64_t>(r.fetched_blobs), static_cast<int64_t>(r.fetched_bytes),
         activated ? now : int64_t{0}, rowid}));
    RETURN_IF_ERROR(
        db.Exec("UPDATE sync_partnerships SET active_version = ?, failures = 0 WHERE id = ?",
                {static_cast<int64_t>(r.active_version), id}));
    RETURN_IF_ERROR(internal::RecordEvent(
        db, now, id, out.update_id, latest, "staged",
        "partner fetched " + std::to_string(r.fetched_blobs) + " blobs (" +
            std::to_string(r.fetched_bytes) + " bytes) and staged version " +
            std::to_string(latest) + " (" + std::to_string(r.added) + " added, " +
            std::to_string(r.changed) + " changed, " + std::to_string(r.removed) + " removed)"));
    return internal::RecordEvent(db, now, id, out.update_id, latest,
                                 activated ? "activated" : "pending",
                                 activated ? "partner activated version " + std::to_string(latest)
                                           : "version " + std::to_string(latest) +
                                                 " is waiting for the partner manager's approval");
  });
  out.status = rec;
  out.state = !rec.ok() ? "failed" : activated ? "activated" : "pending_approval";
  return out;
}

std::vector<PublishOutcome> Publisher::RunParallel(const std::vector<std::string>& ids,
                                                   std::string_view why,
                                                   content::SourceCache* shared_cache,
                                                   const PublishProgressFn& progress) {
  std::vector<PublishOutcome> outcomes(ids.size());
  if (progress) {
    PublishProgress queued;
    queued.stage = "queued";
    for (const std::string& id : ids) {
      queued.partner = id;
      progress(queued);
    }
  }
  std::atomic<size_t> next{0};
  content::SourceCache own_cache;  // each source read once for all partners of this run
  content::SourceCache* cache = shared_cache != nullptr ? shared_cache : &own_cache;
  auto worker = [&] {
    for (size_t i = next.fetch_add(1); i < ids.size(); i = next.fetch_add(1)) {
      std::lock_guard<std::mutex> lock(PartnerMutex(ids[i]));
      // Main processes sharing one PostgreSQL store publish each partner one at a time.
      const std::string lease = "publish:" + ids[i];
      auto taken = TryLockName(db_, lease);
      if (!taken.ok() || !*taken) {
        outcomes[i].partner = ids[i];
        if (taken.ok()) {
          outcomes[i].state = "elsewhere";
        } else {
          outcomes[i].state = "failed";
          outcomes[i].status = taken.status().Annotate("taking the partner's publish lease");
        }
      } else {
        outcomes[i] = PublishLocked(ids[i], why, cache, progress);
        (void)UnlockName(db_, lease);  // a lost connection has released it already
      }
      if (progress) {
        const PublishOutcome& o = outcomes[i];
        PublishProgress last;
        last.partner = ids[i];
        last.stage = o.state;
        last.done = true;
        last.version = o.version;
        last.update_id = o.update_id;
        if (!o.status.ok()) last.reason = o.status.message();
        progress(last);
      }
    }
  };
  const size_t n = std::min(options_.max_concurrency, ids.size());
  if (n <= 1) {
    worker();
    return outcomes;
  }
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return outcomes;
}

std::vector<PublishOutcome> Publisher::PublishNow(const std::vector<std::string>& ids,
                                                  content::SourceCache* cache, Trigger trigger,
                                                  const PublishProgressFn& progress) {
  std::vector<std::string> targets = ids;
  if (targets.empty()) {
    auto rows = db_.Query(
        "SELECT id FROM sync_partnerships WHERE revoked = 0 AND suspended = 0 ORDER BY id");
    if (!rows.ok()) {
      PublishOutcome o;
      o.status = rows.status();
      o.state = "failed";
      return {o};
    }
    for (const auto& r : *rows) targets.push_back(r.Text(0));
  }
  return RunParallel(targets, trigger == Trigger::kManager ? kManagerPublish : "after a change",
                     cache, progress);
}

Result<std::shared_ptr<const content::PageProducts>> Publisher::ReadProducts() {
  if (!options_.products) return std::shared_ptr<const content::PageProducts>();
  return options_.products();
}

Status Publisher::Prepare(content::SourceCache* cache) {
  if (cache != nullptr) {
    RETURN_IF_ERROR(cache->Collect(env_, options_.authoring_dir, "", false).status());
  }
  ASSIGN_OR_RETURN(std::vector<Partnership> partnerships, ListPartnerships());
  for (const Partnership& p : partnerships) {
    if (p.revoked) continue;
    std::lock_guard<std::mutex> lock(PartnerMutex(p.id));
    ASSIGN_OR_RETURN(Latest * latest, LoadLatestLocked(p));
    // What the next build and offer compute from the previous release: every chunk's encodings
    // and hashes (kept by the chunks, which the next release shares).
    if (latest->manifest) {
      (void)latest->manifest->Hash();
      (void)latest->manifest->CompactChunks();
    }
    if (latest->inputs) (void)latest->inputs->EncodedChunks();
  }
  return Status::Ok();
}

std::vector<PublishOutcome> Publisher::RunDue(int64_t now, content::SourceCache* cache) {
  // Housekeeping off the publish path: stored chunks of dropped releases go at the first tick
  // and after every kSweepAfterDropped drops. A failure is recorded; the next tick tries again.
  if (!swept_.exchange(true) || dropped_since_sweep_ >= kSweepAfterDropped) {
    dropped_since_sweep_ = 0;
    Status swept = SweepChunks();
    if (!swept.ok()) {
      (void)Event("", "", 0, "failed", "removing unused release chunks: " + swept.message());
      swept_ = false;
    }
  }
  auto rows = db_.Query(
      "SELECT id FROM sync_partnerships WHERE revoked = 0 AND suspended = 0 AND "
      "((next_retry > 0 AND next_retry <= ?) OR (next_scheduled > 0 AND next_scheduled <= ?)) "
      "ORDER BY id",
      {now, now});
  if (!rows.ok()) {
    PublishOutcome o;
    o.status = rows.status();
    o.state = "failed";
    return {o};
  }
  std::vector<std::string> due;
  for (const auto& r : *rows) due.push_back(r.Text(0));
  if (due.empty()) return {};
  std::vector<PublishOutcome> outcomes = RunParallel(due, "scheduled", cache);
  // Partners another main process is publishing are its to report.
  std::erase_if(outcomes, [](const PublishOutcome& o) { return o.state == "elsewhere"; });
  return outcomes;
}

Result<UpdateResponseReply> Publisher::HandleResponse(const std::string& partner_id,
                                                      const UpdateResponse& response) {
  std::lock_guard<std::mutex> lock(PartnerMutex(partner_id));
  ASSIGN_OR_RETURN(auto st, LoadState(partner_id));
  if (st.p.revoked) return Status::PermissionDenied("partner '" + partner_id + "' is revoked");
  const int64_t rowid = UpdateRowId(response.update_id);
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kUpdateColumns) +
                                            " FROM sync_updates WHERE id = ? AND partner = ?",
                                        {rowid, partner_id}));
  if (rows.empty()) {
    (void)Event(partner_id, response.update_id, 0, "refused",
                "response for unknown update '" + response.update_id + "' refused");
    return Status::NotFound("update '" + response.update_id + "' is not an update of partner '" +
                            partner_id + "'");
  }
  UpdateRecord u = UpdateFromRow(rows[0]);
  const int64_t now = env_.NowSeconds();
  if (u.state == "approved" && response.approved) {
    // A repeated approval (the partner did not get our answer): answer the same way.
    if (u.mode == "pull") return UpdateResponseReply{true, u.version};
    (void)CommandActivationLocked(st, u);
    return UpdateResponseReply{false, u.version};
  }
  // The same decision again, after main acted on it: the partner sends a decision again until
  // it has main's answer (Receiver::ResendResponses runs beside the manager's own send), so a
  // copy may arrive once the update is live, or recorded as rejected. Answered as the first
  // was, changing nothing.
  if (response.approved && u.state == "activated") return UpdateResponseReply{false, u.version};
  if (!response.approved && u.state == "rejected") return UpdateResponseReply{false, u.version};
  if (u.state != "pending_approval" && u.state != "offered") {
    return Status::FailedPrecondition("update " + u.update_id + " (version " +
                                      std::to_string(u.version) + ") is " + u.state +
                                      ", not waiting for approval");
  }
  if (!response.approved) {
    // Not a failure: nothing is retried by itself unless the policy has `rejected=`.
    auto policy = RetryPolicy::Parse(st.p.retry).value_or(RetryPolicy());
    const int64_t again = policy.rejected_seconds() > 0 ? now + policy.rejected_seconds() : 0;
    const std::string reason =
        "partner manager rejected version " + std::to_string(u.version) + ": " + response.reason;
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      RETURN_IF_ERROR(db.Exec(
          "UPDATE sync_updates SET state = 'rejected', reason = ?, finished = ? WHERE id = ?",
          {reason, now, rowid}));
      RETURN_IF_ERROR(
          db.Exec("UPDATE sync_partnerships SET next_retry = ? WHERE id = ?", {again, partner_id}));
      return internal::RecordEvent(
          db, now, partner_id, u.update_id, u.version, "rejected",
          reason + (again > 0 ? "; offered again at " + FormatRfc3339(again)
                              : "; offered again when it changes or when you publish again"));
    }));
    return UpdateResponseReply{false, u.version};
  }
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(db.Exec("UPDATE sync_updates SET state = 'approved' WHERE id = ?", {rowid}));
    return internal::RecordEvent(db, now, partner_id, u.update_id, u.version, "approved",
                                 "partner manager approved version " + std::to_string(u.version));
  }));
  if (u.mode == "pull") return UpdateResponseReply{true, u.version};
  // Activation failures are recorded and retried by RunDue; the partner's answer is still OK.
  (void)CommandActivationLocked(st, u);
  return UpdateResponseReply{false, u.version};
}

Result<std::vector<std::string>> Publisher::ServeBlobs(const std::string& partner_id,
                                                       const std::vector<std::string>& hashes) {
  ASSIGN_OR_RETURN(auto st, LoadState(partner_id));
  if (st.p.revoked) return Status::PermissionDenied("partner '" + partner_id + "' is revoked");
  constexpr uint64_t kMaxBatchBytes = 64 * 1024 * 1024;
  std::vector<std::string> out;
  out.reserve(hashes.size());
  uint64_t total = 0;
  // Which of them this partner's releases reference: one query per kRefsPerQuery hashes (an
  // initial sync asks for thousands; a query each cost a round trip on PostgreSQL).
  constexpr size_t kRefsPerQuery = 500;
  std::set<std::string> referenced;
  for (size_t start = 0; start < hashes.size(); start += kRefsPerQuery) {
    const size_t n = std::min(kRefsPerQuery, hashes.size() - start);
    std::string sql = "SELECT hash FROM sync_blob_refs WHERE partner = ? AND hash IN (";
    std::vector<SqlValue> params = {partner_id};
    for (size_t i = 0; i < n; ++i) {
      sql += i == 0 ? "?" : ", ?";
      params.emplace_back(hashes[start + i]);
    }
    ASSIGN_OR_RETURN(auto rows, db_.Query(sql + ")", params));
    for (const SqlRow& r : rows) referenced.insert(r.Text(0));
    // Main's templates, which every partner may fetch (BuildLocked).
    if (rows.size() < n) {
      std::string shared = "SELECT hash FROM sync_shared_blobs WHERE hash IN (";
      std::vector<SqlValue> hashes_param;
      for (size_t i = 0; i < n; ++i) {
        if (referenced.contains(hashes[start + i])) continue;
        shared += hashes_param.empty() ? "?" : ", ?";
        hashes_param.emplace_back(hashes[start + i]);
      }
      ASSIGN_OR_RETURN(auto found, db_.Query(shared + ")", hashes_param));
      for (const SqlRow& r : found) referenced.insert(r.Text(0));
    }
  }
  for (const auto& h : hashes) {
    if (referenced.count(h) == 0) {
      (void)Event(partner_id, "", 0, "refused",
                  "partner asked for blob " + h + ", which none of its releases references");
      return Status::PermissionDenied("blob " + h + " is not part of any release for partner '" +
                                      partner_id + "'");
    }
    ASSIGN_OR_RETURN(std::string bytes, blobs_.Get(h));
    total += bytes.size();
    if (total > kMaxBatchBytes && out.size() > 0) {
      return Status::ResourceExhausted("blob request above 64 MiB; ask for fewer blobs at once");
    }
    out.push_back(std::move(bytes));
  }
  std::lock_guard<std::mutex> lock(in_flight_mu_);
  if (auto it = in_flight_.find(partner_id); it != in_flight_.end()) {
    it->second.step.fetched_blobs += out.size();
    it->second.step.fetched_bytes += total;
    it->second.progress(it->second.step);
  }
  return out;
}

Result<OfferRequest> Publisher::LatestFor(const std::string& partner_id, uint64_t have_version) {
  std::lock_guard<std::mutex> lock(PartnerMutex(partner_id));
  ASSIGN_OR_RETURN(auto st, LoadState(partner_id));
  if (st.p.revoked) return Status::PermissionDenied("partner '" + partner_id + "' is revoked");
  if (st.p.suspended) {
    // Nothing new while suspended: the partner stays as it is (no failure on its side).
    ASSIGN_OR_RETURN(auto last, LastUpdate(partner_id));
    OfferRequest none;
    none.partner = partner_id;
    none.update_id = last ? last->update_id : "current";
    none.version = have_version;
    none.approval = st.p.approval;
    return none;
  }
  const int64_t now = env_.NowSeconds();
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT version FROM sync_releases WHERE "
                                        "partner = ? ORDER BY version DESC LIMIT 1",
                                        {partner_id}));
  if (rows.empty()) {
    RETURN_IF_ERROR(BuildLocked(st.p, now, nullptr).status());
    ASSIGN_OR_RETURN(rows, db_.Query("SELECT version FROM sync_releases WHERE "
                                     "partner = ? ORDER BY version DESC LIMIT 1",
                                     {partner_id}));
    if (rows.empty()) return Status::NotFound("no release built for partner '" + partner_id + "'");
  }
  const uint64_t version = static_cast<uint64_t>(rows[0].Int(0));
  ASSIGN_OR_RETURN(auto last, LastUpdate(partner_id));
  if (have_version != 0 && have_version == version) {
    // Up to date: nothing to sign, send or record. The update id is the one that delivered it.
    OfferRequest none;
    none.partner = partner_id;
    none.update_id = last && last->version == version ? last->update_id : "current";
    none.version = version;
    none.approval = st.p.approval;
    return none;
  }
  if (last && last->version == version && last->state == "rejected") {
    // The partner's manager rejected it: nothing new until it changes or is offered again.
    OfferRequest none;
    none.partner = partner_id;
    none.update_id = last->update_id;
    none.version = have_version;
    none.approval = st.p.approval;
    return none;
  }
  std::string update_id;
  if (last && last->version == version && last->mode == "pull" &&
      (last->state == "offered" || last->state == "pending_approval" ||
       last->state == "approved")) {
    update_id = last->update_id;
  } else {
    RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
      if (last && last->finished == 0 && last->version < version) {
        RETURN_IF_ERROR(
            db.Exec("UPDATE sync_updates SET state = 'superseded', finished = ? WHERE id = ?",
                    {now, UpdateRowId(last->update_id)}));
      }
      RETURN_IF_ERROR(
          db.Exec("INSERT INTO sync_updates(partner, version, mode, state, offered) "
                  "VALUES(?,?,'pull','offered',?)",
                  {partner_id, static_cast<int64_t>(version), now}));
      const int64_t rowid = db.LastInsertId();
      update_id = UpdateId(rowid);
      RETURN_IF_ERROR(db.Exec("UPDATE sync_partnerships SET last_update = ? WHERE id = ?",
                              {rowid, partner_id}));
      return internal::RecordEvent(db, now, partner_id, update_id, version, "offered",
                                   "partner polled: sent version " + std::to_string(version));
    }));
  }
  OfferRequest offer;
  offer.partner = partner_id;
  offer.update_id = update_id;
  offer.version = version;
  offer.approval = st.p.approval;
  offer.root = options_.root_envelope;
  ASSIGN_OR_RETURN(offer.release, DeltaEnvelopeLocked(partner_id, have_version, version));
  if (offer.release.empty()) {
    ASSIGN_OR_RETURN(offer.release, FullEnvelopeLocked(partner_id, version));
  }
  return offer;
}

Status Publisher::HandleReport(const std::string& partner_id, const EventReport& report) {
  std::lock_guard<std::mutex> lock(PartnerMutex(partner_id));
  ASSIGN_OR_RETURN(auto st, LoadState(partner_id));
  if (st.p.revoked) return Status::PermissionDenied("partner '" + partner_id + "' is revoked");
  const int64_t now = env_.NowSeconds();
  const int64_t rowid = UpdateRowId(report.update_id);
  if (report.kind == "emergency-edit") {
    return Status::PermissionDenied(
        "emergency edits are reported signed, on /v1/emergency-edits: an unsigned report is not "
        "recorded");
  }
  return db_.Transaction([&](Database& db) -> Status {
    bool known = false;
    if (rowid != 0) {
      ASSIGN_OR_RETURN(
          auto rows,
          db.Query("SELECT 1 FROM sync_updates WHERE id = ? AND partner = ?", {rowid, partner_id}));
      known = !rows.empty();
    }
    if (report.kind == "activated" && report.version > 0) {
      if (known) {
        RETURN_IF_ERROR(db.Exec(
            "UPDATE sync_updates SET state = 'activated', reason = '', finished = ? WHERE id = ?",
            {now, rowid}));
      }
      RETURN_IF_ERROR(
          db.Exec("UPDATE sync_partnerships SET active_version = ?, failures = 0, next_retry = 0 "
                  "WHERE id = ?",
                  {static_cast<int64_t>(report.version), partner_id}));
    } else if (report.kind == "pending" && known) {
      RETURN_IF_ERROR(db.Exec(
          "UPDATE sync_updates SET state = 'pending_approval' WHERE id = ? AND finished = 0",
          {rowid}));
    } else if (report.kind == "refused" && known) {
      RETURN_IF_ERROR(
          db.Exec("UPDATE sync_updates SET state = 'failed', reason = ?, finished = ? WHERE id = ?",
                  {report.message, now, rowid}));
    } else if (report.kind == "rollback" && report.version > 0) {
      RETURN_IF_ERROR(db.Exec("UPDATE sync_partnerships SET active_version = ? WHERE id = ?",
                              {static_cast<int64_t>(report.version), partner_id}));
    }
    return internal::RecordEvent(db, now, partner_id, known ? report.update_id : "", report.version,
                                 "reported",
                                 "partner reports " + report.kind + ": " + report.message);
  });
}

Status Publisher::HandleEmergencyEdit(const std::string& partner_id,
                                      const EmergencyEditReport& report) {
  std::lock_guard<std::mutex> lock(PartnerMutex(partner_id));
  ASSIGN_OR_RETURN(auto st, LoadState(partner_id));
  if (st.p.revoked) return Status::PermissionDenied("partner '" + partner_id + "' is revoked");
  const int64_t now = env_.NowSeconds();
  auto short_hash = [](const std::string& h) { return h.empty() ? "(none)" : h.substr(0, 12); };
  std::string message;
  if (report.action == "dropped") {
    message =
        report.reason.empty() ? "the emergency edit of " + report.path + " ended" : report.reason;
  } else {
    message = "emergency edit by " + (report.by.empty() ? "the partner manager" : report.by) +
              " at " + FormatRfc3339(report.at) + ": " + report.action + " " + report.path + " (" +
              short_hash(report.old_hash) + " -> " + short_hash(report.new_hash) +
              ") over version " + std::to_string(report.version);
    if (report.action == "revert") {
      message = "emergency edit of " + report.path + " reverted by " +
                (report.by.empty() ? "the partner manager" : report.by) + " at " +
                FormatRfc3339(report.at) + ": main's page is served again";
    }
  }
  message += "; the partner now serves version " + std::to_string(report.version) +
             (report.overlay.empty()
                  ? " as main signed it"
                  : " with " + std::to_string(report.overlay.size()) + " emergency edit(s)");
  return db_.Transaction([&](Database& db) -> Status {
    RETURN_IF_ERROR(db.Exec(
        "UPDATE sync_partnerships SET served_hash = ?, served_overlay = ?, active_version = ?, "
        "served_version = ?, emergency_seq = CASE WHEN ? > emergency_seq THEN ? ELSE "
        "emergency_seq END WHERE id = ?",
        {report.active_hash, EncodeServedOverlay(report.overlay),
         static_cast<int64_t>(report.version), static_cast<int64_t>(report.version),
         static_cast<int64_t>(report.seq), static_cast<int64_t>(report.seq), partner_id}));
    if (report.seq <= st.emergency_seq) return Status::Ok();  // recorded when first received
    return internal::RecordEvent(db, now, partner_id, "", report.version, "emergency-edit",
                                 message);
  });
}

Result<PartnerServing> Publisher::ServingOf(const std::string& id) {
  ASSIGN_OR_RETURN(PartnerState st, LoadState(id));
  PartnerServing out;
  out.active_version = st.active_version;
  // The overlay was reported over the version it names: over another one it is stale.
  if (st.served_version == st.active_version) out.emergency_edits = std::move(st.served_overlay);
  out.partnership = std::move(st.p);
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT MAX(version) FROM sync_releases WHERE partner = ?", {id}));
  out.latest_version = rows.empty() ? 0 : static_cast<uint64_t>(rows[0].Int(0));
  return out;
}

Result<std::shared_ptr<const content::ReleaseManifest>> Publisher::KeptRelease(
    const std::string& id, uint64_t version) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT payload, snapshot, payload_hash FROM sync_releases "
                                        "WHERE partner = ? AND version = ?",
                                        {id, static_cast<int64_t>(version)}));
  if (rows.empty()) {
    return Status::NotFound("release " + std::to_string(version) + " of partner '" + id +
                            "' is no longer kept");
  }
  ASSIGN_OR_RETURN(StoredRelease stored, ReadStoredRelease(db_, rows[0], 0, id, version));
  return std::make_shared<const content::ReleaseManifest>(std::move(stored.manifest));
}

Result<std::vector<PartnerStatusReport>> Publisher::StatusReport() {
  // One implementation of a partner's state for `tieup main status` and the console's table.
  PartnerOverviewQuery all;
  all.page_size = 0;
  ASSIGN_OR_RETURN(PartnerOverviewPage page, QueryPartnerOverview(db_, all));
  std::vector<PartnerStatusReport> out;
  out.reserve(page.rows.size());
  for (PartnerOverviewRow& row : page.rows) out.push_back(std::move(row.report));
  return out;
}

Result<std::vector<UpdateRecord>> Publisher::Updates(const std::string& partner_id, size_t limit) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kUpdateColumns) +
                                            " FROM sync_updates WHERE partner = ? ORDER BY id "
                                            "DESC LIMIT ?",
                                        {partner_id, static_cast<int64_t>(limit)}));
  std::vector<UpdateRecord> out;
  for (const auto& r : rows) out.push_back(UpdateFromRow(r));
  return out;
}

Result<std::vector<SyncEvent>> Publisher::Events(const std::string& partner_id, size_t limit) {
  return internal::ListEvents(db_, partner_id, limit);
}

}  // namespace tieup::sync

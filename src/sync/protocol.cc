#include "sync/protocol.h"

#include <boost/json.hpp>
#include <set>

#include "base/encoding.h"
#include "content/release.h"
#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace json = boost::json;
namespace {

// Reads one JSON object strictly: every field must be read exactly once by the caller, and
// Finish() refuses fields nobody asked for.
class ObjectReader {
 public:
  static Result<ObjectReader> Open(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) {
      return Status::InvalidArgument(std::string(what) + " is not valid JSON: " + ec.message());
    }
    if (!v.is_object()) {
      return Status::InvalidArgument(std::string(what) + " must be a JSON object");
    }
    return ObjectReader(std::move(v), what);
  }

  Result<std::string> String(std::string_view key, bool optional = false) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      if (optional) return std::string();
      return Missing(key);
    }
    if (!v->is_string()) return WrongType(key, "a string");
    return std::string(v->get_string());
  }

  Result<uint64_t> UInt(std::string_view key, bool optional = false) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      if (optional) return uint64_t{0};
      return Missing(key);
    }
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
    return WrongType(key, "a whole number >= 0");
  }

  Result<bool> Bool(std::string_view key) {
    const json::value* v = Find(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_bool()) return WrongType(key, "true or false");
    return v->get_bool();
  }

  Result<std::vector<std::string>> Strings(std::string_view key) {
    const json::value* v = Find(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_array()) return WrongType(key, "an array of strings");
    std::vector<std::string> out;
    for (const json::value& e : v->get_array()) {
      if (!e.is_string()) return WrongType(key, "an array of strings");
      out.emplace_back(e.get_string());
    }
    return out;
  }

  Result<std::vector<uint64_t>> UInts(std::string_view key) {
    const json::value* v = Find(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_array()) return WrongType(key, "an array of whole numbers");
    std::vector<uint64_t> out;
    for (const json::value& e : v->get_array()) {
      if (e.is_uint64()) {
        out.push_back(e.get_uint64());
      } else if (e.is_int64() && e.get_int64() >= 0) {
        out.push_back(static_cast<uint64_t>(e.get_int64()));
      } else {
        return WrongType(key, "an array of whole numbers");
      }
    }
    return out;
  }

  // An array of objects, each read by `read` with its own reader. Absent: empty when optional.
  template <typename T>
  Result<std::vector<T>> Objects(std::string_view key, bool optional,
                                 const std::function<Result<T>(ObjectReader&)>& read) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      if (optional) return std::vector<T>();
      return Missing(key);
    }
    if (!v->is_array()) return WrongType(key, "an array of objects");
    std::vector<T> out;
    for (const json::value& e : v->get_array()) {
      if (!e.is_object()) return WrongType(key, "an array of objects");
      ObjectReader r(e, what_ + " " + std::string(key));
      ASSIGN_OR_RETURN(T item, read(r));
      RETURN_IF_ERROR(r.Finish());
      out.push_back(std::move(item));
    }
    return out;
  }

  Status Finish() const {
    for (const auto& kv : value_.get_object()) {
      if (!read_.contains(std::string(kv.key()))) {
        return Status::InvalidArgument(what_ + " has unknown field '" + std::string(kv.key()) +
                                       "'; is the peer running a newer protocol?");
      }
    }
    return Status::Ok();
  }

 private:
  ObjectReader(json::value v, std::string_view what) : value_(std::move(v)), what_(what) {}
  const json::value* Find(std::string_view key) {
    read_.insert(std::string(key));
    return value_.get_object().if_contains(key);
  }
  Status Missing(std::string_view key) const {
    return Status::InvalidArgument(what_ + " is missing field '" + std::string(key) + "'");
  }
  Status WrongType(std::string_view key, std::string_view type) const {
    return Status::InvalidArgument(what_ + " field '" + std::string(key) + "' must be " +
                                   std::string(type));
  }

  json::value value_;
  std::string what_;
  std::set<std::string> read_;
};

Status CheckUpdateId(std::string_view id, std::string_view what) {
  if (id.empty() || id.size() > 64) {
    return Status::InvalidArgument(std::string(what) + ": update id must be 1..64 characters");
  }
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return Status::InvalidArgument(std::string(what) + ": update id '" + std::string(id) +
                                     "' may only use [A-Za-z0-9._-]");
    }
  }
  return Status::Ok();
}

std::string Canonical(const json::object& o) { return CanonicalJson(json::value(o)); }

}  // namespace

std::string_view PartnershipKindName(PartnershipKind kind) {
  switch (kind) {
    case PartnershipKind::kContents:
      return "contents";
    case PartnershipKind::kTemplate:
      return "template";
    case PartnershipKind::kLink:
      return "link";
  }
  return "contents";
}

Result<PartnershipKind> ParsePartnershipKind(std::string_view name) {
  if (name == "contents") return PartnershipKind::kContents;
  if (name == "template") return PartnershipKind::kTemplate;
  if (name == "link") return PartnershipKind::kLink;
  return Status::InvalidArgument("partnership kind '" + std::string(name) +
                                 "' is not known; use contents, template or link");
}

std::string_view ApprovalPolicyName(ApprovalPolicy policy) {
  return policy == ApprovalPolicy::kManager ? "manager" : "auto";
}

Result<ApprovalPolicy> ParseApprovalPolicy(std::string_view name) {
  if (name == "auto") return ApprovalPolicy::kAuto;
  if (name == "manager") return ApprovalPolicy::kManager;
  return Status::InvalidArgument("approval policy '" + std::string(name) +
                                 "' is not known; use auto or manager");
}

std::string_view OfferOutcomeName(OfferOutcome outcome) {
  return outcome == OfferOutcome::kPending ? "pending" : "activated";
}

std::string EncodeOfferRequest(const OfferRequest& m) {
  json::object o;
  o["approval"] = ApprovalPolicyName(m.approval);
  if (!m.blobs.empty()) {
    json::array blobs;
    for (const auto& [hash, bytes] : m.blobs) {
      json::object b;
      b["bytes"] = Base64Encode(bytes);
      b["hash"] = hash;
      blobs.push_back(std::move(b));
    }
    o["blobs"] = std::move(blobs);
  }
  o["partner"] = m.partner;
  o["release"] = m.release;
  o["root"] = m.root;
  o["update_id"] = m.update_id;
  o["version"] = m.version;
  return Canonical(o);
}

Result<OfferRequest> ParseOfferRequest(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "offer"));
  OfferRequest m;
  ASSIGN_OR_RETURN(std::string approval, r.String("approval"));
  ASSIGN_OR_RETURN(m.approval, ParseApprovalPolicy(approval));
  using Blob = std::pair<std::string, std::string>;
  ASSIGN_OR_RETURN(
      std::vector<Blob> blobs, r.Objects<Blob>("blobs", true, [](ObjectReader& b) -> Result<Blob> {
        ASSIGN_OR_RETURN(std::string hash, b.String("hash"));
        if (!content::ValidateHashHex(hash).ok()) {
          return Status::InvalidArgument("offer blob hash '" + hash.substr(0, 80) +
                                         "' is not 64 lower-case hex digits");
        }
        ASSIGN_OR_RETURN(std::string text, b.String("bytes"));
        auto bytes = Base64Decode(text);
        if (!bytes.ok()) {
          return Status::InvalidArgument("offer blob " + hash + ": bytes are not base64");
        }
        return Blob(std::move(hash), std::move(*bytes));
      }));
  if (blobs.size() > kMaxOfferBlobs) {
    return Status::InvalidArgument("offer carries " + std::to_string(blobs.size()) +
                                   " blobs; at most " + std::to_string(kMaxOfferBlobs));
  }
  uint64_t blob_bytes = 0;
  for (auto& [hash, bytes] : blobs) {
    blob_bytes += bytes.size();
    if (!m.blobs.emplace(std::move(hash), std::move(bytes)).second) {
      return Status::InvalidArgument("offer carries a blob twice");
    }
  }
  if (blob_bytes > kMaxOfferBlobBytes) {
    return Status::InvalidArgument("offer carries " + std::to_string(blob_bytes) +
                                   " bytes of blobs; at most " +
                                   std::to_string(kMaxOfferBlobBytes));
  }
  ASSIGN_OR_RETURN(m.partner, r.String("partner"));
  ASSIGN_OR_RETURN(m.release, r.String("release"));
  ASSIGN_OR_RETURN(m.root, r.String("root"));
  ASSIGN_OR_RETURN(m.update_id, r.String("update_id"));
  ASSIGN_OR_RETURN(m.version, r.UInt("version"));
  RETURN_IF_ERROR(r.Finish());
  RETURN_IF_ERROR(content::ValidateSiteId(m.partner));
  RETURN_IF_ERROR(CheckUpdateId(m.update_id, "offer"));
  if (m.version == 0) return Status::InvalidArgument("offer field 'version' must be >= 1");
  return m;
}

std::string EncodeOfferReply(const OfferReply& m) {
  json::object o;
  o["active_version"] = m.active_version;
  o["added"] = m.added;
  o["changed"] = m.changed;
  o["fetched_blobs"] = m.fetched_blobs;
  o["fetched_bytes"] = m.fetched_bytes;
  o["outcome"] = OfferOutcomeName(m.outcome);
  o["removed"] = m.removed;
  o["update_id"] = m.update_id;
  o["version"] = m.version;
  return Canonical(o);
}

Result<OfferReply> ParseOfferReply(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "offer reply"));
  OfferReply m;
  ASSIGN_OR_RETURN(m.active_version, r.UInt("active_version"));
  ASSIGN_OR_RETURN(m.added, r.UInt("added"));
  ASSIGN_OR_RETURN(m.changed, r.UInt("changed"));
  ASSIGN_OR_RETURN(m.fetched_blobs, r.UInt("fetched_blobs"));
  ASSIGN_OR_RETURN(m.fetched_bytes, r.UInt("fetched_bytes"));
  ASSIGN_OR_RETURN(std::string outcome, r.String("outcome"));
  if (outcome == "activated") {
    m.outcome = OfferOutcome::kActivated;
  } else if (outcome == "pending") {
    m.outcome = OfferOutcome::kPending;
  } else {
    return Status::InvalidArgument("offer reply field 'outcome' must be 'activated' or 'pending'");
  }
  ASSIGN_OR_RETURN(m.removed, r.UInt("removed"));
  ASSIGN_OR_RETURN(m.update_id, r.String("update_id"));
  ASSIGN_OR_RETURN(m.version, r.UInt("version"));
  RETURN_IF_ERROR(r.Finish());
  return m;
}

std::string EncodeUpdateResponse(const UpdateResponse& m) {
  json::object o;
  o["approved"] = m.approved;
  o["reason"] = m.reason;
  o["update_id"] = m.update_id;
  return Canonical(o);
}

Result<UpdateResponse> ParseUpdateResponse(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "update response"));
  UpdateResponse m;
  ASSIGN_OR_RETURN(m.approved, r.Bool("approved"));
  ASSIGN_OR_RETURN(m.reason, r.String("reason"));
  ASSIGN_OR_RETURN(m.update_id, r.String("update_id"));
  RETURN_IF_ERROR(r.Finish());
  RETURN_IF_ERROR(CheckUpdateId(m.update_id, "update response"));
  if (!m.approved && m.reason.empty()) {
    return Status::InvalidArgument("update response: a rejection needs a reason");
  }
  if (m.reason.size() > 4096) {
    return Status::InvalidArgument("update response: reason is above 4096 bytes");
  }
  return m;
}

std::string EncodeUpdateResponseReply(const UpdateResponseReply& m) {
  json::object o;
  o["activate"] = m.activate;
  o["version"] = m.version;
  return Canonical(o);
}

Result<UpdateResponseReply> ParseUpdateResponseReply(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "update response reply"));
  UpdateResponseReply m;
  ASSIGN_OR_RETURN(m.activate, r.Bool("activate"));
  ASSIGN_OR_RETURN(m.version, r.UInt("version"));
  RETURN_IF_ERROR(r.Finish());
  return m;
}

std::string EncodeActivateRequest(const ActivateRequest& m) {
  json::object o;
  o["update_id"] = m.update_id;
  o["version"] = m.version;
  return Canonical(o);
}

Result<ActivateRequest> ParseActivateRequest(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "activate request"));
  ActivateRequest m;
  ASSIGN_OR_RETURN(m.update_id, r.String("update_id"));
  ASSIGN_OR_RETURN(m.version, r.UInt("version"));
  RETURN_IF_ERROR(r.Finish());
  RETURN_IF_ERROR(CheckUpdateId(m.update_id, "activate request"));
  if (m.version == 0) return Status::InvalidArgument("activate request: version must be >= 1");
  return m;
}

json::array EncodeOverlay(const std::vector<EmergencyEditState>& overlay) {
  json::array out;
  for (const EmergencyEditState& e : overlay) {
    out.push_back(json::object{{"at", e.at}, {"by", e.by}, {"hash", e.hash}, {"path", e.path}});
  }
  return out;
}

Result<EmergencyEditState> ReadEdit(ObjectReader& r) {
  EmergencyEditState e;
  ASSIGN_OR_RETURN(uint64_t at, r.UInt("at"));
  e.at = static_cast<int64_t>(at);
  ASSIGN_OR_RETURN(e.by, r.String("by"));
  ASSIGN_OR_RETURN(e.hash, r.String("hash"));
  ASSIGN_OR_RETURN(e.path, r.String("path"));
  RETURN_IF_ERROR(content::ValidatePath(e.path));
  if (!e.hash.empty()) RETURN_IF_ERROR(content::ValidateHashHex(e.hash));
  if (e.by.size() > 256) return Status::InvalidArgument("emergency edit: 'by' is too long");
  return e;
}

constexpr size_t kMaxOverlayEntries = 10000;

std::string EncodePartnerSyncStatus(const PartnerSyncStatus& m) {
  json::object o;
  o["active_hash"] = m.active_hash;
  o["active_version"] = m.active_version;
  o["overlay"] = EncodeOverlay(m.overlay);
  json::array pending;
  for (const auto& p : m.pending_updates) pending.emplace_back(p);
  o["pending_updates"] = std::move(pending);
  o["site"] = m.site;
  json::array staged;
  for (uint64_t v : m.staged_versions) staged.emplace_back(v);
  o["staged_versions"] = std::move(staged);
  return Canonical(o);
}

Result<PartnerSyncStatus> ParsePartnerSyncStatus(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "partner status"));
  PartnerSyncStatus m;
  // Optional: partners from before emergency edits were overlays do not send them.
  ASSIGN_OR_RETURN(m.active_hash, r.String("active_hash", /*optional=*/true));
  ASSIGN_OR_RETURN(m.overlay, r.Objects<EmergencyEditState>("overlay", true, ReadEdit));
  ASSIGN_OR_RETURN(m.active_version, r.UInt("active_version"));
  ASSIGN_OR_RETURN(m.pending_updates, r.Strings("pending_updates"));
  ASSIGN_OR_RETURN(m.site, r.String("site"));
  ASSIGN_OR_RETURN(m.staged_versions, r.UInts("staged_versions"));
  RETURN_IF_ERROR(r.Finish());
  return m;
}

std::string EncodeEmergencyEditReport(const EmergencyEditReport& m) {
  json::object o;
  o["action"] = m.action;
  o["active_hash"] = m.active_hash;
  o["at"] = m.at;
  o["by"] = m.by;
  o["new_hash"] = m.new_hash;
  o["old_hash"] = m.old_hash;
  o["overlay"] = EncodeOverlay(m.overlay);
  o["path"] = m.path;
  o["reason"] = m.reason;
  o["seq"] = m.seq;
  o["version"] = m.version;
  return Canonical(o);
}

Result<EmergencyEditReport> ParseEmergencyEditReport(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "emergency edit report"));
  EmergencyEditReport m;
  ASSIGN_OR_RETURN(m.action, r.String("action"));
  ASSIGN_OR_RETURN(m.active_hash, r.String("active_hash"));
  ASSIGN_OR_RETURN(uint64_t at, r.UInt("at"));
  m.at = static_cast<int64_t>(at);
  ASSIGN_OR_RETURN(m.by, r.String("by"));
  ASSIGN_OR_RETURN(m.new_hash, r.String("new_hash"));
  ASSIGN_OR_RETURN(m.old_hash, r.String("old_hash"));
  ASSIGN_OR_RETURN(m.overlay, r.Objects<EmergencyEditState>("overlay", false, ReadEdit));
  ASSIGN_OR_RETURN(m.path, r.String("path"));
  ASSIGN_OR_RETURN(m.reason, r.String("reason"));
  ASSIGN_OR_RETURN(m.seq, r.UInt("seq"));
  ASSIGN_OR_RETURN(m.version, r.UInt("version"));
  RETURN_IF_ERROR(r.Finish());
  if (m.action != "put" && m.action != "remove" && m.action != "revert" && m.action != "dropped") {
    return Status::InvalidArgument("emergency edit report: action '" + m.action +
                                   "' is not put, remove, revert or dropped");
  }
  if (m.seq == 0) return Status::InvalidArgument("emergency edit report: seq must be >= 1");
  RETURN_IF_ERROR(content::ValidatePath(m.path));
  for (const std::string* h : {&m.old_hash, &m.new_hash, &m.active_hash}) {
    if (!h->empty()) RETURN_IF_ERROR(content::ValidateHashHex(*h));
  }
  if (m.by.size() > 256 || m.reason.size() > 4096) {
    return Status::InvalidArgument("emergency edit report: 'by' or 'reason' is too long");
  }
  if (m.overlay.size() > kMaxOverlayEntries) {
    return Status::InvalidArgument("emergency edit report: more than 10000 edits");
  }
  return m;
}

std::string EncodeEventReport(const EventReport& m) {
  json::object o;
  o["kind"] = m.kind;
  o["message"] = m.message;
  o["update_id"] = m.update_id;
  o["version"] = m.version;
  return Canonical(o);
}

Result<EventReport> ParseEventReport(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "event report"));
  EventReport m;
  ASSIGN_OR_RETURN(m.kind, r.String("kind"));
  ASSIGN_OR_RETURN(m.message, r.String("message"));
  ASSIGN_OR_RETURN(m.update_id, r.String("update_id"));
  ASSIGN_OR_RETURN(m.version, r.UInt("version"));
  RETURN_IF_ERROR(r.Finish());
  if (m.kind.empty() || m.kind.size() > 32) {
    return Status::InvalidArgument("event report: kind must be 1..32 characters");
  }
  for (char c : m.kind) {
    if (!(c >= 'a' && c <= 'z') && c != '-') {
      return Status::InvalidArgument("event report: kind '" + m.kind + "' may only use [a-z-]");
    }
  }
  if (m.message.size() > 4096) {
    return Status::InvalidArgument("event report: message is above 4096 bytes");
  }
  if (!m.update_id.empty()) RETURN_IF_ERROR(CheckUpdateId(m.update_id, "event report"));
  return m;
}

std::string EncodeBlobRequest(const std::vector<std::string>& hashes) {
  json::object o;
  json::array a;
  for (const auto& h : hashes) a.emplace_back(h);
  o["hashes"] = std::move(a);
  return Canonical(o);
}

Result<std::vector<std::string>> ParseBlobRequest(std::string_view text) {
  ASSIGN_OR_RETURN(auto r, ObjectReader::Open(text, "blob request"));
  ASSIGN_OR_RETURN(auto hashes, r.Strings("hashes"));
  RETURN_IF_ERROR(r.Finish());
  if (hashes.empty()) return Status::InvalidArgument("blob request: 'hashes' is empty");
  if (hashes.size() > kMaxBlobsPerRequest) {
    return Status::InvalidArgument("blob request: " + std::to_string(hashes.size()) +
                                   " hashes; at most " + std::to_string(kMaxBlobsPerRequest) +
                                   " per request");
  }
  for (const auto& h : hashes) {
    Status s = content::ValidateHashHex(h);
    if (!s.ok()) return s.Annotate("blob request");
  }
  return hashes;
}

std::string EncodeBlobBatch(const std::vector<std::string>& blobs) {
  size_t total = 0;
  for (const auto& b : blobs) total += 8 + b.size();
  std::string out;
  out.reserve(total);
  for (const auto& b : blobs) {
    AppendBigEndian(out, b.size(), 8);
    out.append(b);
  }
  return out;
}

Result<std::vector<std::string>> ParseBlobBatch(std::string_view body, size_t expected_count) {
  std::vector<std::string> out;
  out.reserve(expected_count);
  ByteReader r(body);
  for (size_t k = 0; k < expected_count; ++k) {
    if (r.remaining() < 8) {
      return Status::InvalidArgument("blob batch ends after " + std::to_string(k) + " of " +
                                     std::to_string(expected_count) + " blobs");
    }
    const uint64_t n = r.BigEndian(8);
    if (n > r.remaining()) {
      return Status::InvalidArgument("blob batch: blob " + std::to_string(k) + " claims " +
                                     std::to_string(n) + " bytes but only " +
                                     std::to_string(r.remaining()) + " follow");
    }
    out.emplace_back(r.Take(n));
  }
  if (!r.done()) {
    return Status::InvalidArgument("blob batch has " + std::to_string(r.remaining()) +
                                   " bytes after the last blob");
  }
  return out;
}

}  // namespace tieup::sync

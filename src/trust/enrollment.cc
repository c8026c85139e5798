#include "trust/enrollment.h"

#include <boost/json.hpp>
#include <map>
#include <mutex>

#include "base/encoding.h"
#include "crypto/hash.h"
#include "crypto/x509.h"

namespace tieup {
namespace {

namespace json = boost::json;

constexpr size_t kTokenBytes = 32;
constexpr std::string_view kFileFormat = "tieup-enrollment-tokens-v1";
// What a refused partner should do next.
std::string AskForNew(const std::string& partner) {
  return "ask the main site manager for a new code ('tieup main partner token MAIN_DIR " + partner +
         "' prints one)";
}

// Records keyed by partner id; the shared logic of both stores.
using RecordMap = std::map<std::string, EnrollmentTokenRecord, std::less<>>;

bool MarkUsedIn(RecordMap& records, std::string_view partner_id, std::string_view token_sha256,
                int64_t used_at) {
  auto it = records.find(partner_id);
  if (it == records.end() || it->second.used ||
      !ConstantTimeEquals(it->second.token_sha256, token_sha256)) {
    return false;
  }
  it->second.used = true;
  it->second.used_at = used_at;
  return true;
}

std::vector<EnrollmentTokenRecord> Values(const RecordMap& records) {
  std::vector<EnrollmentTokenRecord> out;
  for (const auto& [id, r] : records) out.push_back(r);
  return out;
}

class MemoryTokenStore : public TokenStore {
 public:
  Status Put(const EnrollmentTokenRecord& record) override {
    std::lock_guard lock(mu_);
    records_[record.partner_id] = record;
    return Status::Ok();
  }
  Result<EnrollmentTokenRecord> Get(std::string_view partner_id) override {
    std::lock_guard lock(mu_);
    auto it = records_.find(partner_id);
    if (it == records_.end()) {
      return Status::NotFound("no enrollment token for '" + std::string(partner_id) + "'");
    }
    return it->second;
  }
  Result<std::vector<EnrollmentTokenRecord>> List() override {
    std::lock_guard lock(mu_);
    return Values(records_);
  }
  Result<bool> MarkUsed(std::string_view partner_id, std::string_view token_sha256,
                        int64_t used_at) override {
    std::lock_guard lock(mu_);
    return MarkUsedIn(records_, partner_id, token_sha256, used_at);
  }
  Status Remove(std::string_view partner_id) override {
    std::lock_guard lock(mu_);
    auto it = records_.find(partner_id);
    if (it != records_.end()) records_.erase(it);
    return Status::Ok();
  }

 private:
  std::mutex mu_;
  RecordMap records_;
};

class FileTokenStore : public TokenStore {
 public:
  FileTokenStore(Env& env, std::string path) : env_(env), path_(std::move(path)) {}

  Status Put(const EnrollmentTokenRecord& record) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(RecordMap records, Load());
    records[record.partner_id] = record;
    return Save(records);
  }
  Result<EnrollmentTokenRecord> Get(std::string_view partner_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(RecordMap records, Load());
    auto it = records.find(partner_id);
    if (it == records.end()) {
      return Status::NotFound("no enrollment token for '" + std::string(partner_id) + "'");
    }
    return it->second;
  }
  Result<std::vector<EnrollmentTokenRecord>> List() override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(RecordMap records, Load());
    return Values(records);
  }
  Result<bool> MarkUsed(std::string_view partner_id, std::string_view token_sha256,
                        int64_t used_at) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(RecordMap records, Load());
    if (!MarkUsedIn(records, partner_id, token_sha256, used_at)) return false;
    RETURN_IF_ERROR(Save(records));
    return true;
  }
  Status Remove(std::string_view partner_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(RecordMap records, Load());
    auto it = records.find(partner_id);
    if (it == records.end()) return Status::Ok();
    records.erase(it);
    return Save(records);
  }

 private:
  Status Corrupt(std::string_view what) const {
    return Status::DataLoss("enrollment token file '" + path_ + "' is corrupt (" +
                            std::string(what) +
                            "): move it aside and issue new tokens with 'tieup main partner add'");
  }

  Result<RecordMap> Load() {
    RecordMap records;
    if (!env_.FileExists(path_)) return records;
    ASSIGN_OR_RETURN(std::string text, env_.ReadFile(path_));
    boost::system::error_code ec;
    json::value doc = json::parse(text, ec);
    if (ec) return Corrupt("not JSON: " + ec.message());
    const json::object* root = doc.if_object();
    if (root == nullptr) return Corrupt("not a JSON object");
    const json::value* format = root->if_contains("format");
    if (format == nullptr || !format->is_string() || format->get_string() != kFileFormat) {
      return Corrupt("format is not " + std::string(kFileFormat));
    }
    const json::value* tokens = root->if_contains("tokens");
    if (tokens == nullptr || !tokens->is_array()) return Corrupt("no token list");
    for (const json::value& v : tokens->get_array()) {
      const json::object* o = v.if_object();
      if (o == nullptr) return Corrupt("a token entry is not an object");
      auto str = [&](std::string_view key) -> const json::string* {
        const json::value* f = o->if_contains(key);
        return f == nullptr ? nullptr : f->if_string();
      };
      const json::string* partner = str("partner");
      const json::string* hash = str("sha256");
      const json::string* issued = str("issued_at");
      const json::string* expires = str("expires_at");
      if (partner == nullptr || hash == nullptr || issued == nullptr || expires == nullptr) {
        return Corrupt("a token entry lacks partner, sha256, issued_at or expires_at");
      }
      EnrollmentTokenRecord r;
      r.partner_id = std::string(*partner);
      r.token_sha256 = std::string(*hash);
      auto issued_at = ParseRfc3339(*issued);
      auto expires_at = ParseRfc3339(*expires);
      if (!issued_at.ok() || !expires_at.ok()) return Corrupt("a bad time");
      r.issued_at = *issued_at;
      r.expires_at = *expires_at;
      if (const json::string* used = str("used_at"); used != nullptr) {
        auto used_at = ParseRfc3339(*used);
        if (!used_at.ok()) return Corrupt("a bad time");
        r.used = true;
        r.used_at = *used_at;
      }
      records[r.partner_id] = std::move(r);
    }
    return records;
  }

  Status Save(const RecordMap& records) {
    json::array tokens;
    for (const auto& [id, r] : records) {
      json::object o;
      o["partner"] = r.partner_id;
      o["sha256"] = r.token_sha256;
      o["issued_at"] = FormatRfc3339(r.issued_at);
      o["expires_at"] = FormatRfc3339(r.expires_at);
      if (r.used) o["used_at"] = FormatRfc3339(r.used_at);
      tokens.push_back(std::move(o));
    }
    json::object root;
    root["format"] = kFileFormat;
    root["tokens"] = std::move(tokens);
    RETURN_IF_ERROR(CreateDirs(env_, DirName(path_)));
    return WriteFileAtomic(env_, path_, json::serialize(root) + "\n", 0600);
  }

  Env& env_;
  const std::string path_;
  std::mutex mu_;
};

}  // namespace

std::unique_ptr<TokenStore> NewMemoryTokenStore() { return std::make_unique<MemoryTokenStore>(); }

std::unique_ptr<TokenStore> NewFileTokenStore(Env& env, std::string path) {
  return std::make_unique<FileTokenStore>(env, std::move(path));
}

std::string TokenFilePath(std::string_view site_dir) {
  return JoinPath(JoinPath(site_dir, "keys"), "tokens.json");
}

Result<std::string> EnrollmentTokens::IssueToken(std::string_view partner_id, int64_t ttl_seconds) {
  RETURN_IF_ERROR(ValidateSiteId(partner_id));
  if (partner_id == kMainSiteId) {
    return Status::InvalidArgument("'main' is the main site's own id, not a partner id");
  }
  if (ttl_seconds <= 0) {
    return Status::InvalidArgument("an enrollment token's lifetime must be positive");
  }
  std::string token = Base64UrlEncode(RandomString(env_, kTokenBytes));
  EnrollmentTokenRecord r;
  r.partner_id = std::string(partner_id);
  r.token_sha256 = Sha256Hex(token);
  r.issued_at = env_.NowSeconds();
  r.expires_at = r.issued_at + ttl_seconds;
  RETURN_IF_ERROR(store_.Put(r));
  return token;
}

Status EnrollmentTokens::CheckToken(std::string_view token, std::string_view claimed_partner_id) {
  return CheckTokenHash(token, claimed_partner_id).status();
}

Status EnrollmentTokens::RedeemToken(std::string_view token, std::string_view claimed_partner_id) {
  ASSIGN_OR_RETURN(std::string hash, CheckTokenHash(token, claimed_partner_id));
  const std::string partner(claimed_partner_id);
  ASSIGN_OR_RETURN(bool marked, store_.MarkUsed(partner, hash, env_.NowSeconds()));
  if (!marked) {
    return Status::Unauthenticated("enrollment token for '" + partner +
                                   "' was used by a concurrent request: " + AskForNew(partner));
  }
  return Status::Ok();
}

Result<std::string> EnrollmentTokens::CheckTokenHash(std::string_view token,
                                                     std::string_view claimed_partner_id) {
  const std::string partner(claimed_partner_id);
  RETURN_IF_ERROR(ValidateSiteId(partner));
  auto raw = Base64UrlDecode(token);
  if (!raw.ok() || raw->size() != kTokenBytes) {
    return Status::InvalidArgument(
        "enrollment token is malformed (expected 43 characters of A-Z, a-z, 0-9, '-' and '_'): "
        "copy it again exactly as the main site manager gave it");
  }
  const std::string hash = Sha256Hex(token);
  auto record = store_.Get(partner);
  if (!record.ok() && record.status().code() != StatusCode::kNotFound) return record.status();
  if (!record.ok() || !ConstantTimeEquals(record->token_sha256, hash)) {
    // Say whether the token belongs to someone else: whoever holds it already knows that much.
    ASSIGN_OR_RETURN(auto all, store_.List());
    bool other = false;
    for (const EnrollmentTokenRecord& r : all) other |= ConstantTimeEquals(r.token_sha256, hash);
    if (other) {
      return Status::Unauthenticated(
          "enrollment token was not issued for partner '" + partner +
          "': give 'tieup partner init' the partner id the main site manager enrolled");
    }
    return Status::Unauthenticated(
        "enrollment token for '" + partner +
        "' is not known (mistyped, or replaced by a newer one): " + AskForNew(partner));
  }
  if (record->used) {
    return Status::Unauthenticated("this enrollment code was already used, at " +
                                   FormatRfc3339(record->used_at) + " (for partner '" + partner +
                                   "'): a code works only once; " + AskForNew(partner));
  }
  const int64_t now = env_.NowSeconds();
  if (now >= record->expires_at) {
    return Status::Unauthenticated("this enrollment code expired at " +
                                   FormatRfc3339(record->expires_at) + " (for partner '" + partner +
                                   "'): " + AskForNew(partner));
  }
  return hash;
}

}  // namespace tieup

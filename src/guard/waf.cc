#include "guard/waf.h"

#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace tieup::guard {
namespace {

// What the log callback gathers for one transaction.
struct Matches {
  std::vector<int> rule_ids;
  std::string first_message;
  int anomaly_score = 0;
};

// The text between `open` and the next '"' after it in `line` ("" when absent).
std::string_view Quoted(std::string_view line, std::string_view open, size_t from = 0) {
  const size_t at = line.find(open, from);
  if (at == std::string_view::npos) return {};
  const size_t start = at + open.size();
  const size_t end = line.find('"', start);
  return end == std::string_view::npos ? std::string_view() : line.substr(start, end - start);
}

// ModSecurity's message for each matched rule: '... [id "942100"] [msg "SQL Injection ..."]'.
void OnMatch(void* data, const void* text) {
  if (data == nullptr || text == nullptr) return;
  auto* m = static_cast<Matches*>(data);
  const std::string_view line(static_cast<const char*>(text));
  const std::string_view id = Quoted(line, "[id \"");
  int rule = 0;
  for (char c : id) {
    if (c < '0' || c > '9' || rule > 100'000'000) return;
    rule = rule * 10 + (c - '0');
  }
  if (rule == 0) return;
  if (std::find(m->rule_ids.begin(), m->rule_ids.end(), rule) == m->rule_ids.end()) {
    m->rule_ids.push_back(rule);
  }
  const std::string_view msg = Quoted(line, "[msg \"");
  // The blocking evaluation's message carries the total: "... (Total Score: 5)".
  if (rule == 949110) {
    const size_t at = msg.find("Total Score: ");
    if (at != std::string_view::npos) m->anomaly_score = std::atoi(msg.data() + at + 13);
  } else if (m->first_message.empty()) {
    m->first_message = std::string(msg);
  }
}

// tieup's own traffic that the CRS would take for an attack (what the CRS's exclusion packages do
// for other applications):
//  - single sign-on passes site URLs as OpenID Connect parameters (redirect_uri and
//    post_logout_redirect_uri to main's /oidc/, the issuer back to a partner's /account/callback),
//    and sites may be addressed by IP, which the remote file inclusion rules (931xxx) flag; the
//    provider checks those parameters exactly against the registered URLs;
//  - random tokens (base64url: "--" or "-1" in one is a matter of chance) in the parameters and
//    cookies tieup makes itself: OpenID Connect's code, state, nonce and PKCE values, the mailed
//    links' token, forms' csrf and idem, an order page's key, the continuation of a sign-in
//    (a local path the application checks), the session cookies; and what a customer types as a
//    password, which is only ever hashed. They are compared or hashed, never interpreted, and
//    left out of every CRS rule, only on the account, sign-in and shop paths.
constexpr char kApplicationExclusions[] =
    "SecRule REQUEST_FILENAME \"@rx ^/(?:oidc|account)/\" \"id:1017001,phase:1,pass,nolog,t:none,"
    "ctl:ruleRemoveTargetByTag=attack-rfi;ARGS:redirect_uri,"
    "ctl:ruleRemoveTargetByTag=attack-rfi;ARGS:post_logout_redirect_uri,"
    "ctl:ruleRemoveTargetByTag=attack-rfi;ARGS:iss\"\n"
    "SecRule REQUEST_FILENAME \"@rx ^/(?:oidc|account|shop)/\" \"id:1017002,phase:1,pass,nolog,"
    "t:none,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:code,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:state,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:nonce,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:code_challenge,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:code_verifier,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:token,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:csrf,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:idem,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:key,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:continue,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:password,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:current_password,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:new_password,"
    "ctl:ruleRemoveTargetByTag=OWASP_CRS;ARGS:confirm\"\n";
// After the rules (it changes them): tieup's cookies, on every path.
constexpr char kApplicationCookies[] =
    "SecRuleUpdateTargetByTag \"OWASP_CRS\" \"!REQUEST_COOKIES:/^tieup_/\"\n";

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

class Waf::Impl {
 public:
  ~Impl() {
    if (rules_ != nullptr) modsecurity::msc_rules_cleanup(rules_);
    if (engine_ != nullptr) modsecurity::msc_cleanup(engine_);
  }

  Status Load(const WafOptions& o) {
    fault_ = o.fault;
    engine_ = modsecurity::msc_init();
    if (engine_ == nullptr) return Status::Internal("ModSecurity did not start");
    modsecurity::msc_set_connector_info(engine_, "tieup");
    modsecurity::msc_set_log_cb(engine_, OnMatch);
    rules_ = modsecurity::msc_create_rules_set();
    if (rules_ == nullptr) return Status::Internal("ModSecurity made no rule set");
    std::string conf;
    conf += std::string("SecRuleEngine ") + (o.detection_only ? "DetectionOnly" : "On") + "\n";
    conf += "SecRequestBodyAccess On\n";
    conf += "SecRequestBodyLimit " + std::to_string(o.body_limit) + "\n";
    conf += "SecRequestBodyNoFilesLimit " + std::to_string(o.body_limit) + "\n";
    conf += "SecRequestBodyLimitAction ProcessPartial\n";
    conf += "SecResponseBodyAccess Off\n";
    conf += "SecAuditEngine Off\n";
    conf += "Include " + o.crs_setup + "\n";
    conf += "SecAction \"id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level=" +
            std::to_string(o.paranoia_level) + "\"\n";
    conf +=
        "SecAction \"id:900110,phase:1,nolog,pass,t:none,"
        "setvar:tx.inbound_anomaly_score_threshold=" +
        std::to_string(o.inbound_threshold) + ",setvar:tx.outbound_anomaly_score_threshold=4\"\n";
    conf += kApplicationExclusions;
    conf += "Include " + o.crs_rules + "/*.conf\n";
    conf += kApplicationCookies;
    for (int id : o.excluded_rules) conf += "SecRuleRemoveById " + std::to_string(id) + "\n";
    const char* error = nullptr;
    int loaded = 0;
    {
      // ModSecurity's rule parser (flex/bison) keeps global state: two rule sets parsed at once
      // in one process (a gate following an activation from two threads) corrupt each other
      // and fail. The lock stands for that library-wide state; inspection needs none.
      static std::mutex parser_mu;
      std::lock_guard<std::mutex> lock(parser_mu);
      loaded = modsecurity::msc_rules_add(rules_, conf.c_str(), &error);
    }
    if (loaded < 0) {
      std::string what = error != nullptr ? error : "no reason given";
      std::free(const_cast<char*>(error));
      while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
      return Status::FailedPrecondition("the WAF's rules do not load: " + what);
    }
    rule_count_ = loaded;
    return Status::Ok();
  }

  int rule_count() const { return rule_count_; }

  Result<WafVerdict> Inspect(const HttpRequest& request, const WafConnection& c) {
    if (fault_) RETURN_IF_ERROR(fault_(request));
    Matches matches;
    // A transaction id of our own: without one, ModSecurity makes a random one with a fresh
    // std::random_device per request (3% of the WAF's time, measured with perf). It is only
    // used in ModSecurity's audit log, which is off.
    char id[24];
    std::snprintf(
        id, sizeof id, "t%llx",
        static_cast<unsigned long long>(next_id_.fetch_add(1, std::memory_order_relaxed)));
    modsecurity::Transaction* t =
        modsecurity::msc_new_transaction_with_id(engine_, rules_, id, &matches);
    if (t == nullptr) return Status::Internal("the WAF could not start a transaction");
    WafVerdict v;
    bool intervened = false;
    auto check = [&] {
      if (intervened) return;
      modsecurity::ModSecurityIntervention it{};
      it.status = 200;
      if (modsecurity::msc_intervention(t, &it) != 0 && it.disruptive != 0) {
        intervened = true;
        v.status = it.status;
        // The disruptive rule's message comes with the intervention, not the log callback.
        if (it.log != nullptr) OnMatch(&matches, it.log);
      }
      std::free(it.url);
      std::free(it.log);
    };
    const std::string version = request.version() == 10 ? "1.0" : "1.1";
    const std::string method(request.method()), target(request.target());
    bool ok = modsecurity::msc_process_connection(t, c.client_address.c_str(), c.client_port,
                                                  c.server_address.c_str(), c.server_port) != 0;
    check();
    ok =
        ok && modsecurity::msc_process_uri(t, target.c_str(), method.c_str(), version.c_str()) != 0;
    check();
    for (const HttpHeaderView& h : request.Headers()) {
      modsecurity::msc_add_n_request_header(
          t, reinterpret_cast<const unsigned char*>(h.name.data()), h.name.size(),
          reinterpret_cast<const unsigned char*>(h.value.data()), h.value.size());
    }
    ok = ok && modsecurity::msc_process_request_headers(t) != 0;
    check();
    if (!intervened) {
      const std::string_view body = request.body();
      if (!body.empty()) {
        ok = ok && modsecurity::msc_append_request_body(
                       t, reinterpret_cast<const unsigned char*>(body.data()), body.size()) != 0;
      }
      ok = ok && modsecurity::msc_process_request_body(t) != 0;
      check();
    }
    modsecurity::msc_transaction_cleanup(t);
    if (!ok && !intervened) return Status::Internal("the WAF could not process the request");
    v.blocked = intervened;
    v.would_block = intervened || std::find(matches.rule_ids.begin(), matches.rule_ids.end(),
                                            949110) != matches.rule_ids.end();
    v.anomaly_score = matches.anomaly_score;
    v.rule_ids = std::move(matches.rule_ids);
    v.message = std::move(matches.first_message);
    return v;
  }

 private:
  modsecurity::ModSecurity* engine_ = nullptr;
  modsecurity::RulesSet* rules_ = nullptr;
  int rule_count_ = 0;
  std::atomic<uint64_t> next_id_{1};
  std::function<Status(const HttpRequest&)> fault_;
};

Result<std::unique_ptr<Waf>> Waf::Create(const WafOptions& o) {
  if (o.paranoia_level < 1 || o.paranoia_level > 4) {
    return Status::InvalidArgument("the WAF's paranoia level is 1, 2, 3 or 4, not " +
                                   std::to_string(o.paranoia_level));
  }
  if (o.inbound_threshold < 1 || o.inbound_threshold > 10000) {
    return Status::InvalidArgument("the WAF's anomaly threshold is 1 to 10000, not " +
                                   std::to_string(o.inbound_threshold));
  }
  if (o.body_limit < 1024 || o.body_limit > (1ull << 30)) {
    return Status::InvalidArgument("the WAF's body limit is 1 KiB to 1 GiB");
  }
  for (int id : o.excluded_rules) {
    if (id <= 0) {
      return Status::InvalidArgument("a rule to exclude from the WAF is a positive id, not " +
                                     std::to_string(id));
    }
  }
  if (!IsFile(o.crs_setup) || !IsFile(o.crs_rules + "/REQUEST-949-BLOCKING-EVALUATION.conf")) {
    return Status::FailedPrecondition(
        "the OWASP Core Rule Set is not installed (no " + o.crs_setup + " or " + o.crs_rules +
        "): install Debian's modsecurity-crs (scripts/install-deps.sh does)");
  }
  auto impl = std::make_unique<Impl>();
  RETURN_IF_ERROR(impl->Load(o));
  return std::unique_ptr<Waf>(new Waf(std::move(impl)));
}

Waf::Waf(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Waf::~Waf() = default;

int Waf::rule_count() const { return impl_->rule_count(); }

Result<WafVerdict> Waf::Inspect(const HttpRequest& request, const WafConnection& connection) {
  return impl_->Inspect(request, connection);
}

}  // namespace tieup::guard

// The web application firewall of the public ports (issue 17 item 1; DESIGN.md "Management on
// the partners' behalf", Security): ModSecurity v3 (Debian's libmodsecurity) with the OWASP Core
// Rule Set (Debian's modsecurity-crs, 3.3.4), in anomaly-scoring mode. Inspect() runs a request's
// connection, request line, headers and body through the rules and says whether to block it,
// with the ids of the rules that matched and the inbound anomaly score.
//
// The rules are read once, at Create: the CRS setup file, then the settings of `WafOptions`
// (paranoia level, anomaly threshold, rule exclusions, request body limit) as SecAction /
// SecRuleRemoveById lines after it, tieup's own exclusions (the OpenID Connect parameters that
// carry site URLs, which the remote file inclusion rules would flag), then the CRS rules. A rule
// set that does not load is an error naming the file and line ModSecurity gave, never a WAF that
// lets everything through.
//
// Thread-safe: one rule set for every thread, a ModSecurity transaction per call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "net/http_message.h"

namespace tieup::guard {

struct WafOptions {
  // DetectionOnly: matches are reported (Verdict::would_block) but nothing is blocked.
  bool detection_only = false;
  // The CRS paranoia level, 1 (few false positives) to 4.
  int paranoia_level = 1;
  // The inbound anomaly score at which a request is blocked (CRS default 5: one critical match).
  int inbound_threshold = 5;
  // CRS rule ids switched off for this site (false positives on its own pages).
  std::vector<int> excluded_rules;
  // Request bodies above this many bytes are inspected up to the limit (ProcessPartial): the
  // site's own body limit refuses larger ones before the WAF.
  uint64_t body_limit = 1024 * 1024;
  // Where Debian's modsecurity-crs keeps the setup file and the rules.
  std::string crs_setup = "/etc/modsecurity/crs/crs-setup.conf";
  std::string crs_rules = "/usr/share/modsecurity-crs/rules";
  // Tests only: called before each inspection; an error it returns is the inspection's. A WAF
  // that cannot inspect a request is a fault no request can produce (ModSecurity's calls do not
  // fail on input), so this is how a test reaches the fail-closed / fail-open path. Null: none.
  std::function<Status(const HttpRequest&)> fault;
};

// What the rules say of one request.
struct WafVerdict {
  bool blocked = false;       // the request must not reach a handler
  bool would_block = false;   // blocked, or would be outside detection-only mode
  int status = 0;             // the status the rules ask for (403) when blocked
  int anomaly_score = 0;      // the inbound anomaly score (CRS tx.anomaly_score)
  std::vector<int> rule_ids;  // the rules that matched, in order, each once
  std::string message;        // the first matched rule's message ("" when none)
};

// The client and server ends of the request's connection, as ModSecurity wants them.
struct WafConnection {
  std::string client_address = "127.0.0.1";
  uint16_t client_port = 0;
  std::string server_address = "127.0.0.1";
  uint16_t server_port = 0;
};

class Waf {
 public:
  // Loads the rules. InvalidArgument for options out of range; FailedPrecondition when the CRS
  // is not installed (saying which package brings it) or a rule file does not load.
  static Result<std::unique_ptr<Waf>> Create(const WafOptions& options);
  ~Waf();
  Waf(const Waf&) = delete;
  Waf& operator=(const Waf&) = delete;

  // The number of rules loaded (for the daemon's start-up line).
  int rule_count() const;

  // Runs `request` through the rules. A transaction ModSecurity cannot make or process is
  // Internal (the caller fails closed unless its site says otherwise).
  Result<WafVerdict> Inspect(const HttpRequest& request, const WafConnection& connection);

 private:
  class Impl;
  explicit Waf(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tieup::guard

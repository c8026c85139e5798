// A site's configuration (SITE_DIR/site.toml) and data directory layout.
//
// The site module sits just below console/main_site/partner_site: it holds what both daemons
// and the command line share (configuration, the directory lock, serving glue). DESIGN.md's
// layout has no such folder; it exists so main_site and partner_site do not depend on each
// other.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace tieup {

enum class SiteRole { kMain, kPartner };
std::string_view SiteRoleName(SiteRole role);

// "host:port". Port 0 asks the system for a free port (tests).
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};
// Parses "127.0.0.1:8080", "[::1]:8080" or "localhost:0"; the message says what to write.
Result<HostPort> ParseHostPort(std::string_view text);

// Checks a further main's tie-up area as partner.area_prefix / partner.area_host take it; the
// message says what to write. A prefix: "/", then one or more segments of [a-z0-9._-] each
// ending in "/" ("/brand2/", "/tea/kyoto/"), no "." or ".." segment. A host: a lower-case DNS
// name (labels of [a-z0-9-], 1 to 63 each, 253 in all), not an IP literal.
Status ValidateAreaPrefix(std::string_view prefix);
Status ValidateAreaHost(std::string_view host);

// True iff `id` is a valid site id: 1 to 63 of [a-z0-9-], starting with a letter or digit.
bool IsValidSiteId(std::string_view id);

struct SiteConfig {
  SiteRole role = SiteRole::kPartner;
  std::string id;      // "main" for the main site; the partner id for a partner
  std::string name;    // shown to people
  std::string region;  // a partner's region, a template variable
  HostPort public_address{"127.0.0.1", 8080};
  // Main: the URL browsers use for this site ("https://shop.example"), which may differ from
  // the address it listens on (a proxy, a name). Partnerships of kind link point there; empty:
  // not set (a link release is refused, naming this setting). [site] public_url.
  std::string public_url;
  HostPort sync_address{"127.0.0.1", 9443};
  // How people read times and amounts on this site's pages, mail and listings: an IANA time
  // zone ("Asia/Tokyo") and a BCP 47 locale ("en", "ja-JP"), both checked with ICU.
  std::string time_zone = "UTC";
  std::string locale = "en";

  // [http]
  int http_threads = 0;  // 0: one per core
  uint64_t max_body_bytes = 1 << 20;
  int header_timeout_ms = 10000;
  int idle_timeout_ms = 30000;
  // What one client address may take of the public port (and, for connections, of the sync
  // port), so that one client cannot deny service to the others. 0: no limit.
  int connections_per_client = 256;
  int requests_per_second_per_client = 100;
  int request_burst_per_client = 400;

  // [content]
  int keep_releases = 5;
  std::string authoring_dir = "authoring";  // main: relative to SITE_DIR unless absolute
  // Main: where the files of the partners' releases are kept (relative to SITE_DIR unless
  // absolute). Main processes sharing one PostgreSQL store ([store]) share this directory too
  // (shared storage): a partner fetches a release's files from whichever process it reaches.
  std::string partner_blobs_dir = "partner-blobs";

  // [partner]
  // Obsolete: read only to tell the manager that it has no effect. Main grants emergency edits
  // in the partnership, carried in the signed release (content::EmergencyEditPolicy).
  bool emergency_edit = false;
  std::string approval = "auto";  // "auto" or "manager"
  std::string main_sync_url;      // empty until enrolled
  // Pull mode, for a partner main cannot reach (behind NAT): ask main for the latest signed
  // release every this many seconds. 0: main pushes (the partner's sync port must be reachable).
  int poll_seconds = 0;
  // Set only in a further main's directory (SITE_DIR/mains/NAME, site/main_areas.h): the tie-up
  // area that main owns on this partner, fixed at enrollment: a path prefix ("/brand2/": its
  // pages lie under it) or a host name ("brand2.shop.example": its pages answer that host). At
  // most one of the two.
  std::string area_prefix;
  std::string area_host;

  // [console]: the managers' web console (DESIGN.md "Consoles"). Loopback by default, so a new
  // site exposes no admin surface; HTTPS when both certificate files are set.
  HostPort console_address{"127.0.0.1", 0};
  std::string console_tls_certificate;  // PEM file (absolute, or relative to SITE_DIR)
  std::string console_tls_key;          // PEM file, owner-only

  // [waf]: the web application firewall of the public port (ModSecurity with the OWASP Core Rule
  // Set, guard/waf.h; issue 17). For a partner whose partnership has main's security service,
  // main's settings (signed in the tie-up release, site/waf_gate.h) replace these.
  std::string waf_mode = "block";      // "block", "detect" (record, never block) or "off"
  int waf_paranoia_level = 1;          // 1 (few false positives) to 4
  int waf_anomaly_threshold = 5;       // the inbound score that blocks (5: one critical match)
  std::vector<int> waf_exclude_rules;  // CRS rule ids switched off (false positives)
  // When the WAF cannot inspect a request: "closed" answers 503, "open" lets it through (both
  // logged).
  std::string waf_on_failure = "closed";

  // [ops]: the operations port (site/ops_server.h: Prometheus /metrics, /healthz, /readyz).
  // Loopback only: metrics show the site's traffic. An empty host: off (listen = "").
  HostPort ops_address{"127.0.0.1", 0};
  // [log] format: "text" (default) or "json" (one JSON object per line, for log shippers).
  std::string log_format = "text";

  // [store]: where main keeps its central stores (site/site_store.h). "sqlite": SITE_DIR/tieup.db
  // (the default, and a partner's only choice). "postgres": the PostgreSQL database at
  // `store_url` ("postgresql://tieup@db.example/tieup"; a password belongs in ~/.pgpass or
  // PGPASSFILE, not here), in the schema `store_schema` (created when missing), so that several
  // main processes can share it.
  std::string store_backend = "sqlite";
  std::string store_url;
  std::string store_schema = "tieup";

  // [variables]: extra template variables for this site's pages.
  std::map<std::string, std::string> variables;

  friend bool operator==(const SiteConfig&, const SiteConfig&) = default;
};

// The operations port a site gets when site.toml does not say ([ops] absent: sites made before
// it existed) and what `tieup main init` / `partner init` write: 127.0.0.1, the public port +
// 3000 (port 0, any free one, when the public port is 0 or that is above 65535).
HostPort DefaultOpsAddress(const HostPort& public_address);

// True for a loopback host: "localhost", 127.0.0.0/8 or ::1.
bool IsLoopbackHost(std::string_view host);

// True for a port browsers refuse to fetch from (the WHATWG Fetch standard's "bad ports", e.g.
// 6000, 6667, 10080): a page or console served there cannot be opened in a browser.
bool BrowsersRefusePort(uint16_t port);

// The [store] settings of `config` checked as site.toml's are (a known backend, PostgreSQL for
// main only, a URL without a password, a schema name); errors name `where`.
Status CheckStoreSettings(const SiteConfig& config, const std::string& where);

// [variables] `key` of `config`, or "" when it is not set.
std::string SiteVariable(const SiteConfig& config, std::string_view key);

// Reads and validates SITE_DIR/site.toml. Unknown keys, wrong types and bad values are refused
// with the file, the key and what to write instead.
Result<SiteConfig> LoadSiteConfig(Env& env, const std::string& site_dir);

// Parses and validates the text of a site.toml, as LoadSiteConfig does; error messages name
// `file` (a path, or just "site.toml").
Result<SiteConfig> ParseSiteConfig(std::string_view text, const std::string& file);

// Writes SITE_DIR/site.toml atomically (comments explain each setting).
Status SaveSiteConfig(Env& env, const std::string& site_dir, const SiteConfig& config);

// SITE_DIR/site.toml as it is on disk: its configuration and the SHA-256 (hex) of its bytes,
// which UpdateSiteConfig can check, so that a form shown before someone else changed the file
// does not overwrite that change.
struct SiteConfigFile {
  SiteConfig config;
  std::string sha256;
};
Result<SiteConfigFile> ReadSiteConfigFile(Env& env, const std::string& site_dir);

// One setting UpdateSiteConfig changed: its key as written in the file ("partner.poll_seconds",
// "variables.shop.smtp_host") and its value before and after as TOML ("60", "\"mail.example\"";
// empty when the key was absent or is removed).
struct SiteConfigChange {
  std::string key;
  std::string before;
  std::string after;
};

struct SiteConfigUpdate {
  SiteConfig config;                      // the configuration now in the file
  std::vector<SiteConfigChange> changes;  // in key order; empty: the file was left untouched
  // True when only the lines of the changed keys were rewritten (or inserted, or removed) and the
  // rest of the file, comments and layout included, is as it was. False when the file had to be
  // written anew in SaveSiteConfig's layout (a setting kept in an inline table or in dotted keys,
  // which a line cannot be spliced into): comments added by hand are then gone.
  bool comments_kept = true;
};

// Changes SITE_DIR/site.toml: `edit` is given the configuration in the file and changes it (or
// returns an error, which is returned and nothing is written). The new file is then validated
// exactly as LoadSiteConfig validates (an invalid value is InvalidArgument naming the key, e.g.
// "site.toml: 'partner.poll_seconds' must be 0 (main pushes) or at least 5", and the file is
// left as it was), and written atomically, owner-only (0600). Only the changed keys' lines are
// rewritten, in place, so comments and layout are kept (see SiteConfigUpdate::comments_kept).
// A [variables] entry the edit erases is removed from the file. With `expected_sha256` (from
// ReadSiteConfigFile), FailedPrecondition when the file has changed since. Not thread-safe for
// one site directory: callers serialize their updates (the daemon and the command line do not
// write site.toml while it runs, except enrollment).
Result<SiteConfigUpdate> UpdateSiteConfig(Env& env, const std::string& site_dir,
                                          const std::function<Status(SiteConfig&)>& edit,
                                          std::string_view expected_sha256 = {});

// The site directory's entries that other local users may read or write (group or other
// permission bits), as "PATH (mode 0644)": the site directory itself, site.toml, the database
// and its -wal/-shm files, and the keys, mail, ledger, blobs, releases and logs folders. The
// daemons warn about each at start. Missing entries are skipped.
std::vector<std::string> FindSiteDataOpenToOthers(Env& env, const std::string& site_dir);

// Paths inside SITE_DIR.
struct SitePaths {
  explicit SitePaths(std::string dir) : site_dir(std::move(dir)) {}
  std::string site_dir;
  std::string config() const { return site_dir + "/site.toml"; }
  std::string database() const { return site_dir + "/tieup.db"; }
  std::string keys() const { return site_dir + "/keys"; }
  std::string logs() const { return site_dir + "/logs"; }
  std::string ledger() const { return site_dir + "/ledger"; }
  std::string lock() const { return site_dir + "/.lock"; }
};

// An exclusive advisory lock on SITE_DIR/.lock (flock), held while the object lives. The daemon
// and the command line take it around every change to the content store, so a `page put` and
// an incoming update never interleave. (Outside Env on purpose: it coordinates processes, not
// storage, and has no meaning in an in-memory file system.)
class SiteLock {
 public:
  // Waits up to `timeout_ms` for the lock; Unavailable with a clear message after that.
  static Result<SiteLock> Acquire(const std::string& site_dir, int timeout_ms = 10000);
  // The same lock on another file (`path`, made 0600 if missing); Unavailable with `busy` after
  // `timeout_ms` (0: one try). Held locks exclude each other within one process too (flock).
  static Result<SiteLock> AcquireFile(const std::string& path, const std::string& busy,
                                      int timeout_ms);
  SiteLock(SiteLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SiteLock& operator=(SiteLock&&) = delete;
  ~SiteLock();

 private:
  explicit SiteLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace tieup

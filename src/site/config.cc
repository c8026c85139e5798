#include "site/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "base/time_format.h"
#include "base/toml_text.h"
#include "crypto/hash.h"
#include "store/database.h"

namespace tieup {
namespace {

Status BadConfig(const std::string& file, std::string_view key, std::string_view what) {
  return Status::InvalidArgument(file + ": '" + std::string(key) + "' " + std::string(what));
}

// True when the PostgreSQL connection string `url` carries a password (a URL's user:password@,
// a password= parameter, or the key=value form's password).
bool ConnectionHasPassword(std::string_view url) {
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    auto uri = boost::urls::parse_uri(url);
    if (!uri) return url.find('@') != std::string_view::npos;  // refused later; be careful
    if (uri->has_password()) return true;
    for (const auto& param : uri->params()) {
      if (param.key == "password") return true;
    }
    return false;
  }
  // key=value pairs separated by spaces
  size_t at = 0;
  while ((at = url.find("password", at)) != std::string_view::npos) {
    const bool starts = at == 0 || url[at - 1] == ' ';
    size_t eq = at + 8;
    while (eq < url.size() && url[eq] == ' ') ++eq;
    if (starts && eq < url.size() && url[eq] == '=') return true;
    at += 8;
  }
  return false;
}

Status CheckStore(const std::string& file, const SiteConfig& c) {
  if (c.store_backend != "sqlite" && c.store_backend != "postgres") {
    return BadConfig(file, "store.backend",
                     "must be \"sqlite\" (SITE_DIR/tieup.db) or \"postgres\" (with url)");
  }
  if (!IsValidSchemaName(c.store_schema)) {
    return BadConfig(file, "store.schema",
                     "must be 1 to 63 of a-z, 0-9 and _, not starting with a digit (\"tieup\")");
  }
  if (c.store_backend == "sqlite") return Status::Ok();
  if (c.role != SiteRole::kMain) {
    return BadConfig(file, "store.backend",
                     "\"postgres\" is for the main site's central stores; a partner keeps its "
                     "data in SITE_DIR/tieup.db: remove [store] or write \"sqlite\"");
  }
  if (c.store_url.empty()) {
    return BadConfig(file, "store.url",
                     "is needed with backend \"postgres\": write the database to connect to, "
                     "like \"postgresql://tieup@db.example:5432/tieup\"");
  }
  if (ConnectionHasPassword(c.store_url)) {
    return BadConfig(file, "store.url",
                     "holds a password: remove it and put it in ~/.pgpass of the user the site "
                     "runs as (or a file named by PGPASSFILE), so that it is in no setting, "
                     "screen or log");
  }
  return Status::Ok();
}

// Refuses keys the table does not know, so a typo is caught instead of silently ignored.
Status CheckKeys(const std::string& file, const toml::table& table, std::string_view section,
                 const std::set<std::string>& known) {
  for (const auto& [k, v] : table) {
    std::string key(k.str());
    if (!known.count(key)) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      return Status::InvalidArgument(file + ": unknown key '" + key + "' in " +
                                     std::string(section) + " (known keys: " + list + ")");
    }
  }
  return Status::Ok();
}

template <typename T>
Status Get(const std::string& file, const toml::table& t, std::string_view section,
           std::string_view key, T* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  std::string full = std::string(section) + "." + std::string(key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!n->is_string()) return BadConfig(file, full, "must be a string in quotes");
    *out = n->as_string()->get();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!n->is_boolean()) return BadConfig(file, full, "must be true or false");
    *out = n->as_boolean()->get();
  } else {
    if (!n->is_integer()) return BadConfig(file, full, "must be a whole number");
    int64_t v = n->as_integer()->get();
    if (v < 0 || static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return BadConfig(file, full,
                       "must be a whole number from 0 to " +
                           std::to_string(static_cast<uint64_t>(std::numeric_limits<T>::max())));
    }
    *out = static_cast<T>(v);
  }
  return Status::Ok();
}

Status GetAddress(const std::string& file, const toml::table& t, std::string_view section,
                  std::string_view key, HostPort* out) {
  std::string text;
  RETURN_IF_ERROR(Get(file, t, section, key, &text));
  if (text.empty()) return Status::Ok();
  auto hp = ParseHostPort(text);
  if (!hp.ok())
    return hp.status().Annotate(file + ": '" + std::string(section) + "." + std::string(key) + "'");
  *out = *hp;
  return Status::Ok();
}

// [ops] listen as the file writes it: "" when off.
std::string OpsListenText(const SiteConfig& c) {
  return c.ops_address.host.empty() ? std::string() : c.ops_address.ToString();
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string_view SiteRoleName(SiteRole role) {
  return role == SiteRole::kMain ? "main" : "partner";
}

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  const std::string hint = " (write host:port, e.g. 127.0.0.1:8080 or [::1]:8080)";
  HostPort hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("address '" + std::string(text) + "' is malformed" + hint);
    }
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::InvalidArgument("address '" + std::string(text) + "' has no port" + hint);
    }
    hp.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  // A host that ToString() could not write back ("=::1]" from "=::1]:80", "" from "[]:80") would
  // make SaveSiteConfig write a file that LoadSiteConfig refuses (found by fuzz/site_config).
  bool bad_host = hp.host.empty();
  for (char c : hp.host) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '[' || c == ']' || c == ' ' || c == '"' || u < 0x20 || u == 0x7f) bad_host = true;
  }
  if (bad_host) {
    return Status::InvalidArgument("address '" + std::string(text) + "' has a bad host" + hint);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return Status::InvalidArgument("address '" + std::string(text) + "' has a bad port" + hint);
  }
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

Status ValidateAreaPrefix(std::string_view prefix) {
  const std::string example = "write it like \"/brand2/\": a path that starts and ends with '/'";
  if (prefix.size() < 3 || prefix.front() != '/' || prefix.back() != '/') {
    return Status::InvalidArgument("'" + std::string(prefix) +
                                   "' is not a tie-up area prefix: " + example);
  }
  if (prefix.size() > 200) return Status::InvalidArgument("the prefix is over 200 characters");
  size_t start = 1;
  while (start < prefix.size()) {
    const size_t end = prefix.find('/', start);
    const std::string_view seg = prefix.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return Status::InvalidArgument("'" + std::string(prefix) +
                                     "' has an empty, '.' or '..' segment: " + example);
    }
    for (char ch : seg) {
      const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                      ch == '_' || ch == '.';
      if (!ok) {
        return Status::InvalidArgument("'" + std::string(prefix) +
                                       "' may hold only lower-case letters, digits, '-', '_', "
                                       "'.' and '/': " +
                                       example);
      }
    }
    start = end + 1;
  }
  return Status::Ok();
}

Status ValidateAreaHost(std::string_view host) {
  const std::string what = "'" + std::string(host) +
                           "' is not a host name for a tie-up area: write a lower-case DNS name "
                           "such as \"brand2.shop.example\"";
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.') {
    return Status::InvalidArgument(what);
  }
  bool all_digits_or_dots = true;
  size_t label = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    const char ch = host[i];
    if (ch == '.') {
      if (label == 0 || host[i - 1] == '-') return Status::InvalidArgument(what);
      label = 0;
      continue;
    }
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    if (!ok || (label == 0 && ch == '-') || ++label > 63) return Status::InvalidArgument(what);
    if (!(ch >= '0' && ch <= '9')) all_digits_or_dots = false;
  }
  if (host.back() == '-' || all_digits_or_dots) return Status::InvalidArgument(what);
  return Status::Ok();
}

bool IsValidSiteId(std::string_view id) {
  if (id.empty() || id.size() > 63 || id.front() == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

namespace {

Result<std::string> ReadConfigText(Env& env, const std::string& site_dir) {
  auto text = env.ReadFile(SitePaths(site_dir).config());
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("'" + site_dir +
                            "' is not a tieup site (no site.toml): create one with "
                            "'tieup main init' or 'tieup partner init'");
  }
  return text;
}

}  // namespace

Result<SiteConfig> LoadSiteConfig(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadConfigText(env, site_dir));
  return ParseSiteConfig(text, SitePaths(site_dir).config());
}

Result<SiteConfig> ParseSiteConfig(std::string_view text, const std::string& file) {
  ASSIGN_OR_RETURN(toml::table root, ParseTomlText(text, file));
  RETURN_IF_ERROR(CheckKeys(file, root, "the top level",
                            {"site", "http", "content", "partner", "console", "waf", "ops", "log",
                             "store", "variables"}));
  SiteConfig c;
  auto section = [&](std::string_view name) -> const toml::table* {
    const toml::node* n = root.get(name);
    return n ? n->as_table() : nullptr;
  };
  for (std::string_view name : {"site", "http", "content", "partner", "console", "waf", "ops",
                                "log", "store", "variables"}) {
    const toml::node* n = root.get(name);
    if (n != nullptr && !n->is_table()) {
      return Status::InvalidArgument(file + ": '" + std::string(name) + "' must be a [" +
                                     std::string(name) + "] table");
    }
  }
  const toml::table* site = section("site");
  if (site == nullptr) return Status::InvalidArgument(file + ": the [site] table is missing");
  RETURN_IF_ERROR(CheckKeys(
      file, *site, "[site]",
      {"role", "id", "name", "region", "public", "public_url", "sync", "time_zone", "locale"}));
  std::string role;
  RETURN_IF_ERROR(Get(file, *site, "site", "role", &role));
  if (role == "main") {
    c.role = SiteRole::kMain;
  } else if (role == "partner") {
    c.role = SiteRole::kPartner;
  } else {
    return BadConfig(file, "site.role", "must be \"main\" or \"partner\"");
  }
  RETURN_IF_ERROR(Get(file, *site, "site", "id", &c.id));
  if (!IsValidSiteId(c.id)) {
    return BadConfig(file, "site.id",
                     "must be 1-63 lower-case letters, digits or '-' (e.g. \"shop-a\")");
  }
  RETURN_IF_ERROR(Get(file, *site, "site", "name", &c.name));
  RETURN_IF_ERROR(Get(file, *site, "site", "region", &c.region));
  RETURN_IF_ERROR(GetAddress(file, *site, "site", "public", &c.public_address));
  RETURN_IF_ERROR(Get(file, *site, "site", "public_url", &c.public_url));
  if (!c.public_url.empty() &&
      ((!c.public_url.starts_with("http://") && !c.public_url.starts_with("https://")) ||
       c.public_url.find_first_of(" \t\r\n\"<>") != std::string::npos)) {
    return BadConfig(file, "site.public_url",
                     "must be an http:// or https:// URL without spaces (e.g. "
                     "\"https://shop.example\"), or empty");
  }
  RETURN_IF_ERROR(GetAddress(file, *site, "site", "sync", &c.sync_address));
  RETURN_IF_ERROR(Get(file, *site, "site", "time_zone", &c.time_zone));
  if (Status s = ValidateTimeZone(c.time_zone); !s.ok()) {
    return BadConfig(file, "site.time_zone", s.message());
  }
  RETURN_IF_ERROR(Get(file, *site, "site", "locale", &c.locale));
  if (Status s = ValidateLocale(c.locale); !s.ok()) {
    return BadConfig(file, "site.locale", s.message());
  }

  if (const toml::table* http = section("http")) {
    RETURN_IF_ERROR(CheckKeys(
        file, *http, "[http]",
        {"threads", "max_body_bytes", "header_timeout_ms", "idle_timeout_ms",
         "connections_per_client", "requests_per_second_per_client", "request_burst_per_client"}));
    RETURN_IF_ERROR(Get(file, *http, "http", "threads", &c.http_threads));
    RETURN_IF_ERROR(Get(file, *http, "http", "max_body_bytes", &c.max_body_bytes));
    RETURN_IF_ERROR(Get(file, *http, "http", "header_timeout_ms", &c.header_timeout_ms));
    RETURN_IF_ERROR(Get(file, *http, "http", "idle_timeout_ms", &c.idle_timeout_ms));
    RETURN_IF_ERROR(Get(file, *http, "http", "connections_per_client", &c.connections_per_client));
    RETURN_IF_ERROR(Get(file, *http, "http", "requests_per_second_per_client",
                        &c.requests_per_second_per_client));
    RETURN_IF_ERROR(
        Get(file, *http, "http", "request_burst_per_client", &c.request_burst_per_client));
    if (c.header_timeout_ms < 100)
      return BadConfig(file, "http.header_timeout_ms", "must be >= 100");
  }
  if (const toml::table* content = section("content")) {
    RETURN_IF_ERROR(CheckKeys(file, *content, "[content]",
                              {"keep_releases", "authoring_dir", "partner_blobs_dir"}));
    RETURN_IF_ERROR(Get(file, *content, "content", "keep_releases", &c.keep_releases));
    RETURN_IF_ERROR(Get(file, *content, "content", "authoring_dir", &c.authoring_dir));
    RETURN_IF_ERROR(Get(file, *content, "content", "partner_blobs_dir", &c.partner_blobs_dir));
    if (c.partner_blobs_dir.empty()) {
      return BadConfig(file, "content.partner_blobs_dir",
                       "must name a directory (\"partner-blobs\": inside SITE_DIR)");
    }
    if (c.keep_releases < 2) {
      return BadConfig(file, "content.keep_releases", "must be at least 2 (rollback needs one)");
    }
  }
  if (const toml::table* partner = section("partner")) {
    RETURN_IF_ERROR(CheckKeys(file, *partner, "[partner]",
                              {"emergency_edit", "approval", "main_sync_url", "poll_seconds",
                               "area_prefix", "area_host"}));
    RETURN_IF_ERROR(Get(file, *partner, "partner", "emergency_edit", &c.emergency_edit));
    RETURN_IF_ERROR(Get(file, *partner, "partner", "approval", &c.approval));
    RETURN_IF_ERROR(Get(file, *partner, "partner", "main_sync_url", &c.main_sync_url));
    RETURN_IF_ERROR(Get(file, *partner, "partner", "poll_seconds", &c.poll_seconds));
    if (c.poll_seconds != 0 && c.poll_seconds < 5) {
      return BadConfig(file, "partner.poll_seconds", "must be 0 (main pushes) or at least 5");
    }
    if (c.approval != "auto" && c.approval != "manager") {
      return BadConfig(file, "partner.approval", "must be \"auto\" or \"manager\"");
    }
    RETURN_IF_ERROR(Get(file, *partner, "partner", "area_prefix", &c.area_prefix));
    RETURN_IF_ERROR(Get(file, *partner, "partner", "area_host", &c.area_host));
    if (!c.area_prefix.empty()) {
      if (Status s = ValidateAreaPrefix(c.area_prefix); !s.ok()) {
        return BadConfig(file, "partner.area_prefix", s.message());
      }
    }
    if (!c.area_host.empty()) {
      if (Status s = ValidateAreaHost(c.area_host); !s.ok()) {
        return BadConfig(file, "partner.area_host", s.message());
      }
    }
    if (!c.area_prefix.empty() && !c.area_host.empty()) {
      return BadConfig(file, "partner.area_prefix",
                       "and partner.area_host exclude each other: a main's tie-up area is a path "
                       "prefix or a host name");
    }
  }
  if (const toml::table* console = section("console")) {
    RETURN_IF_ERROR(
        CheckKeys(file, *console, "[console]", {"listen", "tls_certificate", "tls_key"}));
    RETURN_IF_ERROR(GetAddress(file, *console, "console", "listen", &c.console_address));
    RETURN_IF_ERROR(Get(file, *console, "console", "tls_certificate", &c.console_tls_certificate));
    RETURN_IF_ERROR(Get(file, *console, "console", "tls_key", &c.console_tls_key));
    if (c.console_tls_certificate.empty() != c.console_tls_key.empty()) {
      return BadConfig(file, "console.tls_certificate",
                       "and console.tls_key go together: set both for HTTPS, or neither");
    }
  }
  c.ops_address = DefaultOpsAddress(c.public_address);
  if (const toml::table* ops = section("ops")) {
    RETURN_IF_ERROR(CheckKeys(file, *ops, "[ops]", {"listen"}));
    std::string listen = c.ops_address.ToString();
    RETURN_IF_ERROR(Get(file, *ops, "ops", "listen", &listen));
    if (listen.empty()) {
      c.ops_address = HostPort{"", 0};
    } else {
      auto hp = ParseHostPort(listen);
      if (!hp.ok()) return hp.status().Annotate(file + ": 'ops.listen'");
      if (!IsLoopbackHost(hp->host)) {
        return BadConfig(file, "ops.listen",
                         "must be a loopback address such as \"127.0.0.1:9464\" (the metrics "
                         "show the site's traffic: to read them from another machine, put a proxy "
                         "with authentication in front), or \"\" for no operations port");
      }
      c.ops_address = *hp;
    }
  }
  if (const toml::table* log = section("log")) {
    RETURN_IF_ERROR(CheckKeys(file, *log, "[log]", {"format"}));
    RETURN_IF_ERROR(Get(file, *log, "log", "format", &c.log_format));
    if (c.log_format != "text" && c.log_format != "json") {
      return BadConfig(file, "log.format",
                       "must be \"text\" (lines for people) or \"json\" (one JSON object per "
                       "line, for log shippers)");
    }
  }
  if (const toml::table* store = section("store")) {
    RETURN_IF_ERROR(CheckKeys(file, *store, "[store]", {"backend", "url", "schema"}));
    RETURN_IF_ERROR(Get(file, *store, "store", "backend", &c.store_backend));
    RETURN_IF_ERROR(Get(file, *store, "store", "url", &c.store_url));
    RETURN_IF_ERROR(Get(file, *store, "store", "schema", &c.store_schema));
  }
  RETURN_IF_ERROR(CheckStore(file, c));
  if (const toml::table* waf = section("waf")) {
    RETURN_IF_ERROR(
        CheckKeys(file, *waf, "[waf]",
                  {"mode", "paranoia_level", "anomaly_threshold", "exclude_rules", "on_failure"}));
    RETURN_IF_ERROR(Get(file, *waf, "waf", "mode", &c.waf_mode));
    RETURN_IF_ERROR(Get(file, *waf, "waf", "paranoia_level", &c.waf_paranoia_level));
    RETURN_IF_ERROR(Get(file, *waf, "waf", "anomaly_threshold", &c.waf_anomaly_threshold));
    RETURN_IF_ERROR(Get(file, *waf, "waf", "on_failure", &c.waf_on_failure));
    if (const toml::node* n = waf->get("exclude_rules")) {
      const toml::array* a = n->as_array();
      if (a == nullptr) {
        return BadConfig(file, "waf.exclude_rules",
                         "must be a list of rule ids, e.g. [942100, 920350]");
      }
      for (const toml::node& id : *a) {
        const auto v = id.value<int64_t>();
        if (!id.is_integer() || !v || *v <= 0 || *v > 99'999'999) {
          return BadConfig(file, "waf.exclude_rules",
                           "must be a list of positive rule ids, e.g. [942100, 920350]");
        }
        c.waf_exclude_rules.push_back(static_cast<int>(*v));
      }
    }
    if (c.waf_mode != "block" && c.waf_mode != "detect" && c.waf_mode != "off") {
      return BadConfig(file, "waf.mode",
                       "must be \"block\" (refuse attacks), \"detect\" (only record them) or "
                       "\"off\"");
    }
    if (c.waf_paranoia_level < 1 || c.waf_paranoia_level > 4) {
      return BadConfig(file, "waf.paranoia_level",
                       "must be 1 (few false positives), 2, 3 or 4 (strictest)");
    }
    if (c.waf_anomaly_threshold < 1 || c.waf_anomaly_threshold > 10000) {
      return BadConfig(file, "waf.anomaly_threshold",
                       "must be 1 to 10000 (5 blocks on one critical match)");
    }
    if (c.waf_on_failure != "closed" && c.waf_on_failure != "open") {
      return BadConfig(file, "waf.on_failure",
                       "must be \"closed\" (answer 503 when the WAF cannot inspect a request) or "
                       "\"open\" (let it through)");
    }
  }
  if (const toml::table* vars = section("variables")) {
    for (const auto& [k, v] : *vars) {
      if (!v.is_string()) {
        return BadConfig(file, "variables." + std::string(k.str()), "must be a string");
      }
      c.variables[std::string(k.str())] = v.as_string()->get();
    }
  }
  return c;
}

namespace {

// A list of rule ids as TOML: "[942100, 920350]".
std::string RuleList(const std::vector<int>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

// The file SaveSiteConfig writes.
std::string SiteConfigText(const SiteConfig& c) {
  std::string out;
  out += "# tieup site configuration. Edit, then restart the daemon.\n\n";
  out += "[site]\n";
  out += "role = " + Quote(SiteRoleName(c.role)) + "  # \"main\" or \"partner\"\n";
  out += "id = " + Quote(c.id) + "\n";
  out += "name = " + Quote(c.name) + "\n";
  out += "region = " + Quote(c.region) + "\n";
  out += "public = " + Quote(c.public_address.ToString()) + "  # HTTP for browsers\n";
  if (!c.public_url.empty()) {
    out += "public_url = " + Quote(c.public_url) + "  # the URL browsers use for this site\n";
  }
  out += "sync = " + Quote(c.sync_address.ToString()) +
         "  # HTTPS with mutual TLS, main <-> partner only\n";
  out += "time_zone = " + Quote(c.time_zone) +
         "  # times on pages, mail and listings (IANA: Asia/Tokyo, Europe/Berlin, UTC)\n";
  out +=
      "locale = " + Quote(c.locale) + "  # how amounts and dates are written (en, ja-JP, de)\n\n";
  out += "[http]\n";
  out += "threads = " + std::to_string(c.http_threads) + "  # 0: one per core\n";
  out += "max_body_bytes = " + std::to_string(c.max_body_bytes) + "\n";
  out += "header_timeout_ms = " + std::to_string(c.header_timeout_ms) + "\n";
  out += "idle_timeout_ms = " + std::to_string(c.idle_timeout_ms) + "\n";
  out +=
      "# What one client address may take (0: no limit): open connections, and requests\n"
      "# per second with a burst; over it a client gets 429 and others are still served.\n";
  out += "connections_per_client = " + std::to_string(c.connections_per_client) + "\n";
  out +=
      "requests_per_second_per_client = " + std::to_string(c.requests_per_second_per_client) + "\n";
  out += "request_burst_per_client = " + std::to_string(c.request_burst_per_client) + "\n\n";
  out += "[content]\n";
  out += "keep_releases = " + std::to_string(c.keep_releases) + "  # for rollback\n";
  out += "authoring_dir = " + Quote(c.authoring_dir) + "  # main: pages, layouts, assets\n";
  if (c.role == SiteRole::kMain) {
    out += "partner_blobs_dir = " + Quote(c.partner_blobs_dir) +
           "  # the partners' release files; shared by main processes sharing [store]\n";
  }
  if (c.role == SiteRole::kPartner) {
    out += "\n[partner]\n";
    out += "approval = " + Quote(c.approval) + "  # \"auto\" or \"manager\"\n";
    out += "main_sync_url = " + Quote(c.main_sync_url) + "\n";
    out += "poll_seconds = " + std::to_string(c.poll_seconds) +
           "  # pull mode (behind NAT): ask main for updates this often; 0: main pushes\n";
    if (!c.area_prefix.empty()) {
      out += "area_prefix = " + Quote(c.area_prefix) +
             "  # this main's tie-up area: its pages lie under this path\n";
    }
    if (!c.area_host.empty()) {
      out += "area_host = " + Quote(c.area_host) +
             "  # this main's tie-up area: its pages answer this host name\n";
    }
  }
  out += "\n[console]\n";
  out += "listen = " + Quote(c.console_address.ToString()) +
         "  # the managers' web console; loopback: only this machine (port 0: any free one)\n";
  out += "tls_certificate = " + Quote(c.console_tls_certificate) +
         "  # with tls_key: HTTPS (needed to open the console to the network)\n";
  out += "tls_key = " + Quote(c.console_tls_key) + "\n";
  out += "\n[waf]\n";
  out += "mode = " + Quote(c.waf_mode) +
         "  # the web application firewall: \"block\", \"detect\" (only record) or \"off\"\n";
  out += "paranoia_level = " + std::to_string(c.waf_paranoia_level) +
         "  # 1 (few false positives) to 4 (strictest)\n";
  out += "anomaly_threshold = " + std::to_string(c.waf_anomaly_threshold) +
         "  # the score that blocks; 5: one critical match\n";
  out += "exclude_rules = " + RuleList(c.waf_exclude_rules) +
         "  # rule ids switched off (false positives on your pages)\n";
  out += "on_failure = " + Quote(c.waf_on_failure) +
         "  # \"closed\": answer 503 if the WAF cannot inspect; \"open\": let through\n";
  out += "\n[ops]\n";
  out += "listen = " + Quote(OpsListenText(c)) +
         "  # /metrics, /healthz, /readyz; loopback only; \"\": off\n";
  out += "\n[log]\n";
  out += "format = " + Quote(c.log_format) + "  # \"text\" or \"json\" (one object per line)\n";
  if (c.role == SiteRole::kMain) {
    out += "\n[store]\n";
    out += "backend = " + Quote(c.store_backend) +
           "  # \"sqlite\" (SITE_DIR/tieup.db) or \"postgres\" (url; several main processes)\n";
    out += "url = " + Quote(c.store_url) +
           "  # postgresql://USER@HOST/DB; the password in ~/.pgpass, not here\n";
    out += "schema = " + Quote(c.store_schema) + "  # created when missing\n";
  }
  if (!c.variables.empty()) {
    out += "\n[variables]\n";
    for (const auto& [k, v] : c.variables) out += Quote(k) + " = " + Quote(v) + "\n";
  }
  return out;
}

}  // namespace

HostPort DefaultOpsAddress(const HostPort& public_address) {
  const int port = public_address.port == 0 ? 0 : public_address.port + 3000;
  return HostPort{"127.0.0.1", static_cast<uint16_t>(port > 65535 ? 0 : port)};
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  return ::inet_pton(AF_INET, std::string(host).c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool BrowsersRefusePort(uint16_t port) {
  // https://fetch.spec.whatwg.org/#port-blocking
  static constexpr uint16_t kBad[] = {
      1,    7,    9,    11,   13,   15,   17,   19,   20,   21,   22,   23,   25,   37,
      42,   43,   53,   69,   77,   79,   87,   95,   101,  102,  103,  104,  109,  110,
      111,  113,  115,  117,  119,  123,  135,  137,  139,  143,  161,  179,  389,  427,
      465,  512,  513,  514,  515,  526,  530,  531,  532,  540,  548,  554,  556,  563,
      587,  601,  636,  989,  990,  993,  995,  1719, 1720, 1723, 2049, 3659, 4045, 4190,
      5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080};
  return std::find(std::begin(kBad), std::end(kBad), port) != std::end(kBad);
}

Status CheckStoreSettings(const SiteConfig& config, const std::string& where) {
  return CheckStore(where, config);
}

std::string SiteVariable(const SiteConfig& config, std::string_view key) {
  auto it = config.variables.find(std::string(key));
  return it == config.variables.end() ? std::string() : it->second;
}

Status SaveSiteConfig(Env& env, const std::string& site_dir, const SiteConfig& c) {
  return WriteFileAtomic(env, SitePaths(site_dir).config(), SiteConfigText(c));
}

// --- changing settings in place ---

namespace {

// A setting as the file holds it, and its value in a configuration as TOML.
struct SettingSpec {
  const char* section;
  const char* name;
  std::string (*literal)(const SiteConfig&);
};

std::string Int(int64_t v) { return std::to_string(v); }
std::string Bool(bool v) { return v ? "true" : "false"; }

// Every setting of SiteConfig but [variables] (whose keys are free), in the file's order.
const std::vector<SettingSpec>& Settings() {
  static const std::vector<SettingSpec> kSettings = {
      {"site", "role", [](const SiteConfig& c) { return Quote(SiteRoleName(c.role)); }},
      {"site", "id", [](const SiteConfig& c) { return Quote(c.id); }},
      {"site", "name", [](const SiteConfig& c) { return Quote(c.name); }},
      {"site", "region", [](const SiteConfig& c) { return Quote(c.region); }},
      {"site", "public", [](const SiteConfig& c) { return Quote(c.public_address.ToString()); }},
      {"site", "public_url", [](const SiteConfig& c) { return Quote(c.public_url); }},
      {"site", "sync", [](const SiteConfig& c) { return Quote(c.sync_address.ToString()); }},
      {"site", "time_zone", [](const SiteConfig& c) { return Quote(c.time_zone); }},
      {"site", "locale", [](const SiteConfig& c) { return Quote(c.locale); }},
      {"http", "threads", [](const SiteConfig& c) { return Int(c.http_threads); }},
      {"http", "max_body_bytes",
       [](const SiteConfig& c) { return std::to_string(c.max_body_bytes); }},
      {"http", "header_timeout_ms", [](const SiteConfig& c) { return Int(c.header_timeout_ms); }},
      {"http", "idle_timeout_ms", [](const SiteConfig& c) { return Int(c.idle_timeout_ms); }},
      {"http", "connections_per_client",
       [](const SiteConfig& c) { return Int(c.connections_per_client); }},
      {"http", "requests_per_second_per_client",
       [](const SiteConfig& c) { return Int(c.requests_per_second_per_client); }},
      {"http", "request_burst_per_client",
       [](const SiteConfig& c) { return Int(c.request_burst_per_client); }},
      {"content", "keep_releases", [](const SiteConfig& c) { return Int(c.keep_releases); }},
      {"content", "authoring_dir", [](const SiteConfig& c) { return Quote(c.authoring_dir); }},
      {"content", "partner_blobs_dir",
       [](const SiteConfig& c) { return Quote(c.partner_blobs_dir); }},
      {"partner", "emergency_edit", [](const SiteConfig& c) { return Bool(c.emergency_edit); }},
      {"partner", "approval", [](const SiteConfig& c) { return Quote(c.approval); }},
      {"partner", "main_sync_url", [](const SiteConfig& c) { return Quote(c.main_sync_url); }},
      {"partner", "poll_seconds", [](const SiteConfig& c) { return Int(c.poll_seconds); }},
      {"partner", "area_prefix", [](const SiteConfig& c) { return Quote(c.area_prefix); }},
      {"partner", "area_host", [](const SiteConfig& c) { return Quote(c.area_host); }},
      {"console", "listen",
       [](const SiteConfig& c) { return Quote(c.console_address.ToString()); }},
      {"console", "tls_certificate",
       [](const SiteConfig& c) { return Quote(c.console_tls_certificate); }},
      {"console", "tls_key", [](const SiteConfig& c) { return Quote(c.console_tls_key); }},
      {"waf", "mode", [](const SiteConfig& c) { return Quote(c.waf_mode); }},
      {"waf", "paranoia_level", [](const SiteConfig& c) { return Int(c.waf_paranoia_level); }},
      {"waf", "anomaly_threshold",
       [](const SiteConfig& c) { return Int(c.waf_anomaly_threshold); }},
      {"waf", "exclude_rules", [](const SiteConfig& c) { return RuleList(c.waf_exclude_rules); }},
      {"waf", "on_failure", [](const SiteConfig& c) { return Quote(c.waf_on_failure); }},
      {"ops", "listen", [](const SiteConfig& c) { return Quote(OpsListenText(c)); }},
      {"log", "format", [](const SiteConfig& c) { return Quote(c.log_format); }},
      {"store", "backend", [](const SiteConfig& c) { return Quote(c.store_backend); }},
      {"store", "url", [](const SiteConfig& c) { return Quote(c.store_url); }},
      {"store", "schema", [](const SiteConfig& c) { return Quote(c.store_schema); }},
  };
  return kSettings;
}

// One key to set (or, without a literal, to remove) in the file.
struct KeyEdit {
  std::string section;
  std::string name;
  std::optional<std::string> literal;
};

bool IsBareKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string KeyText(std::string_view key) { return IsBareKey(key) ? std::string(key) : Quote(key); }

// Byte offsets of toml++'s source positions (1-based lines, and columns counted in code points).
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) : text_(text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') starts_.push_back(i + 1);
    }
  }
  // nullopt for a position outside the text.
  std::optional<size_t> Offset(const toml::source_position& p) const {
    if (p.line == 0 || p.line > starts_.size() || p.column == 0) return std::nullopt;
    size_t at = starts_[p.line - 1];
    for (uint32_t column = 1; column < p.column; ++column) {
      if (at >= text_.size() || text_[at] == '\n') return std::nullopt;
      ++at;  // past the code point's first byte and its continuation bytes
      while (at < text_.size() && (static_cast<unsigned char>(text_[at]) & 0xC0) == 0x80) ++at;
    }
    return at;
  }
  size_t LineStart(size_t line) const { return starts_[line - 1]; }
  // The offset just past the end of `line` (and its newline).
  size_t NextLineStart(size_t line) const {
    return line < starts_.size() ? starts_[line] : text_.size();
  }

 private:
  std::string_view text_;
  std::vector<size_t> starts_;
};

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

// `text` with `edits` applied to the lines of their keys, everything else as it was; nullopt
// when a key cannot be changed that way (a section written as an inline table or dotted keys,
// a key sharing its line with another): the caller then writes the whole file.
std::optional<std::string> SpliceEdits(std::string_view text, const std::vector<KeyEdit>& edits) {
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
  const LineIndex lines(text);
  struct Splice {
    size_t at = 0, length = 0;
    std::string with;
  };
  std::vector<Splice> splices;
  std::map<std::string, std::string> new_sections;  // absent sections: their lines, appended
  std::map<std::string, Splice> inserts;            // keys added to a section: one splice each
  for (const KeyEdit& e : edits) {
    const std::string line = e.literal ? KeyText(e.name) + " = " + *e.literal + "\n" : "";
    toml::node* section = root.get(e.section);
    if (section == nullptr) {
      if (e.literal) new_sections[e.section] += line;
      continue;
    }
    toml::table* table = section->as_table();
    if (table == nullptr || table->is_inline()) return std::nullopt;
    const toml::key* key = nullptr;
    const toml::node* value = nullptr;
    size_t last_line = table->source().end.line;  // the header [section]
    for (auto&& [k, v] : *table) {
      if (k.str() == e.name) {
        key = &k;
        value = &v;
      }
      last_line = std::max<size_t>(last_line, v.source().end.line);
    }
    if (key == nullptr) {
      if (!e.literal) continue;  // removing what is not there
      if (last_line == 0) return std::nullopt;
      Splice& insert = inserts[e.section];
      insert.at = lines.NextLineStart(last_line);
      if (insert.with.empty() && insert.at == text.size() && !text.empty() && text.back() != '\n') {
        insert.with = "\n";
      }
      insert.with += line;
      continue;
    }
    const auto key_at = lines.Offset(key->source().begin);
    const auto value_at = lines.Offset(value->source().begin);
    const auto value_end = lines.Offset(value->source().end);
    if (!key_at || !value_at || !value_end || *value_end < *value_at) return std::nullopt;
    if (e.literal) {
      splices.push_back({*value_at, *value_end - *value_at, *e.literal});
      continue;
    }
    // Removal: the key's whole line(s), when nothing else stands on them but a comment.
    const size_t first = key->source().begin.line, last = value->source().end.line;
    const size_t line_start = lines.LineStart(first), line_end = lines.NextLineStart(last);
    std::string_view after = text.substr(*value_end, line_end - *value_end);
    after = after.substr(0, after.find('\n'));
    const size_t hash = after.find('#');
    if (!IsBlank(text.substr(line_start, *key_at - line_start)) ||
        !IsBlank(after.substr(0, hash))) {
      return std::nullopt;
    }
    splices.push_back({line_start, line_end - line_start, ""});
  }
  for (auto& [section, insert] : inserts) splices.push_back(std::move(insert));
  std::sort(splices.begin(), splices.end(),
            [](const Splice& a, const Splice& b) { return a.at > b.at; });
  std::string out(text);
  size_t limit = out.size();
  for (const Splice& s : splices) {
    if (s.at + s.length > limit) return std::nullopt;  // overlapping: not ours to sort out
    out.replace(s.at, s.length, s.with);
    limit = s.at;
  }
  for (const auto& [section, added] : new_sections) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += "\n[" + section + "]\n" + added;
  }
  return out;
}

}  // namespace

Result<SiteConfigFile> ReadSiteConfigFile(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadConfigText(env, site_dir));
  SiteConfigFile out;
  ASSIGN_OR_RETURN(out.config, ParseSiteConfig(text, SitePaths(site_dir).config()));
  out.sha256 = Sha256Hex(text);
  return out;
}

Result<SiteConfigUpdate> UpdateSiteConfig(Env& env, const std::string& site_dir,
                                          const std::function<Status(SiteConfig&)>& edit,
                                          std::string_view expected_sha256) {
  const std::string file = SitePaths(site_dir).config();
  ASSIGN_OR_RETURN(std::string text, ReadConfigText(env, site_dir));
  if (!expected_sha256.empty() && Sha256Hex(text) != expected_sha256) {
    return Status::FailedPrecondition(
        "site.toml was changed by someone else since these settings were shown: look at them "
        "again, then make your change");
  }
  ASSIGN_OR_RETURN(const SiteConfig before, ParseSiteConfig(text, file));
  SiteConfig after = before;
  RETURN_IF_ERROR(edit(after));

  SiteConfigUpdate out;
  std::vector<KeyEdit> edits;
  for (const SettingSpec& spec : Settings()) {
    std::string was = spec.literal(before), now = spec.literal(after);
    if (was == now) continue;
    edits.push_back({spec.section, spec.name, now});
    out.changes.push_back({std::string(spec.section) + "." + spec.name, was, now});
  }
  std::set<std::string> names;
  for (const auto& [k, v] : before.variables) names.insert(k);
  for (const auto& [k, v] : after.variables) names.insert(k);
  for (const std::string& name : names) {
    const auto was = before.variables.find(name);
    const auto now = after.variables.find(name);
    std::string was_text = was == before.variables.end() ? "" : Quote(was->second);
    std::string now_text = now == after.variables.end() ? "" : Quote(now->second);
    if (was_text == now_text) continue;
    edits.push_back(
        {"variables", name, now == after.variables.end() ? std::nullopt : std::optional(now_text)});
    out.changes.push_back({"variables." + name, was_text, now_text});
  }
  std::sort(out.changes.begin(), out.changes.end(),
            [](const SiteConfigChange& a, const SiteConfigChange& b) { return a.key < b.key; });
  if (out.changes.empty()) {
    out.config = before;
    return out;
  }

  // The new file is checked by the loader itself: what it refuses is refused here, with its
  // message, and nothing is written.
  std::string next;
  if (std::optional<std::string> spliced = SpliceEdits(text, edits)) {
    ASSIGN_OR_RETURN(SiteConfig reread, ParseSiteConfig(*spliced, "site.toml"));
    if (reread == after) next = std::move(*spliced);
  }
  if (next.empty()) {
    next = SiteConfigText(after);
    out.comments_kept = false;
    ASSIGN_OR_RETURN(SiteConfig reread, ParseSiteConfig(next, "site.toml"));
    if (!(reread == after)) {
      return Status::Internal("site.toml cannot hold these settings as given; nothing written");
    }
  }
  RETURN_IF_ERROR(WriteFileAtomic(env, file, next, 0600));
  out.config = std::move(after);
  return out;
}

Result<SiteLock> SiteLock::Acquire(const std::string& site_dir, int timeout_ms) {
  return AcquireFile(SitePaths(site_dir).lock(),
                     "site '" + site_dir +
                         "' is busy (another tieup command or an update holds its lock); try "
                         "again in a moment",
                     timeout_ms);
}

Result<SiteLock> SiteLock::AcquireFile(const std::string& path, const std::string& busy,
                                       int timeout_ms) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("cannot open lock file '" + path + "': " + std::strerror(errno));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      ::close(fd);
      return Status::IOError("cannot lock '" + path + "': " + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      return Status::Unavailable(busy);
    }
    // Process coordination, not test timing: a short poll is the portable way with flock.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return SiteLock(fd);
}

SiteLock::~SiteLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

std::vector<std::string> FindSiteDataOpenToOthers(Env& env, const std::string& site_dir) {
  SitePaths paths(site_dir);
  std::vector<std::string> open;
  for (const std::string& path :
       {site_dir, paths.config(), paths.database(), paths.database() + "-wal",
        paths.database() + "-shm", paths.keys(), paths.logs(), paths.ledger(), site_dir + "/mail",
        site_dir + "/blobs", site_dir + "/releases"}) {
    if (!env.FileExists(path)) continue;
    Result<uint32_t> mode = env.GetPermissions(path);
    if (!mode.ok() || (*mode & 077) == 0) continue;
    open.push_back(fmt::format("{} (mode {:04o})", path, *mode & 07777));
  }
  return open;
}

}  // namespace tieup

#include "guard/blocklist.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstring>
#include <set>

#include "base/encoding.h"
#include "trust/signed_metadata.h"

namespace tieup::guard {
namespace {

namespace json = boost::json;

// How far ahead of the partner's clock main's may be before a list is suspicious.
constexpr int64_t kMaxClockAheadSeconds = 86400;

Status Bad(std::string_view what) {
  return Status::InvalidArgument("blocklist: " + std::string(what));
}

// `text` as a 16-byte address (IPv4 mapped into ::ffff:0:0/96) and whether it was IPv4.
bool ParseAddress(std::string_view text, std::array<uint8_t, 16>& out, bool& v4) {
  if (text.empty() || text.size() > 45) return false;
  const std::string s(text);
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    out.fill(0);
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    v4 = true;
    return true;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, s.c_str(), &a6) != 1) return false;
  std::memcpy(out.data(), &a6, 16);
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  v4 = std::memcmp(out.data(), kMapped, 12) == 0;
  return true;
}

std::string FormatAddress(const std::array<uint8_t, 16>& a, bool v4) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (v4) {
    inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  }
  return buf;
}

void ClearHostBits(std::array<uint8_t, 16>& a, int prefix) {
  for (int bit = prefix; bit < 128; ++bit) a[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
}

bool InRange(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& net, int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(a.data(), net.data(), whole) != 0) return false;
  if (prefix % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - prefix % 8));
  return (a[whole] & mask) == net[whole];
}

// An address or range: its 16 bytes (host bits cleared) and prefix length over 128 bits.
struct Network {
  std::array<uint8_t, 16> net{};
  int prefix = 128;
  bool v4 = false;
};

Result<Network> ParseNetwork(std::string_view value) {
  const Status how = Bad("'" + std::string(value.substr(0, 64)) +
                         "' is not an address or a range: write 203.0.113.9, 203.0.113.0/24, "
                         "2001:db8::7 or 2001:db8::/32");
  Network n;
  std::string_view address = value;
  int bits = -1;
  if (size_t slash = value.find('/'); slash != std::string_view::npos) {
    address = value.substr(0, slash);
    std::string_view digits = value.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return how;
    bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return how;
      bits = bits * 10 + (c - '0');
    }
  }
  if (!ParseAddress(address, n.net, n.v4)) return how;
  const int max = n.v4 ? 32 : 128;
  if (bits > max) return how;
  n.prefix = bits < 0 ? 128 : (n.v4 ? bits + 96 : bits);
  ClearHostBits(n.net, n.prefix);
  return n;
}

std::string FormatNetwork(const Network& n) {
  std::string s = FormatAddress(n.net, n.v4);
  if (n.prefix != 128) s += "/" + std::to_string(n.v4 ? n.prefix - 96 : n.prefix);
  return s;
}

bool Printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::string> Text(const json::object& o, std::string_view key, size_t max_bytes,
                         std::string_view where) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return Bad(std::string(where) + "field '" + std::string(key) + "' is missing or not a string");
  }
  if (v->get_string().size() > max_bytes) {
    return Bad(std::string(where) + "field '" + std::string(key) + "' is longer than " +
               std::to_string(max_bytes) + " bytes");
  }
  return std::string(v->get_string());
}

Result<int64_t> Integer(const json::object& o, std::string_view key, std::string_view where) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Bad(std::string(where) + "field '" + std::string(key) + "' is missing");
  if (v->is_int64() && v->get_int64() >= 0) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->get_uint64());
  }
  return Bad(std::string(where) + "field '" + std::string(key) + "' is not a non-negative integer");
}

Status OnlyFields(const json::object& o, std::initializer_list<std::string_view> fields,
                  std::string_view where) {
  for (const auto& kv : o) {
    if (std::find(fields.begin(), fields.end(), kv.key()) == fields.end()) {
      return Bad(std::string(where) + "unknown field '" + std::string(kv.key()) + "'");
    }
  }
  return Status::Ok();
}

Result<BlockEntry> ParseEntry(const json::value& v, size_t index) {
  const std::string where = "entry " + std::to_string(index + 1) + ": ";
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad(where + "not a JSON object");
  RETURN_IF_ERROR(
      OnlyFields(*o, {"added", "by", "expires", "id", "kind", "reason", "value"}, where));
  BlockEntry e;
  ASSIGN_OR_RETURN(std::string kind, Text(*o, "kind", 16, where));
  ASSIGN_OR_RETURN(e.kind, ParseBlockKind(kind));
  ASSIGN_OR_RETURN(e.value, Text(*o, "value", kMaxBlockPathBytes, where));
  ASSIGN_OR_RETURN(std::string canonical, NormalizeBlockValue(e.kind, e.value));
  if (canonical != e.value) {
    return Bad(where + "value '" + e.value + "' is not in canonical form ('" + canonical + "')");
  }
  ASSIGN_OR_RETURN(int64_t id, Integer(*o, "id", where));
  if (id < 1) return Bad(where + "field 'id' must be at least 1");
  e.id = static_cast<uint64_t>(id);
  ASSIGN_OR_RETURN(e.added, Integer(*o, "added", where));
  ASSIGN_OR_RETURN(e.expires, Integer(*o, "expires", where));
  ASSIGN_OR_RETURN(e.reason, Text(*o, "reason", kMaxBlockReasonBytes, where));
  ASSIGN_OR_RETURN(e.by, Text(*o, "by", kMaxBlockReasonBytes, where));
  if (!Printable(e.reason) || !Printable(e.by)) {
    return Bad(where + "'reason' and 'by' must not hold control characters");
  }
  return e;
}

}  // namespace

std::string_view BlockKindName(BlockKind kind) {
  switch (kind) {
    case BlockKind::kAddress:
      return "address";
    case BlockKind::kAgent:
      return "agent";
    case BlockKind::kPath:
      return "path";
  }
  return "";
}

Result<BlockKind> ParseBlockKind(std::string_view name) {
  for (BlockKind k : {BlockKind::kAddress, BlockKind::kAgent, BlockKind::kPath}) {
    if (BlockKindName(k) == name) return k;
  }
  return Bad("kind '" + std::string(name.substr(0, 32)) + "' is not one of address, agent, path");
}

Result<std::string> NormalizeBlockValue(BlockKind kind, std::string_view value) {
  switch (kind) {
    case BlockKind::kAddress: {
      ASSIGN_OR_RETURN(Network n, ParseNetwork(value));
      return FormatNetwork(n);
    }
    case BlockKind::kAgent: {
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (value.size() < 3 || value.size() > kMaxBlockAgentBytes || !Printable(value)) {
        return Bad("a user agent to block is 3 to " + std::to_string(kMaxBlockAgentBytes) +
                   " printable characters of its User-Agent header (e.g. sqlmap)");
      }
      return std::string(value);
    }
    case BlockKind::kPath: {
      if (value.size() < 2 || value.front() != '/' || value.size() > kMaxBlockPathBytes ||
          !Printable(value) || value.find('?') != std::string_view::npos ||
          value.find("/./") != std::string_view::npos ||
          value.find("/../") != std::string_view::npos || value.ends_with("/..") ||
          value.ends_with("/.") || value.find("//") != std::string_view::npos) {
        return Bad(
            "a path to block starts with '/', is not '/' alone, has no query and no '.', "
            "'..' or empty segments (e.g. /wp-admin)");
      }
      if (value.size() > 1 && value.back() == '/') value.remove_suffix(1);
      return std::string(value);
    }
  }
  return Bad("unknown kind");
}

std::string EncodeBlocklist(const Blocklist& list) {
  json::object o;
  o["_type"] = "blocklist";
  json::array entries;
  for (const BlockEntry& e : list.entries) {
    json::object j;
    j["added"] = e.added;
    j["by"] = e.by;
    j["expires"] = e.expires;
    j["id"] = e.id;
    j["kind"] = BlockKindName(e.kind);
    j["reason"] = e.reason;
    j["value"] = e.value;
    entries.push_back(std::move(j));
  }
  o["entries"] = std::move(entries);
  o["issued"] = list.issued;
  o["seq"] = list.seq;
  return CanonicalJson(o);
}

Result<Blocklist> ParseBlocklist(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec) return Bad("not JSON: " + ec.message());
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad("not a JSON object");
  RETURN_IF_ERROR(OnlyFields(*o, {"_type", "entries", "issued", "seq"}, ""));
  ASSIGN_OR_RETURN(std::string type, Text(*o, "_type", 32, ""));
  if (type != "blocklist") return Bad("_type is '" + type + "', not 'blocklist'");
  Blocklist list;
  ASSIGN_OR_RETURN(list.issued, Integer(*o, "issued", ""));
  ASSIGN_OR_RETURN(int64_t seq, Integer(*o, "seq", ""));
  if (seq < 1) return Bad("field 'seq' must be at least 1");
  list.seq = static_cast<uint64_t>(seq);
  const json::value* entries = o->if_contains("entries");
  if (entries == nullptr || !entries->is_array()) {
    return Bad("field 'entries' is missing or not an array");
  }
  if (entries->get_array().size() > kMaxBlocklistEntries) {
    return Bad("more than " + std::to_string(kMaxBlocklistEntries) + " entries");
  }
  std::set<uint64_t> ids;
  for (size_t i = 0; i < entries->get_array().size(); ++i) {
    ASSIGN_OR_RETURN(BlockEntry e, ParseEntry(entries->get_array()[i], i));
    if (!ids.insert(e.id).second) {
      return Bad("two entries are numbered " + std::to_string(e.id));
    }
    list.entries.push_back(std::move(e));
  }
  return list;
}

std::string SignBlocklist(const Ed25519PrivateKey& release_key, const Blocklist& list) {
  return EncodeEnvelope(SignEnvelope(release_key, kBlocklistPayloadType, EncodeBlocklist(list)));
}

Result<Blocklist> VerifyBlocklist(const Ed25519PublicKey& pinned_root,
                                  std::string_view root_envelope_json,
                                  std::string_view envelope_json, uint64_t last_seq, int64_t now) {
  ASSIGN_OR_RETURN(SignedEnvelope envelope,
                   VerifyReleaseKeySigned(pinned_root, root_envelope_json, envelope_json,
                                          {kBlocklistPayloadType}, "blocklist", now));
  ASSIGN_OR_RETURN(Blocklist list, ParseBlocklist(envelope.payload));
  if (list.seq <= last_seq) {
    return Status::FailedPrecondition("blocklist number " + std::to_string(list.seq) +
                                      " is not newer than number " + std::to_string(last_seq) +
                                      ", already in effect: refusing a replay of an older list");
  }
  if (list.issued > now + kMaxClockAheadSeconds) {
    return Status::InvalidArgument("blocklist was issued at " + FormatRfc3339(list.issued) +
                                   ", more than a day ahead of this site's clock: refusing it");
  }
  return list;
}

std::string DescribeBlockEntry(const BlockEntry& e) {
  std::string s = std::string(BlockKindName(e.kind)) + " " + e.value + " (";
  if (!e.reason.empty()) s += e.reason + "; ";
  s += e.expires == 0 ? "until removed" : "until " + FormatRfc3339(e.expires);
  return s + ")";
}

BlocklistMatcher::BlocklistMatcher(Blocklist list) : list_(std::move(list)) {
  for (size_t i = 0; i < list_.entries.size(); ++i) {
    const BlockEntry& e = list_.entries[i];
    switch (e.kind) {
      case BlockKind::kAddress: {
        auto n = ParseNetwork(e.value);
        if (!n.ok()) break;  // ParseBlocklist refuses these; a hand-built list skips them
        if (n->prefix == 128) {
          exact_.emplace(std::string(n->net.begin(), n->net.end()), i);
        } else {
          ranges_.push_back({n->net, n->prefix, i});
        }
        break;
      }
      case BlockKind::kAgent:
        agents_.emplace_back(Lower(e.value), i);
        break;
      case BlockKind::kPath:
        paths_.push_back(i);
        break;
    }
  }
}

const BlockEntry* BlocklistMatcher::Match(std::string_view client, std::string_view user_agent,
                                          std::string_view path, int64_t now) const {
  auto live = [&](size_t i) -> const BlockEntry* {
    const BlockEntry& e = list_.entries[i];
    return e.expires == 0 || now < e.expires ? &e : nullptr;
  };
  if (!exact_.empty() || !ranges_.empty()) {
    std::array<uint8_t, 16> a;
    bool v4 = false;
    if (ParseAddress(client, a, v4)) {
      if (auto it = exact_.find(std::string(a.begin(), a.end())); it != exact_.end()) {
        if (const BlockEntry* e = live(it->second)) return e;
      }
      for (const Range& r : ranges_) {
        if (InRange(a, r.net, r.prefix)) {
          if (const BlockEntry* e = live(r.entry)) return e;
        }
      }
    }
  }
  if (!agents_.empty() && !user_agent.empty()) {
    const std::string agent = Lower(user_agent);
    for (const auto& [text, i] : agents_) {
      if (agent.find(text) != std::string::npos) {
        if (const BlockEntry* e = live(i)) return e;
      }
    }
  }
  for (size_t i : paths_) {
    const std::string& prefix = list_.entries[i].value;
    if (path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/')) {
      if (const BlockEntry* e = live(i)) return e;
    }
  }
  return nullptr;
}

}  // namespace tieup::guard

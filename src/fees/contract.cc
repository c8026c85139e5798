#include "fees/contract.h"

#include <toml++/toml.h>

#include <algorithm>
#include <initializer_list>
#include <optional>

#include "base/toml_text.h"
#include "crypto/hash.h"
#include "fees/money.h"

namespace tieup::fees {
namespace {

// Reads a contract, remembering the source name for messages.
class ContractReader {
 public:
  explicit ContractReader(std::string_view source) : source_(source) {}

  Status Bad(std::string_view key, std::string_view what) const {
    return Status::InvalidArgument(source_ + ": " + std::string(key) + ": " + std::string(what));
  }

  static std::string Join(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
  }

  static std::string TypeName(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::string:
        return "a string";
      case toml::node_type::integer:
        return "an integer";
      case toml::node_type::floating_point:
        return "a floating-point number";
      case toml::node_type::boolean:
        return "a boolean";
      case toml::node_type::table:
        return "a table";
      case toml::node_type::array:
        return "an array";
      default:
        return "a date or time";
    }
  }

  // Refuses keys of `t` not in `allowed`.
  Status CheckKeys(const toml::table& t, std::string_view prefix,
                   std::initializer_list<std::string_view> allowed) const {
    for (const auto& [k, v] : t) {
      std::string_view key = k.str();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        return Bad(Join(prefix, key), "unknown key (known here: " + list + ")");
      }
    }
    return Status::Ok();
  }

  // An integer in [min, max]; nullopt with ok status when absent and not required.
  Result<std::optional<int64_t>> Int(const toml::table& t, std::string_view prefix,
                                     std::string_view key, int64_t min, int64_t max, bool required,
                                     std::string_view unit = {}) const {
    const toml::node* n = t.get(key);
    std::string name = Join(prefix, key);
    std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                        (unit.empty() ? "" : " (" + std::string(unit) + ")");
    if (n == nullptr) {
      if (required) return Bad(name, "is missing: it must be " + range);
      return std::optional<int64_t>();
    }
    if (!n->is_integer()) return Bad(name, "must be " + range + ", not " + TypeName(*n));
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      return Bad(name, "must be " + range + ", got " + std::to_string(v));
    }
    return std::optional<int64_t>(v);
  }

  Result<std::optional<std::string>> String(const toml::table& t, std::string_view prefix,
                                            std::string_view key, bool required) const {
    const toml::node* n = t.get(key);
    std::string name = Join(prefix, key);
    if (n == nullptr) {
      if (required) return Bad(name, "is missing: it must be a string");
      return std::optional<std::string>();
    }
    if (!n->is_string()) return Bad(name, "must be a string, not " + TypeName(*n));
    return std::optional<std::string>(n->as_string()->get());
  }

  // A boolean, `fallback` when absent.
  Result<bool> Bool(const toml::table& t, std::string_view prefix, std::string_view key,
                    bool fallback) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return fallback;
    if (!n->is_boolean()) {
      return Bad(Join(prefix, key), "must be true or false, not " + TypeName(*n));
    }
    return n->as_boolean()->get();
  }

  // The sub-table `key` of `t`, or nullptr when absent; an error when it is not a table.
  Result<const toml::table*> Table(const toml::table& t, std::string_view prefix,
                                   std::string_view key) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return static_cast<const toml::table*>(nullptr);
    if (!n->is_table()) {
      return Bad(Join(prefix, key), "must be a table ([" + Join(prefix, key) +
                                        "] or an inline "
                                        "{ ... }), not " +
                                        TypeName(*n));
    }
    return n->as_table();
  }

  // The array of tables `key` of `t` (empty when absent).
  Result<std::vector<const toml::table*>> TableArray(const toml::table& t, std::string_view prefix,
                                                     std::string_view key) const {
    std::vector<const toml::table*> out;
    const toml::node* n = t.get(key);
    if (n == nullptr) return out;
    std::string name = Join(prefix, key);
    if (!n->is_array()) {
      return Bad(name, "must be an array of tables ([[" + name + "]]), not " + TypeName(*n));
    }
    const toml::array& a = *n->as_array();
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_table()) {
        return Bad(name + "[" + std::to_string(i) + "]", "must be a table, not " + TypeName(a[i]));
      }
      out.push_back(a[i].as_table());
    }
    return out;
  }

 private:
  std::string source_;
};

bool IsSiteId(std::string_view id) {
  if (id.empty() || id.size() > 63 || id.front() == '-' || id.back() == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Result<PartnershipContract> ParseTable(const toml::table& root, const ContractReader& r) {
  PartnershipContract c;
  RETURN_IF_ERROR(
      r.CheckKeys(root, "",
                  {"partner", "kind", "base_fee", "base_fees", "currency", "rounding", "services",
                   "content_tiers", "access_discount", "volume", "advertising", "transactions"}));

  ASSIGN_OR_RETURN(auto partner, r.String(root, "", "partner", true));
  if (!IsSiteId(*partner)) {
    return r.Bad("partner",
                 "must be the partner's site id: 1-63 lower-case letters, digits or "
                 "'-' (e.g. \"shop-b\")");
  }
  c.partner = *partner;

  ASSIGN_OR_RETURN(auto kind, r.String(root, "", "kind", true));
  bool kind_known = false;
  for (PartnershipKind k : kAllPartnershipKinds) {
    if (*kind == PartnershipKindName(k)) {
      c.kind = k;
      kind_known = true;
    }
  }
  if (!kind_known) {
    return r.Bad("kind", "must be \"link\", \"template\" or \"contents\", got \"" +
                             kind->substr(0, 40) + "\"");
  }

  // The base fee: either `base_fee` for the contract's kind or a [base_fees] table by kind.
  ASSIGN_OR_RETURN(auto base_fee,
                   r.Int(root, "", "base_fee", 0, kMaxMoneyMinor, false, "minor units"));
  ASSIGN_OR_RETURN(const toml::table* base_fees, r.Table(root, "", "base_fees"));
  if (base_fee.has_value() && base_fees != nullptr) {
    return r.Bad("base_fee", "give either base_fee or a [base_fees] table, not both");
  }
  if (base_fees != nullptr) {
    RETURN_IF_ERROR(r.CheckKeys(*base_fees, "base_fees", {"link", "template", "contents"}));
    for (PartnershipKind k : kAllPartnershipKinds) {
      ASSIGN_OR_RETURN(auto fee, r.Int(*base_fees, "base_fees", PartnershipKindName(k), 0,
                                       kMaxMoneyMinor, k == c.kind, "minor units"));
      if (k == c.kind) c.base_fee_minor = *fee;
    }
  } else if (base_fee.has_value()) {
    c.base_fee_minor = *base_fee;
  } else {
    return r.Bad("base_fee",
                 "is missing: give base_fee (minor units) or a [base_fees] table "
                 "with the fee of kind \"" +
                     std::string(PartnershipKindName(c.kind)) + "\"");
  }

  ASSIGN_OR_RETURN(auto currency, r.String(root, "", "currency", true));
  bool currency_ok = currency->size() == 3;
  for (char ch : *currency) currency_ok = currency_ok && ch >= 'A' && ch <= 'Z';
  if (!currency_ok) {
    return r.Bad("currency",
                 "must be an ISO 4217 code of three upper-case letters (\"JPY\"), "
                 "got \"" +
                     currency->substr(0, 20) + "\"");
  }
  c.currency = *currency;

  ASSIGN_OR_RETURN(auto rounding, r.String(root, "", "rounding", false));
  if (rounding.has_value()) {
    if (*rounding == "half-even") {
      c.rounding = RoundingRule::kHalfEven;
    } else if (*rounding == "half-up") {
      c.rounding = RoundingRule::kHalfUp;
    } else if (*rounding == "down") {
      c.rounding = RoundingRule::kDown;
    } else {
      return r.Bad("rounding", "must be \"half-even\", \"half-up\" or \"down\", got \"" +
                                   rounding->substr(0, 40) + "\"");
    }
  }

  ASSIGN_OR_RETURN(const toml::table* services, r.Table(root, "", "services"));
  if (services != nullptr) {
    RETURN_IF_ERROR(
        r.CheckKeys(*services, "services", {"security", "user_management", "marketing"}));
    for (std::string_view name : {"security", "user_management", "marketing"}) {
      ASSIGN_OR_RETURN(const toml::table* s, r.Table(*services, "services", name));
      if (s == nullptr) continue;
      std::string prefix = "services." + std::string(name);
      RETURN_IF_ERROR(r.CheckKeys(*s, prefix, {"enabled", "price"}));
      Service& service = name == "security"          ? c.security
                         : name == "user_management" ? c.user_management
                                                     : c.marketing;
      ASSIGN_OR_RETURN(service.enabled, r.Bool(*s, prefix, "enabled", true));
      ASSIGN_OR_RETURN(auto price,
                       r.Int(*s, prefix, "price", 0, kMaxMoneyMinor, true, "minor units"));
      service.price_minor = *price;
    }
  }

  ASSIGN_OR_RETURN(auto tiers, r.TableArray(root, "", "content_tiers"));
  for (size_t i = 0; i < tiers.size(); ++i) {
    std::string prefix = "content_tiers[" + std::to_string(i) + "]";
    const toml::table& t = *tiers[i];
    RETURN_IF_ERROR(r.CheckKeys(t, prefix, {"measure", "from", "fee"}));
    ContentTier tier;
    ASSIGN_OR_RETURN(auto measure, r.String(t, prefix, "measure", true));
    bool measure_known = false;
    for (ContentMeasure m : kAllContentMeasures) {
      if (*measure == ContentMeasureName(m)) {
        tier.measure = m;
        measure_known = true;
      }
    }
    if (!measure_known) {
      return r.Bad(prefix + ".measure",
                   "must be \"tieup_bytes\", \"tieup_pages\", \"original_bytes\" or "
                   "\"original_pages\", got \"" +
                       measure->substr(0, 40) + "\"");
    }
    ASSIGN_OR_RETURN(auto from,
                     r.Int(t, prefix, "from", 0, kMaxMoneyMinor, true, "bytes or pages"));
    ASSIGN_OR_RETURN(auto fee, r.Int(t, prefix, "fee", 0, kMaxMoneyMinor, true, "minor units"));
    tier.from = static_cast<uint64_t>(*from);
    tier.fee_minor = *fee;
    for (const ContentTier& other : c.content_tiers) {
      if (other.measure == tier.measure && other.from == tier.from) {
        return r.Bad(prefix + ".from",
                     "a tier of measure \"" + std::string(ContentMeasureName(tier.measure)) +
                         "\" from " + std::to_string(tier.from) + " is given twice");
      }
    }
    c.content_tiers.push_back(tier);
  }
  std::sort(c.content_tiers.begin(), c.content_tiers.end(),
            [](const ContentTier& a, const ContentTier& b) {
              return a.measure != b.measure ? a.measure < b.measure : a.from < b.from;
            });

  ASSIGN_OR_RETURN(const toml::table* access, r.Table(root, "", "access_discount"));
  if (access != nullptr) {
    RETURN_IF_ERROR(r.CheckKeys(*access, "access_discount",
                                {"enabled", "max_percent", "at_original_share_percent"}));
    ASSIGN_OR_RETURN(c.access_discount.enabled,
                     r.Bool(*access, "access_discount", "enabled", true));
    ASSIGN_OR_RETURN(auto max,
                     r.Int(*access, "access_discount", "max_percent", 0, 100, true, "percent"));
    ASSIGN_OR_RETURN(auto at, r.Int(*access, "access_discount", "at_original_share_percent", 1, 100,
                                    true, "percent"));
    c.access_discount.max_percent = *max;
    c.access_discount.at_original_share_percent = *at;
  }

  ASSIGN_OR_RETURN(const toml::table* volume, r.Table(root, "", "volume"));
  if (volume != nullptr) {
    RETURN_IF_ERROR(
        r.CheckKeys(*volume, "volume", {"threshold_accesses", "discount_percent", "tiers"}));
    ASSIGN_OR_RETURN(auto vtiers, r.TableArray(*volume, "volume", "tiers"));
    bool single = volume->contains("threshold_accesses") || volume->contains("discount_percent");
    if (single && !vtiers.empty()) {
      return r.Bad("volume",
                   "give either threshold_accesses and discount_percent or "
                   "[[volume.tiers]], not both");
    }
    auto read_tier = [&](const toml::table& t, const std::string& prefix) -> Status {
      VolumeTier tier;
      ASSIGN_OR_RETURN(auto threshold, r.Int(t, prefix, "threshold_accesses", 0, kMaxMoneyMinor,
                                             true, "successful accesses in the period"));
      ASSIGN_OR_RETURN(auto pct, r.Int(t, prefix, "discount_percent", 0, 100, true, "percent"));
      tier.threshold_accesses = static_cast<uint64_t>(*threshold);
      tier.discount_percent = *pct;
      for (const VolumeTier& other : c.volume_tiers) {
        if (other.threshold_accesses == tier.threshold_accesses) {
          return r.Bad(
              prefix + ".threshold_accesses",
              "the threshold " + std::to_string(tier.threshold_accesses) + " is given twice");
        }
      }
      c.volume_tiers.push_back(tier);
      return Status::Ok();
    };
    if (single) {
      RETURN_IF_ERROR(read_tier(*volume, "volume"));
    } else if (vtiers.empty()) {
      return r.Bad("volume", "give threshold_accesses and discount_percent, or [[volume.tiers]]");
    }
    for (size_t i = 0; i < vtiers.size(); ++i) {
      std::string prefix = "volume.tiers[" + std::to_string(i) + "]";
      RETURN_IF_ERROR(r.CheckKeys(*vtiers[i], prefix, {"threshold_accesses", "discount_percent"}));
      RETURN_IF_ERROR(read_tier(*vtiers[i], prefix));
    }
    std::sort(c.volume_tiers.begin(), c.volume_tiers.end(),
              [](const VolumeTier& a, const VolumeTier& b) {
                return a.threshold_accesses < b.threshold_accesses;
              });
  }
  int64_t max_volume = 0;
  for (const VolumeTier& t : c.volume_tiers) max_volume = std::max(max_volume, t.discount_percent);
  int64_t max_access = c.access_discount.enabled ? c.access_discount.max_percent : 0;
  if (max_access + max_volume > 100) {
    return r.Bad("access_discount.max_percent",
                 "together with the largest volume discount_percent it exceeds 100 (" +
                     std::to_string(max_access) + " + " + std::to_string(max_volume) +
                     "): the discounts could exceed the fee");
  }

  ASSIGN_OR_RETURN(const toml::table* ads, r.Table(root, "", "advertising"));
  if (ads != nullptr) {
    RETURN_IF_ERROR(r.CheckKeys(*ads, "advertising", {"enabled", "pool_minor"}));
    ASSIGN_OR_RETURN(c.advertising.enabled, r.Bool(*ads, "advertising", "enabled", true));
    ASSIGN_OR_RETURN(auto pool, r.Int(*ads, "advertising", "pool_minor", 0, kMaxMoneyMinor, true,
                                      "minor units"));
    c.advertising.pool_minor = *pool;
  }

  ASSIGN_OR_RETURN(const toml::table* tx, r.Table(root, "", "transactions"));
  if (tx != nullptr) {
    RETURN_IF_ERROR(r.CheckKeys(*tx, "transactions", {"enabled", "percent_bp", "fixed_minor"}));
    ASSIGN_OR_RETURN(c.transactions.enabled, r.Bool(*tx, "transactions", "enabled", true));
    ASSIGN_OR_RETURN(auto bp, r.Int(*tx, "transactions", "percent_bp", 0, 10000, false,
                                    "basis points: 250 is 2.5%"));
    ASSIGN_OR_RETURN(auto fixed, r.Int(*tx, "transactions", "fixed_minor", 0, kMaxMoneyMinor, false,
                                       "minor units"));
    if (!bp.has_value() && !fixed.has_value()) {
      return r.Bad("transactions", "give percent_bp, fixed_minor or both");
    }
    c.transactions.percent_bp = bp.value_or(0);
    c.transactions.fixed_minor = fixed.value_or(0);
  }
  return c;
}

}  // namespace

std::string_view PartnershipKindName(PartnershipKind kind) {
  switch (kind) {
    case PartnershipKind::kLink:
      return "link";
    case PartnershipKind::kTemplate:
      return "template";
    case PartnershipKind::kContents:
      return "contents";
  }
  return "link";
}

std::string_view RoundingRuleName(RoundingRule rule) {
  switch (rule) {
    case RoundingRule::kHalfEven:
      return "half-even";
    case RoundingRule::kHalfUp:
      return "half-up";
    case RoundingRule::kDown:
      return "down";
  }
  return "half-even";
}

std::string_view ContentMeasureName(ContentMeasure measure) {
  switch (measure) {
    case ContentMeasure::kTieupBytes:
      return "tieup_bytes";
    case ContentMeasure::kTieupPages:
      return "tieup_pages";
    case ContentMeasure::kOriginalBytes:
      return "original_bytes";
    case ContentMeasure::kOriginalPages:
      return "original_pages";
  }
  return "tieup_bytes";
}

Result<PartnershipContract> ParseContract(std::string_view toml_text, std::string_view source) {
  ContractReader reader(source);
  auto parsed = ParseTomlText(toml_text, source);
  if (!parsed.ok()) {
    return Status::InvalidArgument(parsed.status().message() + " (the contract is not valid TOML)");
  }
  toml::table root = std::move(*parsed);
  ASSIGN_OR_RETURN(PartnershipContract c, ParseTable(root, reader));
  c.sha256_hex = Sha256Hex(toml_text);
  return c;
}

Result<PartnershipContract> LoadContract(Env& env, const std::string& path) {
  auto text = env.ReadFile(path);
  if (!text.ok()) {
    return text.status().Annotate("reading the partnership contract '" + path + "'");
  }
  return ParseContract(*text, path);
}

Result<int64_t> DivideRounded(Uint128 numerator, Uint128 denominator, RoundingRule rule) {
  if (denominator == 0) return Status::Internal("fee computation divided by zero");
  Uint128 q = numerator / denominator;
  Uint128 rem = numerator % denominator;
  // Compare 2*rem with the denominator without overflowing: rem < denominator.
  bool above_half = rem > denominator - rem;
  bool exactly_half = rem != 0 && rem == denominator - rem;
  switch (rule) {
    case RoundingRule::kDown:
      break;
    case RoundingRule::kHalfUp:
      if (above_half || exactly_half) ++q;
      break;
    case RoundingRule::kHalfEven:
      if (above_half || (exactly_half && (q & 1) != 0)) ++q;
      break;
  }
  if (q > static_cast<Uint128>(kMaxMoneyMinor)) {
    return Status::OutOfRange("a fee line item comes to more than " +
                              std::to_string(kMaxMoneyMinor) +
                              " minor units: the inputs are absurd; check the contract and the "
                              "ledger");
  }
  return static_cast<int64_t>(q);
}

}  // namespace tieup::fees

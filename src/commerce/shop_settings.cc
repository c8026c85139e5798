#include "commerce/shop_settings.h"

#include <cctype>
#include <charconv>

#include "commerce/payment.h"

namespace tieup::commerce {
namespace {

class Settings {
 public:
  explicit Settings(const std::map<std::string, std::string>* vars) : vars_(vars) {}

  std::string Text(const std::string& name, std::string fallback = {}) const {
    if (vars_ == nullptr) return fallback;
    auto it = vars_->find("shop." + name);
    return it == vars_->end() ? fallback : it->second;
  }

  Result<int64_t> Int(const std::string& name, int64_t fallback) const {
    std::string text = Text(name);
    if (text.empty()) return fallback;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) {
      return Status::InvalidArgument("site.toml [variables] shop." + name + " = '" + text +
                                     "' must be an integer");
    }
    return v;
  }

  Result<bool> Bool(const std::string& name, bool fallback) const {
    std::string text = Text(name);
    if (text.empty()) return fallback;
    if (text == "true") return true;
    if (text == "false") return false;
    return Status::InvalidArgument("site.toml [variables] shop." + name + " must be true or false");
  }

 private:
  const std::map<std::string, std::string>* vars_;
};

// "shop@example.org" for "https://example.org:8443/"; "shop@localhost.localdomain" without a
// usable host.
std::string DefaultSender(std::string_view public_url) {
  std::string_view rest = public_url;
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest = rest.substr(scheme + 3);
  }
  std::string_view host = rest.substr(0, rest.find_first_of(":/?#"));
  bool domain = host.find('.') != std::string_view::npos;
  for (char c : host) {
    domain = domain && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-');
  }
  bool numeric = host.find_first_not_of("0123456789.") == std::string_view::npos;
  return "shop@" + std::string(domain && !numeric ? host : "localhost.localdomain");
}

}  // namespace

Result<OpenedShop> OpenShopFromSettings(Env& env, Database& db, const ShopSiteSettings& settings,
                                        std::shared_ptr<Logger> logger) {
  const Settings s(settings.variables);
  OpenedShop opened;
  ShopConfig sc;
  sc.site_id = settings.site_id;
  sc.shop_name = settings.shop_name;
  sc.currency = s.Text("currency", "EUR");
  sc.locale = settings.locale;
  sc.time_zone = settings.time_zone;
  ASSIGN_OR_RETURN(sc.shipping_fee_minor, s.Int("shipping_fee_minor", 0));
  ASSIGN_OR_RETURN(sc.prices_include_tax, s.Bool("prices_include_tax", true));
  ASSIGN_OR_RETURN(sc.max_units_per_line, s.Int("max_units_per_line", sc.max_units_per_line));
  ASSIGN_OR_RETURN(
      sc.cart_adds_per_10_minutes_per_client,
      s.Int("cart_adds_per_10_minutes_per_client", sc.cart_adds_per_10_minutes_per_client));
  sc.order_prefix = settings.order_prefix;
  sc.public_base_url = s.Text("public_url");
  // Order mail goes to the outbox out of the box: without shop.mail_from, a sender at the
  // host of shop.public_url, else at localhost.localdomain (set shop.mail_from before relaying
  // by SMTP).
  sc.mail_from.address = s.Text("mail_from", DefaultSender(sc.public_base_url));
  sc.mail_from.name = sc.shop_name;
  sc.manager_email = s.Text("manager_email");
  BankDetails bank{s.Text("account_holder", sc.shop_name), s.Text("iban"), s.Text("bic"),
                   s.Text("bank_name")};
  std::vector<std::shared_ptr<PaymentProvider>> payments;
  if (!bank.iban.empty()) payments.push_back(NewBankTransferProvider(bank));
  payments.push_back(NewCashOnDeliveryProvider());
  if (!bank.iban.empty()) payments.push_back(NewInvoiceProvider(bank, 14));
  opened.outbox = std::make_unique<MailOutbox>(env, settings.mail_dir);
  RETURN_IF_ERROR(opened.outbox->Init());
  opened.smtp_host = s.Text("smtp_host");
  ASSIGN_OR_RETURN(int64_t port, s.Int("smtp_port", 25));
  if (port < 1 || port > 65535) {
    return Status::InvalidArgument("site.toml [variables] shop.smtp_port must be 1-65535");
  }
  opened.smtp_port = static_cast<uint16_t>(port);
  ASSIGN_OR_RETURN(opened.shop, Shop::Open(env, db, std::move(sc), std::move(payments),
                                           opened.outbox.get(), std::move(logger)));
  return opened;
}

Result<bool> ShopSettingBool(const std::map<std::string, std::string>& variables,
                             const std::string& name, bool fallback) {
  return Settings(&variables).Bool(name, fallback);
}

Result<int64_t> ShopSettingInt(const std::map<std::string, std::string>& variables,
                               const std::string& name, int64_t fallback, int64_t min,
                               int64_t max) {
  ASSIGN_OR_RETURN(int64_t v, Settings(&variables).Int(name, fallback));
  if (v < min || v > max) {
    return Status::InvalidArgument("site.toml [variables] shop." + name + " = " +
                                   std::to_string(v) + " is outside " + std::to_string(min) + ".." +
                                   std::to_string(max));
  }
  return v;
}

}  // namespace tieup::commerce

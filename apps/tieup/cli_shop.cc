// `tieup main product|order ...` and `tieup partner product|order ...`: the managers' shop
// commands (the work is in commerce/manager_cli.h). They open the site's database directly, so
// they work whether or not the daemon runs.
#include <cstdlib>

#include "cli.h"
#include "commerce/manager_cli.h"
#include "main_site/shop_service.h"
#include "partner_site/shop_service.h"
#include "store/database.h"

namespace tieup::cli {
namespace {

// The shop of the site at `dir`, of the role the command was given under.
struct ShopSession {
  std::unique_ptr<Database> db;
  std::unique_ptr<commerce::MailOutbox> outbox;
  std::unique_ptr<commerce::Shop> shop;
};

Result<ShopSession> OpenShop(Env& env, const std::string& dir, SiteRole want) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, want));
  ShopSession s;
  ASSIGN_OR_RETURN(s.db, OpenSiteDatabase(config, dir));
  if (want == SiteRole::kMain) {
    ASSIGN_OR_RETURN(OpenedShop o, OpenMainShop(env, dir, config, *s.db));
    s.outbox = std::move(o.outbox);
    s.shop = std::move(o.shop);
  } else {
    ASSIGN_OR_RETURN(OpenedPartnerShop o, OpenPartnerShop(env, dir, config, *s.db));
    s.outbox = std::move(o.outbox);
    s.shop = std::move(o.shop);
  }
  return s;
}

std::string Actor() {
  const char* user = std::getenv("USER");
  return std::string("manager:") + (user != nullptr && *user != '\0' ? user : "cli");
}

// Runs `fn` on the opened shop and prints its text.
Status RunOnShop(Env& env, const std::string& dir, SiteRole role,
                 const std::function<Result<std::string>(commerce::Shop&)>& fn) {
  ASSIGN_OR_RETURN(ShopSession s, OpenShop(env, dir, role));
  ASSIGN_OR_RETURN(std::string text, fn(*s.shop));
  std::fputs(text.c_str(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  return Status::Ok();
}

struct ShopArgs {
  std::string dir, sku, value, number, category, status, channel, note, carrier, tracking, reason;
  int limit = 50;
  commerce::ProductArgs product;
};

void AddShopCommandsTo(CLI::App& site, Context& ctx, SiteRole role) {
  const std::string who = role == SiteRole::kMain ? "main" : "partner";
  const std::string goods = role == SiteRole::kMain
                                ? "main's catalog (sold on main and, through tie-up pages, by "
                                  "partners)"
                                : "the partner's own goods (original pages)";
  auto a = std::make_shared<ShopArgs>();
  auto bind = [&ctx, a, role](CLI::App* cmd, std::function<Result<std::string>(commerce::Shop&)> (
                                                 *make)(const ShopArgs&)) {
    cmd->callback([&ctx, a, role, make] {
      ctx.action = [&ctx, a, role, make] { return RunOnShop(*ctx.env, a->dir, role, make(*a)); };
    });
  };
  auto dir_option = [a, who](CLI::App* cmd) {
    cmd->add_option("DIR", a->dir, "The " + who + " site's data directory")->required();
  };

  CLI::App* product = site.add_subcommand("product", "Manage " + goods);
  product->require_subcommand(1);

  CLI::App* add = product->add_subcommand("add", "Add a product");
  dir_option(add);
  add->add_option("--sku", a->product.sku, "Stock keeping unit: letters, digits, . _ -")
      ->required();
  add->add_option("--title", a->product.title, "The product's name")->required();
  add->add_option("--price", a->product.price, "Unit price in major units, e.g. 12.50")->required();
  add->add_option("--tax", a->product.tax_class, "Tax class: standard, reduced or none")
      ->default_str("standard");
  add->add_option("--stock", a->product.stock, "Units available to sell")->default_str("0");
  add->add_option("--category", a->product.category, "A category (routing rules can use it)");
  add->add_option("--description", a->product.description, "A description");
  add->add_option("--images", a->product.images, "Comma-separated image paths on the site");
  add->add_option("--page", a->product.page, "The product's page, e.g. /products/sencha.html");
  bind(add, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) { return commerce::CliProductAdd(s, x.product); };
  });

  CLI::App* ls = product->add_subcommand("ls", "List products with price, stock and holds");
  dir_option(ls);
  ls->add_option("--category", a->category, "Only this category");
  bind(ls, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) { return commerce::CliProductList(s, x.category); };
  });

  CLI::App* show = product->add_subcommand("show", "Show every field of a product");
  dir_option(show);
  show->add_option("SKU", a->sku, "The product")->required();
  bind(show, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) { return commerce::CliProductShow(s, x.sku); };
  });

  CLI::App* stock = product->add_subcommand(
      "set-stock",
      "Set the available stock: N, or +N / -N to add or take units (write -- before -N)");
  dir_option(stock);
  stock->add_option("SKU", a->sku, "The product")->required();
  stock->add_option("STOCK", a->value, "N, +N or -N")->required();
  bind(stock, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) { return commerce::CliProductSetStock(s, x.sku, x.value); };
  });

  CLI::App* price = product->add_subcommand(
      "set-price", role == SiteRole::kMain
                       ? "Set the unit price (major units). Pages that show the product (front "
                         "matter 'products:') are published again by 'tieup main serve' within "
                         "seconds, at main and at every partner (shop.catalog_publish)"
                       : "Set the unit price (major units)");
  dir_option(price);
  price->add_option("SKU", a->sku, "The product")->required();
  price->add_option("PRICE", a->value, "e.g. 12.50")->required();
  if (role == SiteRole::kMain) {
    bind(price, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
      return [x](commerce::Shop& s) -> Result<std::string> {
        ASSIGN_OR_RETURN(std::string text, commerce::CliProductSetPrice(s, x.sku, x.value));
        return text +
               "\nPages that show it are published again by the running 'tieup main serve' (or "
               "at the next 'tieup main publish').";
      };
    });
  } else {
    bind(price, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
      return [x](commerce::Shop& s) { return commerce::CliProductSetPrice(s, x.sku, x.value); };
    });
  }

  CLI::App* rm = product->add_subcommand("rm", "Remove a product (orders keep their copy)");
  dir_option(rm);
  rm->add_option("SKU", a->sku, "The product")->required();
  bind(rm, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) { return commerce::CliProductRemove(s, x.sku); };
  });

  CLI::App* order = site.add_subcommand(
      "order", role == SiteRole::kMain
                   ? "Manage main's orders (including those partners delegated: CHANNEL is the "
                     "partner)"
                   : "Manage the partner's own orders (local and consult mode)");
  order->require_subcommand(1);

  CLI::App* ols = order->add_subcommand("ls", "List orders, newest first");
  dir_option(ols);
  ols->add_option("--status", a->status, "placed, paid, shipped, delivered or cancelled");
  ols->add_option("--channel", a->channel, "Only orders through this site (main or a partner id)");
  ols->add_option("--limit", a->limit, "At most this many")->default_val(50);
  bind(ols, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return
        [x](commerce::Shop& s) { return commerce::CliOrderList(s, x.status, x.channel, x.limit); };
  });

  CLI::App* oshow =
      order->add_subcommand("show", "Show an order: lines, totals, customer, payment, history");
  dir_option(oshow);
  oshow->add_option("NUMBER", a->number, "The order number, e.g. M-000042")->required();
  bind(oshow, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) { return commerce::CliOrderShow(s, x.number); };
  });

  CLI::App* paid = order->add_subcommand("mark-paid", "Record the payment of an order");
  dir_option(paid);
  paid->add_option("NUMBER", a->number, "The order number")->required();
  paid->add_option("--note", a->note, "How it was paid, e.g. 'transfer of 3 May'");
  bind(paid, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return
        [x](commerce::Shop& s) { return commerce::CliOrderMarkPaid(s, x.number, Actor(), x.note); };
  });

  CLI::App* ship = order->add_subcommand("ship", "Record the shipment (mails a shipping notice)");
  dir_option(ship);
  ship->add_option("NUMBER", a->number, "The order number")->required();
  ship->add_option("--carrier", a->carrier, "The carrier, e.g. DHL")->required();
  ship->add_option("--tracking", a->tracking, "The tracking number")->required();
  bind(ship, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) {
      return commerce::CliOrderShip(s, x.number, x.carrier, x.tracking, Actor());
    };
  });

  CLI::App* shipment = order->add_subcommand(
      "shipment", "Update the shipment: in_transit, out_for_delivery, delivered, delivery_failed");
  dir_option(shipment);
  shipment->add_option("NUMBER", a->number, "The order number")->required();
  shipment->add_option("STATUS", a->status, "The new shipment status")->required();
  shipment->add_option("--note", a->note, "A note for the history");
  bind(shipment, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) {
      return commerce::CliOrderShipment(s, x.number, x.status, Actor(), x.note);
    };
  });

  CLI::App* deliver = order->add_subcommand("deliver", "Mark an order delivered");
  dir_option(deliver);
  deliver->add_option("NUMBER", a->number, "The order number")->required();
  bind(deliver, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return [x](commerce::Shop& s) { return commerce::CliOrderDeliver(s, x.number, Actor()); };
  });

  CLI::App* cancel =
      order->add_subcommand("cancel", "Cancel a placed or paid order; its stock is returned");
  dir_option(cancel);
  cancel->add_option("NUMBER", a->number, "The order number")->required();
  cancel->add_option("--reason", a->reason, "Why (kept in the order's history)")->required();
  bind(cancel, [](const ShopArgs& x) -> std::function<Result<std::string>(commerce::Shop&)> {
    return
        [x](commerce::Shop& s) { return commerce::CliOrderCancel(s, x.number, Actor(), x.reason); };
  });
}

}  // namespace

void AddShopCommands(CLI::App& app, Context& ctx) {
  for (auto [name, role] : {std::pair<const char*, SiteRole>{"main", SiteRole::kMain},
                            std::pair<const char*, SiteRole>{"partner", SiteRole::kPartner}}) {
    CLI::App* site = app.get_subcommand(name);
    AddShopCommandsTo(*site, ctx, role);
  }
}

}  // namespace tieup::cli

#include "demo_content.h"

namespace tieup::demo {

std::vector<std::pair<std::string, std::string>> MainAuthoringFiles() {
  std::vector<std::pair<std::string, std::string>> files;
  files.emplace_back("layouts/default.mustache", R"(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} | {{site.name}}</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/cart.js" defer></script>
</head>
<body>
<header class="brand">
  <a href="/"><img src="/assets/logo.svg" alt="" width="40" height="40"> Sakura Tea</a>
  {{#partner.name}}<span class="partner">at {{partner.name}}, {{partner.region}}</span>{{/partner.name}}
  <form class="search-box" action="/search" method="get" role="search"><input type="search" name="q" placeholder="Search teas, 玉露..." aria-label="Search this shop" maxlength="200"><button type="submit">Search</button></form>
  <nav><a href="/products/">Teas</a> <a href="/news/">News</a>{{#partner.name}} <a href="/local/">Local specials</a>{{/partner.name}} <a href="{{account_url}}" data-account-link>{{account_label}}</a> <a class="cart-link" href="/shop/cart">Cart <span class="cart-count" data-cart-count>{{cart_count}}</span></a></nav>
</header>
<main>
{{{content}}}
</main>
<aside class="ads">{{> ad_main}}{{> ad_partner}}</aside>
<footer>Sakura Tea Co. {{#partner.name}}&middot; partner shop {{partner.name}}{{/partner.name}}</footer>
</body>
</html>
)");
  files.emplace_back("pages/index.md", R"(---
title: Welcome
---
# Fresh tea from Uji and Shizuoka

Welcome to **Sakura Tea**{{#partner.name}}, served by our partner shop *{{partner.name}}* in {{partner.region}}{{/partner.name}}.

- [Our teas](/products/)
- [News](/news/)
)");
  // Product pages name their products in the front matter: title, price and stock state come
  // from main's catalog (`tieup main product set-price` changes every page that shows it).
  files.emplace_back("pages/products/index.md", R"(---
title: Our teas
products: *
---
# Our teas

| Tea | Price | Availability |
|---|---|---|
{{#products}}
| [{{title}}]({{page_path}}) | {{price}} | {{stock_state}} |
{{/products}}
)");
  auto product_page = [&](const std::string& file, const std::string& title, const std::string& sku,
                          const std::string& text, const std::string& unit) {
    files.emplace_back("pages/products/" + file,
                       "---\ntitle: " + title + "\nproducts: " + sku +
                           "\n---\n# {{product.title}}\n\n" + text + "\n\n**{{product.price}}** " +
                           unit +
                           " &middot; <span class=\"stock\">{{product.stock_state}}"
                           "</span>\n\n"
                           "{{#product.in_stock}}<form method=\"post\" "
                           "action=\"/shop/cart/add\"><input type=\"hidden\" "
                           "name=\"sku\" value=\"{{product.sku}}\"><label>Quantity "
                           "<input type=\"number\" name=\"qty\" value=\"1\" min=\"1\" "
                           "max=\"20\"></label> <button>Add to cart</button></form>"
                           "{{/product.in_stock}}\n"
                           "{{#product.sold_out}}<p class=\"problem\">Sold out for "
                           "now: back soon.</p>{{/product.sold_out}}\n\n"
                           "[Your cart](/shop/cart)\n\n"
                           // What customers across the network bought with it (main's
                           // recommendations; never a sold-out tea).
                           "{{#product.has_also_bought}}<section class=\"also-bought\" "
                           "data-nosnippet>"
                           "<h2>Customers who bought this also bought</h2><ul>"
                           "{{#product.also_bought}}<li><a href=\"{{page_path}}\">{{title}}</a> "
                           "{{price}}</li>{{/product.also_bought}}</ul></section>"
                           "{{/product.has_also_bought}}\n");
  };
  product_page("sencha.md", "Sencha Asahi", "SENCHA-100",
               "A bright, grassy first-flush sencha from Shizuoka. Steep 1 minute at 70 °C.\n\n"
               "静岡の一番茶。さわやかな香りの煎茶です。",
               "per 100 g");
  product_page("gyokuro.md", "Gyokuro Kin", "GYOKURO-50",
               "Shade-grown for three weeks; sweet and deep. Steep 2 minutes at 55 °C.\n\n"
               "三週間、日陰で育てた甘くて深い味わいの玉露です。",
               "per 50 g");
  product_page("hojicha.md", "Hojicha Roast", "HOJICHA-100",
               "Roasted green tea with a nutty aroma and little caffeine.\n\n"
               "香ばしい焙じ茶。カフェインが少なく、夜にもどうぞ。",
               "per 100 g");
  files.emplace_back("pages/news/index.md", R"(---
title: News
---
# News

- [The first flush has arrived](/news/first-flush.html)
)");
  files.emplace_back("pages/news/first-flush.md", R"(---
title: The first flush has arrived
---
# The first flush has arrived

This year's first-flush sencha is in stock at every Sakura Tea shop.
)");
  // The routing table shipped to every partner with its tie-up release: a checkout of tie-up
  // goods is delegated to main (inventory, payment, delivery); original goods stay local.
  files.emplace_back("pages/.tieup/routing.json", R"({
  "rules": [
    {"name": "tie-up checkouts go to main", "path": "/shop/checkout", "methods": ["POST"],
     "mode": "delegate"}
  ]
}
)");
  files.emplace_back("pages/404.md", R"(---
title: Page not found
---
# Page not found

We could not find that page. Try the [front page](/).
)");
  files.emplace_back(
      "assets/style.css",
      R"(body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fffaf6}
header.brand{display:flex;gap:1em;align-items:center;padding:.6em 1.2em;background:#7a1f3d;color:#fff}
header.brand a{color:#fff;text-decoration:none;font-weight:600}
header.brand>a:first-child{display:inline-flex;align-items:center;gap:.45em}
header.brand nav{margin-left:auto;display:flex;gap:1em}
header.brand .partner{font-size:.9em;opacity:.9}
header.brand form.search-box{display:flex;gap:.3em}header.brand form.search-box input{padding:.3em .5em;border:0;border-radius:4px;font:inherit;width:12em}
header.brand form.search-box button{background:#fff;color:#7a1f3d;padding:.3em .7em}
form.search-form{display:flex;gap:.5em;align-items:center;flex-wrap:wrap}form.search-form input{flex:1 1 16em;padding:.45em;border:1px solid #c9b8bd;border-radius:4px;font:inherit}
ol.search-results{padding-left:1.4em}ol.search-results li{margin:1em 0}a.search-title{font-weight:600;font-size:1.1em;color:#7a1f3d}
.search-snippet{margin:.2em 0}.search-snippet mark{background:#fbe3ea}.search-path{color:#777;font-size:.85em}
.search-own{font-size:.8em;background:#eef6ee;color:#2e7d32;border-radius:3px;padding:0 .4em}.search-price{font-weight:600;margin-left:.6em}.stock.sold-out{color:#a00}
nav.search-paging{display:flex;gap:.6em;margin:1.2em 0}
header.brand .cart-count{display:inline-block;min-width:1.4em;padding:0 .35em;border-radius:.7em;background:#fff;color:#7a1f3d;text-align:center;font-size:.85em}
main{max-width:52em;margin:1.5em auto;padding:0 1.2em;line-height:1.55}
table{border-collapse:collapse;margin:.8em 0}td,th{border-bottom:1px solid #e5d5da;padding:.4em .7em;text-align:left;vertical-align:top}
table.cart,table.lines{width:100%}table.totals{margin-left:auto;min-width:18em}
.num{text-align:right}
footer{text-align:center;color:#777;font-size:.85em;padding:2em}
.original{border-left:4px solid #2e7d32;padding-left:1em}
.notice{background:#eef6ee;border-left:4px solid #2e7d32;padding:.6em .9em}
.problem{background:#fbeaea;border-left:4px solid #a00;padding:.6em .9em}
.error{display:block;color:#a00;font-size:.9em}
form.fields label{display:block;margin-top:.8em;font-weight:600}
form.fields label.choice{font-weight:normal}
form.fields input[type=text],form.fields input[type=email],form.fields input[type=tel],form.fields input[type=password]{display:block;box-sizing:border-box;width:100%;max-width:28em;padding:.4em;border:1px solid #c9b8bd;border-radius:4px;font:inherit}
form.inline{display:inline}
input[type=number]{width:4.5em;padding:.3em;font:inherit}
button,a.button{display:inline-block;background:#7a1f3d;color:#fff;border:0;border-radius:4px;padding:.45em 1em;font:inherit;cursor:pointer;text-decoration:none}
a.button strong{color:#fff}
pre.payment{white-space:pre-wrap;background:#f6eef0;padding:.6em;font:inherit}
section.order{border:1px solid #e5d5da;border-radius:6px;padding:0 1em;margin:1em 0;background:#fff}
.grand-total{font-size:1.1em}
.stock{color:#2e7d32;font-size:.95em}
aside.ads{max-width:52em;margin:0 auto;padding:0 1.2em;display:flex;flex-wrap:wrap;gap:1em}
iframe.tieup-ad{flex:1 1 20em;height:4.5em;border:0}
)");
  // Main's ads ({{> ad_main}} in the layout): every partner shows them in turn, and records
  // each showing and click in its ledger for the advertising line of its fee statement.
  files.emplace_back(
      "pages/.tieup/ads.toml",
      R"(# Main's ads, shown in the layout's {{> ad_main}} slot on every site (see the README, Ads).
[[ad]]
id = "gyokuro-shade"
text = "Gyokuro Kin: three weeks in the shade, sweet and deep"
image = "/assets/ads/gyokuro.svg"
link = "/products/gyokuro.html"

[[ad]]
id = "hojicha-evening"
text = "Hojicha Roast: the evening tea with little caffeine"
image = "/assets/ads/hojicha.svg"
link = "/products/hojicha.html"
)");
  files.emplace_back(
      "assets/ads/gyokuro.svg",
      R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><rect width="48" height="48" rx="8" fill="#2e5e3a"/><path d="M14 30h20l-2 8H16z" fill="#e8f0e0"/><path d="M24 10c6 6 6 12 0 18c-6-6-6-12 0-18z" fill="#9fcf7f"/></svg>
)");
  files.emplace_back(
      "assets/ads/hojicha.svg",
      R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><rect width="48" height="48" rx="8" fill="#7a4a24"/><path d="M14 30h20l-2 8H16z" fill="#f3e6d6"/><circle cx="24" cy="20" r="7" fill="#c98a4b"/></svg>
)");
  // assets/cart.js is the starter's (`tieup main init`): the header's cart count and account link.
  files.emplace_back(
      "assets/logo.svg",
      R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><circle cx="20" cy="20" r="19" fill="#f4c2d0"/><path d="M20 8c4 6 4 12 0 24c-4-12-4-18 0-24z" fill="#7a1f3d"/></svg>
)");
  return files;
}

std::vector<std::pair<std::string, std::string>> PartnerOriginalPages(const std::string& name,
                                                                      const std::string& region) {
  const std::string head =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<link rel=\"stylesheet\" href=\"/assets/style.css\"><script src=\"/assets/cart.js\" "
      "defer></script><title>Local specials | " +
      name + "</title></head><body><header class=\"brand\"><a href=\"/\">" + name +
      "</a><nav><a href=\"/\">Sakura Tea home</a> <a class=\"cart-link\" href=\"/shop/cart\">Cart "
      "<span class=\"cart-count\" data-cart-count></span></a></nav></header><main "
      "class=\"original\">";
  const std::string tail = "</main><footer>" + name + ", " + region + "</footer></body></html>\n";
  return {
      // The shop's own ads ({{> ad_partner}} in main's layout).
      {"/.tieup/partner-ads.toml", "[[ad]]\nid = \"wagashi\"\ntext = \"" + name +
                                       ": wagashi of the season, made in " + region +
                                       "\"\nlink = \"/local/wagashi.html\"\n"},
      {"/local/index.html", head + "<h1>Local specials at " + name + "</h1><p>These pages are " +
                                name +
                                "'s own (original pages), edited only by the shop.</p>"
                                "<ul><li><a href=\"/local/wagashi.html\">Wagashi of the "
                                "season</a></li></ul>" +
                                tail},
      {"/local/wagashi.html",
       head + "<h1>Wagashi of the season</h1><p>Hand-made sweets from a " + region +
           " confectioner, to go with your tea. <strong>600 JPY</strong> a box.</p>"
           "<p lang=\"ja\">季節の和菓子。地元の菓子職人の手作りです。</p>"
           "<form method=\"post\" action=\"/shop/cart/add\"><input type=\"hidden\" "
           "name=\"sku\" value=\"WAGASHI-BOX\"><label>Quantity <input type=\"number\" "
           "name=\"qty\" value=\"1\" min=\"1\" max=\"20\"></label> <button>Add to "
           "cart</button></form><p><a href=\"/shop/cart\">Your cart</a></p>" +
           tail},
  };
}

std::string PartnerContract(const std::string& id) {
  return "# Demo partnership contract for " + id +
         " (see docs/fee-contract-example.toml).\n"
         "partner = \"" +
         id +
         "\"\n"
         "kind = \"contents\"\n"
         "currency = \"JPY\"\n"
         "rounding = \"half-even\"\n"
         "base_fee = 30000\n"
         "\n[services.security]\nenabled = true\nprice = 5000\n"
         "\n[services.marketing]\nenabled = true\nprice = 3000\n"
         "\n[[content_tiers]]\nmeasure = \"tieup_pages\"\nfrom = 0\nfee = 1000\n"
         "\n[[content_tiers]]\nmeasure = \"tieup_pages\"\nfrom = 100\nfee = 4000\n"
         "\n[access_discount]\nmax_percent = 30\nat_original_share_percent = 50\n"
         "\n[[volume.tiers]]\nthreshold_accesses = 100000\ndiscount_percent = 5\n"
         "\n[transactions]\npercent_bp = 250\nfixed_minor = 30\n";
}

std::string CampaignMail() {
  return R"(Hello {{customer.name}},

the first teas of the new season have arrived at **{{partner.name}}**{{#partner.region}} in {{partner.region}}{{/partner.region}}.
Come and taste them: [see our teas]({{partner.url}}/products/).

{{#recommended}}
- [{{title}}]({{url}}), {{price}}
{{/recommended}}

With warm regards,
{{partner.name}}
)";
}

}  // namespace tieup::demo

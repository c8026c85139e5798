// PageTemplates: the pages a site makes at run time (cart, checkout, order status, account...)
// rendered as mustache templates (kainjow) inside the layout of the site's active release.
//
// The shell. BuildRelease (content/builder.h) emits, with every release whose authoring
// directory has layouts/default.mustache, the machine file kPageShellPath: the default layout
// rendered with the site's variables, but with kShellTitleMarker for {{title}},
// kShellContentMarker for {{{content}}}, kShellCartCountMarker for {{cart_count}} and the
// account link's markers. A page is that shell with the markers replaced by the escaped title,
// the page's body, the number of items in the visitor's cart and the signed-in customer's link.
// Without a release (or without the file, or when the file lacks the content marker), a plain
// built-in shell (content/templates/fallback_shell.mustache) is used.
//
// The templates. Each handler gives its built-in templates (compiled-in .mustache files); the
// active release may replace any of them with kPageTemplatesDir + "<name>.mustache" (main
// restyles the shop everywhere by publishing). A replacement that does not parse or render is
// ignored (the built-in one is used, and PageSite::warn is told). Templates whose name starts
// with '_' are partials: {{> _totals}} includes the template "_totals" (replaceable as well).
//
// Data comes as JSON (boost::json): strings, numbers and booleans are values, arrays are lists,
// objects are sections. {{name}} escapes HTML (as base/encoding.h HtmlEscape); {{{name}}} is for
// trusted markup only. Only files of the area named in PageSite::area are used (a partner takes
// main's tie-up release, never its own original pages). Thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "content/release.h"
#include "content/site_view.h"

namespace tieup::content {

// Where the builder puts the rendered default layout of a release.
inline constexpr std::string_view kPageShellPath = "/.tieup/page-shell.tmpl";
// Markers of the shell: control characters that no layout or variable holds.
inline constexpr std::string_view kShellTitleMarker = "\x01tieup:title\x01";
inline constexpr std::string_view kShellContentMarker = "\x01tieup:content\x01";
inline constexpr std::string_view kShellCartCountMarker = "\x01tieup:cart_count\x01";
// The layout's account link: {{account_url}} and {{account_label}}. Static pages get the
// sign-in link (kSignInUrl, kSignInLabel; the starter layout's script shows the signed-in
// customer from the kCustomerCookie cookie); a page made at run time for a signed-in customer
// gets kAccountUrl and "Signed in as NAME".
inline constexpr std::string_view kShellAccountUrlMarker = "\x01tieup:account_url\x01";
inline constexpr std::string_view kShellAccountLabelMarker = "\x01tieup:account_label\x01";
inline constexpr std::string_view kSignInUrl = "/account/login";
inline constexpr std::string_view kSignInLabel = "Sign in";
inline constexpr std::string_view kAccountUrl = "/account/";
// The customer's display name, URL-encoded, for the layouts' scripts (not a secret: what the
// header shows; the session itself is an HttpOnly cookie, users/sessions.h).
inline constexpr std::string_view kCustomerCookie = "tieup_customer";
// A release's replacement of template NAME is kPageTemplatesDir + NAME + ".mustache".
inline constexpr std::string_view kPageTemplatesDir = "/.tieup/templates/";
// Kind `template` (BuildOptions::layout_shells): every layout NAME of main's, rendered as the
// page shell is, at kLayoutShellsDir + NAME + ".tmpl", so that a partner renders its own pages
// into it (content/markdown_page.h). Under /.tieup/: never served to browsers.
inline constexpr std::string_view kLayoutShellsDir = "/.tieup/layouts/";

// (name, mustache source) pairs, as tieup_embed_files() (cmake/TieupEmbed.cmake) makes them.
using EmbeddedTemplates = std::vector<std::pair<std::string_view, std::string_view>>;

// The site whose layout the pages wear.
struct PageSite {
  // The served content now; null (or a null result): no release, the built-in shell.
  std::function<std::shared_ptr<const SiteView>()> view;
  // Only files of this area are used (main: its own site, kOriginal; a partner: kTieup).
  Area area = Area::kOriginal;
  // For the built-in shell's title and header.
  std::string site_name;
  // Told when a release's template or shell could not be used (and the built-in one was).
  std::function<void(const std::string& message)> warn;
};

// What the shell of a page shows around its body.
struct PageFrame {
  PageFrame(std::string title, std::optional<int64_t> cart_count = std::nullopt,
            std::optional<std::string> customer_name = std::nullopt)
      : title(std::move(title)), cart_count(cart_count), customer_name(std::move(customer_name)) {}

  std::string title;  // plain text: escaped into the shell
  // The number of items in the visitor's cart, for the header; nullopt: not known (the shell
  // shows nothing, and the layout's script may fill it from the cart cookie).
  std::optional<int64_t> cart_count;
  // The signed-in customer's display name, for the header's account link; nullopt: none.
  std::optional<std::string> customer_name;
};

// The account link's URL and label for `frame` (see kShellAccountUrlMarker).
std::string AccountUrlFor(const PageFrame& frame);
std::string AccountLabelFor(const PageFrame& frame);

class PageTemplates {
 public:
  // `defaults`: the built-in templates (views into static storage). `site`: see PageSite.
  PageTemplates(const EmbeddedTemplates& defaults, PageSite site);
  // The same with several sets of built-in templates (a later set's name wins).
  PageTemplates(const std::vector<const EmbeddedTemplates*>& defaults, PageSite site);

  // The whole page: template `name` rendered with `data` (a JSON object), in the shell.
  // NotFound when no template has that name; InvalidArgument when the built-in template fails.
  Result<std::string> Render(std::string_view name, const PageFrame& frame,
                             const boost::json::value& data) const;

  // Template `name` rendered with `data`, without the shell.
  Result<std::string> RenderBody(std::string_view name, const boost::json::value& data) const;

  // `body_html` (trusted markup) in the shell of the active release (or the built-in one).
  std::string InShell(const PageFrame& frame, std::string_view body_html) const;

  // True iff a built-in template is called `name`.
  bool HasTemplate(std::string_view name) const;

 private:
  struct Source {
    std::string text;
    std::string label;  // how messages name it
  };
  // The template `name` as the active release has it, or the built-in one; nullopt if neither.
  std::optional<Source> Find(const SiteView* view, std::string_view name, bool* overridden) const;
  Result<std::string> RenderWith(const SiteView* view, std::string_view name,
                                 const boost::json::value& data) const;
  std::shared_ptr<const SiteView> View() const;
  void Warn(const std::string& message) const;

  std::map<std::string, std::string_view, std::less<>> defaults_;
  PageSite site_;
};

// `shell` (the page shell or a layout shell) with its markers replaced by the escaped title, the
// cart count (empty when unknown) and `body_html` (trusted markup, never searched for markers);
// nullopt when `shell` has no content marker. PageTemplates::InShell uses it.
std::optional<std::string> FillPageShell(std::string_view shell, const PageFrame& frame,
                                         std::string_view body_html);

// Renders a mustache `source` with `data` (JSON, as above) using HtmlEscape for {{ }};
// `partials` (name -> source) are offered as {{> name}}. InvalidArgument naming `label` when
// the template is malformed or fails.
Result<std::string> RenderMustacheJson(std::string_view source, const boost::json::value& data,
                                       const std::string& label,
                                       const std::map<std::string, std::string>& partials = {});

}  // namespace tieup::content

#include "content/page_templates.h"

#include <boost/json.hpp>
#include <kainjow/mustache.hpp>

#include "base/encoding.h"

namespace tieup::content {

// The built-in shell (content/templates/*.mustache, compiled in by tieup_embed_files).
const EmbeddedTemplates& EmbeddedShellTemplates();

namespace {

namespace json = boost::json;
namespace mustache = kainjow::mustache;

mustache::data ToData(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: {
      mustache::data out{mustache::data::type::object};
      for (const auto& [k, child] : v.get_object()) out.set(std::string(k), ToData(child));
      return out;
    }
    case json::kind::array: {
      mustache::data out{mustache::data::type::list};
      for (const json::value& child : v.get_array()) out.push_back(ToData(child));
      return out;
    }
    case json::kind::string:
      return mustache::data(std::string(v.get_string()));
    case json::kind::bool_:
      return mustache::data(v.get_bool());
    case json::kind::int64:
      return mustache::data(std::to_string(v.get_int64()));
    case json::kind::uint64:
      return mustache::data(std::to_string(v.get_uint64()));
    case json::kind::double_:
      return mustache::data(json::serialize(v));
    case json::kind::null:
      break;
  }
  return mustache::data(false);
}

void ReplaceAll(std::string& text, std::string_view marker, std::string_view with) {
  size_t pos = 0;
  while ((pos = text.find(marker, pos)) != std::string::npos) {
    text.replace(pos, marker.size(), with);
    pos += with.size();
  }
}

}  // namespace

std::string AccountUrlFor(const PageFrame& frame) {
  return std::string(frame.customer_name ? kAccountUrl : kSignInUrl);
}

std::string AccountLabelFor(const PageFrame& frame) {
  return frame.customer_name ? "Signed in as " + *frame.customer_name : std::string(kSignInLabel);
}

std::optional<std::string> FillPageShell(std::string_view shell, const PageFrame& frame,
                                         std::string_view body_html) {
  if (shell.find(kShellContentMarker) == std::string_view::npos) return std::nullopt;
  // The body goes in last: its own text is never searched for markers.
  std::string page(shell);
  ReplaceAll(page, kShellTitleMarker, HtmlEscape(frame.title));
  ReplaceAll(page, kShellCartCountMarker,
             frame.cart_count ? std::to_string(*frame.cart_count) : "");
  ReplaceAll(page, kShellAccountUrlMarker, HtmlEscape(AccountUrlFor(frame)));
  ReplaceAll(page, kShellAccountLabelMarker, HtmlEscape(AccountLabelFor(frame)));
  const size_t at = page.find(kShellContentMarker);
  std::string out = page.substr(0, at);
  out += body_html;
  std::string rest = page.substr(at + kShellContentMarker.size());
  ReplaceAll(rest, kShellContentMarker, "");  // a layout with {{{content}}} twice
  out += rest;
  return out;
}

Result<std::string> RenderMustacheJson(std::string_view source, const json::value& data,
                                       const std::string& label,
                                       const std::map<std::string, std::string>& partials) {
  try {
    mustache::mustache m{std::string(source)};
    if (!m.is_valid()) {
      return Status::InvalidArgument(label + ": bad template: " + m.error_message());
    }
    m.set_custom_escape([](const std::string& s) { return HtmlEscape(s); });
    mustache::data root = data.is_object() ? ToData(data) : mustache::data{};
    for (const auto& [name, text] : partials) {
      root.set(name, mustache::partial([text = text] { return text; }));
    }
    std::string out = m.render(root);
    if (!m.is_valid()) {
      return Status::InvalidArgument(label + ": template failed: " + m.error_message());
    }
    return out;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(label + ": template failed: " + e.what());
  }
}

PageTemplates::PageTemplates(const EmbeddedTemplates& defaults, PageSite site)
    : PageTemplates(std::vector<const EmbeddedTemplates*>{&defaults}, std::move(site)) {}

PageTemplates::PageTemplates(const std::vector<const EmbeddedTemplates*>& defaults, PageSite site)
    : site_(std::move(site)) {
  for (const auto& [name, text] : EmbeddedShellTemplates()) defaults_[std::string(name)] = text;
  for (const EmbeddedTemplates* set : defaults) {
    for (const auto& [name, text] : *set) defaults_[std::string(name)] = text;
  }
}

bool PageTemplates::HasTemplate(std::string_view name) const { return defaults_.contains(name); }

std::shared_ptr<const SiteView> PageTemplates::View() const {
  return site_.view ? site_.view() : nullptr;
}

void PageTemplates::Warn(const std::string& message) const {
  if (site_.warn) site_.warn(message);
}

std::optional<PageTemplates::Source> PageTemplates::Find(const SiteView* view,
                                                         std::string_view name,
                                                         bool* overridden) const {
  *overridden = false;
  if (view != nullptr) {
    const std::string path = std::string(kPageTemplatesDir) + std::string(name) + ".mustache";
    const ServedFile* f = view->Find(path);
    if (f != nullptr && f->area == site_.area && !f->unavailable) {
      auto body = view->ReadBody(*f);
      if (body.ok()) {
        *overridden = true;
        return Source{**body, "the release's " + path};
      }
      Warn("page template " + path + " is unreadable (" + body.status().message() +
           "): the built-in one is used");
    }
  }
  auto it = defaults_.find(name);
  if (it == defaults_.end()) return std::nullopt;
  return Source{std::string(it->second), "built-in template " + std::string(name)};
}

Result<std::string> PageTemplates::RenderWith(const SiteView* view, std::string_view name,
                                              const json::value& data) const {
  bool overridden = false;
  std::optional<Source> source = Find(view, name, &overridden);
  if (!source) return Status::NotFound("no page template is called '" + std::string(name) + "'");
  // Partials: every template whose name starts with '_', as the release has it.
  std::map<std::string, std::string> partials;
  bool any_partial_overridden = false;
  for (const auto& [partial_name, text] : defaults_) {
    if (!partial_name.starts_with('_')) continue;
    bool o = false;
    std::optional<Source> p = Find(view, partial_name, &o);
    any_partial_overridden = any_partial_overridden || o;
    partials[partial_name] = p ? p->text : std::string(text);
  }
  Result<std::string> out = RenderMustacheJson(source->text, data, source->label, partials);
  if (out.ok() || (!overridden && !any_partial_overridden)) return out;
  Warn(out.status().message() + ": the built-in template is used");
  return RenderWith(nullptr, name, data);
}

Result<std::string> PageTemplates::RenderBody(std::string_view name,
                                              const json::value& data) const {
  std::shared_ptr<const SiteView> view = View();
  return RenderWith(view.get(), name, data);
}

Result<std::string> PageTemplates::Render(std::string_view name, const PageFrame& frame,
                                          const json::value& data) const {
  std::shared_ptr<const SiteView> view = View();
  ASSIGN_OR_RETURN(std::string body, RenderWith(view.get(), name, data));
  return InShell(frame, body);
}

std::string PageTemplates::InShell(const PageFrame& frame, std::string_view body_html) const {
  const std::string count = frame.cart_count ? std::to_string(*frame.cart_count) : "";
  std::shared_ptr<const SiteView> view = View();
  if (view != nullptr) {
    const ServedFile* f = view->Find(kPageShellPath);
    if (f != nullptr && f->area == site_.area && !f->unavailable) {
      auto body = view->ReadBody(*f);
      if (body.ok()) {
        if (auto page = FillPageShell(**body, frame, body_html)) return std::move(*page);
      }
      Warn(std::string(kPageShellPath) +
           (body.ok() ? " has no content marker" : " is unreadable: " + body.status().message()) +
           ": the built-in page shell is used");
    }
  }
  json::object data;
  data["title"] = frame.title;
  data["site_name"] = site_.site_name;
  if (frame.cart_count) data["cart_count"] = count;
  data["account_url"] = AccountUrlFor(frame);
  data["account_label"] = AccountLabelFor(frame);
  data["content"] = std::string(body_html);
  auto it = defaults_.find("fallback_shell");
  Result<std::string> page =
      it == defaults_.end()
          ? Result<std::string>(Status::Internal("no built-in page shell"))
          : RenderMustacheJson(it->second, data, "built-in template fallback_shell");
  if (page.ok()) return std::move(*page);
  Warn(page.status().message());
  return std::string(body_html);
}

}  // namespace tieup::content

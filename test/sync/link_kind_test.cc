// Kind link and link entries in the releases main builds (issue 15 item 2), with the real
// Publisher, Receiver, SQLite files and content stores of the sync fixture: a partnership of
// kind link gets links to main's pages, not copies; every link entry carries the partnership's
// link mode, which `partner set` changes for the next publish; a main without its public URL
// refuses a link release and names the setting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sync/link_release.h"
#include "sync/publisher.h"
#include "sync/receiver.h"
#include "sync/sync_fixture.h"

namespace tieup::sync {
namespace {

using ::testing::HasSubstr;
using testing::PartnerSite;
using ::testing::SizeIs;
using testing::SyncFixture;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

class LinkKindTest : public SyncFixture {
 protected:
  PublishOutcome Publish(const std::string& id) {
    auto outcomes = publisher_->PublishNow({id});
    EXPECT_THAT(outcomes, SizeIs(1));
    return outcomes.empty() ? PublishOutcome{} : outcomes[0];
  }
  std::shared_ptr<const content::ReleaseManifest> Active(PartnerSite& s) {
    auto active = s.store->Active(content::Area::kTieup);
    EXPECT_THAT(active, IsOk());
    return active.ok() ? *active : nullptr;
  }
};

TEST_F(LinkKindTest, AKindLinkReleaseHoldsLinksToMainsFilesAndNoCopies) {
  PartnerSite& a = AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "",
                              [](Partnership& p) { p.kind = PartnershipKind::kLink; });
  const PublishOutcome o = Publish("shop-a");
  ASSERT_THAT(o.status, IsOk());
  ASSERT_EQ(o.state, "activated");
  auto m = Active(a);
  ASSERT_NE(m, nullptr);
  size_t links = 0;
  for (const auto& [path, e] : m->files) {
    if (path.starts_with("/.tieup/")) {
      // The page shell stays: the partner's own pages and the link page wear main's layout.
      EXPECT_NE(e.method, content::UpdateMethod::kLink) << path;
      continue;
    }
    ++links;
    EXPECT_EQ(e.method, content::UpdateMethod::kLink) << path;
    EXPECT_EQ(e.link_url, "https://main.example" + path);
    EXPECT_EQ(e.link_mode, content::LinkMode::kRedirect) << path;
    EXPECT_EQ(e.hash, internal::kLinkBodyHash) << path;  // nothing of the page is copied
    EXPECT_EQ(e.length, 0u);
    EXPECT_FALSE(e.gzip.has_value());
  }
  EXPECT_EQ(links, 3u);  // index.html, about.html and assets/site.css
  EXPECT_TRUE(m->files.contains("/assets/site.css"));
  EXPECT_TRUE(m->files.contains("/.tieup/page-shell.tmpl"));
  EXPECT_EQ(a.Page("/about.html"), "");  // the empty body: never served
  // Fetched: the empty body once, and the shell.
  EXPECT_LE(MainLinkOf(a).fetched_bytes.load(), 200u);

  // An unchanged publish builds nothing new.
  EXPECT_EQ(Publish("shop-a").state, "up_to_date");
}

TEST_F(LinkKindTest, TheAssetsTheLayoutNamesAreShippedAsCopies) {
  Write(authoring_ + "/layouts/default.mustache",
        "<html><head><link rel=\"stylesheet\" href=\"/assets/site.css\">"
        "<link rel=\"stylesheet\" href=\"/assets/css/shop.css\"></head>"
        "<title>{{title}}</title><body>{{{content}}}</body></html>\n");
  Write(authoring_ + "/assets/site.css", "@font-face { src: url(fonts/tea.woff2); }\n");
  // A stylesheet in a folder of its own names its font from /assets/ down ("../fonts/...").
  Write(authoring_ + "/assets/css/shop.css", "@font-face { src: url(../fonts/green.woff2); }\n");
  Write(authoring_ + "/assets/fonts/green.woff2", "green font");
  Write(authoring_ + "/assets/fonts/tea.woff2", "font bytes");
  Write(authoring_ + "/assets/fonts/mytea.woff2", "another font");  // named by nothing
  Write(authoring_ + "/assets/logo.png", "png bytes");
  PartnerSite& a = AddPartner("shop-a", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "",
                              [](Partnership& p) { p.kind = PartnershipKind::kLink; });
  ASSERT_EQ(Publish("shop-a").state, "activated");
  auto m = Active(a);
  ASSERT_NE(m, nullptr);
  auto method = [&](const std::string& path) { return m->files.at(path).method; };
  EXPECT_EQ(method("/assets/site.css"), content::UpdateMethod::kStaged);
  EXPECT_EQ(method("/assets/fonts/tea.woff2"), content::UpdateMethod::kStaged);
  EXPECT_EQ(method("/assets/css/shop.css"), content::UpdateMethod::kStaged);
  EXPECT_EQ(method("/assets/fonts/green.woff2"), content::UpdateMethod::kStaged);
  EXPECT_EQ(a.Page("/assets/fonts/green.woff2"), "green font");
  EXPECT_EQ(method("/assets/fonts/mytea.woff2"), content::UpdateMethod::kLink);
  EXPECT_EQ(method("/assets/logo.png"), content::UpdateMethod::kLink);
  EXPECT_EQ(method("/index.html"), content::UpdateMethod::kLink);
  EXPECT_EQ(a.Page("/assets/fonts/tea.woff2"), "font bytes");

  // The layout names the logo from now on: the next release ships it, although the previous
  // one only linked to it.
  Write(authoring_ + "/layouts/default.mustache",
        "<html><head><link rel=\"stylesheet\" href=\"/assets/site.css\"></head>"
        "<title>{{title}}</title><body><img src=\"/assets/logo.png\">{{{content}}}</body>"
        "</html>\n");
  const PublishOutcome o = Publish("shop-a");
  ASSERT_THAT(o.status, IsOk());
  EXPECT_EQ(o.version, 2u);
  m = Active(a);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(method("/assets/logo.png"), content::UpdateMethod::kStaged);
  EXPECT_EQ(a.Page("/assets/logo.png"), "png bytes");
  EXPECT_EQ(method("/about.html"), content::UpdateMethod::kLink);
}

TEST_F(LinkKindTest, TheLinkModeOfThePartnershipIsSignedIntoEachLinkEntryAndChangesWithSet) {
  Write(authoring_ + "/pages/cart.md",
        "---\nmethod: link\nlink_url: https://main.example/cart\n---\nThe cart is on main.\n");
  PartnerSite& c = AddPartner("shop-c");  // contents, with one link page
  PartnerSite& l =
      AddPartner("shop-l", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "", [](Partnership& p) {
        p.kind = PartnershipKind::kLink;
        p.link_mode = content::LinkMode::kPage;
      });
  ASSERT_EQ(Publish("shop-c").version, 1u);
  ASSERT_EQ(Publish("shop-l").version, 1u);
  auto cm = Active(c);
  ASSERT_NE(cm, nullptr);
  const content::FileEntry& cart = cm->files.at("/cart.html");
  EXPECT_EQ(cart.method, content::UpdateMethod::kLink);
  EXPECT_EQ(cart.link_url, "https://main.example/cart");
  EXPECT_EQ(cart.link_mode, content::LinkMode::kRedirect);
  EXPECT_EQ(cart.hash, internal::kLinkBodyHash);
  EXPECT_THAT(c.Page("/about.html"), HasSubstr("About the main shop."));  // a copy, as before
  EXPECT_EQ(Active(l)->files.at("/about.html").link_mode, content::LinkMode::kPage);
  EXPECT_EQ(publisher_->GetPartnership("shop-l")->link_mode, content::LinkMode::kPage);

  // `partner set --link-mode`: recorded, and the next publish builds a new version with it.
  PartnershipChanges change;
  change.link_mode = "redirect-307";
  auto changed = publisher_->UpdatePartnership("shop-c", change, "tester@main.example");
  ASSERT_THAT(changed, IsOk());
  EXPECT_THAT(*changed, ::testing::ElementsAre("link mode: redirect -> redirect-307"));
  auto events = publisher_->Events("shop-c");
  ASSERT_THAT(events, IsOk());
  EXPECT_THAT(events->back().message,
              HasSubstr("settings changed by tester@main.example: link mode: redirect -> "
                        "redirect-307 (the next publish builds the partner's release again)"));
  const PublishOutcome o = Publish("shop-c");
  EXPECT_EQ(o.version, 2u);
  EXPECT_EQ(o.state, "activated");
  EXPECT_EQ(Active(c)->files.at("/cart.html").link_mode, content::LinkMode::kRedirect307);
  EXPECT_EQ(Active(c)->files.at("/about.html").link_mode, content::LinkMode::kRedirect);

  PartnershipChanges bad;
  bad.link_mode = "frame";
  std::vector<PartnershipFieldError> errors;
  EXPECT_THAT(publisher_->UpdatePartnership("shop-c", bad, "tester", &errors),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("link mode: unknown link mode")));
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].field, "link_mode");

  // Back to contents: copies again, with no link left over from kind link.
  PartnershipChanges copies;
  copies.kind = "contents";
  ASSERT_THAT(publisher_->UpdatePartnership("shop-l", copies, "tester"), IsOk());
  EXPECT_EQ(Publish("shop-l").version, 2u);
  EXPECT_EQ(Active(l)->files.at("/about.html").method, content::UpdateMethod::kStaged);
  EXPECT_EQ(Active(l)->files.at("/assets/site.css").method, content::UpdateMethod::kStaged);
  EXPECT_THAT(l.Page("/about.html"), HasSubstr("About the main shop."));
  EXPECT_EQ(Active(l)->files.at("/cart.html").link_mode, content::LinkMode::kPage);
}

TEST_F(LinkKindTest, WithoutMainsPublicUrlALinkReleaseIsRefusedNamingTheSetting) {
  PublisherOptions o;
  o.authoring_dir = authoring_;
  o.root_envelope = root_envelope_;  // and no public_url
  auto p = Publisher::Open(env_, *main_db_, *main_blobs_, partner_link_, release_key_, o);
  ASSERT_THAT(p, IsOk());
  publisher_owned_ = std::move(*p);
  publisher_ = publisher_owned_.get();
  AddPartner("shop-l", ApprovalPolicy::kAuto, ApprovalPolicy::kAuto, "",
             [](Partnership& x) { x.kind = PartnershipKind::kLink; });
  EXPECT_THAT(publisher_->BuildFor("shop-l"),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("set public_url in the [site] table of main's site.toml")));
  // A contents partnership needs no public URL, link pages included.
  Write(authoring_ + "/pages/cart.md",
        "---\nmethod: link\nlink_url: https://main.example/cart\n---\nThe cart is on main.\n");
  AddPartner("shop-c");
  EXPECT_THAT(publisher_->BuildFor("shop-c"), IsOk());
}

}  // namespace
}  // namespace tieup::sync

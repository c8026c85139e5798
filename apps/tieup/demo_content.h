// Sample content for `tieup demo`: a small tea shop on main, and each partner's own
// "local specials" pages. Embedded so the demo works from any directory.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tieup::demo {

// (relative path, bytes) pairs of main's authoring directory.
std::vector<std::pair<std::string, std::string>> MainAuthoringFiles();

// (URL path, content) pairs of a partner's original pages, and its own ad catalog.
std::vector<std::pair<std::string, std::string>> PartnerOriginalPages(const std::string& name,
                                                                      const std::string& region);

// A partnership contract (fees/contract.h format) for the demo partner `id`.
std::string PartnerContract(const std::string& id);

// The demo campaign's mail (Markdown with the variables of main_site/campaigns.h).
std::string CampaignMail();

}  // namespace tieup::demo

#include "console/site_options.h"

#include <utility>

#include "base/env.h"
#include "users/user_store.h"

namespace tieup::console {

Result<ConsoleOptions> ConsoleOptionsFor(const SiteConfig& config, const std::string& site_dir,
                                         std::string title, std::string cookie_name) {
  ConsoleOptions o;
  o.title = std::move(title);
  o.cookie_name = std::move(cookie_name);
  o.address = config.console_address.host;
  o.port = config.console_address.port;
  auto in_site = [&](const std::string& file) {
    return file.empty() || file[0] == '/' ? file : JoinPath(site_dir, file);
  };
  o.tls_certificate_file = in_site(config.console_tls_certificate);
  o.tls_key_file = in_site(config.console_tls_key);
  auto hashing = config.variables.find("users.password_hashing");
  if (hashing != config.variables.end()) {
    ASSIGN_OR_RETURN(o.managers.cost, users::PasswordHashCost::FromName(hashing->second));
  }
  return o;
}

}  // namespace tieup::console

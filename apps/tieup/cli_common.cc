#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "base/time_format.h"
#include "cli.h"
#include "commerce/money.h"
#include "net/http_server.h"
#include "store/database.h"

namespace tieup::cli {

std::shared_ptr<Logger> DaemonLogger(const std::string& site_dir, const std::string& name,
                                     bool json) {
  LogOptions o;
  o.file = site_dir + "/logs/tieup.log";
  o.also_stderr = true;
  o.json = json;
  return NewLogger(name, o);
}

void AddShopLocaleOptions(CLI::App& init, std::string* currency, std::string* time_zone,
                          std::string* locale) {
  init.add_option("--currency", *currency,
                  "The shop's currency, an ISO 4217 code (EUR, USD, JPY); every product is priced "
                  "in it")
      ->capture_default_str();
  init.add_option("--time-zone", *time_zone,
                  "The site's time zone (IANA: Asia/Tokyo, Europe/Berlin, UTC): times on pages, "
                  "mail and listings")
      ->capture_default_str();
  init.add_option("--locale", *locale,
                  "How amounts and dates are written (a language tag: en, en-GB, ja-JP, de)")
      ->capture_default_str();
}

Status ApplyShopLocale(const std::string& currency, const std::string& time_zone,
                       const std::string& locale, SiteConfig* config) {
  RETURN_IF_ERROR(commerce::ValidateCurrency(currency).Annotate("--currency"));
  RETURN_IF_ERROR(ValidateTimeZone(time_zone).Annotate("--time-zone"));
  RETURN_IF_ERROR(ValidateLocale(locale).Annotate("--locale"));
  config->time_zone = time_zone;
  config->locale = locale;
  config->variables["shop.currency"] = currency;
  return Status::Ok();
}

Result<SiteConfig> LoadSiteConfigFor(Env& env, const std::string& dir, SiteRole want) {
  ASSIGN_OR_RETURN(SiteConfig c, LoadSiteConfig(env, dir));
  if (c.role != want) {
    const std::string is(SiteRoleName(c.role));
    return Status::FailedPrecondition("'" + dir + "' is a " + is + " site and this is a 'tieup " +
                                      std::string(SiteRoleName(want)) + "' command: give it a " +
                                      std::string(SiteRoleName(want)) +
                                      " site's directory, or use 'tieup " + is + " ...' here");
  }
  return c;
}

void WaitForTermination(TerminationSignals& signals) {
  std::fflush(stdout);  // the URLs printed before must show even when piped
  std::fprintf(stderr, "Press Ctrl-C to stop.\n");
  signals.Wait();
  std::fprintf(stderr, "stopping...\n");
}

ProgressMeterOptions StderrMeterOptions(const std::string& unit) {
  ProgressMeterOptions o;
  o.unit = unit;
  const char* term = std::getenv("TERM");
  o.terminal = ::isatty(STDERR_FILENO) == 1 && term != nullptr && std::string_view(term) != "dumb";
  if (winsize w{}; o.terminal && ::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) {
    o.width = w.ws_col;
  }
  o.write = [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  };
  return o;
}

HostPort DefaultConsoleAddress(const HostPort& public_address) {
  const int port = public_address.port == 0 ? 0 : public_address.port + 2000;
  return HostPort{"127.0.0.1", static_cast<uint16_t>(port > 65535 ? 0 : port)};
}

Status CheckDistinctPorts(const HostPort& public_address, const HostPort& sync_address,
                          const HostPort& console_address, const HostPort& ops_address) {
  struct Named {
    const char* flag;
    const HostPort& address;
  };
  const Named all[] = {{"--public", public_address},
                       {"--sync", sync_address},
                       {"--console", console_address},
                       {"[ops] listen", ops_address}};
  // Two listeners clash on one port when they bind the same address, or when either binds
  // every address ("0.0.0.0", "::").
  auto overlap = [](const std::string& a, const std::string& b) {
    auto any = [](const std::string& h) { return h.empty() || h == "0.0.0.0" || h == "::"; };
    return a == b || any(a) || any(b);
  };
  for (size_t i = 0; i < std::size(all); ++i) {
    for (size_t j = i + 1; j < std::size(all); ++j) {
      if (all[i].address.port != 0 && all[i].address.port == all[j].address.port &&
          overlap(all[i].address.host, all[j].address.host)) {
        return Status::InvalidArgument(
            std::string(all[i].flag) + " and " + all[j].flag + " both use port " +
            std::to_string(all[i].address.port) +
            ": the site listens on several ports, give each its own (e.g. " + all[j].flag + " " +
            all[j].address.host + ":" + std::to_string(all[j].address.port + 1) + ")");
      }
    }
  }
  return Status::Ok();
}

std::string CommandLineUser() {
  const char* user = std::getenv("USER");
  return std::string("command line (") + (user != nullptr && *user ? user : "unknown user") + ")";
}

Result<std::unique_ptr<Database>> OpenSiteDb(Env& env, const std::string& dir, SiteRole want) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfigFor(env, dir, want));
  return OpenSiteDatabase(config, dir);
}

Result<std::unique_ptr<Database>> OpenMainDb(Env& env, const std::string& dir) {
  return OpenSiteDb(env, dir, SiteRole::kMain);
}

}  // namespace tieup::cli

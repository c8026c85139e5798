#include "cli.h"
#include "net/http_server.h"

namespace tieup::cli {

std::shared_ptr<Logger> DaemonLogger(const std::string& site_dir, const std::string& name) {
  LogOptions o;
  o.file = site_dir + "/logs/tieup.log";
  o.also_stderr = true;
  return NewLogger(name, o);
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

}  // namespace tieup::cli

#include "cli.h"
#include "net/http_server.h"

namespace tieup::cli {

std::shared_ptr<Logger> DaemonLogger(const std::string& site_dir, const std::string& name) {
  LogOptions o;
  o.file = site_dir + "/logs/tieup.log";
  o.also_stderr = true;
  return NewLogger(name, o);
}

void WaitForTermination(TerminationSignals& signals) {
  std::fflush(stdout);  // the URLs printed before must show even when piped
  std::fprintf(stderr, "Press Ctrl-C to stop.\n");
  signals.Wait();
  std::fprintf(stderr, "stopping...\n");
}

}  // namespace tieup::cli

// The partner simulator (issue 18 item 3): thousands of partners in one process, each running
// the sync side of a real partner daemon (partner_site/partner_sync.h: enrollment, the receiver
// that verifies, fetches, stages and activates main's releases, its own SQLite store and content
// store in its own site folder), so that one machine can measure a main site publishing to 1,000
// or 10,000 partners over real mutual TLS.
//
// Each simulated partner has its own loopback address (127.A.B.C, Address() below): its calls to
// main leave from it (main sees 10,000 clients, as it would, and applies its per-client limits to
// each), and main reaches its sync port there. One listening socket on 0.0.0.0:PORT serves every
// partner of the process: the TLS context, and so the certificate main checks, is picked by the
// local address main dialed (HttpServerOptions::tls_by_local_address), and the request goes to
// that partner's PartnerSync. A connection to any other address is closed unanswered.
//
//   tieup_partner_sim plan --count 1000 --port 7000 --processes 2 > partners.toml
//     the [[partner]] tables for 'tieup main partner import' (ids p00000.., sync URLs)
//   tieup_partner_sim serve --dir DIR --main https://127.0.0.1:9443 --codes codes.txt
//       --count 1000 --port 7000 --processes 2 --process 0 --status-port 7100
//     makes (first run) and enrolls each of its partners' site in DIR/pNNNNN (partner i is
//     process i % PROCESSES's, on port PORT + i % PROCESSES), then serves them until
//     SIGINT/SIGTERM. GET http://127.0.0.1:STATUS/status answers
//     {"partners":N,"versions":{"V":count,...},"active":{"ID":"V",...}}: which tie-up version
//     each partner has active (0: none yet), read from their ACTIVE pointers.
#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/progress_meter.h"
#include "base/worker_pool.h"
#include "net/http_server.h"
#include "partner_site/partner_sync.h"
#include "site/config.h"
#include "site/public_site.h"
#include "site/site_content.h"
#include "store/database.h"
#include "sync/http_api.h"

namespace tieup {
namespace {

struct Options {
  std::string dir, main_url, codes;
  size_t first = 0, count = 0;
  // Partner i is served by process i % processes, on port + i % processes.
  size_t processes = 1, process = 0;
  uint16_t port = 0, status_port = 0;
  size_t setup_threads = 4;
  size_t workers = 16;
};

// The sync port of partner `index`.
uint16_t PortOf(const Options& o, size_t index) {
  return static_cast<uint16_t>(o.port + index % o.processes);
}

// Partner `index`'s loopback address: 127.A.B.C with C in 1..250 (no .0 or .255 anywhere), so
// 62,500 partners per A, A from 10.
std::string Address(size_t index) {
  return "127." + std::to_string(10 + index / 62500) + "." + std::to_string(index / 250 % 250) +
         "." + std::to_string(1 + index % 250);
}

std::string PartnerId(size_t index) {
  char id[32];
  std::snprintf(id, sizeof(id), "p%05zu", index);
  return id;
}

// One simulated partner: the objects a partner daemon opens for its sync side.
struct SimPartner {
  std::string id, address, dir;
  std::unique_ptr<Database> db;
  std::unique_ptr<SiteContent> content;
  std::unique_ptr<PartnerSync> sync;
  TlsContextPtr server_context;
};

// Makes (when missing), enrolls (when not yet) and opens partner `index`.
Result<std::unique_ptr<SimPartner>> OpenPartner(Env& env, const Options& o, size_t index,
                                                const std::map<std::string, std::string>& codes) {
  auto p = std::make_unique<SimPartner>();
  p->id = PartnerId(index);
  p->address = Address(index);
  p->dir = o.dir + "/" + p->id;
  if (!env.FileExists(p->dir + "/site.toml")) {
    SiteConfig c;
    c.role = SiteRole::kPartner;
    c.id = p->id;
    c.name = "Shop " + p->id;
    // Not listened on: the simulator serves only the sync side.
    ASSIGN_OR_RETURN(c.public_address, ParseHostPort(p->address + ":80"));
    ASSIGN_OR_RETURN(c.sync_address,
                     ParseHostPort(p->address + ":" + std::to_string(PortOf(o, index))));
    ASSIGN_OR_RETURN(c.console_address, ParseHostPort(p->address + ":81"));
    ASSIGN_OR_RETURN(c.ops_address, ParseHostPort(p->address + ":82"));
    RETURN_IF_ERROR(CreateSiteDir(env, p->dir, c));
  }
  if (!IsEnrolled(env, p->dir)) {
    auto code = codes.find(p->id);
    if (code == codes.end()) {
      return Status::NotFound("no enrollment code for " + p->id + " in " + o.codes);
    }
    RETURN_IF_ERROR(EnrollWithMain(env, p->dir, o.main_url, code->second, p->address)
                        .Annotate("enrolling " + p->id));
  }
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, p->dir));
  ASSIGN_OR_RETURN(p->db, OpenSqlite(SitePaths(p->dir).database()));
  SiteContentOptions co;
  co.site_id = p->id;
  co.serve = false;
  ASSIGN_OR_RETURN(p->content, SiteContent::Open(env, p->dir, co));
  ASSIGN_OR_RETURN(p->sync, PartnerSync::Open(env, p->dir, config, *p->db, *p->content,
                                              NewNullLogger(), p->address));
  ASSIGN_OR_RETURN(p->server_context, p->sync->ServerContext());
  return p;
}

Result<std::map<std::string, std::string>> ReadCodes(Env& env, const std::string& path) {
  std::map<std::string, std::string> codes;
  if (path.empty()) return codes;
  ASSIGN_OR_RETURN(std::string text, env.ReadFile(path));
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    codes[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return codes;
}

// Sync requests on the worker pool, never on the I/O threads (as SyncServer does: an offer
// blocks while the partner fetches from main).
class SimHandler : public HttpHandler {
 public:
  SimHandler(WorkerPool& pool, const std::unordered_map<std::string, SimPartner*>& by_address)
      : pool_(pool), by_address_(by_address) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    auto it = by_address_.find(std::string(request.local_address()));
    if (it == by_address_.end()) {
      responder.Respond(sync::ErrorResponse(Status::NotFound("no partner at this address")));
      return;
    }
    SimPartner* p = it->second;
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    const HttpRequest* req = &request;
    if (!pool_.Submit([p, req, shared] { shared->Respond(p->sync->HandleSyncRequest(*req)); })) {
      shared->Respond(sync::ErrorResponse(Status::Unavailable("shutting down")));
    }
  }
  std::string_view AllowedMethods() const override { return "GET, POST"; }

 private:
  WorkerPool& pool_;
  const std::unordered_map<std::string, SimPartner*>& by_address_;
};

// GET /status: the partners' active tie-up versions, from their ACTIVE pointers.
class StatusHandler : public HttpHandler {
 public:
  StatusHandler(Env& env, const std::vector<std::unique_ptr<SimPartner>>& partners)
      : env_(env), partners_(partners) {}
  void Handle(const HttpRequest& request, HttpResponder responder) override {
    if (request.path() != "/status") {
      responder.Respond(HttpResponse::Text(404, "GET /status\n"));
      return;
    }
    std::map<std::string, uint64_t> versions;
    boost::json::object active;
    for (const auto& p : partners_) {
      auto pointer = env_.ReadFilePrefix(p->dir + "/releases/tieup/ACTIVE", 64);
      std::string v = pointer.ok() ? *pointer : "0";
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
      ++versions[v];
      active[p->id] = v;
    }
    boost::json::object counts;
    for (const auto& [v, n] : versions) counts[v] = n;
    boost::json::object out;
    out["partners"] = partners_.size();
    out["versions"] = std::move(counts);
    out["active"] = std::move(active);
    HttpResponse r(200);
    r.AddHeader("Content-Type", "application/json");
    r.SetBody(boost::json::serialize(out) + "\n");
    responder.Respond(std::move(r));
  }
  std::string_view AllowedMethods() const override { return "GET"; }

 private:
  Env& env_;
  const std::vector<std::unique_ptr<SimPartner>>& partners_;
};

int Plan(const Options& o) {
  std::printf("# %zu simulated partners for 'tieup main partner import' (tieup_partner_sim)\n",
              o.count);
  for (size_t i = o.first; i < o.first + o.count; ++i) {
    const std::string a = Address(i);
    const unsigned port = PortOf(o, i);
    std::printf(
        "[[partner]]\nid = \"%s\"\nname = \"Shop %s\"\npublic_url = \"http://%s/\"\n"
        "sync_url = \"https://%s:%u\"\n\n",
        PartnerId(i).c_str(), PartnerId(i).c_str(), a.c_str(), a.c_str(), port);
  }
  return 0;
}

int Serve(const Options& o) {
  std::unique_ptr<Env> env = NewPosixEnv();
  auto codes = ReadCodes(*env, o.codes);
  if (!codes.ok()) {
    std::fprintf(stderr, "partner sim: %s\n", codes.status().ToString().c_str());
    return 1;
  }
  // This process's partners.
  std::vector<size_t> mine;
  for (size_t i = o.first; i < o.first + o.count; ++i) {
    if (i % o.processes == o.process) mine.push_back(i);
  }
  if (mine.empty()) {
    std::fprintf(stderr, "partner sim: no partner of the range is this process's\n");
    return 1;
  }
  // Make and open the partners on a few threads (enrollment waits on main).
  std::vector<std::unique_ptr<SimPartner>> partners(mine.size());
  std::atomic<size_t> next{0};
  std::mutex error_mu;
  Status first_error = Status::Ok();
  {
    ProgressMeterOptions mo;
    mo.unit = "partners opened";
    mo.write = [](std::string_view text) { std::fwrite(text.data(), 1, text.size(), stderr); };
    ProgressMeter meter(*env, mo);
    meter.SetTotal(mine.size());
    std::vector<std::thread> threads;
    for (size_t t = 0; t < o.setup_threads; ++t) {
      threads.emplace_back([&] {
        for (size_t i = next++; i < mine.size(); i = next++) {
          auto p = OpenPartner(*env, o, mine[i], *codes);
          if (!p.ok()) {
            std::lock_guard<std::mutex> lock(error_mu);
            if (first_error.ok()) first_error = p.status();
            next = mine.size();
            return;
          }
          partners[i] = std::move(*p);
          meter.AddDone(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    meter.Finish();
  }
  if (!first_error.ok()) {
    std::fprintf(stderr, "partner sim: %s\n", first_error.ToString().c_str());
    return 1;
  }
  std::unordered_map<std::string, SimPartner*> by_address;
  for (const auto& p : partners) by_address[p->address] = p.get();

  WorkerPool pool(o.workers);
  HttpServerOptions so;
  so.address = "0.0.0.0";  // one socket for every 127.A.B.C; any other address is refused
  so.port = PortOf(o, mine[0]);
  so.threads = 1;
  so.max_body_bytes = 64ull << 20;
  so.idle_timeout = kSyncIdleTimeout;
  so.server_name = "";
  so.tls_by_local_address = [&by_address](std::string_view local) -> boost::asio::ssl::context* {
    auto it = by_address.find(std::string(local));
    return it == by_address.end() ? nullptr : it->second->server_context.get();
  };
  HttpServer server(*env, so, std::make_shared<SimHandler>(pool, by_address));
  if (Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "partner sim: %s\n", s.ToString().c_str());
    return 1;
  }
  HttpServerOptions status_options;
  status_options.port = o.status_port;
  status_options.threads = 1;
  HttpServer status(*env, status_options, std::make_shared<StatusHandler>(*env, partners));
  if (Status s = status.Start(); !s.ok()) {
    std::fprintf(stderr, "partner sim: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf(
      "partner sim: serving %zu partners (%s .. %s) on port %u; status on "
      "http://127.0.0.1:%u/status\n",
      mine.size(), Address(mine.front()).c_str(), Address(mine.back()).c_str(), server.port(),
      status.port());
  std::fflush(stdout);
  TerminationSignals signals;
  signals.Wait();
  server.Stop();
  status.Stop();
  return 0;
}

}  // namespace
}  // namespace tieup

int main(int argc, char** argv) {
  tieup::Options o;
  CLI::App app{
      "Simulated partners for the 10,000-partner benchmark (bench/sync_sim/run.sh): each runs "
      "the real sync side of a partner daemon, at its own loopback address"};
  app.require_subcommand(1);
  CLI::App* plan = app.add_subcommand("plan", "Print the [[partner]] tables to import at main");
  CLI::App* serve = app.add_subcommand("serve", "Make, enroll and serve the partners");
  for (CLI::App* c : {plan, serve}) {
    c->add_option("--first", o.first, "The first partner's index")->capture_default_str();
    c->add_option("--count", o.count, "How many partners")->required();
    c->add_option("--port", o.port,
                  "The sync port: partner i listens on PORT + i % PROCESSES (its own address)")
        ->required();
    c->add_option("--processes", o.processes, "How many simulator processes share the partners")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  }
  serve
      ->add_option("--process", o.process,
                   "Which of them this is (0..PROCESSES-1): it serves partner i when "
                   "i % PROCESSES is this")
      ->capture_default_str();
  serve->add_option("--dir", o.dir, "Where the partners' site folders are")->required();
  serve->add_option("--main", o.main_url, "Main's sync URL, https://HOST:PORT")->required();
  serve->add_option("--codes", o.codes,
                    "The enrollment codes ('tieup main partner import --codes'); not needed "
                    "when every partner is enrolled already");
  serve->add_option("--status-port", o.status_port, "Port of GET /status on 127.0.0.1")
      ->capture_default_str();
  serve->add_option("--setup-threads", o.setup_threads, "Partners made and enrolled at once")
      ->capture_default_str();
  serve->add_option("--workers", o.workers, "Sync requests handled at once")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (plan->parsed()) return tieup::Plan(o);
  return tieup::Serve(o);
}

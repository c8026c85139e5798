#include "net/http_client_pool.h"

namespace tieup {

HttpClientPool::HttpClientPool(std::string host, uint16_t port, HttpClientOptions client_options,
                               HttpClientPoolOptions pool_options)
    : host_(std::move(host)),
      port_(port),
      client_options_(std::move(client_options)),
      pool_options_(std::move(pool_options)) {}

int64_t HttpClientPool::NowMillis() const {
  if (pool_options_.now_millis) return pool_options_.now_millis();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<HttpClient> HttpClientPool::TakeIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = NowMillis();
  const int64_t max_idle = pool_options_.max_idle.count();
  std::erase_if(idle_, [&](const Idle& i) { return now - i.since_ms > max_idle; });
  if (idle_.empty()) return nullptr;
  std::unique_ptr<HttpClient> client = std::move(idle_.back().client);
  idle_.pop_back();
  return client;
}

Result<HttpResponse> HttpClientPool::Fetch(const HttpRequest& request, bool fresh, bool* stale) {
  std::unique_ptr<HttpClient> client;
  if (!fresh) client = TakeIdle();
  if (!client) client = std::make_unique<HttpClient>(host_, port_, client_options_);
  Result<HttpResponse> r = client->Fetch(request);
  if (r.ok()) {
    // A response that closed the connection leaves nothing worth keeping.
    if (!client->connected()) return r;
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < pool_options_.max_idle_connections) {
      idle_.push_back({std::move(client), NowMillis()});
    }
  } else if (client->last_failure_was_stale_connection()) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.clear();
    if (stale != nullptr) *stale = true;
  }
  return r;
}

Result<HttpResponse> HttpClientPool::FetchOnceMoreIfStale(const HttpRequest& request) {
  bool stale = false;
  Result<HttpResponse> r = Fetch(request, /*fresh=*/false, &stale);
  if (r.ok() || !stale) return r;
  return Fetch(request, /*fresh=*/true);
}

size_t HttpClientPool::idle_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_.size();
}

}  // namespace tieup

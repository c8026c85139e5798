#include "console/event_hub.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <utility>

namespace tieup::console {

EventHub::EventHub(Options options, std::function<void(HttpResponse&)> decorate)
    : options_(std::move(options)),
      decorate_(std::move(decorate)),
      last_id_(options_.first_id - 1),
      timer_([this] { TimerLoop(); }) {}

EventHub::~EventHub() { Stop(); }

int64_t EventHub::Publish(std::string type, boost::json::object data) {
  boost::json::object message;
  message["type"] = std::move(type);
  message["data"] = std::move(data);
  std::vector<Waiter> ready;
  std::vector<HttpResponse> responses;
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = ++last_id_;
    // boost::json writes one line, so one data: field carries it.
    events_.push_back(
        {id, "id: " + std::to_string(id) + "\ndata: " + boost::json::serialize(message) + "\n\n"});
    while (events_.size() > std::max<size_t>(1, options_.kept_events)) events_.pop_front();
    ready.swap(waiters_);
    for (const Waiter& w : ready) responses.push_back(ResponseLocked(w.since));
  }
  for (size_t i = 0; i < ready.size(); ++i) ready[i].responder.Respond(std::move(responses[i]));
  return id;
}

int64_t EventHub::last_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_id_;
}

HttpResponse EventHub::ResponseLocked(int64_t since) const {
  std::string body = "retry: " + std::to_string(options_.retry_millis) + "\n\n";
  bool any = false;
  for (const Event& e : events_) {
    if (e.id > since) {
      body += e.record;
      any = true;
    }
  }
  if (!any) body += ": nothing new\n\n";
  HttpResponse response(200);
  response.AddHeader("Content-Type", "text/event-stream; charset=utf-8");
  response.SetBody(std::move(body));
  decorate_(response);
  return response;
}

void EventHub::Wait(int64_t since, HttpResponder responder) {
  std::unique_lock<std::mutex> lock(mu_);
  since = std::min(since, last_id_);
  if (stopped_ || since < last_id_ || waiters_.size() >= options_.max_waiters) {
    HttpResponse response = ResponseLocked(since);
    lock.unlock();
    responder.Respond(std::move(response));
    return;
  }
  waiters_.push_back(
      {since, std::chrono::steady_clock::now() + options_.hold, std::move(responder)});
  lock.unlock();
  timer_cv_.notify_one();
  waiters_cv_.notify_all();
}

void EventHub::TimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<Waiter> due;
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline <= now) {
        due.push_back(std::move(*it));
        it = waiters_.erase(it);
      } else {
        next = std::min(next, it->deadline);
        ++it;
      }
    }
    if (!due.empty()) {
      std::vector<HttpResponse> responses;
      for (const Waiter& w : due) responses.push_back(ResponseLocked(w.since));
      lock.unlock();
      for (size_t i = 0; i < due.size(); ++i) due[i].responder.Respond(std::move(responses[i]));
      lock.lock();
      continue;
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      timer_cv_.wait(lock);
    } else {
      timer_cv_.wait_until(lock, next);
    }
  }
}

void EventHub::Stop() {
  std::vector<Waiter> held;
  std::vector<HttpResponse> responses;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    held.swap(waiters_);
    for (const Waiter& w : held) responses.push_back(ResponseLocked(w.since));
  }
  timer_cv_.notify_all();
  if (timer_.joinable() && timer_.get_id() != std::this_thread::get_id()) timer_.join();
  for (size_t i = 0; i < held.size(); ++i) held[i].responder.Respond(std::move(responses[i]));
}

bool EventHub::WaitForWaiters(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return waiters_cv_.wait_for(lock, timeout, [&] { return waiters_.size() >= n; });
}

}  // namespace tieup::console

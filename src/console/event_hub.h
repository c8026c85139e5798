// EventHub (private to the console): the live events of GET /events, as long-polled
// server-sent events. Each request is answered with every event newer than the one it names,
// or held until one arrives or the hold time passes; then the response ends and the browser's
// EventSource reconnects (after `retry`), naming the last event it saw in Last-Event-ID.
//
// Event ids grow across restarts (they start at the Env clock in microseconds), so a browser
// that kept an id from an earlier run of the daemon is not stuck waiting. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/http_server.h"

namespace tieup::console {

class EventHub {
 public:
  struct Options {
    std::chrono::milliseconds hold{25'000};
    size_t max_waiters = 256;
    size_t kept_events = 128;
    int retry_millis = 3000;
    int64_t first_id = 1;  // the id of the first event
  };
  // `decorate` adds the console's headers to each response (any thread).
  EventHub(Options options, std::function<void(HttpResponse&)> decorate);
  ~EventHub();  // Stop()s
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Keeps `event` (type and data) and answers every held request. Returns the event's id.
  int64_t Publish(std::string type, boost::json::object data);
  // The id of the newest event; first_id - 1 before any.
  int64_t last_id() const;

  // Answers `responder` at once with the events newer than `since` when there are any (or when
  // stopped, or too many requests are held), otherwise holds it. `since` above the newest id
  // counts as the newest.
  void Wait(int64_t since, HttpResponder responder);

  // Answers every held request and refuses to hold more. Idempotent.
  void Stop();

  // Waits until at least `n` requests are held, or `timeout` passes.
  bool WaitForWaiters(size_t n, std::chrono::milliseconds timeout);

 private:
  struct Event {
    int64_t id;
    std::string record;  // "id: N\ndata: {...}\n\n"
  };
  struct Waiter {
    int64_t since;
    std::chrono::steady_clock::time_point deadline;
    HttpResponder responder;
  };
  // The response for a request that saw `since`: every newer event (under mu_).
  HttpResponse ResponseLocked(int64_t since) const;
  void TimerLoop();

  const Options options_;
  const std::function<void(HttpResponse&)> decorate_;
  mutable std::mutex mu_;
  std::condition_variable timer_cv_;    // the timer thread: a new waiter or Stop
  std::condition_variable waiters_cv_;  // WaitForWaiters
  std::deque<Event> events_;
  int64_t last_id_;
  std::vector<Waiter> waiters_;
  bool stopped_ = false;
  std::thread timer_;
};

}  // namespace tieup::console

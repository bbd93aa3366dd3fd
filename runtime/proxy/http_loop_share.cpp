// HttpLoopShare: what the HTTP sessions of one loop share (spare exchanges, the idle
// server connections), and the soft stop that reaches every session and HTTP/2 connection.
#include "runtime/proxy/http_exchange.hpp"
#include "runtime/proxy/http_session.hpp"

namespace sluice::proxy {

namespace {

// Idle server connections older than this are closed (HAProxy's pool-purge-delay).
constexpr std::int64_t kPoolPurgeMs = 5000;
// Free exchanges kept per loop for the next requests.
constexpr std::size_t kSpareExchanges = 64;

}  // namespace

HttpLoopShare::HttpLoopShare(io::Loop& loop, std::size_t index,
                             const std::vector<std::uint32_t>& servers, std::size_t bufsize,
                             std::size_t max_headers)
    : loop_(loop),
      index_(index),
      pool_(loop, servers, kPoolPurgeMs),
      bufsize_(bufsize),
      max_headers_(max_headers),
      scratch_(new char[bufsize]) {}

HttpLoopShare::~HttpLoopShare() {
  for (Exchange* x : free_)
    delete x;
}

HttpLoopShare::Exchange* HttpLoopShare::acquire() {
  if (free_.empty()) return new Exchange(bufsize_, max_headers_);
  Exchange* x = free_.back();
  free_.pop_back();
  return x;
}

void HttpLoopShare::release(Exchange* x) {
  x->client_in.clear();
  x->client_out.clear();
  x->server_in.clear();
  x->server_out.clear();
  x->server_sent = 0;
  x->hold = false;
  x->sni_format = nullptr;
  x->log.reset(0);
  if (free_.size() < kSpareExchanges)
    free_.push_back(x);
  else
    delete x;
}

void HttpLoopShare::soft_stop() {
  stopping_ = true;
  pool_.close_all();
  for (StopListener* l = listeners_; l != nullptr;) {
    StopListener* next = l->next_listener_;
    l->on_soft_stop();
    l = next;
  }
}

void HttpLoopShare::listen_for_stop(StopListener& listener) {
  listener.next_listener_ = listeners_;
  if (listeners_) listeners_->prev_listener_ = &listener;
  listeners_ = &listener;
  if (stopping_) listener.on_soft_stop();
}

void HttpLoopShare::forget(StopListener& listener) {
  if (listener.prev_listener_)
    listener.prev_listener_->next_listener_ = listener.next_listener_;
  else if (listeners_ == &listener)
    listeners_ = listener.next_listener_;
  if (listener.next_listener_) listener.next_listener_->prev_listener_ = listener.prev_listener_;
  listener.prev_listener_ = listener.next_listener_ = nullptr;
}

}  // namespace sluice::proxy

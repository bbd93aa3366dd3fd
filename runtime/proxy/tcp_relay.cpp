#include "runtime/proxy/tcp_relay.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace sluice::proxy {

Pipe::Pipe(std::size_t capacity) : data_(new char[capacity]), capacity_(capacity) {}

void Pipe::consumed(std::size_t n) {
  head_ += n;
  if (head_ == tail_) head_ = tail_ = 0;  // empty: reuse the whole buffer
}

void TcpRelay::start(io::Loop& loop, std::size_t loop_index, AcceptedClient client,
                     ConnectionSlot slot, BackendState& backend, const TcpTimeouts& timeouts,
                     std::size_t buffer_size) {
  std::unique_ptr<TcpRelay> relay(new TcpRelay(loop, loop_index, std::move(client), std::move(slot),
                                               backend, timeouts, buffer_size));
  TcpRelay* r = relay.release();
  loop.adopt(*r);  // the loop owns it from here; finish() retires it
  if (!loop.add(r->client_.fd.get(), *r) || !r->connect_server(balance::no_server)) r->finish();
}

TcpRelay::TcpRelay(io::Loop& loop, std::size_t loop_index, AcceptedClient client,
                   ConnectionSlot slot, BackendState& backend, const TcpTimeouts& timeouts,
                   std::size_t buffer_size)
    : loop_(loop),
      loop_index_(loop_index),
      slot_(std::move(slot)),
      backend_(backend),
      timeouts_(timeouts),
      to_server_(buffer_size),
      to_client_(buffer_size),
      retries_left_(backend.config().retries) {
  client_.fd = std::move(client.fd);
  client_address_ = client.peer;
  local_port_ = client.local.port();
}

bool TcpRelay::connect_server(std::uint32_t avoid) {
  release_server();
  balance::Request request;
  request.source = client_address_.ip_bytes();
  request.avoid = avoid;
  const BackendState::Picked picked = backend_.pick(request);
  using balance::Outcome;
  if (picked.outcome == Outcome::server_full || picked.outcome == Outcome::all_full) {
    queued_ = true;
    connecting_ = true;
    backend_.wait(
        *this, loop_index_,
        picked.outcome == Outcome::server_full ? picked.target.index : balance::no_server);
    if (timeouts_.queue_ms > 0 && !slot_granted_) loop_.arm(*this, timeouts_.queue_ms);
    return true;
  }
  if (picked.outcome != Outcome::picked) return false;
  target_ = picked.target.index;
  return connect_to(picked.target) || retry(picked.target.index);
}

bool TcpRelay::retry(std::uint32_t failed) {
  if (retries_left_-- <= 0) return false;
  // `option redispatch`: another server at once, as HAProxy picks again.
  if (backend_.config().redispatch) return connect_server(failed);
  // Otherwise the same server, after HAProxy's pause.
  release_server();
  if (server_.fd) loop_.remove(server_.fd.get());
  server_.fd.reset();
  granted_ = backend_.claim(failed);
  slot_granted_ = true;
  queued_ = true;
  connecting_ = true;
  loop_.arm(*this, backend_.turnaround_ms());
  return true;
}

bool TcpRelay::connect_to(const ServerTarget& server) {
  io::SocketAddress address = server.address;
  // A server without a port gets the one the client connected to, as in HAProxy.
  if (address.port() == 0) address.set_port(local_port_);
  int error = 0;
  auto fd = io::connect_to(address, error);
  if (!fd) return false;
  if (server_.fd) loop_.remove(server_.fd.get());
  server_ = Peer{};
  server_.fd = std::move(*fd);
  connecting_ = true;
  if (!loop_.add(server_.fd.get(), server_side_)) return false;
  if (timeouts_.connect_ms > 0) loop_.arm(*this, timeouts_.connect_ms);
  return true;
}

void TcpRelay::on_server_slot(const ServerTarget& server) {
  // Called from inside another connection's release: the work waits for the timer.
  granted_ = server;
  slot_granted_ = true;
  loop_.arm(*this, 0);
}

void TcpRelay::release_server() {
  if (waiting()) backend_.stop_waiting(*this);
  if (slot_granted_) {
    slot_granted_ = false;
    backend_.release(granted_.index, loop_index_);
  }
  if (target_ == balance::no_server) return;
  backend_.release(target_, loop_index_);
  target_ = balance::no_server;
}

void TcpRelay::on_events(std::uint32_t events) {
  if (finished_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) client_.readable = true;
  if (events & EPOLLOUT) client_.writable = true;
  pump();
}

void TcpRelay::on_server_events(std::uint32_t events) {
  if (finished_) return;
  if (connecting_) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    const int error = io::socket_error(server_.fd.get());
    if (error != 0) {
      // Refused or unreachable: retried while retries last.
      if (!retry(target_)) finish();
      return;
    }
    connecting_ = false;
    touch();
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) server_.readable = true;
  if (events & EPOLLOUT) server_.writable = true;
  pump();
}

bool TcpRelay::transfer(Peer& from, Peer& to, Pipe& pipe, bool to_ready) {
  bool moved = true;
  while (moved) {
    moved = false;
    if (from.readable && !from.got_fin && pipe.space_size() > 0) {
      const ssize_t n = recv(from.fd.get(), pipe.space(), pipe.space_size(), 0);
      if (n > 0) {
        pipe.produced(static_cast<std::size_t>(n));
        moved = true;
      } else if (n == 0) {
        from.got_fin = true;
      } else if (errno == EAGAIN) {
        from.readable = false;
      } else if (errno != EINTR) {
        return false;
      }
    }
    if (to_ready && to.writable && pipe.size() > 0) {
      const ssize_t n = send(to.fd.get(), pipe.bytes(), pipe.size(), MSG_NOSIGNAL);
      if (n > 0) {
        pipe.consumed(static_cast<std::size_t>(n));
        moved = true;
      } else if (n < 0 && errno == EAGAIN) {
        to.writable = false;
      } else if (n < 0 && errno != EINTR) {
        return false;
      }
    }
  }
  // Everything the sender said has been delivered: pass its FIN on.
  if (to_ready && from.got_fin && pipe.size() == 0 && !to.shut) {
    shutdown(to.fd.get(), SHUT_WR);
    to.shut = true;
  }
  return true;
}

void TcpRelay::pump() {
  const bool ok = transfer(client_, server_, to_server_, !connecting_) &&
                  (connecting_ || transfer(server_, client_, to_client_, true));
  if (!ok) {
    finish();
    return;
  }
  if (server_.shut && client_.shut) {
    finish();
    return;
  }
  // Any traffic, or room made for it, counts as activity for the idle timeout.
  if (!connecting_) touch();
}

void TcpRelay::touch() {
  std::int64_t ms = timeouts_.idle_ms;
  // Half-closed: the shorter fin timeout of a side that has finished takes over.
  auto shorter = [&](std::int64_t fin) {
    if (fin > 0 && (ms == 0 || fin < ms)) ms = fin;
  };
  if (client_.got_fin) shorter(timeouts_.client_fin_ms);
  if (server_.got_fin) shorter(timeouts_.server_fin_ms);
  if (ms > 0) loop_.arm(*this, ms);
}

void TcpRelay::on_timer() {
  if (finished_) return;
  if (queued_ && slot_granted_) {
    queued_ = false;
    slot_granted_ = false;
    target_ = granted_.index;
    if (connect_to(granted_) || retry(target_)) {
      pump();  // the client may have sent bytes, or its FIN, while it waited
      return;
    }
  }
  finish();  // an idle or connect timeout, `timeout queue`, or no server after the queue
}

void TcpRelay::finish() {
  if (finished_) return;
  finished_ = true;
  loop_.cancel(*this);
  release_server();
  if (client_.fd) loop_.remove(client_.fd.get());
  if (server_.fd) loop_.remove(server_.fd.get());
  client_.fd.reset();
  server_.fd.reset();
  slot_.release();
  loop_.retire(*this);
}

}  // namespace sluice::proxy

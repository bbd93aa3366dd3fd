#include "runtime/proxy/tcp_relay.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/proxy/content_facts.hpp"
#include "runtime/proxy/proxy_protocol.hpp"

namespace sluice::proxy {

Pipe::Pipe(std::size_t capacity) : data_(new char[capacity]), capacity_(capacity) {}

Pipe::~Pipe() {
  if (kernel_read_ >= 0) ::close(kernel_read_);
  if (kernel_write_ >= 0) ::close(kernel_write_);
}

bool Pipe::start_splicing() {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;  // out of descriptors: copy
  kernel_read_ = fds[0];
  kernel_write_ = fds[1];
  return true;
}

// The pipe's default size (16 pages): what one splice in may bring.
constexpr std::size_t kKernelPipeBytes = 65536;

bool Pipe::kernel_full() const {
  return in_kernel_ >= kKernelPipeBytes;
}

ssize_t Pipe::splice_in(int socket) {
  const ssize_t n = splice(socket, nullptr, kernel_write_, nullptr, kKernelPipeBytes - in_kernel_,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) in_kernel_ += static_cast<std::size_t>(n);
  return n;
}

ssize_t Pipe::splice_out(int socket) {
  const ssize_t n =
      splice(kernel_read_, nullptr, socket, nullptr, in_kernel_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) in_kernel_ -= static_cast<std::size_t>(n);
  return n;
}

void Pipe::consumed(std::size_t n) {
  head_ += n;
  if (head_ == tail_) head_ = tail_ = 0;  // empty: reuse the whole buffer
}

void TcpRelay::start(TcpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                     const TcpRouting& routing, const TcpBackend* backend, tls::Stream tls) {
  const bool registered = static_cast<bool>(tls);
  std::unique_ptr<TcpRelay> relay(
      new TcpRelay(share, std::move(client), std::move(slot), routing, std::move(tls)));
  TcpRelay* r = relay.release();
  share.loop.adopt(*r);  // the loop owns it from here; finish() retires it
  const int fd = r->client_.link.fd();
  if (!(registered ? share.loop.modify(fd, *r) : share.loop.add(fd, *r))) {
    r->finish();
    return;
  }
  // The handshake's last read may have brought bytes along: no event will announce them.
  r->client_.readable = r->client_.link.pending();
  if (r->client_.readable && !r->transfer(r->client_, r->server_, r->to_server_, false)) {
    r->finish();
    return;
  }
  if (backend) {
    if (!r->use_backend(*backend)) r->finish();
    return;
  }
  r->inspecting_ = true;
  r->connecting_ = true;  // nothing goes to a server yet
  if (routing.inspect_delay_ms > 0) share.loop.arm(*r, routing.inspect_delay_ms);
  r->inspect(routing.inspect_delay_ms == 0);
}

TcpRelay::TcpRelay(TcpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                   const TcpRouting& routing, tls::Stream tls)
    : share_(share),
      loop_(share.loop),
      slot_(std::move(slot)),
      routing_(routing),
      to_server_(share.buffer_size),
      to_client_(share.buffer_size) {
  client_.link = Link(std::move(client.fd), std::move(tls));
  client_address_ = client.peer;
  local_address_ = client.local;
  if (routing.log_kind == log::TrafficLog::tcp) logger_ = share.loggers[routing.frontend_index];
  if (logger_) {
    accept_date_ = std::chrono::system_clock::now();
    accepted_ms_ = loop_.now_ms();
  }
}

void TcpRelay::inspect(bool final) {
  ContentFacts facts(client_address_, local_address_, share_.usable_servers,
                     {to_server_.bytes(), to_server_.size()}, share_.hello_scratch, client_tls());
  // Nothing more can come: the buffer is full or the client has finished sending.
  final = final || to_server_.space_size() == 0 || client_.got_fin;
  const TcpVerdict verdict = run_tcp_rules(routing_.content_rules, facts, share_.scratch, final);
  if (verdict == TcpVerdict::undecided) return;
  inspecting_ = false;
  loop_.cancel(*this);
  const TcpBackend* backend =
      verdict == TcpVerdict::accept ? routing_.backends.pick(facts, share_.scratch) : nullptr;
  if (backend != nullptr &&
      run_tcp_rules(backend->content_rules, facts, share_.scratch, true) == TcpVerdict::reject)
    backend = nullptr;
  // Rejected, or no backend: closed, as in HAProxy.
  if (backend == nullptr) terminated('P', 'R');
  if (backend == nullptr || !use_backend(*backend)) finish();
}

bool TcpRelay::use_backend(const TcpBackend& backend) {
  backend_ = backend.state;
  servers_ = backend.servers;
  timeouts_ = routing_.timeouts[backend_->index()];
  retries_left_ = backend_->config().retries;
  return connect_server(balance::no_server);
}

bool TcpRelay::connect_server(std::uint32_t avoid) {
  release_server();
  balance::Request request;
  request.source = client_address_.ip_bytes();
  request.avoid = avoid;
  const BackendState::Picked picked = backend_->pick(request);
  using balance::Outcome;
  if (picked.outcome == Outcome::server_full || picked.outcome == Outcome::all_full) {
    queued_ = true;
    connecting_ = true;
    if (queued_ms_ < 0) queued_ms_ = loop_.now_ms();
    backend_->wait(
        *this, share_.index,
        picked.outcome == Outcome::server_full ? picked.target.index : balance::no_server);
    if (timeouts_.queue_ms > 0 && !slot_granted_) loop_.arm(*this, timeouts_.queue_ms);
    return true;
  }
  if (picked.outcome != Outcome::picked) return false;
  target_ = picked.target.index;
  return connect_to(picked.target) || retry(picked.target.index);
}

bool TcpRelay::retry(std::uint32_t failed, bool after_error) {
  if (retries_left_-- <= 0) return false;
  ++retries_used_;
  // `option redispatch`: another server at once, as HAProxy picks again.
  if (backend_->config().redispatch) return connect_server(failed);
  // Otherwise the same server, after HAProxy's pause when it failed (a timeout has
  // waited long enough).
  release_server();
  server_.link.reset();
  granted_ = backend_->claim(failed);
  slot_granted_ = true;
  queued_ = true;
  connecting_ = true;
  loop_.arm(*this, after_error ? backend_->turnaround_ms() : 0);
  return true;
}

bool TcpRelay::connect_to(const ServerTarget& server) {
  log_server_ = server.index;
  const std::int64_t now = loop_.now_ms();
  if (queued_ms_ >= 0 && queue_ms_ < 0) queue_ms_ = now - queued_ms_;
  if (connect_ms_ < 0) connect_ms_ = now;
  io::SocketAddress address = server.address;
  // A server without a port gets the one the client connected to, as in HAProxy.
  if (address.port() == 0) address.set_port(local_address_.port());
  int error = 0;
  auto fd = io::connect_to(address, error);
  if (!fd) return false;
  server_ = Peer{};
  const int socket = fd->get();
  tls::Stream stream;
  if (server.index < servers_.size() && servers_[server.index].tls) {
    const ServerOptions& options = servers_[server.index];
    std::array<char, 256> name{};
    std::size_t length = 0;
    if (options.sni) {
      ConnectionFacts facts(client_address_, local_address_, share_.usable_servers, client_tls());
      length = options.sni->render(facts, name).size;
    }
    stream = options.tls->connect(socket, {name.data(), length}, share_.index);
    if (!stream) return false;
  }
  server_.link = Link(std::move(*fd), std::move(stream));
  connecting_ = true;
  tcp_connected_ = false;
  if (!loop_.add(socket, server_side_)) return false;
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
  if (backend_ == nullptr) return;
  if (waiting()) backend_->stop_waiting(*this);
  if (slot_granted_) {
    slot_granted_ = false;
    backend_->release(granted_.index, share_.index);
  }
  if (target_ == balance::no_server) return;
  backend_->release(target_, share_.index);
  target_ = balance::no_server;
}

void TcpRelay::on_events(std::uint32_t events) {
  if (finished_) return;
  events = client_.link.translate(events);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    client_.readable = true;
    client_.link.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  }
  if (events & EPOLLOUT) client_.writable = true;
  pump();
}

void TcpRelay::on_server_events(std::uint32_t events) {
  if (finished_) return;
  if (connecting_ && !tcp_connected_) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    const int error = io::socket_error(server_.link.fd());
    if (error != 0 || !send_proxy_header()) {
      // Refused or unreachable: retried while retries last.
      if (!retry(target_)) {
        terminated('S', 'C');
        finish();
      }
      return;
    }
    tcp_connected_ = true;
  }
  if (connecting_) {
    if (!server_handshake(events)) return;
    connecting_ = false;
    connected_ms_ = loop_.now_ms();
    touch();
    // The handshake's last event may have been a read: the socket has been writable all
    // along and edge-triggered epoll will not say so again.
    events |= EPOLLOUT;
  }
  events = server_.link.translate(events);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    server_.readable = true;
    server_.link.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  }
  if (events & EPOLLOUT) server_.writable = true;
  pump();
}

bool TcpRelay::send_proxy_header() {
  if (log_server_ >= servers_.size() || servers_[log_server_].send_proxy == 0) return true;
  std::array<char, kProxyHeaderOut> header;
  const std::size_t n = servers_[log_server_].send_proxy == 2
                            ? write_proxy_v2(header, client_address_, local_address_)
                            : write_proxy_v1(header, client_address_, local_address_);
  // A fresh socket's buffer takes it whole.
  return send(server_.link.fd(), header.data(), n, MSG_NOSIGNAL) == static_cast<ssize_t>(n);
}

bool TcpRelay::server_handshake(std::uint32_t events) {
  if (!server_.link.tls()) return true;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    server_.link.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  switch (server_.link.handshake()) {
    case tls::Status::ok:
      return true;
    case tls::Status::want_read:
    case tls::Status::want_write:
      return false;
    default:
      break;
  }
  const tls::Stream& stream = *server_.link.tls();
  const auto& backend = backend_->config();
  log_server_tls_failure(
      share_.loggers[routing_.frontend_index], client_address_, routing_.frontend->name,
      backend.name, log_server_ < backend.servers.size() ? backend.servers[log_server_].name : "",
      stream.failure_reason(), stream.verify_result() != X509_V_OK);
  servers_[log_server_].tls->forget_session(share_.index);
  // A failed handshake is a failed connect: retried while retries last.
  if (!retry(target_)) {
    terminated('S', 'C');
    finish();
  }
  return false;
}

bool TcpRelay::transfer(Peer& from, Peer& to, Pipe& pipe, bool to_ready) {
  if (pipe.spliced()) return transfer_spliced(from, to, pipe, to_ready);
  bool bulk = false;
  bool moved = true;
  while (moved) {
    moved = false;
    if (from.readable && !from.got_fin && pipe.space_size() > 0) {
      std::size_t n = 0;
      bool drained = false;
      switch (from.link.receive({pipe.space(), pipe.space_size()}, n, drained)) {
        case Io::moved:
          if (&from == &client_) bytes_in_ += n;
          pipe.produced(n);
          moved = true;
          // A whole buffer in one read: a bulk stream (only once connected both ways).
          if (n == pipe.capacity() && to_ready) bulk = true;
          break;
        case Io::closed:
          from.got_fin = true;
          break;
        case Io::blocked:
          from.readable = false;
          break;
        case Io::failed:
          return false;
      }
    }
    if (to_ready && to.writable && pipe.size() > 0) {
      std::size_t n = 0;
      switch (to.link.transmit({pipe.bytes(), pipe.size()}, n)) {
        case Io::moved:
          if (&to == &client_) bytes_out_ += n;
          pipe.consumed(n);
          moved = n > 0;
          if (n == 0) to.writable = false;
          break;
        case Io::blocked:
          to.writable = false;
          break;
        default:
          return false;
      }
    }
    // The buffer is out and the stream is bulk: the rest goes through a kernel pipe (TLS
    // bytes must pass through OpenSSL).
    if (bulk && pipe.size() == 0 && !from.link.tls() && !to.link.tls() && pipe.start_splicing())
      return transfer_spliced(from, to, pipe, to_ready);
  }
  pass_fin(from, to, pipe, to_ready);
  return true;
}

bool TcpRelay::transfer_spliced(Peer& from, Peer& to, Pipe& pipe, bool to_ready) {
  bool moved = true;
  while (moved) {
    moved = false;
    if (from.readable && !from.got_fin && !pipe.kernel_full()) {
      const ssize_t n = pipe.splice_in(from.link.fd());
      if (n > 0) {
        if (&from == &client_) bytes_in_ += static_cast<std::size_t>(n);
        moved = true;
      } else if (n == 0) {
        from.got_fin = true;
      } else if (errno == EAGAIN) {
        // An empty pipe had room, so the socket is empty. A non-empty one may be out of
        // slots (a page each, however little a fragment held): send first, then retry.
        if (pipe.size() == 0) from.readable = false;
      } else if (errno != EINTR) {
        return false;
      }
    }
    if (to_ready && to.writable && pipe.size() > 0) {
      const ssize_t n = pipe.splice_out(to.link.fd());
      if (n > 0) {
        if (&to == &client_) bytes_out_ += static_cast<std::size_t>(n);
        moved = true;
      } else if (n < 0 && errno == EAGAIN) {
        to.writable = false;
      } else if (n < 0 && errno != EINTR) {
        return false;
      }
    }
  }
  pass_fin(from, to, pipe, to_ready);
  return true;
}

void TcpRelay::pass_fin(Peer& from, Peer& to, const Pipe& pipe, bool to_ready) {
  // Everything the sender said has been delivered: pass its FIN on.
  if (to_ready && from.got_fin && pipe.size() == 0 && !to.shut) {
    to.link.shutdown_write();
    to.shut = true;
  }
}

void TcpRelay::pump() {
  const bool ok = transfer(client_, server_, to_server_, !connecting_) &&
                  (connecting_ || transfer(server_, client_, to_client_, true));
  if (!ok) {
    finish();
    return;
  }
  if (inspecting_) {
    inspect(false);
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
  const std::int64_t ms = half_closed_ms(timeouts_.idle_ms, client_.shut, timeouts_.client_fin_ms,
                                         server_.shut, timeouts_.server_fin_ms);
  if (ms > 0) loop_.arm(*this, ms);
}

void TcpRelay::on_timer() {
  if (finished_) return;
  if (inspecting_) {
    inspect(true);  // inspect-delay over: the rules decide with what arrived
    return;
  }
  if (queued_ && slot_granted_) {
    queued_ = false;
    slot_granted_ = false;
    target_ = granted_.index;
    if (connect_to(granted_) || retry(target_)) {
      pump();  // the client may have sent bytes, or its FIN, while it waited
      return;
    }
  }
  // `timeout connect`: retried at once while retries last.
  if (connecting_ && !queued_ && retry(target_, false)) return;
  // An idle or connect timeout, `timeout queue`, or no server after the queue.
  if (queued_)
    terminated('s', 'Q');
  else if (connecting_)
    terminated('s', 'C');
  else
    terminated('c', 'D');
  finish();
}

void TcpRelay::terminated(char cause, char phase) {
  if (termination_.cause != '-') return;
  termination_.cause = cause;
  termination_.phase = phase;
}

void TcpRelay::log_connection() {
  log::LogRecord r;
  r.client = client_address_;
  r.frontend_address = local_address_;
  r.accept_date = accept_date_;
  r.frontend = routing_.frontend->name;
  r.frontend_tls = client_.link.tls() != nullptr;
  r.mode = config::Mode::tcp;
  if (backend_) {
    r.backend = backend_->config().name;
    r.backend_connections = backend_->connections();
    if (log_server_ != balance::no_server) {
      r.server = backend_->config().servers[log_server_].name;
      r.server_connections = backend_->server_connections(log_server_);
    }
    r.redispatched = retries_used_ > 0 && backend_->config().redispatch;
  }
  r.queue_ms = queue_ms_ >= 0 ? queue_ms_ : (connect_ms_ >= 0 ? 0 : -1);
  r.connect_ms = connect_ms_ >= 0 && connected_ms_ >= 0 ? connected_ms_ - connect_ms_ : -1;
  r.total_ms = loop_.now_ms() - accepted_ms_;
  r.bytes_to_client = bytes_out_;
  r.bytes_from_client = bytes_in_;
  r.termination = termination_;
  r.active_connections = slot_.process_connections();
  r.frontend_connections = slot_.frontend_connections();
  r.retries = retries_used_;
  if (log::suppressed_by_dontlognull(*routing_.frontend, r)) return;
  const auto out = logger_->message_buffer();
  logger_->emit(log::traffic_severity, {out.data(), log::write_tcp_log(out, r)}, accept_date_);
}

void TcpRelay::finish() {
  if (finished_) return;
  finished_ = true;
  loop_.cancel(*this);
  release_server();
  if (logger_) log_connection();  // after the release, as HAProxy counts connections
  client_.link.reset();
  server_.link.reset();
  slot_.release();
  loop_.retire(*this);
}

}  // namespace sluice::proxy

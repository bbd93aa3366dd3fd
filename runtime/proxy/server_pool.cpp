#include "runtime/proxy/server_pool.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace sluice::proxy {

ServerConnection* ServerConnection::connect(io::Loop& loop, const io::SocketAddress& address,
                                            std::uint32_t backend, std::uint32_t server,
                                            const ConnectSpec& spec, int& error) {
  auto fd = io::connect_to(address, error);
  if (!fd) return nullptr;
  auto* connection = new ServerConnection(loop, std::move(*fd), backend, server);
  loop.adopt(*connection);
  connection->reuse_key_ = spec.reuse_key;
  if (!spec.preamble.empty() && spec.preamble.size() <= connection->preamble_.size()) {
    std::copy(spec.preamble.begin(), spec.preamble.end(), connection->preamble_.begin());
    connection->preamble_size_ = static_cast<std::uint8_t>(spec.preamble.size());
  }
  if (spec.tls) {
    const int socket = connection->fd();
    connection->link_ =
        Link(connection->link_.release(), spec.tls->connect(socket, spec.server_name, spec.loop));
    connection->tls_context_ = spec.tls;
    connection->tls_loop_ = spec.loop;
    if (!connection->link_.tls()) {
      error = ENOMEM;
      connection->close();
      return nullptr;
    }
  }
  if (!loop.add(connection->fd(), *connection)) {
    error = errno;
    connection->close();
    return nullptr;
  }
  return connection;
}

ServerConnection::Progress ServerConnection::establish(std::uint32_t events) {
  if (!connected_) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return Progress::waiting;
    if (io::socket_error(fd()) != 0) return Progress::failed;
    connected_ = true;
    if (preamble_size_ > 0) {
      // A fresh socket's buffer takes a PROXY header whole.
      if (send(fd(), preamble_.data(), preamble_size_, MSG_NOSIGNAL) != preamble_size_)
        return Progress::failed;
      preamble_size_ = 0;
    }
    if (!link_.tls()) return Progress::ready;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    link_.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  switch (link_.handshake()) {
    case tls::Status::ok:
      return Progress::ready;
    case tls::Status::want_read:
    case tls::Status::want_write:
      return Progress::waiting;
    default:
      tls_failure_ = link_.tls()->failure_reason();
      certificate_rejected_ = link_.tls()->verify_result() != X509_V_OK;
      // A kept session the server no longer takes must not fail the next handshake too.
      tls_context_->forget_session(tls_loop_);
      return Progress::failed;
  }
}

ServerConnection::~ServerConnection() {
  if (pool_) pool_->unlink(*this);  // deleted with its loop while idle
}

void ServerConnection::close() {
  if (closed_) return;
  closed_ = true;
  if (pool_) pool_->unlink(*this);
  loop_.cancel(*this);
  link_.reset();
  user_ = nullptr;
  loop_.retire(*this);
}

void ServerConnection::on_events(std::uint32_t events) {
  if (closed_) return;
  if (user_) {
    user_->on_server_events(events);
    return;
  }
  // Idle: the server closed it, or sent bytes nobody asked for. Either way it is unusable.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) close();
}

void ServerConnection::on_timer() {
  if (pool_) close();  // purged after idling `pool-purge-delay`
}

ServerPool::ServerPool(io::Loop& loop, const std::vector<std::uint32_t>& servers,
                       std::int64_t purge_ms)
    : loop_(loop), purge_ms_(purge_ms) {
  lists_.resize(servers.size());
  for (std::size_t b = 0; b < servers.size(); ++b)
    lists_[b].resize(servers[b]);
}

ServerPool::~ServerPool() {
  // The loop deletes the connections it owns; only forget them here.
  for (auto& backend : lists_)
    for (auto& list : backend)
      for (ServerConnection* c = list.head; c != nullptr; c = c->idle_next_)
        c->pool_ = nullptr;
}

ServerConnection* ServerPool::take(std::uint32_t backend, std::uint32_t server,
                                   std::string_view reuse_key) {
  ServerConnection* c = lists_[backend][server].head;
  while (c != nullptr && c->reuse_key_ != reuse_key)
    c = c->idle_next_;
  if (c == nullptr) return nullptr;
  unlink(*c);
  loop_.cancel(*c);
  c->reused_ = true;
  return c;
}

void ServerPool::busy(std::uint32_t backend, std::uint32_t server) {
  List& list = lists_[backend][server];
  ++list.in_use;
  const std::int64_t now = loop_.now_ms();
  if (now - list.peak_since > purge_ms_) {
    list.peak = list.in_use;
    list.peak_since = now;
  } else if (list.in_use > list.peak) {
    list.peak = list.in_use;
  }
}

void ServerPool::released(std::uint32_t backend, std::uint32_t server) {
  List& list = lists_[backend][server];
  if (list.in_use > 0) --list.in_use;
}

void ServerPool::give(ServerConnection& connection) {
  connection.user_ = nullptr;
  List& list = lists_[connection.backend_][connection.server_];
  if (list.idle >= std::max<std::uint32_t>(list.peak, 1)) {
    connection.close();
    return;
  }
  connection.pool_ = this;
  connection.idle_prev_ = nullptr;
  connection.idle_next_ = list.head;
  if (list.head) list.head->idle_prev_ = &connection;
  list.head = &connection;
  ++list.idle;
  ++idle_count_;
  loop_.arm(connection, purge_ms_);
}

void ServerPool::close_all() {
  for (auto& backend : lists_)
    for (auto& list : backend)
      while (list.head)
        list.head->close();
}

void ServerPool::unlink(ServerConnection& connection) {
  List& list = lists_[connection.backend_][connection.server_];
  if (connection.idle_prev_)
    connection.idle_prev_->idle_next_ = connection.idle_next_;
  else
    list.head = connection.idle_next_;
  if (connection.idle_next_) connection.idle_next_->idle_prev_ = connection.idle_prev_;
  connection.idle_prev_ = connection.idle_next_ = nullptr;
  connection.pool_ = nullptr;
  --list.idle;
  --idle_count_;
}

bool ServerConnection::has_pending_input() const {
  if (link_.pending()) return true;
  char byte;
  const ssize_t n = recv(fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

}  // namespace sluice::proxy

// Connections to servers for HTTP exchanges, and the per-loop pool that keeps the idle
// ones for reuse (`http-reuse`). A connection belongs to one loop; while an exchange uses
// it, its events go to that exchange, and while it idles in the pool, any event (the
// server closing it, stray bytes) or the purge delay closes it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io/loop.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/proxy/link.hpp"
#include "runtime/tls/client_context.hpp"

namespace sluice::proxy {

class ServerPool;

// Whoever currently uses a server connection: told of its events.
class ServerConnectionUser {
 public:
  virtual void on_server_events(std::uint32_t events) = 0;

 protected:
  ~ServerConnectionUser() = default;
};

// What a new server connection starts with, beyond the TCP connect.
struct ConnectSpec {
  const tls::ClientContext* tls = nullptr;  // nullptr: plain TCP
  std::string_view server_name;             // SNI (and the name verified); empty: none
  std::size_t loop = 0;                     // whose kept TLS session to resume
  std::span<const char> preamble;           // a PROXY header, sent before anything else
  // What a request must bring to reuse this connection once idle (its SNI, and for
  // send-proxy the client's addresses); empty: any request of the backend may.
  std::string_view reuse_key;
};

class ServerConnection final : public io::Owned, private io::Timer {
 public:
  // Starts a non-blocking connect (then the preamble and, with `tls`, a handshake);
  // nullptr with `error` (errno) when the socket refused at once. The loop owns the
  // object; close() retires it.
  static ServerConnection* connect(io::Loop& loop, const io::SocketAddress& address,
                                   std::uint32_t backend, std::uint32_t server,
                                   const ConnectSpec& spec, int& error);

  enum class Progress : std::uint8_t { waiting, ready, failed };
  // The connect, the preamble, then the TLS handshake, moving on `events`: ready when
  // requests may go.
  Progress establish(std::uint32_t events);
  // Why establish() failed over TLS (the certificate check's verdict or OpenSSL's reason);
  // empty for a refused or reset TCP connect.
  std::string_view tls_failure() const { return tls_failure_; }
  // Whether that failure is the server's certificate failing verification.
  bool certificate_rejected() const { return certificate_rejected_; }

  int fd() const { return link_.fd(); }
  Link& link() { return link_; }

  std::uint32_t backend() const { return backend_; }
  std::uint32_t server() const { return server_; }
  bool reused() const { return reused_; }
  // Whether the server sent something (bytes or its FIN) not read yet: such a connection
  // must not wait in the pool, whose next user would find it closed.
  bool has_pending_input() const;
  void attach(ServerConnectionUser* user) { user_ = user; }
  // Closes the socket and retires the object: the caller must drop its pointer.
  void close();

  void on_events(std::uint32_t events) override;
  ~ServerConnection() override;

 private:
  friend class ServerPool;
  ServerConnection(io::Loop& loop, io::Fd fd, std::uint32_t backend, std::uint32_t server)
      : loop_(loop), link_(std::move(fd), {}), backend_(backend), server_(server) {}
  void on_timer() override;

  io::Loop& loop_;
  Link link_;
  std::string reuse_key_;
  std::array<char, 128> preamble_{};
  std::uint8_t preamble_size_ = 0;
  std::string_view tls_failure_;
  const tls::ClientContext* tls_context_ = nullptr;
  std::size_t tls_loop_ = 0;
  std::uint32_t backend_;
  std::uint32_t server_;
  ServerConnectionUser* user_ = nullptr;
  ServerPool* pool_ = nullptr;  // set while idle in a pool
  ServerConnection* idle_prev_ = nullptr;
  ServerConnection* idle_next_ = nullptr;
  bool reused_ = false;
  bool closed_ = false;
  bool connected_ = false;  // TCP is up (the handshake may still run)
  bool certificate_rejected_ = false;
};

// Idle server connections of one loop, per backend and server, most recently used first.
// A server keeps at most as many idle connections as it had in use at once lately (over
// the last purge delay, as HAProxy estimates its need): a burst of new clients, each
// opening its own server connection under `http-reuse safe`, does not leave thousands
// idle behind it.
class ServerPool {
 public:
  // `servers[b]`: how many servers backend b has.
  ServerPool(io::Loop& loop, const std::vector<std::uint32_t>& servers, std::int64_t purge_ms);
  ~ServerPool();
  ServerPool(const ServerPool&) = delete;
  ServerPool& operator=(const ServerPool&) = delete;

  // An idle connection to that server opened with that reuse key, detached from the
  // pool, or nullptr.
  ServerConnection* take(std::uint32_t backend, std::uint32_t server,
                         std::string_view reuse_key = {});
  // Parks a connection whose last exchange ended cleanly, or closes it when the server
  // already has as many idle as it needed lately.
  void give(ServerConnection& connection);
  // An exchange starts or stops using a connection to that server (opened or taken).
  void busy(std::uint32_t backend, std::uint32_t server);
  void released(std::uint32_t backend, std::uint32_t server);
  // Closes every idle connection (soft stop).
  void close_all();
  std::size_t idle_count() const { return idle_count_; }

 private:
  friend class ServerConnection;
  struct List {
    ServerConnection* head = nullptr;
    std::uint32_t idle = 0;
    std::uint32_t in_use = 0;
    std::uint32_t peak = 0;  // most in use at once since peak_since
    std::int64_t peak_since = 0;
  };
  void unlink(ServerConnection& connection);

  io::Loop& loop_;
  std::vector<std::vector<List>> lists_;  // [backend][server]
  std::int64_t purge_ms_;
  std::size_t idle_count_ = 0;
};

}  // namespace sluice::proxy

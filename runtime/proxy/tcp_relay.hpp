// `mode tcp`: a byte-exact, full-duplex relay between a client and a server connection,
// with half-close carried across (a FIN from one side becomes a shutdown on the other) and
// connection retries when a server refuses. With `tcp-request content` rules or
// `inspect-delay`, the client's first bytes are held (not forwarded) until the rules and
// `use_backend` can decide. Knows no protocol beyond what the payload fetches read.
#pragma once

#include <cstdint>
#include <memory>

#include "runtime/io/loop.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/log/logger.hpp"
#include "runtime/log/traffic_log.hpp"
#include "runtime/proxy/backend_state.hpp"
#include "runtime/proxy/connection_facts.hpp"
#include "runtime/proxy/connection_slot.hpp"
#include "runtime/proxy/link.hpp"
#include "runtime/proxy/tcp_rules.hpp"

namespace sluice::proxy {

// One direction's bytes in flight: read into the tail, written from the head. Once a
// stream shows itself bulk (a read fills the whole buffer), it moves through a kernel
// pipe instead (splice): no copy through user space.
class Pipe {
 public:
  explicit Pipe(std::size_t capacity);
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  char* space() { return data_.get() + tail_; }
  std::size_t space_size() const { return capacity_ - tail_; }
  std::size_t capacity() const { return capacity_; }
  const char* bytes() const { return data_.get() + head_; }
  // Bytes held, in the buffer or the kernel pipe.
  std::size_t size() const { return tail_ - head_ + in_kernel_; }
  void produced(std::size_t n) { tail_ += n; }
  void consumed(std::size_t n);

  // Splicing: only from an empty buffer, so that bytes keep their order.
  bool spliced() const { return kernel_read_ >= 0; }
  bool kernel_full() const;
  bool start_splicing();
  // splice(2) from a socket into the pipe / from the pipe into a socket; -1 with errno.
  ssize_t splice_in(int socket);
  ssize_t splice_out(int socket);

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
  int kernel_read_ = -1;
  int kernel_write_ = -1;
  std::size_t in_kernel_ = 0;
};

// A connection just accepted, with the addresses read once at accept.
struct AcceptedClient {
  io::Fd fd;
  io::SocketAddress peer;
  io::SocketAddress local;
};

// What the relays of one loop share.
struct TcpLoopShare {
  io::Loop& loop;
  std::size_t index;  // the loop's among the worker's (for BackendState's queues)
  std::size_t buffer_size;
  const ConnectionFacts::ServerCount* usable_servers;
  std::vector<char> scratch;          // converted samples while evaluating conditions
  std::vector<char> hello_scratch;    // a ClientHello reassembled from several records
  std::vector<log::Logger*> loggers;  // by frontend index; nullptr: no log
};

class TcpRelay final : public io::Owned, private io::Timer, private QueueWaiter {
 public:
  // Takes the accepted client socket (its connection rules passed). Connects at once to
  // `backend` when given; otherwise first inspects the content as `routing` says. `tls`:
  // the client's TLS stream, its handshake done (the handshake registered the socket).
  static void start(TcpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                    const TcpRouting& routing, const TcpBackend* backend, tls::Stream tls = {});

  void on_events(std::uint32_t events) override;  // the client side

 private:
  struct ServerSide final : io::Pollable {
    explicit ServerSide(TcpRelay& relay) : relay(relay) {}
    void on_events(std::uint32_t events) override { relay.on_server_events(events); }
    TcpRelay& relay;
  };
  struct Peer {
    Link link;
    bool readable = false;
    bool writable = false;
    bool got_fin = false;  // it will send no more
    bool shut = false;     // we sent it our FIN
  };

  TcpRelay(TcpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
           const TcpRouting& routing, tls::Stream tls);
  // Content rules, then the backend (with its own content rules), then the connect;
  // `final`: no more data will be waited for.
  void inspect(bool final);
  // The backend is known: its timeouts and retries apply, and the server connect starts.
  bool use_backend(const TcpBackend& backend);
  // Picks a server and connects, or queues when servers are at maxconn; false when no
  // server could be had.
  bool connect_server(std::uint32_t avoid);
  bool connect_to(const ServerTarget& server);
  // After a failed connect to `failed`: true while a retry is under way.
  // `after_error`: refused or reset rather than timed out (HAProxy pauses only then).
  bool retry(std::uint32_t failed, bool after_error = true);
  void on_server_slot(const ServerTarget& server) override;
  void release_server();
  void on_server_events(std::uint32_t events);
  // `send-proxy[-v2]`: the header goes first on a connection just established.
  bool send_proxy_header();
  // The server's TLS handshake after the connect; false when it failed.
  bool server_handshake(std::uint32_t events);
  // What the client's facts are for rules (its TLS included).
  ClientTls client_tls() const { return {client_.link.tls() != nullptr, client_.link.tls()}; }
  void on_timer() override;
  // Moves bytes both ways until nothing more can move; closes when both ways are done.
  void pump();
  // One direction: returns false on a fatal socket error.
  bool transfer(Peer& from, Peer& to, Pipe& pipe, bool to_ready);
  bool transfer_spliced(Peer& from, Peer& to, Pipe& pipe, bool to_ready);
  void pass_fin(Peer& from, Peer& to, const Pipe& pipe, bool to_ready);
  void touch();
  void finish();
  // How the connection ended, for the log's termination state (the first cause stays).
  void terminated(char cause, char phase);
  void log_connection();

  TcpLoopShare& share_;
  io::Loop& loop_;
  ConnectionSlot slot_;
  const TcpRouting& routing_;
  BackendState* backend_ = nullptr;         // none while inspecting
  std::span<const ServerOptions> servers_;  // the backend's, by server index
  TcpTimeouts timeouts_;
  Peer client_;
  Peer server_;
  ServerSide server_side_{*this};
  std::uint32_t target_ = balance::no_server;  // the server counted for this connection
  io::SocketAddress client_address_;
  io::SocketAddress local_address_;
  Pipe to_server_;
  Pipe to_client_;
  int retries_left_ = 0;
  ServerTarget granted_;  // a queue's slot, until used
  bool slot_granted_ = false;
  bool queued_ = false;
  bool inspecting_ = false;  // holding the client's bytes until the rules decide

  // `option tcplog`: what the line says (kept only when the frontend logs one).
  log::Logger* logger_ = nullptr;
  std::chrono::system_clock::time_point accept_date_;
  std::int64_t accepted_ms_ = 0, queued_ms_ = -1, queue_ms_ = -1, connect_ms_ = -1,
               connected_ms_ = -1;
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0;
  int retries_used_ = 0;
  std::uint32_t log_server_ = balance::no_server;
  log::TerminationState termination_;
  bool connecting_ = false;     // also while queued: the client's bytes wait in the pipe
  bool tcp_connected_ = false;  // the server's TCP is up (its TLS handshake may still run)
  bool finished_ = false;
};

}  // namespace sluice::proxy

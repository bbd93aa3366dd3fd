// `mode tcp`: a byte-exact, full-duplex relay between a client and a server connection,
// with half-close carried across (a FIN from one side becomes a shutdown on the other) and
// connection retries on another server when one refuses. Knows no protocol.
#pragma once

#include <cstdint>
#include <memory>

#include "runtime/io/loop.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/proxy/backend_state.hpp"
#include "runtime/proxy/connection_slot.hpp"

namespace sluice::proxy {

// One direction's bytes in flight: read into the tail, written from the head.
class Pipe {
 public:
  explicit Pipe(std::size_t capacity);
  char* space() { return data_.get() + tail_; }
  std::size_t space_size() const { return capacity_ - tail_; }
  const char* bytes() const { return data_.get() + head_; }
  std::size_t size() const { return tail_ - head_; }
  void produced(std::size_t n) { tail_ += n; }
  void consumed(std::size_t n);

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

// A connection just accepted, with the addresses read once at accept.
struct AcceptedClient {
  io::Fd fd;
  io::SocketAddress peer;
  io::SocketAddress local;
};

struct TcpTimeouts {
  std::int64_t connect_ms = 0;  // 0: none
  std::int64_t idle_ms = 0;     // client/server/tunnel, whichever applies
  // Once a side has sent its FIN, the half-open relay waits this long instead
  // (`timeout client-fin` / `server-fin`; 0: idle_ms still applies).
  std::int64_t client_fin_ms = 0;
  std::int64_t server_fin_ms = 0;
  std::int64_t queue_ms = 0;  // waiting for a slot on a server at maxconn; 0: no limit
};

class TcpRelay final : public io::Owned, private io::Timer, private QueueWaiter {
 public:
  // Takes the accepted client socket and connects to a server of `backend`. `loop_index`
  // is the loop's among the worker's (for BackendState's queues).
  static void start(io::Loop& loop, std::size_t loop_index, AcceptedClient client,
                    ConnectionSlot slot, BackendState& backend, const TcpTimeouts& timeouts,
                    std::size_t buffer_size);

  void on_events(std::uint32_t events) override;  // the client side

 private:
  struct ServerSide final : io::Pollable {
    explicit ServerSide(TcpRelay& relay) : relay(relay) {}
    void on_events(std::uint32_t events) override { relay.on_server_events(events); }
    TcpRelay& relay;
  };
  struct Peer {
    io::Fd fd;
    bool readable = false;
    bool writable = false;
    bool got_fin = false;  // it will send no more
    bool shut = false;     // we sent it our FIN
  };

  TcpRelay(io::Loop& loop, std::size_t loop_index, AcceptedClient client, ConnectionSlot slot,
           BackendState& backend, const TcpTimeouts& timeouts, std::size_t buffer_size);
  // Picks a server and connects, or queues when servers are at maxconn; false when no
  // server could be had.
  bool connect_server(std::uint32_t avoid);
  bool connect_to(const ServerTarget& server);
  // After a failed connect to `failed`: true while a retry is under way.
  bool retry(std::uint32_t failed);
  void on_server_slot(const ServerTarget& server) override;
  void release_server();
  void on_server_events(std::uint32_t events);
  void on_timer() override;
  // Moves bytes both ways until nothing more can move; closes when both ways are done.
  void pump();
  // One direction: returns false on a fatal socket error.
  bool transfer(Peer& from, Peer& to, Pipe& pipe, bool to_ready);
  void touch();
  void finish();

  io::Loop& loop_;
  std::size_t loop_index_;
  ConnectionSlot slot_;
  BackendState& backend_;
  TcpTimeouts timeouts_;
  Peer client_;
  Peer server_;
  ServerSide server_side_{*this};
  std::uint32_t target_ = balance::no_server;  // the server counted for this connection
  io::SocketAddress client_address_;
  std::uint16_t local_port_ = 0;
  Pipe to_server_;
  Pipe to_client_;
  int retries_left_ = 0;
  ServerTarget granted_;  // a queue's slot, until used
  bool slot_granted_ = false;
  bool queued_ = false;
  bool connecting_ = false;  // also while queued: the client's bytes wait in the pipe
  bool finished_ = false;
};

}  // namespace sluice::proxy

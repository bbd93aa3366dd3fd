// `mode http`: one client connection carrying HTTP/1.1 exchanges. Parses each request
// head, runs the frontend's and backend's rules, routes and picks a server, forwards the
// (edited) head and streams the body; then the same for the response; keeps both sides
// alive when HTTP allows, reusing pooled server connections. Answers by itself when the
// rules say so or when something is wrong (HAProxy's error pages).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/http/parser.hpp"
#include "runtime/http2/server.hpp"
#include "runtime/io/loop.hpp"
#include "runtime/log/logger.hpp"
#include "runtime/log/traffic_log.hpp"
#include "runtime/proxy/backend_state.hpp"
#include "runtime/proxy/client_side.hpp"
#include "runtime/proxy/connection_slot.hpp"
#include "runtime/proxy/http_facts.hpp"
#include "runtime/proxy/http_reply.hpp"
#include "runtime/proxy/http_rules.hpp"
#include "runtime/proxy/link.hpp"
#include "runtime/proxy/proxy_protocol.hpp"
#include "runtime/proxy/server_options.hpp"
#include "runtime/proxy/server_pool.hpp"
#include "runtime/proxy/tcp_relay.hpp"
#include "runtime/proxy/tcp_rules.hpp"
#include "runtime/rules/format.hpp"
#include "runtime/tls/client_context.hpp"

namespace sluice::proxy {

enum class ReuseMode : std::uint8_t { never, safe, always };

// At a soft stop, how long a kept-alive client connection between requests may still
// bring its next request (answered with a close) before it is closed.
inline constexpr std::int64_t kSoftStopGraceMs = 500;

// A backend as HTTP sessions use it, compiled once per worker.
struct HttpBackend {
  BackendState* state = nullptr;
  std::uint32_t index = 0;  // in config::Config::backends, and in ServerPool
  // `tcp-request content`, once per request (compiled once, for the TCP view).
  std::span<const TcpRule> content_rules;
  HttpRuleSet request_rules, response_rules;
  ErrorPages error_pages;
  ReuseMode reuse = ReuseMode::safe;
  std::int64_t connect_ms = 0, server_ms = 0, tunnel_ms = 0;
  std::int64_t queue_ms = 0;  // `timeout queue`, else `timeout connect` (HAProxy)
  std::int64_t server_fin_ms = 0;
  std::vector<ServerOptions> servers;  // by server index
};

// A frontend as HTTP sessions use it, compiled once per worker.
struct HttpFrontend {
  const config::Frontend* config = nullptr;
  std::size_t index = 0;  // in config::Config::frontends
  log::TrafficLog log_kind = log::TrafficLog::connect;
  http2::Settings h2;                  // its HTTP/2 clients' (tune.h2.*)
  std::vector<TcpRule> content_rules;  // `tcp-request content`, once per request
  HttpRuleSet request_rules, redirect_rules, response_rules;
  BackendRoutes<HttpBackend> backends;
  ErrorPages error_pages;
  // `option forwardfor` merged with each backend's, by backend index.
  std::vector<std::optional<ForwardFor>> forwardfor;
  // The connection mode merged with each backend's, by backend index.
  std::vector<config::HttpConnectionMode> connection_mode;
  std::int64_t client_ms = 0, http_request_ms = 0, keep_alive_ms = 0, client_fin_ms = 0;
  const ConnectionFacts::ServerCount* usable_servers = nullptr;
};

// What every HTTP session of one loop shares: buffers handed from one exchange to the
// next, the idle server connections, scratch space for rules.
class HttpSession;

// What a loop's soft stop reaches: every HTTP session, and every HTTP/2 connection (which
// carries several).
class StopListener {
 public:
  virtual void on_soft_stop() = 0;

 protected:
  ~StopListener() = default;

 private:
  friend class HttpLoopShare;
  StopListener* prev_listener_ = nullptr;
  StopListener* next_listener_ = nullptr;
};

class HttpLoopShare {
 public:
  // `index`: the loop's among the worker's (for BackendState's queues).
  HttpLoopShare(io::Loop& loop, std::size_t index, const std::vector<std::uint32_t>& servers,
                std::size_t bufsize, std::size_t max_headers);
  ~HttpLoopShare();

  struct Exchange;
  Exchange* acquire();
  void release(Exchange* exchange);
  ServerPool& pool() { return pool_; }
  // This loop's log sinks by frontend index; nullptr: the frontend logs nothing.
  void set_loggers(std::vector<log::Logger*> loggers) { loggers_ = std::move(loggers); }
  log::Logger* logger(std::size_t frontend) const {
    return frontend < loggers_.size() ? loggers_[frontend] : nullptr;
  }
  std::span<char> scratch() { return {scratch_.get(), bufsize_}; }
  io::Loop& loop() { return loop_; }
  std::size_t index() const { return index_; }

  // Soft stop: idle client and server connections close now, busy ones after their
  // current exchange.
  void soft_stop();
  bool stopping() const { return stopping_; }
  // Until forget(): told of the soft stop (at once when it has begun already).
  void listen_for_stop(StopListener& listener);
  void forget(StopListener& listener);

  // Requests this loop has read (show info's CumReq): written by this loop only, read by
  // any thread, so a plain store and no read-modify-write.
  void count_request() {
    requests_.store(requests_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  io::Loop& loop_;
  std::size_t index_;
  std::atomic<std::uint64_t> requests_{0};
  StopListener* listeners_ = nullptr;  // every open session and HTTP/2 connection
  bool stopping_ = false;
  ServerPool pool_;
  std::size_t bufsize_;
  std::size_t max_headers_;
  std::unique_ptr<char[]> scratch_;
  std::vector<Exchange*> free_;
  std::vector<log::Logger*> loggers_;
};

class HttpSession final : public io::Owned,
                          private StopListener,
                          private io::Timer,
                          private ServerConnectionUser,
                          private QueueWaiter {
 public:
  // `tls`: the client's TLS stream, its handshake done (the handshake registered the
  // socket with the loop); empty on a plain connection.
  static void start(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
                    const HttpFrontend& frontend, tls::Stream tls = {});
  // A session over `client`, which is not a connection of its own (an HTTP/2 stream): its
  // owner feeds it events with on_events() until the session calls client.detach().
  // `peer`/`local`: the connection's addresses; `prior_requests`: streams it carried before
  // (http-reuse safe shares pooled server connections from a client's second request on).
  static HttpSession* start_stream(HttpLoopShare& share, ClientSide& client,
                                   const io::SocketAddress& peer, const io::SocketAddress& local,
                                   const HttpFrontend& frontend, std::uint32_t prior_requests);
  ~HttpSession() override;

  void on_events(std::uint32_t events) override;  // the client side
  // Ends the session now (its client side went away: an HTTP/2 connection closing).
  void abort() { close(); }

 private:
  enum class RequestState : std::uint8_t { head, body, done };
  // queued: waiting for a server slot (server maxconn) or for the pause before retrying
  // the same server; the request head is already edited.
  enum class ResponseState : std::uint8_t { none, queued, connecting, head, body, done };

  HttpSession(HttpLoopShare& share, AcceptedClient client, ConnectionSlot slot,
              const HttpFrontend& frontend, tls::Stream tls);
  void join(HttpLoopShare& share);
  void on_server_events(std::uint32_t events) override;
  void on_timer() override;
  void on_server_slot(const ServerTarget& server) override;

  // Moves everything that can move; closes or starts the next exchange when one ends.
  void advance();
  bool read_client();
  bool write_client();
  bool read_server();
  bool write_server();
  bool step_request();
  bool step_response();
  // False (and the 400 on its way) when body bytes that came with the head are malformed.
  bool buffered_body_is_valid();
  void process_request_head();
  // Picks a server and connects (or takes an idle connection when `allow_reuse` and the
  // backend's http-reuse allow); false when no server could be had.
  bool connect_server(std::uint32_t avoid, bool allow_reuse);
  // Connects to `server`, already counted as target_ (or takes one of its idle connections
  // when `may_reuse`); false when the connect failed at once.
  bool connect_to(const ServerTarget& server, bool may_reuse);
  // After a failed connect to `failed`: true while a retry is under way (another server
  // with `option redispatch`, else the same one after HAProxy's pause).
  // `after_error`: the connect failed (refused, reset) rather than timed out: HAProxy
  // pauses before trying the same server again only then.
  bool retry(std::uint32_t failed, bool after_error = true);
  // A queued request's turn (slot granted) or its `timeout queue`.
  void leave_queue(bool granted);
  bool start_forwarding();
  void process_response_head(std::size_t head_size);
  void finish_exchange();
  void server_failed(bool timed_out);
  // What a connection to that server starts with for this request (TLS and its SNI, a
  // PROXY header), written into the caller's buffers.
  struct ConnectBuffers {
    std::array<char, kProxyHeaderOut> preamble;
    // The SNI, then under send-proxy both addresses (a PROXY header binds a connection
    // to one client).
    std::array<char, 256 + 2 * sizeof(sockaddr_in6) + 1> key;
  };
  ConnectSpec connect_spec(std::uint32_t server, ConnectBuffers& buffers);
  // sluice's line for what HAProxy only shows as a 503: why the server's TLS failed.
  void log_server_tls_failure(std::string_view why, bool certificate_rejected);
  // Writes a generated response and ends the exchange on it; the client connection stays
  // open when the page allows, as HAProxy keeps it after a 502, 503 or 504.
  void reply_error(int status, bool close_after = false);
  // The client gets what is buffered for it, then the connection closes (a response cut
  // short after its head was sent).
  void abort_after_flush();
  void reply_rule(const RuleOutcome& outcome);
  template <class Write>
  void write_reply(Write&& write);
  const ErrorPages& pages_for(int status) const;
  void drop_server(bool reusable);
  // The exchange's `option httplog`/`tcplog` line, once, when the frontend logs one.
  void log_exchange();
  void capture_request_line();
  // How the exchange ended, for the log's termination state (the first cause set stays).
  void terminated(char cause, char phase);
  void rearm();
  void close();

  // What rules read of this client (addresses, TLS, protocol); messages are set after.
  HttpFacts client_facts() const {
    return HttpFacts(client_address_, local_address_, frontend_.usable_servers,
                     {client_->tls() != nullptr, client_->tls()}, client_->http2());
  }
  // Closes the session if it sits between requests; otherwise it closes after this one.
  void on_soft_stop() override;

  HttpLoopShare& share_;
  const HttpFrontend& frontend_;
  log::Logger* logger_ = nullptr;  // set when the frontend logs each exchange
  ConnectionSlot slot_;
  LinkClient own_client_;  // the client connection, when the session has one
  ClientSide* client_ = &own_client_;
  io::SocketAddress client_address_;
  io::SocketAddress local_address_;
  HttpLoopShare::Exchange* x_ = nullptr;  // buffers and messages; none while idle
  ServerConnection* server_ = nullptr;
  HttpBackend* backend_ = nullptr;
  std::uint32_t target_ = balance::no_server;       // counted by the backend until released
  std::uint32_t last_server_ = balance::no_server;  // the one a retry stays off
  ServerTarget granted_;                            // a queue's slot, until used
  bool slot_granted_ = false;
  bool queued_may_reuse_ = false;
  std::size_t head_size_ = 0;  // bytes of the request head in client_in
  http::Method request_method_ = http::Method::other;
  http::Version request_version_ = http::Version::http_1_1;
  bool request_upgrade_ = false;
  bool server_shut_ = false;            // tunnel: the client's FIN was passed on
  std::int64_t head_deadline_ms_ = 0;   // `timeout http-request`, 0: none
  std::int64_t queue_deadline_ms_ = 0;  // `timeout queue`, 0: none
  int retries_left_ = 0;
  std::uint32_t requests_ = 0;
  RequestState request_state_ = RequestState::head;
  ResponseState response_state_ = ResponseState::none;
  bool client_readable_ = false;
  bool client_writable_ = true;
  bool client_fin_ = false;
  bool client_hangup_ = false;  // epoll said RDHUP/HUP/ERR: read until recv says so
  bool server_readable_ = false;
  bool server_writable_ = false;
  bool server_fin_ = false;
  bool server_hangup_ = false;
  bool server_answered_ = false;  // a response byte arrived on this server connection
  bool keep_alive_ = true;        // the client connection outlives this exchange
  bool server_keep_alive_ = true;
  bool connect_timed_out_ = false;  // the last connect ended at `timeout connect` (sC)
  bool replied_locally_ = false;
  bool tunnel_ = false;
  bool dechunk_ = false;      // an HTTP/1.0 client gets a chunked response's data, then a close
  bool closing_ = false;      // flushing the last bytes before closing the client
  bool client_shut_ = false;  // our FIN went to the client
  bool closed_ = false;
};

}  // namespace sluice::proxy

// HAProxy 2.6's built-in traffic log lines: `option httplog`, `option tcplog`, and the
// "Connect from" line a frontend logs without either. The proxy fills a LogRecord at the
// end of an exchange (at accept for the connect line); this renders it into a caller's
// buffer. Knows nothing of sockets, sessions or sinks; reads the frontend's options only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "runtime/config/config.hpp"
#include "runtime/io/socket.hpp"

namespace sluice::log {

// HAProxy's termination_state (configuration.txt 8.5): %ts prints the first two, %tsc all four.
struct TerminationState {
  char cause = '-';            // C S P L R I D U K c s -
  char phase = '-';            // R Q C H D L T -
  char request_cookie = '-';   // N I D V E O U -  (no `cookie` support: always '-')
  char response_cookie = '-';  // N I U P R D -
};

// Everything one traffic log line says. Views must outlive the write_* call only.
struct LogRecord {
  // %ci:%cp. A UNIX-socket client prints "unix" and, for a port, HAProxy's listener id.
  io::SocketAddress client;
  // %fi:%fp, the address the client connected to: only the connect line prints it.
  io::SocketAddress frontend_address;
  // %t (tcplog) / %tr (httplog): the accept, or for HTTP the start of this request (for a
  // keep-alive connection's next request, the end of the previous response).
  std::chrono::system_clock::time_point accept_date{};

  std::string_view frontend;  // %f
  bool frontend_tls = false;  // %ft adds '~' after the name
  config::Mode mode = config::Mode::tcp;
  std::string_view backend;  // %b; empty until a backend is chosen: the frontend's name prints
  std::string_view server;   // %s; empty: "<NOSRV>"

  // Timers in milliseconds; -1 when that point was never reached (section 8.4).
  std::int64_t request_ms = -1;   // TR: first byte to complete request head
  std::int64_t queue_ms = -1;     // Tw: time in queues
  std::int64_t connect_ms = -1;   // Tc: connect to the server, retries included
  std::int64_t response_ms = -1;  // Tr: request sent to complete response head
  std::int64_t active_ms = -1;    // Ta: first request byte to last response byte
  std::int64_t total_ms = -1;     // Tt: accept to last close

  int status = -1;                      // %ST; -1 when no status was sent
  std::uint64_t bytes_to_client = 0;    // %B: bytes sent to the client, headers included
  std::uint64_t bytes_from_client = 0;  // %U: what `option dontlognull` looks at
  TerminationState termination;

  int active_connections = 0;    // %ac: the process's (all loops)
  int frontend_connections = 0;  // %fc
  int backend_connections = 0;   // %bc: on servers and queued
  int server_connections = 0;    // %sc
  int retries = 0;               // %rc
  bool redispatched = false;     // %rc prints "+retries"
  int server_queue = 0;          // %sq: requests ahead of this one in the server's queue
  int backend_queue = 0;         // %bq: ahead of it in the backend's queue

  // %r: the request line as received. An empty method means no valid request: "<BADREQ>".
  std::string_view method;
  std::string_view target;
  std::string_view version;
};

// Which line a frontend logs. HAProxy's last `option httplog|tcplog` wins; config keeps both
// flags without their order, so when both are set httplog is taken. httplog needs mode http
// (HAProxy falls back to tcplog and warns).
enum class TrafficLog : std::uint8_t { connect, tcp, http };
TrafficLog traffic_log_of(const config::Frontend& frontend);

// `option dontlognull`: a tcplog/httplog line for an exchange in which the client sent no
// byte is not logged. The connect line (logged at accept) is never suppressed.
bool suppressed_by_dontlognull(const config::Frontend& frontend, const LogRecord& record);

// The request line is cut to this many bytes before its non-printable characters are
// encoded: what haproxy 2.6.12 keeps with the default `tune.http.logurilen 1024`.
inline constexpr std::size_t request_line_capture_limit = 1023;

// Each returns the line's length (no newline). A line longer than `out` is cut to fit.
//
// "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc
//  %sq/%bq %hr %hs %{+Q}r": with no capture, %CC %CS print "-" and %hr %hs nothing at all.
std::size_t write_http_log(std::span<char> out, const LogRecord& record);
// "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
std::size_t write_tcp_log(std::span<char> out, const LogRecord& record);
// "Connect from CI:CP to FI:FP (FRONTEND/MODE)"; "Connect to unix:ID (FRONTEND/MODE)".
std::size_t write_connect_log(std::span<char> out, const LogRecord& record);
std::size_t write_traffic_log(std::span<char> out, TrafficLog kind, const LogRecord& record);
// A connection that ended before any exchange (a failed TLS handshake):
// "%ci:%cp [%tr] %f/LISTENER: MESSAGE", LISTENER being the bind's name or id.
std::size_t write_connection_error_log(std::span<char> out, const LogRecord& record,
                                       std::string_view listener, std::string_view message);
// A server connection that could not be used (a failed TLS handshake with it), which
// HAProxy reports only as the request's 503: "%ci:%cp [%tr] %f %b/%s: MESSAGE".
std::size_t write_server_error_log(std::span<char> out, const LogRecord& record,
                                   std::string_view message);

}  // namespace sluice::log

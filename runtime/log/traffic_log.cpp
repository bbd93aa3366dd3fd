#include "runtime/log/traffic_log.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "runtime/log/line_writer.hpp"
#include "runtime/log/syslog.hpp"

namespace sluice::log {

namespace {

constexpr std::string_view month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void ip(LineWriter& w, const io::SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* bytes = nullptr;
  if (address.family() == AF_INET)
    bytes = &reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr;
  else if (address.family() == AF_INET6)
    bytes = &reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr;
  if (bytes && inet_ntop(address.family(), bytes, text, sizeof text))
    w.text(text);  // IPv6 without brackets, as HAProxy prints it ("::1:41234")
  else
    w.character('-');
}

// %ci:%cp, or %fi:%fp.
// A UNIX-socket client prints "unix" and, as its port, HAProxy's listener id (which its
// SocketAddress carries).
void address(LineWriter& w, const io::SocketAddress& address) {
  if (address.family() == AF_UNIX) {
    w.text("unix:");
    w.number(address.port());
    return;
  }
  ip(w, address);
  w.character(':');
  if (address.family() == AF_INET || address.family() == AF_INET6)
    w.number(address.port());
  else
    w.character('-');
}

// "04/Dec/2026:18:56:24.123": %t and %tr, local time, milliseconds truncated.
void accept_date(LineWriter& w, std::chrono::system_clock::time_point when) {
  const LocalTime t = local_time_of(when);
  w.padded(t.day, 2);
  w.character('/');
  w.text(month_names[(t.month - 1) % 12]);
  w.character('/');
  w.padded(t.year, 4);
  w.character(':');
  w.clock(t.hour, t.minute, t.second);
  w.character('.');
  w.padded(t.microsecond / 1000, 3);
}

// "%ci:%cp [%tr] %f", what every session and error line starts with.
void line_prefix(LineWriter& w, const LogRecord& r) {
  address(w, r.client);
  w.text(" [");
  accept_date(w, r.accept_date);
  w.text("] ");
  w.text(r.frontend);
}

// "[date] fe~ be/srv " — common to tcplog and httplog.
void session_head(LineWriter& w, const LogRecord& r) {
  line_prefix(w, r);
  if (r.frontend_tls) w.character('~');
  w.character(' ');
  w.text(r.backend.empty() ? r.frontend : r.backend);
  w.character('/');
  w.text(r.server.empty() ? std::string_view("<NOSRV>") : r.server);
  w.character(' ');
}

// "%ac/%fc/%bc/%sc/%rc %sq/%bq"
void counters(LineWriter& w, const LogRecord& r) {
  w.number(r.active_connections);
  w.character('/');
  w.number(r.frontend_connections);
  w.character('/');
  w.number(r.backend_connections);
  w.character('/');
  w.number(r.server_connections);
  w.character('/');
  if (r.redispatched) w.character('+');
  w.number(r.retries);
  w.character(' ');
  w.number(r.server_queue);
  w.character('/');
  w.number(r.backend_queue);
}

// HAProxy logs only bytes 32..126 as they are; '"' and '#' (its escape) are encoded too.
void encoded(LineWriter& w, std::string_view text) {
  constexpr char hex[] = "0123456789ABCDEF";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 32 || byte > 126 || c == '"' || c == '#') {
      w.character('#');
      w.character(hex[byte >> 4]);
      w.character(hex[byte & 15]);
    } else {
      w.character(c);
    }
  }
}

// %{+Q}r: the request line, cut to tune.http.logurilen bytes before encoding.
void request_line(LineWriter& w, const LogRecord& r) {
  w.character('"');
  if (r.method.empty()) {
    w.text("<BADREQ>");
  } else {
    std::size_t room = request_line_capture_limit;
    auto part = [&](std::string_view text) {
      if (text.size() > room) text = text.substr(0, room);
      room -= text.size();
      encoded(w, text);
    };
    part(r.method);
    part(" ");
    part(r.target);
    if (!r.version.empty()) {
      part(" ");
      part(r.version);
    }
  }
  w.character('"');
}

}  // namespace

TrafficLog traffic_log_of(const config::Frontend& frontend) {
  if (frontend.httplog && frontend.mode == config::Mode::http) return TrafficLog::http;
  if (frontend.httplog || frontend.tcplog) return TrafficLog::tcp;
  return TrafficLog::connect;
}

bool suppressed_by_dontlognull(const config::Frontend& frontend, const LogRecord& record) {
  return frontend.dontlognull && record.bytes_from_client == 0 &&
         traffic_log_of(frontend) != TrafficLog::connect;
}

std::size_t write_http_log(std::span<char> out, const LogRecord& r) {
  LineWriter w(out);
  session_head(w, r);
  w.number(r.request_ms);
  w.character('/');
  w.number(r.queue_ms);
  w.character('/');
  w.number(r.connect_ms);
  w.character('/');
  w.number(r.response_ms);
  w.character('/');
  w.number(r.active_ms);
  w.character(' ');
  w.number(r.status);
  w.character(' ');
  w.number(r.bytes_to_client);
  // %CC %CS: no `capture cookie` support, so both are "-".
  w.text(" - - ");
  const TerminationState& t = r.termination;
  w.character(t.cause);
  w.character(t.phase);
  w.character(t.request_cookie);
  w.character(t.response_cookie);
  w.character(' ');
  counters(w, r);
  // %hr %hs print nothing without `capture request/response header`, and HAProxy then
  // writes no separator for them either: one space before the request line.
  w.character(' ');
  request_line(w, r);
  return w.size();
}

std::size_t write_tcp_log(std::span<char> out, const LogRecord& r) {
  LineWriter w(out);
  session_head(w, r);
  w.number(r.queue_ms);
  w.character('/');
  w.number(r.connect_ms);
  w.character('/');
  w.number(r.total_ms);
  w.character(' ');
  w.number(r.bytes_to_client);
  w.character(' ');
  w.character(r.termination.cause);
  w.character(r.termination.phase);
  w.character(' ');
  counters(w, r);
  return w.size();
}

std::size_t write_connect_log(std::span<char> out, const LogRecord& r) {
  LineWriter w(out);
  if (r.client.family() == AF_UNIX) {
    w.text("Connect to ");
    address(w, r.client);
  } else {
    w.text("Connect from ");
    address(w, r.client);
    w.text(" to ");
    address(w, r.frontend_address);
  }
  w.text(" (");
  w.text(r.frontend);
  w.text(r.mode == config::Mode::http ? "/HTTP)" : "/TCP)");
  return w.size();
}

std::size_t write_connection_error_log(std::span<char> out, const LogRecord& r,
                                       std::string_view listener, std::string_view message) {
  LineWriter w(out);
  line_prefix(w, r);
  w.character('/');
  w.text(listener);
  w.text(": ");
  w.text(message);
  return w.size();
}

std::size_t write_server_error_log(std::span<char> out, const LogRecord& r,
                                   std::string_view message) {
  LineWriter w(out);
  line_prefix(w, r);
  w.character(' ');
  w.text(r.backend);
  w.character('/');
  w.text(r.server.empty() ? "<NOSRV>" : r.server);
  w.text(": ");
  w.text(message);
  return w.size();
}

std::size_t write_traffic_log(std::span<char> out, TrafficLog kind, const LogRecord& record) {
  switch (kind) {
    case TrafficLog::http:
      return write_http_log(out, record);
    case TrafficLog::tcp:
      return write_tcp_log(out, record);
    case TrafficLog::connect:
      break;
  }
  return write_connect_log(out, record);
}

}  // namespace sluice::log

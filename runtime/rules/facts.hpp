// What ACLs and log-format strings read at request time: the fetch and log-variable ids,
// typed values, and the Facts interface the proxy implements per connection and request.
// Knows nothing of sockets, the HTTP codec or config types: the proxy translates its own
// state into these values, and rules applies HAProxy's semantics on top.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sluice::rules {

// One id per fetch sluice implements, after resolving HAProxy's alternative names (`hdr_beg`
// is `hdr` with an implied match, `shdr` is `res.hdr`). Only some reach Facts::fetch: the
// rest rules derives itself (see Facts).
enum class FetchId : std::uint8_t {
  always_false,
  always_true,
  base,         // derived: first Host value + path
  dst,          // Facts: address
  dst_port,     // Facts: integer
  hdr,          // derived from headers; the current message in a format, the request in an ACL
  method,       // Facts: text ("GET", "get", "PURGE": as received)
  nbsrv,        // Facts: integer; args: [backend name] (none: the current backend)
  path,         // derived from url
  query,        // derived from url
  req_hdr,      // derived from request headers
  req_hdr_cnt,  // derived from request headers (also `hdr_cnt`)
  req_ssl_hello_type,  // Facts: integer; may_change() while the ClientHello is incomplete
  req_ssl_sni,         // Facts: text; may_change() likewise
  res_hdr,             // derived from response headers (also `shdr`)
  res_hdr_cnt,         // derived from response headers
  src,                 // Facts: address
  src_port,            // Facts: integer
  ssl_c_i_dn,          // Facts: text; args: [entry[, occurrence[, format]]]
  ssl_c_notafter,      // Facts: text
  ssl_c_s_dn,          // Facts: text; args as ssl_c_i_dn
  ssl_c_serial,        // Facts: binary
  ssl_c_used,          // Facts: boolean
  ssl_c_verify,        // Facts: integer
  ssl_fc,              // Facts: boolean
  ssl_fc_alpn,         // Facts: text
  ssl_fc_cipher,       // Facts: text
  ssl_fc_protocol,     // Facts: text
  ssl_fc_sni,          // Facts: text
  status,              // Facts: integer (response status)
  str,                 // derived: the constant argument
  url,                 // Facts: text (the request target as it is now, after set-path)
};

enum class Message : std::uint8_t { request, response };

// An IPv4 or IPv6 address in network byte order; IPv4 uses bytes[0..3].
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(std::uint32_t host_order) {
    IpAddress a;
    a.bytes = {std::uint8_t(host_order >> 24), std::uint8_t(host_order >> 16),
               std::uint8_t(host_order >> 8), std::uint8_t(host_order)};
    return a;
  }
  static IpAddress v6_bytes(const std::array<std::uint8_t, 16>& b) {
    IpAddress a;
    a.v6 = true;
    a.bytes = b;
    return a;
  }
  std::uint32_t v4_host_order() const {
    return std::uint32_t(bytes[0]) << 24 | std::uint32_t(bytes[1]) << 16 |
           std::uint32_t(bytes[2]) << 8 | bytes[3];
  }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// A typed sample. `none` is HAProxy's "no sample": the fetch failed, the test does not match.
// `text`/`binary` views must stay valid until the evaluation or rendering returns.
struct Value {
  enum class Type : std::uint8_t { none, boolean, integer, address, text, binary, time };
  Type type = Type::none;
  std::int64_t integer = 0;  // boolean (0/1), integer, time (microseconds since the epoch)
  IpAddress address;
  std::string_view text;

  static Value boolean_of(bool b) { return {Type::boolean, b ? 1 : 0, {}, {}}; }
  static Value integer_of(std::int64_t i) { return {Type::integer, i, {}, {}}; }
  static Value address_of(const IpAddress& a) { return {Type::address, 0, a, {}}; }
  static Value text_of(std::string_view s) { return {Type::text, 0, {}, s}; }
  static Value binary_of(std::string_view s) { return {Type::binary, 0, {}, s}; }
  static Value time_of(std::int64_t micros) { return {Type::time, micros, {}, {}}; }
  explicit operator bool() const { return type != Type::none; }
};

// A header field as received: the whole field value, commas included. rules splits values
// the way HAProxy does (outside double quotes, whitespace trimmed).
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// Log-format aliases (configuration.txt 8.2.6), one per `%XX` name.
enum class LogVar : std::uint8_t {
  bytes_read,                // %B   integer
  captured_req_cookie,       // %CC  text
  captured_res_cookie,       // %CS  text
  hostname,                  // %H   text
  http_method,               // %HM  derived from Facts::fetch(method)
  http_path_query,           // %HP  derived from url: the URI without its query string
  http_path_only,            // %HPO derived from url: the path only
  http_query,                // %HQ  derived from url: "?query" or nothing
  http_uri,                  // %HU  derived from url
  http_version,              // %HV  text ("HTTP/1.1")
  unique_id,                 // %ID  text
  status_code,               // %ST  integer (-1 before a response, as HAProxy)
  gmt_date,                  // %T   time  -> "10/Oct/2000:13:55:36 +0000"
  request_time,              // %TR  integer
  active_time,               // %Ta  integer
  connect_time,              // %Tc  integer
  data_time,                 // %Td  integer
  handshake_time,            // %Th  integer
  idle_time,                 // %Ti  integer
  request_total_time,        // %Tq  integer
  response_time,             // %Tr  integer
  timestamp,                 // %Ts  integer (seconds since the epoch)
  total_time,                // %Tt  integer
  user_time,                 // %Tu  integer
  queue_time,                // %Tw  integer
  bytes_uploaded,            // %U   integer
  active_connections,        // %ac  integer
  backend_name,              // %b   text
  backend_connections,       // %bc  integer
  backend_source_ip,         // %bi  address
  backend_source_port,       // %bp  integer
  backend_queue,             // %bq  integer
  client_ip,                 // %ci  address
  client_port,               // %cp  integer
  frontend_name,             // %f   text
  frontend_connections,      // %fc  integer
  frontend_ip,               // %fi  address
  frontend_port,             // %fp  integer
  frontend_transport,        // %ft  text (name, '~' suffix over TLS)
  captured_req_headers,      // %hr  text
  captured_req_headers_clf,  // %hrl text
  captured_res_headers,      // %hs  text
  captured_res_headers_clf,  // %hsl text
  log_counter,               // %lc  integer
  accept_millis,             // %ms  integer, rendered on 3 digits
  pid,                       // %pid integer
  http_request_line,         // %r   text
  retries,                   // %rc  integer
  request_counter,           // %rt  integer
  server_name,               // %s   text ("<NOSRV>" before one is chosen, as HAProxy)
  server_connections,        // %sc  integer
  server_ip,                 // %si  address
  server_port,               // %sp  integer
  server_queue,              // %sq  integer
  ssl_cipher,                // %sslc text
  ssl_version,               // %sslv text
  local_date_ms,             // %t   time -> "10/Oct/2000:13:55:36.057" (local time)
  request_date_ms,           // %tr  time, as %t
  request_gmt_date,          // %trg time, as %T
  request_local_date,        // %trl time -> "10/Oct/2000:15:55:36 +0200"
  termination_state,         // %ts  text
  local_date,                // %Tl  time, as %trl
  termination_state_cookie,  // %tsc text
  flags_only,                // %o   renders nothing (it only carries flags)
};

// The proxy's view of one connection and request. Every call happens on the evaluating
// thread, during compiled-condition evaluation or rendering; nothing is kept afterwards.
class Facts {
 public:
  virtual ~Facts() = default;

  // The sample of a fetch marked "Facts:" in FetchId, of the type noted there; Value{} when
  // there is none (no TLS, a response not yet received...). `args` are the fetch's arguments
  // as written, already split.
  virtual Value fetch(FetchId id, std::span<const std::string_view> args) = 0;

  // Header fields of a message in arrival order; std::nullopt when there is no such HTTP
  // message (TCP mode, or no response yet), which makes header fetches fail. (A batched
  // copy interface measured no faster than one call per field.)
  virtual std::optional<std::size_t> header_count(Message message) = 0;
  virtual HeaderField header(Message message, std::size_t index) = 0;

  // A log-format alias; Value{} renders as "-" in logs and nothing in header values.
  virtual Value log_var(LogVar) { return {}; }

  // After `fetch` gave no sample: whether it may give one once more data arrives
  // (HAProxy's SMP_F_MAY_CHANGE, for tcp-request inspect-delay).
  virtual bool may_change(FetchId) { return false; }
};

}  // namespace sluice::rules

// The compiled configuration: an immutable graph of frontends, binds, rules, backends and
// servers, shared read-only by every event loop. Types only; built by runtime/compile.
// Knows nothing of the config text's syntax: locations are kept as plain strings for logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::config {

using Millis = std::chrono::milliseconds;

enum class Mode { tcp, http };

// "file:line" of the statement a runtime object came from, for logs and errors.
struct Origin {
  std::shared_ptr<const std::string> file;  // one copy per file, shared by its objects
  std::uint32_t line = 0;
};

enum class Family { unspecified, ipv4, ipv6, hostname, unix_path, abstract, inherited_fd };

struct Endpoint {
  Family family = Family::unspecified;
  std::string host;  // literal address, hostname, path or fd number; empty = any
  bool has_port = false;
  bool port_offset = false;
  std::int32_t port = 0;
  std::int32_t last_port = 0;
  // ipv4@/ipv6@: a host name resolves to this family only (unspecified: either).
  Family resolve_as = Family::unspecified;
};

enum class TlsVersion { unset, ssl3, tls1_0, tls1_1, tls1_2, tls1_3 };
enum class Verify { unset, none, optional, required };

struct TlsVersionRange {
  TlsVersion min = TlsVersion::unset;
  TlsVersion max = TlsVersion::unset;
  bool no_sslv3 = false, no_tls1_0 = false, no_tls1_1 = false, no_tls1_2 = false, no_tls1_3 = false;
};

// One certificate source of a bind, in bind-line order: a `crt` argument (file, bundle or
// directory), or one line of a `crt-list` with its SNI filters and options.
struct CertificateEntry {
  std::string path;  // crt-base applied
  // crt-list SNI filters (lower-cased): with any filter (an exclusion too) the certificate
  // serves the positive ones only ("*.x" wildcards), less the `!name` exclusions;
  // without, its own names.
  std::vector<std::string> filters, exclusions;
  // crt-list `[...]` options; unset/empty: the bind's.
  std::string alpn, ciphers, ciphersuites, curves, ca_file, crl_file;
  Verify verify = Verify::unset;
  TlsVersion min_version = TlsVersion::unset, max_version = TlsVersion::unset;
  bool no_ca_names = false;
};

struct BindTls {
  std::vector<std::string> certificates;  // files or directories, crt-base applied
  std::vector<std::string> crt_lists;
  std::vector<CertificateEntry> entries;  // both of the above, expanded, in line order
  std::string ca_file;
  std::string crl_file;
  Verify verify = Verify::unset;
  std::string alpn;  // as written: "h2,http/1.1"
  std::string ciphers;
  std::string ciphersuites;
  std::string curves;
  TlsVersionRange versions;
  bool strict_sni = false;
  bool no_tls_tickets = false;
  std::string ticket_keys_file;  // tls-ticket-keys
};

struct Bind {
  Origin origin;
  std::vector<Endpoint> endpoints;
  std::optional<BindTls> tls;
  std::string name;
  bool accept_proxy = false;
  bool http2 = false;  // `proto h2`: every connection speaks HTTP/2 (h2c on a plain bind)
  bool v4v6 = false;
  bool v6only = false;
  // UNIX socket binds (`mode`, `uid`/`user`, `gid`/`group`): the socket file's permissions
  // and owner; -1: the umask's and the process's.
  int unix_mode = -1;
  int uid = -1, gid = -1;
};

// A `stats socket` line: where the runtime API (HAProxy's CLI protocol) listens.
struct StatsSocket {
  Bind bind;  // its address and the bind settings that apply (mode, user, accept-proxy …)
  enum class Level { user, operator_, admin } level = Level::operator_;  // HAProxy's default
  bool expose_fd_listeners = false;
  // "unix@/run/x.sock", "ipv4@127.0.0.1:9999", "fd@3": HAProxy's form, as HAPROXY_CLI lists
  // them (joined with ';').
  std::vector<std::string> addresses;
};

// A compiled sample: fetch, arguments, converters (names validated by the parser).
struct Sample {
  std::string fetch;
  std::vector<std::string> args;
  std::vector<std::string> converters;
};

enum class Match { none, str, beg, end, sub, reg, found, len, ip, integer, boolean, dir, dom };
enum class IntOp { none, eq, ge, gt, le, lt };

struct AclTest {
  Sample sample;
  Match match = Match::none;
  bool ignore_case = false;
  IntOp op = IntOp::none;
  std::vector<std::string> patterns;  // values written inline and read from -f files
};

// A named ACL is every `acl NAME ...` line of its proxy, or-ed together.
struct Acl {
  std::string name;
  std::vector<AclTest> tests;
};

struct ConditionTerm {
  bool negated = false;
  std::shared_ptr<const Acl> acl;  // named (shared) or anonymous
};

struct Condition {
  bool unless = false;
  std::vector<std::vector<ConditionTerm>> any_of;
};

// Literal text and samples of a log-format string.
struct FormatPart {
  enum class Kind { literal, sample, alias } kind = Kind::literal;
  std::string text;  // literal text or alias name
  Sample sample;
};
using Format = std::vector<FormatPart>;

struct HttpAction {
  enum class Kind {
    set_header,
    add_header,
    del_header,
    replace_header,
    redirect_location,
    redirect_prefix,
    redirect_scheme,
    deny,
    return_,
    set_path
  } kind = Kind::deny;
  std::string name;   // header name
  std::string regex;  // replace-header
  Format value;       // header value, redirect target, path
  int status = 0;     // deny/return status, redirect code
  bool drop_query = false;
  bool append_slash = false;
  std::string content_type;
  std::string body;                   // return: literal body or file contents
  std::optional<Format> body_format;  // return lf-string / lf-file: rendered per reply
  std::vector<std::pair<std::string, Format>> headers;
};

struct HttpRule {
  Origin origin;
  HttpAction action;
  std::optional<Condition> condition;
};

struct TcpRule {
  Origin origin;
  bool content_layer = true;
  bool accept = true;
  std::optional<Condition> condition;
};

struct Timeouts {
  std::optional<Millis> client, server, connect, http_request, http_keep_alive, queue, tunnel,
      client_fin, server_fin, check;
};

struct LogTarget {
  bool global = false;
  std::string target;
  std::string format;
  std::string facility;
  std::string level;
  std::string min_level;
  int max_length = 1024;
};

struct ServerTls {
  bool enabled = false;
  Verify verify = Verify::unset;  // unset: `ssl-server-verify` decides (required by default)
  std::string verifyhost;
  std::string ca_file;
  std::string crl_file;
  std::string crt;
  std::optional<Sample> sni;  // evaluated per connection, on the request that opens it
  std::string alpn;
  std::string ciphers, ciphersuites;  // ssl-default-server-* applied
  TlsVersionRange versions;           // ssl-default-server-options, then the line's own
  bool reuse = true;                  // no-ssl-reuse
  bool tickets = true;                // no-tls-tickets
};

struct Server {
  Origin origin;
  std::string name;
  Endpoint endpoint;
  int weight = 1;
  bool backup = false;
  bool disabled = false;
  int maxconn = 0;
  bool check = false;
  Millis inter{2000};
  std::optional<Millis> fastinter, downinter;
  int rise = 2;
  int fall = 3;
  int check_port = 0;
  std::string check_addr;
  bool check_ssl = false;
  std::string check_sni;
  ServerTls tls;
  int send_proxy = 0;  // 0 none, 1 v1, 2 v2
};

struct HttpCheck {
  std::string method = "OPTIONS";
  std::string uri = "/";
  std::string version = "HTTP/1.0";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  struct Expect {
    bool negated = false;
    std::string kind;
    std::string pattern;
  };
  std::optional<Expect> expect;
};

// Which check `check` servers get: the last of `option httpchk`, `option ssl-hello-chk` and
// `option tcp-check` named wins; none: a TCP connect.
enum class CheckType { connect, http, ssl_hello, tcp_check };

// HAProxy's check statuses, as `tcp-check expect` names them (ok-status L7OK …).
enum class CheckStatus {
  l4_ok,
  l4_timeout,
  l4_connection,
  l6_ok,
  l6_timeout,
  l6_response,
  l7_timeout,
  l7_response,
  l7_ok,
  l7_status,
  socket_error
};

// One `tcp-check` step.
struct TcpCheckRule {
  enum class Kind { comment, connect, send, expect } kind = Kind::comment;
  std::string comment;
  // connect
  bool server_defaults = false;
  int port = 0;
  std::string addr;  // an IP literal; empty: the check address
  bool ssl = false;
  std::string sni;
  bool linger = false;
  // send
  std::string data;
  // expect
  bool negated = false;
  enum class Match { string, rstring, binary, rbinary } match = Match::string;
  std::string pattern;  // binary: the bytes
  std::int64_t min_recv = -1;
  CheckStatus ok = CheckStatus::l7_ok;
  CheckStatus error = CheckStatus::l7_response;
  CheckStatus timeout = CheckStatus::l7_timeout;
};

struct ForwardFor {
  std::string header = "X-Forwarded-For";
  std::string except;
  bool if_none = false;
};

// How HTTP connections go on after a response (`option httpclose`, `http-server-close`,
// `http-keep-alive`): the last one a proxy names wins; the frontend's and the backend's
// combine as HAProxy's do (the stricter wins).
enum class HttpConnectionMode { keep_alive, server_close, close };

enum class Balance { roundrobin, static_rr, leastconn, first, source, uri, hdr, random };

// `errorfile CODE FILE`: the whole raw HTTP response, as read at load time.
struct ErrorFile {
  int status = 0;
  std::string response;
};

struct Backend {
  Origin origin;
  std::string name;
  Mode mode = Mode::tcp;
  Balance balance = Balance::roundrobin;
  std::vector<std::string> balance_args;  // uri options, hdr()'s header, random()'s draws
  std::vector<std::string> hash_type;     // `hash-type` words as written; empty: map-based
  std::vector<Server> servers;
  Timeouts timeouts;
  int retries = 3;
  bool redispatch = false;
  bool allbackups = false;
  std::string http_reuse = "safe";
  std::optional<ForwardFor> forwardfor;
  std::optional<HttpConnectionMode> connection_mode;
  CheckType check_type = CheckType::connect;
  HttpCheck http_check;                  // used when check_type is http
  std::vector<TcpCheckRule> tcp_checks;  // used when check_type is tcp_check
  bool log_health_checks = false;
  std::vector<LogTarget> logs;  // where server state changes go
  std::string log_tag;          // `log-tag`; empty: the global one
  std::vector<HttpRule> http_request, http_response;
  std::vector<TcpRule> tcp_request;
  // A backend's own `tcp-request inspect-delay`, with where it was set.
  std::optional<std::pair<Millis, Origin>> inspect_delay;
  std::vector<ErrorFile> errorfiles;
};

struct Frontend {
  Origin origin;
  std::string name;
  Mode mode = Mode::tcp;
  std::vector<Bind> binds;
  Timeouts timeouts;
  int maxconn = 0;
  struct UseBackend {
    Origin origin;
    std::size_t backend = 0;  // index into Config::backends
    std::optional<Condition> condition;
  };
  std::vector<UseBackend> use_backends;
  std::optional<std::size_t> default_backend;
  std::vector<HttpRule> http_request, http_response, redirects;
  std::vector<TcpRule> tcp_request;
  std::optional<Millis> inspect_delay;
  std::optional<ForwardFor> forwardfor;
  bool httplog = false, tcplog = false, dontlognull = false;
  std::optional<HttpConnectionMode> connection_mode;
  std::vector<LogTarget> logs;
  std::string log_tag;  // `log-tag`; empty: the global one
  std::vector<ErrorFile> errorfiles;
};

struct Global {
  bool daemon = false;
  bool zero_warning = false;        // a warning makes the configuration invalid (-dW)
  std::string log_tag = "haproxy";  // syslog tag, `log-tag`
  std::string log_hostname;         // `log-send-hostname`; empty: none sent
  bool noreuseport = false;         // listening sockets without SO_REUSEPORT
  bool master_worker = false;
  int nbthread = 0;  // 0: one per CPU
  int maxconn = 0;
  std::string pidfile;
  std::optional<Millis> hard_stop_after;
  int bufsize = 16384;
  int maxrewrite = 1024;
  int max_headers = 101;
  int ssl_cachesize = 20000;
  int h2_initial_window_size = 65535;   // tune.h2.initial-window-size
  int h2_max_concurrent_streams = 100;  // tune.h2.max-concurrent-streams (0: no limit)
  int spread_checks = 0;                // percent, each check interval randomized by +/- this much
  Millis ssl_lifetime{300000};
  std::string dh_param_file;
  std::string bind_ciphers, bind_ciphersuites, bind_curves;
  std::string server_ciphers, server_ciphersuites;
  bool server_verify = true;  // ssl-server-verify
  TlsVersionRange bind_versions, server_versions;
  bool bind_no_tls_tickets = false, server_no_tls_tickets = false;
  std::vector<LogTarget> logs;
  std::vector<StatsSocket> stats_sockets;
  Millis stats_timeout{10000};  // `stats timeout`: an idle CLI connection closes after it
};

struct Config {
  Global global;
  std::vector<Frontend> frontends;
  std::vector<Backend> backends;
};

}  // namespace sluice::config

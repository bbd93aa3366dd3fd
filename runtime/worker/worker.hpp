// One process's serving life: opens the binds, runs one event loop per thread over them,
// and stops on request. Owns the per-backend runtime state for its configuration.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/api/session.hpp"
#include "runtime/config/config.hpp"
#include "runtime/health/checker.hpp"
#include "runtime/io/loop.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/log/logger.hpp"
#include "runtime/proxy/backend_state.hpp"
#include "runtime/proxy/connection_facts.hpp"
#include "runtime/proxy/connection_slot.hpp"
#include "runtime/proxy/http_session.hpp"
#include "runtime/proxy/tcp_relay.hpp"
#include "runtime/proxy/tcp_rules.hpp"
#include "runtime/rules/condition.hpp"
#include "runtime/tls/server_contexts.hpp"
#include "runtime/worker/listeners.hpp"

namespace sluice::worker {

// What a worker forked by the master starts from besides its configuration: the
// listening sockets, and what earlier workers knew that a reload must not lose.
struct Inheritance {
  const ListenerSet* listeners = nullptr;
  // By bind key (BindAddress::key() of the bind's first address): the ticket keys of an
  // ssl bind without tls-ticket-keys, made once by the master so that tickets survive
  // reloads.
  const std::map<std::string, tls::TicketKeys>* ticket_keys = nullptr;
  // The health::state_key()s of checked servers last seen DOWN.
  const std::set<std::string>* down_servers = nullptr;
  // Where server state changes are written, one "up|down KEY" line each; -1: nowhere.
  int state_fd = -1;
};

class Worker : private api::InfoSource {
 public:
  explicit Worker(std::shared_ptr<const config::Config> config);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Resolves servers, opens every bind (or, under a master, takes the sockets and state
  // of `inherited`) and prepares the loops; false with a message naming what failed.
  bool open(std::string& error, const Inheritance* inherited = nullptr);
  // Runs the loops (nbthread, default one per CPU) until stop(); returns when all ended.
  void run();
  // From any thread, e.g. the signal waiter.
  void stop();
  // From any thread: stop accepting, let the connections in flight finish, then end run()
  // (HAProxy's soft stop, SIGUSR1). `stop()` still ends everything at once.
  void soft_stop();

  // -d: one line on stdout per accepted connection, in HAProxy's debug layout. Before open().
  void print_events() { debug_events_ = true; }

  // The addresses actually bound, in bind order (port 0 resolved), for logs and tests.
  std::vector<std::string> bound_addresses() const;

 private:
  struct Listening {
    io::Fd fd;
    const config::Frontend* frontend = nullptr;
    const proxy::TcpRouting* routing = nullptr;
    proxy::SlotCounter* frontend_slots = nullptr;
    const proxy::HttpFrontend* http = nullptr;   // mode http: sessions, else the TCP relay
    const tls::ServerContexts* tls = nullptr;    // `ssl` binds: the handshake comes first
    std::string listener;                        // the bind's name, else its id (logs)
    bool accept_proxy = false;                   // a PROXY protocol header comes first
    bool http2 = false;                          // `proto h2`: HTTP/2 whatever ALPN says
    std::atomic<unsigned>* event_ids = nullptr;  // -d: numbers the events printed; null: none
    // A UNIX socket's clients get it as their "port": HAProxy's listener id, per frontend.
    int unix_listener_id = 0;  // 0: not a UNIX socket
    std::string bound;         // the address, port 0 resolved (logs, tests)
  };
  // A stats socket: the runtime API's commands, at its level.
  struct StatsListening {
    io::Fd fd;
    api::ListenerSettings settings;
    std::string bound;
  };
  // Per loop: TCP-mode connections handed to a relay (show info's CumReq), written by that
  // loop only.
  struct LoopCounters {
    std::atomic<std::uint64_t> tcp_streams{0};
  };
  class Acceptor;

  // Rules, error pages and routes of the HTTP proxies, compiled once; throws
  // rules::CompileError.
  void build_http(rules::Compiler& conditions);
  // What each server of an HTTP backend asks of its connections: TLS (a context, an SNI
  // expression), a PROXY header.
  bool build_server_options(std::size_t loops, std::string& error);
  const rules::CompiledFormat* sni_format(const config::Sample& sample);
  // Layer-4 rules and routes of every frontend; throws rules::CompileError.
  void build_tcp(rules::Compiler& conditions);
  // One loop's log sinks, by frontend index; false with `error` naming a bad target.
  // What a proxy's syslog lines say of the sender: its `log-tag` (else the global one), the
  // pid, `log-send-hostname`.
  log::SyslogIdentity syslog_identity(const std::string& proxy_log_tag) const;
  bool build_loggers(std::size_t loop, std::string& error);
  // The health checks of every `check` server, on the first loop.
  bool build_checker(std::string& error, const Inheritance* inherited);
  // show info's figures (api::InfoSource), from any loop.
  api::ProcessInfo process_info() const override;

  std::shared_ptr<const config::Config> config_;
  std::vector<std::unique_ptr<proxy::BackendState>> backends_;
  std::vector<std::unique_ptr<proxy::SlotCounter>> frontend_slots_;   // by frontend index
  std::vector<std::unique_ptr<proxy::TcpRouting>> routing_;           // by frontend index
  std::vector<std::unique_ptr<proxy::TcpBackend>> tcp_backends_;      // by backend index
  proxy::ConnectionFacts::ServerCount usable_servers_;                // nbsrv()
  proxy::SlotCounter process_slots_;                                  // global maxconn
  std::vector<std::unique_ptr<proxy::HttpBackend>> http_backends_;    // by backend index
  std::vector<std::unique_ptr<proxy::HttpFrontend>> http_frontends_;  // by frontend index
  std::vector<std::unique_ptr<tls::ServerContexts>> tls_contexts_;    // one per `ssl` bind
  std::vector<std::unique_ptr<tls::ClientContext>> client_contexts_;  // one per `server … ssl`
  // By backend and server: the context a server's checks use (nullptr: plain checks).
  std::vector<std::vector<const tls::ClientContext*>> check_tls_;
  std::vector<std::pair<config::Sample, std::unique_ptr<rules::CompiledFormat>>> sni_formats_;
  std::vector<Listening> listening_;
  bool debug_events_ = false;
  std::atomic<unsigned> event_ids_{0};
  std::vector<StatsListening> stats_listening_;
  api::SessionCounters cli_sessions_;
  std::vector<std::unique_ptr<LoopCounters>> loop_counters_;  // by loop
  std::int64_t started_ms_ = 0;                               // monotonic, at open()
  std::int64_t started_unix_s_ = 0;
  std::atomic<bool> stopping_{false};
  // Declared before the loops: a loop deletes its leftover sessions while the shares live.
  std::vector<std::unique_ptr<proxy::HttpLoopShare>> http_shares_;  // by loop
  std::vector<std::unique_ptr<proxy::TcpLoopShare>> tcp_shares_;    // by loop
  // Each loop's log sinks by frontend index (empty: the frontend logs nothing).
  std::vector<std::vector<std::optional<log::Logger>>> loggers_;
  std::vector<std::unique_ptr<io::Loop>> loops_;
  std::unique_ptr<health::Checker> checker_;  // on the first loop; gone before the loops
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::vector<std::unique_ptr<api::Listener>> cli_listeners_;  // per loop and stats socket
  std::atomic<std::size_t> detached_loops_{0};  // soft stop: loops no longer accepting
};

}  // namespace sluice::worker

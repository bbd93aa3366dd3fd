#include "runtime/worker/worker.hpp"
#include "runtime/worker/capabilities.hpp"
#include "runtime/worker/tls_settings.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>

#include <fmt/format.h>
#include <cerrno>

#include "runtime/proxy/h2_connection.hpp"
#include "runtime/proxy/proxy_handshake.hpp"
#include "runtime/proxy/tcp_relay.hpp"
#include "runtime/proxy/tls_handshake.hpp"

namespace sluice::worker {

namespace {

// The first timeout set, in milliseconds; 0 (none) when none is.
std::int64_t first_set(std::initializer_list<const std::optional<config::Millis>*> timeouts) {
  for (const auto* t : timeouts)
    if (*t) return (*t)->count();
  return 0;
}

// Room to reassemble a ClientHello split over TLS records (tcp-request inspect-delay).
constexpr std::size_t kHelloScratch = 16384 + 2048;

proxy::TcpTimeouts tcp_timeouts(const config::Frontend& f, const config::Backend& b) {
  proxy::TcpTimeouts t;
  t.connect_ms = first_set({&b.timeouts.connect});
  t.idle_ms =
      proxy::tunnel_idle_ms(first_set({&f.timeouts.client}), first_set({&b.timeouts.server}),
                            first_set({&b.timeouts.tunnel}));
  t.client_fin_ms = first_set({&f.timeouts.client_fin});
  t.server_fin_ms = first_set({&b.timeouts.server_fin});
  // HAProxy: without `timeout queue`, a request waits as long as `timeout connect`.
  t.queue_ms = first_set({&b.timeouts.queue, &b.timeouts.connect});
  return t;
}

}  // namespace

// Accepts on one listening socket for one loop. Every loop registers every listening
// socket with EPOLLEXCLUSIVE, so a new connection wakes one thread, not all of them.
// At maxconn (frontend or process) it stops listening: excess connections wait in the
// kernel's queue, as in HAProxy, and it looks again a few milliseconds later.
class Worker::Acceptor final : public io::Pollable,
                               private io::Timer,
                               private proxy::ConnectionSink,
                               private proxy::SecuredSink {
 public:
  Acceptor(io::Loop& loop, const Listening& listening, proxy::SlotCounter& process,
           proxy::HttpLoopShare& http, proxy::TcpLoopShare& tcp, LoopCounters& counters)
      : loop_(loop),
        http_(http),
        tcp_(tcp),
        listening_(listening),
        process_(process),
        counters_(counters) {
    handshake_.frontend = listening.frontend->name;
    handshake_.listener = listening.listener;
    handshake_.timeout_ms = first_set({&listening.frontend->timeouts.client});
  }

  bool listen() { return loop_.add(listening_.fd.get(), *this, EPOLLIN | EPOLLEXCLUSIVE); }
  io::Loop& loop() { return loop_; }
  void stop_listening() {
    // What is in the queue already is served here: under -sf the socket is this
    // process's alone, and closing it would reset those connections.
    if (!paused_) on_events(EPOLLIN);
    stopped_ = true;
    loop_.cancel(*this);
    if (!paused_) loop_.remove(listening_.fd.get());
  }

  void on_events(std::uint32_t) override {
    // A bounded batch keeps one busy listener from starving the loop's connections.
    for (int i = 0; i < 64; ++i) {
      if (process_.full() || listening_.frontend_slots->full()) {
        pause();
        return;
      }
      proxy::AcceptedClient client;
      client.peer.length = sizeof client.peer.storage;
      const int fd = accept4(listening_.fd.get(), reinterpret_cast<sockaddr*>(&client.peer.storage),
                             &client.peer.length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN: another thread took it, or the queue is empty
      client.fd.reset(fd);
      io::set_no_delay(fd);  // what is sent leaves at once (bulk streams go by splice)
      client.local = io::SocketAddress::local_of(fd);
      if (listening_.unix_listener_id > 0) {
        // HAProxy's %ci:%cp for a UNIX-socket client: "unix" and the listener's id.
        client.peer.set_port(static_cast<std::uint16_t>(listening_.unix_listener_id));
        client.local.set_port(static_cast<std::uint16_t>(listening_.unix_listener_id));
      }
      // tcp-request connection rules see the real addresses, even under accept-proxy.
      if (!accepted(client)) continue;  // rejected: closed, as in HAProxy
      proxy::ConnectionSlot slot(listening_.frontend_slots, &process_);
      if (listening_.accept_proxy) {
        handshake_.logger = tcp_.loggers[listening_.routing->frontend_index];
        proxy::ProxyHandshake::start(loop_, std::move(client), std::move(slot), *this, handshake_);
        continue;
      }
      dispatch(std::move(client), std::move(slot));
    }
  }

  // An accepted connection (its PROXY header read, under accept-proxy) goes on: TLS first
  // on `ssl` binds, then its HTTP session or TCP relay.
  void dispatch(proxy::AcceptedClient client, proxy::ConnectionSlot slot) override {
    log_connect(client);
    if (listening_.event_ids) print_accept(client);
    if (listening_.tls) {
      handshake_.logger = tcp_.loggers[listening_.routing->frontend_index];
      proxy::TlsHandshake::start(loop_, std::move(client), std::move(slot), *listening_.tls, *this,
                                 handshake_);
      return;
    }
    secured(std::move(client), std::move(slot), {});
  }

  // Its TLS handshake done (or none on a plain bind): the session or relay takes it.
  void secured(proxy::AcceptedClient client, proxy::ConnectionSlot slot,
               tls::Stream stream) override {
    if (listening_.http) {
      if (listening_.http2 || (stream && stream.alpn() == "h2"))
        proxy::H2Connection::start(http_, std::move(client), std::move(slot), *listening_.http,
                                   std::move(stream));
      else
        proxy::HttpSession::start(http_, std::move(client), std::move(slot), *listening_.http,
                                  std::move(stream));
      return;
    }
    const proxy::TcpRouting& routing = *listening_.routing;
    const proxy::TcpBackend* backend = nullptr;
    if (!routing.inspects()) {
      proxy::ConnectionFacts facts(client.peer, client.local, tcp_.usable_servers,
                                   {static_cast<bool>(stream), stream ? &stream : nullptr});
      backend = routing.backends.pick(facts, tcp_.scratch);
      if (backend == nullptr) return;  // no backend: closed, as in HAProxy
    }
    counters_.tcp_streams.store(counters_.tcp_streams.load(std::memory_order_relaxed) + 1,
                                std::memory_order_relaxed);
    proxy::TcpRelay::start(tcp_, std::move(client), std::move(slot), routing, backend,
                           std::move(stream));
  }

 private:
  static constexpr std::int64_t retry_ms = 5;

  // Without option httplog/tcplog, HAProxy logs each accepted connection.
  // HAProxy's `-d` line, on stdout as there:
  // `00000000:fe.accept(0004)=000b from [127.0.0.1:40932] ALPN=<none>` (no ALPN is
  // negotiated yet here, as in HAProxy for plain binds).
  void print_accept(const proxy::AcceptedClient& client) {
    fmt::print(stdout, "{:08x}:{}.accept({:04x})={:04x} from [{}] ALPN=<none>\n",
               listening_.event_ids->fetch_add(1, std::memory_order_relaxed),
               listening_.frontend->name, listening_.fd.get(), client.fd.get(),
               client.peer.to_string());
    std::fflush(stdout);
  }

  void log_connect(const proxy::AcceptedClient& client) {
    const proxy::TcpRouting& routing = *listening_.routing;
    if (routing.log_kind != log::TrafficLog::connect) return;
    log::Logger* logger = tcp_.loggers[routing.frontend_index];
    if (logger == nullptr) return;
    log::LogRecord r;
    r.client = client.peer;
    r.frontend_address = client.local;
    r.frontend = routing.frontend->name;
    r.mode = routing.frontend->mode;
    const auto out = logger->message_buffer();
    logger->emit(log::traffic_severity, {out.data(), log::write_connect_log(out, r)});
  }

  // tcp-request connection rules: the first that applies decides.
  bool accepted(const proxy::AcceptedClient& client) {
    proxy::ConnectionFacts facts(client.peer, client.local, tcp_.usable_servers,
                                 {listening_.tls != nullptr, nullptr});
    return proxy::run_tcp_rules(listening_.routing->connection_rules, facts, tcp_.scratch, true) ==
           proxy::TcpVerdict::accept;
  }

  void pause() {
    if (paused_) return;
    // EPOLLEXCLUSIVE registrations cannot be modified, only removed and added again.
    loop_.remove(listening_.fd.get());
    paused_ = true;
    loop_.arm(*this, retry_ms);
  }

  void on_timer() override {
    if (stopped_) return;
    if (process_.full() || listening_.frontend_slots->full()) {
      loop_.arm(*this, retry_ms);
      return;
    }
    paused_ = false;
    listen();
    on_events(EPOLLIN);  // connections may have queued while paused
  }

  io::Loop& loop_;
  proxy::HttpLoopShare& http_;
  proxy::TcpLoopShare& tcp_;
  const Listening& listening_;
  proxy::SlotCounter& process_;
  LoopCounters& counters_;
  proxy::HandshakeSettings handshake_;  // PROXY header and TLS
  bool paused_ = false;
  bool stopped_ = false;
};

Worker::Worker(std::shared_ptr<const config::Config> config) : config_(std::move(config)) {}

namespace {

proxy::ReuseMode reuse_mode(const std::string& word) {
  if (word == "never") return proxy::ReuseMode::never;
  if (word == "aggressive" || word == "always") return proxy::ReuseMode::always;
  return proxy::ReuseMode::safe;
}

// The frontend's and the backend's modes combined: the one that closes more wins.
config::HttpConnectionMode merged_mode(const std::optional<config::HttpConnectionMode>& a,
                                       const std::optional<config::HttpConnectionMode>& b) {
  auto rank = [](const std::optional<config::HttpConnectionMode>& m) {
    return m ? static_cast<int>(*m) : 0;
  };
  return static_cast<config::HttpConnectionMode>(std::max(rank(a), rank(b)));
}

}  // namespace

bool Worker::build_server_options(std::size_t loops, std::string& error) {
  for (std::size_t i = 0; i < config_->backends.size(); ++i) {
    const auto& b = config_->backends[i];
    // Both views of the backend (a tcp frontend may use an http backend's servers).
    auto& h = *http_backends_[i];
    h.servers.resize(b.servers.size());
    auto& checks = check_tls_.emplace_back(b.servers.size(), nullptr);
    for (std::size_t si = 0; si < b.servers.size(); ++si) {
      const auto& server = b.servers[si];
      h.servers[si].send_proxy = static_cast<std::uint8_t>(server.send_proxy);
      const bool checks_tls = health::may_check_over_tls(b, server);
      if (!server.tls.enabled && !checks_tls) continue;
      auto built = tls::ClientContext::build(server_tls_settings(server.tls), loops, error);
      if (!built) {
        error = fmt::format("{}:{}: server '{}/{}': {}", *server.origin.file, server.origin.line,
                            b.name, server.name, error);
        return false;
      }
      const tls::ClientContext* context = client_contexts_.emplace_back(std::move(built)).get();
      if (checks_tls) checks[si] = context;
      if (!server.tls.enabled) continue;
      h.servers[si].tls = context;
      if (server.tls.sni) h.servers[si].sni = sni_format(*server.tls.sni);
    }
    tcp_backends_[i]->servers = h.servers;
  }
  return true;
}

const rules::CompiledFormat* Worker::sni_format(const config::Sample& sample) {
  for (const auto& [written, format] : sni_formats_)
    if (written.fetch == sample.fetch && written.args == sample.args &&
        written.converters == sample.converters)
      return format.get();
  config::FormatPart part;
  part.kind = config::FormatPart::Kind::sample;
  part.sample = sample;
  auto format = std::make_unique<rules::CompiledFormat>(
      rules::CompiledFormat::compile({part}, rules::Side::request));
  return sni_formats_.emplace_back(sample, std::move(format)).second.get();
}

void Worker::build_http(rules::Compiler& conditions) {
  for (std::size_t i = 0; i < config_->backends.size(); ++i) {
    const auto& b = config_->backends[i];
    auto& h = *http_backends_.emplace_back(std::make_unique<proxy::HttpBackend>());
    h.state = backends_[i].get();
    h.index = static_cast<std::uint32_t>(i);
    h.content_rules = tcp_backends_[i]->content_rules;
    if (b.mode != config::Mode::http) continue;
    h.request_rules = proxy::HttpRuleSet::compile(b.http_request, rules::Side::request, conditions);
    h.response_rules =
        proxy::HttpRuleSet::compile(b.http_response, rules::Side::response, conditions);
    h.error_pages = proxy::ErrorPages(b.errorfiles);
    h.reuse = reuse_mode(b.http_reuse);
    h.connect_ms = first_set({&b.timeouts.connect});
    h.server_ms = first_set({&b.timeouts.server});
    h.tunnel_ms = first_set({&b.timeouts.tunnel});
    h.queue_ms = first_set({&b.timeouts.queue, &b.timeouts.connect});
    h.server_fin_ms = first_set({&b.timeouts.server_fin});
  }
  for (const auto& f : config_->frontends) {
    auto& slot = http_frontends_.emplace_back();
    if (f.mode != config::Mode::http) continue;
    slot = std::make_unique<proxy::HttpFrontend>();
    auto& h = *slot;
    h.config = &f;
    h.index = http_frontends_.size() - 1;
    h.log_kind = log::traffic_log_of(f);
    h.h2.initial_window_size = static_cast<std::uint32_t>(config_->global.h2_initial_window_size);
    // 0: no limit (HAProxy); HTTP/2's own ceiling then.
    h.h2.max_concurrent_streams =
        config_->global.h2_max_concurrent_streams > 0
            ? static_cast<std::uint32_t>(config_->global.h2_max_concurrent_streams)
            : 0x7fffffffu;
    h.content_rules = proxy::compile_tcp_rules(f.tcp_request, true, conditions);
    h.request_rules = proxy::HttpRuleSet::compile(f.http_request, rules::Side::request, conditions);
    h.redirect_rules = proxy::HttpRuleSet::compile(f.redirects, rules::Side::request, conditions);
    h.response_rules =
        proxy::HttpRuleSet::compile(f.http_response, rules::Side::response, conditions);
    h.backends = proxy::BackendRoutes<proxy::HttpBackend>::compile(
        f, [&](std::size_t i) { return http_backends_[i].get(); }, conditions);
    h.error_pages = proxy::ErrorPages(f.errorfiles);
    for (const auto& b : config_->backends) {
      // A listen's backend half is the frontend itself: its options count once.
      h.forwardfor.push_back(proxy::ForwardFor::merge(f.forwardfor, b.forwardfor));
      h.connection_mode.push_back(merged_mode(f.connection_mode, b.connection_mode));
    }
    h.client_ms = first_set({&f.timeouts.client});
    h.http_request_ms = first_set({&f.timeouts.http_request});
    h.keep_alive_ms = first_set({&f.timeouts.http_keep_alive});
    h.client_fin_ms = first_set({&f.timeouts.client_fin});
    h.usable_servers = &usable_servers_;
  }
}

log::SyslogIdentity Worker::syslog_identity(const std::string& proxy_log_tag) const {
  log::SyslogIdentity identity;
  identity.tag = proxy_log_tag.empty() ? config_->global.log_tag : proxy_log_tag;
  identity.pid = static_cast<int>(getpid());
  identity.hostname = config_->global.log_hostname;
  return identity;
}

bool Worker::build_loggers(std::size_t loop, std::string& error) {
  auto& loggers = loggers_.emplace_back();
  loggers.reserve(config_->frontends.size());  // the pointers below must stay valid
  std::vector<log::Logger*> by_frontend;
  for (const auto& f : config_->frontends) {
    auto& logger = loggers.emplace_back();
    if (!f.logs.empty()) {
      logger = log::Logger::create(f.logs, config_->global.logs, syslog_identity(f.log_tag), error);
      if (!logger) {
        error = fmt::format("frontend '{}': log: {}", f.name, error);
        return false;
      }
    }
    by_frontend.push_back(logger && !logger->empty() ? &*logger : nullptr);
  }
  http_shares_[loop]->set_loggers(by_frontend);
  tcp_shares_[loop]->loggers = std::move(by_frontend);
  return true;
}

void Worker::build_tcp(rules::Compiler& conditions) {
  for (std::size_t i = 0; i < config_->backends.size(); ++i) {
    auto& t = *tcp_backends_.emplace_back(std::make_unique<proxy::TcpBackend>());
    t.state = backends_[i].get();
    t.content_rules = proxy::compile_tcp_rules(config_->backends[i].tcp_request, true, conditions);
  }
  for (const auto& frontend : config_->frontends) {
    auto& routing = *routing_.emplace_back(std::make_unique<proxy::TcpRouting>());
    routing.frontend = &frontend;
    routing.frontend_index = routing_.size() - 1;
    routing.log_kind = log::traffic_log_of(frontend);
    try {
      routing.connection_rules = proxy::compile_tcp_rules(frontend.tcp_request, false, conditions);
      if (frontend.mode == config::Mode::tcp) {
        routing.content_rules = proxy::compile_tcp_rules(frontend.tcp_request, true, conditions);
        routing.inspect_delay_ms = first_set({&frontend.inspect_delay});
      }
      routing.backends = proxy::BackendRoutes<const proxy::TcpBackend>::compile(
          frontend, [&](std::size_t i) { return tcp_backends_[i].get(); }, conditions);
    } catch (const rules::CompileError& e) {
      throw rules::CompileError(fmt::format("frontend '{}': {}", frontend.name, e.what()));
    }
    for (const auto& backend : config_->backends)
      routing.timeouts.push_back(tcp_timeouts(frontend, backend));
  }
}

Worker::~Worker() = default;

bool Worker::open(std::string& error, const Inheritance* inherited) {
  for (const auto& backend : config_->backends) {
    auto state =
        proxy::BackendState::build(backend, static_cast<std::uint32_t>(backends_.size()), error);
    if (!state) return false;
    backends_.push_back(std::move(state));
  }
  usable_servers_ = [this](std::string_view name) {
    for (const auto& b : backends_)
      if (b->config().name == name) return b->usable_servers();
    return -1;  // nbsrv() without a backend at layer 4: no current backend yet
  };
  process_slots_.limit = config_->global.maxconn;
  rules::Compiler conditions;  // shares each named ACL's compiled patterns
  try {
    build_tcp(conditions);  // first: HTTP backends share the TCP view's content rules
    build_http(conditions);
  } catch (const rules::CompileError& e) {
    error = e.what();
    return false;
  }
  for (const auto& frontend : config_->frontends) {
    // A frontend's maxconn 0 means the process's (HAProxy's default).
    auto& slots = frontend_slots_.emplace_back(std::make_unique<proxy::SlotCounter>());
    slots->limit = frontend.maxconn > 0 ? frontend.maxconn : config_->global.maxconn;
  }
  std::vector<BindAddress> binds;
  if (!bind_addresses(*config_, binds, error)) return false;
  started_ms_ = io::monotonic_ms();
  started_unix_s_ = static_cast<std::int64_t>(std::time(nullptr));
  const config::Bind* previous_bind = nullptr;
  const tls::ServerContexts* contexts = nullptr;
  std::vector<int> listener_ids(config_->frontends.size(), 0);
  std::vector<int> address_ids(config_->frontends.size(), 0);
  for (const auto& b : binds) {
    std::optional<io::Fd> fd;
    if (inherited && inherited->listeners) {
      // The master's socket: this process's own descriptor of it, closed at soft stop.
      if (const int shared = inherited->listeners->find(b); shared >= 0) fd.emplace(dup(shared));
      if (!fd || !*fd) {
        error =
            fmt::format("{}:{}: {}: no socket from the master for {}", *b.bind->origin.file,
                        b.bind->origin.line, listener_owner(*config_, b), b.address.to_string());
        return false;
      }
    } else {
      fd = io::listen_on(b.address, b.options, error);
      if (!fd) {
        error = fmt::format("{}:{}: {}: {}", *b.bind->origin.file, b.bind->origin.line,
                            listener_owner(*config_, b), error);
        return false;
      }
    }
    const auto bound = [&](int socket) {
      const auto local = io::SocketAddress::local_of(socket);
      return local.family() == AF_INET || local.family() == AF_INET6 ? local.to_string()
                                                                     : b.address.to_string();
    };
    if (b.stats) {
      StatsListening& l = stats_listening_.emplace_back();
      l.fd = std::move(*fd);
      l.bound = bound(l.fd.get());
      l.settings.info = this;
      l.settings.level = b.stats->level == config::StatsSocket::Level::admin ? api::Level::admin
                         : b.stats->level == config::StatsSocket::Level::operator_
                             ? api::Level::operator_
                             : api::Level::user;
      l.settings.timeout_ms = config_->global.stats_timeout.count();
      l.settings.counters = &cli_sessions_;
      continue;
    }
    const auto& frontend = config_->frontends[b.frontend];
    ++address_ids[b.frontend];
    const auto& bind = *b.bind;
    if (&bind != previous_bind) {  // a bind's first address: its TLS contexts
      previous_bind = &bind;
      ++listener_ids[b.frontend];
      contexts = nullptr;
      if (bind.tls) {
        auto settings = bind_tls_settings(*bind.tls, config_->global);
        if (inherited && inherited->ticket_keys)
          if (auto keys = inherited->ticket_keys->find(b.key());
              keys != inherited->ticket_keys->end())
            settings.ticket_keys = &keys->second;
        auto built = tls::ServerContexts::build(settings, error);
        if (!built) {
          error = fmt::format("{}:{}: {}", *bind.origin.file, bind.origin.line, error);
          return false;
        }
        for (const auto& warning : built->warnings())
          fmt::print(stderr, "sluice: warning: {}:{}: {}\n", *bind.origin.file, bind.origin.line,
                     warning);
        contexts = tls_contexts_.emplace_back(std::move(built)).get();
      }
    }
    Listening l;
    l.fd = std::move(*fd);
    l.frontend = &frontend;
    l.routing = routing_[b.frontend].get();
    l.frontend_slots = frontend_slots_[b.frontend].get();
    l.http = http_frontends_[b.frontend].get();
    l.tls = contexts;
    l.accept_proxy = bind.accept_proxy;
    l.http2 = bind.http2;
    l.event_ids = debug_events_ ? &event_ids_ : nullptr;
    l.listener = bind.name.empty() ? std::to_string(listener_ids[b.frontend]) : bind.name;
    l.bound = bound(l.fd.get());
    if (io::SocketAddress::local_of(l.fd.get()).family() == AF_UNIX)
      l.unix_listener_id = address_ids[b.frontend];
    listening_.push_back(std::move(l));
  }
  // The loops exist before run() so that stop() never races with their creation.
  const unsigned threads = config_->global.nbthread > 0
                               ? static_cast<unsigned>(config_->global.nbthread)
                               : std::max(1u, std::thread::hardware_concurrency());
  try {
    if (!build_server_options(threads, error)) return false;
  } catch (const rules::CompileError& e) {
    error = e.what();
    return false;
  }
  const auto buffer_size = static_cast<std::size_t>(config_->global.bufsize);
  std::vector<std::uint32_t> servers;
  for (const auto& backend : config_->backends)
    servers.push_back(static_cast<std::uint32_t>(backend.servers.size()));
  for (unsigned i = 0; i < threads; ++i) {
    auto loop = std::make_unique<io::Loop>();
    auto& share = http_shares_.emplace_back(std::make_unique<proxy::HttpLoopShare>(
        *loop, i, servers, buffer_size, static_cast<std::size_t>(config_->global.max_headers)));
    auto& tcp = tcp_shares_.emplace_back(
        std::make_unique<proxy::TcpLoopShare>(proxy::TcpLoopShare{*loop,
                                                                  i,
                                                                  buffer_size,
                                                                  &usable_servers_,
                                                                  std::vector<char>(buffer_size),
                                                                  std::vector<char>(kHelloScratch),
                                                                  {}}));
    auto& counters = *loop_counters_.emplace_back(std::make_unique<LoopCounters>());
    for (const auto& listening : listening_) {
      auto acceptor =
          std::make_unique<Acceptor>(*loop, listening, process_slots_, *share, *tcp, counters);
      acceptor->listen();
      acceptors_.push_back(std::move(acceptor));
    }
    for (const auto& stats : stats_listening_) {
      auto listener = std::make_unique<api::Listener>(*loop, stats.fd.get(), stats.settings);
      listener->listen();
      cli_listeners_.push_back(std::move(listener));
    }
    loops_.push_back(std::move(loop));
  }
  for (std::size_t i = 0; i < loops_.size(); ++i)
    if (!build_loggers(i, error)) return false;
  std::vector<io::Loop*> loops;
  for (const auto& loop : loops_)
    loops.push_back(loop.get());
  for (auto& backend : backends_)
    backend->set_loops(loops);
  if (!build_checker(error, inherited)) return false;
  return true;
}

std::vector<std::string> Worker::bound_addresses() const {
  std::vector<std::string> out;
  for (const auto& l : listening_)
    out.push_back(l.bound);
  for (const auto& l : stats_listening_)
    out.push_back(l.bound);
  return out;
}

api::ProcessInfo Worker::process_info() const {
  api::ProcessInfo info;
  info.nbthread = static_cast<int>(loops_.size());
  info.pid = static_cast<int>(getpid());
  info.uptime_s = (io::monotonic_ms() - started_ms_) / 1000;
  info.start_time_s = started_unix_s_;
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0)
    info.ulimit_n = files.rlim_cur == RLIM_INFINITY ? 0 : static_cast<std::int64_t>(files.rlim_cur);
  info.maxsock = info.ulimit_n;
  info.maxconn = config_->global.maxconn;
  // As HAProxy: CurrConns counts the proxied connections, CumConns the runtime API's too.
  info.current_connections = process_slots_.active.load(std::memory_order_relaxed);
  const std::uint64_t cli_total = cli_sessions_.total.load(std::memory_order_relaxed);
  info.cumulated_connections = process_slots_.total.load(std::memory_order_relaxed) + cli_total;
  // HAProxy's streams: each HTTP request, each TCP connection relayed, each CLI session.
  info.cumulated_requests = cli_total;
  for (const auto& share : http_shares_)
    info.cumulated_requests += share->requests();
  for (const auto& counters : loop_counters_)
    info.cumulated_requests += counters->tcp_streams.load(std::memory_order_relaxed);
  info.listeners = static_cast<std::int64_t>(listening_.size() + stats_listening_.size());
  info.jobs = stopping_.load(std::memory_order_relaxed) ? 0 : info.listeners;
  info.jobs += info.current_connections + cli_sessions_.current.load(std::memory_order_relaxed);
  info.stopping = stopping_.load(std::memory_order_relaxed);
  info.node = io::host_name();
  return info;
}

bool Worker::build_checker(std::string& error, const Inheritance* inherited) {
  std::vector<proxy::BackendState*> backends;
  std::vector<std::optional<log::Logger>> loggers;
  bool any = false;
  for (std::size_t i = 0; i < config_->backends.size(); ++i) {
    const auto& b = config_->backends[i];
    backends.push_back(backends_[i].get());
    auto& logger = loggers.emplace_back();
    for (const auto& s : b.servers)
      any = any || (s.check && !s.disabled);
    if (!b.logs.empty()) {
      logger = log::Logger::create(b.logs, config_->global.logs, syslog_identity(b.log_tag), error);
      if (!logger) {
        error = fmt::format("backend '{}': log: {}", b.name, error);
        return false;
      }
    }
  }
  if (!any) return true;
  try {
    health::Checker::StateSink report;
    if (inherited && inherited->state_fd >= 0)
      report = [fd = inherited->state_fd](const std::string& key, bool up) {
        // One line per change, atomic in a pipe; the master reads them as they come.
        const std::string line = fmt::format("{} {}\n", up ? "up" : "down", key);
        [[maybe_unused]] const auto n = write(fd, line.data(), line.size());
      };
    checker_ = std::make_unique<health::Checker>(
        *loops_.front(), backends, std::move(loggers), check_tls_, config_->global.spread_checks,
        inherited ? inherited->down_servers : nullptr, std::move(report));
  } catch (const rules::CompileError& e) {
    error = e.what();
    return false;
  }
  return true;
}

void Worker::run() {
  if (checker_) loops_.front()->post([this] { checker_->start(); });
  std::vector<std::thread> others;
  for (std::size_t i = 1; i < loops_.size(); ++i)
    others.emplace_back([this, i] { loops_[i]->run(); });
  loops_[0]->run();
  for (auto& t : others)
    t.join();
}

void Worker::soft_stop() {
  stopping_ = true;
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    io::Loop* loop = loops_[i].get();
    loop->post([this, loop, i] {
      for (auto& acceptor : acceptors_)
        if (&acceptor->loop() == loop) acceptor->stop_listening();
      for (auto& listener : cli_listeners_)
        if (&listener->loop() == loop) listener->stop_listening();
      http_shares_[i]->soft_stop();
      // The last loop to let go closes the sockets: new connections are refused from then
      // on, while the ones accepted before finish.
      if (detached_loops_.fetch_add(1) + 1 == loops_.size())
        for (auto& listening : listening_)
          listening.fd.reset();
      for (auto& stats : stats_listening_)
        stats.fd.reset();
      loop->drain();
    });
  }
}

void Worker::stop() {
  for (auto& loop : loops_)
    loop->stop();
}

}  // namespace sluice::worker

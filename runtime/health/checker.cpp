#include "runtime/health/checker.hpp"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sluice::health {

namespace {

std::int64_t millis(const std::optional<config::Millis>& m) {
  return m ? m->count() : 0;
}

// An IP literal (checked by compile) with `port`.
io::SocketAddress ip_address(const std::string& ip, std::uint16_t port) {
  io::SocketAddress a;
  if (inet_pton(AF_INET, ip.c_str(), &a.storage.v4.sin_addr) == 1) {
    a.storage.v4.sin_family = AF_INET;
    a.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip.c_str(), &a.storage.v6.sin6_addr) == 1) {
    a.storage.v6.sin6_family = AF_INET6;
    a.length = sizeof(sockaddr_in6);
  }
  a.set_port(port);
  return a;
}

// Where a server is checked: its address, or `addr`, with `port` when given.
io::SocketAddress check_address(const config::Server& s, io::SocketAddress address) {
  if (!s.check_addr.empty()) address = ip_address(s.check_addr, address.port());
  if (s.check_port > 0) address.set_port(static_cast<std::uint16_t>(s.check_port));
  return address;
}

}  // namespace

ServerCheck::ServerCheck(Checker& checker, proxy::BackendState& backend, std::uint32_t server,
                         io::SocketAddress address, const CheckScript& script,
                         const tls::ClientContext* tls, bool server_tls, bool starts_down)
    : checker_(checker),
      backend_(backend),
      server_(server),
      script_(script),
      health_(backend.config().servers[server].rise, backend.config().servers[server].fall,
              !starts_down),
      tls_(tls),
      server_tls_(server_tls) {
  for (const Step& step : script.steps()) {
    io::SocketAddress& a = addresses_.emplace_back(address);
    if (!step.rule.addr.empty()) a = ip_address(step.rule.addr, address.port());
    if (step.rule.port > 0) a.set_port(static_cast<std::uint16_t>(step.rule.port));
  }
}

ServerCheck::~ServerCheck() {
  checker_.loop_.cancel(*this);
}

void ServerCheck::start(std::int64_t delay_ms) {
  checker_.loop_.arm(*this, delay_ms);
}

void ServerCheck::on_timer() {
  switch (phase_) {
    case Phase::idle:
      started_ms_ = checker_.loop_.now_ms();
      step_ = 0;
      last_.reset();
      run();
      return;
    case Phase::connecting:
      fail(Status::l4_timeout, {});
      return;
    case Phase::handshaking:
      fail(Status::l6_timeout, {});
      return;
    case Phase::expecting:
      fail(script_.steps()[step_].rule.timeout, {});
      return;
  }
}

void ServerCheck::run() {
  const auto& steps = script_.steps();
  while (step_ < steps.size()) {
    const Step& step = steps[step_];
    if (step.rule.kind == Step::Kind::connect) {
      open(step);  // goes on in connected()
      return;
    }
    if (step.rule.kind == Step::Kind::send ? !send(step) : !expect(step, false)) return;
    ++step_;
  }
  finish(script_.success(last_, tls_now_));
}

void ServerCheck::open(const Step& step) {
  const bool first = !socket_;
  close_connection();
  int error = 0;
  auto fd = io::connect_to(addresses_[step_], error);
  if (!fd || !checker_.loop_.add(fd->get(), *this)) {
    fail(Status::l4_connection, error ? std::strerror(error) : "socket error");
    return;
  }
  socket_ = std::move(*fd);
  phase_ = Phase::connecting;
  linger_ = step.rule.linger;
  tls_now_ = CheckScript::connects_tls(step, server_tls_);
  // HAProxy: without `timeout check` the whole check gets `inter`; with it, each connect
  // gets min(timeout connect, inter), and what follows `timeout check`.
  const auto& timeouts = backend_.config().timeouts;
  const std::int64_t inter = backend_.config().servers[server_].inter.count();
  if (first || timeouts.check) {
    std::int64_t limit = inter;
    if (timeouts.check && timeouts.connect) limit = std::min(inter, timeouts.connect->count());
    checker_.loop_.cancel(*this);
    checker_.loop_.arm(*this, limit);
  }
}

void ServerCheck::on_events(std::uint32_t events) {
  if (!socket_) return;
  constexpr std::uint32_t input = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  if (stream_ && (events & input))
    stream_.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  switch (phase_) {
    case Phase::idle:
      return;
    case Phase::handshaking:
      handshake();
      return;
    case Phase::expecting:
      if ((events & input) &&
          expect(script_.steps()[step_], (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)) {
        ++step_;
        run();
      }
      return;
    case Phase::connecting:
      break;
  }
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
  // Writable without an error: connected (no need to ask the socket).
  const int error = events & (EPOLLERR | EPOLLHUP) ? io::socket_error(socket_.get()) : 0;
  if (error == 0)
    connected();
  else
    fail(Status::l4_connection, std::strerror(error));
}

void ServerCheck::connected() {
  if (!tls_now_) {
    established();
    return;
  }
  const auto& rule = script_.steps()[step_].rule;
  const std::string& sni =
      rule.sni.empty() ? backend_.config().servers[server_].check_sni : rule.sni;
  // Checks use the loop's kept session like the traffic of the first loop does.
  if (tls_) stream_ = tls_->connect(socket_.get(), sni, 0);
  if (!stream_) {
    fail(Status::l6_response, "SSL handshake failure");
    return;
  }
  phase_ = Phase::handshaking;
  handshake();
}

void ServerCheck::handshake() {
  switch (stream_.handshake()) {
    case tls::Status::ok:
      established();
      return;
    case tls::Status::want_read:
    case tls::Status::want_write:
      return;
    default:
      fail(Status::l6_response, "SSL handshake failure");
  }
}

void ServerCheck::established() {
  if (const auto& check = backend_.config().timeouts.check) {
    checker_.loop_.cancel(*this);
    checker_.loop_.arm(*this, check->count());
  }
  ++step_;
  run();
}

bool ServerCheck::send(const Step& step) {
  // A fresh socket's buffer takes a check's messages whole.
  const std::string& data = step.rule.data;
  std::size_t sent = 0;
  const bool whole = stream_ ? stream_.write(data, sent) == tls::Status::ok
                             : ::send(socket_.get(), data.data(), data.size(), MSG_NOSIGNAL) ==
                                   static_cast<ssize_t>(data.size());
  if (!whole) {
    fail(Status::socket_error, std::strerror(stream_ || errno == 0 ? EPIPE : errno));
    return false;
  }
  // What the next expect judges is the answer to this.
  response_.clear();
  return true;
}

// A check response is small; what is past this is not read (HAProxy: its buffer).
constexpr std::size_t kResponseLimit = 16384;

bool ServerCheck::expect(const Step& step, bool hangup) {
  phase_ = Phase::expecting;
  bool closed = false;
  int error = 0;
  while (response_.size() < kResponseLimit) {
    char chunk[4096];
    const std::size_t room = std::min(sizeof chunk, kResponseLimit - response_.size());
    if (stream_) {
      std::size_t n = 0;
      const tls::Status s = stream_.read({chunk, room}, n);
      response_.append(chunk, n);
      if (s == tls::Status::ok) continue;
      if (s == tls::Status::closed) closed = true;
      if (s == tls::Status::failed) error = ECONNRESET;
      break;
    }
    const ssize_t n = recv(socket_.get(), chunk, room, 0);
    if (n > 0) {
      response_.append(chunk, static_cast<std::size_t>(n));
      // Short and no hangup seen: drained for now. What else comes, or the close, is a
      // new edge that wakes the loop again (often after the verdict made it useless).
      if (static_cast<std::size_t>(n) < room && !hangup) break;
      continue;
    }
    if (n == 0)
      closed = true;
    else if (errno != EAGAIN && errno != EINTR)
      error = errno;
    break;
  }
  const bool complete = closed || response_.size() >= kResponseLimit;
  auto verdict = script_.judge(step, response_, complete);
  if (!verdict) {
    if (error) fail(Status::socket_error, std::strerror(error));
    return false;
  }
  if (!verdict->passed) {
    finish(*verdict);
    return false;
  }
  last_ = std::move(verdict);
  return true;
}

void ServerCheck::close_connection() {
  if (socket_ && !linger_) {
    // A reset, not a FIN: no TIME_WAIT left behind per check, and fewer packets (as
    // HAProxy closes its checks unless told `linger`).
    const linger abort{1, 0};
    setsockopt(socket_.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  stream_ = tls::Stream();
  socket_.reset();  // closing deregisters it
}

void ServerCheck::fail(Status status, std::string_view error) {
  finish(Verdict{false, status, 0, script_.failure_info(error, script_.steps()[step_])});
}

void ServerCheck::finish(const Verdict& verdict) {
  checker_.loop_.cancel(*this);
  close_connection();
  phase_ = Phase::idle;
  const std::int64_t duration = checker_.loop_.now_ms() - started_ms_;
  const int before = health_.value();
  const Change change = verdict.passed ? health_.success() : health_.failure();
  if (health_.value() != before && backend_.config().log_health_checks)
    checker_.report_check(backend_, server_, verdict, duration, health_);
  if (change != Change::none) checker_.report(backend_, server_, verdict, duration);
  const auto& s = backend_.config().servers[server_];
  checker_.loop_.arm(*this, checker_.spread(health_.next_interval(
                                s.inter.count(), millis(s.fastinter), millis(s.downinter))));
}

Checker::Checker(io::Loop& loop, const std::vector<proxy::BackendState*>& backends,
                 std::vector<std::optional<log::Logger>> loggers,
                 const std::vector<std::vector<const tls::ClientContext*>>& tls, int spread_percent,
                 const std::set<std::string>* down, StateSink on_change)
    : loop_(loop),
      loggers_(std::move(loggers)),
      on_change_(std::move(on_change)),
      spread_percent_(spread_percent) {
  random_ ^= static_cast<std::uint64_t>(getpid()) << 17;
  for (proxy::BackendState* backend : backends) {
    const auto& config = backend->config();
    const CheckScript& script = *scripts_.emplace_back(std::make_unique<CheckScript>(config));
    const auto& servers = config.servers;
    for (std::uint32_t i = 0; i < servers.size(); ++i) {
      if (!servers[i].check || servers[i].disabled) continue;
      const bool starts_down = down && down->contains(state_key(*backend, i));
      if (starts_down) backend->set_server_up(i, false);
      checks_.push_back(std::make_unique<ServerCheck>(
          *this, *backend, i, check_address(servers[i], backend->server_address(i)), script,
          backend->index() < tls.size() ? tls[backend->index()][i] : nullptr,
          checks_over_tls(servers[i]), starts_down));
    }
  }
}

Checker::~Checker() = default;

std::string state_key(const proxy::BackendState& backend, std::uint32_t server) {
  return fmt::format("{}/{} {}", backend.config().name, backend.config().servers[server].name,
                     backend.server_address(server).to_string());
}

std::int64_t Checker::spread(std::int64_t interval) {
  if (spread_percent_ > 0 && interval > 0) {
    random_ ^= random_ << 13;
    random_ ^= random_ >> 7;
    random_ ^= random_ << 17;
    const std::int64_t range = interval * spread_percent_ / 100;
    interval +=
        static_cast<std::int64_t>(random_ % static_cast<std::uint64_t>(2 * range + 1)) - range;
  }
  // Checks due within the same few milliseconds start together: one wake-up of the loop
  // for a batch instead of one per check.
  const std::int64_t now = loop_.now_ms();
  const std::int64_t at = (now + interval + kBatchMs - 1) / kBatchMs * kBatchMs;
  return at - now;
}

void Checker::start() {
  // Spread over the first interval, so that many servers are not checked in one burst.
  for (std::size_t i = 0; i < checks_.size(); ++i)
    checks_[i]->start(spread(static_cast<std::int64_t>(i) * 1000 /
                             static_cast<std::int64_t>(checks_.size()) % 1000));
}

namespace {

// "reason: R[, code: N][, info: "I"], check duration: Dms"
std::string check_detail(const Verdict& verdict, std::int64_t duration_ms) {
  std::string detail = fmt::format("reason: {}", describe(verdict.status));
  if (verdict.code != 0 || shows_code(verdict.status))
    detail += fmt::format(", code: {}", verdict.code);
  if (!verdict.info.empty()) detail += fmt::format(", info: \"{}\"", verdict.info);
  detail += fmt::format(", check duration: {}ms", duration_ms);
  return detail;
}

}  // namespace

void Checker::report_check(const proxy::BackendState& backend, std::uint32_t server,
                           const Verdict& verdict, std::int64_t duration_ms,
                           const HealthCounter& health) {
  const auto& b = backend.config();
  emit(backend, log::Severity::notice,
       fmt::format("Health check for {}server {}/{} {}, {}, status: {}/{} {}.",
                   b.servers[server].backup ? "backup " : "", b.name, b.servers[server].name,
                   verdict.passed ? "succeeded" : "failed", check_detail(verdict, duration_ms),
                   health.status_count(), health.status_of(), health.up() ? "UP" : "DOWN"),
       "[WARNING]  ");
}

void Checker::report(proxy::BackendState& backend, std::uint32_t server, const Verdict& verdict,
                     std::int64_t duration_ms) {
  const bool up = verdict.passed;
  backend.set_server_up(server, up);
  if (on_change_) on_change_(state_key(backend, server), up);
  const auto& b = backend.config();
  const auto& s = b.servers[server];
  // Under log-health-checks the check's own line said why already.
  const std::string detail =
      b.log_health_checks ? std::string() : ", " + check_detail(verdict, duration_ms);
  const int active = backend.up_servers(false), backups = backend.up_servers(true);
  // With no primary left, HAProxy says the backups carry the traffic.
  const std::string_view on_backup = active == 0 && backups > 0 ? " Running on backup." : "";
  const std::string line =
      up ? fmt::format(
               "{}Server {}/{} is UP{}. {} active and {} backup servers online.{} 0 "
               "sessions requeued, 0 total in queue.",
               s.backup ? "Backup " : "", b.name, s.name, detail, active, backups, on_backup)
         : fmt::format(
               "{}Server {}/{} is DOWN{}. {} active and {} backup servers left.{} {} "
               "sessions active, 0 requeued, {} remaining in queue.",
               s.backup ? "Backup " : "", b.name, s.name, detail, active, backups, on_backup,
               backend.server_connections(server), backend.server_queued(server));
  emit(backend, up ? log::Severity::notice : log::Severity::alert, line, "[WARNING]  ");
  if (!up && active == 0 && backups == 0)
    emit(backend, log::Severity::emerg, fmt::format("backend {} has no server available!", b.name),
         nullptr);
}

void Checker::emit(const proxy::BackendState& backend, log::Severity severity,
                   std::string_view line, const char* stderr_tag) {
  if (stderr_tag)
    fmt::print(stderr, "{}({}) : {}\n", stderr_tag, getpid(), line);
  else  // HAProxy's alert quotes the backend's name
    fmt::print(stderr, "[ALERT]    ({}) : backend '{}' has no server available!\n", getpid(),
               backend.config().name);
  std::fflush(stderr);
  auto& logger = loggers_[backend.index()];
  if (logger && !logger->empty()) logger->emit(severity, line);
}

}  // namespace sluice::health

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

// Where a server is checked: its address, or `addr`, with `port` when given.
io::SocketAddress check_address(const config::Server& s, io::SocketAddress address) {
  if (!s.check_addr.empty()) {
    io::SocketAddress a;
    if (inet_pton(AF_INET, s.check_addr.c_str(), &a.storage.v4.sin_addr) == 1) {
      a.storage.v4.sin_family = AF_INET;
      a.length = sizeof(sockaddr_in);
      a.set_port(address.port());
      address = a;
    } else if (inet_pton(AF_INET6, s.check_addr.c_str(), &a.storage.v6.sin6_addr) == 1) {
      a.storage.v6.sin6_family = AF_INET6;
      a.length = sizeof(sockaddr_in6);
      a.set_port(address.port());
      address = a;
    }
  }
  if (s.check_port > 0) address.set_port(static_cast<std::uint16_t>(s.check_port));
  return address;
}

}  // namespace

ServerCheck::ServerCheck(Checker& checker, proxy::BackendState& backend, std::uint32_t server,
                         io::SocketAddress address, const HttpCheck* http, bool tls_hello,
                         const tls::ClientContext* tls)
    : checker_(checker),
      backend_(backend),
      server_(server),
      address_(address),
      health_(backend.config().servers[server].rise, backend.config().servers[server].fall),
      http_(http),
      tls_hello_(tls_hello),
      tls_(tls) {}

ServerCheck::~ServerCheck() {
  checker_.loop_.cancel(*this);
}

void ServerCheck::start(std::int64_t delay_ms) {
  checker_.loop_.arm(*this, delay_ms);
}

void ServerCheck::on_timer() {
  if (!socket_) {
    probe();
    return;
  }
  if (awaiting_response_)
    finish(false, tls_hello_ ? "Layer6 timeout" : "Layer7 timeout", {});
  else
    finish(false, "Layer4 timeout", {});
}

void ServerCheck::probe() {
  const auto& s = backend_.config().servers[server_];
  const auto& timeouts = backend_.config().timeouts;
  started_ms_ = checker_.loop_.now_ms();
  int error = 0;
  auto fd = io::connect_to(address_, error);
  if (!fd || !checker_.loop_.add(fd->get(), *this)) {
    socket_ = io::Fd();
    finish(false, "Layer4 connection problem", error ? std::strerror(error) : "socket error");
    return;
  }
  socket_ = std::move(*fd);
  awaiting_response_ = false;
  // HAProxy: without `timeout check` the whole check gets `inter`; with it, the connect
  // gets min(timeout connect, inter).
  const std::int64_t inter = s.inter.count();
  std::int64_t limit = inter;
  if (timeouts.check && timeouts.connect) limit = std::min(inter, timeouts.connect->count());
  checker_.loop_.arm(*this, limit);
}

void ServerCheck::on_events(std::uint32_t events) {
  if (!socket_) return;
  if (stream_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
    stream_.readable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  if (handshaking_) {
    handshake();
    return;
  }
  if (awaiting_response_) {
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
      read_response((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
    return;
  }
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
  const int error = io::socket_error(socket_.get());
  if (error == 0)
    connected();
  else
    finish(false, "Layer4 connection problem", std::strerror(error));
}

void ServerCheck::connected() {
  if (tls_) {
    // Checks use the loop's kept session like the traffic of the first loop does.
    stream_ = tls_->connect(socket_.get(), backend_.config().servers[server_].check_sni, 0);
    if (!stream_) {
      finish(false, "Layer6 invalid response", "SSL handshake failure");
      return;
    }
    handshaking_ = true;
    handshake();
    return;
  }
  send_request();
}

void ServerCheck::handshake() {
  switch (stream_.handshake()) {
    case tls::Status::ok:
      handshaking_ = false;
      send_request();
      return;
    case tls::Status::want_read:
    case tls::Status::want_write:
      return;
    default:
      finish(false, "Layer6 invalid response", "SSL handshake failure");
  }
}

void ServerCheck::send_request() {
  if (http_ == nullptr && !tls_hello_) {
    // A TCP check: connected (over TLS, the handshake done) is all it asks.
    finish(true, tls_ ? "Layer6 check passed" : "Layer4 check passed", {});
    return;
  }
  // A fresh socket's buffer takes a check request whole.
  const std::string& request = tls_hello_ ? tls_hello() : http_->request();
  std::size_t sent = 0;
  const bool whole = stream_ ? stream_.write(request, sent) == tls::Status::ok
                             : send(socket_.get(), request.data(), request.size(), MSG_NOSIGNAL) ==
                                   static_cast<ssize_t>(request.size());
  if (!whole) {
    finish(false, "Layer4 connection problem", "Broken pipe");
    return;
  }
  awaiting_response_ = true;
  response_.clear();
  // With `timeout check`, the response gets that long from now (HAProxy's read timeout).
  if (const auto& check = backend_.config().timeouts.check) {
    checker_.loop_.cancel(*this);
    checker_.loop_.arm(*this, check->count());
  }
  read_response(false);
}

// A check response is small; what is past this is not read (HAProxy: its buffer).
constexpr std::size_t kResponseLimit = 16384;

void ServerCheck::read_response(bool hangup) {
  bool closed = false;
  while (response_.size() < kResponseLimit) {
    char chunk[4096];
    const std::size_t room = std::min(sizeof chunk, kResponseLimit - response_.size());
    if (stream_) {
      std::size_t n = 0;
      const tls::Status s = stream_.read({chunk, room}, n);
      response_.append(chunk, n);
      if (s == tls::Status::ok) continue;
      if (s == tls::Status::closed || s == tls::Status::failed) closed = true;
      break;
    }
    const ssize_t n = recv(socket_.get(), chunk, room, 0);
    if (n > 0) {
      response_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) closed = true;
    break;
  }
  const bool complete = closed || hangup || response_.size() >= kResponseLimit;
  if (auto verdict =
          tls_hello_ ? judge_tls_hello(response_, complete) : http_->judge(response_, complete)) {
    finish(verdict->passed, verdict->reason, verdict->info, verdict->code);
    return;
  }
  if (closed) finish(false, tls_hello_ ? "Layer6 invalid response" : "Layer7 invalid response", {});
}

void ServerCheck::finish(bool passed, std::string_view reason, std::string_view info, int code) {
  checker_.loop_.cancel(*this);
  if (socket_) {
    // A reset, not a FIN: no TIME_WAIT left behind per check, and fewer packets (as
    // HAProxy closes its checks).
    const linger abort{1, 0};
    setsockopt(socket_.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  stream_ = tls::Stream();
  socket_.reset();  // closing deregisters it
  awaiting_response_ = false;
  handshaking_ = false;
  const std::int64_t duration = checker_.loop_.now_ms() - started_ms_;
  const int before = health_.value();
  const Change change = passed ? health_.success() : health_.failure();
  if (health_.value() != before && backend_.config().log_health_checks)
    checker_.report_check(backend_, server_, passed, reason, info, code, duration, health_);
  if (change != Change::none)
    checker_.report(backend_, server_, change == Change::went_up, reason, info, code, duration);
  const auto& s = backend_.config().servers[server_];
  checker_.loop_.arm(*this, checker_.spread(health_.next_interval(
                                s.inter.count(), millis(s.fastinter), millis(s.downinter))));
}

Checker::Checker(io::Loop& loop, const std::vector<proxy::BackendState*>& backends,
                 std::vector<std::optional<log::Logger>> loggers,
                 const std::vector<std::vector<const tls::ClientContext*>>& tls, int spread_percent)
    : loop_(loop), loggers_(std::move(loggers)), spread_percent_(spread_percent) {
  random_ ^= static_cast<std::uint64_t>(getpid()) << 17;
  for (proxy::BackendState* backend : backends) {
    const auto& config = backend->config();
    auto& http = http_checks_.emplace_back();
    // The last of `option httpchk` and `option ssl-hello-chk` wins in HAProxy; config keeps
    // both flags without their order, so ssl-hello-chk is taken when both are set.
    if (config.httpchk && !config.ssl_hello_chk)
      http = std::make_unique<HttpCheck>(*config.httpchk);
    const auto& servers = config.servers;
    for (std::uint32_t i = 0; i < servers.size(); ++i) {
      if (!servers[i].check || servers[i].disabled) continue;
      checks_.push_back(std::make_unique<ServerCheck>(
          *this, *backend, i, check_address(servers[i], backend->server_address(i)), http.get(),
          config.ssl_hello_chk,
          backend->index() < tls.size() ? tls[backend->index()][i] : nullptr));
    }
  }
}

Checker::~Checker() = default;

std::int64_t Checker::spread(std::int64_t interval) {
  if (spread_percent_ <= 0 || interval <= 0) return interval;
  random_ ^= random_ << 13;
  random_ ^= random_ >> 7;
  random_ ^= random_ << 17;
  const std::int64_t range = interval * spread_percent_ / 100;
  return interval - range +
         static_cast<std::int64_t>(random_ % static_cast<std::uint64_t>(2 * range + 1));
}

void Checker::start() {
  // Spread over the first interval, so that many servers are not checked in one burst.
  for (std::size_t i = 0; i < checks_.size(); ++i)
    checks_[i]->start(static_cast<std::int64_t>(i) * 1000 /
                      static_cast<std::int64_t>(checks_.size()) % 1000);
}

namespace {

// "reason: R[, code: N][, info: "I"], check duration: Dms"
std::string check_detail(std::string_view reason, std::string_view info, int code,
                         std::int64_t duration_ms) {
  std::string detail = fmt::format("reason: {}", reason);
  if (code != 0) detail += fmt::format(", code: {}", code);
  if (!info.empty()) detail += fmt::format(", info: \"{}\"", info);
  detail += fmt::format(", check duration: {}ms", duration_ms);
  return detail;
}

}  // namespace

void Checker::report_check(const proxy::BackendState& backend, std::uint32_t server, bool passed,
                           std::string_view reason, std::string_view info, int code,
                           std::int64_t duration_ms, const HealthCounter& health) {
  const auto& b = backend.config();
  emit(backend, log::Severity::notice,
       fmt::format("Health check for {}server {}/{} {}, {}, status: {}/{} {}.",
                   b.servers[server].backup ? "backup " : "", b.name, b.servers[server].name,
                   passed ? "succeeded" : "failed", check_detail(reason, info, code, duration_ms),
                   health.status_count(), health.status_of(), health.up() ? "UP" : "DOWN"),
       "[WARNING]  ");
}

void Checker::report(proxy::BackendState& backend, std::uint32_t server, bool up,
                     std::string_view reason, std::string_view info, int code,
                     std::int64_t duration_ms) {
  backend.set_server_up(server, up);
  const auto& b = backend.config();
  const auto& s = b.servers[server];
  // Under log-health-checks the check's own line said why already.
  const std::string detail =
      b.log_health_checks ? std::string() : ", " + check_detail(reason, info, code, duration_ms);
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

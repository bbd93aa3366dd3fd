#include "runtime/log/logger.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace sluice::log {

namespace {

constexpr int default_syslog_port = 514;

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::optional<int> parse_number(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "host", "host:port", "[v6]:port", "v6:port" (HAProxy takes the last colon as the port's;
// "::1:" is ::1 on the default port). An empty port means 514.
bool split_host_port(std::string_view text, config::Endpoint& endpoint, std::string& error) {
  std::string_view host = text;
  std::string_view port;
  if (starts_with(text, "[")) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = fmt::format("log target '{}': missing ']'", text);
      return false;
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        error = fmt::format("log target '{}': unexpected text after ']'", text);
        return false;
      }
      port = rest.substr(1);
    }
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  int number = default_syslog_port;
  if (!port.empty()) {
    auto parsed = parse_number(port);
    if (!parsed || *parsed < 1 || *parsed > 65535) {
      error = fmt::format("log target '{}': invalid port '{}'", text, port);
      return false;
    }
    number = *parsed;
  }
  if (host.empty()) {
    error = fmt::format("log target '{}': missing address", text);
    return false;
  }
  endpoint.host = std::string(host);
  endpoint.has_port = true;
  endpoint.port = number;
  endpoint.last_port = number;
  return true;
}

}  // namespace

std::optional<Logger::Sink> Logger::open_sink(const config::LogTarget& target, std::string& error) {
  Sink sink;
  std::string_view where = target.target;

  auto format = syslog_format_named(target.format);
  auto facility = facility_named(target.facility.empty() ? "local0" : target.facility);
  if (!format || !facility) {
    error = fmt::format("log target '{}': unknown {} '{}'", where, format ? "facility" : "format",
                        format ? target.facility : target.format);
    return std::nullopt;
  }
  sink.framing.format = *format;
  sink.framing.facility = *facility;
  if (!target.level.empty()) {
    auto level = severity_named(target.level);
    if (!level) {
      error = fmt::format("log target '{}': unknown level '{}'", where, target.level);
      return std::nullopt;
    }
    sink.max_level = *level;
  }
  if (!target.min_level.empty()) {
    sink.min_level = severity_named(target.min_level);
    if (!sink.min_level) {
      error = fmt::format("log target '{}': unknown level '{}'", where, target.min_level);
      return std::nullopt;
    }
  }

  // Descriptors: stdout, stderr, fd@N.
  std::optional<int> descriptor;
  if (where == "stdout") descriptor = 1;
  if (where == "stderr") descriptor = 2;
  if (starts_with(where, "fd@")) {
    descriptor = parse_number(where.substr(3));
    if (!descriptor || *descriptor < 0 || fcntl(*descriptor, F_GETFD) < 0) {
      error = fmt::format("log target '{}': not an open file descriptor", where);
      return std::nullopt;
    }
  }
  if (descriptor) {
    sink.kind = Sink::Kind::descriptor;
    sink.fd = *descriptor;
    struct stat st {};
    sink.descriptor_is_socket = fstat(sink.fd, &st) == 0 && S_ISSOCK(st.st_mode);
    sink.framing.max_length =
        frame_length_of(target.max_length, Transport::descriptor, sink.framing.format);
    return sink;
  }

  for (std::string_view unsupported : {"ring@", "tcp@", "tcp4@", "tcp6@", "uxst@"}) {
    if (starts_with(where, unsupported)) {
      error = fmt::format(
          "log target '{}': {} targets are valid HAProxy but not supported by "
          "sluice (use a UDP address, a UNIX datagram socket or stdout)",
          where, unsupported);
      return std::nullopt;
    }
  }

  // UNIX datagram sockets: a path (/dev/log), unix@PATH, or abns@NAME (abstract namespace).
  const bool abstract = starts_with(where, "abns@");
  if (abstract || starts_with(where, "unix@") || starts_with(where, "uxdg@") ||
      starts_with(where, "/")) {
    std::string_view path = starts_with(where, "/") ? where : where.substr(where.find('@') + 1);
    const std::size_t offset = abstract ? 1 : 0;
    if (path.empty() || path.size() + offset >= sizeof sink.path.sun_path) {
      error = fmt::format("log target '{}': invalid socket path", where);
      return std::nullopt;
    }
    sink.kind = Sink::Kind::unix_datagram;
    sink.path.sun_family = AF_UNIX;
    std::memcpy(sink.path.sun_path + offset, path.data(), path.size());
    sink.path_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset +
                                              path.size() + (abstract ? 0 : 1));
    sink.socket = io::Fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!sink.socket) {
      error = fmt::format("log target '{}': {}", where, std::strerror(errno));
      return std::nullopt;
    }
    sink.fd = sink.socket.get();
    sink.framing.max_length =
        frame_length_of(target.max_length, Transport::socket, sink.framing.format);
    return sink;
  }

  // UDP: [udp@|udp4@|udp6@|ipv4@|ipv6@]host[:port].
  config::Endpoint endpoint;
  endpoint.family = config::Family::hostname;
  if (const auto at = where.find('@'); at != std::string_view::npos) {
    const std::string_view prefix = where.substr(0, at + 1);
    if (prefix == "udp4@" || prefix == "ipv4@")
      endpoint.family = config::Family::ipv4;
    else if (prefix == "udp6@" || prefix == "ipv6@")
      endpoint.family = config::Family::ipv6;
    else if (prefix != "udp@") {
      error = fmt::format("log target '{}': unknown address prefix '{}'", where, prefix);
      return std::nullopt;
    }
    where = where.substr(at + 1);
  }
  if (!split_host_port(where, endpoint, error)) return std::nullopt;
  std::string resolve_error;
  auto addresses = io::resolve(endpoint, resolve_error);
  if (addresses.empty()) {
    error = fmt::format("log target '{}': {}", target.target, resolve_error);
    return std::nullopt;
  }
  const io::SocketAddress& address = addresses.front();
  sink.kind = Sink::Kind::udp;
  sink.socket = io::Fd(socket(address.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  // A connected socket: the kernel routes once, and send() needs no address per line.
  if (!sink.socket || connect(sink.socket.get(), address.get(), address.length) != 0) {
    error = fmt::format("log target '{}': {}", target.target, std::strerror(errno));
    return std::nullopt;
  }
  sink.fd = sink.socket.get();
  sink.framing.max_length =
      frame_length_of(target.max_length, Transport::socket, sink.framing.format);
  return sink;
}

std::optional<Logger> Logger::create(std::span<const config::LogTarget> targets,
                                     std::span<const config::LogTarget> global_targets,
                                     const SyslogIdentity& identity, std::string& error) {
  Logger logger;
  logger.identity_ = identity;
  if (logger.identity_.pid == 0) logger.identity_.pid = static_cast<int>(getpid());
  std::size_t longest_message = 0;
  std::size_t longest_frame = 0;
  auto add = [&](const config::LogTarget& target) {
    auto sink = open_sink(target, error);
    if (!sink) return false;
    longest_message =
        std::max(longest_message, frame_length_of(target.max_length, Transport::descriptor));
    longest_frame = std::max(longest_frame, sink->framing.max_length);
    logger.sinks_.push_back(std::move(*sink));
    return true;
  };
  for (const auto& target : targets) {
    if (target.global) {
      for (const auto& global : global_targets)
        if (!add(global)) return std::nullopt;
    } else if (!add(target)) {
      return std::nullopt;
    }
  }
  logger.message_.resize(longest_message);
  logger.frame_.resize(longest_frame);
  return logger;
}

void Logger::emit(Severity severity, std::string_view message) {
  if (sinks_.empty()) return;
  emit(severity, message, std::chrono::system_clock::now());
}

void Logger::emit(Severity severity, std::string_view message,
                  std::chrono::system_clock::time_point now) {
  if (sinks_.empty()) return;
  const LocalTime local = local_time_of(now);
  for (Sink& sink : sinks_) {
    if (severity > sink.max_level) continue;
    Severity level = severity;
    if (sink.min_level && level < *sink.min_level) level = *sink.min_level;
    const std::size_t length =
        write_syslog_frame(frame_, sink.framing, level, identity_, local, message);
    if (!send(sink, length)) ++dropped_;
  }
}

bool Logger::send(Sink& sink, std::size_t length) {
  const char* data = frame_.data();
  if (sink.kind == Sink::Kind::descriptor && !sink.descriptor_is_socket &&
      !sink.descriptor_nonblocking) {
    // A reader that stalls must cost lines, not the event loop.
    const int flags = fcntl(sink.fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(sink.fd, F_SETFL, flags | O_NONBLOCK);
    sink.descriptor_nonblocking = true;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    ssize_t sent = -1;
    switch (sink.kind) {
      case Sink::Kind::descriptor:
        sent = sink.descriptor_is_socket
                   ? ::send(sink.fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL)
                   : ::write(sink.fd, data, length);
        break;
      case Sink::Kind::udp:
        sent = ::send(sink.fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
      case Sink::Kind::unix_datagram:
        sent = ::sendto(sink.fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&sink.path), sink.path_length);
        break;
    }
    if (sent >= 0) return static_cast<std::size_t>(sent) == length;
    // EINTR: try again. ECONNREFUSED on a connected UDP socket reports an ICMP error left
    // by an earlier datagram, and this one was not sent: once more, so one lost line does
    // not cost the next one too. Anything else (EAGAIN, no listener): the line is lost.
    if (errno != EINTR && !(errno == ECONNREFUSED && sink.kind == Sink::Kind::udp)) break;
  }
  return false;
}

}  // namespace sluice::log

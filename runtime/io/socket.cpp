#include "runtime/io/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>

namespace sluice::io {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

std::string SocketAddress::to_string() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return fmt::format("{}:{}", host, ntohs(in->sin_port));
  }
  if (family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
  }
  return "?";
}

std::uint16_t SocketAddress::port() const {
  // A UNIX socket's "port" is what the acceptor set (HAProxy's listener id): it shares
  // sockaddr_in's place for it, where sockaddr_un's path starts.
  if (family() == AF_INET || family() == AF_UNIX)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SocketAddress::set_port(std::uint16_t port) {
  if (family() == AF_INET || family() == AF_UNIX)
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

std::span<const std::uint8_t> SocketAddress::ip_bytes() const {
  if (family() == AF_INET)
    return {reinterpret_cast<const std::uint8_t*>(
                &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr),
            4};
  if (family() == AF_INET6)
    return {reinterpret_cast<const std::uint8_t*>(
                &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr),
            16};
  return {};
}

SocketAddress SocketAddress::peer_of(int fd) {
  SocketAddress a;
  a.length = sizeof a.storage;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length) != 0) a = {};
  return a;
}

SocketAddress SocketAddress::local_of(int fd) {
  SocketAddress a;
  a.length = sizeof a.storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length) != 0) a = {};
  return a;
}

std::vector<SocketAddress> resolve(const config::Endpoint& endpoint, std::string& error) {
  std::vector<SocketAddress> out;
  std::vector<SocketAddress> hosts;
  if (endpoint.family == config::Family::unspecified) {
    // `*:80` and `:80` listen on every IPv4 address, as HAProxy does.
    SocketAddress any;
    auto* in = reinterpret_cast<sockaddr_in*>(&any.storage);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    any.length = sizeof(sockaddr_in);
    hosts.push_back(any);
  } else if (endpoint.family == config::Family::ipv4 || endpoint.family == config::Family::ipv6 ||
             endpoint.family == config::Family::hostname) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    // ipv4@/ipv6@ before a host name resolve it to that family only.
    const config::Family family =
        endpoint.family == config::Family::hostname ? endpoint.resolve_as : endpoint.family;
    hints.ai_family = family == config::Family::ipv4   ? AF_INET
                      : family == config::Family::ipv6 ? AF_INET6
                                                       : AF_UNSPEC;
    if (endpoint.family != config::Family::hostname) hints.ai_flags = AI_NUMERICHOST;
    addrinfo* found = nullptr;
    const int rc = getaddrinfo(endpoint.host.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
      error = fmt::format("cannot resolve '{}': {}", endpoint.host, gai_strerror(rc));
      return out;
    }
    // HAProxy takes the first address a name resolves to.
    SocketAddress a;
    a.length = std::min<socklen_t>(found->ai_addrlen, sizeof a.storage);
    std::memcpy(&a.storage, found->ai_addr, a.length);
    hosts.push_back(a);
    freeaddrinfo(found);
  } else {
    error = "UNIX sockets and inherited descriptors are not supported yet";
    return out;
  }
  for (auto host : hosts) {
    for (std::int32_t port = endpoint.port; port <= endpoint.last_port; ++port) {
      host.set_port(static_cast<std::uint16_t>(port));
      out.push_back(host);
    }
  }
  return out;
}

std::optional<Fd> listen_on(const SocketAddress& address, const ListenOptions& options,
                            std::string& error) {
  Fd fd(socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (options.reuse_port) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (address.family() == AF_INET6) {
    const int v6only = options.v6only ? 1 : 0;
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (options.defer_accept) {
    const int seconds = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds);
  }
  if (bind(fd.get(), address.get(), address.length) != 0 ||
      listen(fd.get(), options.backlog) != 0) {
    error = fmt::format("cannot bind {}: {}", address.to_string(), std::strerror(errno));
    return std::nullopt;
  }
  return fd;
}

std::string ListenAddress::to_string() const {
  switch (kind) {
    case Kind::inet:
      return inet.to_string();
    case Kind::unix_path:
      return "unix@" + path;
    case Kind::abstract:
      return "abns@" + path;
    case Kind::inherited_fd:
      return fmt::format("fd@{}", fd);
  }
  return "?";
}

std::vector<ListenAddress> resolve_listen(const config::Endpoint& endpoint, std::string& error) {
  std::vector<ListenAddress> out;
  switch (endpoint.family) {
    case config::Family::unix_path:
    case config::Family::abstract: {
      ListenAddress& a = out.emplace_back();
      a.kind = endpoint.family == config::Family::unix_path ? ListenAddress::Kind::unix_path
                                                            : ListenAddress::Kind::abstract;
      a.path = endpoint.host;
      if (a.path.size() + 1 > sizeof(sockaddr_un::sun_path)) {
        error = fmt::format("UNIX socket path '{}' is too long (at most {} bytes)", a.path,
                            sizeof(sockaddr_un::sun_path) - 1);
        out.clear();
      }
      return out;
    }
    case config::Family::inherited_fd: {
      ListenAddress& a = out.emplace_back();
      a.kind = ListenAddress::Kind::inherited_fd;
      a.fd = std::stoi(endpoint.host);
      return out;
    }
    default:
      break;
  }
  for (const auto& inet : resolve(endpoint, error)) {
    ListenAddress& a = out.emplace_back();
    a.inet = inet;
  }
  return out;
}

std::optional<int> inherited_socket_type(int n, std::string& error) {
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(n, SOL_SOCKET, SO_TYPE, &type, &length) == 0) return type;
  error = fmt::format("cannot use file descriptor '{}': {}", n, std::strerror(errno));
  return std::nullopt;
}

namespace {

std::optional<Fd> listen_on_inherited(int n, const ListenOptions& options, std::string& error) {
  const auto type = inherited_socket_type(n, error);
  if (!type) return std::nullopt;
  if (*type != SOCK_STREAM) {
    error = fmt::format("cannot use file descriptor '{}': not a stream socket", n);
    return std::nullopt;
  }
  int listening = 0;
  socklen_t length = sizeof listening;
  getsockopt(n, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length);
  if (!listening && listen(n, options.backlog) != 0) {
    error = fmt::format("cannot listen on file descriptor '{}': {}", n, std::strerror(errno));
    return std::nullopt;
  }
  Fd fd(fcntl(n, F_DUPFD_CLOEXEC, 0));
  if (!fd) {
    error = fmt::format("cannot use file descriptor '{}': {}", n, std::strerror(errno));
    return std::nullopt;
  }
  // Non-blocking is a property of the shared open file: N is non-blocking from now on too.
  fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  return fd;
}

std::optional<Fd> listen_on_unix(const ListenAddress& address, const ListenOptions& options,
                                 std::string& error) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  const bool abstract = address.kind == ListenAddress::Kind::abstract;
  // A socket file is bound under a temporary name first, then renamed over the path.
  const std::string name =
      abstract ? address.path : fmt::format("{}.{}.tmp", address.path, getpid());
  const std::size_t offset = abstract ? 1 : 0;  // abstract: a leading NUL, no file
  if (name.size() + offset + 1 > sizeof un.sun_path) {
    error = fmt::format("UNIX socket path '{}' is too long", address.path);
    return std::nullopt;
  }
  std::memcpy(un.sun_path + offset, name.data(), name.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset +
                                             name.size() + (abstract ? 0 : 1));
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  if (!abstract) unlink(name.c_str());
  const auto fail = [&](const char* what) {
    error = fmt::format("cannot {} {}: {}", what, address.to_string(), std::strerror(errno));
    if (!abstract) unlink(name.c_str());
    return std::nullopt;
  };
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&un), length) != 0) return fail("bind");
  if (!abstract) {
    if ((options.uid >= 0 || options.gid >= 0) &&
        chown(name.c_str(), static_cast<uid_t>(options.uid), static_cast<gid_t>(options.gid)) != 0)
      return fail("change the owner of");
    if (options.unix_mode >= 0 && chmod(name.c_str(), static_cast<mode_t>(options.unix_mode)) != 0)
      return fail("change the mode of");
  }
  if (listen(fd.get(), options.backlog) != 0) return fail("listen on");
  if (!abstract && rename(name.c_str(), address.path.c_str()) != 0)
    return fail("rename the socket to");
  return fd;
}

}  // namespace

std::optional<Fd> listen_on(const ListenAddress& address, const ListenOptions& options,
                            std::string& error) {
  switch (address.kind) {
    case ListenAddress::Kind::inet:
      return listen_on(address.inet, options, error);
    case ListenAddress::Kind::inherited_fd:
      return listen_on_inherited(address.fd, options, error);
    case ListenAddress::Kind::unix_path:
    case ListenAddress::Kind::abstract:
      return listen_on_unix(address, options, error);
  }
  return std::nullopt;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return {};
  return name;
}

void set_no_delay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::optional<Fd> connect_to(const SocketAddress& address, int& error) {
  Fd fd(socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    error = errno;
    return std::nullopt;
  }
  set_no_delay(fd.get());
  if (connect(fd.get(), address.get(), address.length) != 0 && errno != EINPROGRESS) {
    error = errno;
    return std::nullopt;
  }
  error = 0;
  return fd;
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace sluice::io

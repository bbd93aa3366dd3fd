// Non-blocking sockets: listening, accepting and connecting, with the options a proxy
// needs. Returns errors as values (errno), never throws on I/O.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"

namespace sluice::io {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// An IPv4 or IPv6 socket address, sized for them alone (32 bytes, not sockaddr_storage's
// 128): every connection keeps two of these, and an idle connection's size is what the
// idle-keep-alive benchmark measures. UNIX sockets carry only their family here, and as
// their port HAProxy's listener id, which %cp and the log print for a UNIX-socket client.
struct SocketAddress {
  union Storage {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  Storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return &storage.sa; }
  int family() const { return storage.sa.sa_family; }
  std::string to_string() const;  // "127.0.0.1:80", "[::1]:443"
  std::uint16_t port() const;
  void set_port(std::uint16_t port);
  // The address bytes in network order (4 or 16), empty for other families.
  std::span<const std::uint8_t> ip_bytes() const;
  // The peer / local address of a connected socket.
  static SocketAddress peer_of(int fd);
  static SocketAddress local_of(int fd);
};

// Every address an endpoint names (a host name may give several; a port range one each).
// Empty with `error` set when it cannot be resolved.
std::vector<SocketAddress> resolve(const config::Endpoint& endpoint, std::string& error);

struct ListenOptions {
  int backlog = 1024;
  // A UNIX socket file's permissions (octal, as chmod) and owner; -1: left as created.
  int unix_mode = -1;
  int uid = -1, gid = -1;
  bool v6only = false;
  bool v4v6 = false;
  bool defer_accept = false;
  // SO_REUSEPORT, as HAProxy sets by default: a new process (-sf/-st) binds the address
  // while the old one still listens on it.
  bool reuse_port = true;
};

// socket + SO_REUSEADDR + bind + listen, non-blocking. nullopt with errno text in `error`.
std::optional<Fd> listen_on(const SocketAddress& address, const ListenOptions& options,
                            std::string& error);

// Where a listening socket listens: an IP address, a UNIX socket file or an abstract name
// (`unix@`, a path, `abns@`), or a descriptor the process inherited already bound (`fd@N`).
struct ListenAddress {
  enum class Kind { inet, unix_path, abstract, inherited_fd } kind = Kind::inet;
  SocketAddress inet;
  std::string path;  // unix_path, abstract
  int fd = -1;       // inherited_fd
  // "127.0.0.1:80", "[::1]:443", "unix@/run/x.sock", "abns@name", "fd@3"
  std::string to_string() const;
};

// Every address a bind endpoint listens on (IP ones as resolve()); empty with `error` set
// when it cannot.
std::vector<ListenAddress> resolve_listen(const config::Endpoint& endpoint, std::string& error);

// The SO_TYPE (SOCK_STREAM, …) of a descriptor the process inherited; nullopt when it is no
// open socket, with `error` as haproxy -c words it ("cannot use file descriptor '3': Bad
// file descriptor"). Both -c and the listener ask this.
std::optional<int> inherited_socket_type(int n, std::string& error);

// An IP address as listen_on() above. A UNIX socket is bound under a temporary name, given
// its mode and owner, then renamed over the path, so that a stale file (or a previous
// process's socket) is replaced and the path never lacks a listening socket. An inherited
// descriptor must be a stream socket; it is listened on when it is only bound, made
// non-blocking, and returned as a duplicate: descriptor N itself stays open for the life of
// the process (a master passes it to every worker).
std::optional<Fd> listen_on(const ListenAddress& address, const ListenOptions& options,
                            std::string& error);

// This machine's name (gethostname), as syslog headers, `show info` and $HAPROXY_LOCALPEER
// give it; empty when it cannot be read.
std::string host_name();

// Small writes leave at once (no Nagle): a proxy forwards what it has, and waiting for
// an ACK would add the peer's delayed-ACK time to every response.
void set_no_delay(int fd);

// Starts a non-blocking connect; the socket becomes writable when it completes.
std::optional<Fd> connect_to(const SocketAddress& address, int& error);

// The pending error of a socket (after a connect completes), 0 when none.
int socket_error(int fd);

}  // namespace sluice::io

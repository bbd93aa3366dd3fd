#include "src/master_cli.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice::master {

namespace {

// A command line is short; a client sending more without a newline is cut off.
constexpr std::size_t kMaxLine = 4096;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool MasterCli::open(const std::string& path, std::string& error) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    error = fmt::format("master CLI socket path '{}' is too long", path);
    return false;
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  io::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  unlink(path.c_str());  // a socket file left by a previous master
  if (!fd || bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd.get(), 16) != 0) {
    error = fmt::format("cannot bind the master CLI socket '{}': {}", path, std::strerror(errno));
    return false;
  }
  listening_ = std::move(fd);
  path_ = path;
  return true;
}

void MasterCli::close() {
  if (!listening_) return;
  listening_.reset();
  unlink(path_.c_str());
}

void MasterCli::close_inherited() {
  listening_.reset();
  clients_.clear();
}

void MasterCli::add_fds(std::vector<pollfd>& fds) const {
  if (listening_) fds.push_back({listening_.get(), POLLIN, 0});
  for (const auto& c : clients_)
    if (!c.read_all) fds.push_back({c.fd.get(), POLLIN, 0});
}

void MasterCli::on_poll(const std::vector<pollfd>& fds) {
  for (const auto& p : fds) {
    if (p.revents == 0) continue;
    if (listening_ && p.fd == listening_.get()) {
      accept_clients();
      continue;
    }
    auto it = std::find_if(clients_.begin(), clients_.end(),
                           [&](const Client& c) { return c.fd.get() == p.fd; });
    if (it != clients_.end() && !it->read_all) read(*it);
  }
  std::erase_if(clients_, [](const Client& c) { return !c.fd; });
}

void MasterCli::accept_clients() {
  int fd;
  while ((fd = accept4(listening_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
    Client& c = clients_.emplace_back();
    c.id = next_id_++;
    c.fd.reset(fd);
  }
}

void MasterCli::read(Client& c) {
  char buffer[1024];
  ssize_t n;
  while ((n = ::read(c.fd.get(), buffer, sizeof buffer)) > 0) {
    c.input.append(buffer, static_cast<std::size_t>(n));
    if (c.input.size() > kMaxLine) break;
  }
  const std::size_t end = c.input.find('\n');
  const bool closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
  if (end == std::string::npos && !closed && c.input.size() <= kMaxLine) return;
  c.read_all = true;
  const std::string line = c.input.substr(0, std::min(end, c.input.size()));
  run_commands(c, line);
  flush(c);
}

void MasterCli::run_commands(Client& c, std::string_view line) {
  while (!line.empty()) {
    const std::size_t semicolon = line.find(';');
    const std::string_view command = trim(line.substr(0, semicolon));
    line = semicolon == std::string_view::npos ? std::string_view() : line.substr(semicolon + 1);
    if (command.empty()) continue;
    if (auto text = handler_(command, c.id))
      c.output += *text;
    else
      ++c.waiting;
  }
}

void MasterCli::answer(ClientId id, const std::string& text) {
  auto it =
      std::find_if(clients_.begin(), clients_.end(), [&](const Client& c) { return c.id == id; });
  if (it == clients_.end()) return;
  it->output += text;
  --it->waiting;
  flush(*it);  // a closed client is dropped at the next on_poll()
}

void MasterCli::flush(Client& c) {
  if (c.waiting > 0) return;
  // Small answers to a local client: wait (briefly) for room rather than keep state.
  std::string_view out = c.output;
  while (!out.empty()) {
    const ssize_t n = send(c.fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      pollfd p{c.fd.get(), POLLOUT, 0};
      if (poll(&p, 1, 1000) > 0) continue;
    }
    break;
  }
  c.fd.reset();
}

}  // namespace sluice::master

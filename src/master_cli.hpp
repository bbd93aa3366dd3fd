// The master CLI (`-S PATH`): a UNIX stream socket on which an operator (or a deploy
// script) sends commands, one per line or separated by ';': `show proc`, `reload`, `help`.
// Each connection gets its answers, then is closed. A command may answer later (`reload`
// answers once the new worker serves, or why not): the handler says so and calls answer().
// Non-blocking; the master polls fds() with its other descriptors.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io/socket.hpp"

namespace sluice::master {

class MasterCli {
 public:
  using ClientId = std::uint64_t;
  // The answer to one command, or nullopt when answer(id, …) comes later.
  using Handler = std::function<std::optional<std::string>(std::string_view command, ClientId)>;

  // Binds `path` (a stale socket file is replaced); false with `error`.
  bool open(const std::string& path, std::string& error);
  void set_handler(Handler handler) { handler_ = std::move(handler); }
  // The descriptors to poll, appended to `fds`.
  void add_fds(std::vector<pollfd>& fds) const;
  // After poll: serves what `fds` (the master's whole array) says is ready.
  void on_poll(const std::vector<pollfd>& fds);
  // The late answer of client `id`; the connection closes after its last one.
  void answer(ClientId id, const std::string& text);
  // Closes the listening socket and removes its file.
  void close();
  // In a forked worker: drops the descriptors, leaving the file to the master.
  void close_inherited();

 private:
  struct Client {
    ClientId id = 0;
    io::Fd fd;
    std::string input;
    std::string output;
    int waiting = 0;        // answers still to come
    bool read_all = false;  // the command line was read (or the client shut its side)
  };
  void accept_clients();
  void read(Client& c);
  void run_commands(Client& c, std::string_view line);
  void flush(Client& c);

  io::Fd listening_;
  std::string path_;
  Handler handler_;
  std::vector<Client> clients_;
  ClientId next_id_ = 1;
};

}  // namespace sluice::master

// The master process (`-W`, or `master-worker` in global): it serves no traffic. It opens
// every listening socket, forks the worker and watches it. SIGUSR2 or SIGHUP reloads: the
// master compiles the files again (the code of -c); an invalid configuration is reported
// with every error and the old workers go on serving; a valid one gets its new sockets
// opened, a new worker forked with every socket (accept queues and all), and once that
// worker says it is ready the old ones soft-stop. A worker that dies unexpectedly is
// replaced, with a back-off.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/config/config.hpp"
#include "src/serve.hpp"

namespace sluice::master {

struct Options {
  serve::LoadSettings load;  // the files and flags, read again at each reload
  bool debug = false;        // -d: workers print their events on stdout
  std::string cli_path;      // -S: the master CLI's socket; empty: none
  // Called once the sockets are open, before the first worker: -D and the pidfile. An
  // exit status ends the master there (the parent of a daemon).
  std::function<std::optional<int>()> detach;
};

// Runs the master with the configuration already compiled from `options.load`;
// returns the process's exit status: 0 after SIGTERM/SIGINT (workers stopped) or SIGUSR1
// (workers soft-stopped), 1 when the first worker could not start.
int run(const Options& options, std::shared_ptr<const config::Config> config);

}  // namespace sluice::master

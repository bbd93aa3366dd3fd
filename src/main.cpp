// sluice: HAProxy-configuration-compatible load balancer. Entry point: command line, -c,
// -cc, -v/-vv, and the variables HAProxy defines for its configuration.
#include <fmt/format.h>

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>

#include "runtime/compile/build_facts.hpp"
#include "runtime/compile/compile.hpp"
#include "runtime/config/version.hpp"
#include "runtime/io/socket.hpp"
#include "runtime/worker/worker.hpp"
#include "src/cli.hpp"
#include "src/master.hpp"
#include "src/serve.hpp"
#include "src/version.hpp"

namespace {

// The variables HAProxy defines before reading its configuration (configuration.txt 2.3).
void export_startup_variables(const sluice::cli::CommandLine& line) {
  const std::string peer = line.local_peer.empty() ? sluice::io::host_name() : line.local_peer;
  setenv("HAPROXY_LOCALPEER", peer.c_str(), 1);
  setenv("HAPROXY_STARTUP_VERSION", std::string(sluice::config::kVersionString).c_str(), 1);
}

// Those HAProxy defines once the configuration is read: a reload's configuration sees them
// (HAProxy re-executes itself; sluice's master reads the files again in the same process).
void export_loaded_variables(const sluice::compile::CompileResult& result,
                             const sluice::cli::CommandLine& line) {
  std::string files;
  for (std::uint32_t i = 1; i < result.sources.size(); ++i)
    files += (files.empty() ? "" : ";") + result.sources.file(i).name();
  setenv("HAPROXY_CFGFILES", files.c_str(), 1);
  std::string sockets;
  for (const auto& socket : result.config->global.stats_sockets)
    for (const auto& address : socket.addresses)
      sockets += (sockets.empty() ? "" : ";") + address;
  setenv("HAPROXY_CLI", sockets.c_str(), 1);
  if (line.master_worker || result.config->global.master_worker) {
    setenv("HAPROXY_MWORKER", "1", 1);
    if (!line.master_cli.empty())
      setenv("HAPROXY_MASTER_CLI", ("unix@" + line.master_cli).c_str(), 1);
  }
}

// -cc: 0 true, 1 false, 2 malformed (management.txt section 3).
int evaluate_condition(const std::string& line) {
  const auto result = sluice::parser::evaluate_condition_line(
      line, sluice::parser::process_environment(), sluice::compile::build_facts());
  if (const bool* value = std::get_if<bool>(&result)) return *value ? 0 : 1;
  fmt::print(stderr, "sluice: failed to evaluate condition: {}\n",
             std::get<sluice::parser::ConditionError>(result).message);
  return 2;
}

// -D / `daemon`: the parent reports bind errors itself (they happen before the fork),
// writes the child's pid, and exits 0; the child leaves the terminal's session.
// Returns true in the child, false in the parent (which then exits with `status`).
bool daemonize(const std::string& pidfile, int& status) {
  const pid_t child = fork();
  if (child < 0) {
    fmt::print(stderr, "sluice: cannot fork: {}\n", std::strerror(errno));
    status = 1;
    return false;
  }
  if (child > 0) {
    status = pidfile.empty() || sluice::serve::write_pidfile(pidfile, child) ? 0 : 1;
    return false;
  }
  setsid();
  const int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  return true;
}

// The pidfile and -D / `daemon`: what the process says of itself once its sockets are
// open. An exit status ends it there (the parent of a daemon, or a pidfile it cannot write).
std::optional<int> detach(const sluice::config::Config& config,
                          const sluice::cli::CommandLine& line) {
  // -p wins over the global `pidfile`, and -db (foreground) over -D and `daemon`, as in
  // HAProxy.
  const std::string pidfile = !line.pidfile.empty() ? line.pidfile : config.global.pidfile;
  const bool daemon = (line.daemon || config.global.daemon) && !line.no_background;
  if (daemon) {
    int status = 0;
    if (!daemonize(pidfile, status)) return status;
  } else if (!pidfile.empty() && !sluice::serve::write_pidfile(pidfile, getpid())) {
    return 1;
  }
  // -sf / -st: this process listens now (SO_REUSEPORT lets it share the addresses), so the
  // old ones may go: soft-stop (finish what they serve) or stop at once.
  for (const auto& [pids, signal] :
       {std::pair{&line.soft_stop_pids, SIGUSR1}, std::pair{&line.hard_stop_pids, SIGTERM}})
    for (int pid : *pids)
      if (kill(pid, signal) != 0)
        fmt::print(stderr, "sluice: warning: cannot signal process {}: {}\n", pid,
                   std::strerror(errno));
  return std::nullopt;
}

int serve(std::shared_ptr<const sluice::config::Config> config,
          const sluice::cli::CommandLine& line, const sluice::serve::LoadSettings& settings) {
  if (auto status = sluice::serve::refuse_unserved(*config)) return *status;
  std::signal(SIGPIPE, SIG_IGN);
  if (line.master_worker || config->global.master_worker) {
    sluice::master::Options options;
    options.load = settings;
    options.debug = line.debug;
    options.cli_path = line.master_cli;
    options.detach = [&config, &line] { return detach(*config, line); };
    return sluice::master::run(options, config);
  }
  const sigset_t signals = sluice::serve::worker_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by the loop threads
  const auto hard_stop_after = config->global.hard_stop_after;
  const auto& cfg = *config;
  sluice::worker::Worker worker(std::move(config));
  if (line.debug) worker.print_events();
  std::string error;
  if (!worker.open(error)) {
    fmt::print(stderr, "sluice: {}\n", error);
    return 1;
  }
  if (auto status = detach(cfg, line)) return *status;
  return sluice::serve::run_until_signalled(worker, signals, hard_stop_after);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = argc > 0 ? argv[0] : "sluice";
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  sluice::cli::ParseError error;
  auto line = sluice::cli::parse(args, error);
  if (!line) {
    fmt::print(stderr, "sluice: {}\n{}", error.message, sluice::cli::usage(program));
    return 1;
  }
  if (line->poison_byte) {
    // glibc fills each allocation with the complement of M_PERTURB, each freed block with it.
    mallopt(M_PERTURB, *line->poison_byte ^ 0xff);
  }
  if (!line->quiet)
    for (const auto& note : line->notes)
      fmt::print(stderr, "sluice: note: {}\n", note);
  if (line->help) {
    fmt::print("{}", sluice::cli::usage(program));
    return 0;
  }
  if (line->version_level > 0) {
    fmt::print("{}", sluice::version::report(line->version_level));
    return 0;
  }
  if (line->condition) return evaluate_condition(*line->condition);
  if (!line->directory.empty() && chdir(line->directory.c_str()) != 0) {
    fmt::print(stderr, "sluice: cannot change to directory '{}': {}\n", line->directory,
               std::strerror(errno));
    return 1;
  }
  if (line->config_paths.empty()) {
    fmt::print(stderr, "sluice: no configuration file given (use -f)\n{}",
               sluice::cli::usage(program));
    return 1;
  }
  export_startup_variables(*line);
  const sluice::serve::LoadSettings settings{line->config_paths, line->quiet, line->zero_warning,
                                             line->diagnostic_mode};
  auto result = sluice::serve::load(settings);
  if (sluice::serve::report(result, settings) != 0) return 1;
  if (!result.has_listener) {
    fmt::print(stderr, "sluice: configuration has no error but will not start (no listener)\n");
    return 2;
  }
  if (line->check_only) {
    if (!line->quiet) fmt::print("Configuration file is valid\n");
    return 0;
  }
  export_loaded_variables(result, *line);
  if (line->debug) fmt::print("Using epoll() as the polling mechanism.\n");  // stdout, as HAProxy
  return serve(result.config, *line, settings);
}

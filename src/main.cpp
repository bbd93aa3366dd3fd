// sluice: HAProxy-configuration-compatible load balancer. Entry point: command line, -c.
#include <fmt/format.h>
#include <openssl/opensslv.h>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "runtime/compile/compile.hpp"
#include "runtime/worker/worker.hpp"
#include "src/cli.hpp"
#include "src/master.hpp"
#include "src/serve.hpp"

namespace {

constexpr const char* haproxy_version = "2.6";

void print_version(int level) {
  fmt::print("sluice version {} - implements HAProxy {} configuration\n", sluice::serve::kVersion,
             haproxy_version);
  if (level > 1) {
    fmt::print("Build options : C++20, Boost.Spirit X3 configuration grammar\n");
    fmt::print("Built with OpenSSL version : {}\n", OPENSSL_VERSION_TEXT);
  }
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
          const sluice::cli::CommandLine& line) {
  if (auto status = sluice::serve::refuse_unserved(*config)) return *status;
  std::signal(SIGPIPE, SIG_IGN);
  if (line.master_worker || config->global.master_worker) {
    sluice::master::Options options;
    options.config_paths = line.config_paths;
    options.quiet = line.quiet;
    options.cli_path = line.master_cli;
    options.detach = [&config, &line] { return detach(*config, line); };
    return sluice::master::run(options, config);
  }
  const sigset_t signals = sluice::serve::worker_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by the loop threads
  const auto hard_stop_after = config->global.hard_stop_after;
  const auto& cfg = *config;
  sluice::worker::Worker worker(std::move(config));
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
  if (line->help) {
    fmt::print("{}", sluice::cli::usage(program));
    return 0;
  }
  if (line->version_level > 0) {
    print_version(line->version_level);
    return 0;
  }
  if (line->config_paths.empty()) {
    fmt::print(stderr, "sluice: no configuration file given (use -f)\n{}",
               sluice::cli::usage(program));
    return 1;
  }
  auto result = sluice::compile::compile_files(line->config_paths);
  const int status = sluice::serve::report(result, line->quiet);
  if (status != 0) return status;
  if (!result.has_listener) {
    fmt::print(stderr, "sluice: configuration has no error but will not start (no listener)\n");
    return 2;
  }
  if (line->check_only) {
    if (!line->quiet) fmt::print("Configuration file is valid\n");
    return 0;
  }
  return serve(result.config, *line);
}

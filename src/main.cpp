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
#include "runtime/worker/capabilities.hpp"
#include "runtime/worker/worker.hpp"
#include "src/cli.hpp"

namespace {

constexpr const char* version = "0.1.0";
constexpr const char* haproxy_version = "2.6";

void print_version(int level) {
  fmt::print("sluice version {} - implements HAProxy {} configuration\n", version, haproxy_version);
  if (level > 1) {
    fmt::print("Build options : C++20, Boost.Spirit X3 configuration grammar\n");
    fmt::print("Built with OpenSSL version : {}\n", OPENSSL_VERSION_TEXT);
  }
}

// Prints every diagnostic; returns the process exit code for -c.
int report(const sluice::compile::CompileResult& result, bool quiet) {
  for (const auto& d : result.diags.all()) {
    if (quiet && d.severity != sluice::parser::Severity::error) continue;
    std::fputs(sluice::parser::render(d, result.sources).c_str(), stderr);
  }
  if (result.diags.has_errors()) {
    fmt::print(stderr, "sluice: {} error(s), {} warning(s): configuration is invalid\n",
               result.diags.error_count(), result.diags.warning_count());
    return 1;
  }
  return 0;
}

// Writes `pid` and a newline to `path`; false with the reason on stderr.
bool write_pidfile(const std::string& path, pid_t pid) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    fmt::print(stderr, "sluice: cannot write pidfile '{}': {}\n", path, std::strerror(errno));
    return false;
  }
  fmt::print(f, "{}\n", pid);
  return std::fclose(f) == 0;
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
    status = pidfile.empty() || write_pidfile(pidfile, child) ? 0 : 1;
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

// Whether this build can serve `config` as HAProxy would; nullopt if so, else the exit
// status after saying why.
std::optional<int> refuse_unserved(const sluice::config::Config& config) {
  auto unserved = sluice::worker::unserved_features(config);
  if (unserved.empty()) return std::nullopt;
  for (const auto& use : unserved)
    fmt::print(stderr, "sluice: {}\n", use);
  fmt::print(stderr,
             "sluice: configuration is valid but uses what this build cannot serve yet: not "
             "starting\n");
  return 1;
}

// Runs the loops until SIGTERM/SIGINT (stop now) or SIGUSR1 (soft stop: refuse new
// connections, let those in flight finish; a later SIGTERM/SIGINT still stops at once).
// `signals` are blocked in every thread and taken synchronously here.
int run_until_signalled(sluice::worker::Worker& worker, sigset_t signals) {
  std::thread loops([&] { worker.run(); });
  int received = 0;
  sigwait(&signals, &received);
  if (received != SIGUSR1) {
    worker.stop();
    loops.join();
    return 0;
  }
  worker.soft_stop();
  sigdelset(&signals, SIGUSR1);
  std::thread waiter([&] {
    int again = 0;
    sigwait(&signals, &again);
    worker.stop();
  });
  loops.join();
  // The drain finished first: wake the waiter, which then stops a stopped worker.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return 0;
}

int serve(std::shared_ptr<const sluice::config::Config> config,
          const sluice::cli::CommandLine& line) {
  if (auto status = refuse_unserved(*config)) return *status;
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR1})
    sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by the loop threads
  std::signal(SIGPIPE, SIG_IGN);

  // -p wins over the global `pidfile`, and -db (foreground) over -D and `daemon`, as in
  // HAProxy.
  const std::string pidfile = !line.pidfile.empty() ? line.pidfile : config->global.pidfile;
  const bool daemon = (line.daemon || config->global.daemon) && !line.no_background;
  sluice::worker::Worker worker(std::move(config));
  std::string error;
  if (!worker.open(error)) {
    fmt::print(stderr, "sluice: {}\n", error);
    return 1;
  }
  if (daemon) {
    int status = 0;
    if (!daemonize(pidfile, status)) return status;
  } else if (!pidfile.empty() && !write_pidfile(pidfile, getpid())) {
    return 1;
  }
  return run_until_signalled(worker, signals);
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
  const int status = report(result, line->quiet);
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

// What serving takes in both process models (a worker on its own, or forked by the
// master): printing the compile's verdict, refusing what this build cannot serve, and
// running a worker until the signals say stop.
#pragma once

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "runtime/compile/compile.hpp"
#include "runtime/config/config.hpp"
#include "runtime/worker/worker.hpp"

namespace sluice::serve {

// How the command line asks for the configuration to be read, at start and at each reload.
struct LoadSettings {
  std::vector<std::string> config_paths;  // -f, in order
  bool quiet = false;                     // -q: errors only
  bool zero_warning = false;              // -dW
  bool diagnostic_mode = false;           // -dD
};

// Reads and compiles the files.
compile::CompileResult load(const LoadSettings& settings);
// Whether the result may not serve: an error, or a warning under zero-warning (-dW or the
// global keyword).
bool refused(const compile::CompileResult& result, const LoadSettings& settings);
// Every diagnostic (errors only when quiet) as -c prints them, and the verdict line when
// refused.
std::string render(const compile::CompileResult& result, const LoadSettings& settings);
// Prints render() on stderr; returns 1 when refused.
int report(const compile::CompileResult& result, const LoadSettings& settings);

// What in `config` this build cannot serve yet, one "sluice: …" line each, and the verdict;
// empty when it serves all of it.
std::string unserved(const config::Config& config);
// Whether this build can serve `config` as HAProxy would; nullopt if so, else the exit
// status after printing unserved().
std::optional<int> refuse_unserved(const config::Config& config);

// The signals a worker takes synchronously (SIGINT, SIGTERM: stop now; SIGUSR1: soft
// stop), to block in every thread before any starts.
sigset_t worker_signals();

// Runs the loops until SIGTERM/SIGINT (stop now) or SIGUSR1 (soft stop: refuse new
// connections, let those in flight finish, within `hard_stop_after` when set; a later
// SIGTERM/SIGINT still stops at once). `signals` (worker_signals()) are blocked.
int run_until_signalled(worker::Worker& worker, sigset_t signals,
                        const std::optional<config::Millis>& hard_stop_after);

// Writes `pid` and a newline to `path`; false with the reason on stderr.
bool write_pidfile(const std::string& path, pid_t pid);

}  // namespace sluice::serve

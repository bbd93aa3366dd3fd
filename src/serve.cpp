#include "src/serve.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>

#include "runtime/worker/capabilities.hpp"

namespace sluice::serve {

compile::CompileResult load(const LoadSettings& settings) {
  parser::ParseOptions options;
  options.diagnostic_mode = settings.diagnostic_mode;
  return compile::compile_files(settings.config_paths, options);
}

namespace {

bool zero_warning_refuses(const compile::CompileResult& result, const LoadSettings& settings) {
  const bool zero_warning =
      settings.zero_warning || (result.config && result.config->global.zero_warning);
  return zero_warning && result.diags.warning_count() != 0;
}

}  // namespace

bool refused(const compile::CompileResult& result, const LoadSettings& settings) {
  return result.diags.has_errors() || zero_warning_refuses(result, settings);
}

std::string render(const compile::CompileResult& result, const LoadSettings& settings) {
  std::string text;
  for (const auto& d : result.diags.all()) {
    if (settings.quiet && d.severity != parser::Severity::error) continue;
    text += parser::render(d, result.sources);
  }
  if (result.diags.has_errors())
    text += fmt::format("sluice: {} error(s), {} warning(s): configuration is invalid\n",
                        result.diags.error_count(), result.diags.warning_count());
  else if (zero_warning_refuses(result, settings))
    text +=
        fmt::format("sluice: {} warning(s) and 'zero-warning' is set: configuration is refused\n",
                    result.diags.warning_count());
  return text;
}

int report(const compile::CompileResult& result, const LoadSettings& settings) {
  std::fputs(render(result, settings).c_str(), stderr);
  return refused(result, settings) ? 1 : 0;
}

std::string unserved(const config::Config& config) {
  const auto uses = worker::unserved_features(config);
  if (uses.empty()) return {};
  std::string text;
  for (const auto& use : uses)
    text += fmt::format("sluice: {}\n", use);
  return text +
         "sluice: configuration is valid but uses what this build cannot serve yet: not "
         "starting\n";
}

std::optional<int> refuse_unserved(const config::Config& config) {
  const std::string text = unserved(config);
  if (text.empty()) return std::nullopt;
  std::fputs(text.c_str(), stderr);
  return 1;
}

sigset_t worker_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR1})
    sigaddset(&signals, s);
  return signals;
}

int run_until_signalled(worker::Worker& worker, sigset_t signals,
                        const std::optional<config::Millis>& hard_stop_after) {
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
    // Stops at a signal, or when `hard-stop-after` runs out (whichever comes first).
    if (hard_stop_after) {
      const auto ms = hard_stop_after->count();
      const timespec limit{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000};
      while (sigtimedwait(&signals, nullptr, &limit) < 0 && errno == EINTR) {
      }
    } else {
      int again = 0;
      sigwait(&signals, &again);
    }
    worker.stop();
  });
  loops.join();
  // The drain finished first: wake the waiter, which then stops a stopped worker.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return 0;
}

bool write_pidfile(const std::string& path, pid_t pid) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    fmt::print(stderr, "sluice: cannot write pidfile '{}': {}\n", path, std::strerror(errno));
    return false;
  }
  fmt::print(f, "{}\n", pid);
  return std::fclose(f) == 0;
}

}  // namespace sluice::serve

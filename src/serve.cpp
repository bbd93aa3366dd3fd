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

int report(const compile::CompileResult& result, bool quiet) {
  for (const auto& d : result.diags.all()) {
    if (quiet && d.severity != parser::Severity::error) continue;
    std::fputs(parser::render(d, result.sources).c_str(), stderr);
  }
  if (result.diags.has_errors()) {
    fmt::print(stderr, "sluice: {} error(s), {} warning(s): configuration is invalid\n",
               result.diags.error_count(), result.diags.warning_count());
    return 1;
  }
  return 0;
}

std::optional<int> refuse_unserved(const config::Config& config) {
  auto unserved = worker::unserved_features(config);
  if (unserved.empty()) return std::nullopt;
  for (const auto& use : unserved)
    fmt::print(stderr, "sluice: {}\n", use);
  fmt::print(stderr,
             "sluice: configuration is valid but uses what this build cannot serve yet: not "
             "starting\n");
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

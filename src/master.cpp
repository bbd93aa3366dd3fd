#include "src/master.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "runtime/compile/compile.hpp"
#include "runtime/config/version.hpp"
#include "runtime/io/timer.hpp"
#include "runtime/tls/ticket_keys.hpp"
#include "runtime/worker/listeners.hpp"
#include "runtime/worker/worker.hpp"
#include "src/master_cli.hpp"
#include "src/notify.hpp"
#include "src/serve.hpp"

namespace sluice::master {

namespace {

// A worker that dies unexpectedly is replaced after this, doubled at each death in a row
// up to the maximum; one that served for a while resets it.
constexpr std::int64_t kFirstBackoffMs = 500;
constexpr std::int64_t kMaxBackoffMs = 30000;
constexpr std::int64_t kSteadyMs = 30000;

// "[NOTICE]   (pid) : text" on stderr, HAProxy's shape; returns the line.
std::string notice(std::string_view level, const std::string& text) {
  std::string line = fmt::format("{:<11}({}) : {}\n", fmt::format("[{}]", level), getpid(), text);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  return line;
}

std::string exit_reason(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "unknown status";
}

// "0d00h02m07s", as HAProxy's `show proc`.
std::string uptime(std::int64_t ms) {
  const std::int64_t s = ms / 1000;
  return fmt::format("{}d{:02}h{:02}m{:02}s", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
}

struct WorkerProcess {
  pid_t pid = 0;
  int generation = 0;
  // The worker writes 1 once it serves, or why it cannot; closed after.
  io::Fd ready;
  std::string error;
  bool serving = false;
  bool leaving = false;  // told to soft-stop
  std::int64_t started_ms = 0;
  int reloads_at_start = 0;
  std::set<std::string> sockets;  // the keys of the listening sockets it uses
};

class Master {
 public:
  Master(const Options& options, std::shared_ptr<const config::Config> config)
      : options_(options), config_(std::move(config)) {}

  int run();

 private:
  bool setup();
  bool start_worker();
  [[noreturn]] void serve_in_child(io::Fd ready);
  void reload();
  // A reload ended: systemd and the CLI clients that asked are told.
  void reload_finished(bool success, const std::string& messages);
  void on_signal(int signal);
  void on_ready(WorkerProcess& w);
  void reap();
  void on_exit(WorkerProcess w, int status);
  // The sockets and ticket keys of `config`; false with what failed in `messages`.
  bool prepare(const config::Config& config, std::set<std::string>& keys, std::string& messages);
  void read_states();
  void close_unused_sockets();
  std::optional<std::string> command(std::string_view command, MasterCli::ClientId client);
  std::string show_proc() const;
  int poll_timeout() const;

  const Options& options_;
  std::shared_ptr<const config::Config> config_;  // the newest valid configuration
  std::set<std::string> config_sockets_;          // its listening sockets' keys
  worker::ListenerSet listeners_;
  // Kept for the master's life: what makes a reload invisible to clients and balancers.
  std::map<std::string, tls::TicketKeys> ticket_keys_;  // by bind key
  std::set<std::string> down_servers_;                  // health::state_key()s
  io::Fd state_read_, state_write_;                     // workers' "up|down KEY" lines
  std::string state_partial_;                           // a line not whole yet
  std::vector<WorkerProcess> workers_;
  io::Fd signals_;
  MasterCli cli_;
  // CLI clients answered when the running reload ends, and those of the next one.
  std::vector<MasterCli::ClientId> reload_waiters_, next_reload_waiters_;
  bool cli_reload_ = false;  // asked on the CLI, not started yet
  std::int64_t started_ms_ = io::monotonic_ms();
  int generation_ = 0;
  int reloads_ = 0, failed_reloads_ = 0;
  bool starting_ = false;        // a new worker is forked and not serving yet
  bool reload_pending_ = false;  // a reload asked for while one is in progress
  bool stopping_ = false;
  bool first_failed_ = false;
  std::int64_t respawn_at_ms_ = -1;  // a replacement worker is due then
  std::int64_t backoff_ms_ = kFirstBackoffMs;
};

bool Master::setup() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP, SIGCHLD})
    sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signals_.reset(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  int state_pipe[2];
  if (!signals_ || pipe2(state_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    fmt::print(stderr, "sluice: {}\n", std::strerror(errno));
    return false;
  }
  state_read_.reset(state_pipe[0]);
  state_write_.reset(state_pipe[1]);
  std::string error;
  if (!options_.cli_path.empty() && !cli_.open(options_.cli_path, error)) {
    fmt::print(stderr, "sluice: {}\n", error);
    return false;
  }
  cli_.set_handler([this](std::string_view command, MasterCli::ClientId id) {
    return this->command(command, id);
  });
  std::string messages;
  if (!prepare(*config_, config_sockets_, messages)) {
    std::fputs(messages.c_str(), stderr);
    return false;
  }
  return true;
}

int Master::run() {
  if (!setup()) return 1;
  if (options_.detach)
    if (auto status = options_.detach()) return *status;
  if (!start_worker()) return 1;
  while (!workers_.empty() || (!stopping_ && respawn_at_ms_ >= 0)) {
    std::vector<pollfd> fds{{signals_.get(), POLLIN, 0}, {state_read_.get(), POLLIN, 0}};
    for (const auto& w : workers_)
      if (w.ready) fds.push_back({w.ready.get(), POLLIN, 0});
    cli_.add_fds(fds);
    if (poll(fds.data(), fds.size(), poll_timeout()) < 0 && errno != EINTR) {
      fmt::print(stderr, "sluice: poll: {}\n", std::strerror(errno));
      return 1;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (read(signals_.get(), &info, sizeof info) == sizeof info)
        on_signal(static_cast<int>(info.ssi_signo));
    }
    if (fds[1].revents & POLLIN) read_states();
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = std::find_if(workers_.begin(), workers_.end(),
                             [&](const WorkerProcess& w) { return w.ready.get() == fds[i].fd; });
      if (it != workers_.end()) on_ready(*it);
    }
    cli_.on_poll(fds);
    if (std::exchange(cli_reload_, false) && !stopping_) reload();
    if (respawn_at_ms_ >= 0 && !stopping_ && io::monotonic_ms() >= respawn_at_ms_) {
      respawn_at_ms_ = -1;
      if (!starting_) start_worker();  // else a reload's worker is on its way already
    }
    if (first_failed_) break;
  }
  cli_.close();
  // Reap what is left (a failed start leaves nothing else running).
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  // 0: stopped by a signal; 1: the first worker could not start.
  const int status = first_failed_ ? 1 : 0;
  notice("WARNING", fmt::format("All workers exited. Exiting... ({})", status));
  return status;
}

int Master::poll_timeout() const {
  if (respawn_at_ms_ < 0) return -1;
  return static_cast<int>(std::max<std::int64_t>(0, respawn_at_ms_ - io::monotonic_ms()));
}

bool Master::start_worker() {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    notice("ALERT", fmt::format("cannot create a pipe for a new worker: {}", std::strerror(errno)));
    return false;
  }
  io::Fd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t master_pid = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    notice("ALERT", fmt::format("cannot fork a new worker: {}", std::strerror(errno)));
    return false;
  }
  if (pid == 0) {
    // The worker dies with the master.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master_pid) _exit(1);
    read_end.reset();
    serve_in_child(std::move(write_end));
  }
  WorkerProcess& w = workers_.emplace_back();
  w.pid = pid;
  w.generation = ++generation_;
  w.ready = std::move(read_end);
  w.started_ms = io::monotonic_ms();
  w.reloads_at_start = reloads_;
  w.sockets = config_sockets_;
  starting_ = true;
  notice("NOTICE", fmt::format("New worker ({}) forked", pid));
  return true;
}

void Master::serve_in_child(io::Fd ready) {
  signals_.reset();
  state_read_.reset();
  cli_.close_inherited();
  for (auto& w : workers_)
    w.ready.reset();
  // Only the sockets of this configuration: a bind the reload removed must not stay open
  // (and queue connections) in a worker that never accepts on it.
  listeners_.retain(config_sockets_);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGCHLD);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  // SIGUSR2 and SIGHUP stay blocked: a reload signal sent to the process group is the
  // master's to act on.
  int status = 1;
  {
    worker::Worker w(config_);
    if (options_.debug) w.print_events();
    worker::Inheritance inherited;
    inherited.listeners = &listeners_;
    inherited.ticket_keys = &ticket_keys_;
    inherited.down_servers = &down_servers_;
    inherited.state_fd = state_write_.get();
    std::string error;
    const bool opened = w.open(error, &inherited);
    listeners_.retain({});  // the worker holds its own descriptors of them
    if (!opened) {
      fmt::print(stderr, "sluice: {}\n", error);
      // The master says why in its own words (and to a CLI `reload`).
      [[maybe_unused]] const auto n = write(ready.get(), error.data(), error.size());
    } else {
      const char byte = 1;
      if (write(ready.get(), &byte, 1) != 1) _exit(1);
      ready.reset();
      status =
          serve::run_until_signalled(w, serve::worker_signals(), config_->global.hard_stop_after);
    }
  }
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(status);
}

void Master::on_ready(WorkerProcess& w) {
  char buffer[4096];
  const ssize_t n = read(w.ready.get(), buffer, sizeof buffer);
  if (n > 0 && buffer[0] != 1) {
    w.error.append(buffer, static_cast<std::size_t>(n));  // why it will not serve
    return;
  }
  w.ready.reset();
  if (n != 1) return;  // it exited before serving: its exit is reported when reaped
  w.serving = true;
  starting_ = false;
  const int generation = w.generation;
  for (auto& old : workers_) {
    if (old.generation >= generation || old.leaving) continue;
    old.leaving = true;
    kill(old.pid, SIGUSR1);
  }
  if (generation == 1) {
    notice("NOTICE", "Loading success.");
    notify::send(fmt::format("READY=1\nMAINPID={}\nSTATUS=Ready.", getpid()));
  } else {
    reload_finished(true, notice("NOTICE", "Loading success."));
  }
}

void Master::reload_finished(bool success, const std::string& messages) {
  if (!success) ++failed_reloads_;
  notify::send(success ? "READY=1\nSTATUS=Reload succeeded."
                       : "READY=1\nSTATUS=Reload failed: the current workers keep serving.");
  const std::string answer = fmt::format("Success={}\n--\n{}", success ? 1 : 0, messages);
  for (auto id : std::exchange(reload_waiters_, {}))
    cli_.answer(id, answer);
  if (reload_pending_) {
    reload_pending_ = false;
    reload();
  }
}

void Master::on_signal(int signal) {
  switch (signal) {
    case SIGCHLD:
      reap();
      return;
    case SIGUSR2:
    case SIGHUP:
      if (!stopping_) reload();
      return;
    case SIGUSR1:
    case SIGTERM:
    case SIGINT:
      stopping_ = true;
      respawn_at_ms_ = -1;
      notify::send("STOPPING=1");
      for (auto& w : workers_) {
        if (signal == SIGUSR1 && w.leaving) continue;
        w.leaving = true;
        kill(w.pid, signal == SIGUSR1 ? SIGUSR1 : SIGTERM);
      }
      return;
    default:
      return;
  }
}

void Master::reload() {
  if (starting_) {
    // The worker of the previous reload is not serving yet: this one runs after it.
    reload_pending_ = true;
    return;
  }
  ++reloads_;
  reload_waiters_.insert(reload_waiters_.end(), next_reload_waiters_.begin(),
                         next_reload_waiters_.end());
  next_reload_waiters_.clear();
  notify::send(
      fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=Reloading.", io::monotonic_ms() * 1000));
  std::string messages = notice("NOTICE", "Reloading sluice");
  const auto failed = [&](const std::string& why) {
    messages +=
        notice("ALERT", fmt::format("Reload failed: {}; the current workers keep serving.", why));
    reload_finished(false, messages);
  };
  auto result = serve::load(options_.load);
  const std::string diagnostics = serve::render(result, options_.load);
  std::fputs(diagnostics.c_str(), stderr);
  messages += diagnostics;
  if (serve::refused(result, options_.load)) return failed("the configuration is invalid");
  if (!result.has_listener) return failed("the configuration has no listener");
  if (const std::string text = serve::unserved(*result.config); !text.empty()) {
    std::fputs(text.c_str(), stderr);
    messages += text;
    return failed("the configuration uses what this build cannot serve yet");
  }
  std::set<std::string> sockets;
  if (!prepare(*result.config, sockets, messages)) {
    close_unused_sockets();
    return failed("a listening socket cannot be opened");
  }
  config_ = result.config;
  config_sockets_ = std::move(sockets);
  if (!start_worker()) failed("no new worker");
}

void Master::reap() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = std::find_if(workers_.begin(), workers_.end(),
                           [&](const WorkerProcess& w) { return w.pid == pid; });
    if (it == workers_.end()) continue;
    WorkerProcess w = std::move(*it);
    workers_.erase(it);
    on_exit(std::move(w), status);
  }
}

void Master::on_exit(WorkerProcess w, int status) {
  const std::string reason = exit_reason(status);
  if (w.leaving) {
    notice("NOTICE", fmt::format("{} ({}) exited with {}.", stopping_ ? "Worker" : "Former worker",
                                 w.pid, reason));
    close_unused_sockets();
    return;
  }
  if (!w.serving) {
    // A new worker that could not start.
    starting_ = false;
    if (w.ready) {  // what it said before exiting
      char buffer[4096];
      ssize_t n;
      while ((n = read(w.ready.get(), buffer, sizeof buffer)) > 0)
        w.error.append(buffer, static_cast<std::size_t>(n));
    }
    std::string messages =
        notice("ALERT", fmt::format("New worker ({}) failed to start ({}){}{}", w.pid, reason,
                                    w.error.empty() ? "" : ": ", w.error));
    if (w.generation == 1) {
      first_failed_ = true;
      return;
    }
    messages += notice("ALERT", "Reload failed; the current workers keep serving.");
    close_unused_sockets();
    reload_finished(false, messages);
    return;
  }
  if (stopping_) return;
  // The serving worker died unasked: replace it, backing off if it keeps dying.
  if (io::monotonic_ms() - w.started_ms >= kSteadyMs) backoff_ms_ = kFirstBackoffMs;
  notice("ALERT", fmt::format("Current worker ({}) exited with {}; a new one starts in {}ms.",
                              w.pid, reason, backoff_ms_));
  respawn_at_ms_ = io::monotonic_ms() + backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
}

bool Master::prepare(const config::Config& config, std::set<std::string>& keys,
                     std::string& messages) {
  std::vector<worker::BindAddress> binds;
  std::string error;
  if (!worker::bind_addresses(config, binds, error) || !listeners_.open(config, binds, error)) {
    const std::string line = fmt::format("sluice: {}\n", error);
    std::fputs(line.c_str(), stderr);
    messages += line;
    return false;
  }
  for (const auto& b : binds) {
    keys.insert(b.key());
    if (b.bind->tls && b.bind->tls->ticket_keys_file.empty() && !ticket_keys_.contains(b.key()))
      ticket_keys_.emplace(b.key(), tls::random_ticket_keys());
  }
  return true;
}

void Master::read_states() {
  char buffer[4096];
  ssize_t n;
  while ((n = read(state_read_.get(), buffer, sizeof buffer)) > 0) {
    state_partial_.append(buffer, static_cast<std::size_t>(n));
    std::size_t end;
    while ((end = state_partial_.find('\n')) != std::string::npos) {
      const std::string line = state_partial_.substr(0, end);
      state_partial_.erase(0, end + 1);
      if (line.starts_with("down "))
        down_servers_.insert(line.substr(5));
      else if (line.starts_with("up "))
        down_servers_.erase(line.substr(3));
    }
  }
}

void Master::close_unused_sockets() {
  // Sockets stay while any worker (leaving or not) or the configuration uses them.
  std::set<std::string> keep = config_sockets_;
  for (const auto& w : workers_)
    keep.insert(w.sockets.begin(), w.sockets.end());
  listeners_.retain(keep);
}

std::optional<std::string> Master::command(std::string_view command, MasterCli::ClientId client) {
  if (command == "show proc") return show_proc();
  if (command == "reload") {
    // Run once the CLI is done reading: the answer comes when the reload ends.
    next_reload_waiters_.push_back(client);
    cli_reload_ = true;
    return std::nullopt;
  }
  if (command == "help")
    return "The following commands are valid at this level:\n"
           "  help           : this message\n"
           "  reload         : reload the configuration; answers Success=1 or the errors\n"
           "  show proc      : show the master and its workers\n";
  return fmt::format("Unknown command: '{}'. Type 'help' for the valid commands.\n", command);
}

std::string Master::show_proc() const {
  const std::int64_t now = io::monotonic_ms();
  std::string out = fmt::format("{:<15} {:<15} {:<15} {:<15} {:<15}\n", "#<PID>", "<type>",
                                "<reloads>", "<uptime>", "<version>");
  out += fmt::format("{:<15} {:<15} {:<15} {:<15} {:<15}\n", getpid(), "master",
                     fmt::format("{} [failed: {}]", reloads_, failed_reloads_),
                     uptime(now - started_ms_), config::kVersionString);
  const auto rows = [&](bool leaving) {
    std::string text;
    for (const auto& w : workers_)
      if (w.leaving == leaving)
        text += fmt::format("{:<15} {:<15} {:<15} {:<15} {:<15}\n", w.pid, "worker",
                            reloads_ - w.reloads_at_start, uptime(now - w.started_ms),
                            config::kVersionString);
    return text;
  };
  out += "# workers\n" + rows(false);
  if (const std::string old = rows(true); !old.empty()) out += "# old workers\n" + old;
  return out + "\n";
}

}  // namespace

int run(const Options& options, std::shared_ptr<const config::Config> config) {
  Master master(options, std::move(config));
  return master.run();
}

}  // namespace sluice::master

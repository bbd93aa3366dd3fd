// The runtime API's command processor (HAProxy's CLI protocol on a `stats socket`), sans-io:
// bytes of command lines in, answers out. Knows nothing of sockets; the session around it
// (session.hpp) moves the bytes. A command is one row of a table: adding a command to the
// runtime API is adding a row (and its handler).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "runtime/config/version.hpp"

namespace sluice::api {

// What `show info` reports, read from the process when asked.
struct ProcessInfo {
  int nbthread = 1;
  int pid = 0;
  std::int64_t uptime_s = 0;
  std::int64_t start_time_s = 0;  // Unix time the process started serving
  std::int64_t ulimit_n = 0;
  std::int64_t maxsock = 0;
  std::int64_t maxconn = 0;  // global maxconn; 0: none set
  std::int64_t current_connections = 0;
  std::uint64_t cumulated_connections = 0;
  std::uint64_t cumulated_requests = 0;
  std::int64_t current_tls_connections = 0;
  std::uint64_t cumulated_tls_connections = 0;
  std::int64_t listeners = 0;
  std::int64_t jobs = 0;
  bool stopping = false;
  std::string node;  // host name
};

class InfoSource {
 public:
  virtual ProcessInfo process_info() const = 0;

 protected:
  ~InfoSource() = default;
};

enum class Level { user, operator_, admin };

class CommandSession;
using CommandHandler = void (*)(CommandSession& session, std::span<const std::string_view> args,
                                std::string& out);

// A row of the command table: the words that name the command, its usage and help text as
// `help` lists them, the lowest level allowed, and what it does.
struct CommandRow {
  std::string_view words;  // "show info"
  std::string_view usage;  // "show info" (help's left column)
  std::string_view help;
  Level level;
  CommandHandler handler;
};

std::span<const CommandRow> command_table();

// One CLI connection's state: non-interactive (one line, then close) until `prompt`.
class CommandSession {
 public:
  CommandSession(const InfoSource& info, Level level) : info_(info), level_(level) {}

  // Runs every complete line of `input` (commands separated by ';'), appending the answers
  // and, in interactive mode, the prompts to `out`. Returns the bytes consumed; what is
  // left is an incomplete line. `end_of_input`: the client sent all it will, the rest is the
  // last line.
  std::size_t feed(std::string_view input, std::string& out, bool end_of_input = false);
  // The connection should close once `out` is sent.
  bool done() const { return done_; }
  bool interactive() const { return interactive_; }
  const InfoSource& info() const { return info_; }
  Level level() const { return level_; }

  // Handlers' effects.
  void set_interactive(bool on) { interactive_ = on; }
  void quit() { done_ = true; }

 private:
  void run_line(std::string_view line, std::string& out);
  void run_command(std::string_view command, std::string& out);
  void prompt(std::string& out) const;

  const InfoSource& info_;
  Level level_;
  bool interactive_ = false;
  bool done_ = false;
};

// HAProxy's answer to a line that names no command: the commands that share its first
// word, else all of them, in help's layout.
std::string unknown_command(std::string_view first_word, Level level);
// `help`'s answer.
std::string help_text(Level level);
// `show info`'s lines, in HAProxy's order.
std::string show_info(const ProcessInfo& info);

}  // namespace sluice::api

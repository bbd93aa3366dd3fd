#include "runtime/api/commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

namespace sluice::api {

namespace {

constexpr std::size_t kMaxWords = 64;  // HAProxy's MAX_CLI_ARGS

void show_info_command(CommandSession& s, std::span<const std::string_view>, std::string& out) {
  out += show_info(s.info().process_info());
}

void show_version_command(CommandSession&, std::span<const std::string_view>, std::string& out) {
  out += config::kVersionString;
  out += '\n';
}

void help_command(CommandSession& s, std::span<const std::string_view>, std::string& out) {
  out += help_text(s.level());
}

void prompt_command(CommandSession& s, std::span<const std::string_view>, std::string&) {
  s.set_interactive(!s.interactive());
}

void quit_command(CommandSession& s, std::span<const std::string_view>, std::string&) {
  s.quit();
}

// Sorted as `help` lists them; help, prompt and quit close the list, as in HAProxy.
constexpr CommandRow rows[] = {
    {"show info", "show info", "report information about the running process", Level::user,
     show_info_command},
    {"show version", "show version", "show version of the current process", Level::user,
     show_version_command},
    {"help", "help [<command>]", "list matching or all commands", Level::user, help_command},
    {"prompt", "prompt", "toggle interactive mode with prompt", Level::user, prompt_command},
    {"quit", "quit", "disconnect", Level::user, quit_command},
};
constexpr std::size_t kAlwaysListed = 3;  // the last rows: help, prompt, quit

void row_line(const CommandRow& row, std::string& out) {
  out += fmt::format("  {:<40}: {}\n", row.usage, row.help);
}

// Whether `line`'s words start with the row's words.
bool matches(const CommandRow& row, std::span<const std::string_view> words, std::size_t& used) {
  std::string_view path = row.words;
  std::size_t n = 0;
  while (!path.empty()) {
    const auto space = path.find(' ');
    if (n >= words.size() || words[n] != path.substr(0, space)) return false;
    ++n;
    path = space == std::string_view::npos ? std::string_view() : path.substr(space + 1);
  }
  used = n;
  return true;
}

std::string_view first_word_of(std::string_view words) {
  return words.substr(0, words.find(' '));
}

}  // namespace

std::span<const CommandRow> command_table() {
  return rows;
}

std::string help_text(Level level) {
  std::string out = "The following commands are valid at this level:\n";
  for (const auto& row : rows)
    if (row.level <= level) row_line(row, out);
  return out;
}

std::string unknown_command(std::string_view first_word, Level level) {
  const std::span<const CommandRow> table(rows);
  const auto specific = table.first(table.size() - kAlwaysListed);
  std::string listed;
  for (const auto& row : specific)
    if (row.level <= level && !first_word.empty() && first_word_of(row.words) == first_word)
      row_line(row, listed);
  std::string out =
      listed.empty() ? "Unknown command. Please enter one of the following commands only:\n"
                     : "Unknown command, but maybe one of the following ones is a better match:\n";
  if (listed.empty())
    for (const auto& row : specific)
      if (row.level <= level) row_line(row, out);
  out += listed;
  for (const auto& row : table.last(kAlwaysListed))
    row_line(row, out);
  return out + "\n";
}

std::string show_info(const ProcessInfo& i) {
  const std::int64_t up = i.uptime_s;
  const auto uptime =
      fmt::format("{}d {}h{:02}m{:02}s", up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
  std::string out;
  const auto line = [&](std::string_view name, const auto& value) {
    out += fmt::format("{}: {}\n", name, value);
  };
  line("Name", "HAProxy");
  line("Version", config::kVersionString);
  line("Release_date", config::kReleaseDate);
  line("Nbthread", i.nbthread);
  line("Nbproc", 1);
  line("Process_num", 1);
  line("Pid", i.pid);
  line("Uptime", uptime);
  line("Uptime_sec", up);
  line("Memmax_MB", 0);
  line("PoolAlloc_MB", 0);
  line("PoolUsed_MB", 0);
  line("PoolFailed", 0);
  line("Ulimit-n", i.ulimit_n);
  line("Maxsock", i.maxsock);
  line("Maxconn", i.maxconn);
  line("Hard_maxconn", i.maxconn);
  line("CurrConns", i.current_connections);
  line("CumConns", i.cumulated_connections);
  line("CumReq", i.cumulated_requests);
  line("MaxSslConns", 0);
  line("CurrSslConns", i.current_tls_connections);
  line("CumSslConns", i.cumulated_tls_connections);
  for (std::string_view zero : {"Maxpipes",
                                "PipesUsed",
                                "PipesFree",
                                "ConnRate",
                                "ConnRateLimit",
                                "MaxConnRate",
                                "SessRate",
                                "SessRateLimit",
                                "MaxSessRate",
                                "SslRate",
                                "SslRateLimit",
                                "MaxSslRate",
                                "SslFrontendKeyRate",
                                "SslFrontendMaxKeyRate",
                                "SslFrontendSessionReuse_pct",
                                "SslBackendKeyRate",
                                "SslBackendMaxKeyRate",
                                "SslCacheLookups",
                                "SslCacheMisses",
                                "CompressBpsIn",
                                "CompressBpsOut",
                                "CompressBpsRateLim",
                                "Tasks",
                                "Run_queue"})
    line(zero, 0);
  line("Idle_pct", 100);
  line("node", i.node);
  line("Stopping", i.stopping ? 1 : 0);
  line("Jobs", i.jobs);
  line("Unstoppable Jobs", 0);
  line("Listeners", i.listeners);
  for (std::string_view zero : {"ActivePeers", "ConnectedPeers", "DroppedLogs", "BusyPolling",
                                "FailedResolutions", "TotalBytesOut", "TotalSplicdedBytesOut",
                                "BytesOutRate", "DebugCommandsIssued", "CumRecvLogs"})
    line(zero, 0);
  line("Build info", config::kVersionString);
  line("Memmax_bytes", 0);
  line("PoolAlloc_bytes", 0);
  line("PoolUsed_bytes", 0);
  line("Start_time_sec", i.start_time_s);
  line("Tainted", 0);
  return out;
}

std::size_t CommandSession::feed(std::string_view input, std::string& out, bool end_of_input) {
  std::size_t consumed = 0;
  bool ended_line = false;  // a line ran while the session was not interactive
  while (!done_) {
    const auto newline = input.find('\n', consumed);
    if (newline == std::string_view::npos) {
      if (end_of_input && consumed < input.size()) {
        run_line(input.substr(consumed), out);
        consumed = input.size();
      }
      break;
    }
    const bool was_interactive = interactive_;
    run_line(input.substr(consumed, newline - consumed), out);
    consumed = newline + 1;
    // `prompt` turning interactive mode off leaves the next line to be run, as in HAProxy.
    ended_line = ended_line || (!was_interactive && !interactive_);
  }
  // Non-interactive: the lines that came together are run, then the connection closes (as
  // HAProxy does with several lines in one read).
  if (ended_line && !interactive_) done_ = true;
  if (end_of_input) done_ = true;
  return consumed;
}

void CommandSession::run_line(std::string_view line, std::string& out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  while (true) {
    const auto semicolon = line.find(';');
    run_command(line.substr(0, semicolon), out);
    if (done_ || semicolon == std::string_view::npos) break;
    line.remove_prefix(semicolon + 1);
  }
}

void CommandSession::run_command(std::string_view command, std::string& out) {
  std::array<std::string_view, kMaxWords> storage;
  std::size_t count = 0;
  std::size_t at = 0;
  while (count < storage.size()) {
    at = command.find_first_not_of(" \t", at);
    if (at == std::string_view::npos) break;
    const auto end = std::min(command.find_first_of(" \t", at), command.size());
    storage[count++] = command.substr(at, end - at);
    at = end;
  }
  const std::span<const std::string_view> words(storage.data(), count);
  for (const auto& row : rows) {
    std::size_t used = 0;
    if (row.level > level_ || !matches(row, words, used)) continue;
    row.handler(*this, words.subspan(used), out);
    // Every answer ends with an empty line (prompt's is only that), except quit's.
    if (!done_) out += '\n';
    prompt(out);
    return;
  }
  out += unknown_command(words.empty() ? std::string_view() : words[0], level_);
  prompt(out);
}

void CommandSession::prompt(std::string& out) const {
  // HAProxy prompts after each command, those of one line too.
  if (interactive_ && !done_) out += "> ";
}

}  // namespace sluice::api

// The command line, as HAProxy's: -f, -c, -W, -D, -p, -q, -db, -sf/-st, -v/-vv, -h.
// Pure parsing into CommandLine; no side effect.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sluice::cli {

struct CommandLine {
  std::vector<std::string> config_paths;  // -f, in order
  bool check_only = false;                // -c
  int version_level = 0;                  // -v = 1, -vv = 2
  bool help = false;                      // -h
  bool master_worker = false;             // -W
  bool daemon = false;                    // -D
  bool quiet = false;                     // -q
  bool no_background = false;             // -db
  std::string pidfile;                    // -p
  std::string master_cli;                 // -S: the master CLI socket's path
  std::vector<int> soft_stop_pids;        // -sf
  std::vector<int> hard_stop_pids;        // -st
};

struct ParseError {
  std::string message;
};

// argv[0] excluded. Returns the parsed line, or what was wrong.
std::optional<CommandLine> parse(const std::vector<std::string>& args, ParseError& error);

std::string usage(const std::string& program);

}  // namespace sluice::cli

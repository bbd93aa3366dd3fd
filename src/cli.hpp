// The command line, as HAProxy's (management.txt section 3): -f, -c, -cc, -W/-Ws, -S, -D,
// -p, -q, -V, -C, -L, the -d family, -sf/-st, -v/-vv, -h. Pure parsing into CommandLine.
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
  std::optional<std::string> condition;   // -cc: evaluate it and exit
  bool debug = false;                     // -d: foreground, events on stdout
  bool zero_warning = false;              // -dW: a warning refuses the configuration
  bool diagnostic_mode = false;           // -dD: `.diag` lines and extra warnings
  std::optional<int> poison_byte;         // -dM[BYTE]: fill allocations with BYTE
  std::vector<std::string> notes;         // what sluice does differently with a flag
  std::string local_peer;                 // -L: $HAPROXY_LOCALPEER
  std::string directory;                  // -C: chdir before reading the files
};

struct ParseError {
  std::string message;
};

// argv[0] excluded. Returns the parsed line, or what was wrong.
std::optional<CommandLine> parse(const std::vector<std::string>& args, ParseError& error);

std::string usage(const std::string& program);

}  // namespace sluice::cli

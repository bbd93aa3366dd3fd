#include "src/cli.hpp"

#include <fmt/format.h>

#include <charconv>

namespace sluice::cli {

namespace {

std::optional<int> pid_of(const std::string& word) {
  int pid = 0;
  auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), pid);
  if (ec != std::errc() || end != word.data() + word.size() || pid <= 0) return std::nullopt;
  return pid;
}

}  // namespace

std::optional<CommandLine> parse(const std::vector<std::string>& args, ParseError& error) {
  CommandLine out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* flag) -> std::optional<std::string> {
      if (i + 1 >= args.size()) {
        error.message = fmt::format("'{}' expects an argument", flag);
        return std::nullopt;
      }
      return args[++i];
    };
    if (a == "-f") {
      auto v = value("-f");
      if (!v) return std::nullopt;
      out.config_paths.push_back(*v);
    } else if (a == "-c") {
      out.check_only = true;
    } else if (a == "-v") {
      out.version_level = std::max(out.version_level, 1);
    } else if (a == "-vv") {
      out.version_level = 2;
    } else if (a == "-h" || a == "--help") {
      out.help = true;
    } else if (a == "-W" || a == "-Ws") {
      // -Ws: HAProxy's master-worker with systemd notifications; sluice notifies whenever
      // $NOTIFY_SOCKET is set.
      out.master_worker = true;
    } else if (a == "-D") {
      out.daemon = true;
    } else if (a == "-q") {
      out.quiet = true;
    } else if (a == "-db") {
      out.no_background = true;
    } else if (a == "-S") {
      auto v = value("-S");
      if (!v) return std::nullopt;
      // HAProxy: `-S PATH[,bind options]`; sluice takes the path alone.
      if (v->find(',') != std::string::npos) {
        error.message = fmt::format(
            "'-S {}': bind options after the path are not supported by "
            "sluice",
            *v);
        return std::nullopt;
      }
      out.master_cli = *v;
    } else if (a == "-p") {
      auto v = value("-p");
      if (!v) return std::nullopt;
      out.pidfile = *v;
    } else if (a == "-sf" || a == "-st") {
      auto& pids = a == "-sf" ? out.soft_stop_pids : out.hard_stop_pids;
      while (i + 1 < args.size() && !args[i + 1].starts_with('-')) {
        auto pid = pid_of(args[i + 1]);
        if (!pid) {
          error.message = fmt::format("'{}' expects process ids, got '{}'", a, args[i + 1]);
          return std::nullopt;
        }
        pids.push_back(*pid);
        ++i;
      }
    } else if (a == "--") {
      // HAProxy: every remaining argument is a configuration file.
      for (++i; i < args.size(); ++i)
        out.config_paths.push_back(args[i]);
    } else {
      error.message = fmt::format("unknown option '{}'", a);
      return std::nullopt;
    }
  }
  return out;
}

std::string usage(const std::string& program) {
  return fmt::format(
      "Usage : {} [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -p <pidfile> ] [ -sf/-st <pid>* ]\n"
      "        -v displays version ; -vv shows known build options.\n"
      "        -h shows this help\n"
      "        -f FILE|DIR  configuration file, or a directory of *.cfg (repeatable)\n"
      "        -c           check the configuration and exit (0 valid, 1 invalid, 2 no listener)\n"
      "        -W           master-worker mode (-Ws: the same, for systemd)\n"
      "        -S PATH      the master CLI socket (with -W)\n"
      "        -D           run as a daemon\n"
      "        -p FILE      write the pid to FILE\n"
      "        -q           quiet mode: print no warning or success message\n"
      "        -db          stay in the foreground\n"
      "        -sf/-st PID  finish (soft) or terminate (hard) these processes once started\n",
      program);
}

}  // namespace sluice::cli

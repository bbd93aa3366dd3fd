#include "src/cli.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace sluice::cli {

namespace {

std::optional<int> pid_of(const std::string& word) {
  int pid = 0;
  auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), pid);
  if (ec != std::errc() || end != word.data() + word.size() || pid <= 0) return std::nullopt;
  return pid;
}

// -dM[BYTE][,OPTION…]: HAProxy's memory poisoning, BYTE in decimal or 0x hex (0x50 when
// absent). The options tune HAProxy's own memory pools, which sluice does not have.
bool poison(const std::string& flag, CommandLine& out, ParseError& error) {
  std::string_view options = std::string_view(flag).substr(3);
  int byte = 0x50;
  if (!options.empty() && std::isdigit(static_cast<unsigned char>(options[0]))) {
    const std::string_view text = options.substr(0, options.find(','));
    const bool hex = text.starts_with("0x") || text.starts_with("0X");
    const std::string_view digits = hex ? text.substr(2) : text;
    auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), byte, hex ? 16 : 10);
    if (ec != std::errc() || end != digits.data() + digits.size() || byte > 255) {
      error.message = fmt::format("'{}': the poisoning byte must be 0 to 255", flag);
      return false;
    }
    options.remove_prefix(std::min(options.size(), text.size() + 1));
  }
  out.poison_byte = byte;
  if (!options.empty())
    out.notes.push_back(fmt::format(
        "'-dM' options '{}' tune HAProxy's memory pools; sluice only poisons", options));
  return true;
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
    } else if (a == "-cc") {
      auto v = value("-cc");
      if (!v) return std::nullopt;
      out.condition = *v;
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
    } else if (a == "-V") {
      out.quiet = false;
    } else if (a == "-d") {
      out.debug = true;
      out.no_background = true;
    } else if (a == "-db") {
      out.no_background = true;
    } else if (a == "-dW") {
      out.zero_warning = true;
    } else if (a == "-dD") {
      out.diagnostic_mode = true;
    } else if (a == "-dI" || a == "-dS" || a == "-de" || a == "-dp" || a == "-dk" || a == "-dG") {
      // Insecure fork, no splice, no epoll/poll/kqueue, no getaddrinfo: sluice forks no
      // helper, and its splice and epoll paths are its only ones.
      out.notes.push_back(fmt::format("'{}' has no effect on sluice", a));
    } else if (a.starts_with("-dM")) {
      if (!poison(a, out, error)) return std::nullopt;
    } else if (a == "-L") {
      auto v = value("-L");
      if (!v) return std::nullopt;
      out.local_peer = *v;
    } else if (a == "-C") {
      auto v = value("-C");
      if (!v) return std::nullopt;
      out.directory = *v;
    } else if (a == "-dr" || a == "-dV" || a == "-dK" || a.starts_with("-dK") || a == "-dL" ||
               a == "-x" || a == "-N" || a == "-n" || a == "-m") {
      error.message = fmt::format("'{}' is a valid HAProxy option but not supported by sluice", a);
      return std::nullopt;
    } else if (a.starts_with("-d") && a.size() > 2) {
      out.notes.push_back(fmt::format("'{}' is no debug option; ignored, as HAProxy does", a));
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
      "        -cc EXPR     evaluate a '.if' condition: exit 0 true, 1 false, 2 malformed\n"
      "        -C DIR       change to DIR before loading files\n"
      "        -L NAME      the local peer name ($HAPROXY_LOCALPEER)\n"
      "        -d           debug: foreground, events on stdout\n"
      "        -dW          refuse the configuration on any warning (zero-warning)\n"
      "        -dD          diagnostic mode: '.diag' messages\n"
      "        -dM[BYTE]    fill allocated memory with BYTE (0x50), freed memory with its inverse\n"
      "        -V           verbose: undo -q\n"
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

// The runtime API's command processor: HAProxy's CLI protocol bytes, without a socket.
#include <doctest/doctest.h>

#include <string>

#include "runtime/api/commands.hpp"

using namespace sluice::api;

namespace {

struct FixedInfo final : InfoSource {
  ProcessInfo info;
  ProcessInfo process_info() const override { return info; }
};

std::string run(CommandSession& session, std::string_view input, bool end = false) {
  std::string out;
  const auto used = session.feed(input, out, end);
  CHECK(used <= input.size());
  return out;
}

}  // namespace

TEST_CASE("api: one line, then the session is done (non-interactive)") {
  FixedInfo info;
  CommandSession s(info, Level::admin);
  CHECK(run(s, "show version\n") == std::string(sluice::config::kVersionString) + "\n\n");
  CHECK(s.done());
  // Lines that arrive together are run together (HAProxy does the same), later ones not.
  CommandSession t(info, Level::admin);
  const std::string v = std::string(sluice::config::kVersionString) + "\n\n";
  CHECK(run(t, "show version\nshow version\n") == v + v);
  CHECK(t.done());
  CommandSession u(info, Level::admin);
  std::string out;
  CHECK(u.feed("show version\nshow ver", out) == 13);
  CHECK(out == v);
  CHECK(u.done());
}

TEST_CASE("api: an incomplete line waits for its newline, or the end of input") {
  FixedInfo info;
  CommandSession s(info, Level::admin);
  std::string out;
  CHECK(s.feed("show ver", out) == 0);
  CHECK(out.empty());
  CHECK_FALSE(s.done());
  CHECK(s.feed("show version", out, true) == 12);
  CHECK(out == std::string(sluice::config::kVersionString) + "\n\n");
  CHECK(s.done());
}

TEST_CASE("api: commands separated by ';', blanks collapsed, quit stops the rest") {
  FixedInfo info;
  CommandSession s(info, Level::admin);
  const std::string v = std::string(sluice::config::kVersionString) + "\n\n";
  CHECK(run(s, "  show   version ;show version;quit;show version\r\n") == v + v);
  CHECK(s.done());
}

TEST_CASE("api: prompt toggles interactive mode with HAProxy's bytes") {
  FixedInfo info;
  CommandSession s(info, Level::admin);
  CHECK(run(s, "prompt\n") == "\n> ");
  CHECK(s.interactive());
  CHECK_FALSE(s.done());
  CHECK(run(s, "show version\n") == std::string(sluice::config::kVersionString) + "\n\n> ");
  // Off again: an empty line answers it, and the next line is the last one.
  CHECK(run(s, "prompt\n") == "\n");
  CHECK_FALSE(s.done());
  CHECK(run(s, "show version\n") == std::string(sluice::config::kVersionString) + "\n\n");
  CHECK(s.done());
  CommandSession q(info, Level::admin);
  CHECK(run(q, "prompt\nquit\n") == "\n> ");
  CHECK(q.done());
  // A prompt after each command, those of one line too.
  CommandSession r(info, Level::admin);
  const std::string v = std::string(sluice::config::kVersionString) + "\n\n";
  CHECK(run(r, "prompt\nshow version;show version\nquit;show version\n") ==
        "\n> " + v + "> " + v + "> ");
}

TEST_CASE("api: help lists the command table in HAProxy's layout") {
  FixedInfo info;
  CommandSession s(info, Level::admin);
  const std::string out = run(s, "help\n");
  CHECK(out.starts_with("The following commands are valid at this level:\n"));
  CHECK(out.find("  show info                               : report information about the "
                 "running process\n") != std::string::npos);
  CHECK(out.ends_with("  quit                                    : disconnect\n\n"));
}

TEST_CASE("api: an unknown command gets HAProxy's answer") {
  FixedInfo info;
  CommandSession s(info, Level::admin);
  std::string out = run(s, "show foo\n");
  CHECK(out.starts_with(
      "Unknown command, but maybe one of the following ones is a better match:\n  show info"));
  CHECK(
      out.ends_with("  prompt                                  : toggle interactive mode with "
                    "prompt\n  quit                                    : disconnect\n\n"));
  CommandSession t(info, Level::admin);
  out = run(t, "\n");
  CHECK(out.starts_with("Unknown command. Please enter one of the following commands only:\n"));
  CHECK(t.done());
}

TEST_CASE("api: show info prints HAProxy's fields in HAProxy's order") {
  FixedInfo info;
  info.info.pid = 4242;
  info.info.nbthread = 3;
  info.info.uptime_s = 90061;
  info.info.current_connections = 5;
  info.info.cumulated_connections = 17;
  CommandSession s(info, Level::user);
  const std::string out = run(s, "show info\n");
  CHECK(out.starts_with("Name: HAProxy\nVersion: " + std::string(sluice::config::kVersionString) +
                        "\nRelease_date: " + std::string(sluice::config::kReleaseDate) +
                        "\nNbthread: 3\nNbproc: 1\nProcess_num: 1\nPid: 4242\n"
                        "Uptime: 1d 1h01m01s\nUptime_sec: 90061\n"));
  CHECK(out.find("\nCurrConns: 5\nCumConns: 17\nCumReq: 0\n") != std::string::npos);
  CHECK(out.ends_with("Tainted: 0\n\n"));
  // Every field is a "Name: value" line.
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = out.find('\n', at)) != std::string::npos; ++at)
    ++lines;
  CHECK(lines == 70);  // HAProxy 2.6.12: 69 fields and the empty line
}

#include "src/cli.hpp"

#include <doctest/doctest.h>

using namespace sluice::cli;

TEST_CASE("command line: HAProxy's flags") {
  ParseError error;
  auto line = parse({"-c", "-f", "a.cfg", "-f", "conf.d", "-W", "-D", "-p", "/run/x.pid", "-q",
                     "-db", "-sf", "12", "34", "-vv"},
                    error);
  REQUIRE(line);
  CHECK(line->check_only);
  CHECK(line->config_paths == std::vector<std::string>{"a.cfg", "conf.d"});
  CHECK(line->master_worker);
  CHECK(line->daemon);
  CHECK(line->pidfile == "/run/x.pid");
  CHECK(line->quiet);
  CHECK(line->no_background);
  CHECK(line->soft_stop_pids == std::vector<int>{12, 34});
  CHECK(line->version_level == 2);
}

TEST_CASE("command line errors") {
  ParseError error;
  CHECK_FALSE(parse({"-f"}, error));
  CHECK(error.message == "'-f' expects an argument");
  CHECK_FALSE(parse({"-x"}, error));
  CHECK(error.message == "unknown option '-x'");
  CHECK_FALSE(parse({"-st", "abc"}, error));
  CHECK(error.message == "'-st' expects process ids, got 'abc'");
}

TEST_CASE("command line: -Ws and the master CLI socket") {
  ParseError error;
  auto line = parse({"-Ws", "-S", "/run/sluice-master.sock", "-f", "a.cfg"}, error);
  REQUIRE(line);
  CHECK(line->master_worker);
  CHECK(line->master_cli == "/run/sluice-master.sock");
  CHECK_FALSE(parse({"-S", "/run/m.sock,mode,600"}, error));
  CHECK(error.message ==
        "'-S /run/m.sock,mode,600': bind options after the path are not supported by sluice");
}

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
  CHECK_FALSE(parse({"-Z"}, error));
  CHECK(error.message == "unknown option '-Z'");
  CHECK_FALSE(parse({"-x", "/run/haproxy.sock"}, error));
  CHECK(error.message == "'-x' is a valid HAProxy option but not supported by sluice");
  CHECK_FALSE(parse({"-cc"}, error));
  CHECK(error.message == "'-cc' expects an argument");
  CHECK_FALSE(parse({"-dM256"}, error));
  CHECK(error.message == "'-dM256': the poisoning byte must be 0 to 255");
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

TEST_CASE("command line: -cc, the -d family, -L, -C, -V") {
  ParseError error;
  auto line = parse({"-cc", "feature(OPENSSL)"}, error);
  REQUIRE(line);
  CHECK(line->condition == "feature(OPENSSL)");

  line = parse(
      {"-d", "-dW", "-dD", "-dI", "-L", "peer1", "-C", "/etc/haproxy", "-q", "-V", "-f", "a.cfg"},
      error);
  REQUIRE(line);
  CHECK(line->debug);
  CHECK(line->no_background);  // -d stays in the foreground
  CHECK(line->zero_warning);
  CHECK(line->diagnostic_mode);
  CHECK(line->local_peer == "peer1");
  CHECK(line->directory == "/etc/haproxy");
  CHECK_FALSE(line->quiet);  // -V undoes -q
  CHECK(line->notes == std::vector<std::string>{"'-dI' has no effect on sluice"});

  line = parse({"-dM"}, error);
  REQUIRE(line);
  CHECK(line->poison_byte == 0x50);
  line = parse({"-dM0x41,no-merge,cold-first"}, error);
  REQUIRE(line);
  CHECK(line->poison_byte == 0x41);
  CHECK(line->notes ==
        std::vector<std::string>{"'-dM' options 'no-merge,cold-first' tune HAProxy's memory pools; "
                                 "sluice only poisons"});
  line = parse({"-dM0"}, error);
  REQUIRE(line);
  CHECK(line->poison_byte == 0);
}

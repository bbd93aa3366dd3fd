// runtime/balance selectors: backups, weight 0, disabled, maxconn, up/down, avoid, and the
// connection-driven algorithms (leastconn, first) against orders recorded from a running
// `haproxy` 2.6.12 in TCP mode, whose origins hold each connection until the client closes.
// Scripts: "o" opens a connection (the server that answered is recorded; "closed" when HAProxy
// queued it until `timeout queue`), "cN" closes the N-th opened connection ("-N").
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/balance/selector.hpp"

namespace {

using namespace sluice::balance;
using sluice::config::Balance;

struct Spec {
  int weight = 1;
  bool backup = false;
  bool disabled = false;
  int maxconn = 0;
};

sluice::config::Backend make_backend(Balance balance, const std::vector<Spec>& specs,
                                     bool allbackups = false) {
  sluice::config::Backend b;
  b.balance = balance;
  b.allbackups = allbackups;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    sluice::config::Server s;
    s.name = std::string(1, static_cast<char>('A' + i));
    s.weight = specs[i].weight;
    s.backup = specs[i].backup;
    s.disabled = specs[i].disabled;
    s.maxconn = specs[i].maxconn;
    b.servers.push_back(s);
  }
  return b;
}

std::vector<Spec> weighted(const std::vector<int>& weights, const std::vector<int>& maxconn = {}) {
  std::vector<Spec> specs;
  for (std::size_t i = 0; i < weights.size(); ++i)
    specs.push_back({.weight = weights[i], .maxconn = maxconn.empty() ? 0 : maxconn[i]});
  return specs;
}

std::string name(const Pick& p) {
  switch (p.outcome) {
    case Outcome::picked:
      return std::string(1, static_cast<char>('A' + p.server));
    case Outcome::all_full:
    case Outcome::server_full:
      return "closed";  // HAProxy queued it and closed at `timeout queue`
    case Outcome::no_server:
      return "503";
  }
  return "?";
}

// Picks `count` times, each connection ending before the next pick (HTTP requests in turn).
std::string in_turn(Selector& selector, ServerStates& states, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    const Pick p = selector.pick();
    if (!out.empty()) out += ' ';
    out += name(p);
    if (p.outcome == Outcome::picked) states.end_connection(p.server);
  }
  return out;
}

std::string run_script(Selector& selector, ServerStates& states, const std::string& script) {
  std::vector<std::uint32_t> held;
  std::string out;
  std::size_t at = 0;
  while (at < script.size()) {
    auto end = script.find(' ', at);
    if (end == std::string::npos) end = script.size();
    const std::string_view action(script.data() + at, end - at);
    at = end + 1;
    if (!out.empty()) out += ' ';
    if (action == "o") {
      const Pick p = selector.pick();
      held.push_back(p.outcome == Outcome::picked ? p.server : no_server);
      out += name(p);
    } else {
      const std::size_t n = std::stoul(std::string(action.substr(1)));
      if (held[n] != no_server) states.end_connection(held[n]);
      out += '-';
      out += action.substr(1);
    }
  }
  return out;
}

struct Script {
  std::vector<int> weights;
  std::vector<int> maxconn;
  std::string actions;
  std::string result;
};

}  // namespace

TEST_CASE("backup servers serve only when no primary is usable, as recorded") {
  struct Case {
    std::vector<Spec> specs;
    bool allbackups;
    std::string order;
  };
  const std::vector<Case> cases = {
      {{{}, {.backup = true}, {.weight = 2, .backup = true}}, false, "A A A A A A A A A"},
      {{{.disabled = true}, {.backup = true}, {.weight = 2, .backup = true}},
       false,
       "B B B B B B B B B"},  // the first backup only
      {{{.disabled = true}, {.backup = true}, {.weight = 2, .backup = true}},
       true,
       "C C B C C B C C B"},  // option allbackups: roundrobin over the backups
      {{{.weight = 0}, {.backup = true}}, false, "B B B B B B B B B"},  // weight 0 is unusable
      {{{.weight = 0}, {.weight = 0}}, false, "503 503 503 503 503 503 503 503 503"},
      {{{.disabled = true}, {.backup = true, .disabled = true}, {.backup = true}},
       false,
       "C C C C C C C C C"},
  };
  for (const Case& c : cases) {
    auto backend = make_backend(Balance::roundrobin, c.specs, c.allbackups);
    ServerStates states(backend);
    Selector selector(backend, states);
    CHECK(in_turn(selector, states, 9) == c.order);
  }
}

TEST_CASE("roundrobin and static-rr from the config: disabled and weight 0, as recorded") {
  struct Case {
    Balance algorithm;
    std::vector<Spec> specs;
    std::string order;
  };
  const std::vector<Case> cases = {
      {Balance::roundrobin,
       {{.weight = 5}, {.weight = 3, .disabled = true}, {.weight = 2}},
       "A A A C A A C A A A C A A C"},
      {Balance::static_rr,
       {{.weight = 5}, {.weight = 3, .disabled = true}, {.weight = 2}},
       "A A A C A A C A A A C A A C"},
      {Balance::roundrobin, {{.weight = 2}, {.weight = 0}, {.weight = 1}}, "A A C A A C"},
      {Balance::roundrobin,
       {{.weight = 5}, {.weight = 3}, {.weight = 2}},
       "A B A C A B A B A C A B A C"},
      {Balance::static_rr,
       {{.weight = 5}, {.weight = 3}, {.weight = 2}},
       "A A B A C A B A B C A A B A"},
  };
  for (const Case& c : cases) {
    auto backend = make_backend(c.algorithm, c.specs);
    ServerStates states(backend);
    Selector selector(backend, states);
    CHECK(in_turn(selector, states, static_cast<int>(c.order.size() + 1) / 2) == c.order);
  }
}

TEST_CASE("primaries coming back take over from the backup again") {
  auto backend = make_backend(Balance::roundrobin, {{}, {}, {.backup = true}, {.backup = true}});
  ServerStates states(backend);
  Selector selector(backend, states);
  CHECK(in_turn(selector, states, 2) == "A B");
  states.set_up(0, false);
  states.set_up(1, false);
  CHECK(in_turn(selector, states, 3) == "C C C");
  states.set_up(2, false);
  CHECK(in_turn(selector, states, 2) == "D D");
  states.set_up(3, false);
  CHECK(selector.pick().outcome == Outcome::no_server);
  states.set_up(1, true);
  CHECK(in_turn(selector, states, 2) == "B B");
}

TEST_CASE("roundrobin skips servers that go down and resumes them") {
  auto backend = make_backend(Balance::roundrobin, weighted({1, 1, 1}));
  ServerStates states(backend);
  Selector selector(backend, states);
  CHECK(in_turn(selector, states, 3) == "A B C");
  CHECK(states.set_up(1, false));
  CHECK_FALSE(states.set_up(1, false));
  CHECK(in_turn(selector, states, 4) == "A C A C");
  states.set_up(1, true);
  CHECK(in_turn(selector, states, 3) == "A B C");
  // A heavy server down: the light ones are found without spending its whole cycle.
  auto heavy = make_backend(Balance::roundrobin, weighted({200, 1, 1}));
  ServerStates heavy_states(heavy);
  Selector heavy_selector(heavy, heavy_states);
  heavy_states.set_up(0, false);
  for (int i = 0; i < 10; ++i) {
    const Pick p = heavy_selector.pick();
    REQUIRE(p.outcome == Outcome::picked);
    CHECK(p.server != 0);
    heavy_states.end_connection(p.server);
  }
}

TEST_CASE("server maxconn: a full server is skipped, all full is not none up") {
  // Recorded: roundrobin, three servers with maxconn 1.
  auto backend = make_backend(Balance::roundrobin, weighted({1, 1, 1}, {1, 1, 1}));
  ServerStates states(backend);
  Selector selector(backend, states);
  CHECK(run_script(selector, states, "o o c0 o o c1 o o") == "A B -0 C A -1 B closed");
  CHECK(selector.pick().outcome == Outcome::all_full);
  for (std::uint32_t s = 0; s < 3; ++s)
    CHECK(states.connections(s) == 1);
  for (std::uint32_t s = 0; s < 3; ++s)
    states.set_up(s, false);
  CHECK(selector.pick().outcome == Outcome::no_server);
  // Requests waiting in a server's queue come before newcomers.
  auto queued = make_backend(Balance::roundrobin, weighted({1}, {2}));
  ServerStates queued_states(queued);
  Selector queued_selector(queued, queued_states);
  queued_states.enter_queue(0);
  CHECK(queued_selector.pick().outcome == Outcome::all_full);
  queued_states.leave_queue(0);
  CHECK(queued_selector.pick().outcome == Outcome::picked);
}

TEST_CASE("leastconn follows HAProxy's recorded choices") {
  const std::vector<Script> scripts = {
      {{3, 10},
       {},
       "o o c0 o o o c2 o c5 c1 o o o o o o o o o o o o c15 o c3 o o c12 c17 c8 c9 c20 o o o o c16 "
       "o o c7",
       "A B -0 A B B -2 A -5 -1 A B B B B A B B B A B B -15 A -3 B B -12 -17 -8 -9 -20 B B B B "
       "-16 B B -7"},
      {{2, 2, 3},
       {},
       "o o c1 o c0 c2 o c3 o o o c6 c4 c5 o o o c9 o c7 c8 o o o o o o o o o o o o o c13 c11 o o "
       "o c16",
       "A B -1 C -0 -2 B -3 A C B -6 -4 -5 B A C -9 C -7 -8 B A C B A C C B A C B A C -13 -11 C B "
       "C -16"},
      {{10, 2, 1},
       {},
       "o o c0 o o c1 o o c5 c2 o o c6 o o o o c9 o c11 c12 c3 c8 o o o c13 o o c7 c4 c16 o c10 o "
       "c19 o o o o",
       "A B -0 C A -1 B A -5 -2 C A -6 C A A A -9 A -11 -12 -3 -8 C A A -13 C A -7 -4 -16 B -10 C "
       "-19 C A A A"},
      {{3, 1},
       {},
       "o o o c2 o o c0 o o o o o c7 o c4 c5 o o o o o c14 o o c17 o o c15 o o o c11 c3 o o o o o "
       "o o",
       "A B A -2 A A -0 A A A B A -7 A -4 -5 A A A A B -14 A A -17 A A -15 B A B -11 -3 A A A A A "
       "B A"},
      {{5, 5, 3},
       {},
       "o o c0 c1 o c2 o o o o o c6 c4 o o c8 c7 o o o o o o o o o c14 o o o o o c18 c23 o c16 c17 "
       "c13 o o",
       "A B -0 -1 C -2 A B C A B -6 -4 A B -8 -7 A B A B C A B C A -14 B C A B C -18 -23 A -16 "
       "-17 -13 C B"},
      {{10, 3},
       {},
       "o c0 o o o c1 o c3 o o o o c8 c6 c7 o o o c4 o o c5 c13 o o c12 o o o o o o c14 c16 o o "
       "c18 o c11 o",
       "A -0 B A A -1 B -3 A A A A -8 -6 -7 A A A -4 B A -5 -13 A A -12 B B A A A B -14 -16 A B "
       "-18 A -11 A"},
      // One request at a time: equal loads rotate.
      {{1, 1, 1}, {}, "o c0 o c1 o c2 o c3", "A -0 B -1 C -2 A -3"},
      {{3, 1}, {}, "o c0 o c1 o c2 o c3", "A -0 B -1 A -2 B -3"},
  };
  for (const Script& s : scripts) {
    CAPTURE(s.actions);
    auto backend = make_backend(Balance::leastconn, weighted(s.weights));
    ServerStates states(backend);
    Selector selector(backend, states);
    CHECK(run_script(selector, states, s.actions) == s.result);
  }
}

TEST_CASE("first fills servers in declaration order up to maxconn, as recorded") {
  const std::vector<Script> scripts = {
      {{1, 1, 1}, {2, 2, 1}, "o o o c0 o o o c2 o c1 o", "A A B -0 A B C -2 B -1 A"},
      {{0, 5, 1}, {1, 2, 0}, "o o o o", "B B C C"},  // weight 0 takes nothing
      {{1, 1}, {1, 1}, "o o o", "A B closed"},
  };
  for (const Script& s : scripts) {
    CAPTURE(s.actions);
    auto backend = make_backend(Balance::first, weighted(s.weights, s.maxconn));
    ServerStates states(backend);
    Selector selector(backend, states);
    CHECK(run_script(selector, states, s.actions) == s.result);
  }
}

TEST_CASE("avoid: a retry goes elsewhere while another server is usable") {
  for (Balance algorithm : {Balance::roundrobin, Balance::static_rr, Balance::leastconn,
                            Balance::first, Balance::random}) {
    CAPTURE(static_cast<int>(algorithm));
    auto backend = make_backend(algorithm, weighted({1, 1, 1}));
    ServerStates states(backend);
    Selector selector(backend, states);
    for (int i = 0; i < 30; ++i) {
      const Pick p = selector.pick({.avoid = 1});
      REQUIRE(p.outcome == Outcome::picked);
      CHECK(p.server != 1);
      states.end_connection(p.server);
    }
    states.set_up(0, false);
    states.set_up(2, false);
    const Pick only = selector.pick({.avoid = 1});  // the avoided one is all that is left
    CHECK(only.outcome == Outcome::picked);
    CHECK(only.server == 1);
  }
}

TEST_CASE("hashing: a full server keeps the key and reports it for its queue") {
  auto backend = make_backend(Balance::uri, weighted({1, 1}, {1, 1}));
  ServerStates states(backend);
  Selector selector(backend, states);
  const Pick first = selector.pick({.target = "/x"});
  REQUIRE(first.outcome == Outcome::picked);
  const Pick second = selector.pick({.target = "/x"});
  CHECK(second.outcome == Outcome::server_full);
  CHECK(second.server == first.server);
  states.end_connection(first.server);
  CHECK(selector.pick({.target = "/x"}).server == first.server);
}

TEST_CASE("every algorithm answers no_server when nothing is usable") {
  for (Balance algorithm :
       {Balance::roundrobin, Balance::static_rr, Balance::leastconn, Balance::first,
        Balance::source, Balance::uri, Balance::hdr, Balance::random}) {
    CAPTURE(static_cast<int>(algorithm));
    auto backend = make_backend(algorithm, {{.weight = 0}, {.disabled = true}, {}});
    ServerStates states(backend);
    Selector selector(backend, states);
    const Pick up = selector.pick({.target = "/"});
    CHECK(up.outcome == Outcome::picked);
    CHECK(up.server == 2);
    states.end_connection(2);
    states.set_up(2, false);
    CHECK(selector.pick({.target = "/"}).outcome == Outcome::no_server);
  }
}

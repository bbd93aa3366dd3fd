// runtime/balance properties that HAProxy documents but whose exact values sluice does not copy:
// consistent hashing (stickiness, only the down server's keys move, weight-proportional spread),
// map-based hashing with servers down, and `random` (power of two choices).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

#include "runtime/balance/ring.hpp"
#include "runtime/balance/selector.hpp"

namespace {

using namespace sluice::balance;
using sluice::config::Balance;

sluice::config::Backend make_backend(Balance balance, const std::vector<int>& weights) {
  sluice::config::Backend b;
  b.balance = balance;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    sluice::config::Server s;
    s.name = std::to_string(i);
    s.weight = weights[i];
    b.servers.push_back(s);
  }
  return b;
}

SelectorOptions consistent() {
  SelectorOptions options;
  options.hash = *parse_hash_type(std::vector<std::string>{"consistent"});
  return options;
}

std::vector<std::string> keys(int count) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i)
    out.push_back(std::string("/object/").append(std::to_string(i * 7919)));
  return out;
}

// The server of each key, each connection ended at once.
std::vector<std::uint32_t> assign(Selector& selector, ServerStates& states,
                                  const std::vector<std::string>& targets) {
  std::vector<std::uint32_t> out;
  for (const auto& t : targets) {
    const Pick p = selector.pick({.target = t});
    REQUIRE(p.outcome == Outcome::picked);
    out.push_back(p.server);
    states.end_connection(p.server);
  }
  return out;
}

}  // namespace

TEST_CASE("the ring gives each member weight x 32 points, the same every build") {
  const std::vector<std::uint32_t> weights = {1, 3, 0, 2};
  const std::vector<std::uint32_t> ids = {1, 2, 3, 4};
  const Ring ring(weights, ids);
  REQUIRE(ring.size() == 6 * Ring::points_per_weight);
  std::map<std::uint32_t, std::size_t> points;
  for (std::size_t p = 0; p < ring.size(); ++p)
    ++points[ring.owner(p)];
  CHECK(points[0] == 32);
  CHECK(points[1] == 96);
  CHECK(points.count(2) == 0);
  CHECK(points[3] == 64);
  const Ring again(weights, ids);
  for (std::uint32_t key : {0u, 1u, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    CHECK(ring.find(key) == again.find(key));
    CHECK(ring.find(key) < ring.size());
  }
}

TEST_CASE("consistent hashing: sticky, and a server going down moves only its keys") {
  auto backend = make_backend(Balance::uri, std::vector<int>(10, 1));
  ServerStates states(backend);
  Selector selector(backend, states, consistent());
  const auto targets = keys(20000);
  const auto before = assign(selector, states, targets);
  CHECK(assign(selector, states, targets) == before);

  std::map<std::uint32_t, int> share;
  for (auto s : before)
    ++share[s];
  REQUIRE(share.size() == 10);
  for (const auto& [server, count] : share) {
    CAPTURE(server);
    CHECK(count > 2000 * 0.6);  // 32 points each: shares within about +-25%
    CHECK(count < 2000 * 1.4);
  }

  states.set_up(3, false);
  const auto during = assign(selector, states, targets);
  int moved = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (before[i] == 3) {
      CHECK(during[i] != 3);
      ++moved;
    } else {
      CHECK(during[i] == before[i]);  // nobody else's keys move
    }
  }
  CHECK(moved == share[3]);
  CHECK(moved > 20000 / 10 * 0.6);  // about 1/N of the keys
  CHECK(moved < 20000 / 10 * 1.4);
  // The moved keys spread over the others rather than piling on one neighbour.
  std::map<std::uint32_t, int> heirs;
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (before[i] == 3) ++heirs[during[i]];
  CHECK(heirs.size() >= 5);

  states.set_up(3, true);
  CHECK(assign(selector, states, targets) == before);
}

TEST_CASE("consistent hashing follows weights and skips the avoided server") {
  auto backend = make_backend(Balance::uri, {1, 3});
  ServerStates states(backend);
  Selector selector(backend, states, consistent());
  const auto assigned = assign(selector, states, keys(40000));
  const auto heavy = std::count(assigned.begin(), assigned.end(), 1u);
  const double ratio = static_cast<double>(heavy) / static_cast<double>(assigned.size() - heavy);
  CHECK(ratio > 2.0);
  CHECK(ratio < 4.0);
  for (const auto& t : keys(50)) {
    const Pick p = selector.pick({.target = t, .avoid = 1});
    CHECK(p.server == 0);
    states.end_connection(p.server);
  }
}

TEST_CASE("map-based hashing with a server down: no key reaches it, keys stay sticky") {
  auto backend = make_backend(Balance::uri, {2, 1, 1, 3});
  ServerStates states(backend);
  Selector selector(backend, states);
  const auto targets = keys(14000);
  const auto all_up = assign(selector, states, targets);
  std::array<int, 4> share{};
  for (auto s : all_up)
    ++share[s];
  CHECK(share[0] == doctest::Approx(4000).epsilon(0.1));
  CHECK(share[3] == doctest::Approx(6000).epsilon(0.1));
  states.set_up(0, false);
  const auto degraded = assign(selector, states, targets);
  CHECK(std::count(degraded.begin(), degraded.end(), 0u) == 0);
  CHECK(assign(selector, states, targets) == degraded);
  std::array<int, 4> degraded_share{};
  for (auto s : degraded)
    ++degraded_share[s];
  CHECK(degraded_share[3] == doctest::Approx(14000 * 3 / 5).epsilon(0.1));
  states.set_up(0, true);
  CHECK(assign(selector, states, targets) == all_up);
}

TEST_CASE("source hashing takes IPv6 addresses and honours avalanche") {
  auto backend = make_backend(Balance::source, std::vector<int>(7, 1));
  ServerStates states(backend);
  SelectorOptions options;
  options.hash.avalanche = true;
  Selector selector(backend, states, options);
  std::map<std::uint32_t, int> share;
  for (std::uint32_t i = 0; i < 7000; ++i) {
    std::array<std::uint8_t, 16> address = {0x20, 0x01, 0x0d, 0xb8};
    address[14] = static_cast<std::uint8_t>(i >> 8);
    address[15] = static_cast<std::uint8_t>(i);
    const Pick p = selector.pick({.source = address});
    REQUIRE(p.outcome == Outcome::picked);
    ++share[p.server];
    states.end_connection(p.server);
    CHECK(selector.pick({.source = address}).server == p.server);
    states.end_connection(p.server);
  }
  CHECK(share.size() == 7);
  for (const auto& [server, count] : share)
    CHECK(count == doctest::Approx(1000).epsilon(0.25));
}

TEST_CASE("random draws by weight and, with two draws, evens out the load") {
  auto backend = make_backend(Balance::random, {1, 1, 2});
  ServerStates states(backend);
  Selector selector(backend, states);
  std::array<int, 3> idle{};
  for (int i = 0; i < 40000; ++i) {
    const Pick p = selector.pick();
    REQUIRE(p.outcome == Outcome::picked);
    ++idle[p.server];
    states.end_connection(p.server);
  }
  // Idle servers tie on load, so the draws' weights show: 1:1:2 give or take the ring's spread.
  CHECK(idle[2] > idle[0]);
  CHECK(idle[2] > idle[1]);
  CHECK(idle[2] == doctest::Approx(20000).epsilon(0.2));
  // Held connections: the less loaded of two draws wins, so load follows weight closely.
  for (int i = 0; i < 4000; ++i)
    REQUIRE(selector.pick().outcome == Outcome::picked);
  CHECK(states.connections(0) == doctest::Approx(1000).epsilon(0.05));
  CHECK(states.connections(1) == doctest::Approx(1000).epsilon(0.05));
  CHECK(states.connections(2) == doctest::Approx(2000).epsilon(0.05));
  states.set_up(2, false);
  for (int i = 0; i < 200; ++i)
    CHECK(selector.pick().server != 2);
}

TEST_CASE("random(1) is a plain weighted draw; balance args may carry the draws") {
  // Total distance from an even load over 64 servers after 64000 held connections: about
  // 1600 for single draws, a few per server for two (power of two choices).
  auto backend = make_backend(Balance::random, std::vector<int>(64, 1));
  auto unevenness = [](ServerStates& states, Selector& selector) {
    for (int i = 0; i < 64000; ++i)
      REQUIRE(selector.pick().outcome == Outcome::picked);
    std::uint32_t distance = 0, highest = 0;
    for (std::uint32_t s = 0; s < 64; ++s) {
      const std::uint32_t c = states.connections(s);
      distance += c > 1000 ? c - 1000 : 1000 - c;
      highest = std::max(highest, c);
    }
    return std::pair{distance, highest};
  };
  ServerStates one_states(backend);
  SelectorOptions one;
  one.random_draws = 1;
  Selector one_draw(backend, one_states, one);
  ServerStates two_states(backend);
  Selector two_draws(backend, two_states);
  const auto [one_distance, one_highest] = unevenness(one_states, one_draw);
  const auto [two_distance, two_highest] = unevenness(two_states, two_draws);
  CHECK(one_distance > 600);
  CHECK(two_distance < 300);
  CHECK(two_highest <= 1010);
  auto with_args = backend;
  with_args.balance_args = {"1"};
  ServerStates args_states(with_args);
  Selector from_args(with_args, args_states);
  CHECK(unevenness(args_states, from_args).first > 600);
}

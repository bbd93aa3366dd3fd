// runtime/balance under several event loops at once: one roundrobin rotation shared by two
// threads keeps exact per-server totals, maxconn is never exceeded, counters return to zero.
// Meant to run under ThreadSanitizer as well (-fsanitize=thread).
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "runtime/balance/rotation.hpp"
#include "runtime/balance/selector.hpp"

namespace {

using namespace sluice::balance;
using sluice::config::Balance;

sluice::config::Backend make_backend(Balance balance, const std::vector<int>& weights,
                                     const std::vector<int>& maxconn = {}) {
  sluice::config::Backend b;
  b.balance = balance;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    sluice::config::Server s;
    s.weight = weights[i];
    s.maxconn = maxconn.empty() ? 0 : maxconn[i];
    b.servers.push_back(s);
  }
  return b;
}

template <typename Body>
void on_two_threads(Body body) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire))
        std::this_thread::yield();
      body(t);
    });
  go.store(true, std::memory_order_release);
  for (auto& th : threads)
    th.join();
}

}  // namespace

TEST_CASE("two threads share one roundrobin rotation with exact totals") {
  const std::vector<int> weights = {5, 3, 2};
  constexpr int per_thread = 1'000'000;
  auto backend = make_backend(Balance::roundrobin, weights);
  ServerStates states(backend);
  Selector selector(backend, states);
  std::array<std::array<std::uint64_t, 3>, 2> counts{};
  on_two_threads([&](int t) {
    for (int i = 0; i < per_thread; ++i) {
      const Pick p = selector.pick();
      ++counts[t][p.server];
      states.end_connection(p.server);
    }
  });
  // Every pick took its own slot of the one order, whichever thread it ran on: the totals are
  // those of the first 2 million slots, exactly.
  const std::vector<std::uint32_t> w(weights.begin(), weights.end());
  const Rotation rotation = roundrobin_rotation(w);
  std::array<std::uint64_t, 3> expected{};
  for (std::uint64_t n = 0; n < 2 * per_thread; ++n)
    ++expected[rotation.at(n)];
  for (std::uint32_t s = 0; s < 3; ++s) {
    CAPTURE(s);
    CHECK(counts[0][s] + counts[1][s] == expected[s]);
    CHECK(states.connections(s) == 0);
  }
  // Whole cycles after the start-up prefix carry exactly the weights.
  const std::uint64_t cycles = (2 * per_thread - rotation.prefix_length()) / 10;
  std::array<std::uint64_t, 3> in_prefix{};
  for (std::size_t n = 0; n < rotation.prefix_length(); ++n)
    ++in_prefix[rotation.at(n)];
  if ((2 * per_thread - rotation.prefix_length()) % 10 == 0)
    for (std::uint32_t s = 0; s < 3; ++s)
      CHECK(expected[s] == in_prefix[s] + cycles * static_cast<std::uint64_t>(weights[s]));
}

TEST_CASE("maxconn is never exceeded when loops race for the last slot") {
  for (Balance algorithm : {Balance::first, Balance::roundrobin, Balance::leastconn,
                            Balance::random, Balance::static_rr}) {
    CAPTURE(static_cast<int>(algorithm));
    const std::vector<int> maxconn = {3, 2, 1};
    auto backend = make_backend(algorithm, {1, 2, 1}, maxconn);
    ServerStates states(backend);
    Selector selector(backend, states);
    std::atomic<int> over{0}, full{0};
    on_two_threads([&](int) {
      std::vector<std::uint32_t> held;
      for (int i = 0; i < 50'000; ++i) {
        const Pick p = selector.pick();
        if (p.outcome == Outcome::picked) {
          if (states.connections(p.server) > static_cast<std::uint32_t>(maxconn[p.server])) ++over;
          held.push_back(p.server);
        } else {
          if (p.outcome != Outcome::all_full) ++over;  // never "none up": all servers are up
          ++full;
        }
        // Hold up to three connections, so the servers fill and empty all the time.
        if (held.size() == 3 || p.outcome != Outcome::picked) {
          for (auto s : held)
            states.end_connection(s);
          held.clear();
        }
      }
      for (auto s : held)
        states.end_connection(s);
    });
    CHECK(over.load() == 0);
    for (std::uint32_t s = 0; s < 3; ++s)
      CHECK(states.connections(s) == 0);
  }
}

TEST_CASE("picks stay valid while a health check flips servers") {
  for (Balance algorithm :
       {Balance::roundrobin, Balance::leastconn, Balance::random, Balance::uri}) {
    CAPTURE(static_cast<int>(algorithm));
    auto backend = make_backend(algorithm, {1, 1, 1, 1});
    ServerStates states(backend);
    SelectorOptions options;
    if (algorithm == Balance::uri) options.hash.method = HashMethod::consistent;
    Selector selector(backend, states, options);
    std::atomic<bool> done{false};
    std::thread checker([&] {
      for (std::uint32_t i = 0; !done.load(std::memory_order_acquire); ++i)
        states.set_up(i % 3, (i / 3) % 2 == 0);  // server 3 stays up
    });
    std::atomic<int> invalid{0};
    on_two_threads([&](int t) {
      for (int i = 0; i < 100'000; ++i) {
        const Pick p = selector.pick({.target = t == 0 ? "/a" : "/b"});
        if (p.outcome != Outcome::picked || p.server >= 4) {
          ++invalid;
          continue;
        }
        states.end_connection(p.server);
      }
    });
    done.store(true, std::memory_order_release);
    checker.join();
    CHECK(invalid.load() == 0);
    for (std::uint32_t s = 0; s < 4; ++s)
      CHECK(states.connections(s) == 0);
  }
}

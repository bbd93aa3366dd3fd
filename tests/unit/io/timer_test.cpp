#include "runtime/io/timer.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace sluice::io;

namespace {

struct Recorder final : Timer {
  explicit Recorder(std::vector<int>& log, int id) : log(log), id(id) {}
  void on_timer() override { log.push_back(id); }
  std::vector<int>& log;
  int id;
};

}  // namespace

TEST_CASE("timers fire in deadline order, not before their time") {
  TimerWheel wheel(1000);
  std::vector<int> log;
  Recorder a(log, 1), b(log, 2), c(log, 3);
  wheel.arm(a, 1030);
  wheel.arm(b, 1010);
  wheel.arm(c, 1020);
  CHECK(wheel.size() == 3);
  CHECK(wheel.next_timeout(1000) == 10);
  CHECK(wheel.advance(1009) == 0);
  CHECK(wheel.advance(1020) == 2);
  CHECK(log == std::vector<int>{2, 3});
  CHECK(wheel.next_timeout(1020) == 10);
  CHECK(wheel.advance(1100) == 1);
  CHECK(log == std::vector<int>{2, 3, 1});
  CHECK(wheel.next_timeout(1100) == -1);
}

TEST_CASE("a cancelled or re-armed timer fires once, at its last deadline") {
  TimerWheel wheel(0);
  std::vector<int> log;
  Recorder a(log, 1), b(log, 2);
  wheel.arm(a, 5);
  wheel.arm(b, 5);
  wheel.cancel(b);
  wheel.arm(a, 50);
  CHECK(wheel.advance(10) == 0);
  CHECK(wheel.advance(60) == 1);
  CHECK(log == std::vector<int>{1});
  CHECK_FALSE(a.armed());
}

TEST_CASE("deadlines beyond one turn of the wheel wait for their round") {
  TimerWheel wheel(0);
  std::vector<int> log;
  Recorder far(log, 1);
  wheel.arm(far, 30'000);
  CHECK(wheel.advance(4096) == 0);
  CHECK(wheel.advance(20'000) == 0);
  CHECK(wheel.next_timeout(20'000) > 0);
  CHECK(wheel.advance(30'000) == 1);
}

TEST_CASE("a timer destroyed while armed leaves the wheel consistent") {
  TimerWheel wheel(0);
  std::vector<int> log;
  {
    Recorder gone(log, 1);
    wheel.arm(gone, 10);
  }
  CHECK(wheel.size() == 0);
  CHECK(wheel.advance(100) == 0);
}

TEST_CASE("a callback may re-arm its own timer") {
  struct Ticker final : Timer {
    TimerWheel* wheel = nullptr;
    int fired = 0;
    void on_timer() override {
      if (++fired < 3) wheel->arm(*this, 0);  // past deadline: due on the next advance
    }
  } ticker;
  TimerWheel wheel(0);
  ticker.wheel = &wheel;
  wheel.arm(ticker, 1);
  wheel.advance(1);
  wheel.advance(2);
  wheel.advance(3);
  CHECK(ticker.fired == 3);
}

TEST_CASE("a callback may cancel or re-arm another timer due in the same advance") {
  // Regression: the other timer sat on advance()'s due list and was counted out twice,
  // leaving size() wrapped and the next wake-up lost.
  struct Canceller final : Timer {
    TimerWheel* wheel = nullptr;
    Timer* other = nullptr;
    bool rearm = false;
    void on_timer() override {
      if (rearm)
        wheel->arm(*other, 50);
      else
        wheel->cancel(*other);
    }
  };
  for (bool rearm : {false, true}) {
    TimerWheel wheel(0);
    std::vector<int> log;
    Recorder b(log, 2), c(log, 3);
    Canceller a;
    a.wheel = &wheel;
    a.other = &b;
    a.rearm = rearm;
    wheel.arm(a, 5);
    wheel.arm(b, 5);
    CHECK(wheel.advance(5) == 1);  // b did not fire with a
    CHECK(log.empty());
    CHECK(wheel.size() == (rearm ? 1u : 0u));
    wheel.arm(c, 15);
    CHECK(wheel.size() == (rearm ? 2u : 1u));
    CHECK(wheel.next_timeout(5) == 10);
    CHECK(wheel.advance(60) == (rearm ? 2u : 1u));
    CHECK(log == (rearm ? std::vector<int>{3, 2} : std::vector<int>{3}));
  }
}

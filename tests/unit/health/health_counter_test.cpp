// runtime/health's counter against what HAProxy 2.6 does with rise and fall (checked with
// haproxy 2.6.12: a server never reachable is DOWN at its first check; one seen UP needs
// `fall` failed checks in a row).
#include <doctest/doctest.h>

#include "runtime/health/health_counter.hpp"

using sluice::health::Change;
using sluice::health::HealthCounter;

TEST_CASE("a new server is UP and falls at its first failure") {
  HealthCounter h(2, 3);
  CHECK(h.up());
  CHECK(h.failure() == Change::went_down);
  CHECK_FALSE(h.up());
}

TEST_CASE("once a check passed, fall failures in a row take it down") {
  HealthCounter h(2, 3);
  CHECK(h.success() == Change::none);  // UP already: now fully so
  CHECK(h.failure() == Change::none);
  CHECK(h.failure() == Change::none);
  CHECK(h.up());
  CHECK(h.failure() == Change::went_down);
  // A success in between starts the count again.
  HealthCounter g(2, 3);
  g.success();
  g.failure();
  g.failure();
  CHECK(g.success() == Change::none);
  CHECK(g.failure() == Change::none);
  CHECK(g.failure() == Change::none);
  CHECK(g.failure() == Change::went_down);
}

TEST_CASE("rise successes in a row bring it back; a failure on the way starts over") {
  HealthCounter h(3, 2);
  h.failure();
  CHECK(h.success() == Change::none);
  CHECK(h.success() == Change::none);
  CHECK(h.failure() == Change::none);  // still down, back to zero
  CHECK(h.success() == Change::none);
  CHECK(h.success() == Change::none);
  CHECK(h.success() == Change::went_up);
  CHECK(h.up());
  // Fully up: `fall` (2) failures to go down again.
  CHECK(h.failure() == Change::none);
  CHECK(h.failure() == Change::went_down);
}

TEST_CASE("intervals: inter when fully up, downinter when down, fastinter in between") {
  HealthCounter h(2, 3);
  CHECK(h.next_interval(2000, 500, 5000) == 500);  // new: on the way (may fall at once)
  h.success();
  CHECK(h.next_interval(2000, 500, 5000) == 2000);
  h.failure();
  CHECK(h.next_interval(2000, 500, 5000) == 500);
  CHECK(h.next_interval(2000, 0, 5000) == 2000);  // no fastinter: inter
  h.failure();
  h.failure();
  CHECK(h.next_interval(2000, 500, 5000) == 5000);
  CHECK(h.next_interval(2000, 500, 0) == 2000);  // no downinter: inter
  h.success();
  CHECK(h.next_interval(2000, 500, 5000) == 500);  // rising
}

TEST_CASE("log-health-checks status: passed of rise while down, left of fall while up") {
  HealthCounter h(2, 3);
  CHECK(h.status_count() == 1);  // new: UP, falls at the first failure
  CHECK(h.status_of() == 3);
  h.success();
  CHECK(h.status_count() == 3);
  h.failure();
  CHECK(h.status_count() == 2);
  h.failure();
  h.failure();
  CHECK_FALSE(h.up());
  CHECK(h.status_count() == 0);
  CHECK(h.status_of() == 2);
  h.success();
  CHECK(h.status_count() == 1);
}

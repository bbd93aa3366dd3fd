#include "runtime/health/health_counter.hpp"

namespace sluice::health {

Change HealthCounter::success() {
  if (health_ >= top()) return Change::none;
  const bool was_up = up();
  ++health_;
  if (health_ >= rise_) health_ = top();  // UP again (or still): fully so
  return !was_up && up() ? Change::went_up : Change::none;
}

Change HealthCounter::failure() {
  if (health_ > rise_) {
    --health_;  // still UP
    return Change::none;
  }
  const bool was_up = up();
  health_ = 0;
  return was_up ? Change::went_down : Change::none;
}

std::int64_t HealthCounter::next_interval(std::int64_t inter, std::int64_t fastinter,
                                          std::int64_t downinter) const {
  if (health_ == top()) return inter;
  if (health_ == 0) return downinter > 0 ? downinter : inter;
  return fastinter > 0 ? fastinter : inter;
}

}  // namespace sluice::health

// A server's health as HAProxy counts it, from `rise` and `fall`: a number between 0 and
// rise + fall - 1, the server UP from `rise` up. A server starts UP at exactly `rise`, so
// that its first failed check takes it DOWN (HAProxy: "up, but will fall down at first
// failure"); once a check passed it needs `fall` failures in a row, and DOWN it needs
// `rise` successes in a row. Also which interval comes next. Pure arithmetic.
#pragma once

#include <cstdint>

namespace sluice::health {

enum class Change : std::uint8_t { none, went_down, went_up };

class HealthCounter {
 public:
  // `up`: false for a server known DOWN (a reload's): it needs `rise` successes.
  HealthCounter(int rise, int fall, bool up = true)
      : rise_(rise), fall_(fall), health_(up ? rise : 0) {}

  bool up() const { return health_ >= rise_; }
  int value() const { return health_; }
  // `option log-health-checks`' "status: N/M": checks passed of `rise` while down, checks
  // left to fail of `fall` while up.
  int status_count() const { return up() ? health_ - rise_ + 1 : health_; }
  int status_of() const { return up() ? fall_ : rise_; }
  Change success();
  Change failure();

  // `inter` when fully UP, `downinter` when fully DOWN, `fastinter` on the way between;
  // 0 for `fastinter`/`downinter` means `inter`, as in HAProxy.
  std::int64_t next_interval(std::int64_t inter, std::int64_t fastinter,
                             std::int64_t downinter) const;

 private:
  int top() const { return rise_ + fall_ - 1; }
  int rise_;
  int fall_;
  int health_;
};

}  // namespace sluice::health

#include "runtime/balance/ring.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace sluice::balance {

namespace {

// splitmix64's finalizer: consecutive (id, point) inputs land far apart on the ring.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

Ring::Ring(std::span<const std::uint32_t> weights, std::span<const std::uint32_t> ids) {
  assert(weights.size() == ids.size());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> points;
  for (std::uint32_t m = 0; m < weights.size(); ++m)
    for (std::uint32_t p = 0; p < weights[m] * points_per_weight; ++p)
      points.emplace_back(static_cast<std::uint32_t>(mix((std::uint64_t{ids[m]} << 32) | p) >> 32),
                          m);
  // Ties (rare 32-bit collisions) resolve by member so that the ring is the same every build.
  std::sort(points.begin(), points.end());
  keys_.reserve(points.size());
  owners_.reserve(points.size());
  for (const auto& [key, owner] : points) {
    keys_.push_back(key);
    owners_.push_back(owner);
  }
}

std::size_t Ring::find(std::uint32_t key) const {
  assert(!keys_.empty());
  const auto it = std::lower_bound(keys_.begin(), keys_.end(), key);
  return it == keys_.end() ? 0 : static_cast<std::size_t>(it - keys_.begin());
}

}  // namespace sluice::balance

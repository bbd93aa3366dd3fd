// The ring of `hash-type consistent`: each server owns weight x 32 points placed by its id, and
// a key belongs to the first point at or after it, so a server going down hands only its own
// keys to the next points. Placement is sluice's own: keys map to other servers than in HAProxy.
// Twice HAProxy's 16 points per weight unit narrow the spread of shares (about 1/sqrt(points)
// per server) at 256 bytes per weight unit. Pure: no server state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sluice::balance {

class Ring {
 public:
  Ring() = default;
  // Members by position; `ids` give each member's stable identity (HAProxy: the server id),
  // so that a member keeps its points whatever the other members are.
  Ring(std::span<const std::uint32_t> weights, std::span<const std::uint32_t> ids);

  bool empty() const { return keys_.empty(); }
  std::size_t size() const { return keys_.size(); }
  // The first point at or after `key`, wrapping to the first point.
  std::size_t find(std::uint32_t key) const;
  // The member (position in the weights) owning a point.
  std::uint32_t owner(std::size_t point) const { return owners_[point]; }

  static constexpr std::uint32_t points_per_weight = 32;

 private:
  std::vector<std::uint32_t> keys_;  // sorted; apart from owners_ so the search stays dense
  std::vector<std::uint32_t> owners_;
};

}  // namespace sluice::balance

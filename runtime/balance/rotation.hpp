// HAProxy 2.6's weighted orders, computed once at config time: the roundrobin rotation and the
// static map behind static-rr and map-based hashing. Both were reconstructed from the orders a
// running HAProxy 2.6 produces (tests/unit/balance/rotation_test.cpp holds the recordings), not
// from its source. Pure functions of the weights: no server state, threads or config types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sluice::balance {

// A precomputed order of picks: a prefix once, then a cycle forever. Values are positions in
// the weights the order was computed from.
class Rotation {
 public:
  Rotation() = default;
  // `order` is the prefix followed by one cycle; the cycle must not be empty.
  Rotation(std::vector<std::uint32_t> order, std::size_t prefix);

  bool empty() const { return order_.empty(); }
  std::size_t prefix_length() const { return static_cast<std::size_t>(prefix_); }
  std::size_t cycle_length() const { return static_cast<std::size_t>(cycle_); }

  // The position picked the n-th time (n counts from 0).
  std::uint32_t at(std::uint64_t n) const {
    if (n < prefix_) return order_[static_cast<std::size_t>(n)];
    return order_[static_cast<std::size_t>(prefix_ + (n - prefix_) % cycle_)];
  }

 private:
  std::vector<std::uint32_t> order_;
  std::uint64_t prefix_ = 0;
  std::uint64_t cycle_ = 0;
};

// `balance roundrobin`: HAProxy's order for these weights, from its start. Every position
// appears `weight` times per cycle of sum(weights) picks (weight 0: never). The prefix is the
// start-up transient, shorter than one cycle; memory is below 2 x sum(weights) entries. Empty
// when every weight is 0.
Rotation roundrobin_rotation(std::span<const std::uint32_t> weights);

// `balance static-rr` and map-based hashing: HAProxy's static map, sum(weights) slots read in
// turn (static-rr) or indexed by hash % sum(weights). HAProxy's own map has 16 x as many slots
// (its weight scale) but repeats this one 16 times, so both the order and hash % size agree.
// Building costs sum(weights) x count; empty when every weight is 0.
std::vector<std::uint32_t> static_map(std::span<const std::uint32_t> weights);

}  // namespace sluice::balance

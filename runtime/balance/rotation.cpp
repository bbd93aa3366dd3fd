#include "runtime/balance/rotation.hpp"

#include <algorithm>
#include <cassert>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

namespace sluice::balance {

Rotation::Rotation(std::vector<std::uint32_t> order, std::size_t prefix)
    : order_(std::move(order)), prefix_(prefix), cycle_(order_.size() - prefix) {
  assert(prefix < order_.size());
}

namespace {

std::uint64_t total_of(std::span<const std::uint32_t> weights) {
  return std::accumulate(weights.begin(), weights.end(), std::uint64_t{0});
}

// The roundrobin scheduler, as observed on HAProxy 2.6. Time counts picks. A server picked at
// time t is next due at t + total/weight, the remainder carried so that `weight` picks move it
// by exactly `total`. The earliest due server is picked; on equal due times the one whose
// carry is furthest below its weight goes first (heavier servers lead), then the one scheduled
// earlier. Servers start unscheduled, heaviest first: one enters, at the current time, whenever
// the earliest scheduled server is not due yet. That start is why weights 3,1 give A A A B and
// not A B A A.
class Scheduler {
 public:
  explicit Scheduler(std::span<const std::uint32_t> weights)
      : weights_(weights),
        total_(total_of(weights)),
        due_(weights.size(), 0),
        carry_(weights.size(), 0) {
    for (std::uint32_t i = 0; i < weights.size(); ++i)
      if (weights[i] != 0) waiting_.push_back(i);
    std::stable_sort(waiting_.begin(), waiting_.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return weights[a] > weights[b]; });
  }

  std::uint64_t total() const { return total_; }
  bool all_scheduled() const { return next_waiting_ == waiting_.size(); }

  std::uint32_t step() {
    std::uint32_t server = 0;
    if (!all_scheduled() && (heap_.empty() || heap_.front().due > now_)) {
      server = waiting_[next_waiting_++];
      due_[server] = now_;
    } else {
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
      server = heap_.back().server;
      heap_.pop_back();
    }
    const std::uint64_t weight = weights_[server];
    due_[server] += total_ / weight;
    carry_[server] += total_ % weight;
    if (carry_[server] >= weight) {
      carry_[server] -= weight;
      ++due_[server];
    }
    heap_.push_back(
        {due_[server], static_cast<std::int64_t>(carry_[server] - weight), sequence_++, server});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
    ++now_;
    return server;
  }

  // Everything that decides the future, relative to the current time: two equal snapshots
  // a cycle apart prove the order periodic from the first.
  using Snapshot = std::vector<std::tuple<std::int64_t, std::uint64_t, std::uint32_t>>;
  Snapshot snapshot() const {
    auto entries = heap_;
    std::sort(entries.begin(), entries.end());
    Snapshot out;
    out.reserve(entries.size());
    for (const auto& e : entries)
      out.emplace_back(static_cast<std::int64_t>(e.due - now_), carry_[e.server], e.server);
    return out;
  }

 private:
  struct Entry {
    std::uint64_t due;
    std::int64_t lean;  // carry - weight
    std::uint64_t sequence;
    std::uint32_t server;
    auto operator<=>(const Entry&) const = default;
  };

  std::span<const std::uint32_t> weights_;
  std::uint64_t total_;
  std::vector<std::uint64_t> due_;
  std::vector<std::uint64_t> carry_;
  std::vector<std::uint32_t> waiting_;
  std::size_t next_waiting_ = 0;
  std::vector<Entry> heap_;
  std::uint64_t now_ = 0;
  std::uint64_t sequence_ = 0;
};

}  // namespace

Rotation roundrobin_rotation(std::span<const std::uint32_t> weights) {
  Scheduler scheduler(weights);
  if (scheduler.total() == 0) return {};
  std::vector<std::uint32_t> order;
  while (!scheduler.all_scheduled())
    order.push_back(scheduler.step());
  // Once every server is scheduled, each gets exactly `weight` picks per `total` picks, so the
  // state repeats after one cycle; every weight set tried converged in the first round. The
  // bound only guards against a case never seen: then the last cycle stands for all.
  constexpr int max_rounds = 8;
  auto before = scheduler.snapshot();
  std::size_t cycle_start = order.size();
  for (int round = 0; round < max_rounds; ++round) {
    cycle_start = order.size();
    for (std::uint64_t i = 0; i < scheduler.total(); ++i)
      order.push_back(scheduler.step());
    auto after = scheduler.snapshot();
    if (after == before) break;
    before = std::move(after);
  }
  return Rotation(std::move(order), cycle_start);
}

std::vector<std::uint32_t> static_map(std::span<const std::uint32_t> weights) {
  // As observed on HAProxy 2.6: every slot, each server's score grows by its weight; the
  // server whose score lies in the highest band of width `total` takes the slot, the first
  // declared winning within a band, and pays `total`. The coarse bands are why the first
  // declared server always takes slot 0 (weights 1,3 give A B B B).
  //
  // Scanning every server for every slot costs total x count. Instead: after t slots a server
  // that won p of them is in band floor(t x weight / total) + 1 - p, which changes only when
  // the floor steps (weight times per map, at known t) or when it wins. Servers wait in
  // buckets by band, each bucket ordered by declaration: total x log(count).
  const std::uint64_t total = total_of(weights);
  std::vector<std::uint32_t> map;
  if (total == 0) return map;
  map.reserve(total);
  std::map<std::int64_t, std::set<std::uint32_t>> bands;
  std::vector<std::int64_t> band(weights.size(), 1);
  // The next t at which each server's floor steps: t = ceil(k x total / weight), k = 1..weight.
  struct Step {
    std::uint64_t t;
    std::uint32_t k;
    std::uint32_t server;
    auto operator<=>(const Step&) const = default;
  };
  std::vector<Step> steps;
  auto step_time = [&](std::uint32_t server, std::uint32_t k) {
    return (std::uint64_t{k} * total + weights[server] - 1) / weights[server];
  };
  for (std::uint32_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;
    bands[1].insert(i);
    steps.push_back({step_time(i, 1), 1, i});
  }
  std::make_heap(steps.begin(), steps.end(), std::greater<>{});
  auto move = [&](std::uint32_t server, std::int64_t by) {
    auto from = bands.find(band[server]);
    from->second.erase(server);
    if (from->second.empty()) bands.erase(from);
    band[server] += by;
    bands[band[server]].insert(server);
  };
  for (std::uint64_t t = 1; t <= total; ++t) {
    while (!steps.empty() && steps.front().t == t) {
      std::pop_heap(steps.begin(), steps.end(), std::greater<>{});
      Step step = steps.back();
      steps.pop_back();
      move(step.server, +1);
      if (step.k < weights[step.server]) {
        ++step.k;
        step.t = step_time(step.server, step.k);
        steps.push_back(step);
        std::push_heap(steps.begin(), steps.end(), std::greater<>{});
      }
    }
    const std::uint32_t winner = *bands.rbegin()->second.begin();
    map.push_back(winner);
    move(winner, -1);
  }
  return map;
}

}  // namespace sluice::balance

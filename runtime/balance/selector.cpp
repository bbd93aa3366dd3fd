#include "runtime/balance/selector.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <chrono>

namespace sluice::balance {

namespace {

using config::Balance;

// Rotation slots a pick may burn on down, full or avoided servers before scanning instead:
// skipping keeps HAProxy's order, scanning bounds the cost when a heavy server is out.
constexpr int max_skips = 16;
// Compare-and-swap races lost to other loops before reporting the group full.
constexpr int max_races = 4;
// Map slots one random draw may walk past unusable servers before giving up on the draw.
constexpr std::size_t max_draw_walk = 256;

std::uint32_t parse_count(std::string_view text) {
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size() ? value : 0;
}

// Per-thread generator for `random`: splitmix64, seeded apart per thread. No shared state.
std::uint32_t random32() {
  static std::atomic<std::uint64_t> seeds{0};
  thread_local std::uint64_t state =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      (seeds.fetch_add(1, std::memory_order_relaxed) * 0xD1B54A32D192ED03ull);
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<std::uint32_t>((z ^ (z >> 31)) >> 32);
}

}  // namespace

Selector::Selector(const config::Backend& backend, ServerStates& states, SelectorOptions options)
    : states_(&states),
      algorithm_(backend.balance),
      options_(options),
      allbackups_(backend.allbackups) {
  assert(states.size() == backend.servers.size());
  const auto& args = backend.balance_args;
  if (algorithm_ == Balance::uri) {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "whole") uri_.whole = true;
      if (args[i] == "path-only") uri_.path_only = true;
      if (args[i] == "len" && i + 1 < args.size()) uri_.len = parse_count(args[++i]);
      if (args[i] == "depth" && i + 1 < args.size()) uri_.depth = parse_count(args[++i]);
    }
  } else if (algorithm_ == Balance::hdr && !args.empty()) {
    header_name_ = args[0];
    domain_only_ = std::find(args.begin() + 1, args.end(), "use_domain_only") != args.end();
  } else if (algorithm_ == Balance::random && !args.empty() && parse_count(args[0]) != 0) {
    options_.random_draws = parse_count(args[0]);
  }
  options_.random_draws = std::max<std::uint32_t>(options_.random_draws, 1);
  build_group(primary_, backend, false);
  build_group(backup_, backend, true);
}

bool Selector::hashing() const {
  return algorithm_ == Balance::source || algorithm_ == Balance::uri || algorithm_ == Balance::hdr;
}

void Selector::build_group(Group& group, const config::Backend& backend, bool backup) {
  group.mask.assign(states_->words(), 0);
  std::vector<std::uint32_t> weights, ids;
  for (std::uint32_t i = 0; i < backend.servers.size(); ++i) {
    const config::Server& s = backend.servers[i];
    // Weight 0 and `disabled` servers never take traffic; they stay out of every table.
    if (s.backup != backup || s.disabled || s.weight <= 0) continue;
    group.members.push_back({i, static_cast<std::uint32_t>(s.weight),
                             static_cast<std::uint32_t>(std::max(s.maxconn, 0))});
    group.mask[i / 64] |= std::uint64_t{1} << (i % 64);
    weights.push_back(static_cast<std::uint32_t>(s.weight));
    ids.push_back(i + 1);  // HAProxy's default server id: position in the backend
  }
  group.cursor = std::make_unique<Cursor>();
  // Without allbackups only the first usable backup serves: nothing to rotate.
  if (group.members.empty() || (backup && !allbackups_)) return;
  switch (algorithm_) {
    case Balance::roundrobin:
      group.rotation = roundrobin_rotation(weights);
      break;
    case Balance::static_rr:
    case Balance::source:
    case Balance::uri:
    case Balance::hdr:
    case Balance::random:
      // Map-based hashing indexes the static map and a missing key rotates over it, as in
      // HAProxy; random draws slots of it, so draws follow the weights exactly.
      group.rotation = Rotation(static_map(weights), 0);
      if (hashing() && options_.hash.method == HashMethod::consistent)
        group.ring = Ring(weights, ids);
      break;
    case Balance::leastconn:
    case Balance::first:
      break;
  }
}

Pick Selector::pick(const Request& request) {
  if (states_->any_up(primary_.mask)) return pick_in(primary_, request);
  if (!states_->any_up(backup_.mask)) return {};
  if (allbackups_) return pick_in(backup_, request);
  return pick_first_backup();
}

Pick Selector::pick_in(Group& group, const Request& request) {
  const std::uint32_t avoid = request.avoid;
  switch (algorithm_) {
    case Balance::roundrobin:
    case Balance::static_rr:
      return rotate(group, avoid);
    case Balance::leastconn:
      return least_loaded(group, avoid);
    case Balance::first:
      // Lowest id first: declaration order, as server ids default to positions.
      return scan(group, 0, avoid);
    case Balance::random:
      return random_draws(group, avoid);
    case Balance::source:
      if (request.source.size() != 4 && request.source.size() != 16) return rotate(group, avoid);
      {
        // The hash function does not apply to addresses; the avalanche modifier does.
        const std::uint32_t h = source_hash(request.source);
        return hashed(group, options_.hash.avalanche ? avalanche(h) : h, avoid);
      }
    case Balance::uri:
      return hashed(group, hash_key(options_.hash, uri_key(request.target, uri_)), avoid);
    case Balance::hdr: {
      const std::string_view value = request.header ? first_value(*request.header) : "";
      if (value.empty()) return rotate(group, avoid);
      return hashed(group, hash_key(options_.hash, domain_only_ ? domain_key(value) : value),
                    avoid);
    }
  }
  return {};
}

Pick Selector::take(const Member& member) {
  if (states_->try_begin_connection(member.server, member.maxconn))
    return {Outcome::picked, member.server};
  return {Outcome::all_full, no_server};
}

Pick Selector::pick_first_backup() {
  for (const Member& m : backup_.members) {
    if (!states_->up(m.server)) continue;
    const Pick p = take(m);
    if (p.outcome == Outcome::picked) return p;
    // Only this backup serves, so a full one queues: on itself when the key pins it.
    return hashing() ? Pick{Outcome::server_full, m.server} : p;
  }
  return {};
}

Pick Selector::rotate(Group& group, std::uint32_t avoid) {
  // HAProxy's order is one shared sequence per backend: every pick, on any loop, takes the
  // next slot. A slot whose server is down, full or avoided is spent, as HAProxy spends the
  // turn of a saturated server, so the others keep their relative order.
  const bool all_up = !states_->any_down(group.mask);
  std::size_t member = 0;
  for (int attempt = 0; attempt < max_skips; ++attempt) {
    member = group.rotation.at(group.cursor->next.fetch_add(1, std::memory_order_relaxed));
    const Member& m = group.members[member];
    if (m.server == avoid || (!all_up && !states_->up(m.server))) continue;
    if (states_->try_begin_connection(m.server, m.maxconn)) return {Outcome::picked, m.server};
  }
  return scan(group, member + 1, avoid);
}

Pick Selector::scan(const Group& group, std::size_t start, std::uint32_t avoid) {
  const std::size_t n = group.members.size();
  bool usable = false;
  const Member* avoided = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    const Member& m = group.members[(start + i) % n];
    if (!states_->up(m.server)) continue;
    usable = true;
    if (m.server == avoid) {
      avoided = &m;
      continue;
    }
    if (states_->try_begin_connection(m.server, m.maxconn)) return {Outcome::picked, m.server};
  }
  if (avoided != nullptr && states_->try_begin_connection(avoided->server, avoided->maxconn))
    return {Outcome::picked, avoided->server};
  return {usable ? Outcome::all_full : Outcome::no_server, no_server};
}

Pick Selector::least_loaded(const Group& group, std::uint32_t avoid) {
  for (int race = 0; race < max_races; ++race) {
    const Member* best = nullptr;
    const Member* avoided = nullptr;
    std::uint64_t best_key = 0, best_changed = 0;
    bool usable = false;
    for (const Member& m : group.members) {
      if (!states_->up(m.server)) continue;
      usable = true;
      if (states_->full(m.server, m.maxconn)) continue;
      if (m.server == avoid) {
        avoided = &m;
        continue;
      }
      // HAProxy's rank: idle servers all rank 0 whatever their weight; a busy one ranks
      // (load + 1) x 4096 / (weight x 16), truncated. Queued requests count as load. Equal
      // ranks go to the server whose load changed least recently.
      const std::uint64_t load =
          std::uint64_t{states_->connections(m.server)} + states_->queued(m.server);
      const std::uint64_t key = load == 0 ? 0 : (load + 1) * 256 / m.weight;
      const std::uint64_t changed = states_->changed(m.server);
      if (best == nullptr || key < best_key || (key == best_key && changed < best_changed)) {
        best = &m;
        best_key = key;
        best_changed = changed;
      }
    }
    if (best == nullptr) best = avoided;
    if (best == nullptr) return {usable ? Outcome::all_full : Outcome::no_server, no_server};
    if (states_->try_begin_connection(best->server, best->maxconn))
      return {Outcome::picked, best->server};
    // Another loop took its last slot between the look and the take: look again.
  }
  return {Outcome::all_full, no_server};
}

std::uint32_t Selector::map_member(const Group& group, std::uint32_t hash) const {
  // With every member up this is HAProxy's table, hence HAProxy's server for the same hash.
  if (!states_->any_down(group.mask))
    return group.rotation.at(hash % group.rotation.cycle_length());
  // HAProxy then divides by the weight of the running servers over a map rebuilt without the
  // down ones; building one here would allocate, so the running members share the range in
  // declaration order instead. Most keys move either way, as the documentation warns.
  std::uint64_t running = 0;
  for (const Member& m : group.members)
    if (states_->up(m.server)) running += m.weight;
  if (running == 0) return no_server;
  std::uint64_t slot = hash % running;
  for (std::uint32_t i = 0; i < group.members.size(); ++i) {
    const Member& m = group.members[i];
    if (!states_->up(m.server)) continue;
    if (slot < m.weight) return i;
    slot -= m.weight;
  }
  return no_server;
}

Pick Selector::hashed(const Group& group, std::uint32_t hash, std::uint32_t avoid) {
  std::uint32_t member = no_server;
  if (options_.hash.method == HashMethod::map_based) {
    member = map_member(group, hash);
  } else {
    // The first usable point at or after the key: a down server's keys move to the next
    // points' owners and no other key moves.
    const Ring& ring = group.ring;
    std::uint32_t avoided = no_server;
    for (std::size_t i = 0, point = ring.find(hash); i < ring.size(); ++i) {
      const std::uint32_t owner = ring.owner(point);
      point = point + 1 == ring.size() ? 0 : point + 1;
      const std::uint32_t server = group.members[owner].server;
      if (!states_->up(server)) continue;
      if (server == avoid) {
        avoided = owner;
        continue;
      }
      member = owner;
      break;
    }
    if (member == no_server) member = avoided;
  }
  if (member == no_server) return {};
  const Member& m = group.members[member];
  if (states_->try_begin_connection(m.server, m.maxconn)) return {Outcome::picked, m.server};
  // The key pins the server: HAProxy queues on it rather than breaking stickiness.
  return {Outcome::server_full, m.server};
}

Pick Selector::random_draws(Group& group, std::uint32_t avoid) {
  // Power of d choices (HAProxy 2.6's `random(d)`, d = 2 by default): d random slots of the
  // static map, so draws follow the weights; the least loaded relative to its weight wins.
  // HAProxy draws on its consistent-hash ring instead, whose shares only approximate weights.
  const std::size_t slots = group.rotation.cycle_length();
  const std::size_t walk = std::min(slots, max_draw_walk);
  for (int race = 0; race < max_races; ++race) {
    const Member* best = nullptr;
    std::uint64_t best_load = 0;
    for (std::uint32_t draw = 0; draw < options_.random_draws; ++draw) {
      const Member* candidate = nullptr;
      // A drawn server that cannot serve passes the draw to the next slots: the map
      // interleaves servers, so those belong to others in proportion to their weights.
      const std::size_t first = random32() % slots;
      for (std::size_t i = 0; i < walk; ++i) {
        const Member& m = group.members[group.rotation.at(first + i)];
        if (m.server == avoid || !states_->up(m.server) || states_->full(m.server, m.maxconn))
          continue;
        candidate = &m;
        break;
      }
      if (candidate == nullptr) continue;
      const std::uint64_t load = std::uint64_t{states_->connections(candidate->server)} +
                                 states_->queued(candidate->server);
      if (best == nullptr || load * best->weight < best_load * candidate->weight) {
        best = candidate;
        best_load = load;
      }
    }
    // Every draw met only unusable servers: let a full scan decide.
    if (best == nullptr) break;
    if (states_->try_begin_connection(best->server, best->maxconn))
      return {Outcome::picked, best->server};
  }
  return scan(group, 0, avoid);
}

}  // namespace sluice::balance

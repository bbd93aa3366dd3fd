#include "runtime/proxy/backend_state.hpp"

#include <fmt/format.h>
#include <charconv>

namespace sluice::proxy {

std::unique_ptr<BackendState> BackendState::build(const config::Backend& backend,
                                                  std::uint32_t index, std::string& error) {
  auto state = std::make_unique<BackendState>();
  state->config_ = &backend;
  state->index_ = index;
  for (const auto& server : backend.servers) {
    config::Endpoint endpoint = server.endpoint;
    if (!endpoint.has_port || endpoint.port_offset) endpoint.port = endpoint.last_port = 0;
    auto addresses = io::resolve(endpoint, error);
    if (addresses.empty()) {
      error = fmt::format("server '{}/{}': {}", backend.name, server.name, error);
      return nullptr;
    }
    state->addresses_.push_back(addresses.front());
  }
  balance::SelectorOptions options;
  if (!backend.hash_type.empty())
    options.hash = balance::parse_hash_type(backend.hash_type).value_or(balance::HashType{});
  if (backend.balance == config::Balance::random && !backend.balance_args.empty()) {
    const auto& draws = backend.balance_args.front();
    std::from_chars(draws.data(), draws.data() + draws.size(), options.random_draws);
  }
  state->states_ = std::make_unique<balance::ServerStates>(backend);
  state->selector_ = std::make_unique<balance::Selector>(backend, *state->states_, options);
  return state;
}

int BackendState::connections() const {
  int n = static_cast<int>(waiting_.load(std::memory_order_relaxed));
  for (std::size_t i = 0; i < states_->size(); ++i)
    n += static_cast<int>(states_->connections(i));
  return n;
}

int BackendState::usable_servers() const {
  int n = 0;
  for (std::size_t i = 0; i < config_->servers.size(); ++i)
    if (config_->servers[i].weight > 0 && states_->up(i)) ++n;
  return n;
}

int BackendState::up_servers(bool backup) const {
  int n = 0;
  for (std::size_t i = 0; i < config_->servers.size(); ++i)
    if (config_->servers[i].backup == backup && states_->up(i)) ++n;
  return n;
}

BackendState::Picked BackendState::pick(const balance::Request& request) {
  // Requests waiting for any server go first: a new one queues behind them, as in HAProxy.
  // (Those waiting for one server hold it full through ServerStates::queued.)
  if (waiting_any_.load() != 0) return {balance::Outcome::all_full, {}};
  const balance::Pick pick = selector_->pick(request);
  Picked out{pick.outcome, {}};
  if (pick.server != balance::no_server) out.target = {pick.server, addresses_[pick.server]};
  return out;
}

void BackendState::set_loops(std::vector<io::Loop*> loops) {
  loop_count_ = loops.size();
  queues_ = std::make_unique<LoopQueue[]>(loop_count_);
  for (std::size_t i = 0; i < loop_count_; ++i)
    queues_[i].loop = loops[i];
}

void BackendState::wait(QueueWaiter& waiter, std::size_t loop, std::uint32_t server) {
  LoopQueue& q = queues_[loop];
  waiter.server_ = server;
  waiter.loop_ = loop;
  waiter.waiting_ = true;
  waiter.next_ = nullptr;
  waiter.prev_ = q.tail;
  if (q.tail)
    q.tail->next_ = &waiter;
  else
    q.head = &waiter;
  q.tail = &waiter;
  if (server != balance::no_server)
    states_->enter_queue(server);
  else
    waiting_any_.fetch_add(1);
  q.count.fetch_add(1);
  waiting_.fetch_add(1);
  // A slot freed between the pick and now was handed to nobody (the count was 0 then):
  // look once more. Both counters are sequentially consistent, so one side sees the other.
  serve(loop);
}

void BackendState::stop_waiting(QueueWaiter& waiter) {
  if (!waiter.waiting_) return;
  unlink(queues_[waiter.loop_], waiter);
  if (waiter.server_ != balance::no_server) states_->leave_queue(waiter.server_);
}

void BackendState::unlink(LoopQueue& q, QueueWaiter& waiter) {
  if (waiter.prev_)
    waiter.prev_->next_ = waiter.next_;
  else
    q.head = waiter.next_;
  if (waiter.next_)
    waiter.next_->prev_ = waiter.prev_;
  else
    q.tail = waiter.prev_;
  waiter.prev_ = waiter.next_ = nullptr;
  waiter.waiting_ = false;
  if (waiter.server_ == balance::no_server) waiting_any_.fetch_sub(1);
  q.count.fetch_sub(1);
  waiting_.fetch_sub(1);
}

bool BackendState::try_slot(QueueWaiter& waiter, ServerTarget& target) {
  if (waiter.server_ != balance::no_server) {
    const auto& server = config_->servers[waiter.server_];
    if (!states_->try_begin_queued(waiter.server_, static_cast<std::uint32_t>(server.maxconn)))
      return false;
    states_->leave_queue(waiter.server_);
    target = {waiter.server_, addresses_[waiter.server_]};
    return true;
  }
  const balance::Pick pick = selector_->pick({});
  if (pick.outcome != balance::Outcome::picked) return false;
  target = {pick.server, addresses_[pick.server]};
  return true;
}

std::size_t BackendState::serve(std::size_t loop) {
  LoopQueue& q = queues_[loop];
  std::size_t served = 0;
  for (QueueWaiter* w = q.head; w != nullptr;) {
    QueueWaiter* next = w->next_;
    ServerTarget target;
    if (try_slot(*w, target)) {
      unlink(q, *w);
      w->on_server_slot(target);
      ++served;
    } else if (w->server_ == balance::no_server) {
      break;  // no server takes more: later waiters for any server cannot be served either
    }
    w = next;
  }
  return served;
}

void BackendState::serve_queues(std::size_t loop) {
  if (loop < loop_count_ && queues_[loop].count.load() != 0 && serve(loop) != 0) return;
  // The slot is for another loop's waiters: wake each loop that has some, once.
  for (std::size_t i = 0; i < loop_count_; ++i) {
    LoopQueue& q = queues_[i];
    if (i == loop || q.count.load() == 0 || q.wake_posted.exchange(true)) continue;
    q.loop->post([this, i] {
      queues_[i].wake_posted.store(false);
      serve(i);
    });
  }
}

}  // namespace sluice::proxy

#pragma once
// The simulated network both simulations use (raft-sim and fl-sim): Raft messages in flight,
// each with the tick it arrives at. While faults are on a message may be lost, is delayed by a
// random number of ticks (so that it overtakes or is overtaken), may be delivered twice, and the
// messages due in one tick arrive shuffled; in the quiet phase every message arrives one tick
// later, in the order sent (the timing Raft needs for liveness, §5.6). Who is connected to whom
// (partitions, crashed peers) is the simulation's business: it gets the due messages and decides.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

#include "fednode/raft/message.h"
#include "fednode/util/seeded_rng.h"

namespace fednode::sim_support {

struct NetworkFaults {
  double drop = 0;  // chance a message is lost
  double dup = 0;   // chance it is delivered a second time
  std::uint64_t delay_min = 0, delay_max = 1;          // ticks, while faults are on
  std::uint64_t dup_delay_min = 0, dup_delay_max = 3;  // the copy's delay
};

class SimNetwork {
 public:
  void send(const raft::Message& m, std::uint64_t now, bool faults_on, SeededRng& rng, const NetworkFaults& f) {
    if (faults_on && rng.chance(f.drop)) return;
    std::uint64_t delay = faults_on ? rng.between(f.delay_min, f.delay_max) : 1;
    in_flight_.push_back({now + delay, order_++, m});
    if (faults_on && rng.chance(f.dup)) {
      in_flight_.push_back({now + rng.between(f.dup_delay_min, f.dup_delay_max), order_++, m});
    }
  }

  // The messages due by `now`, taken off the network: shuffled while faults are on, else in the
  // order they were sent.
  std::vector<raft::Message> take_due(std::uint64_t now, bool faults_on, SeededRng& rng) {
    auto split = std::partition(in_flight_.begin(), in_flight_.end(), [&](const InFlight& f) { return f.deliver_at > now; });
    std::vector<InFlight> due(std::make_move_iterator(split), std::make_move_iterator(in_flight_.end()));
    in_flight_.erase(split, in_flight_.end());
    if (faults_on) {
      for (std::size_t i = due.size(); i > 1; --i) std::swap(due[i - 1], due[rng.below(i)]);
    } else {
      std::sort(due.begin(), due.end(), [](const InFlight& a, const InFlight& b) { return a.order < b.order; });
    }
    std::vector<raft::Message> out;
    out.reserve(due.size());
    for (auto& f : due) out.push_back(std::move(f.message));
    return out;
  }

  std::size_t in_flight() const { return in_flight_.size(); }
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& m : in_flight_) f(m.message);
  }
  void clear() { in_flight_.clear(); }

 private:
  struct InFlight {
    std::uint64_t deliver_at;
    std::uint64_t order;
    raft::Message message;
  };
  std::vector<InFlight> in_flight_;
  std::uint64_t order_ = 0;
};

}  // namespace fednode::sim_support

#include "fednode/app/learner_eviction.h"

namespace fednode {

std::optional<raft::NodeId> LearnerEviction::observe(Clock::time_point now, raft::Term term,
                                                     const std::vector<raft::FollowerStatus>& followers) {
  if (term != term_) {  // a new leadership: nobody is blamed for the time before it
    term_ = term;
    last_heard_.clear();
  }
  std::map<raft::NodeId, Clock::time_point> seen;
  std::optional<raft::NodeId> worst;
  Clock::duration worst_silence{};
  for (const auto& f : followers) {
    if (!f.learner) continue;
    auto it = last_heard_.find(f.id);
    Clock::time_point heard = f.recent_active || it == last_heard_.end() ? now : it->second;
    seen[f.id] = heard;
    if (now - heard >= after_ && (!worst || now - heard > worst_silence)) {
      worst = f.id;
      worst_silence = now - heard;
    }
  }
  last_heard_ = std::move(seen);  // members that left are forgotten
  if (worst) last_heard_[*worst] = now;
  return worst;
}

LearnerEviction::Clock::duration LearnerEviction::silent_for(raft::NodeId id, Clock::time_point now) const {
  auto it = last_heard_.find(id);
  return it == last_heard_.end() ? Clock::duration{} : now - it->second;
}

}  // namespace fednode

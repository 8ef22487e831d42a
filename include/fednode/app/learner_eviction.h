#pragma once
// --evict-after: which learner a leader should remove because it has not answered for that long.
// Pure (the caller gives the time and the leader's view of its followers), so it is unit-tested
// without clocks. Voters are never chosen: removing one changes the quorum, an operator's call.
#include <chrono>
#include <map>
#include <optional>
#include <vector>

#include "fednode/raft/node.h"

namespace fednode {

class LearnerEviction {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LearnerEviction(Clock::duration after) : after_(after) {}

  // The leader's followers at `now` in `term`. A learner counts as heard while Raft marks it
  // recently active; one first seen (or a new term of leadership) starts its clock now. Returns
  // the learner silent longest, if that is `after` or more; it is not returned again until it
  // has been silent `after` once more (its removal is then under way).
  std::optional<raft::NodeId> observe(Clock::time_point now, raft::Term term,
                                      const std::vector<raft::FollowerStatus>& followers);
  // How long `id` has been silent at `now` (zero for one heard or unknown).
  Clock::duration silent_for(raft::NodeId id, Clock::time_point now) const;

 private:
  Clock::duration after_;
  raft::Term term_ = 0;
  std::map<raft::NodeId, Clock::time_point> last_heard_;
};

}  // namespace fednode

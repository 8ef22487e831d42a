#pragma once
// What the round machine sees of a Raft node: its role and term, whether the leader's first
// entry of this term is applied, and each follower's acknowledgement and activity. Shared by
// the daemon and the FL simulation so that both feed the machine the same view.
#include <vector>

#include "fednode/fl/round_machine.h"
#include "fednode/raft/node.h"

namespace fednode::fl {

inline RaftView raft_view_of(const raft::Node& node, raft::Index applied, std::vector<NodeId> members) {
  RaftView v;
  v.self = node.id();
  v.term = node.term();
  v.leader = node.role() == raft::Role::kLeader;
  v.leader_id = node.leader();
  v.members = std::move(members);
  v.voters = node.conf_state().voters;
  if (!v.leader) return v;
  raft::Index start = node.term_start_index();
  v.term_start_applied = start > 0 && applied >= start;
  v.handed_over_by = node.handed_over_by();
  for (const auto& f : node.followers()) v.followers.push_back({f.id, f.learner, f.match >= start, f.recent_active, f.heard});
  return v;
}

}  // namespace fednode::fl

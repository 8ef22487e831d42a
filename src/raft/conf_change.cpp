#include "fednode/raft/conf_change.h"

#include <algorithm>

namespace fednode::raft {
namespace {

void insert_sorted(std::vector<NodeId>& ids, NodeId id) {
  ids.insert(std::upper_bound(ids.begin(), ids.end(), id), id);
}

void erase_id(std::vector<NodeId>& ids, NodeId id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

}  // namespace

bool contains(const std::vector<NodeId>& sorted_ids, NodeId id) {
  return std::binary_search(sorted_ids.begin(), sorted_ids.end(), id);
}

std::string encode_conf_change(const ConfChange& change) {
  std::string out;
  out.push_back(static_cast<char>(change.type));
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((change.node >> (8 * i)) & 0xff));
  out += change.context;
  return out;
}

std::optional<ConfChange> decode_conf_change(std::string_view data) {
  if (data.size() < 9) return std::nullopt;
  auto type = static_cast<std::uint8_t>(data[0]);
  if (type > static_cast<std::uint8_t>(ConfChangeType::kRemove)) return std::nullopt;
  ConfChange change;
  change.type = static_cast<ConfChangeType>(type);
  for (int i = 0; i < 8; ++i) {
    change.node |= static_cast<NodeId>(static_cast<std::uint8_t>(data[1 + i])) << (8 * i);
  }
  if (change.node == kNoNode) return std::nullopt;
  change.context.assign(data.substr(9));
  return change;
}

bool conf_change_is_valid(const ConfState& conf, const ConfChange& change) {
  if (change.node == kNoNode) return false;
  bool voter = contains(conf.voters, change.node);
  bool learner = contains(conf.learners, change.node);
  switch (change.type) {
    case ConfChangeType::kAddVoter: return !voter;  // new member, or promotion of a learner
    case ConfChangeType::kAddLearner: return !voter && !learner;
    case ConfChangeType::kRemove: return learner || (voter && conf.voters.size() > 1);
  }
  return false;
}

ConfState apply_conf_change(ConfState conf, const ConfChange& change) {
  erase_id(conf.voters, change.node);
  erase_id(conf.learners, change.node);
  if (change.type == ConfChangeType::kAddVoter) insert_sorted(conf.voters, change.node);
  if (change.type == ConfChangeType::kAddLearner) insert_sorted(conf.learners, change.node);
  return conf;
}

}  // namespace fednode::raft

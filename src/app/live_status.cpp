// The live page's data: GET /api/status on the metrics port, JSON, API version 1 (documented in
// docs/live-view.md). This node's own view of the group, its applied rounds and its recent events;
// nothing a member's key could not read (`diagnostic`, `fl_status`): no key material, no paths.
#include "peer_daemon_class.h"

#include <cstdio>
#include <cstdlib>

#include "fednode/version.h"

namespace fednode::daemon {
namespace {

constexpr int kApiVersion = 1;
constexpr std::size_t kEventsShown = 60;

std::string json_array(const std::vector<std::string>& objects) {
  std::string out = "[";
  for (std::size_t i = 0; i < objects.size(); ++i) out += (i ? "," : "") + objects[i];
  return out + "]";
}

std::string hex_id(std::uint64_t id) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(id));  // as the logs write ids
  return buf;
}

// Metrics not in yet, or not measured (no test split): null.
void add_or_null(JsonLine& line, std::string_view key, bool have, double value) {
  if (have) {
    line.add(key, value);
  } else {
    line.add_raw(key, "null");
  }
}

}  // namespace

// ?rounds_after=N (digits only; anything else means 0, the whole history).
std::uint64_t rounds_after(std::string_view query) {
  constexpr std::string_view kKey = "rounds_after=";
  auto at = query.find(kKey);
  if (at == std::string_view::npos || (at != 0 && query[at - 1] != '&')) return 0;
  std::uint64_t n = 0;
  std::size_t i = at + kKey.size(), digits = 0;
  for (; i < query.size() && query[i] >= '0' && query[i] <= '9' && digits < 19; ++i, ++digits) n = n * 10 + (query[i] - '0');
  return (i == query.size() || query[i] == '&') && digits > 0 ? n : 0;
}

std::string PeerDaemon::api_status(std::uint64_t rounds_after) const {
  const char* role = node_->role() == raft::Role::kLeader ? "leader" : node_->role() == raft::Role::kFollower ? "follower" : "candidate";
  const auto& conf = node_->conf_state();
  auto has = [](const std::vector<raft::NodeId>& ids, raft::NodeId id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); };
  const raft::NodeId leader = node_->leader();
  const std::string leader_address = leader == raft::kNoNode ? "" : members_.address_of(leader);

  std::vector<std::string> members;
  std::map<raft::NodeId, raft::FollowerStatus> followers;
  if (node_->role() == raft::Role::kLeader) {
    for (const auto& f : node_->followers()) followers[f.id] = f;
  }
  for (raft::NodeId id : members_.member_ids()) {
    JsonLine m;
    std::string key = members_.key_of(id);
    m.add("address", members_.address_of(id))
        .add("id", hex_id(id))
        .add("kind", has(conf.voters, id) ? "voter" : "learner")
        .add("self", id == self_id_)
        .add("key_fingerprint", key.substr(0, 12));
    // Liveness as this node knows it: a leader hears every member; a follower only the leader.
    if (id == self_id_ || id == leader) {
      m.add("alive", true).add("term", node_->term());
    } else if (auto f = followers.find(id); f != followers.end()) {
      m.add("alive", f->second.recent_active).add_raw("term", "null").add("match", f->second.match);
    } else {
      m.add_raw("alive", "null").add_raw("term", "null");
    }
    members.push_back(m.str());
  }

  const auto& rounds = sm_.rounds();
  std::string run = "null", round = "null";
  if (const auto& cfg = rounds.config()) {
    run = JsonLine()
              .add("rounds_planned", cfg->rounds)
              .add("model", cfg->model)
              .add("dataset", cfg->dataset)
              .add("aggregator", cfg->aggregator)
              .add("task", cfg->task)
              .add("deadline_s", static_cast<double>(cfg->deadline_ms) / 1000.0)
              .str();
    if (auto p = controller_->progress()) {  // this node aggregates: where the round stands
      round = JsonLine()
                  .add("round", p->round)
                  .add("phase", p->phase)
                  .add("aggregator", opt_.self.to_string())
                  .add("updates", std::uint64_t{p->updates})
                  .add("invited", std::uint64_t{p->invited})
                  .add("seconds", static_cast<double>(p->elapsed) / 1000.0)
                  .add("deadline_s", static_cast<double>(cfg->deadline_ms) / 1000.0)
                  .str();
    } else if (!rounds.done() && leader != raft::kNoNode) {
      round = JsonLine()
                  .add("round", rounds.last_round() + 1)
                  .add("phase", "under way")
                  .add("aggregator", leader_address)
                  .str();
    }
  }

  std::vector<std::string> committed;
  bool regression = rounds.config() && rounds.config()->task == "regression";
  const auto& all = rounds.committed();
  if (round_json_.size() > all.size()) round_json_.clear();  // a snapshot replaced the history
  round_json_.resize(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const fl::RoundRecord& r = all[i];
    if (r.round <= rounds_after) continue;
    // A record changes after its commit only when its metrics or evaluations arrive.
    const std::uint64_t version = (r.evaluated ? 1u : 0u) | (r.untested ? 2u : 0u) | (std::uint64_t{r.parties.size()} << 2);
    RoundJson& cached = round_json_[i];
    if (cached.round == r.round && cached.version == version && !cached.json.empty()) {
      committed.push_back(cached.json);
      continue;
    }
    JsonLine line;
    line.add("round", r.round)
        .add("aggregator", members_.address_of(r.aggregator))
        .add("trainers", std::uint64_t{r.results.size()})
        .add("invited", std::uint64_t{r.participants.size()})
        .add("samples", r.samples())
        .add("train_loss", r.train_loss)
        .add("seconds", r.end_ms > r.start_ms ? static_cast<double>(r.end_ms - r.start_ms) / 1000.0 : 0.0);
    bool tested = r.evaluated && !r.untested;
    add_or_null(line, "test_loss", tested, r.test_loss);
    add_or_null(line, regression ? "test_mae" : "test_accuracy", tested, regression ? r.test_mae : r.test_accuracy);
    fl::FederatedEval f = r.parties.empty() ? fl::FederatedEval{} : fl::federated(r.parties);
    add_or_null(line, "federated_metric", !r.parties.empty(), f.metric);
    add_or_null(line, "federated_loss", !r.parties.empty(), f.loss);
    cached = {r.round, version, line.str()};
    committed.push_back(cached.json);
  }

  const auto& recent = events_.recent();
  std::vector<std::string> events(recent.size() > kEventsShown ? recent.end() - kEventsShown : recent.begin(), recent.end());
  // round_commit lines of rounds after `rounds_after` (each line names its round near the start).
  std::vector<std::string> commits;
  for (const std::string& line : events_.commits()) {
    auto at = line.find("\"round\":");
    if (at == std::string::npos || std::strtoull(line.c_str() + at + 8, nullptr, 10) > rounds_after) commits.push_back(line);
  }

  JsonLine traffic;
  add_traffic(&traffic);
  JsonLine out;
  out.add("api", kApiVersion)
      .add("rounds_after", rounds_after)
      .add("version", kVersion)
      .add("node", opt_.self.to_string())
      .add("id", hex_id(self_id_))
      .add("role", role)
      .add("term", node_->term())
      .add("leader", leader_address)
      .add("membership", has(conf.voters, self_id_) ? "voter" : has(conf.learners, self_id_) ? "learner" : "none")
      .add("commit", node_->commit_index())
      .add("applied", applied_)
      .add("uptime_s", std::chrono::duration<double>(Clock::now() - started_).count())
      .add_raw("members", json_array(members))
      .add_raw("run", run)
      .add_raw("round", round)
      .add_raw("rounds", json_array(committed))
      .add_raw("traffic", traffic.str())
      .add_raw("events", json_array(events))
      .add_raw("commit_events", json_array(commits));
  return out.str();
}

}  // namespace fednode::daemon

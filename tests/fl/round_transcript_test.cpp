// The round's scenarios as transcripts (tests/fl/testdata/*.txt): a group of round machines,
// each run by the production RoundDriver, sharing one applied round state (every node applies
// what commits at once). Each step prints what every node's machine asked for: proposals,
// jobs, events, log lines (debug left out); blob ids print as names. Commands:
//   group voters=1,2,3 [learners=4,5] rounds=R [min-clients=M] [deadline-ms=D] [aggregator=A]
//   leader ID term=T          ID leads (every other live node acknowledged its term)
//   down ID                   ID is gone: no input reaches it, its jobs never finish
//   tick at=MS                the clocks read MS; every live node ticks
//   commit                    what the leader proposed is committed and applied everywhere
//   finish ID KIND [fail=WHY] the node's oldest job of KIND ends (a made-up but consistent
//                             result; an upload or evaluation report reaches its addressee)
//   state                     the applied round state
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "fednode/fl/round_driver.h"
#include "fednode/util/blob_id.h"
#include "fednode/util/msgpack_limits.h"
#include "transcript.h"

namespace fednode::fl {
namespace {

std::vector<NodeId> ids_of(const std::string& list) {
  std::vector<NodeId> out;
  std::istringstream in(list);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) out.push_back(std::stoull(part));
  }
  return out;
}

class RoundRig;

struct RigNode : RoundShell, JobExecutor {
  RigNode(RoundRig& rig, NodeId id, const RoundSettings& s) : rig(rig), id(id), driver(s, *this, *this) {}
  View view() override;
  void log(const LogLine& l) override;
  void note(const RoundNote& n) override;
  bool checkpoint(const Checkpoint&) override { return true; }
  bool propose(const Proposal& p) override;
  void flush() override {}
  void transfer_leadership(NodeId to) override { say("transfer leadership to " + std::to_string(to)); }
  void run(const Job& job) override;
  void stop_training() override;
  void say(const std::string& line);

  RoundRig& rig;
  NodeId id;
  RoundDriver driver;
  std::set<std::string> store;
  std::vector<Job> jobs;
  bool alive = true;
};

class RoundRig {
 public:
  std::string run(const transcript::Command& c);

  // For the nodes.
  std::string name(const std::string& id) const {
    auto it = names_.find(id);
    return it == names_.end() ? id.substr(0, 12) : it->second;
  }
  std::string readable(std::string text) const {
    for (const auto& [id, n] : names_) {
      for (std::size_t at; (at = text.find(id)) != std::string::npos;) text.replace(at, id.size(), n);
      std::string prefix = id.substr(0, 12);
      for (std::size_t at; (at = text.find(prefix)) != std::string::npos;) text.replace(at, prefix.size(), n);
    }
    return text;
  }
  std::string blob(const std::string& what) {
    std::string id = sha256_hex(what);
    names_[id] = what;
    return id;
  }
  View view_of(const RigNode& n) const;
  std::string proposal_text(const Proposal& p) const;
  std::ostringstream out;
  std::vector<std::pair<NodeId, Proposal>> proposed;
  RoundState rounds;

 private:
  std::string make(const transcript::Command& c);
  void commit();
  void finish(RigNode& n, const std::string& kind, const std::string& failure);
  RigNode& node(NodeId id) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) throw std::runtime_error("no node " + std::to_string(id));
    return *it->second;
  }

  std::map<NodeId, std::unique_ptr<RigNode>> nodes_;
  std::vector<NodeId> voters_;
  std::map<std::string, std::string> names_;
  NodeId leader_ = 0;
  std::uint64_t term_ = 1;
  Millis now_ = 1000;
};

// ---- the nodes -----------------------------------------------------------------------------------

View RigNode::view() { return rig.view_of(*this); }

void RigNode::say(const std::string& line) { rig.out << id << ": " << rig.readable(line) << "\n"; }

void RigNode::log(const LogLine& l) {
  static const char* kLevel[] = {"debug", "info", "warn", "error"};
  if (l.level != LogLine::Level::kDebug) say(std::string("log ") + kLevel[static_cast<int>(l.level)] + ": " + l.text);
}

void RigNode::note(const RoundNote& n) { say("event " + n.type + " " + n.fields.str()); }

bool RigNode::propose(const Proposal& p) {
  say("propose " + rig.proposal_text(p));
  rig.proposed.emplace_back(id, p);
  return true;
}

void RigNode::run(const Job& job) {
  std::string what = "job " + std::to_string(job.id) + " " + job_kind_name(job.kind);
  if (job.round) what += " for " + std::to_string(job.round) + "/" + std::to_string(job.term) + "/" + std::to_string(job.attempt);
  if (!job.peers.empty()) {
    what += " peers=";
    for (std::size_t i = 0; i < job.peers.size(); ++i) what += (i ? "," : "") + std::to_string(job.peers[i]);
  }
  if (job.kind == JobKind::kAggregate) {
    what += " updates=";
    for (std::size_t i = 0; i < job.updates.size(); ++i) what += (i ? "," : "") + std::to_string(job.updates[i].second.node);
  }
  say(what);
  jobs.push_back(job);
}

void RigNode::stop_training() {
  say("stop training");
  std::erase_if(jobs, [](const Job& j) { return j.kind == JobKind::kTrain; });
}

// ---- the group ---------------------------------------------------------------------------------------

View RoundRig::view_of(const RigNode& n) const {
  View v;
  v.raft.self = n.id;
  v.raft.leader = n.id == leader_;
  v.raft.leader_id = leader_;
  v.raft.term = term_;
  v.raft.term_start_applied = v.raft.leader;
  for (const auto& [id, other] : nodes_) {
    v.raft.members.push_back(id);
    if (v.raft.leader && id != n.id) {
      bool learner = std::find(voters_.begin(), voters_.end(), id) == voters_.end();
      v.raft.followers.push_back({id, learner, other->alive, other->alive, other->alive});
    }
  }
  v.raft.voters = voters_;
  v.rounds = &rounds;
  v.holds = [&n](const std::string& id) { return n.store.count(id) > 0; };
  v.now = now_;
  v.wall_ms = 1'700'000'000'000 + now_;
  v.can_train = true;
  v.can_evaluate = true;
  return v;
}

std::string RoundRig::proposal_text(const Proposal& p) const {
  auto h = bounded_unpack_one(p.command.data(), p.command.size());
  msgpack::object_handle inflated;
  const msgpack::object* body = nullptr;
  if (!RoundState::command_body(h.get(), &inflated, &body).ok() || !body) return "(undecodable)";
  std::ostringstream o;
  auto list = [](const std::vector<std::uint64_t>& ids) {
    std::string s;
    for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s;
  };
  switch (p.kind) {
    case Proposal::Kind::kConfig: {
      auto c = body->as<RoundConfig>();
      o << "config rounds=" << c.rounds << " min-clients=" << c.min_clients << " initial=" << name(c.initial_model_id);
      break;
    }
    case Proposal::Kind::kStart: {
      auto s = body->as<RoundStart>();
      o << "start " << s.round << "/" << s.term << "/" << s.attempt << " base=" << name(s.base_model_id)
        << " participants=" << list(s.participants) << " aggregator=" << s.aggregator << " deadline=" << s.deadline_ms;
      break;
    }
    case Proposal::Kind::kCommit: {
      auto r = body->as<RoundRecord>();
      std::vector<std::uint64_t> from;
      for (const auto& t : r.results) from.push_back(t.node);
      o << "commit " << r.round << "/" << r.term << "/" << r.attempt << " model=" << name(r.model_id)
        << " from=" << list(from);
      break;
    }
    case Proposal::Kind::kMetrics: {
      auto m = body->as<RoundMetrics>();
      o << "metrics round=" << m.round << " model=" << name(m.model_id) << " accuracy=" << m.test_accuracy;
      break;
    }
  }
  return o.str();
}

std::string RoundRig::run(const transcript::Command& c) {
  out.str("");
  if (c.name == "group") return make(c);
  if (nodes_.empty()) throw std::runtime_error("no group yet: start with 'group voters=...'");
  if (c.name == "leader") {
    c.only({"term"});
    leader_ = c.word_number(0);
    term_ = c.number("term", term_ + 1);
    proposed.clear();  // what the old leader proposed and did not commit is lost with it
  } else if (c.name == "down") {
    c.only({});
    node(c.word_number(0)).alive = false;
    if (leader_ == c.word_number(0)) leader_ = 0;
  } else if (c.name == "tick") {
    c.only({"at"});
    now_ = c.number("at", now_);
    for (auto& [id, n] : nodes_) {
      if (n->alive) n->driver.tick();
    }
  } else if (c.name == "commit") {
    c.only({});
    commit();
  } else if (c.name == "finish") {
    c.only({"fail"});
    if (c.words.size() < 2) throw std::runtime_error("finish ID KIND [fail=WHY]");
    RigNode& n = node(c.word_number(0));
    if (!n.alive) throw std::runtime_error("node " + std::to_string(n.id) + " is down: its jobs never finish");
    finish(n, c.words[1], c.arg("fail"));
  } else if (c.name == "state") {
    for (const auto& r : rounds.committed()) {
      out << "round " << r.round << " committed " << r.term << "/" << r.attempt << " model=" << name(r.model_id)
          << (r.evaluated ? " evaluated" : "") << "\n";
    }
    if (auto s = rounds.current()) out << "round " << s->round << " running " << s->term << "/" << s->attempt << "\n";
  } else {
    throw std::runtime_error("unknown command '" + c.name + "'");
  }
  return out.str();
}

std::string RoundRig::make(const transcript::Command& c) {
  c.only({"voters", "learners", "rounds", "min-clients", "deadline-ms", "aggregator"});
  voters_ = ids_of(c.arg("voters", "1,2,3"));
  RoundSettings s;
  RoundConfig config;
  config.rounds = c.number("rounds", 1);
  config.min_clients = c.number("min-clients", 1);
  config.deadline_ms = c.number("deadline-ms", 5000);
  config.aggregator = c.arg("aggregator", "fedavg");
  s.proposed = config;
  std::vector<NodeId> all = voters_;
  for (NodeId id : ids_of(c.arg("learners"))) all.push_back(id);
  for (NodeId id : all) nodes_[id] = std::make_unique<RigNode>(*this, id, s);
  return "";
}

// The leader's proposals land in the log in the order proposed; every live node applies them.
void RoundRig::commit() {
  auto batch = std::move(proposed);
  proposed.clear();
  for (const auto& [from, p] : batch) {
    if (from != leader_) continue;
    auto h = bounded_unpack_one(p.command.data(), p.command.size());
    RoundEvent event;
    std::string why;
    if (Status s = rounds.apply(h.get(), &event, &why); !s.ok()) throw std::runtime_error(s.message());
    out << "applied " << proposal_text(p) << (why.empty() ? "" : " (ignored: " + readable(why) + ")") << "\n";
    for (auto& [id, n] : nodes_) {
      if (n->alive) n->driver.applied(event, why);
    }
  }
}

void RoundRig::finish(RigNode& n, const std::string& kind, const std::string& failure) {
  auto it = std::find_if(n.jobs.begin(), n.jobs.end(), [&](const Job& j) { return kind == job_kind_name(j.kind); });
  if (it == n.jobs.end()) throw std::runtime_error("node " + std::to_string(n.id) + " runs no " + kind + " job");
  Job job = *it;
  n.jobs.erase(it);
  if (!failure.empty()) return n.driver.job_done(JobResult::failed(job.id, failure));
  JobResult r;
  r.id = job.id;
  std::string attempt = std::to_string(job.round) + "/" + std::to_string(job.term) + "/" + std::to_string(job.attempt);
  switch (job.kind) {
    case JobKind::kInitialModel:
      r.model_id = blob("initial");
      n.store.insert(r.model_id);
      break;
    case JobKind::kFetch:
      n.store.insert(job.model_id);
      r.from = job.peers.empty() ? 0 : job.peers.front();
      break;
    case JobKind::kTrain:
      r.model_id = blob("update-" + attempt + "-of-" + std::to_string(n.id));
      r.trained = TrainerResult{n.id, 100, 0.5, 1.0};
      break;
    case JobKind::kUpload: {
      RigNode& to = node(job.peers.at(0));
      std::string refused = to.alive ? to.driver.offer_update(job.upload) : "unreachable";
      out << to.id << ": " << (refused.empty() ? "takes the update of " + std::to_string(n.id)
                                               : "refuses the update of " + std::to_string(n.id) + ": " + readable(refused))
          << "\n";
      if (!refused.empty()) r = JobResult::failed(job.id, refused);
      break;
    }
    case JobKind::kAggregate:
      r.model_id = blob("model-" + attempt);
      n.store.insert(r.model_id);
      break;
    case JobKind::kPush:
      for (NodeId to : job.peers) {
        if (node(to).alive) {
          node(to).store.insert(job.model_id);
          ++r.holders;
        }
      }
      break;
    case JobKind::kEvaluate:
      r.model_id = job.model_id;
      r.test_accuracy = 0.5;
      r.test_loss = 1.5;
      r.test_samples = 100;
      break;
    case JobKind::kReportEvaluation: {
      RigNode& to = node(job.peers.at(0));
      std::string refused = to.alive ? to.driver.offer_evaluation(job.report) : "unreachable";
      if (!refused.empty()) r = JobResult::failed(job.id, refused);
      break;
    }
  }
  n.driver.job_done(r);
}

TEST(RoundTranscripts, EveryScenarioPrintsWhatItsFileSays) {
  transcript::run_every_file<RoundRig>(std::filesystem::path(FEDNODE_SOURCE_DIR) / "tests/fl/testdata");
}

}  // namespace
}  // namespace fednode::fl

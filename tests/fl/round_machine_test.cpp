// Rules of the round machine, one input at a time (the FL simulation checks them in bulk).
#include "fednode/fl/round_machine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "fednode/util/msgpack_limits.h"

namespace fednode::fl {
namespace {

const std::string kModel(64, 'a');

class RoundMachineTest : public ::testing::Test {
 protected:
  RoundMachineTest() {
    RoundConfig c;
    c.rounds = 3;
    c.min_clients = 2;
    c.deadline_ms = 5000;
    c.initial_model_id = kModel;
    apply(RoundState::encode_config(c));
  }
  void apply(const std::string& command) {
    auto h = bounded_unpack_one(command.data(), command.size());
    RoundEvent e;
    std::string why;
    ASSERT_TRUE(rounds_.apply(h.get(), &e, &why).ok());
    ASSERT_TRUE(why.empty()) << why;
  }
  View view(NodeId self, bool leader, Millis now) {
    View v;
    v.raft.self = self;
    v.raft.leader = leader;
    v.raft.term = 2;
    v.raft.term_start_applied = leader;
    if (leader) {
      for (NodeId id : {2, 3, 4}) v.raft.followers.push_back({id, false, true, true});
    }
    v.raft.members = {1, 2, 3, 4};
    v.rounds = &rounds_;
    v.holds = [this](const std::string& id) { return held_.count(id) > 0; };
    v.now = now;
    v.wall_ms = 1'000'000 + now;
    return v;
  }
  RoundStart start(std::uint64_t attempt) {
    RoundStart s;
    s.round = 1;
    s.term = 2;
    s.attempt = attempt;
    s.base_model_id = kModel;
    s.participants = {2, 3, 4};
    s.aggregator = 1;
    s.deadline_ms = 5000;
    return s;
  }
  // Drives a leader to the collecting phase of round 1, attempt 1.
  RoundMachine collecting_leader() {
    RoundMachine m(RoundSettings{});
    m.tick(view(1, true, 1000));
    RoundReady out = m.take();
    EXPECT_EQ(out.proposals.size(), 1u);
    apply(out.proposals.at(0).command);
    m.tick(view(1, true, 1100));
    m.take();
    return m;
  }
  UpdateOffer update(NodeId node, std::uint64_t attempt) {
    return UpdateOffer{std::string(63, 'b') + static_cast<char>('0' + node), 1, 2, attempt, node, 10, 0.5, 1.0, ""};
  }

  RoundState rounds_;
  std::set<std::string> held_{kModel};
};

// After a failover the dead aggregator never answers the new leader: it is not waited for beyond
// a round trip's worth (here the 5 ms floor). Any other follower that has not acknowledged the
// term yet (catching up, still starting) is waited for up to the grace, and so is a previous
// aggregator that handed this leader its term (rotation): it is alive, only slow to answer.
TEST_F(RoundMachineTest, ANewLeaderDoesNotWaitForTheSilentPreviousAggregator) {
  RoundStart old = start(1);
  old.term = 1;
  old.aggregator = 4;  // died while aggregating round 1
  apply(RoundState::encode_start(old));
  struct Case {
    NodeId silent;
    NodeId handed_over_by;
  };
  for (Case c : {Case{4, 0}, Case{3, 0}, Case{4, 4}, Case{3, 4}}) {
    NodeId silent = c.silent;
    SCOPED_TRACE("silent " + std::to_string(silent) + ", handed over by " + std::to_string(c.handed_over_by));
    RoundMachine m(RoundSettings{});
    auto v = view(1, true, 1000);
    v.raft.handed_over_by = c.handed_over_by;
    for (auto& f : v.raft.followers) {
      if (f.id == silent) f = FollowerView{silent, false, false, true, false};
    }
    m.tick(v);
    EXPECT_TRUE(m.take().proposals.empty()) << silent;
    v.now = 1006;
    m.tick(v);
    RoundReady out = m.take();
    if (silent != 4 || c.handed_over_by == 4) {
      EXPECT_TRUE(out.proposals.empty()) << "did not wait for a live follower";
      v.now = 1299;
      m.tick(v);
      EXPECT_TRUE(m.take().proposals.empty());
      v.now = 1301;
      m.tick(v);
      out = m.take();
    }
    ASSERT_EQ(out.proposals.size(), 1u) << silent;
    auto h = bounded_unpack_one(out.proposals[0].command.data(), out.proposals[0].command.size());
    std::vector<NodeId> expected = {2, 3, 4};
    std::erase(expected, silent);
    EXPECT_EQ(h.get().via.map.ptr[1].val.as<RoundStart>().participants, expected) << silent;
  }
}

// A learner without the base model fetches it from a voter picked by its id first (committed
// models are on a majority of voters), then the aggregator, then every member: dozens of
// learners do not all fetch from the aggregator.
TEST_F(RoundMachineTest, ALearnerFetchesFromAVoterPickedByItsIdFirst) {
  held_.clear();
  RoundStart s = start(1);
  s.participants = {2, 3, 7, 8};
  apply(RoundState::encode_start(s));
  for (NodeId self : {7, 8}) {
    RoundMachine m(RoundSettings{});
    auto v = view(self, false, 1000);
    v.raft.members = {1, 2, 3, 7, 8};
    v.raft.voters = {1, 2, 3};
    m.tick(v);
    RoundReady out = m.take();
    const Job* fetch = nullptr;
    for (const auto& j : out.jobs) {
      if (j.kind == JobKind::kFetch) fetch = &j;
    }
    ASSERT_NE(fetch, nullptr) << self;
    std::vector<NodeId> expected = self == 7 ? std::vector<NodeId>{2, 3, 1, 8} : std::vector<NodeId>{3, 1, 2, 7};
    EXPECT_EQ(fetch->peers, expected) << self;
  }
  // A voter still asks the aggregator first.
  RoundMachine voter(RoundSettings{});
  auto v = view(2, false, 1000);
  v.raft.voters = {1, 2, 3};
  voter.tick(v);
  RoundReady out = voter.take();
  ASSERT_FALSE(out.jobs.empty());
  EXPECT_EQ(out.jobs[0].kind, JobKind::kFetch);
  EXPECT_EQ(out.jobs[0].peers.front(), 1u);
}

// --min-available holds the round until that many trainers are live; --clients-per-round then
// invites that many of them.
TEST(RoundMachineSelection, MinAvailableWaitsAndClientsPerRoundInvitesK) {
  RoundState rounds;
  RoundConfig c;
  c.rounds = 2;
  c.initial_model_id = kModel;
  c.min_available = 4;
  c.clients_per_round = 2;
  std::string config = RoundState::encode_config(c);
  auto h = bounded_unpack_one(config.data(), config.size());
  RoundEvent e;
  std::string why;
  ASSERT_TRUE(rounds.apply(h.get(), &e, &why).ok());
  RoundMachine m(RoundSettings{});
  View v;
  v.raft.self = 1;
  v.raft.leader = true;
  v.raft.term = 2;
  v.raft.term_start_applied = true;
  v.raft.members = {1, 2, 3, 4, 5};
  v.rounds = &rounds;
  v.holds = [](const std::string&) { return true; };
  v.now = 1000;
  for (NodeId id : {2, 3, 4}) v.raft.followers.push_back({id, false, true, true, true});
  v.raft.followers.push_back({5, false, false, true, false});  // not there yet
  m.tick(v);
  v.now = 1100;
  m.tick(v);
  RoundReady out = m.take();
  EXPECT_TRUE(out.proposals.empty()) << "started with 3 live trainers, --min-available 4";
  v.raft.followers.back() = {5, false, true, true, true};
  v.now = 1200;
  m.tick(v);
  out = m.take();
  ASSERT_EQ(out.proposals.size(), 1u);
  auto sh = bounded_unpack_one(out.proposals[0].command.data(), out.proposals[0].command.size());
  EXPECT_EQ(sh.get().via.map.ptr[1].val.as<RoundStart>().participants.size(), 2u);
}

// Node 1 leading voters 1-3 in term 2, its term applied, with no run configuration in `rounds`
// yet: a machine told to propose one of 2 rounds finds it has none to follow.
View leader_without_config(const RoundState& rounds) {
  View v;
  v.raft.self = 1;
  v.raft.leader = true;
  v.raft.term = 2;
  v.raft.term_start_applied = true;
  v.raft.members = {1, 2, 3};
  v.raft.voters = {1, 2, 3};
  for (NodeId id : {2, 3}) v.raft.followers.push_back({id, false, true, true, true});
  v.rounds = &rounds;
  return v;
}
RoundSettings proposing_two_rounds() {
  RoundSettings settings;
  settings.proposed = RoundConfig{};
  settings.proposed->rounds = 2;
  return settings;
}

// A leader's run configuration asks for deflated commands only when every member reads them
// (the daemon: each has sent packed peer datagrams); the round starts it proposes then follow it.
TEST(RoundMachineConfig, DeflatedCommandsOnlyWhenEveryMemberReadsThem) {
  for (bool all_read : {false, true}) {
    SCOPED_TRACE(all_read ? "every member reads them" : "a member may not");
    RoundState rounds;
    RoundMachine m(proposing_two_rounds());
    View v = leader_without_config(rounds);
    v.raft.members_read_deflated_commands = all_read;
    v.holds = [](const std::string&) { return true; };
    v.now = 1000;
    m.tick(v);
    RoundReady out = m.take();
    ASSERT_EQ(out.jobs.size(), 1u);
    ASSERT_EQ(out.jobs[0].kind, JobKind::kInitialModel);
    JobResult made;
    made.id = out.jobs[0].id;
    made.model_id = kModel;
    m.job_done(v, made);
    out = m.take();
    ASSERT_EQ(out.jobs.size(), 1u);
    ASSERT_EQ(out.jobs[0].kind, JobKind::kPush);
    JobResult pushed;
    pushed.id = out.jobs[0].id;
    pushed.holders = 2;
    m.job_done(v, pushed);
    out = m.take();
    ASSERT_EQ(out.proposals.size(), 1u);
    ASSERT_EQ(out.proposals[0].kind, Proposal::Kind::kConfig);
    auto h = bounded_unpack_one(out.proposals[0].command.data(), out.proposals[0].command.size());
    RoundEvent e;
    std::string why;
    ASSERT_TRUE(rounds.apply(h.get(), &e, &why).ok());
    ASSERT_EQ(e, RoundEvent::kConfig) << why;
    EXPECT_EQ(rounds.deflates_commands(), all_read);
    v.now = 1100;
    m.tick(v);
    out = m.take();
    ASSERT_EQ(out.proposals.size(), 1u);
    ASSERT_EQ(out.proposals[0].kind, Proposal::Kind::kStart);
    const std::string& start = out.proposals[0].command;
    EXPECT_EQ(start.find("zbody") != std::string::npos, all_read);
    auto sh = bounded_unpack_one(start.data(), start.size());
    ASSERT_TRUE(rounds.apply(sh.get(), &e, &why).ok());
    EXPECT_EQ(e, RoundEvent::kStart) << why;
  }
}

// A leader whose initial model fails (its libtorch module missing, say) makes it again after a
// pause that doubles, not at every tick: a node logged the same error 100 times a second.
TEST_F(RoundMachineTest, AFailedInitialModelIsMadeAgainAfterAPauseThatDoubles) {
  RoundState rounds;
  RoundMachine m(proposing_two_rounds());
  View v = leader_without_config(rounds);
  v.holds = [](const std::string&) { return true; };
  auto jobs_at = [&](Millis now) {
    v.now = now;
    m.tick(v);
    return m.take().jobs;
  };
  auto fail = [&](const Job& job, Millis now) {
    v.now = now;
    JobResult r;
    r.id = job.id;
    r.ok = false;
    r.error = "cannot load the libtorch module";
    m.job_done(v, r);
    return m.take();
  };
  auto jobs = jobs_at(1000);
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_EQ(jobs[0].kind, JobKind::kInitialModel);
  RoundReady out = fail(jobs[0], 1000);
  ASSERT_EQ(out.logs.size(), 1u);
  EXPECT_NE(out.logs[0].text.find("trying again in 1000 ms"), std::string::npos) << out.logs[0].text;
  for (Millis t : {1010, 1500, 1999}) EXPECT_TRUE(jobs_at(t).empty()) << t;
  jobs = jobs_at(2000);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].kind, JobKind::kInitialModel);
  out = fail(jobs[0], 2000);
  EXPECT_NE(out.logs[0].text.find("trying again in 2000 ms"), std::string::npos) << out.logs[0].text;
  EXPECT_TRUE(jobs_at(3999).empty());
  jobs = jobs_at(4000);
  ASSERT_EQ(jobs.size(), 1u);
  for (int i = 0; i < 8; ++i) {
    out = fail(jobs[0], v.now);
    jobs = jobs_at(v.now + 30000);
    ASSERT_EQ(jobs.size(), 1u);
  }
  EXPECT_NE(out.logs[0].text.find("trying again in 30000 ms"), std::string::npos) << out.logs[0].text;
  // Made at last: pushed, as ever.
  JobResult made;
  made.id = jobs[0].id;
  made.model_id = kModel;
  m.job_done(v, made);
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  EXPECT_EQ(out.jobs[0].kind, JobKind::kPush);
}

TEST_F(RoundMachineTest, AnUpdateMustBeForTheCurrentAttemptFromAnInvitedTrainer) {
  RoundMachine m = collecting_leader();
  auto v = view(1, true, 1200);
  EXPECT_NE(m.offer_update(v, update(2, 7)).find("does not match"), std::string::npos);
  EXPECT_NE(m.offer_update(v, update(9, 1)).find("not a participant"), std::string::npos);
  UpdateOffer empty = update(2, 1);
  empty.samples = 0;
  EXPECT_NE(m.offer_update(v, empty), "");
  EXPECT_EQ(m.offer_update(v, update(2, 1)), "");
  EXPECT_EQ(m.offer_update(view(2, false, 1200), update(3, 1)), "this node is not aggregating");
}

// A participant that cannot train (its data or model does not fit) says so: the aggregator stops
// waiting for it and aggregates what came, long before the deadline; the decline is no update.
TEST_F(RoundMachineTest, ADeclinedParticipantIsNotWaitedFor) {
  RoundMachine m = collecting_leader();
  for (NodeId n : {2, 3}) ASSERT_EQ(m.offer_update(view(1, true, 1200), update(n, 1)), "");
  m.tick(view(1, true, 1300));
  EXPECT_TRUE(m.take().jobs.empty()) << "aggregated while a live participant was still training";
  UpdateOffer no = update(4, 1);
  no.id.clear();
  no.samples = 0;
  no.declined = "data.npz: not a readable .npz";
  EXPECT_EQ(m.offer_update(view(1, true, 1350), no), "");
  m.tick(view(1, true, 1400));
  RoundReady out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u) << "still waiting for a participant that declined";
  ASSERT_EQ(out.jobs[0].kind, JobKind::kAggregate);
  EXPECT_EQ(out.jobs[0].updates.size(), 2u);
  bool logged = false;
  for (const auto& l : out.logs) logged |= l.text.find("cannot train: data.npz") != std::string::npos;
  EXPECT_TRUE(logged);
}

// A trainer whose training fails tells the aggregator at once (an upload job carrying the reason).
TEST_F(RoundMachineTest, ATrainerWhoseTrainingFailsDeclines) {
  apply(RoundState::encode_start(start(1)));
  RoundMachine m(RoundSettings{});
  m.tick(view(2, false, 1000));
  RoundReady out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  ASSERT_EQ(out.jobs[0].kind, JobKind::kTrain);
  JobResult failed = JobResult::failed(out.jobs[0].id, "/home/alice/data.npz: row 7: not a number");
  failed.decline_reason = "its own data cannot be read (details in its log)";
  m.job_done(view(2, false, 1100), failed);
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  EXPECT_EQ(out.jobs[0].kind, JobKind::kUpload);
  EXPECT_EQ(out.jobs[0].upload.declined, "its own data cannot be read (details in its log)") << "no local path leaves the node";
  EXPECT_EQ(out.jobs[0].upload.samples, 0u);
  EXPECT_EQ(out.jobs[0].peers, std::vector<NodeId>{1});
}

// On each party's own data an aggregator that can train invites itself; on shared data, or
// without data of its own, it does not.
TEST_F(RoundMachineTest, OnItsOwnDataTheAggregatorInvitesItself) {
  for (bool own : {false, true}) {
    for (bool can_train : {false, true}) {
      RoundState rounds;
      RoundConfig c;
      c.rounds = 3;
      c.initial_model_id = kModel;
      if (own) c.dataset = "own";
      std::string cmd = RoundState::encode_config(c);
      auto h = bounded_unpack_one(cmd.data(), cmd.size());
      RoundEvent e;
      std::string why;
      ASSERT_TRUE(rounds.apply(h.get(), &e, &why).ok());
      RoundMachine m(RoundSettings{});
      View v = view(1, true, 1000);
      v.rounds = &rounds;
      v.can_train = can_train;
      m.tick(v);
      RoundReady out = m.take();
      ASSERT_EQ(out.proposals.size(), 1u);
      auto sh = bounded_unpack_one(out.proposals[0].command.data(), out.proposals[0].command.size());
      auto participants = sh.get().via.map.ptr[1].val.as<RoundStart>().participants;
      std::vector<NodeId> expected = own && can_train ? std::vector<NodeId>{1, 2, 3, 4} : std::vector<NodeId>{2, 3, 4};
      EXPECT_EQ(participants, expected) << "own " << own << " can_train " << can_train;
    }
  }
}

TEST_F(RoundMachineTest, TheCommitIsProposedOnlyOnceAMajorityHoldsTheModel) {
  RoundMachine m = collecting_leader();
  for (NodeId n : {2, 3, 4}) ASSERT_EQ(m.offer_update(view(1, true, 1200), update(n, 1)), "");
  m.tick(view(1, true, 1300));
  RoundReady out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  ASSERT_EQ(out.jobs[0].kind, JobKind::kAggregate);
  EXPECT_EQ(out.jobs[0].updates.size(), 3u);
  JobResult agg;
  agg.id = out.jobs[0].id;
  agg.model_id = std::string(64, 'c');
  m.job_done(view(1, true, 1400), agg);
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  ASSERT_EQ(out.jobs[0].kind, JobKind::kPush);
  EXPECT_EQ(out.jobs[0].enough, 2u);  // 4 voters: a majority is 3, this node included
  EXPECT_TRUE(out.proposals.empty());
  JobResult pushed;
  pushed.id = out.jobs[0].id;
  pushed.holders = 1;  // 2 of 4: not enough
  m.job_done(view(1, true, 1500), pushed);
  out = m.take();
  EXPECT_TRUE(out.proposals.empty());
  m.tick(view(1, true, 1600));  // before the back-off: nothing
  EXPECT_TRUE(m.take().jobs.empty());
  m.tick(view(1, true, 2100));
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  pushed.id = out.jobs[0].id;
  pushed.holders = 2;
  m.job_done(view(1, true, 2200), pushed);
  out = m.take();
  ASSERT_EQ(out.proposals.size(), 1u);
  EXPECT_EQ(out.proposals[0].kind, Proposal::Kind::kCommit);
}

// The commit does not wait for the test set: the committed model is evaluated next, beside the
// next round, and its metrics are proposed in their own entry; a failed evaluation is tried again
// after a pause; a leader that did not commit the round (a failover) evaluates what is missing.
TEST_F(RoundMachineTest, TheCommittedModelIsEvaluatedAfterTheCommitBesideTheNextRound) {
  RoundMachine m = collecting_leader();
  for (NodeId n : {2, 3, 4}) ASSERT_EQ(m.offer_update(view(1, true, 1200), update(n, 1)), "");
  m.tick(view(1, true, 1300));
  RoundReady out = m.take();
  ASSERT_EQ(out.jobs.at(0).kind, JobKind::kAggregate);
  JobResult agg;
  agg.id = out.jobs[0].id;
  agg.model_id = std::string(64, 'c');
  m.job_done(view(1, true, 1400), agg);
  out = m.take();
  ASSERT_EQ(out.jobs.at(0).kind, JobKind::kPush);
  JobResult pushed;
  pushed.id = out.jobs[0].id;
  pushed.holders = 2;
  m.job_done(view(1, true, 1500), pushed);
  out = m.take();
  ASSERT_EQ(out.proposals.size(), 1u);
  ASSERT_EQ(out.proposals[0].kind, Proposal::Kind::kCommit);
  EXPECT_TRUE(out.jobs.empty()) << "nothing runs between the push and the commit";
  apply(out.proposals[0].command);
  ASSERT_FALSE(rounds_.committed().back().evaluated);
  held_.insert(std::string(64, 'c'));
  m.applied(view(1, true, 1510), RoundEvent::kCommit, "");
  m.take();
  m.tick(view(1, true, 1520));
  out = m.take();
  const Job* evaluate = nullptr;
  bool next_start = false;
  for (const auto& j : out.jobs) {
    if (j.kind == JobKind::kEvaluate) evaluate = &j;
  }
  for (const auto& p : out.proposals) next_start |= p.kind == Proposal::Kind::kStart && p.round == 2;
  ASSERT_NE(evaluate, nullptr);
  EXPECT_TRUE(next_start) << "round 2 starts while round 1 is evaluated";
  EXPECT_EQ(evaluate->model_id, std::string(64, 'c'));
  EXPECT_EQ(evaluate->round, 1u);
  m.tick(view(1, true, 1530));
  for (const auto& j : m.take().jobs) EXPECT_NE(j.kind, JobKind::kEvaluate) << "one evaluation at a time";

  m.job_done(view(1, true, 1600), JobResult::failed(evaluate->id, "no test set"));
  out = m.take();
  ASSERT_EQ(out.logs.size(), 1u);
  EXPECT_NE(out.logs[0].text.find("evaluation failed: no test set"), std::string::npos);
  m.tick(view(1, true, 1700));
  for (const auto& j : m.take().jobs) EXPECT_NE(j.kind, JobKind::kEvaluate) << "retried before the pause";

  // Another leader (term 3) picks the evaluation up.
  RoundMachine next(RoundSettings{});
  auto v = view(4, true, 5000);
  v.raft.term = 3;
  next.tick(v);
  out = next.take();
  evaluate = nullptr;
  for (const auto& j : out.jobs) {
    if (j.kind == JobKind::kEvaluate) evaluate = &j;
  }
  ASSERT_NE(evaluate, nullptr);
  JobResult eval;
  eval.id = evaluate->id;
  eval.test_accuracy = 0.75;
  eval.test_loss = 0.6;
  next.job_done(v, eval);
  out = next.take();
  ASSERT_EQ(out.proposals.size(), 1u);
  EXPECT_EQ(out.proposals[0].kind, Proposal::Kind::kMetrics);
  apply(out.proposals[0].command);
  EXPECT_TRUE(rounds_.committed().back().evaluated);
  EXPECT_EQ(rounds_.committed().back().test_accuracy, 0.75);
  next.applied(v, RoundEvent::kMetrics, "");
  v.now = 5100;
  next.tick(v);
  for (const auto& j : next.take().jobs) EXPECT_NE(j.kind, JobKind::kEvaluate) << "evaluated twice";
}

// A new leader's re-run (which may not invite this node) or the round's commit supersedes the
// training under way: it is stopped rather than finished and uploaded for nobody.
TEST_F(RoundMachineTest, ASupersededAttemptsTrainingIsStopped) {
  apply(RoundState::encode_start(start(1)));
  RoundMachine m(RoundSettings{});
  m.tick(view(3, false, 1000));
  RoundReady out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  ASSERT_EQ(out.jobs[0].kind, JobKind::kTrain);
  EXPECT_EQ(m.training_key(), "1/2/1");
  RoundStart rerun = start(2);
  rerun.term = 3;
  rerun.attempt = 1;
  rerun.participants = {2, 4};  // not node 3
  apply(RoundState::encode_start(rerun));
  m.tick(view(3, false, 1100));
  out = m.take();
  EXPECT_TRUE(out.stop_training);
  EXPECT_EQ(m.training_key(), "");
  EXPECT_TRUE(out.jobs.empty());
}

TEST_F(RoundMachineTest, AResultOfAnOverAttemptIsDropped) {
  RoundMachine m = collecting_leader();
  for (NodeId n : {2, 3, 4}) ASSERT_EQ(m.offer_update(view(1, true, 1200), update(n, 1)), "");
  m.tick(view(1, true, 1300));
  RoundReady out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  auto deposed = view(1, false, 1350);
  m.tick(deposed);  // lost leadership: the round is dropped
  m.take();
  JobResult agg;
  agg.id = out.jobs[0].id;
  agg.model_id = std::string(64, 'c');
  m.job_done(view(1, true, 1400), agg);
  EXPECT_FALSE(m.has_ready()) << "a deposed aggregator's result went on";
}

TEST_F(RoundMachineTest, AFailedAggregationRunsTheRoundAgain) {
  RoundMachine m = collecting_leader();
  for (NodeId n : {2, 3, 4}) ASSERT_EQ(m.offer_update(view(1, true, 1200), update(n, 1)), "");
  m.tick(view(1, true, 1300));
  RoundReady out = m.take();
  m.job_done(view(1, true, 1400), JobResult::failed(out.jobs[0].id, "worker queue full"));
  out = m.take();
  ASSERT_EQ(out.notes.size(), 1u);
  EXPECT_EQ(out.notes[0].type, "round_rerun");
  EXPECT_FALSE(m.aggregating());
  m.tick(view(1, true, 1500));
  out = m.take();
  ASSERT_EQ(out.proposals.size(), 1u);
  EXPECT_EQ(out.proposals[0].kind, Proposal::Kind::kStart);
}

TEST_F(RoundMachineTest, ATrainerJudgesAStartStaleOnItsOwnClockOnly) {
  apply(RoundState::encode_start(start(1)));
  // Applied now: trains, whatever the leader's wall clock said (start_ms is 0 here).
  RoundMachine fresh(RoundSettings{});
  fresh.applied(view(2, false, 50'000), RoundEvent::kStart, "");
  fresh.tick(view(2, false, 50'010));
  RoundReady out = fresh.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  EXPECT_EQ(out.jobs[0].kind, JobKind::kTrain);
  EXPECT_EQ(fresh.training_key(), "1/2/1");
  // Applied longer ago than the deadline (a log being caught up on): does not train.
  RoundMachine late(RoundSettings{});
  late.applied(view(3, false, 50'000), RoundEvent::kStart, "");
  late.tick(view(3, false, 56'000));
  EXPECT_TRUE(late.take().jobs.empty());
  // Not invited: never trains.
  RoundMachine other(RoundSettings{});
  other.tick(view(5, false, 50'000));
  EXPECT_TRUE(other.take().jobs.empty());
}

TEST_F(RoundMachineTest, ATrainerWithoutTheBaseModelFetchesItFirstAndRetriesAfterAFailure) {
  held_.clear();
  apply(RoundState::encode_start(start(1)));
  RoundMachine m(RoundSettings{});
  m.applied(view(2, false, 1000), RoundEvent::kStart, "");
  m.tick(view(2, false, 1000));
  RoundReady out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  ASSERT_EQ(out.jobs[0].kind, JobKind::kFetch);
  EXPECT_EQ(out.jobs[0].peers.front(), 1u) << "the round's aggregator is asked first";
  m.job_done(view(2, false, 1100), JobResult::failed(out.jobs[0].id, "connection refused"));
  m.take();
  m.tick(view(2, false, 1200));
  EXPECT_TRUE(m.take().jobs.empty()) << "retried before the back-off";
  m.tick(view(2, false, 3200));
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  EXPECT_EQ(out.jobs[0].kind, JobKind::kFetch);
  JobResult ok;
  ok.id = out.jobs[0].id;
  ok.from = 1;
  m.job_done(view(2, false, 3300), ok);
  held_.insert(kModel);
  m.take();
  m.tick(view(2, false, 3400));
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  EXPECT_EQ(out.jobs[0].kind, JobKind::kTrain);
}

TEST_F(RoundMachineTest, AFailedUploadIsRetriedWithinTheDeadline) {
  apply(RoundState::encode_start(start(1)));
  RoundMachine m(RoundSettings{});
  m.applied(view(2, false, 1000), RoundEvent::kStart, "");
  m.tick(view(2, false, 1000));
  RoundReady out = m.take();
  JobResult trained;
  trained.id = out.jobs.at(0).id;
  trained.model_id = std::string(64, 'd');
  trained.trained = TrainerResult{2, 10, 0.5, 1.0};
  m.job_done(view(2, false, 2000), trained);
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  ASSERT_EQ(out.jobs[0].kind, JobKind::kUpload);
  EXPECT_EQ(out.jobs[0].peers, std::vector<NodeId>{1});
  EXPECT_EQ(out.jobs[0].upload.attempt, 1u);
  m.job_done(view(2, false, 2100), JobResult::failed(out.jobs[0].id, "timeout"));
  m.take();
  m.tick(view(2, false, 3200));
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  EXPECT_EQ(out.jobs[0].kind, JobKind::kUpload);
}

TEST_F(RoundMachineTest, ADeclaredSampleCountCannotTakeTheAverage) {
  RoundMachine m = collecting_leader();
  UpdateOffer greedy = update(2, 1);
  greedy.samples = std::uint64_t{1} << 63;
  EXPECT_NE(m.offer_update(view(1, true, 1200), greedy).find("more than"), std::string::npos);
  UpdateOffer nan = update(3, 1);
  nan.train_loss = std::nan("");
  EXPECT_NE(m.offer_update(view(1, true, 1200), nan), "");
}

TEST_F(RoundMachineTest, ARefusedUpdateDoesNotCountAndTooFewValidOnesRunTheRoundAgain) {
  RoundMachine m = collecting_leader();
  for (NodeId n : {2, 3, 4}) ASSERT_EQ(m.offer_update(view(1, true, 1200), update(n, 1)), "");
  m.tick(view(1, true, 1300));
  RoundReady out = m.take();
  ASSERT_EQ(out.jobs.at(0).model_id, kModel) << "the aggregate job names the base model to check against";
  JobResult agg;
  agg.id = out.jobs[0].id;
  agg.model_id = std::string(64, 'c');
  agg.refused = {{3, "parameter x holds a non-finite value"}, {4, "wrong shape"}};
  m.job_done(view(1, true, 1400), agg);
  out = m.take();
  int refused = 0, reruns = 0;
  for (const auto& n : out.notes) refused += n.type == "update_refused", reruns += n.type == "round_rerun";
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(reruns, 1) << "1 valid update is fewer than --min-clients 2";
  EXPECT_TRUE(out.jobs.empty());
}

TEST_F(RoundMachineTest, ARefusedUpdateIsLeftOutOfTheRecord) {
  RoundMachine m = collecting_leader();
  for (NodeId n : {2, 3, 4}) ASSERT_EQ(m.offer_update(view(1, true, 1200), update(n, 1)), "");
  m.tick(view(1, true, 1300));
  RoundReady out = m.take();
  JobResult agg;
  agg.id = out.jobs[0].id;
  agg.model_id = std::string(64, 'c');
  agg.refused = {{3, "non-finite"}};
  m.job_done(view(1, true, 1400), agg);
  out = m.take();
  ASSERT_EQ(out.jobs.size(), 1u);
  JobResult pushed;
  pushed.id = out.jobs[0].id;
  pushed.holders = 3;
  m.job_done(view(1, true, 1500), pushed);
  out = m.take();
  ASSERT_EQ(out.proposals.size(), 1u);
  auto h = bounded_unpack_one(out.proposals[0].command.data(), out.proposals[0].command.size());
  RoundRecord rec = h.get().via.map.ptr[1].val.as<RoundRecord>();
  ASSERT_EQ(rec.results.size(), 2u);
  for (const auto& r : rec.results) EXPECT_NE(r.node, 3u);
}

}  // namespace
}  // namespace fednode::fl

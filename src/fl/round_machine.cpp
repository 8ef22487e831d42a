#include "fednode/fl/round_machine.h"
#include "fednode/util/blob_id.h"

#include "fednode/raft/types.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fednode::fl {
namespace {

std::string hex(NodeId id) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(id));
  return buf;
}


bool invited(const RoundStart& s, NodeId id) {
  return std::binary_search(s.participants.begin(), s.participants.end(), id);
}

}  // namespace

const char* job_kind_name(JobKind kind) {
  switch (kind) {
    case JobKind::kInitialModel: return "initial-model";
    case JobKind::kFetch: return "fetch";
    case JobKind::kTrain: return "train";
    case JobKind::kUpload: return "upload";
    case JobKind::kAggregate: return "aggregate";
    case JobKind::kPush: return "push";
    case JobKind::kEvaluate: return "evaluate";
    case JobKind::kReportEvaluation: return "report-evaluation";
  }
  return "?";
}

std::string attempt_key(const RoundStart& s) {
  return std::to_string(s.round) + "/" + std::to_string(s.term) + "/" + std::to_string(s.attempt);
}

RoundMachine::RoundMachine(RoundSettings settings) : settings_(std::move(settings)) {}

RoundReady RoundMachine::take() {
  RoundReady out = std::move(out_);
  out_ = RoundReady{};
  return out;
}

std::uint64_t RoundMachine::submit(Job job) {
  job.id = ++next_job_;
  jobs_[job.id] = job;
  out_.jobs.push_back(std::move(job));
  return next_job_;
}

// ---- inputs -------------------------------------------------------------------------------------

void RoundMachine::tick(const View& v) {
  track_role(v);
  if (agg_ && (!v.raft.leader || agg_->term != v.raft.term)) {
    log(LogLine::Level::kInfo, "round " + std::to_string(agg_->start.round) + ": no longer leader, stopped aggregating");
    note({"stopped_aggregating", JsonLine().add("round", agg_->start.round).add("term", agg_->term), {}});
    agg_.reset();
  }
  if (config_work_ && (!v.raft.leader || config_work_->term != v.raft.term)) config_work_.reset();
  if (eval_ && (!v.raft.leader || eval_->term != v.raft.term)) eval_.reset();
  // Every node but the aggregator keeps a copy of the latest global model (a wiped node gets it
  // back here).
  const RoundState& rounds = *v.rounds;
  if (std::string last = rounds.last_model_id(); !last.empty() && !v.raft.leader && !v.holds(last)) {
    want_model(v, last, rounds.committed().empty() ? 0 : rounds.committed().back().aggregator);
  }
  if (v.raft.leader) {
    for (const auto& f : v.raft.followers) {
      if (f.active) heard_at_[f.id] = v.now;
    }
    lead(v);
    // Its own update goes to itself, like anyone's; only for an attempt it aggregates in this term.
    const auto& cur = v.rounds->current();
    if (aggregator_trains(v) && cur && cur->aggregator == v.raft.self && cur->term == v.raft.term) follow(v);
  } else {
    follow(v);
    evaluate_as_party(v);
  }
}

bool RoundMachine::aggregator_trains(const View& v) const {
  return v.can_train && v.rounds->config() && v.rounds->config()->dataset == "own";
}

void RoundMachine::applied(const View& v, RoundEvent event, const std::string& why) {
  switch (event) {
    case RoundEvent::kIgnored:
      if (!why.empty()) log(LogLine::Level::kDebug, "FL command ignored: " + why);
      return;
    case RoundEvent::kConfig:
      return;
    case RoundEvent::kStart:
      note_start_applied(v, *v.rounds->current());
      return;
    case RoundEvent::kCommit:
      rotate(v, v.rounds->committed().back());
      return;
    case RoundEvent::kMetrics:
      if (eval_ && v.rounds->last_metrics() && v.rounds->last_metrics()->round == eval_->round) eval_.reset();
      return;
  }
}

std::string RoundMachine::offer_update(const View& v, const UpdateOffer& u) {
  if (!agg_ || !v.raft.leader || agg_->term != v.raft.term) return "this node is not aggregating";
  Aggregation& a = *agg_;
  bool same_attempt = u.term == a.term && u.attempt == a.start.attempt;
  if (u.round != a.start.round || (!same_attempt && !settings_.bugs.accept_earlier_attempt)) {
    return "update for round " + std::to_string(u.round) + " attempt " + std::to_string(u.term) + "/" +
           std::to_string(u.attempt) + " does not match the round being aggregated";
  }
  if (a.phase != Phase::kCollecting) return "round " + std::to_string(u.round) + " no longer takes updates";
  if (!invited(a.start, u.node)) {
    return "node " + hex(u.node) + " is not a participant of round " + std::to_string(u.round);
  }
  if (!u.declined.empty()) {
    if (a.updates.count(u.node)) return "node " + hex(u.node) + " already sent its update";
    decliners_[u.node] = attempts_;
    if (a.declined.emplace(u.node, u.declined.substr(0, 400)).second) {
      log(LogLine::Level::kWarn, "round " + std::to_string(u.round) + ": node " + hex(u.node) + " cannot train: " +
                                     a.declined[u.node] + "; not waiting for it");
      note({"update_declined", JsonLine().add("round", u.round).add("reason", a.declined[u.node]), {{"from", u.node}}});
    }
    return "";
  }
  if (u.samples == 0) return "update with no samples";
  // A trainer declares its own sample count, which weighs its update: it cannot exceed the
  // training set (--train-limit) nor any real data set (2^32), so no update takes the average.
  const RoundConfig& c = *v.rounds->config();
  std::uint64_t most = c.train_limit > 0 ? c.train_limit : (std::uint64_t{1} << 32);
  if (u.samples > most) {
    return "update claims " + std::to_string(u.samples) + " samples, more than the " + std::to_string(most) +
           " the training set holds";
  }
  if (!std::isfinite(u.train_loss) || !std::isfinite(u.train_seconds)) return "update with a non-finite loss or time";
  a.updates[u.node] = {u.id, TrainerResult{u.node, u.samples, u.train_loss, u.train_seconds}};
  note({"update_received",
        JsonLine()
            .add("round", u.round)
            .add("samples", u.samples)
            .add("train_loss", u.train_loss)
            .add("train_seconds", u.train_seconds),
        {{"from", u.node}}});
  return "";
}

void RoundMachine::job_done(const View& v, const JobResult& r) {
  auto it = jobs_.find(r.id);
  if (it == jobs_.end()) return;
  Job job = std::move(it->second);
  jobs_.erase(it);
  if (!r.ok && settings_.bugs.drop_failed_jobs) return;
  switch (job.kind) {
    case JobKind::kInitialModel:
      if (config_work_ && config_work_->job == job.id && v.raft.leader && v.raft.term == job.term) on_initial_model(v, r);
      return;
    case JobKind::kPush:
      if (job.round == 0) {
        if (config_work_ && config_work_->job == job.id && v.raft.leader && v.raft.term == job.term) on_config_pushed(v, r);
      } else if (current(v, job.term, job.attempt) && agg_->job == job.id) {
        on_pushed(v, r);
      }
      return;
    case JobKind::kAggregate:
      if (current(v, job.term, job.attempt) && agg_->job == job.id) on_aggregated(v, r);
      return;
    case JobKind::kTrain:
      if (training_ && training_->job == job.id) on_trained(v, r);
      return;
    case JobKind::kUpload:
      if (training_ && training_->job == job.id) on_uploaded(v, r);
      return;
    case JobKind::kFetch:
      on_fetched(v, job, r);
      return;
    case JobKind::kEvaluate:
      if (party_eval_ && party_eval_->job == job.id) return on_party_evaluated(v, r);
      if (eval_ && eval_->job == job.id && v.raft.leader && v.raft.term == job.term) on_evaluated(v, r);
      return;
    case JobKind::kReportEvaluation:
      if (party_eval_ && party_eval_->job == job.id) {
        party_eval_->job = 0;
        // Taken, or refused upload_tries times by this leader: done until another leads.
        party_eval_->done = r.ok || party_eval_->reports >= settings_.timings.upload_tries;
        if (!party_eval_->done) party_eval_->retry_at = v.now + settings_.timings.upload_backoff;
      }
      return;
  }
}

void RoundMachine::proposal_refused(const View& v, const Proposal& p) {
  switch (p.kind) {
    case Proposal::Kind::kConfig:
      if (config_work_ && config_work_->term == p.term) config_work_.reset();  // again next tick
      return;
    case Proposal::Kind::kStart:
      if (agg_ && agg_->term == p.term && agg_->start.attempt == p.attempt) agg_.reset();
      return;
    case Proposal::Kind::kCommit:
      if (agg_ && agg_->term == p.term && agg_->start.attempt == p.attempt) {
        rerun("round_commit refused by Raft", v, 0);
      }
      return;
    case Proposal::Kind::kMetrics:
      if (eval_ && eval_->term == p.term && eval_->round == p.round) eval_.reset();  // again next tick
      return;
  }
}

// ---- roles --------------------------------------------------------------------------------------

void RoundMachine::track_role(const View& v) {
  if (v.raft.leader == was_leader_ && v.raft.term == last_term_) return;
  if (v.raft.leader && !was_leader_) {
    note({"became_leader", JsonLine().add("term", v.raft.term), {}});
    heard_at_.clear();
    leader_since_ = v.now;
    term_applied_at_.reset();
    if (training_) out_.stop_training = true;  // an aggregator does not train another's attempt
    training_.reset();
    decliners_.clear();
  } else if (!v.raft.leader && was_leader_) {
    note({"lost_leadership", JsonLine().add("term", v.raft.term), {}});
  }
  was_leader_ = v.raft.leader;
  last_term_ = v.raft.term;
}

// Followers Raft hears from: acknowledged an entry of this term and were active within the
// liveness window (activity is sampled at every tick; one sample is not enough).
std::vector<NodeId> RoundMachine::live_trainers(const View& v) const {
  std::vector<NodeId> live, without_decliners;
  if (aggregator_trains(v)) live.push_back(v.raft.self);
  for (const auto& f : v.raft.followers) {
    auto seen = heard_at_.find(f.id);
    if (f.acked_term && seen != heard_at_.end() && v.now - seen->second < settings_.timings.liveness_window) {
      live.push_back(f.id);
    }
  }
  // A participant that declined is left out of the next kDeclineAttempts attempts, unless the
  // others are too few for the run (then asking it again is the only way on).
  for (NodeId id : live) {
    auto d = decliners_.find(id);
    if (d == decliners_.end() || attempts_ >= d->second + kDeclineAttempts) without_decliners.push_back(id);
  }
  const auto& c = v.rounds->config();
  if (!c || without_decliners.size() == live.size()) return live;
  std::size_t n = without_decliners.size();
  std::size_t invited = c->clients_per_round > 0 ? std::min<std::size_t>(c->clients_per_round, n)
                                                 : static_cast<std::size_t>(std::ceil(std::clamp(c->fraction, 0.0, 1.0) * n));
  bool enough = n > 0 && n >= c->min_available && std::max<std::size_t>(invited, 1) >= c->min_clients;
  return enough ? without_decliners : live;
}

std::vector<NodeId> RoundMachine::voters_besides_self(const View& v) const {
  std::vector<NodeId> out;
  for (const auto& f : v.raft.followers) {
    if (!f.learner) out.push_back(f.id);
  }
  return out;
}

std::size_t RoundMachine::majority(const View& v) const { return raft::majority(voters_besides_self(v).size() + 1); }

bool RoundMachine::current(const View& v, std::uint64_t term, std::uint64_t attempt) const {
  return agg_ && agg_->term == term && agg_->start.attempt == attempt && v.raft.leader && v.raft.term == term;
}

std::optional<AggregationProgress> RoundMachine::progress(Millis now) const {
  if (!agg_) return std::nullopt;
  static const char* const kPhases[] = {"starting", "collecting", "aggregating", "pushing", "committing"};
  AggregationProgress p;
  p.round = agg_->start.round;
  p.phase = kPhases[static_cast<int>(agg_->phase)];
  p.updates = agg_->updates.size();
  p.invited = agg_->start.participants.size();
  p.elapsed = now >= agg_->begun ? now - agg_->begun : 0;
  return p;
}

// ---- aggregator ---------------------------------------------------------------------------------

void RoundMachine::lead(const View& v) {
  if (!v.raft.term_start_applied) return;
  const RoundState& rounds = *v.rounds;
  if (!rounds.config()) {
    if (settings_.proposed && settings_.proposed->rounds > 0) start_config(v);
    return;
  }
  config_work_.reset();
  evaluate_committed(v);
  if (rounds.done()) return;
  if (agg_) advance(v);
  // The round just committed (or given up) makes way for the next start in the same pass.
  if (!agg_ && v.now >= next_start_ && holds_round_inputs(v)) propose_start(v);
}

// An aggregator needs the base model and the server state committed with it; a new leader that
// lacks either (it was away when they were pushed) fetches them before inviting anyone.
bool RoundMachine::holds_round_inputs(const View& v) {
  const RoundState& rounds = *v.rounds;
  NodeId last = rounds.committed().empty() ? 0 : rounds.committed().back().aggregator;
  bool all = true;
  for (const std::string& id : {rounds.last_model_id(), rounds.last_server_state_id()}) {
    if (id.empty() || v.holds(id)) continue;
    want_model(v, id, last);
    all = false;
  }
  return all;
}

void RoundMachine::propose_start(const View& v) {
  const RoundState& rounds = *v.rounds;
  const RoundConfig& c = *rounds.config();
  // Raft knows who acknowledged the new term. A new leader waits up to the grace for followers that
  // have not (catching up, or still starting), except the previous aggregator when it has answered
  // nothing: this node leads because that one failed or was cut off, so it is waited for only as
  // long again as this node's majority took to acknowledge (at least --invite-wait-ms), and joins
  // the next round if it is alive after all. A previous aggregator that handed the term over
  // (rotation) is alive: it gets the grace like everyone else.
  if (!term_applied_at_) term_applied_at_ = v.now;
  Millis applied_at = *term_applied_at_;
  Millis linger = std::max(applied_at - leader_since_, settings_.timings.min_ack_linger);
  NodeId previous = rounds.current()               ? rounds.current()->aggregator
                    : rounds.committed().empty() ? 0
                                                 : rounds.committed().back().aggregator;
  bool waiting = std::any_of(v.raft.followers.begin(), v.raft.followers.end(), [&](const FollowerView& f) {
    if (f.acked_term) return false;
    if (f.id == previous && !f.heard && f.id != v.raft.handed_over_by) return v.now - applied_at < linger;
    return v.now - leader_since_ < settings_.timings.grace_for_new_term;
  });
  if (waiting) return;
  RoundStart s;
  s.round = rounds.last_round() + 1;
  std::vector<NodeId> live = live_trainers(v);
  s.participants = choose_participants(live, c.fraction, c.seed, s.round, c.clients_per_round);
  if (live.size() < c.min_available || s.participants.size() < c.min_clients) {
    if (waiting_logged_ == 0 || v.now - waiting_logged_ > 5000) {
      waiting_logged_ = v.now == 0 ? 1 : v.now;
      log(LogLine::Level::kInfo, "round " + std::to_string(s.round) + ": waiting for trainers (" +
                                     std::to_string(live.size()) + " live, " + std::to_string(s.participants.size()) +
                                     " would be invited; --min-available " + std::to_string(c.min_available) +
                                     ", --min-clients " + std::to_string(c.min_clients) + ")");
    }
    return;
  }
  s.term = v.raft.term;
  s.attempt = ++attempts_;
  s.base_model_id = rounds.last_model_id();
  s.aggregator = v.raft.self;
  s.deadline_ms = c.deadline_ms;
  s.start_ms = v.wall_ms;
  out_.proposals.push_back(
      {Proposal::Kind::kStart, s.round, s.term, s.attempt, RoundState::encode_start(s, v.rounds->deflates_commands())});
  agg_ = Aggregation{};
  agg_->term = s.term;
  agg_->start = s;
  agg_->since = v.now;
  agg_->begun = v.now;
  log(LogLine::Level::kInfo, "round " + std::to_string(s.round) + ": proposed round_start with " +
                                 std::to_string(s.participants.size()) + " participant(s)");
  out_.checkpoints.push_back({"start", s.round, true});
}

// The test metrics of committed rounds, oldest first, one at a time, while the rounds go on: the
// commit does not wait for them. A new leader picks up what its predecessor left. In a run on
// each party's own data the metrics also carry the parties' own evaluations (federated
// evaluation): the leader waits for every live trainer's, at most federated_wait.
void RoundMachine::evaluate_committed(const View& v) {
  const RoundRecord* r = v.rounds->first_unevaluated();
  if (eval_ && (!r || r->round != eval_->round)) eval_.reset();  // applied (by whichever leader)
  for (auto it = party_evals_.begin(); it != party_evals_.end() && (!r || it->first < r->round);) it = party_evals_.erase(it);
  if (eval_) {
    if (eval_->proposed && v.now - eval_->since > settings_.timings.proposal_patience) eval_.reset();
    if (eval_ && !eval_->proposed && eval_->own) propose_metrics(v);
    return;
  }
  if (!r || v.now < evaluate_retry_at_) return;
  const RoundConfig& c = *v.rounds->config();
  eval_ = Evaluation{v.raft.term, r->round, 0, false, v.now, std::nullopt, federated_run(v)};
  // --evaluate-every K: the rounds in between are recorded as not evaluated, at once.
  if (c.evaluate_every > 1 && r->round % c.evaluate_every != 0 && r->round != c.rounds) {
    eval_->own = JobResult{};
    eval_->parties = false;
    return propose_metrics(v);
  }
  // A leader that holds no test split of its own (or no data, or not the run's model file) in a
  // run on each party's own data: the parties' figures are the evaluation.
  if (federated_run(v) && !v.can_evaluate) {
    eval_->own = JobResult{};
    return propose_metrics(v);
  }
  if (!v.holds(r->model_id)) {
    eval_.reset();
    return want_model(v, r->model_id, r->aggregator);
  }
  Job job;
  job.kind = JobKind::kEvaluate;
  job.round = r->round;
  job.term = v.raft.term;
  job.model_id = r->model_id;
  job.config = c;
  eval_->job = submit(std::move(job));
}

void RoundMachine::on_evaluated(const View& v, const JobResult& r) {
  Evaluation& e = *eval_;
  if (!r.ok) {
    log(LogLine::Level::kWarn,
        "round " + std::to_string(e.round) + ": evaluation failed: " + r.error + "; trying again");
    evaluate_retry_at_ = v.now + settings_.timings.evaluate_backoff;
    eval_.reset();
    return;
  }
  e.own = r;
  propose_metrics(v);
}

bool RoundMachine::federated_run(const View& v) const {
  return v.rounds->config() && v.rounds->config()->dataset == "own";
}

void RoundMachine::propose_metrics(const View& v) {
  Evaluation& e = *eval_;
  const RoundRecord* rec = v.rounds->committed_round(e.round);
  if (!rec || rec->evaluated) return eval_.reset();
  const JobResult& own = *e.own;
  std::map<NodeId, PartyEval>& got = party_evals_[e.round];
  // Parties report the latest committed model only (and again to a new leader): older rounds
  // take what came.
  if (e.parties && e.round == v.rounds->last_round()) {
    bool all = true;
    for (NodeId id : live_trainers(v)) all &= id == v.raft.self || got.count(id) > 0;
    if (!all && v.now - e.since < settings_.timings.federated_wait) return;
  }
  bool regression = v.rounds->config()->task == "regression";
  RoundMetrics m{e.round, rec->model_id, own.test_loss, own.test_accuracy, own.test_mae, own.test_samples,
                 own.test_samples == 0, {}};
  if (e.parties) {
    if (own.test_samples > 0) {  // the aggregator is a party too
      got[v.raft.self] = PartyEval{v.raft.self, own.test_samples, own.test_loss, regression ? own.test_mae : own.test_accuracy};
    }
    for (const auto& [node, p] : got) {
      if (p.samples > 0) m.parties.push_back(p);
    }
  }
  out_.proposals.push_back(
      {Proposal::Kind::kMetrics, e.round, e.term, 0, RoundState::encode_metrics(m, v.rounds->deflates_commands())});
  e.proposed = true;
  e.since = v.now;
}

std::string RoundMachine::offer_evaluation(const View& v, const EvaluationOffer& o) {
  if (!v.raft.leader) return "this node is not the leader";
  const RoundRecord* rec = v.rounds->committed_round(o.round);
  if (!rec) return "round " + std::to_string(o.round) + " is not committed";
  if (rec->model_id != o.model_id) return "round " + std::to_string(o.round) + "'s model is not " + o.model_id.substr(0, 12);
  if (rec->evaluated) return "round " + std::to_string(o.round) + " is evaluated already";
  if (std::find(v.raft.members.begin(), v.raft.members.end(), o.party.node) == v.raft.members.end()) {
    return "node " + hex(o.party.node) + " is not a member";
  }
  const PartyEval& p = o.party;
  if (p.samples > 0) {
    if (std::string bad = check_party(p, v.rounds->config()->task); !bad.empty()) return bad;
  }
  party_evals_[o.round][p.node] = p;
  note({"party_evaluated",
        JsonLine().add("round", o.round).add("samples", p.samples).add("loss", p.loss).add("metric", p.metric),
        {{"from", p.node}}});
  return "";
}

void RoundMachine::advance(const View& v) {
  const RoundState& rounds = *v.rounds;
  Aggregation& a = *agg_;
  switch (a.phase) {
    case Phase::kStarting: {
      const auto& cur = rounds.current();
      if (cur && cur->term == a.term && cur->attempt == a.start.attempt) {
        a.phase = Phase::kCollecting;
        a.since = v.now;
        a.deadline = v.now + a.start.deadline_ms;
        out_.checkpoints.push_back({"training", a.start.round, false});
      } else if (v.now - a.since > settings_.timings.proposal_patience) {
        agg_.reset();  // the proposal was lost; propose again
      }
      return;
    }
    case Phase::kCollecting: {
      // Stop waiting for participants Raft no longer hears from.
      std::vector<NodeId> live = live_trainers(v);
      bool waiting = false;
      for (NodeId id : a.start.participants) {
        waiting |= !a.updates.count(id) && !a.declined.count(id) && std::find(live.begin(), live.end(), id) != live.end();
      }
      if (waiting && v.now < a.deadline) return;
      if (a.updates.size() < rounds.config()->min_clients) {
        return rerun(std::to_string(a.updates.size()) + " of " + std::to_string(a.start.participants.size()) +
                         " update(s) arrived, fewer than --min-clients " + std::to_string(rounds.config()->min_clients),
                     v, settings_.timings.rerun_pause);
      }
      return aggregate(v);
    }
    case Phase::kPushing:
      if (a.job == 0 && v.now >= a.push_retry_at) {
        push(v, a.record.model_id, a.record.server_state_id, a.start.round, a.term, a.start.attempt);
        a.job = next_job_;
      }
      return;
    case Phase::kCommitting:
      if (rounds.last_round() >= a.start.round || v.now - a.since > settings_.timings.proposal_patience) agg_.reset();
      return;
    case Phase::kAggregating:
      return;
  }
}

void RoundMachine::rerun(const std::string& why, const View& v, Millis pause) {
  log(LogLine::Level::kWarn, "round " + std::to_string(agg_->start.round) + ": " + why + "; running the round again");
  note({"round_rerun",
        JsonLine().add("round", agg_->start.round).add("updates", std::uint64_t{agg_->updates.size()}).add("reason", why),
        {}});
  agg_.reset();
  next_start_ = v.now + pause;
}

void RoundMachine::aggregate(const View& v) {
  Aggregation& a = *agg_;
  a.phase = Phase::kAggregating;
  // Its own training (if it trains and has not finished by now) would hold up the aggregation
  // on the same worker: it is too late for it anyway.
  if (training_ && training_->step != Training::Step::kDone) {
    out_.stop_training = true;
    training_.reset();
  }
  out_.checkpoints.push_back({"aggregating", a.start.round, false});
  Job job;
  job.kind = JobKind::kAggregate;
  job.round = a.start.round;
  job.term = a.term;
  job.attempt = a.start.attempt;
  job.config = *v.rounds->config();
  job.model_id = a.start.base_model_id;
  if (!settings_.bugs.fresh_server_state) job.state_id = v.rounds->last_server_state_id();
  for (const auto& [node, u] : a.updates) job.updates.push_back(u);
  log(LogLine::Level::kInfo, "round " + std::to_string(a.start.round) + ": aggregating " +
                                 std::to_string(a.updates.size()) + " update(s)");
  a.job = submit(std::move(job));
}

void RoundMachine::on_aggregated(const View& v, const JobResult& r) {
  Aggregation& a = *agg_;
  a.job = 0;
  if (!r.ok) return rerun("aggregation failed: " + r.error, v, 0);
  for (const auto& [node, why] : r.refused) {
    log(LogLine::Level::kWarn, "round " + std::to_string(a.start.round) + ": refused the update of " + hex(node) + ": " + why);
    note({"update_refused", JsonLine().add("round", a.start.round).add("reason", why), {{"from", node}}});
    a.updates.erase(node);
  }
  if (a.updates.size() < v.rounds->config()->min_clients) {
    return rerun(std::to_string(a.updates.size()) + " valid update(s), fewer than --min-clients " +
                     std::to_string(v.rounds->config()->min_clients),
                 v, settings_.timings.rerun_pause);
  }
  RoundRecord& rec = a.record;
  rec = RoundRecord{};
  rec.round = a.start.round;
  rec.term = a.term;
  rec.attempt = a.start.attempt;
  rec.model_id = r.model_id;
  rec.base_model_id = a.start.base_model_id;
  rec.base_state_id = v.rounds->last_server_state_id();
  rec.server_state_id = r.state_id;
  rec.aggregator = v.raft.self;
  rec.participants = a.start.participants;
  double loss = 0;
  std::uint64_t samples = 0;
  for (const auto& [node, u] : a.updates) {
    rec.results.push_back(u.second);
    loss += u.second.train_loss * static_cast<double>(u.second.samples);
    samples += u.second.samples;
  }
  rec.train_loss = samples ? loss / static_cast<double>(samples) : 0;
  rec.start_ms = a.start.start_ms;
  note({"aggregated",
        JsonLine()
            .add("round", rec.round)
            .add("model_id", rec.model_id)
            .add("updates", std::uint64_t{a.updates.size()})
            .add("seconds", r.seconds),
        {}});
  a.phase = Phase::kPushing;
  if (settings_.bugs.commit_before_majority) return propose_commit(v);
  push(v, rec.model_id, rec.server_state_id, rec.round, a.term, rec.attempt);
  a.job = next_job_;
}

// Stores a model (and the server state that goes with it) on voters until a majority, this node
// included, holds both.
void RoundMachine::push(const View& v, const std::string& model_id, const std::string& state_id, std::uint64_t round,
                        std::uint64_t term, std::uint64_t attempt) {
  Job job;
  job.kind = JobKind::kPush;
  job.model_id = model_id;
  job.state_id = state_id;
  job.round = round;
  job.term = term;
  job.attempt = attempt;
  job.peers = voters_besides_self(v);
  job.enough = majority(v) - 1;
  submit(std::move(job));
}

void RoundMachine::on_pushed(const View& v, const JobResult& r) {
  Aggregation& a = *agg_;
  a.job = 0;
  std::size_t needed = majority(v);
  if (r.ok) {
    note({"model_pushed",
          JsonLine()
              .add("model_id", a.record.model_id)
              .add("holders", std::uint64_t{r.holders + 1})
              .add("majority", std::uint64_t{needed}),
          {}});
  }
  if (!r.ok || r.holders + 1 < needed) {
    log(LogLine::Level::kWarn, "model " + short_id(a.record.model_id) + ": " +
                                   (r.ok ? "only " + std::to_string(r.holders + 1) + " of " + std::to_string(needed) +
                                               " voters hold it"
                                         : "push failed: " + r.error) +
                                   "; pushing again");
    a.push_retry_at = v.now + settings_.timings.push_backoff;
    return;
  }
  out_.checkpoints.push_back({"pushed", a.start.round, false});
  propose_commit(v);
}

void RoundMachine::propose_commit(const View& v) {
  Aggregation& a = *agg_;
  a.record.end_ms = v.wall_ms;
  out_.proposals.push_back({Proposal::Kind::kCommit, a.start.round, a.term, a.start.attempt,
                            RoundState::encode_commit(a.record, v.rounds->deflates_commands())});
  a.phase = Phase::kCommitting;
  a.since = v.now;
}

// Fair rotation: the next voter (by id, wrapping) that Raft hears from takes over.
void RoundMachine::rotate(const View& v, const RoundRecord& r) {
  if (!v.raft.leader || settings_.rotate_every == 0 || r.round % settings_.rotate_every != 0 || v.rounds->done()) return;
  std::vector<NodeId> voters = voters_besides_self(v);
  voters.push_back(v.raft.self);
  std::sort(voters.begin(), voters.end());
  auto me = static_cast<std::size_t>(std::find(voters.begin(), voters.end(), v.raft.self) - voters.begin());
  for (std::size_t k = 1; k < voters.size(); ++k) {
    NodeId next = voters[(me + k) % voters.size()];
    auto f = std::find_if(v.raft.followers.begin(), v.raft.followers.end(),
                          [&](const FollowerView& x) { return x.id == next; });
    if (f == v.raft.followers.end() || !f->active) continue;
    out_.transfer_to = next;
    note({"rotate", JsonLine().add("round", r.round), {{"to", next}}});
    return;
  }
}

}  // namespace fednode::fl

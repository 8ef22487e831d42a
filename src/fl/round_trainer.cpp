// RoundMachine, the trainer's side: an applied round_start that names this node -> the base
// model -> training -> the upload, with retries until the attempt's local deadline.
#include <algorithm>

#include "fednode/fl/round_machine.h"
#include "fednode/util/blob_id.h"

namespace fednode::fl {

// ---- trainer ------------------------------------------------------------------------------------

// The first time this node sees a round attempt (applied from the log, or restored from a
// snapshot) starts its local clock for that attempt's deadline.
void RoundMachine::note_start_applied(const View& v, const RoundStart& s) {
  std::string key = attempt_key(s);
  if (key == applied_start_key_) return;
  applied_start_key_ = key;
  applied_start_at_ = v.now;
}

void RoundMachine::follow(const View& v) {
  const RoundState& rounds = *v.rounds;
  const auto& s = rounds.current();
  // Another attempt (one this node may not be invited to) or the round's commit supersedes the
  // training under way: nobody takes its update any more.
  if (training_ && training_->step != Training::Step::kDone && (!s || attempt_key(*s) != training_->key)) {
    if (training_->step != Training::Step::kWaitingForBase) out_.stop_training = true;
    training_.reset();
  }
  if (!s || !rounds.config() || !std::binary_search(s->participants.begin(), s->participants.end(), v.raft.self)) return;
  std::string key = attempt_key(*s);
  if (training_ && training_->key == key) return continue_training(v);
  note_start_applied(v, *s);
  bool stale = settings_.bugs.trust_remote_wall_clock ? v.wall_ms > s->start_ms + s->deadline_ms
                                                      : v.now - applied_start_at_ > s->deadline_ms;
  if (stale) return;  // catching up on the log: that attempt is over
  if (training_) out_.stop_training = true;  // a newer attempt supersedes it
  training_ = Training{};
  training_->start = *s;
  training_->key = key;
  auto position = std::find(s->participants.begin(), s->participants.end(), v.raft.self) - s->participants.begin();
  log(LogLine::Level::kInfo, "round " + std::to_string(s->round) + ": training as participant " +
                                 std::to_string(position + 1) + " of " + std::to_string(s->participants.size()));
  note({"training", JsonLine().add("round", s->round).add("attempt", s->attempt), {}});
  continue_training(v);
}

void RoundMachine::continue_training(const View& v) {
  Training& t = *training_;
  bool expired = v.now - applied_start_at_ > t.start.deadline_ms;
  switch (t.step) {
    case Training::Step::kWaitingForBase: {
      if (!v.holds(t.start.base_model_id)) {
        if (expired) {
          log(LogLine::Level::kWarn, "round " + std::to_string(t.start.round) + ": base model " +
                                         short_id(t.start.base_model_id) + " not obtained before the deadline");
          t.step = Training::Step::kDone;
          return;
        }
        return want_model(v, t.start.base_model_id, t.start.aggregator);
      }
      Job job;
      job.kind = JobKind::kTrain;
      job.round = t.start.round;
      job.term = t.start.term;
      job.attempt = t.start.attempt;
      job.model_id = t.start.base_model_id;
      job.start = t.start;
      job.config = *v.rounds->config();
      t.job = submit(std::move(job));
      t.step = Training::Step::kTraining;
      return;
    }
    case Training::Step::kWaitingToUpload:
      if (v.now >= t.retry_at) upload();
      return;
    case Training::Step::kTraining:
    case Training::Step::kUploading:
    case Training::Step::kDone:
      return;
  }
}

void RoundMachine::on_trained(const View& v, const JobResult& r) {
  Training& t = *training_;
  t.job = 0;
  if (!r.ok) {
    log(LogLine::Level::kError, "round " + std::to_string(t.start.round) + ": training failed: " + r.error);
    note({"training_failed", JsonLine().add("round", t.start.round).add("reason", r.error), {}});
    // The aggregator hears it at once instead of waiting until the deadline; the reason it is
    // given names no local path, file or sample (the full error stays in this node's log).
    std::string reason = r.decline_reason.empty() ? "its training failed (details in its log)" : r.decline_reason;
    t.update = UpdateOffer{"", t.start.round, t.start.term, t.start.attempt, v.raft.self, 0, 0, 0, reason};
    return upload();
  }
  note({"trained",
        JsonLine()
            .add("round", t.start.round)
            .add("samples", r.trained.samples)
            .add("train_loss", r.trained.train_loss)
            .add("seconds", r.trained.train_seconds),
        {}});
  t.update = UpdateOffer{r.model_id,          t.start.round,      t.start.term,
                         t.start.attempt,     v.raft.self,        r.trained.samples,
                         r.trained.train_loss, r.trained.train_seconds, ""};
  upload();
}

void RoundMachine::upload() {
  Training& t = *training_;
  Job job;
  job.kind = JobKind::kUpload;
  job.round = t.start.round;
  job.term = t.start.term;
  job.attempt = t.start.attempt;
  job.peers = {t.start.aggregator};
  job.upload = t.update;
  t.job = submit(std::move(job));
  t.step = Training::Step::kUploading;
  ++t.uploads;
}

void RoundMachine::on_uploaded(const View& v, const JobResult& r) {
  Training& t = *training_;
  t.job = 0;
  std::string round = "round " + std::to_string(t.start.round);
  if (r.ok) {
    log(LogLine::Level::kInfo, round + (t.update.declined.empty() ? ": update uploaded to the aggregator"
                                                                   : ": told the aggregator this node cannot train"));
    t.step = Training::Step::kDone;
    return;
  }
  bool in_time = v.now - applied_start_at_ <= t.start.deadline_ms;
  if (t.uploads < settings_.timings.upload_tries && in_time) {
    log(LogLine::Level::kWarn, round + ": upload failed: " + r.error + "; trying again");
    t.step = Training::Step::kWaitingToUpload;
    t.retry_at = v.now + settings_.timings.upload_backoff;
    return;
  }
  log(LogLine::Level::kWarn, round + ": upload failed: " + r.error + "; giving up on this attempt");
  note({"upload_failed", JsonLine().add("round", t.start.round).add("reason", r.error), {}});
  t.step = Training::Step::kDone;
}

// Who may hold a model: the preferred peer (the round's aggregator), then the aggregators of
// committed rounds (latest first), then every other member.
std::vector<NodeId> RoundMachine::sources(const View& v, NodeId preferred) const {
  std::vector<NodeId> out;
  auto add = [&](NodeId id) {
    if (id != 0 && id != v.raft.self && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  };
  // A committed model is on a majority of voters. A learner starts at a voter picked by its own
  // id, so that dozens of learners spread their fetches over the voters instead of all asking
  // the aggregator; a voter that does not hold it yet answers at once and the next is tried.
  const auto& voters = v.raft.voters;
  if (!voters.empty() && std::find(voters.begin(), voters.end(), v.raft.self) == voters.end()) {
    std::size_t first = static_cast<std::size_t>(v.raft.self % voters.size());
    for (std::size_t i = 0; i < voters.size(); ++i) add(voters[(first + i) % voters.size()]);
  }
  add(preferred);
  const auto& done = v.rounds->committed();
  for (auto it = done.rbegin(); it != done.rend(); ++it) add(it->aggregator);
  for (NodeId id : v.raft.members) add(id);
  return out;
}

void RoundMachine::want_model(const View& v, const std::string& id, NodeId preferred) {
  if (fetching_.count(id)) return;
  if (auto retry = fetch_retry_at_.find(id); retry != fetch_retry_at_.end() && v.now < retry->second) return;
  std::vector<NodeId> from = sources(v, preferred);
  if (from.empty()) return;
  Job job;
  job.kind = JobKind::kFetch;
  job.model_id = id;
  job.peers = std::move(from);
  fetching_[id] = submit(std::move(job));
}

void RoundMachine::on_fetched(const View& v, const Job& job, const JobResult& r) {
  auto it = fetching_.find(job.model_id);
  if (it != fetching_.end() && it->second == job.id) fetching_.erase(it);
  if (r.ok) {
    fetch_retry_at_.erase(job.model_id);
    note({"model_fetched", JsonLine().add("model_id", job.model_id), {{"from", r.from}}});
    // A trainer waiting for this base model starts at once, not at the next tick.
    // (Through follow(), which first checks that the attempt is still the current one.)
    if (training_ && training_->step == Training::Step::kWaitingForBase && training_->start.base_model_id == job.model_id &&
        !v.raft.leader) {
      follow(v);
    }
    return;
  }
  fetch_retry_at_[job.model_id] = v.now + settings_.timings.fetch_backoff;
  log(LogLine::Level::kWarn, "model " + short_id(job.model_id) + ": fetch failed: " + r.error + "; trying again in " +
                                 std::to_string(settings_.timings.fetch_backoff) + " ms");
}

}  // namespace fednode::fl

namespace fednode::fl {

// ---- a party's own evaluation of each committed model (federated evaluation) -------------------

// A follower that holds a test split of its own evaluates the latest committed model (once it
// holds it; the tick fetches it) and reports loss, metric and samples to the leader, which puts
// them in the round's metrics. Older rounds a node catches up on are not evaluated: only the
// latest is.
void RoundMachine::evaluate_as_party(const View& v) {
  const RoundState& rounds = *v.rounds;
  if (!federated_run(v) || rounds.committed().empty() || v.raft.leader_id == 0) return;
  const RoundRecord& last = rounds.committed().back();
  if (party_eval_ && party_eval_->round == last.round) {
    PartyEvaluation& p = *party_eval_;
    if (last.evaluated || p.job != 0 || !p.evaluated || v.now < p.retry_at) return;
    if (p.reported_to != v.raft.leader_id || !p.done) report_party_evaluation(v);  // a new leader is told too
    return;
  }
  if (party_eval_ && party_eval_->job != 0 && !party_eval_->evaluated) return;  // an older evaluation still runs
  const RoundConfig& c = *rounds.config();
  bool skipped = c.evaluate_every > 1 && last.round % c.evaluate_every != 0 && last.round != c.rounds;
  if (last.evaluated || skipped) return;
  party_eval_ = PartyEvaluation{last.round, last.model_id, 0, PartyEval{v.raft.self, 0, 0, 0}, false, 0, 0, 0, false};
  if (!v.can_evaluate) {  // nothing to add: say so, so that the leader does not wait for it
    party_eval_->evaluated = true;
    return report_party_evaluation(v);
  }
  if (!v.holds(last.model_id)) {
    party_eval_.reset();  // the tick fetches it
    return;
  }
  Job job;
  job.kind = JobKind::kEvaluate;
  job.round = last.round;
  job.model_id = last.model_id;
  job.config = c;
  party_eval_->job = submit(std::move(job));
}

void RoundMachine::on_party_evaluated(const View& v, const JobResult& r) {
  PartyEvaluation& p = *party_eval_;
  p.job = 0;
  p.evaluated = true;
  if (!r.ok) {
    log(LogLine::Level::kWarn, "round " + std::to_string(p.round) + ": evaluating the committed model on this node's "
                                   "test split failed: " + r.error);
  } else if (r.test_samples > 0) {
    bool regression = v.rounds->config() && v.rounds->config()->task == "regression";
    p.figures = PartyEval{v.raft.self, r.test_samples, r.test_loss, regression ? r.test_mae : r.test_accuracy};
  }
  report_party_evaluation(v);
}

void RoundMachine::report_party_evaluation(const View& v) {
  PartyEvaluation& p = *party_eval_;
  if (v.raft.leader_id == 0 || v.raft.leader_id == v.raft.self) return;
  if (p.reported_to != v.raft.leader_id) {  // a new leader: it gets its own tries
    p.reported_to = v.raft.leader_id;
    p.reports = 0;
    p.done = false;
  }
  Job job;
  job.kind = JobKind::kReportEvaluation;
  job.round = p.round;
  job.model_id = p.model_id;
  job.peers = {v.raft.leader_id};
  job.report = EvaluationOffer{p.round, p.model_id, p.figures};
  p.job = submit(std::move(job));
  ++p.reports;
}

}  // namespace fednode::fl

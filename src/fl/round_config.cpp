// RoundMachine, the run configuration: a leader that finds none in the log makes the initial
// model, has it stored on a majority of voters, and only then proposes the configuration naming
// it, like every later model.
#include "fednode/fl/round_machine.h"

#include <algorithm>
#include "fednode/util/blob_id.h"

#include "fednode/raft/types.h"

namespace fednode::fl {

// The initial model is made here, stored on a majority of voters, and only then named in the
// configuration, like every later model.
void RoundMachine::start_config(const View& v) {
  if (!config_work_) {
    config_work_ = ConfigWork{};
    config_work_->term = v.raft.term;
    config_work_->config = *settings_.proposed;
    Job job;
    job.kind = JobKind::kInitialModel;
    job.term = v.raft.term;
    job.config = config_work_->config;
    config_work_->job = submit(std::move(job));
    return;
  }
  ConfigWork& w = *config_work_;
  if (w.job == 0 && w.config.initial_model_id.empty()) {  // the last attempt failed
    if (v.now < w.retry_at) return;
    Job job;
    job.kind = JobKind::kInitialModel;
    job.term = v.raft.term;
    job.config = w.config;
    w.job = submit(std::move(job));
    return;
  }
  if (w.proposed) {
    if (v.now - w.proposed_at > settings_.timings.proposal_patience) config_work_.reset();
    return;
  }
  if (w.job == 0 && !w.config.initial_model_id.empty() && v.now >= w.push_retry_at) {
    push(v, w.config.initial_model_id, "", 0, v.raft.term, 0);
    w.job = next_job_;
  }
}

void RoundMachine::on_initial_model(const View& v, const JobResult& r) {
  ConfigWork& w = *config_work_;
  if (!r.ok) {
    Millis pause = settings_.timings.initial_model_backoff;
    for (int i = 0; i < w.failures && pause < settings_.timings.initial_model_backoff_max; ++i) pause *= 2;
    pause = std::min(pause, settings_.timings.initial_model_backoff_max);
    ++w.failures;
    w.job = 0;
    w.retry_at = v.now + pause;
    log(LogLine::Level::kError, "initial model: " + r.error + " (trying again in " + std::to_string(pause) + " ms)");
    return;
  }
  w.config.initial_model_id = r.model_id;
  w.config.model_layout = r.model_layout;
  push(v, r.model_id, "", 0, v.raft.term, 0);
  w.job = next_job_;
}

void RoundMachine::on_config_pushed(const View& v, const JobResult& r) {
  ConfigWork& w = *config_work_;
  w.job = 0;
  std::size_t needed = majority(v);
  if (!r.ok || r.holders + 1 < needed) {
    log(LogLine::Level::kWarn, "initial model " + short_id(w.config.initial_model_id) + ": " +
                                   (r.ok ? "held by " + std::to_string(r.holders + 1) + " of " + std::to_string(needed)
                                         : r.error) +
                                   "; pushing again");
    w.push_retry_at = v.now + settings_.timings.push_backoff;
    return;
  }
  if (v.rounds->config()) return;
  RoundConfig c = w.config;
  if (v.raft.members_read_deflated_commands) c.command_encoding = "deflate";
  log(LogLine::Level::kInfo, "proposing the run configuration: " + std::to_string(c.rounds) + " rounds of " + c.model +
                                 " on " + c.dataset + ", initial model " + short_id(c.initial_model_id));
  out_.proposals.push_back({Proposal::Kind::kConfig, 0, v.raft.term, 0, RoundState::encode_config(c)});
  w.proposed = true;
  w.proposed_at = v.now;
}

}  // namespace fednode::fl

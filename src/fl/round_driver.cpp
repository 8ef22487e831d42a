#include "fednode/fl/round_driver.h"

namespace fednode::fl {

RoundDriver::RoundDriver(RoundSettings settings, RoundShell& shell, JobExecutor& executor)
    : machine_(settings), shell_(shell), executor_(executor),
      stop_training_late_(settings.bugs.shell_stops_training_after_jobs) {}

void RoundDriver::tick() {
  if (stopped_) return;
  machine_.tick(shell_.view());
  carry_out();
}

void RoundDriver::applied(RoundEvent event, const std::string& why) {
  if (stopped_) return;
  machine_.applied(shell_.view(), event, why);
  carry_out();
}

void RoundDriver::job_done(const JobResult& result) {
  if (stopped_) return;
  machine_.job_done(shell_.view(), result);
  carry_out();  // a result's consequences before anything else happens
}

std::string RoundDriver::offer_update(const UpdateOffer& offer) {
  if (stopped_) return "this node is not aggregating";
  return machine_.offer_update(shell_.view(), offer);
}

std::string RoundDriver::offer_evaluation(const EvaluationOffer& offer) {
  if (stopped_) return "this node is not aggregating";
  return machine_.offer_evaluation(shell_.view(), offer);
}

void RoundDriver::carry_out() {
  // Reached again from inside (the flush applied entries): the loop below takes what that made.
  if (carrying_out_) return;
  carrying_out_ = true;
  while (machine_.has_ready() && !stopped_) {
    RoundReady out = machine_.take();
    if (!carry_out_one(out)) break;
  }
  carrying_out_ = false;
}

// False: the shell went down at a crash point.
bool RoundDriver::carry_out_one(RoundReady& out) {
  for (const auto& line : out.logs) shell_.log(line);
  for (const auto& note : out.notes) shell_.note(note);
  for (const auto& c : out.checkpoints) {
    if (!c.after_proposals && !shell_.checkpoint(c)) return false;
  }
  bool proposed = false;
  for (const auto& p : out.proposals) {
    if (shell_.propose(p)) {
      proposed = true;
    } else {
      machine_.proposal_refused(shell_.view(), p);
    }
  }
  if (proposed) shell_.flush();
  for (const auto& c : out.checkpoints) {
    if (c.after_proposals && !shell_.checkpoint(c)) return false;
  }
  if (out.stop_training && !stop_training_late_) executor_.stop_training();
  for (const auto& job : out.jobs) executor_.run(job);
  if (out.stop_training && stop_training_late_) executor_.stop_training();
  if (out.transfer_to) shell_.transfer_leadership(*out.transfer_to);
  return true;
}

}  // namespace fednode::fl

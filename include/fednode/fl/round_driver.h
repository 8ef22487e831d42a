#pragma once
// RoundDriver: the one place that feeds the round machine its inputs and carries out what it
// asks, in the order the protocol needs: logs and notes, crash points, proposals to Raft (a
// refused one goes back to the machine), a flush so Raft persists and sends them, the crash
// points after proposals, stopping a superseded training, the jobs, a leadership hand-over.
//
// It runs wherever the round runs, through two interfaces (this project's Env, in the spirit
// of LevelDB's): RoundShell gives it the view (Raft, the applied rounds, the model store, the
// clocks) and takes its outputs; JobExecutor runs its jobs. The node's shell is the
// RoleController with worker threads; the FL simulation's is a simulated Raft with a seeded,
// deterministic executor. Both therefore run this code, and the simulation's injected shell bug
// (RoundBugs::shell_stops_training_after_jobs) is one the simulation must catch.
#include <string>

#include "fednode/fl/round_machine.h"

namespace fednode::fl {

class RoundShell {
 public:
  virtual ~RoundShell() = default;
  virtual View view() = 0;
  virtual void log(const LogLine& line) = 0;
  virtual void note(const RoundNote& note) = 0;
  // A crash-injection point. False: the shell is going down here; the driver stops at once.
  virtual bool checkpoint(const Checkpoint& point) = 0;
  // Hands a round command to Raft; false when Raft refused it (not leader, overloaded).
  virtual bool propose(const Proposal& proposal) = 0;
  // After a batch's proposals: Raft persists and sends them. Entries this applies come back
  // through RoundDriver::applied (re-entering the driver, which finishes its batch first).
  virtual void flush() = 0;
  virtual void transfer_leadership(NodeId to) = 0;
};

class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  // Every job's outcome, failures included (a full queue, a job that threw, a failed
  // transfer), comes back through RoundDriver::job_done: nothing is lost silently.
  virtual void run(const Job& job) = 0;
  // The machine gave up the training under way (a superseded attempt): end it and its upload.
  virtual void stop_training() = 0;
};

class RoundDriver {
 public:
  RoundDriver(RoundSettings settings, RoundShell& shell, JobExecutor& executor);

  // After every Raft Ready and on the shell's timer.
  void tick();
  // After an FL command was applied (kIgnored with `why`: it did not fit the state).
  void applied(RoundEvent event, const std::string& why);
  void job_done(const JobResult& result);
  // An update or a party's evaluation that reached this node: "" taken, else why not. The shell
  // ticks soon after (not from inside: the offer may come from a data-plane thread's handler).
  std::string offer_update(const UpdateOffer& offer);
  std::string offer_evaluation(const EvaluationOffer& offer);
  // From now on nothing is carried out (the node is stopping).
  void stop() { stopped_ = true; }

  const RoundMachine& machine() const { return machine_; }

 private:
  void carry_out();
  bool carry_out_one(RoundReady& out);

  RoundMachine machine_;
  RoundShell& shell_;
  JobExecutor& executor_;
  bool stop_training_late_ = false;  // RoundBugs::shell_stops_training_after_jobs
  bool carrying_out_ = false;
  bool stopped_ = false;
};

}  // namespace fednode::fl

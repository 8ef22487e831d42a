#pragma once
// RoundMachine: every decision of the federated round, as a pure state machine in the manner of
// the Raft core. No threads, sockets, files or clocks: its inputs are values (a view of Raft,
// the applied round state, which models this node holds, the local monotonic time, received
// updates, the results of jobs); its outputs are collected in a RoundReady that the owner takes
// and carries out: proposals for the log, jobs to run (make the initial model, fetch, train,
// upload, aggregate, push, evaluate), events, log lines, a leadership transfer. Each job is
// tagged with the round, term and attempt it serves; a result that arrives after its attempt is
// over is dropped here. Deadlines are local monotonic times this machine stores, never another
// machine's clock.
//
// The leader is the aggregator: it agrees the run configuration, proposes round_start, collects
// updates, aggregates, has the new model stored on a majority of voters and only then proposes
// round_commit; it evaluates the committed model while the next round runs and proposes its
// test metrics in their own entry. Followers are trainers: on an applied round_start that names
// them they obtain the base model, train and upload their update to the aggregator.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fednode/fl/round_state.h"
#include "fednode/util/json_line.h"

namespace fednode::fl {

using NodeId = std::uint64_t;
using Millis = std::uint64_t;  // this node's monotonic clock; meaningless on another machine

struct FollowerView {
  NodeId id = 0;
  bool learner = false;
  bool acked_term = false;  // matched an entry of the leader's current term
  bool active = false;      // Raft heard from it since its last check
  bool heard = false;       // it answered anything since this node became leader
};

struct RaftView {
  NodeId self = 0;
  bool leader = false;
  NodeId leader_id = 0;  // the leader this node knows of (0: none)
  std::uint64_t term = 0;
  bool term_start_applied = false;      // leader: its first entry of this term is applied
  NodeId handed_over_by = 0;            // leader: who transferred it this term (0: an election)
  std::vector<FollowerView> followers;  // leader only
  std::vector<NodeId> members;          // voters and learners, as the applied state knows them
  std::vector<NodeId> voters;           // the voters among them (Raft's configuration)
  // Every other member runs a version that reads deflated round commands (the daemon: each has
  // sent this node packed peer datagrams); the configuration a leader proposes then asks for them.
  bool members_read_deflated_commands = false;
};

// Everything an input may look at. `rounds` is the applied replicated state.
struct View {
  RaftView raft;
  const RoundState* rounds = nullptr;
  std::function<bool(const std::string& model_id)> holds;  // the local model store has it
  Millis now = 0;
  std::uint64_t wall_ms = 0;  // Unix ms, only for the display stamps in round records
  // This node holds its own data and its first batch went through the model. In a run on each
  // party's own data (dataset "own") an aggregator that can train invites itself too: otherwise
  // the data of whichever party leads would never be learnt from.
  bool can_train = false;
  // This node holds a test split of its own: in a run on each party's own data it evaluates every
  // committed model on it and reports to the leader (federated evaluation).
  bool can_evaluate = false;
};

// A party's evaluation of a committed model, as it reaches the leader (the data plane's notice).
// samples 0: this party has nothing to add (no test split, or its evaluation failed).
struct EvaluationOffer {
  std::uint64_t round = 0;
  std::string model_id;
  PartyEval party;
};

// A trainer's update as it reaches the aggregator (the data plane's notice).
struct UpdateOffer {
  std::string id;  // content hash of the update blob, already stored here
  std::uint64_t round = 0, term = 0, attempt = 0;
  NodeId node = 0;
  std::uint64_t samples = 0;
  double train_loss = 0, train_seconds = 0;
  // Non-empty: the trainer cannot train this attempt, and why (its data or model does not fit,
  // its model file is not the run's). The aggregator stops waiting for it; no update comes.
  std::string declined;
};

enum class JobKind { kInitialModel, kFetch, kTrain, kUpload, kAggregate, kPush, kEvaluate, kReportEvaluation };
const char* job_kind_name(JobKind kind);

struct Job {
  std::uint64_t id = 0;
  JobKind kind = JobKind::kFetch;
  std::uint64_t round = 0, term = 0, attempt = 0;  // what it serves (0 where nothing)
  std::string model_id;       // fetch, push: the blob; train, aggregate: the base model;
                              // evaluate: the model
  std::string state_id;       // aggregate: the committed server state to continue ("" none); push: a
                              // second blob (the new state), held with the model by every holder
  std::vector<NodeId> peers;  // fetch: sources, best first; push: voters; upload: the aggregator
  std::size_t enough = 0;     // push: peers that must hold it besides this node
  RoundConfig config;         // initial model, train, aggregate, evaluate
  RoundStart start;           // train
  std::vector<std::pair<std::string, TrainerResult>> updates;  // aggregate: (update id, result)
  UpdateOffer upload;         // upload
  EvaluationOffer report;     // report-evaluation: to peers[0], the leader
};

struct JobResult {
  std::uint64_t id = 0;
  bool ok = true;
  std::string error;
  std::string model_id;   // initial model, aggregate: the new model; train: the update's id
  std::string state_id;   // aggregate: the new server state ("" for stateless aggregators)
  TrainerResult trained;  // train
  double test_loss = 0, test_accuracy = 0, test_mae = 0;  // evaluate
  std::uint64_t test_samples = 0;                          // evaluate (0: no test split here)
  std::string model_layout;  // initial model: its weights' names and shapes (a TorchScript model)
  std::string decline_reason;  // train, failed: what the aggregator is told (nothing local in it)
  double seconds = 0;                       // aggregate, evaluate
  std::size_t holders = 0;  // push: peers that hold the blob now, besides this node
  NodeId from = 0;          // fetch: the peer it came from
  std::vector<std::pair<NodeId, std::string>> refused;  // aggregate: updates left out, and why
  static JobResult failed(std::uint64_t id, std::string why) {
    JobResult r;
    r.id = id;
    r.ok = false;
    r.error = std::move(why);
    return r;
  }
};

struct Proposal {
  enum class Kind { kConfig, kStart, kCommit, kMetrics };
  Kind kind = Kind::kStart;
  std::uint64_t round = 0, term = 0, attempt = 0;
  std::string command;  // RoundState::encode_*
};

struct RoundNote {  // an entry for the node's events file
  std::string type;
  JsonLine fields;
  std::vector<std::pair<std::string, NodeId>> nodes;  // fields naming a peer, written as HOST:PORT
};

struct LogLine {
  enum class Level { kDebug, kInfo, kWarn, kError };
  Level level = Level::kInfo;
  std::string text;
};

// A fault-injection point reached (tests: --crash-at POINT:ROUND). `after_proposals`: the
// owner persists and sends this batch's proposals first.
struct Checkpoint {
  std::string point;
  std::uint64_t round = 0;
  bool after_proposals = false;
};

struct RoundReady {
  std::vector<Proposal> proposals;
  std::vector<Job> jobs;
  std::vector<RoundNote> notes;
  std::vector<LogLine> logs;
  std::vector<Checkpoint> checkpoints;
  std::optional<NodeId> transfer_to;
  bool stop_training = false;  // abandon the training job under way
  bool empty() const {
    return proposals.empty() && jobs.empty() && notes.empty() && logs.empty() && checkpoints.empty() &&
           !transfer_to && !stop_training;
  }
};

struct RoundTimings {
  Millis liveness_window = 1000;   // a follower heard within this is a live trainer
  Millis grace_for_new_term = 300;  // a new leader waits at most this long for followers to acknowledge its term
  Millis min_ack_linger = 5;        // ... but for the previous aggregator, silent, only this long (or as long
                                    // as its majority took, if longer)
  Millis proposal_patience = 10000;
  Millis rerun_pause = 1000;
  Millis fetch_backoff = 2000;
  Millis push_backoff = 500;
  Millis initial_model_backoff = 1000;       // after a failed initial model, doubled each time ...
  Millis initial_model_backoff_max = 30000;  // ... up to this
  Millis upload_backoff = 1000;
  Millis evaluate_backoff = 2000;  // after a failed evaluation (no test set, say)
  Millis federated_wait = 10000;   // the longest a leader waits for the parties' evaluations of a model
  int upload_tries = 3;
};

// Switches that inject known bugs, so the FL simulation shows that it catches them. Never set
// outside tests.
struct RoundBugs {
  bool commit_before_majority = false;   // propose round_commit without the push's majority
  bool accept_earlier_attempt = false;   // take an update of the round whatever its attempt
  bool trust_remote_wall_clock = false;  // judge a start stale by the leader's start_ms
  bool drop_failed_jobs = false;         // a failed job's result is ignored
  bool fresh_server_state = false;       // aggregate from a zero server state, not the committed one
  // In the shell (RoundDriver): a batch's jobs start before the training it stops is stopped, so
  // a re-run's new training is stopped with the old one.
  bool shell_stops_training_after_jobs = false;
};

struct RoundSettings {
  std::optional<RoundConfig> proposed;  // what this node proposes as leader (none: it never does)
  std::uint64_t rotate_every = 0;       // hand leadership on after every K committed rounds
  RoundTimings timings;
  RoundBugs bugs;
};

// Where the round this node aggregates stands, for live views (ctl watch).
struct AggregationProgress {
  std::uint64_t round = 0;
  std::string phase;  // starting | collecting | aggregating | pushing | committing
  std::size_t updates = 0, invited = 0;
  Millis elapsed = 0;  // since this node proposed the round's start
};

class RoundMachine {
 public:
  explicit RoundMachine(RoundSettings settings);

  // After every Raft Ready and on a timer: acts on role changes, phases, deadlines, retries.
  void tick(const View& view);
  // After an FL command was applied (kIgnored with `why`: it did not fit the state).
  void applied(const View& view, RoundEvent event, const std::string& why);
  // An update offered on the data plane: "" when accepted, else why it is refused.
  std::string offer_update(const View& view, const UpdateOffer& update);
  // A party's evaluation of a committed model: "" when taken, else why not.
  std::string offer_evaluation(const View& view, const EvaluationOffer& offer);
  // A job's outcome, failures included (a full queue, a crash of the job, a failed transfer).
  void job_done(const View& view, const JobResult& result);
  // Raft refused a proposal this machine asked for (not leader any more, overloaded).
  void proposal_refused(const View& view, const Proposal& proposal);

  RoundReady take();
  bool has_ready() const { return !out_.empty(); }

  // For status and the simulation's checks.
  bool aggregating() const { return agg_.has_value(); }
  std::optional<AggregationProgress> progress(Millis now) const;
  std::string training_key() const { return training_ ? training_->key : ""; }

 private:
  enum class Phase { kStarting, kCollecting, kAggregating, kPushing, kCommitting };
  struct Aggregation {
    std::uint64_t term = 0;
    RoundStart start;
    Phase phase = Phase::kStarting;
    Millis since = 0, deadline = 0;
    Millis begun = 0;  // proposed the start
    std::map<NodeId, std::pair<std::string, TrainerResult>> updates;
    std::map<NodeId, std::string> declined;  // participants that cannot train, and why
    RoundRecord record;
    std::uint64_t job = 0;      // the aggregate or push job under way
    Millis push_retry_at = 0;   // kPushing without a job: push again then
  };
  struct Training {
    RoundStart start;
    std::string key;
    enum class Step { kWaitingForBase, kTraining, kUploading, kWaitingToUpload, kDone } step = Step::kWaitingForBase;
    std::uint64_t job = 0;
    UpdateOffer update;
    int uploads = 0;
    Millis retry_at = 0;
  };
  struct Evaluation {
    std::uint64_t term = 0;
    std::uint64_t round = 0;
    std::uint64_t job = 0;
    bool proposed = false;
    Millis since = 0;
    std::optional<JobResult> own;  // this node's evaluation, done; then the parties' are awaited
    bool parties = false;           // the metrics carry (and wait for) the parties' evaluations
  };
  struct PartyEvaluation {  // this node, as a party, evaluating a committed model
    std::uint64_t round = 0;
    std::string model_id;
    std::uint64_t job = 0;
    PartyEval figures;
    bool evaluated = false;
    int reports = 0;
    Millis retry_at = 0;
    NodeId reported_to = 0;  // the leader the reports go to (a new leader is told again)
    bool done = false;       // that leader took it, or refused it upload_tries times
  };
  struct ConfigWork {
    std::uint64_t term = 0;
    std::uint64_t job = 0;
    RoundConfig config;
    Millis push_retry_at = 0;
    bool proposed = false;
    Millis proposed_at = 0;
    // A failed initial model (the libtorch module or the model file missing, say) is made again
    // after a pause that doubles each time, up to initial_model_backoff_max, not at every tick.
    int failures = 0;
    Millis retry_at = 0;
  };

  void track_role(const View& v);
  void lead(const View& v);
  void start_config(const View& v);
  void propose_start(const View& v);
  void advance(const View& v);
  void evaluate_committed(const View& v);
  void on_evaluated(const View& v, const JobResult& r);
  void propose_metrics(const View& v);
  bool federated_run(const View& v) const;
  void evaluate_as_party(const View& v);
  void on_party_evaluated(const View& v, const JobResult& r);
  void report_party_evaluation(const View& v);
  void aggregate(const View& v);
  void push(const View& v, const std::string& model_id, const std::string& state_id, std::uint64_t round,
            std::uint64_t term, std::uint64_t attempt);
  bool holds_round_inputs(const View& v);
  void propose_commit(const View& v);
  void rerun(const std::string& why, const View& v, Millis pause);
  void follow(const View& v);
  void continue_training(const View& v);
  void note_start_applied(const View& v, const RoundStart& s);
  void upload();
  void want_model(const View& v, const std::string& id, NodeId preferred);
  void rotate(const View& v, const RoundRecord& committed);
  void on_aggregated(const View& v, const JobResult& r);
  void on_pushed(const View& v, const JobResult& r);
  void on_config_pushed(const View& v, const JobResult& r);
  void on_trained(const View& v, const JobResult& r);
  void on_uploaded(const View& v, const JobResult& r);
  void on_fetched(const View& v, const Job& job, const JobResult& r);
  void on_initial_model(const View& v, const JobResult& r);

  std::vector<NodeId> live_trainers(const View& v) const;
  bool aggregator_trains(const View& v) const;
  std::size_t majority(const View& v) const;
  std::vector<NodeId> voters_besides_self(const View& v) const;
  std::vector<NodeId> sources(const View& v, NodeId preferred) const;
  bool current(const View& v, std::uint64_t term, std::uint64_t attempt) const;
  std::uint64_t submit(Job job);
  void note(RoundNote n) { out_.notes.push_back(std::move(n)); }
  void log(LogLine::Level level, std::string text) { out_.logs.push_back({level, std::move(text)}); }

  RoundSettings settings_;
  RoundReady out_;
  std::uint64_t next_job_ = 0;
  std::map<std::uint64_t, Job> jobs_;  // under way: what each serves, to judge its result

  bool was_leader_ = false;
  std::uint64_t last_term_ = 0;
  Millis leader_since_ = 0;
  std::optional<Millis> term_applied_at_;  // when this leader's first entry was seen applied
  std::map<NodeId, Millis> heard_at_;
  std::optional<Aggregation> agg_;
  std::uint64_t attempts_ = 0;
  std::optional<ConfigWork> config_work_;
  std::optional<Evaluation> eval_;
  std::optional<PartyEvaluation> party_eval_;
  std::map<std::uint64_t, std::map<NodeId, PartyEval>> party_evals_;  // leader: round -> the parties' figures
  // Leader: participants that declined, and the attempt counter then; not invited again for
  // kDeclineAttempts attempts (else a fixed choice of decliners could stall the run for good).
  std::map<NodeId, std::uint64_t> decliners_;
  static constexpr std::uint64_t kDeclineAttempts = 5;
  Millis evaluate_retry_at_ = 0;
  Millis next_start_ = 0;
  Millis waiting_logged_ = 0;

  std::optional<Training> training_;
  std::string applied_start_key_;
  Millis applied_start_at_ = 0;
  std::map<std::string, std::uint64_t> fetching_;  // model id -> job
  std::map<std::string, Millis> fetch_retry_at_;
};

std::string attempt_key(const RoundStart& s);

}  // namespace fednode::fl

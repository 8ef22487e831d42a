#pragma once
// RoleController: the federated-learning roles, on the control loop. The leader is the
// aggregator: it agrees the run configuration through the log, proposes round_start, collects
// updates on the data plane, has the worker thread aggregate and evaluate, stores the new model
// on a majority of voters and only then proposes round_commit. Followers are trainers: on a
// committed round_start that names them they fetch the base model, train on the worker thread
// and upload their update to the aggregator. Every decision is taken from the replicated round
// state plus Raft's own view (role, term, which followers answer), so a new leader simply
// resumes from the last committed round. Blocking work runs on two threads: `compute`
// (libtorch) and `transfer` (data-plane client calls); results come back with asio::post and
// are dropped when the term or attempt they belong to is over.
#include <asio.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fednode/app/cli.h"
#include "fednode/app/event_log.h"
#include "fednode/app/model_push.h"
#include "fednode/app/worker_thread.h"
#include "fednode/fl/model_store.h"
#include "fednode/fl/round_state.h"
#include "fednode/net/channel_counters.h"
#include "fednode/net/data_plane.h"
#include "fednode/raft/node.h"

namespace fednode {

// What the controller needs from the daemon that owns Raft; it never touches the node itself.
class RaftHost {
 public:
  virtual ~RaftHost() = default;
  virtual raft::NodeId self_id() const = 0;
  virtual raft::Role role() const = 0;
  virtual raft::Term term() const = 0;
  // Leader only: the index of its first entry of this term, and whether it is applied (then the
  // replicated state is current and followers that matched it answer in this term).
  virtual raft::Index term_start_index() const = 0;
  virtual bool term_start_applied() const = 0;
  virtual bool propose(const std::string& command) = 0;
  virtual void flush() = 0;  // persist and send what the last input produced, now
  virtual std::vector<raft::FollowerStatus> followers() const = 0;
  virtual std::string address_of(raft::NodeId id) const = 0;  // HOST:PORT, "" if unknown
  virtual std::vector<raft::NodeId> member_ids() const = 0;   // voters and learners
  virtual bool transfer_leadership(raft::NodeId to) = 0;
  virtual const fl::RoundState& rounds() const = 0;
  virtual void add_traffic(JsonLine* line) const = 0;  // per-channel counters, for events
};

class RoleController {
 public:
  RoleController(asio::io_context& io, RaftHost& host, const NodeOptions& options,
                 EventLog& events);
  ~RoleController();
  RoleController(const RoleController&) = delete;
  RoleController& operator=(const RoleController&) = delete;

  Status start();  // model store and data-plane listener
  void stop();     // stops training at the next batch, refuses updates
  // After an FL command was applied (or ignored, with the reason).
  void on_round_event(fl::RoundEvent event, const std::string& why);
  // After every Ready and on its own timer: acts on role changes and round phases.
  void poll();

  net::ChannelCounters data_counters() const;  // server side + this node's client calls
  std::uint16_t data_port() const { return server_.port(); }
  bool has_model(const std::string& id) const { return store_.has(id); }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { kStarting, kCollecting, kAggregating, kPushing, kCommitting };
  struct Update {
    std::string model_id;
    fl::TrainerResult result;
  };
  struct Aggregation {
    raft::Term term = 0;
    fl::RoundStart start;
    Phase phase = Phase::kStarting;
    Clock::time_point since, deadline;
    std::map<raft::NodeId, Update> updates;
    fl::RoundRecord record;
  };
  struct Workspace;  // compute-thread-only data set cache

  void lead();
  void propose_config();
  void propose_start();
  void advance_round();
  void aggregate();
  void replicate(const std::string& model_id, std::function<void(std::size_t holders)> then);
  void propose_commit();
  void retry_replicate(const std::string& model_id, std::function<void(std::size_t holders)> then);
  void run_job(WorkerThread& worker, WorkerThread::Job job, WorkerThread::Failure failed);
  void follow();
  void note_start_applied(const fl::RoundStart& start);
  void train(const fl::RoundStart& start);
  void fetch_model(const std::string& id, raft::NodeId preferred);
  std::string on_update(const net::UpdateNotice& notice);
  bool current(raft::Term term, std::uint64_t attempt) const;
  std::vector<std::uint64_t> live_trainers() const;
  std::size_t voter_count() const;
  std::vector<std::string> data_sources(raft::NodeId preferred) const;
  std::string dataset_dir(const std::string& dataset) const;
  void count(const net::TransferStats& stats);
  void maybe_crash(const char* point, std::uint64_t round);
  void schedule_poll();

  asio::io_context& io_;
  RaftHost& host_;
  NodeOptions opt_;
  EventLog& events_;
  fl::ModelStore store_;
  net::DataPlaneServer server_;
  net::ChannelCounters client_counters_;
  std::shared_ptr<LateTransferCounters> late_ =
      std::make_shared<LateTransferCounters>();  // pushes that outlived their wait
  asio::steady_timer poll_timer_;
  std::shared_ptr<Workspace> workspace_;
  std::shared_ptr<std::atomic<std::uint64_t>> train_generation_;
  std::unique_ptr<WorkerThread> compute_;
  // A trainer's fetches and uploads; a new aggregator's model pushes get a thread of their own,
  // so that they never queue behind an upload to a deposed aggregator that is timing out.
  std::unique_ptr<WorkerThread> transfer_;
  std::unique_ptr<WorkerThread> push_;

  raft::Role last_role_ = raft::Role::kFollower;
  raft::Term last_term_ = 0;
  std::optional<Aggregation> agg_;
  std::uint64_t attempts_ = 0;
  raft::Term config_term_ = 0;  // term in which this node is preparing the configuration
  Clock::time_point waiting_logged_;
  Clock::time_point next_start_;
  Clock::time_point leader_since_;  // pause after a round had to be run again
  std::map<raft::NodeId, Clock::time_point> last_heard_;
  std::string training_key_;  // the round attempt this node trains (or trained) for
  // When this node applied the current round_start, on its own monotonic clock: a start older
  // than its deadline is stale (catching up on the log). Never compared with another machine's
  // clock: the leader's start_ms is for display only.
  std::string applied_start_key_;
  Clock::time_point applied_start_at_;
  std::set<std::string> fetching_;
  std::map<std::string, Clock::time_point> fetch_retry_at_;
  bool stopped_ = false;
};

}  // namespace fednode

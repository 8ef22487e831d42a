#pragma once
// RoleController: the node's shell around the round driver (fl/round_driver.h), on the control
// loop. It gives the driver its view (Raft, the applied rounds, the local model store, the
// monotonic clock) and the node's means of carrying out what the round machine asks: proposals
// through Raft, jobs on worker threads (compute: initial model, training, aggregation; transfer:
// fetches and uploads; push: model replication; evaluate: the committed models' test metrics),
// log lines, events, leadership transfers, crash-injection points. Every job's outcome comes
// back as an input, failures included (a full queue, a job that throws): nothing is lost
// silently. It decides nothing itself; the order of carrying out is the driver's, which the FL
// simulation runs too.
#include <asio.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "fednode/app/cli.h"
#include "fednode/app/event_log.h"
#include "fednode/app/fl_metrics.h"
#include "fednode/app/round/job_threads.h"
#include "fednode/app/raft_host.h"
#include "fednode/app/round/round_jobs.h"
#include "fednode/fl/model_store.h"
#include "fednode/fl/round_driver.h"
#include "fednode/net/channel_counters.h"
#include "fednode/net/data_plane.h"

namespace fednode {

// What the wiring (peer_daemon_start.cpp) builds and hands to the role controller: the model
// store (initialised), the data-plane server (listening), the job threads, this node's own model
// and data.
struct RoundServices {
  fl::ModelStore& store;
  net::DataPlaneServer& server;
  JobThreads& jobs;
  LocalSource local;
};

class RoleController : private fl::RoundShell {
 public:
  RoleController(asio::io_context& io, RaftHost& host, const NodeOptions& options, EventLog& events,
                 RoundServices services);
  ~RoleController();
  RoleController(const RoleController&) = delete;
  RoleController& operator=(const RoleController&) = delete;

  Status start();  // takes the data plane's updates, prepares this node's model and data, polls
  void stop();     // stops training at the next batch, refuses updates, ignores late results
  // After an FL command was applied (or ignored, with the reason).
  void on_round_event(fl::RoundEvent event, const std::string& why);
  // After every Ready and on its own timer.
  void poll();

  net::ChannelCounters data_counters() const;  // server side + this node's client calls
  std::uint16_t data_port() const { return server_.port(); }
  bool has_model(const std::string& id) const { return store_.has(id); }
  const FlMetrics& fl_metrics() const { return metrics_; }
  std::optional<fl::AggregationProgress> progress() const;
  std::uint64_t model_store_bytes() const { return store_.stored_bytes(); }
  // This node's own model and data: what the first batch showed, or why they cannot be used.
  const std::optional<Preparation>& local_ready() const { return local_ready_; }
  const std::string& local_error() const { return local_error_; }
  const LocalSource& local_source() const { return local_; }

 private:
  // fl::RoundShell
  fl::View view() override;
  void log(const fl::LogLine& line) override;
  void note(const fl::RoundNote& note) override;
  bool checkpoint(const fl::Checkpoint& point) override;
  bool propose(const fl::Proposal& proposal) override { return host_.propose(proposal.command); }
  void flush() override { host_.flush(); }
  void transfer_leadership(fl::NodeId to) override;

  void report(const JobOutcome& outcome);
  std::string on_update(const net::UpdateNotice& notice);
  std::vector<PeerRef> peers(const std::vector<fl::NodeId>& ids) const;
  std::string data_prologue() const;
  void schedule_poll();
  void prepare();
  void check_run_model();

  asio::io_context& io_;
  RaftHost& host_;
  NodeOptions opt_;
  EventLog& events_;
  fl::ModelStore& store_;
  net::DataPlaneServer& server_;
  JobThreads& jobs_;
  LocalSource local_;
  fl::RoundDriver driver_;
  FlMetrics metrics_;
  asio::steady_timer poll_timer_;
  std::optional<Preparation> local_ready_;
  std::string local_error_;
  bool stopped_ = false;
};

}  // namespace fednode

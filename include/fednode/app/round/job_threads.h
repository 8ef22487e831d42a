#pragma once
// JobThreads: the node's fl::JobExecutor. The round machine's jobs run on four worker threads
// (compute: initial model, training, aggregation; transfer: fetches, uploads, evaluation
// reports; push: model replication, on a thread of its own so that it never queues behind an
// upload to a deposed aggregator that is timing out; evaluate: beside the next round, never in
// front of its aggregation), as the functions of round_jobs.h. Every outcome comes back on the
// control loop through the report callback, failures included (a full queue, a job that throws).
#include <asio.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fednode/app/round/round_jobs.h"
#include "fednode/app/round/worker_thread.h"
#include "fednode/fl/attack.h"
#include "fednode/fl/model_store.h"
#include "fednode/fl/round_driver.h"
#include "fednode/net/channel_counters.h"
#include "fednode/net/data_plane.h"

namespace fednode {

class JobThreads : public fl::JobExecutor {
 public:
  // Where the peers a job names are, and the sealed calls they expect (from the membership).
  using PeerLookup = std::function<std::vector<PeerRef>(const std::vector<fl::NodeId>& ids)>;
  JobThreads(asio::io_context& io, fl::ModelStore store, LocalSource local, fl::Attack attack);
  ~JobThreads() override;  // joins: a running training sees its generation change and ends
  JobThreads(const JobThreads&) = delete;
  JobThreads& operator=(const JobThreads&) = delete;

  // Set before the first job: who this node is, where peers are, where outcomes go.
  void connect(fl::NodeId self, PeerLookup peers, std::function<void(const JobOutcome&)> report);
  void run(const fl::Job& job) override;
  void stop_training() override { ++*train_generation_; }
  // From now on outcomes are dropped and the training under way stops at its next batch.
  void stop();

  // Work outside the round (preparing this node's data and model): on the compute thread.
  bool submit_compute(WorkerThread::Job work, WorkerThread::Failure failed) {
    return compute_->submit(std::move(work), std::move(failed));
  }
  const std::shared_ptr<DatasetCache>& training_sets() const { return datasets_; }
  // Bytes this node's calls moved (the server's side is the DataPlaneServer's).
  net::ChannelCounters client_counters() const;

 private:
  void submit(WorkerThread& worker, const fl::Job& job, std::function<JobOutcome()> work);
  void finished(const JobOutcome& outcome);
  std::function<bool()> training_abandoned() const;

  asio::io_context& io_;
  fl::ModelStore store_;
  LocalSource local_;
  fl::Attack attack_;
  fl::NodeId self_ = 0;
  PeerLookup peers_;
  std::function<void(const JobOutcome&)> report_;
  bool stopped_ = false;
  net::ChannelCounters client_counters_;
  std::shared_ptr<LateTransferCounters> late_ = std::make_shared<LateTransferCounters>();
  std::shared_ptr<DatasetCache> datasets_ = std::make_shared<DatasetCache>();        // compute_'s
  std::shared_ptr<DatasetCache> test_sets_ = std::make_shared<DatasetCache>(false);  // evaluate_'s
  // Bumped to stop the training job under way (and its upload).
  std::shared_ptr<std::atomic<std::uint64_t>> train_generation_ = std::make_shared<std::atomic<std::uint64_t>>(0);
  std::map<std::string, std::shared_ptr<const std::string>> updates_;  // trained, not yet uploaded
  std::unique_ptr<WorkerThread> compute_, transfer_, push_, evaluate_;
};

}  // namespace fednode

#include "fednode/app/round/job_threads.h"

namespace fednode {

JobThreads::JobThreads(asio::io_context& io, fl::ModelStore store, LocalSource local, fl::Attack attack)
    : io_(io),
      store_(std::move(store)),
      local_(std::move(local)),
      attack_(attack),
      compute_(std::make_unique<WorkerThread>(io, 16)),
      transfer_(std::make_unique<WorkerThread>(io, 64)),
      push_(std::make_unique<WorkerThread>(io, 16)),
      evaluate_(std::make_unique<WorkerThread>(io, 4)) {}

JobThreads::~JobThreads() {
  stop();
  compute_.reset();
  transfer_.reset();
  push_.reset();
  evaluate_.reset();
}

void JobThreads::connect(fl::NodeId self, PeerLookup peers, std::function<void(const JobOutcome&)> report) {
  self_ = self;
  peers_ = std::move(peers);
  report_ = std::move(report);
}

void JobThreads::stop() {
  stopped_ = true;
  ++*train_generation_;
}

std::function<bool()> JobThreads::training_abandoned() const {
  return [gen = train_generation_, generation = train_generation_->load()] { return *gen != generation; };
}

void JobThreads::run(const fl::Job& job) {
  fl::ModelStore store = store_;
  switch (job.kind) {
    case fl::JobKind::kInitialModel:
      return submit(*compute_, job, [job, store, local = local_] { return make_initial_model(job, local, store); });
    case fl::JobKind::kFetch:
      return submit(*transfer_, job, [job, store, from = peers_(job.peers)] { return fetch_model(job, from, store); });
    case fl::JobKind::kTrain:
      return submit(*compute_, job, [job, store, self = self_, local = local_, data = datasets_, attack = attack_,
                                     abandoned = training_abandoned()] {
        return train_update(job, self, local, store, *data, abandoned, attack);
      });
    case fl::JobKind::kUpload: {
      auto to = peers_(job.peers);
      PeerRef aggregator = to.empty() ? PeerRef{} : to.front();
      auto it = updates_.find(job.upload.id);
      std::shared_ptr<const std::string> bytes = it == updates_.end() ? nullptr : it->second;
      return submit(*transfer_, job, [job, aggregator, bytes, abandoned = training_abandoned()] {
        return upload_update(job, aggregator, bytes, abandoned);
      });
    }
    case fl::JobKind::kAggregate:
      return submit(*compute_, job, [job, store] { return aggregate_updates(job, store); });
    case fl::JobKind::kEvaluate:
      return submit(*evaluate_, job, [job, store, local = local_, tests = test_sets_] {
        return evaluate_model(job, local, store, *tests);
      });
    case fl::JobKind::kReportEvaluation: {
      auto to = peers_(job.peers);
      PeerRef leader = to.empty() ? PeerRef{} : to.front();
      return submit(*transfer_, job, [job, leader] { return report_evaluation(job, leader); });
    }
    case fl::JobKind::kPush:
      return submit(*push_, job, [job, store, voters = peers_(job.peers), late = late_] {
        return push_model(job, voters, store, late);
      });
  }
}

// Nothing handed to a worker is lost: a full queue or a job that throws comes back as a failed
// result, like any other outcome.
void JobThreads::submit(WorkerThread& worker, const fl::Job& job, std::function<JobOutcome()> work) {
  std::uint64_t id = job.id;
  const char* kind = fl::job_kind_name(job.kind);
  auto failed = [this, id, kind](const std::string& why) {
    finished(JobOutcome{fl::JobResult::failed(id, std::string(kind) + " job: " + why), {}, {}});
  };
  bool queued = worker.submit(
      [this, work = std::move(work)]() -> std::function<void()> {
        JobOutcome o = work();
        return [this, o] { finished(o); };
      },
      failed);
  if (!queued) asio::post(io_, [failed] { failed("worker queue full"); });
}

void JobThreads::finished(const JobOutcome& o) {
  client_counters_.bytes_in += o.traffic.bytes_in;
  client_counters_.bytes_out += o.traffic.bytes_out;
  client_counters_.messages_in += o.traffic.messages_in;
  client_counters_.messages_out += o.traffic.messages_out;
  if (stopped_) return;
  if (o.update) {
    updates_.clear();  // only the latest training's update can still be uploaded
    updates_[o.result.model_id] = o.update;
  }
  if (report_) report_(o);
}

net::ChannelCounters JobThreads::client_counters() const {
  net::ChannelCounters c = client_counters_;
  net::TransferStats late = late_->read();
  c.bytes_in += late.bytes_in;
  c.bytes_out += late.bytes_out;
  c.messages_in += late.messages_in;
  c.messages_out += late.messages_out;
  return c;
}

}  // namespace fednode

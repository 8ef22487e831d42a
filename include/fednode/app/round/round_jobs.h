#pragma once
// The blocking work behind the round machine's jobs (fl/round_machine.h). Each function runs on
// a worker thread, never on the control loop, and returns what the machine needs to know plus
// the bytes it moved; it never decides anything about the round.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fednode/app/round/model_push.h"
#include "fednode/app/cli.h"
#include "fednode/fl/dataset.h"
#include "fednode/fl/local_data.h"
#include "fednode/fl/trainer.h"
#include "fednode/fl/model_store.h"
#include "fednode/fl/attack.h"
#include "fednode/fl/round_machine.h"
#include "fednode/net/client_connection.h"
#include "fednode/net/data_plane.h"

namespace fednode {

struct JobOutcome {
  fl::JobResult result;
  net::TransferStats traffic;
  std::shared_ptr<const std::string> update;  // train: the update's bytes, for the upload
};

// This node's own model file and data: never replicated, never sent anywhere.
struct LocalSource {
  std::string dataset = "cifar10";  // what --dataset-dir is for
  std::string dataset_dir;          // --dataset-dir ("": the data set's default)
  std::string data;                 // --data PATH ("": none)
  fl::DataOptions options;
  std::string model_file, model_sha256;  // --model FILE (TorchScript) and its SHA-256
};
LocalSource local_source(const FlOptions& fl);  // reads and hashes the model file

// The model the engine runs for the run `c`: a built-in name, or this node's TorchScript file
// when its SHA-256 is the run's (an error names both hashes otherwise).
Status engine_model(const fl::RoundConfig& c, const LocalSource& local, std::string* model);

// Data sets stay loaded between rounds. One per worker thread: only that thread's jobs touch it.
// A party without a test split gets an empty test set.
class DatasetCache {
 public:
  // keep_train false: a cache that serves test splits only (the evaluation worker's) does not
  // hold a party's training data a second time.
  explicit DatasetCache(bool keep_train = true) : keep_train_(keep_train) {}
  Status get(const fl::RoundConfig& c, const LocalSource& local, bool train, std::shared_ptr<const fl::Dataset>* out);

 private:
  std::map<std::string, std::shared_ptr<const fl::Dataset>> cache_;
  bool keep_train_ = true;
};

// What prepare_training found: the data's size and the model's first batch.
struct Preparation {
  std::size_t train_samples = 0, test_samples = 0;
  fl::ModelCheck model;
};

// A peer to talk to: its node id, its client address (HOST:PORT) and, in secure mode, the
// sealed call to make to its data plane.
struct PeerRef {
  fl::NodeId id = 0;
  std::string address;
  std::optional<net::SecureCall> secure;
  std::optional<net::ClientKeys> client;  // to ask the peer for its data port (secure mode)
};

// Loads the training set (into `data`) and libtorch ahead of the first round, runs one batch
// through the model, and stores the initial model of c.model and c.seed.
Status prepare_training(const fl::RoundConfig& c, const LocalSource& local, DatasetCache& data, fl::ModelStore store,
                        Preparation* out);
JobOutcome make_initial_model(const fl::Job& job, const LocalSource& local, fl::ModelStore store);
JobOutcome fetch_model(const fl::Job& job, const std::vector<PeerRef>& sources, fl::ModelStore store);
// `attack` (tests and experiments only, --attack) corrupts the trained update before it is stored.
JobOutcome train_update(const fl::Job& job, fl::NodeId self, const LocalSource& local, fl::ModelStore store,
                        DatasetCache& data, std::function<bool()> should_stop, fl::Attack attack = fl::Attack::kNone);
JobOutcome upload_update(const fl::Job& job, const PeerRef& aggregator, std::shared_ptr<const std::string> update,
                         std::function<bool()> abandon);
// A party's evaluation of a committed model, to the leader.
JobOutcome report_evaluation(const fl::Job& job, const PeerRef& leader);
JobOutcome aggregate_updates(const fl::Job& job, fl::ModelStore store);
// The test loss and accuracy of a committed model (on its own worker: the next round goes on).
JobOutcome evaluate_model(const fl::Job& job, const LocalSource& local, fl::ModelStore store, DatasetCache& data);
JobOutcome push_model(const fl::Job& job, const std::vector<PeerRef>& voters, fl::ModelStore store,
                      std::shared_ptr<LateTransferCounters> late);

}  // namespace fednode

#pragma once
// A round's updates as rows over one model layout, read a range of the flattened coordinates at a
// time. The aggregation rules take them in chunks of coordinates, so an aggregator holds n x chunk
// values, not n whole models: the updates can wait on disk (SpilledRows) however many trainers
// there are.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fednode/fl/fedavg.h"
#include "fednode/fl/model_weights.h"

namespace fednode::fl {

class UpdateRows {
 public:
  virtual ~UpdateRows() = default;
  virtual std::size_t size() const = 0;
  virtual std::uint64_t samples(std::size_t row) const = 0;
  // Coordinates [begin, begin + count) of the row's parameters laid end to end in name order.
  virtual Status read(std::size_t row, std::size_t begin, std::size_t count, float* out) const = 0;
};

// Updates in memory (tests, the FL simulation, small rounds). Layouts are checked by the rules.
class MemoryRows : public UpdateRows {
 public:
  explicit MemoryRows(const std::vector<ClientUpdate>& updates) : updates_(updates) {}
  std::size_t size() const override { return updates_.size(); }
  std::uint64_t samples(std::size_t row) const override { return updates_[row].samples; }
  Status read(std::size_t row, std::size_t begin, std::size_t count, float* out) const override;

 private:
  const std::vector<ClientUpdate>& updates_;
};

// Updates written as raw float32 files under `dir` (created; its files removed on destruction),
// each checked against the layout as it is added and then dropped from memory.
class SpilledRows : public UpdateRows {
 public:
  SpilledRows(std::string dir, ModelWeights layout);
  ~SpilledRows() override;
  SpilledRows(const SpilledRows&) = delete;
  SpilledRows& operator=(const SpilledRows&) = delete;

  Status add(const ModelWeights& update, std::uint64_t samples);
  std::size_t size() const override { return samples_.size(); }
  std::uint64_t samples(std::size_t row) const override { return samples_[row]; }
  Status read(std::size_t row, std::size_t begin, std::size_t count, float* out) const override;

 private:
  std::string path_of(std::size_t row) const;
  std::string dir_;
  ModelWeights layout_;
  std::vector<std::uint64_t> samples_;
};

// The sample-weighted mean folded one update at a time in double precision (FedAvg and the
// server optimisers' average): memory is the model, not the number of updates.
class WeightedSum {
 public:
  Status add(const ModelWeights& update, std::uint64_t samples);
  // sum(samples_u * w_u) / sum(samples_u), stored as float32.
  Status mean(ModelWeights* out) const;
  std::size_t count() const { return count_; }

 private:
  ModelWeights layout_;
  std::vector<std::vector<double>> acc_;
  std::uint64_t total_ = 0;
  std::size_t count_ = 0;
};

}  // namespace fednode::fl

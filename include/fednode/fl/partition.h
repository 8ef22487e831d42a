#pragma once
// Splitting a training set among K trainers, deterministically from (seed, K): every trainer
// computes its own shard from the rule alone, and every sample is in exactly one shard.
#include <cstdint>
#include <vector>

#include "fednode/util/status.h"

namespace fednode::fl {

using Shards = std::vector<std::vector<std::uint32_t>>;  // shard k: sample indexes, ascending

// IID: a seeded shuffle dealt round-robin (shard sizes differ by at most one).
Shards partition_iid(std::size_t samples, std::size_t shards, std::uint64_t seed);

// Non-IID over labels: for each class, its samples are split among shards in proportions drawn
// from Dirichlet(alpha) (as flwr-datasets' DirichletPartitioner does). Draws are repeated (up to
// a bound) until every shard holds at least min_shard_size samples; an error otherwise.
Status partition_dirichlet(const std::vector<std::int32_t>& labels, int classes, std::size_t shards,
                           double alpha, std::size_t min_shard_size, std::uint64_t seed, Shards* out);

}  // namespace fednode::fl

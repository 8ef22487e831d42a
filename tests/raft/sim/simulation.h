#pragma once
// A deterministic simulation of a Raft group: the real raft::Node cores over a simulated network
// (delay, drop, duplicate, reorder, partitions) and clock, with crashes that lose whatever the
// driver had not persisted, restarts from persisted state, membership changes, leadership
// transfers, client writes and linearizable reads. Safety properties are checked after every
// step. Everything derives from the seed, so a seed reproduces a run exactly.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fednode/raft/node.h"
#include "fednode/raft/storage.h"

namespace fednode::raft::sim {

// Where a node persists: MemoryStorage by default; tests of the durable storage plug in theirs.
class SimDisk {
 public:
  virtual ~SimDisk() = default;
  virtual Storage& storage() = 0;
  virtual void save(const Ready& ready) = 0;  // make ready's snapshot, entries, hard state durable
  // A persist_async Ready: written now, durable once complete_async() is called with the number
  // save_async returned (or a later one); a save() first makes every earlier write durable. By
  // default durable at once.
  virtual std::uint64_t save_async(const Ready& ready) {
    save(ready);
    return 0;
  }
  virtual void complete_async(std::uint64_t /*through*/) {}
  virtual void create_snapshot(Index index, const ConfState& conf, std::string data) = 0;
  virtual void bootstrap(const std::vector<Entry>& entries, const HardState& hs) = 0;
  // A crash: reopen from what is durable (a file-backed disk re-reads its files).
  virtual void reopen() {}
  // An operator's copy of the data dir as it is durable now, and putting it back in place (after
  // a crash, before the restart): what fednode's docs forbid, simulated to show why.
  virtual bool back_up() { return false; }
  virtual bool restore_backup() { return false; }
};
using DiskFactory = std::function<std::unique_ptr<SimDisk>(NodeId id)>;
std::unique_ptr<SimDisk> make_memory_disk(NodeId id);

struct SimOptions {
  std::uint64_t seed = 1;
  int steps = 1000;           // ticks with faults
  int quiet_steps = 400;      // then no faults: a leader must commit a new write within this bound
  bool randomize = true;      // derive cluster size, budgets and fault rates from the seed
  int voters = 3;
  int learners = 0;
  bool async_leader_persist = false;  // with randomize, the seed decides
  InjectedBugs bugs;
  // Operator error: data dirs copied aside now and then and put back in place at a restart
  // (their term, vote and log roll back). Unsafe by design; the teeth tests show it is caught.
  bool restore_in_place = false;
  bool trace = false;
  DiskFactory disk = make_memory_disk;
};

struct SimStats {
  int voters = 0;
  int learners = 0;
  std::string parameters;  // what the seed chose: budgets, fault rates
  std::uint64_t max_term = 0;
  std::uint64_t leaders_elected = 0;
  std::uint64_t entries_committed = 0;
  std::uint64_t writes_acked = 0;
  std::uint64_t reads_served = 0;
  std::uint64_t crashes = 0;
  std::uint64_t readds = 0;     // removed members added back with the disk they had
  std::uint64_t restores = 0;   // data dirs put back from a copy (restore_in_place)
  std::uint64_t partitions = 0;
  std::uint64_t conf_changes = 0;
  std::uint64_t transfers = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t messages_delivered = 0;
  int liveness_ticks = -1;  // ticks of the quiet phase until a majority applied a new write
};

struct SimResult {
  bool ok = true;
  std::string failure;             // which property broke, at which step
  std::vector<std::string> trace;  // when SimOptions::trace
  SimStats stats;
};

SimResult run_simulation(const SimOptions& options);

// Runs seeds [first, first + count); returns the first failing result (ok == true if none).
// On failure the seed is re-run with tracing on so the result carries a trace.
SimResult run_seeds(std::uint64_t first, std::uint64_t count, SimOptions base,
                    std::uint64_t* failing_seed, SimStats* totals = nullptr);

}  // namespace fednode::raft::sim

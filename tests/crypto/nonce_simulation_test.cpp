// A seeded simulation of what operators and failures do to nodes' data dirs and memberships,
// with every sealed datagram recorded: restarts with the wall clock going forward, standing still
// or stepping back; backups of boot_epoch restored; boot_epoch deleted; a copy of a node's dir
// running beside it; peers removed and added again with the same key; datagrams lost, delayed and
// replayed by an attacker. It checks, for every seed:
//   - no nonce is used twice under one key (one direction of one pair of keys), ever;
//   - no process of a receiver accepts one datagram twice;
//   - a node restored from a backup or without boot_epoch is heard by its peers at its next
//     datagram once the clock has moved on (a rolled-back epoch must not silence it).
#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "../storage/temp_dir.h"
#include "fednode/crypto/boot_epoch.h"
#include "fednode/crypto/datagram_seal.h"
#include "fednode/crypto/node_key.h"
#include "fednode/util/big_endian.h"
#include "fednode/util/file_io.h"
#include "fednode/util/seeded_rng.h"
#include "fednode/util/varint.h"

namespace fednode::crypto {
namespace {

using Verdict = DatagramSealer::Verdict;

// A salted datagram's nonce as its header names it: epoch, salt, counter.
std::tuple<std::uint64_t, std::uint64_t, std::uint64_t> nonce_in(const std::string& d) {
  std::size_t pos = 1;
  std::uint64_t epoch = 0, counter = 0;
  EXPECT_TRUE(get_varint(d, &pos, &epoch));
  std::uint64_t salt = get_be(d.data() + pos, 8);
  pos += 8;
  EXPECT_TRUE(get_varint(d, &pos, &counter));
  return {epoch, salt, counter};
}

struct SimNode {
  NodeKey key;
  std::uint64_t id = 0;
  std::string dir;
  std::unique_ptr<DatagramSealer> sealer;
  std::uint64_t process = 0;    // which process of this node runs now
  std::string epoch_backup;     // boot_epoch as an operator copied it aside
  bool restored = false;        // booted from a restored or deleted boot_epoch, not heard since
};

class NonceSimulation {
 public:
  NonceSimulation(std::uint64_t seed, const std::string& root) : rng_(seed), root_(root) {
    for (int i = 0; i < 3; ++i) {
      SimNode n;
      crypto_kx_keypair(n.key.public_key.bytes.data(), n.key.secret.data());
      n.id = node_id_of_key(n.key.public_key);
      n.dir = root + "/n" + std::to_string(i);
      std::filesystem::create_directories(n.dir);
      nodes_.push_back(std::move(n));
    }
    for (auto& n : nodes_) boot(n);
  }

  void run(int steps) {
    for (int step = 0; step < steps && !::testing::Test::HasFailure(); ++step) {
      clock_ += rng_.below(3);  // many events share a second
      std::uint64_t what = rng_.below(100);
      if (what < 70) {
        send();
      } else if (what < 80) {
        replay();
      } else if (what < 86) {
        restart(pick());
      } else if (what < 89) {
        pick().epoch_backup = read(pick_dir());
      } else if (what < 92) {
        restore_and_restart();
      } else if (what < 94) {
        delete_and_restart();
      } else if (what < 96) {
        clock_ -= std::min<std::uint64_t>(clock_ - 1, rng_.below(600));  // the clock steps back
      } else if (what < 98) {
        copy_beside();
      } else {
        remove_and_add_again();
      }
    }
  }

  std::size_t restored_heard() const { return restored_heard_; }
  std::size_t sent() const { return nonces_.size(); }

 private:
  SimNode& pick() { return nodes_[rng_.below(nodes_.size())]; }
  std::string pick_dir() { return pick().dir; }
  static std::string read(const std::string& dir) {
    std::string text;
    (void)read_file(dir + "/boot_epoch", &text);
    return text;
  }

  void boot(SimNode& n) {
    std::uint32_t epoch = 0;
    ASSERT_TRUE(next_boot_epoch(n.dir, &epoch, clock_).ok());
    n.sealer = std::make_unique<DatagramSealer>(n.key, epoch, "c");
    n.process = ++processes_;
    for (auto& p : nodes_) {
      if (p.id != n.id) n.sealer->add_peer(p.id, p.key.public_key);
    }
  }
  void restart(SimNode& n) { boot(n); }

  void restore_and_restart() {
    SimNode& n = pick();
    if (n.epoch_backup.empty()) return;
    ASSERT_TRUE(write_file_atomically(n.dir + "/boot_epoch", n.epoch_backup).ok());
    clock_ += 1 + rng_.below(5);  // a restore takes a while
    boot(n);
    n.restored = true;
  }
  void delete_and_restart() {
    SimNode& n = pick();
    std::filesystem::remove(n.dir + "/boot_epoch");
    clock_ += 1 + rng_.below(5);
    boot(n);
    n.restored = true;
  }
  // A copy of a node's dir started as a second process with its key (a cloned VM, say): it seals
  // a few datagrams while the original runs on.
  void copy_beside() {
    SimNode& n = pick();
    std::string copy = root_ + "/copy" + std::to_string(++copies_);
    std::filesystem::create_directories(copy);
    (void)write_file_atomically(copy + "/boot_epoch", read(n.dir));
    std::uint32_t epoch = 0;
    ASSERT_TRUE(next_boot_epoch(copy, &epoch, clock_).ok());
    DatagramSealer twin(n.key, epoch, "c");
    SimNode& to = pick();
    if (to.id == n.id) return;
    twin.add_peer(to.id, to.key.public_key);
    for (int i = 0; i < 3; ++i) {
      std::string d;
      ASSERT_TRUE(twin.seal(to.id, "twin", &d).ok());
      record(n, to, d);
      deliver(to, d);
    }
  }
  void remove_and_add_again() {
    SimNode& n = pick();
    SimNode& p = pick();
    if (n.id == p.id) return;
    n.sealer->remove_peer(p.id);
    n.sealer->add_peer(p.id, p.key.public_key);
  }

  void send() {
    SimNode& from = pick();
    SimNode& to = pick();
    if (from.id == to.id) return;
    std::string d;
    ASSERT_TRUE(from.sealer->seal(to.id, std::string("m").append(std::to_string(rng_.next())), &d).ok());
    record(from, to, d);
    captured_.push_back(d);
    if (rng_.chance(0.1)) return;  // lost
    if (deliver(to, d) == Verdict::kOk && from.restored) {
      ++restored_heard_;
      from.restored = false;
    }
  }
  void replay() {
    if (captured_.empty()) return;
    const std::string& d = captured_[rng_.below(captured_.size())];
    deliver(pick(), d);
  }

  void record(const SimNode& from, const SimNode& to, const std::string& d) {
    auto [epoch, salt, counter] = nonce_in(d);
    bool fresh = nonces_.emplace(from.id, to.id, epoch, salt, counter).second;
    ASSERT_TRUE(fresh) << "nonce reused from " << from.id << " to " << to.id << ": epoch " << epoch << " salt " << salt
                       << " counter " << counter;
  }
  Verdict deliver(SimNode& to, const std::string& d) {
    std::uint64_t from = 0;
    std::string text;
    Verdict v = to.sealer->open(d, &from, &text);
    if (v == Verdict::kOk) {
      bool first = accepted_.emplace(to.process, d).second;
      EXPECT_TRUE(first) << "process " << to.process << " accepted one datagram twice";
    }
    return v;
  }

  SeededRng rng_;
  std::string root_;
  std::uint64_t clock_ = 1'700'000'000;
  std::vector<SimNode> nodes_;
  std::uint64_t processes_ = 0, copies_ = 0;
  std::set<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t>> nonces_;
  std::set<std::pair<std::uint64_t, std::string>> accepted_;
  std::vector<std::string> captured_;
  std::size_t restored_heard_ = 0;
};

TEST(NonceSimulation, NoNonceRepeatsAndNoProcessAcceptsADatagramTwiceWhateverHappensToTheDataDirs) {
  std::size_t sent = 0, restored_heard = 0;
  for (std::uint64_t seed = 1; seed <= 25 && !::testing::Test::HasFailure(); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    fednode::testing::TempDir dir;
    NonceSimulation sim(seed, dir.path());
    sim.run(1500);
    sent += sim.sent();
    restored_heard += sim.restored_heard();
  }
  EXPECT_GT(sent, 15'000u);
  EXPECT_GT(restored_heard, 40u) << "restored nodes were heard again (the simulation restored some)";
}

}  // namespace
}  // namespace fednode::crypto

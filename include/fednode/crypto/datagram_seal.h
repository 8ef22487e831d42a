#pragma once
// Sealed peer datagrams. Every datagram between two nodes is encrypted and authenticated with
// XChaCha20-Poly1305 under a key for that direction of that pair, derived from the two nodes'
// static keys (crypto_kx), so only the two of them can read or forge it. Three header formats:
//   packed (3):  0b10 + sender tag (6 bits: the low 6 of its id) | epoch (varint) | counter (varint)
//   compact (2): 0xF2 | sender tag (u16: the low 16 bits of its id) | epoch (varint) | counter (varint)
//   v1:          "FS" | 1 | sender id (u64) | receiver id (u64) | epoch (u32) | counter (u64)
// The format also says which body the datagram carries (peer_codec.h): packed, compact or v1.
// The associated data is the header, the full sender and receiver ids and the cluster id: a
// datagram cannot be re-addressed, re-attributed or moved to another cluster, and the compact
// and packed headers send none of what the receiver knows (its own id, the cluster, all but a
// tag of the sender's id: the receiver tries the key of each peer with that tag; with the packed
// header's 6 bits, one more key every 64 peers on average, a failed try costing about a
// microsecond, and a forger gains nothing: it can always name a real tag). The
// nonce is (epoch, counter): the epoch is a boot counter the node persists before it sends
// anything (boot_epoch.h), the counter counts datagrams to that peer within a boot, so a nonce
// never repeats under a key, across restarts too. A receiver keeps, per sender, the newest epoch
// and a 64-datagram window of counters: replays are dropped and counted.
// Not thread-safe: the control loop owns it.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "fednode/crypto/node_key.h"
#include "fednode/util/status.h"

namespace fednode::crypto {

class DatagramSealer {
 public:
  enum class Format : std::uint8_t { kV1 = 1, kCompact = 2, kPacked = 3 };
  static constexpr std::size_t kHeaderBytes = 31;  // v1
  static constexpr std::size_t kOverhead = kHeaderBytes + 16;
  static constexpr std::size_t kCompactMinOverhead = 5 + 16;  // one-byte epoch and counter
  static constexpr std::size_t kPackedMinOverhead = 3 + 16;

  DatagramSealer(const NodeKey& self, std::uint32_t epoch, std::string cluster_id);
  ~DatagramSealer();
  DatagramSealer(const DatagramSealer&) = delete;
  DatagramSealer& operator=(const DatagramSealer&) = delete;

  std::uint64_t self_id() const { return self_id_; }
  void add_peer(std::uint64_t id, const PublicKey& key);  // id must be node_id_of_key(key)
  void remove_peer(std::uint64_t id);
  bool knows(std::uint64_t id) const { return peers_.count(id) > 0; }

  Status seal(std::uint64_t to, std::string_view plaintext, std::string* datagram, Format format = Format::kPacked);

  enum class Verdict { kOk, kMalformed, kUnknownSender, kAuthFailed, kReplayed };
  // On kOk, *from is the authenticated sender, *plaintext what it sealed and *format (if given)
  // the header format it used.
  Verdict open(std::string_view datagram, std::uint64_t* from, std::string* plaintext, Format* format = nullptr);

 private:
  struct Pair {
    std::array<std::uint8_t, 32> tx{}, rx{};
    std::uint64_t sent = 0;      // datagrams sealed for the peer in this boot
    std::uint32_t epoch = 0;     // newest epoch seen from the peer
    std::uint64_t highest = 0;   // highest counter seen in that epoch
    std::uint64_t window = 0;    // bit i: counter highest - i seen
    bool seen_any = false;
  };
  bool fresh(Pair& p, std::uint32_t epoch, std::uint64_t counter, bool commit);
  // Opens `sealed` (ciphertext and tag) from the pair's peer under `ad`; checks and moves its window.
  Verdict open_from(Pair& p, std::uint32_t epoch, std::uint64_t counter, const std::string& ad,
                    std::string_view sealed, std::string* plaintext);
  Verdict open_v1(std::string_view datagram, std::uint64_t* from, std::string* plaintext);
  // Compact and packed: the epoch and counter from `pos`, the sender among the peers whose id's
  // low bits (`tag_mask`) are `tag`.
  Verdict open_tagged(std::string_view datagram, std::size_t pos, std::uint64_t tag, std::uint64_t tag_mask,
                      std::uint64_t* from, std::string* plaintext);

  NodeKey self_;
  std::uint64_t self_id_;
  std::uint32_t epoch_;
  std::string cluster_id_;
  std::map<std::uint64_t, Pair> peers_;
};

}  // namespace fednode::crypto

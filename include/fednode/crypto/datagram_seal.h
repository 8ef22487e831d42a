#pragma once
// Sealed peer datagrams. Every datagram between two nodes is encrypted and authenticated with
// XChaCha20-Poly1305 under a key for that direction of that pair, derived from the two nodes'
// static keys (crypto_kx), so only the two of them can read or forge it. Four header formats:
//   salted (4):  0b00 + sender tag (6 bits: the low 6 of its id) | epoch (varint) | boot salt (8 bytes)
//                | counter (varint)
//   packed (3):  0b10 + sender tag (6 bits) | epoch (varint) | counter (varint)
//   compact (2): 0xF2 | sender tag (u16: the low 16 bits of its id) | epoch (varint) | counter (varint)
//   v1:          "FS" | 1 | sender id (u64) | receiver id (u64) | epoch (u32) | counter (u64)
// The format also says which body the datagram carries (peer_codec.h): packed (salted and packed),
// compact or v1. The associated data is the header, the full sender and receiver ids and the
// cluster id: a datagram cannot be re-addressed, re-attributed or moved to another cluster, and
// the tagged headers send none of what the receiver knows (its own id, the cluster, all but a tag
// of the sender's id: the receiver tries the key of each peer with that tag; with 6 bits, one more
// key every 64 peers on average, a failed try costing about a microsecond, and a forger gains
// nothing: it can always name a real tag).
//
// Nonces. What a node sends (salted) uses the nonce (epoch, salt, counter): the salt is 64 random
// bits drawn at every start and never stored, the counter counts datagrams to that peer in this
// process and is never reset, not even when the peer is removed and added again. So a nonce does
// not repeat under a key whatever happens to the data dir (a backup restored, boot_epoch deleted,
// the dir copied to another machine, two processes on one dir): two boots would have to draw the
// same 64-bit salt (for a million boots of one key, a chance of about 3 in 10^8). The epoch
// (boot_epoch.h: at least the wall clock's seconds, and above every earlier boot of the dir) only
// orders boots for replay protection. The older formats, sent only to a peer that speaks nothing
// newer, use (epoch, counter); they stay unique as long as the epoch does.
//
// Replays. A receiver keeps, per sender, the boot it heard last (epoch and salt) and a 64-datagram
// window of counters; it checks a datagram's seal first (a forgery is kAuthFailed), then its
// freshness: an earlier epoch, another salt with the same epoch (a copy of the sender's dir) or a
// counter already seen or older than the window is kReplayed. One process's formats share its
// counter to a peer, so they share the receiver's window too. The receiver keeps this in memory:
// after the receiver restarts, a datagram captured from the sender's current boot opens once more
// (Raft takes a duplicate message as it takes a late one: it never depends on freshness).
// Not thread-safe: the control loop owns it.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "fednode/crypto/node_key.h"
#include "fednode/util/status.h"

namespace fednode::crypto {

class DatagramSealer {
 public:
  enum class Format : std::uint8_t { kV1 = 1, kCompact = 2, kPacked = 3, kSalted = 4 };
  static constexpr std::size_t kHeaderBytes = 31;  // v1
  static constexpr std::size_t kOverhead = kHeaderBytes + 16;
  static constexpr std::size_t kCompactMinOverhead = 5 + 16;  // one-byte epoch and counter
  static constexpr std::size_t kPackedMinOverhead = 3 + 16;
  static constexpr std::size_t kSaltedMinOverhead = 3 + 8 + 16;

  // Draws the boot salt (64 random bits); `epoch` is this start's boot epoch.

  DatagramSealer(const NodeKey& self, std::uint32_t epoch, std::string cluster_id);
  ~DatagramSealer();
  DatagramSealer(const DatagramSealer&) = delete;
  DatagramSealer& operator=(const DatagramSealer&) = delete;

  std::uint64_t self_id() const { return self_id_; }
  std::uint64_t boot_salt() const { return salt_; }
  void add_peer(std::uint64_t id, const PublicKey& key);  // id must be node_id_of_key(key)
  void remove_peer(std::uint64_t id);
  bool knows(std::uint64_t id) const { return peers_.count(id) > 0; }

  Status seal(std::uint64_t to, std::string_view plaintext, std::string* datagram, Format format = Format::kSalted);

  enum class Verdict { kOk, kMalformed, kUnknownSender, kAuthFailed, kReplayed };
  // On kOk, *from is the authenticated sender, *plaintext what it sealed and *format (if given)
  // the header format it used.
  Verdict open(std::string_view datagram, std::uint64_t* from, std::string* plaintext, Format* format = nullptr);

 private:
  // One boot of a sender as its datagrams name it: the older formats carry no salt.
  struct Boot {
    std::uint32_t epoch = 0;
    std::uint64_t salt = 0;
    bool salted = false;
  };
  struct Keys {
    std::array<std::uint8_t, 32> tx{}, rx{};
  };
  struct Window {
    Boot boot;                   // the sender's boot heard last
    std::uint64_t highest = 0;   // highest counter seen in that boot
    std::uint64_t bits = 0;      // bit i: counter highest - i seen
    bool seen_any = false;
  };
  // Not seen yet and not older than what was: if so, records it.
  static bool accept_fresh(Window& w, const Boot& boot, std::uint64_t counter);
  // Opens `sealed` (ciphertext and tag) from peer `id` under `ad`, then checks and moves its window.
  Verdict open_from(std::uint64_t id, const Keys& keys, const Boot& boot, std::uint64_t counter, const std::string& ad,
                    std::string_view sealed, std::string* plaintext);
  Verdict open_v1(std::string_view datagram, std::uint64_t* from, std::string* plaintext);
  // Salted, compact and packed: the epoch (and salt) and counter from `pos`, the sender among the
  // peers whose id's low bits (`tag_mask`) are `tag`.
  Verdict open_tagged(std::string_view datagram, std::size_t pos, bool salted, std::uint64_t tag,
                      std::uint64_t tag_mask, std::uint64_t* from, std::string* plaintext);

  NodeKey self_;
  std::uint64_t self_id_;
  std::uint32_t epoch_;
  std::uint64_t salt_;
  std::string cluster_id_;
  std::map<std::uint64_t, Keys> peers_;
  // Per peer, in this process, what was sent and heard: kept when a peer is removed, so a peer
  // added again with the same key never sees a counter twice and its old datagrams stay replays.
  std::map<std::uint64_t, std::uint64_t> sent_;
  std::map<std::uint64_t, Window> heard_;
};

}  // namespace fednode::crypto

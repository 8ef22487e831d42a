// A hostile client and a hostile peer, at full rate, for the soak test (bench/soak.sh). Against
// each target's three channels, for --seconds:
//   UDP (Raft): random bytes; mutated and crafted peer messages (huge terms, indexes far ahead,
//     garbage snapshot chunks, votes, heartbeats) in plaintext and, with --key-file (a member's
//     key: a compromised member), sealed under that member's own id so they pass authentication
//     and reach the Raft core; forged sealed headers naming other members.
//   client TCP: random bytes, nil streams, half-sent requests held open, pipelined requests never
//     read, sealed-prefix garbage handshakes, connections opened until refused.
//   data-plane TCP: frame headers announcing 256 MiB then trickling, garbage handshakes, random
//     frames.
// Or, with --only, one flood against the first target's client port:
//   idle-connections: --connections N idle TCP connections from --sources K loopback addresses
//     (127.0.0.1..K), held open and reopened when closed;
//   handshakes: garbage sealed-prefix handshakes, as fast as one thread can send them, from
//     --from ADDR (default 127.0.0.1).
// Prints what it sent. Exits 0 when the time is up; it checks nothing itself.
//   hostile --target HOST:PORT=KEY [...] [--data-offset 1000] [--key-file F] [--cluster-id ID]
//           [--seconds S] [--seed N] [--only idle-connections|handshakes] [--connections N] [--sources K]
#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fednode/crypto/datagram_seal.h"
#include "fednode/crypto/node_key.h"
#include "fednode/net/client_server.h"
#include "fednode/net/peer_codec.h"
#include "fednode/util/peer_address.h"

namespace {

using namespace fednode;
using asio::ip::tcp;
using asio::ip::udp;
using Clock = std::chrono::steady_clock;

struct Target {
  PeerAddress address;
  std::optional<crypto::PublicKey> key;
};

std::atomic<bool> g_stop{false};
std::atomic<std::uint64_t> g_datagrams{0}, g_sealed{0}, g_connections{0}, g_refused{0}, g_bytes{0};

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

raft::Message crafted(std::mt19937_64& rng, raft::NodeId from, raft::NodeId to) {
  raft::Message m;
  m.type = static_cast<raft::MessageType>(rng() % raft::kMessageTypeCount);
  m.from = from;
  m.to = to;
  auto big = [&]() -> std::uint64_t {
    switch (rng() % 4) {
      case 0: return ~std::uint64_t{0};
      case 1: return std::uint64_t{1} << 62;
      case 2: return rng() % 100;
      default: return rng();
    }
  };
  m.term = big();
  m.index = big();
  m.log_term = big();
  m.commit = big();
  m.reject = rng() % 2;
  m.reject_hint = big();
  m.context = rng();
  if (m.type == raft::MessageType::kAppend) {
    for (int i = 0, n = static_cast<int>(rng() % 8); i < n; ++i) {
      m.entries.push_back({big(), m.index + 1 + i, static_cast<raft::EntryType>(rng() % 2), random_bytes(rng, rng() % 256)});
    }
  }
  if (m.type == raft::MessageType::kSnapshotChunk) {
    m.snapshot.index = big();
    m.snapshot.term = big();
    m.snapshot.conf.voters = {from, to};
    m.offset = rng() % 3 == 0 ? 0 : big();
    m.data = random_bytes(rng, rng() % 4096);
    m.done = rng() % 2;
  }
  return m;
}

// The Raft channel: plaintext garbage, crafted messages, and (as a member) sealed ones.
void udp_attacker(const std::vector<Target>& targets, const std::string& cluster, const crypto::NodeKey* key,
                  std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  asio::io_context io;
  udp::socket socket(io, udp::v4());
  std::vector<udp::endpoint> eps;
  for (const auto& t : targets) eps.emplace_back(asio::ip::make_address(t.address.host), t.address.port);
  std::optional<crypto::DatagramSealer> sealer;
  raft::NodeId self = key ? crypto::node_id_of_key(key->public_key) : 7;
  if (key) {
    sealer.emplace(*key, static_cast<std::uint32_t>(rng()), cluster);
    for (const auto& t : targets) {
      if (t.key) sealer->add_peer(crypto::node_id_of_key(*t.key), *t.key);
    }
  }
  while (!g_stop) {
    std::size_t i = rng() % targets.size();
    raft::NodeId to = targets[i].key ? crypto::node_id_of_key(*targets[i].key) : 1;
    std::string payload;
    switch (rng() % 4) {
      case 0: payload = random_bytes(rng, 1 + rng() % 1400); break;
      case 1: {  // a crafted message, then a few bytes changed
        payload = net::encode_peer_message(cluster, crafted(rng, self, to));
        for (int k = 0, n = static_cast<int>(rng() % 4); k < n && !payload.empty(); ++k) {
          payload[rng() % payload.size()] = static_cast<char>(rng());
        }
        break;
      }
      case 2: payload = net::encode_peer_message(cluster, crafted(rng, self, to)); break;
      default: {  // a sealed header naming another sender, with garbage behind it
        payload = "FS\x01" + random_bytes(rng, 28 + rng() % 200);
        break;
      }
    }
    std::string datagram = payload;
    if (sealer && targets[i].key && rng() % 2 == 0) {
      if (sealer->seal(to, net::encode_peer_message(cluster, crafted(rng, self, to)), &datagram).ok()) ++g_sealed;
    }
    if (datagram.size() > 60000) datagram.resize(60000);
    std::error_code ec;
    socket.send_to(asio::buffer(datagram), eps[i], 0, ec);
    ++g_datagrams;
    g_bytes += datagram.size();
  }
}

std::string nil_stream(std::size_t n) { return std::string(n, '\xc0'); }

// One abusive TCP conversation with `ep`; `data_plane` picks that channel's tricks.
void tcp_abuse(const tcp::endpoint& ep, bool data_plane, std::mt19937_64& rng, std::vector<tcp::socket>& held,
               asio::io_context& io) {
  tcp::socket s(io);
  std::error_code ec;
  s.connect(ep, ec);
  if (ec) return;
  ++g_connections;
  s.non_blocking(true);
  auto send = [&](const std::string& bytes) {
    std::size_t off = 0;
    auto end = Clock::now() + std::chrono::milliseconds(200);
    while (off < bytes.size() && Clock::now() < end) {
      std::error_code e;
      std::size_t n = s.write_some(asio::buffer(bytes.data() + off, bytes.size() - off), e);
      if (e == asio::error::would_block) continue;
      if (e) {
        ++g_refused;
        return;
      }
      off += n;
      g_bytes += n;
    }
  };
  switch (rng() % 5) {
    case 0: send(random_bytes(rng, 1 + rng() % 65536)); break;
    case 1: send(data_plane ? std::string("\x10\x00\x00\x00", 4) + random_bytes(rng, 1000) : nil_stream(65536)); break;
    case 2: {  // a half-sent request (or an announced 256 MiB frame), held open
      send(data_plane ? std::string("\x10\x00\x00\x00", 4) + random_bytes(rng, 100)
                      : std::string("\x82\xa4type\xa3get\xa2id", 12));
      held.push_back(std::move(s));
      if (held.size() > 200) held.erase(held.begin());
      return;
    }
    case 3: {  // pipelined requests, answers never read
      std::string get("\x82\xa4type\xa3get\xa2id\x01", 13), many;
      for (int i = 0; i < 20000; ++i) many += get;
      send(data_plane ? random_bytes(rng, 200000) : many);
      break;
    }
    default: send(std::string(data_plane ? "" : fednode::net::kSecurePrefix) + random_bytes(rng, 96)); break;  // garbage handshake
  }
}

void tcp_attacker(const std::vector<Target>& targets, int data_offset, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  asio::io_context io;
  std::vector<tcp::socket> held;
  while (!g_stop) {
    const Target& t = targets[rng() % targets.size()];
    bool data_plane = rng() % 2;
    tcp::endpoint ep(asio::ip::make_address(t.address.host),
                     static_cast<std::uint16_t>(t.address.port + (data_plane ? data_offset : 0)));
    tcp_abuse(ep, data_plane, rng, held, io);
  }
}

// Holds `count` idle connections to `ep` from `sources` loopback addresses; reopens closed ones.
void idle_connection_flood(const tcp::endpoint& ep, int count, int sources) {
  asio::io_context io;
  std::vector<std::optional<tcp::socket>> held(static_cast<std::size_t>(count));
  while (!g_stop) {
    for (std::size_t i = 0; i < held.size() && !g_stop; ++i) {
      if (held[i]) {
        held[i]->non_blocking(true);
        char b;
        std::error_code ec;
        held[i]->read_some(asio::buffer(&b, 1), ec);
        if (ec == asio::error::would_block) continue;  // still open
        ++g_refused;
        held[i].reset();
      }
      std::error_code ec;
      tcp::socket s(io);
      s.open(tcp::v4(), ec);
      s.bind({asio::ip::make_address("127.0.0." + std::to_string(1 + i % static_cast<std::size_t>(sources))), 0}, ec);
      s.connect(ep, ec);
      if (ec) continue;
      ++g_connections;
      held[i].emplace(std::move(s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void handshake_flood(const tcp::endpoint& ep, const std::string& from, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  asio::io_context io;
  while (!g_stop) {
    std::error_code ec;
    tcp::socket s(io);
    s.open(tcp::v4(), ec);
    s.bind({asio::ip::make_address(from), 0}, ec);
    s.connect(ep, ec);
    if (ec) continue;
    std::string garbage = fednode::net::kSecurePrefix + random_bytes(rng, 96);
    asio::write(s, asio::buffer(garbage), ec);
    ++g_connections;
    g_bytes += garbage.size();
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("fednode hostile: floods a group's three channels with malformed and crafted input");
  std::vector<std::string> target_texts;
  std::string key_file, cluster = "fednode";
  double seconds = 60;
  int data_offset = 1000, tcp_threads = 2;
  std::uint64_t seed = 1;
  std::string only;
  int connections = 3000, sources = 12;
  std::string from = "127.0.0.1";
  app.add_option("--only", only, "One flood instead of the mix")->check(CLI::IsMember({"idle-connections", "handshakes"}));
  app.add_option("--connections", connections, "idle-connections: how many")->capture_default_str();
  app.add_option("--from", from, "handshakes: the source address")->capture_default_str();
  app.add_option("--sources", sources, "idle-connections: from 127.0.0.1 to 127.0.0.K")->capture_default_str()->check(CLI::Range(1, 254));
  app.add_option("--target", target_texts, "HOST:PORT=KEY of a node (KEY lets sealed datagrams reach it)")->required();
  app.add_option("--key-file", key_file, "A member's key: seal crafted Raft messages under its id");
  app.add_option("--cluster-id", cluster)->capture_default_str();
  app.add_option("--seconds", seconds)->capture_default_str();
  app.add_option("--data-offset", data_offset, "Data-plane port = peer port + this")->capture_default_str();
  app.add_option("--tcp-threads", tcp_threads)->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (sodium_init() < 0) return 1;
  std::vector<Target> targets;
  for (const auto& text : target_texts) {
    Target t;
    std::string why, address = text.substr(0, text.find('='));
    auto parsed = parse_peer_address(address, &why);
    if (!parsed) {
      std::fprintf(stderr, "hostile: --target %s: %s\n", text.c_str(), why.c_str());
      return 2;
    }
    t.address = *parsed;
    if (text.find('=') != std::string::npos) t.key = crypto::PublicKey::parse(text.substr(text.find('=') + 1), &why);
    targets.push_back(t);
  }
  std::optional<crypto::NodeKey> key;
  if (!key_file.empty()) {
    key.emplace();
    if (Status s = crypto::load_key_file(key_file, &*key); !s.ok()) {
      std::fprintf(stderr, "hostile: %s\n", s.message().c_str());
      return 2;
    }
  }
  std::vector<std::thread> threads;
  if (!only.empty()) {
    tcp::endpoint ep(asio::ip::make_address(targets[0].address.host), targets[0].address.port);
    if (only == "idle-connections") {
      threads.emplace_back(idle_connection_flood, ep, connections, sources);
    } else {
      threads.emplace_back(handshake_flood, ep, from, seed);
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    g_stop = true;
    for (auto& t : threads) t.join();
    std::printf("hostile: %.0f s of %s: %llu TCP connections opened (%llu found closed by the node)\n", seconds,
                only.c_str(), static_cast<unsigned long long>(g_connections.load()),
                static_cast<unsigned long long>(g_refused.load()));
    return 0;
  }
  threads.emplace_back(udp_attacker, std::cref(targets), cluster, key ? &*key : nullptr, seed);
  for (int i = 0; i < tcp_threads; ++i) threads.emplace_back(tcp_attacker, std::cref(targets), data_offset, seed + 1 + i);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  g_stop = true;
  for (auto& t : threads) t.join();
  std::printf("hostile: %.0f s: %llu datagrams (%llu sealed as a member), %llu TCP connections (%llu cut off), %llu bytes\n",
              seconds, static_cast<unsigned long long>(g_datagrams.load()), static_cast<unsigned long long>(g_sealed.load()),
              static_cast<unsigned long long>(g_connections.load()), static_cast<unsigned long long>(g_refused.load()),
              static_cast<unsigned long long>(g_bytes.load()));
  return 0;
}

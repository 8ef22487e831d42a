// Writes seed inputs for every fuzz target, made by the project's own encoders, into
// OUT/<target>/seed-*: valid messages are what mutations must start from to reach past the
// first check of each decoder. Run by scripts/fuzz.sh --seeds after a format changes.
#include <sodium.h>

#include <msgpack.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fednode/app/kv_store.h"
#include "fednode/app/state_machine.h"
#include "fednode/crypto/datagram_seal.h"
#include "fednode/crypto/handshake.h"
#include "fednode/fl/model_weights.h"
#include "fednode/fl/round_state.h"
#include "fednode/fl/update_codec.h"
#include "fednode/net/peer_codec.h"
#include "fednode/raft/conf_change.h"
#include "fednode/storage/raft_codec.h"
#include "fednode/storage/record_file.h"
#include "small_model.h"

namespace {

using namespace fednode;
namespace fs = std::filesystem;

fs::path g_out;

void write_seed(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / target);
  std::ofstream(g_out / target / ("seed-" + name), std::ios::binary) << bytes;
}

using Packer = msgpack::packer<msgpack::sbuffer>;
std::string packed(const std::function<void(Packer&)>& fill) {
  msgpack::sbuffer b;
  Packer p(b);
  fill(p);
  return std::string(b.data(), b.size());
}

using fuzz::small_model;

std::string round_config_command() {
  fl::RoundConfig c;
  c.rounds = 3;
  c.initial_model_id = fl::model_id(small_model());
  return StateMachine::tagged(StateMachine::Kind::kRound, fl::RoundState::encode_config(c));
}

std::string round_start_command() {
  fl::RoundStart s;
  s.round = 1;
  s.term = 2;
  s.attempt = 1;
  s.base_model_id = fl::model_id(small_model());
  s.participants = {2, 3};
  s.aggregator = 1;
  return StateMachine::tagged(StateMachine::Kind::kRound, fl::RoundState::encode_start(s));
}

std::string kv_change() {
  return StateMachine::tagged(StateMachine::Kind::kKeyValue, KvStore::change_command("key", "\xa5value"));
}

void peer_datagrams() {
  raft::Message vote;
  vote.type = raft::MessageType::kVote;
  vote.from = 1, vote.to = 2, vote.term = 5, vote.index = 3, vote.log_term = 1;
  write_seed("peer_datagram", "vote", net::encode_peer_message("fednode", vote));
  raft::Message append = vote;
  append.type = raft::MessageType::kAppend;
  append.index = 3, append.log_term = 1, append.commit = 3;
  append.entries = {{5, 4, raft::EntryType::kNormal, kv_change()}, {5, 5, raft::EntryType::kNormal, round_start_command()}};
  write_seed("peer_datagram", "append", net::encode_peer_message("fednode", append));
  raft::Message conf = append;
  conf.entries = {{5, 4, raft::EntryType::kConfChange,
                   raft::encode_conf_change({raft::ConfChangeType::kAddLearner, 9, "127.0.0.1:5009"})}};
  write_seed("peer_datagram", "confchange", net::encode_peer_message("fednode", conf));
  raft::Message heartbeat = vote;
  heartbeat.type = raft::MessageType::kHeartbeat;
  heartbeat.commit = 3, heartbeat.context = 7;
  write_seed("peer_datagram", "heartbeat", net::encode_peer_message("fednode", heartbeat));
  raft::Message chunk = vote;
  chunk.type = raft::MessageType::kSnapshotChunk;
  chunk.snapshot.index = 10, chunk.snapshot.term = 4, chunk.snapshot.conf.voters = {1, 2, 3};
  StateMachine sm;
  fl::RoundEvent e;
  std::string why;
  (void)sm.apply(kv_change(), &e, &why);
  chunk.data = sm.snapshot();
  chunk.done = true;
  write_seed("peer_datagram", "snapshot-chunk", net::encode_peer_message("fednode", chunk));
  raft::Message response = vote;
  response.type = raft::MessageType::kAppendResponse;
  response.reject = true, response.reject_hint = 2;
  write_seed("peer_datagram", "append-response", net::encode_peer_message("fednode", response));
  // The same in v1, which nodes still read from peers not upgraded yet.
  write_seed("peer_datagram", "v1-heartbeat", net::encode_peer_message("fednode", heartbeat, net::PeerEncoding::kV1));
  write_seed("peer_datagram", "v1-append-response", net::encode_peer_message("fednode", response, net::PeerEncoding::kV1));
  // Packed bodies, as a seal from node 1 opens them.
  write_seed("peer_datagram", "packed-append", net::encode_peer_message("fednode", append, net::PeerEncoding::kPacked));
  write_seed("peer_datagram", "packed-snapshot-chunk", net::encode_peer_message("fednode", chunk, net::PeerEncoding::kPacked));
}

void client_requests() {
  auto request = [](const std::string& type, const std::function<void(Packer&)>& more, int fields, int id) {
    return packed([&](Packer& p) {
      p.pack_map(2 + fields);
      p.pack("type");
      p.pack(type);
      p.pack("id");
      p.pack(id);
      more(p);
    });
  };
  std::string get = request("get", [](Packer& p) { p.pack("stale"), p.pack(true); }, 1, 1);
  std::string change = request("append", [](Packer& p) {
    p.pack("data");
    p.pack_map(3);
    p.pack("action"), p.pack("change"), p.pack("key"), p.pack("k"), p.pack("value");
    p.pack_map(1), p.pack("nested"), p.pack_array(2), p.pack(1), p.pack(2.5);
  }, 1, 2);
  std::string del = request("append", [](Packer& p) {
    p.pack("data");
    p.pack_map(2);
    p.pack("action"), p.pack("delete"), p.pack("key"), p.pack("k");
  }, 1, 3);
  std::string config = request("config", [](Packer& p) {
    p.pack("action"), p.pack("add"), p.pack("address"), p.pack("127.0.0.1"), p.pack("port"), p.pack(5009);
    p.pack("key"), p.pack("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), p.pack("learner"), p.pack(true);
  }, 5, 4);
  std::string transfer = request("transfer", [](Packer& p) {
    p.pack("address"), p.pack("127.0.0.1"), p.pack("port"), p.pack(5001);
  }, 2, 5);
  std::string diagnostic = request("diagnostic", [](Packer&) {}, 0, 6);
  std::string fl_status = request("fl_status", [](Packer&) {}, 0, 7);
  write_seed("client_request", "get", get);
  write_seed("client_request", "append", change);
  write_seed("client_request", "config", config);
  write_seed("client_request", "pipelined", get + change + del + transfer + diagnostic + fl_status + get);
}

void data_frames() {
  std::string blob = fl::serialize_weights(small_model()), id = fl::model_id(small_model());
  write_seed("data_frame", "fetch", packed([&](Packer& p) {
    p.pack_map(2), p.pack("op"), p.pack("fetch"), p.pack("id"), p.pack(id);
  }));
  write_seed("data_frame", "push", packed([&](Packer& p) {
    p.pack_map(3), p.pack("op"), p.pack("push"), p.pack("id"), p.pack(id), p.pack("data");
    p.pack_bin(static_cast<std::uint32_t>(blob.size())), p.pack_bin_body(blob.data(), static_cast<std::uint32_t>(blob.size()));
  }));
  write_seed("data_frame", "update", packed([&](Packer& p) {
    p.pack_map(10);
    p.pack("round"), p.pack(1), p.pack("term"), p.pack(2), p.pack("attempt"), p.pack(1), p.pack("node"), p.pack(3);
    p.pack("samples"), p.pack(500), p.pack("train_loss"), p.pack(1.5), p.pack("train_seconds"), p.pack(0.7);
    p.pack("op"), p.pack("update"), p.pack("id"), p.pack(id), p.pack("data");
    p.pack_bin(static_cast<std::uint32_t>(blob.size())), p.pack_bin_body(blob.data(), static_cast<std::uint32_t>(blob.size()));
  }));
}

void log_records() {
  std::string segment;
  raft::Index i = 1;
  for (const auto& cmd : {kv_change(), round_config_command(), round_start_command()}) {
    segment += storage::frame_record(storage::encode_entry({1, i++, raft::EntryType::kNormal, cmd}));
  }
  segment += storage::frame_record(storage::encode_entry(
      {1, i++, raft::EntryType::kConfChange, raft::encode_conf_change({raft::ConfChangeType::kAddVoter, 4, "x"})}));
  write_seed("log_record", "segment", segment);
  write_seed("log_record", "hard-state", storage::frame_record(storage::encode_hard_state({3, 1, 2})));
}

void snapshots() {
  StateMachine sm;
  fl::RoundEvent e;
  std::string why;
  (void)sm.apply(kv_change(), &e, &why);
  (void)sm.apply(round_config_command(), &e, &why);
  (void)sm.apply(round_start_command(), &e, &why);
  sm.kv().members()[1] = "127.0.0.1:5001=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  write_seed("snapshot", "state", sm.snapshot());
  raft::Snapshot snap;
  snap.meta.index = 9, snap.meta.term = 2, snap.meta.conf.voters = {1, 2, 3};
  snap.data = sm.snapshot();
  write_seed("snapshot", "file", storage::encode_snapshot(snap));
}

crypto::NodeKey fixed_key(std::uint8_t fill) {  // the same keys as fuzz_handshake.cpp
  crypto::NodeKey k;
  k.secret.fill(fill);
  crypto_scalarmult_base(k.public_key.bytes.data(), k.secret.data());
  return k;
}

void handshakes() {
  crypto::NodeKey server = fixed_key(1), client = fixed_key(2);
  crypto::HandshakeInitiator initiator(client, server.public_key, "fuzz");
  std::string request = initiator.request();
  write_seed("handshake", "request", request);
  std::string response;
  crypto::SecureSession session;
  if (crypto::handshake_respond(server, "fuzz", request, [](const crypto::PublicKey&) { return Status(); }, &response,
                                &session).ok()) {
    write_seed("handshake", "response", response);
  }
  crypto::DatagramSealer sealer(client, 1, "fednode");
  sealer.add_peer(crypto::node_id_of_key(server.public_key), server.public_key);
  std::string datagram;
  if (sealer.seal(crypto::node_id_of_key(server.public_key), "payload", &datagram).ok()) {
    write_seed("handshake", "datagram", datagram);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || sodium_init() < 0) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUT_DIR (writes OUT_DIR/<target>/seed-*)\n");
    return 2;
  }
  g_out = argv[1];
  peer_datagrams();
  client_requests();
  data_frames();
  log_records();
  snapshots();
  write_seed("model_blob", "small", fl::serialize_weights(small_model()));
  fl::ModelWeights trained = small_model();
  trained.parameters[1].values[2] += 0.125f;
  for (auto [name, e] : {std::pair{"update-fp16", fl::UpdateEncoding::kFp16}, std::pair{"update-int8", fl::UpdateEncoding::kInt8}}) {
    write_seed("model_blob", name, fl::encode_update(e, small_model(), fl::model_id(small_model()), trained));
  }
  handshakes();
  return 0;
}

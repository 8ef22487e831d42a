#include "../../src/net/data_plane_frames.h"
#include "../../src/net/data_stream.h"
#include "fednode/net/data_plane.h"
#include "fednode/util/msgpack_fields.h"

#include "fednode/fl/model_store.h"

#include <gtest/gtest.h>

#include <msgpack.hpp>

#include <cstdio>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "../storage/temp_dir.h"

namespace fednode::net {
namespace {

using namespace std::chrono_literals;

class DataPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.init().ok());
    ASSERT_TRUE(server_.listen(PeerAddress{"127.0.0.1", 0}).ok());
    address_ = PeerAddress{"127.0.0.1", server_.port()};
    guard_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_.close(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  // Raw bytes in, whatever comes back until the server closes (or 2 s).
  std::string raw(const std::string& bytes, std::chrono::milliseconds wait = 2000ms) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), address_.port});
    asio::write(s, asio::buffer(bytes));
    std::string got;
    char buf[4096];
    std::error_code ec;
    auto end = std::chrono::steady_clock::now() + wait;
    s.non_blocking(true);
    while (std::chrono::steady_clock::now() < end) {
      std::size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (ec) return got + "<closed>";
      got.append(buf, n);
    }
    return got;
  }

  testing::TempDir dir_;
  fl::ModelStore store_{dir_.sub("models")};
  asio::io_context io_;
  DataPlaneServer server_{io_, store_, 1 << 20, ConnectionLimits{8, 6, 300ms}};
  PeerAddress address_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
};

TEST_F(DataPlaneTest, PushThenFetchByContentId) {
  std::string blob(100000, 'm');
  std::string id = fl::sha256_hex(blob);
  ASSERT_TRUE(push_blob(address_, id, blob, 2000ms).ok());
  EXPECT_TRUE(store_.has(id));
  std::string back;
  Status s = fetch_blob(address_, id, &back, 2000ms);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, blob);
}

TEST_F(DataPlaneTest, RefusesDataThatDoesNotHashToItsId) {
  std::string id = fl::sha256_hex("real");
  Status s = push_blob(address_, id, "forged", 2000ms);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not hash"), std::string::npos) << s.message();
  EXPECT_FALSE(store_.has(id));
}

// A pushed change that is not a delta, names a base this store lacks, or does not rebuild the
// id is refused with its reason and stores nothing; an update frame cannot claim to be a delta.
TEST_F(DataPlaneTest, BadDeltasAreRefusedAndStoreNothing) {
  std::string id = fl::sha256_hex("model");
  Status s = push_delta(address_, id, "not a delta", 2000ms);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a delta blob"), std::string::npos) << s.message();
  s = push_delta(address_, id, "FNU1" + std::string(64, 'b') + "rest", 2000ms);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not held here"), std::string::npos) << s.message();
  EXPECT_FALSE(store_.has(id));
  std::string data;
  bool is_delta = true;
  EXPECT_FALSE(fetch_blob_or_delta(address_, id, &data, &is_delta, 2000ms).ok());

  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(10);
  for (const char* k : {"round", "term", "attempt", "node", "samples"}) {
    p.pack(k);
    p.pack(1);
  }
  p.pack("train_loss");
  p.pack(0.5);
  p.pack("op");
  p.pack("update");
  p.pack("id");
  p.pack(id);
  p.pack("data");
  p.pack_bin(5);
  p.pack_bin_body("model", 5);
  p.pack("delta");
  p.pack(true);
  DataRequest req;
  Status bad = decode_data_request(std::string_view(b.data(), b.size()), &req);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("cannot be a delta"), std::string::npos) << bad.message();
}

TEST_F(DataPlaneTest, MissingAndInvalidIdsAreErrors) {
  std::string data;
  Status s = fetch_blob(address_, std::string(64, 'a'), &data, 2000ms);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();
  s = fetch_blob(address_, "../../etc/passwd", &data, 2000ms);
  EXPECT_NE(s.message().find("64 hex"), std::string::npos) << s.message();
}

TEST_F(DataPlaneTest, BadFramesCloseOnlyThatConnection) {
  // A length beyond the bound, a frame that is not msgpack, an unknown op: each closes.
  EXPECT_EQ(raw(std::string("\x7f\xff\xff\xff", 4)), "<closed>");
  EXPECT_EQ(raw(std::string("\x00\x00\x00\x03\xc1\xc1\xc1", 7)), "<closed>");
  EXPECT_EQ(raw(std::string("\x00\x00\x00\x01\x05", 5)), "<closed>");
  // An idle connection is closed after the timeout.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(raw(""), "<closed>");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  // The server still serves.
  std::string id = fl::sha256_hex("after");
  EXPECT_TRUE(push_blob(address_, id, "after", 2000ms).ok());
  std::uint64_t dropped = 0;
  std::promise<std::uint64_t> p;
  asio::post(io_, [&] { p.set_value(server_.counters().dropped_in); });
  dropped = p.get_future().get();
  EXPECT_GE(dropped, 4u);
}

}  // namespace
}  // namespace fednode::net

namespace fednode::net {
namespace {

TEST_F(DataPlaneTest, UpdatesGoToTheHandlerWhichMayRefuseThem) {
  std::string blob(5000, 'u');
  UpdateNotice n;
  n.id = fl::sha256_hex(blob);
  n.round = 3;
  n.term = 7;
  n.attempt = 2;
  n.node = 42;
  n.samples = 1554;
  n.train_loss = 1.25;
  n.train_seconds = 0.5;
  // No handler: refused with a reason, but the blob is stored (content-addressed, harmless).
  Status s = upload_update(address_, n, blob, 2000ms);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not aggregating"), std::string::npos) << s.message();

  std::promise<UpdateNotice> seen;
  asio::post(io_, [&] {
    server_.set_update_handler([&](const UpdateNotice& got) {
      if (got.round != 3) return std::string("wrong round");
      seen.set_value(got);
      return std::string();
    });
  });
  TransferStats stats;
  s = upload_update(address_, n, blob, 2000ms, &stats);
  ASSERT_TRUE(s.ok()) << s.message();
  UpdateNotice got = seen.get_future().get();
  EXPECT_EQ(got.id, n.id);
  EXPECT_EQ(got.term, 7u);
  EXPECT_EQ(got.attempt, 2u);
  EXPECT_EQ(got.node, 42u);
  EXPECT_EQ(got.samples, 1554u);
  EXPECT_DOUBLE_EQ(got.train_loss, 1.25);
  EXPECT_TRUE(store_.has(n.id));
  EXPECT_GT(stats.bytes_out, blob.size());
  EXPECT_EQ(stats.messages_in, 1u);

  n.round = 4;
  s = upload_update(address_, n, blob, 2000ms);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("wrong round"), std::string::npos);
}

TEST_F(DataPlaneTest, UpdateWithoutItsFieldsClosesTheConnection) {
  std::string blob = "w";
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(3);
  p.pack("op");
  p.pack("update");
  p.pack("id");
  p.pack(fl::sha256_hex(blob));
  p.pack("data");
  p.pack_bin(1);
  p.pack_bin_body(blob.data(), 1);
  std::string payload(b.data(), b.size());
  std::string framed(4, '\0');
  framed[3] = static_cast<char>(payload.size());
  EXPECT_EQ(raw(framed + payload), "<closed>");
  EXPECT_EQ(server_.counters().dropped_in, 1u);
}

}  // namespace
}  // namespace fednode::net

namespace fednode::net {
namespace {

long resident_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * 4;
}

// A frame's body grows as its bytes arrive: headers that announce frames at the bound (256 MiB)
// and then send nothing claim no memory, so a few dozen such connections cannot exhaust a node.
TEST(DataPlaneMemory, AnnouncedFramesClaimNoMemoryUpFront) {
  testing::TempDir dir;
  fl::ModelStore store(dir.sub("models"));
  ASSERT_TRUE(store.init().ok());
  asio::io_context io;
  DataPlaneServer server(io, store, kDefaultMaxFrame, {16, 16, 5000ms});
  ASSERT_TRUE(server.listen(PeerAddress{"127.0.0.1", 0}).ok());
  auto guard = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  long before = resident_kib();
  asio::io_context cio;
  std::vector<asio::ip::tcp::socket> conns;
  const std::uint32_t n = static_cast<std::uint32_t>(kDefaultMaxFrame);
  const unsigned char header[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                   static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  for (int i = 0; i < 16; ++i) {
    conns.emplace_back(cio);
    conns.back().connect({asio::ip::make_address("127.0.0.1"), server.port()});
    asio::write(conns.back(), asio::buffer(header, 4));
    asio::write(conns.back(), asio::buffer(std::string(1000, 'x')));  // a first chunk arrives too
  }
  std::this_thread::sleep_for(500ms);
  long grown_mib = (resident_kib() - before) / 1024;
  EXPECT_LT(grown_mib, 64) << "16 announced frames of 256 MiB made the server grow by " << grown_mib << " MiB";
  asio::post(io, [&] { server.close(); });
  guard.reset();
  io.stop();
  loop.join();
}

// A store that notes which threads read and write it.
class ThreadNotingStore : public BlobStore {
 public:
  explicit ThreadNotingStore(BlobStore& inner) : inner_(inner) {}
  Status get_bytes(const std::string& id, std::string* bytes) const override {
    note();
    return inner_.get_bytes(id, bytes);
  }
  Status put_bytes(std::string_view bytes, std::string* id) override {
    note();
    return inner_.put_bytes(bytes, id);
  }
  std::vector<std::thread::id> threads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }

 private:
  void note() const {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.push_back(std::this_thread::get_id());
  }
  BlobStore& inner_;
  mutable std::mutex mu_;
  mutable std::vector<std::thread::id> threads_;
};

// Hashing, storing and reading blobs of up to 256 MiB must not hold the control loop (where Raft
// heartbeats are sent): the store is only ever used from the server's blob threads.
TEST(DataPlaneThreads, BlobsAreStoredAndReadOffTheControlLoop) {
  testing::TempDir dir;
  fl::ModelStore models(dir.sub("models"));
  ASSERT_TRUE(models.init().ok());
  ThreadNotingStore store(models);
  asio::io_context io;
  DataPlaneServer server(io, store, kDefaultMaxFrame, {16, 16, 5000ms});
  ASSERT_TRUE(server.listen(PeerAddress{"127.0.0.1", 0}).ok());
  auto guard = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  PeerAddress address{"127.0.0.1", server.port()};
  std::string blob(1 << 20, 'b'), id = sha256_hex(blob), back;
  ASSERT_TRUE(push_blob(address, id, blob, 5s).ok());
  ASSERT_TRUE(fetch_blob(address, id, &back, 5s).ok());
  EXPECT_EQ(back, blob);
  auto threads = store.threads();
  ASSERT_EQ(threads.size(), 2u);
  for (auto t : threads) EXPECT_NE(t, loop.get_id()) << "the control loop touched the blob store";
  asio::post(io, [&] { server.close(); });
  guard.reset();
  io.stop();
  loop.join();
}

// --max-store-bytes and --min-free-bytes: a push or update past the quota is refused with the
// reason, the connection stays usable, and nothing is stored.
TEST_F(DataPlaneTest, BlobsPastTheStoreQuotaAreRefusedWithTheReason) {
  std::string small(1000, 's'), big(5000, 'B');
  store_.set_quota(4000, 0);
  ASSERT_TRUE(push_blob(address_, sha256_hex(small), small, 2s).ok());
  Status s = push_blob(address_, sha256_hex(big), big, 2s);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--max-store-bytes 4000"), std::string::npos) << s.message();
  EXPECT_FALSE(store_.has(sha256_hex(big)));
  store_.set_quota(0, std::uint64_t{1} << 62);  // more free space than any disk has
  s = push_blob(address_, sha256_hex(big), big, 2s);
  EXPECT_NE(s.message().find("--min-free-bytes"), std::string::npos) << s.message();
  store_.set_quota(0, 0);
  EXPECT_TRUE(push_blob(address_, sha256_hex(big), big, 2s).ok());
}

}  // namespace
}  // namespace fednode::net

namespace fednode::net {
namespace {

// An upload to a peer that stopped answering ends as soon as its caller abandons it (a newer
// round attempt), not at its timeout: the next upload must not wait behind it.
TEST(DataPlaneClient, AnUploadEndsWhenItsCallerAbandonsIt) {
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});  // accepts, never answers
  PeerAddress server{"127.0.0.1", silent.local_endpoint().port()};
  UpdateNotice notice;
  notice.id = std::string(64, 'a');
  notice.round = 1;
  notice.samples = 1;
  auto start = std::chrono::steady_clock::now();
  auto abandon_at = start + 300ms;
  Status s = upload_update(server, notice, std::string(1000, 'u'), 20000ms, nullptr,
                           [&] { return std::chrono::steady_clock::now() > abandon_at; });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("abandoned"), std::string::npos) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "held until its 20 s timeout";
}

}  // namespace
}  // namespace fednode::net

namespace fednode::net {
namespace {

long peak_resident_kib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  long kib = 0;
  char line[256];
  while (f && std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  }
  if (f) std::fclose(f);
  return kib;
}

// The client side too: an answer whose header announces 256 MiB and then stalls makes the
// caller allocate nothing up front (a hostile or broken peer cannot exhaust a trainer).
TEST(DataPlaneClient, AnnouncedAnswerClaimsNoMemoryUpFront) {
  asio::io_context io;
  asio::ip::tcp::acceptor liar(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::thread server([&] {
    for (int i = 0; i < 4; ++i) {
      asio::ip::tcp::socket s(io);
      liar.accept(s);
      const unsigned char header[4] = {0x10, 0x00, 0x00, 0x00};  // 256 MiB
      asio::write(s, asio::buffer(header, 4));
      std::this_thread::sleep_for(400ms);
    }
  });
  // The peak, not the current size: a buffer sized up front is freed again when the call fails.
  long before = peak_resident_kib();
  for (int i = 0; i < 4; ++i) {
    std::string data;
    EXPECT_FALSE(fetch_blob(PeerAddress{"127.0.0.1", liar.local_endpoint().port()}, std::string(64, 'a'), &data, 300ms).ok());
  }
  long grown_mib = (peak_resident_kib() - before) / 1024;
  server.join();
  EXPECT_LT(grown_mib, 64) << "4 announced answers of 256 MiB made the client grow by " << grown_mib << " MiB";
}

// Secure mode: members only, both ends proven by their keys, updates only under one's own id.
class SecureDataPlaneTest : public DataPlaneTest {
 protected:
  void SetUp() override {
    member_ = key("member");
    other_member_ = key("other-member");
    server_key_ = key("server");
    stranger_ = key("stranger");
    auto keys = std::make_shared<DataPlaneKeys>();
    keys->self = server_key_;
    keys->prologue = "test/data";
    keys->admit = [m = member_.public_key, o = other_member_.public_key](const crypto::PublicKey& k, std::uint64_t* node) {
      if (!(k == m) && !(k == o)) return Status::error("not a member");
      *node = crypto::node_id_of_key(k);
      return Status();
    };
    server_.set_keys(keys);
    server_.set_update_handler([this](const UpdateNotice& n) {
      accepted_.push_back(n.node);
      return std::string();
    });
    DataPlaneTest::SetUp();
  }
  crypto::NodeKey key(const std::string& name) {
    crypto::PublicKey pub;
    EXPECT_TRUE(crypto::generate_key_file(dir_.sub(name + ".key"), &pub).ok());
    crypto::NodeKey k;
    EXPECT_TRUE(crypto::load_key_file(dir_.sub(name + ".key"), &k).ok());
    return k;
  }
  SecureCall as(const crypto::NodeKey& who, const crypto::PublicKey& server) { return SecureCall{who, server, "test/data"}; }

  crypto::NodeKey member_, other_member_, server_key_, stranger_;
  std::vector<std::uint64_t> accepted_;
};

TEST_F(SecureDataPlaneTest, AMemberPushesAndFetchesOverASealedStream) {
  std::string blob(50000, 'w'), back;
  std::string id = fl::sha256_hex(blob);
  SecureCall call = as(member_, server_key_.public_key);
  ASSERT_TRUE(push_blob(address_, id, blob, 2s, nullptr, &call).ok());
  ASSERT_TRUE(fetch_blob(address_, id, &back, 2s, kDefaultMaxFrame, nullptr, &call).ok());
  EXPECT_EQ(back, blob);
}

TEST_F(SecureDataPlaneTest, ARangedFetchRunsOverOneSealedStreamPerHolder) {
  std::string blob(900000, 'r'), back;
  for (std::size_t i = 0; i < blob.size(); i += 7) blob[i] = static_cast<char>(i);
  std::string id = fl::sha256_hex(blob);
  SecureCall call = as(member_, server_key_.public_key);
  ASSERT_TRUE(push_blob(address_, id, blob, 2s, nullptr, &call).ok());
  RangedFetch o;
  o.range_bytes = 64u << 10;
  TransferStats st;
  Status s = fetch_blob_ranged({{address_, &call}}, id, &back, 5s, o, &st);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, blob);
  EXPECT_EQ(st.messages_in, 15u);  // the size, 13 whole ranges and the tail, one handshake
  SecureCall stranger = as(stranger_, server_key_.public_key);
  EXPECT_FALSE(fetch_blob_ranged({{address_, &stranger}}, id, &back, 2s, o).ok());
}

TEST_F(SecureDataPlaneTest, StrangersPlaintextClientsAndAWrongServerKeyGetNothing) {
  std::string blob = "model bytes", back;
  std::string id = fl::sha256_hex(blob);
  SecureCall stranger = as(stranger_, server_key_.public_key);
  Status s = push_blob(address_, id, blob, 2s, nullptr, &stranger);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(store_.has(id));
  EXPECT_FALSE(push_blob(address_, id, blob, 2s).ok()) << "a plaintext push was taken";
  EXPECT_FALSE(store_.has(id));
  SecureCall member = as(member_, server_key_.public_key);
  ASSERT_TRUE(push_blob(address_, id, blob, 2s, nullptr, &member).ok());
  EXPECT_FALSE(fetch_blob(address_, id, &back, 2s, kDefaultMaxFrame, nullptr, &stranger).ok());
  EXPECT_FALSE(fetch_blob(address_, id, &back, 2s).ok()) << "a plaintext fetch was served";
  // A client expecting another server key (a man in the middle) fails the handshake.
  SecureCall wrong_server = as(member_, stranger_.public_key);
  Status w = fetch_blob(address_, id, &back, 2s, kDefaultMaxFrame, nullptr, &wrong_server);
  EXPECT_FALSE(w.ok());
  EXPECT_GE(server_.counters().auth_failed, 3u);
}

// A member's first handshake message recorded and replayed on as many connections as one address
// may hold: answered, but none counts as proven (only a first frame proves one), so the member's
// own push still gets a place. Before, the replays took every proven place until they idled out.
TEST_F(SecureDataPlaneTest, ARecordedHandshakeReplayedTakesNoPlace) {
  crypto::HandshakeInitiator recorded(member_, server_key_.public_key, "test/data");
  std::string hello = recorded.request();
  asio::io_context io;
  std::vector<asio::ip::tcp::socket> replays;
  for (int i = 0; i < 6; ++i) {
    replays.emplace_back(io);
    replays.back().connect({asio::ip::make_address("127.0.0.1"), address_.port});
    asio::write(replays.back(), asio::buffer(hello));
  }
  for (auto& s : replays) {
    std::string answer(crypto::kHandshakeResponseBytes, '\0');
    asio::read(s, asio::buffer(answer));
  }
  EXPECT_EQ(server_.unproven_connections(), 6u);
  EXPECT_EQ(server_.open_connections(), 6u) << "replayed handshakes hold proven places";
  std::string blob = "pushed beside the replays";
  SecureCall member = as(member_, server_key_.public_key);
  EXPECT_TRUE(push_blob(address_, fl::sha256_hex(blob), blob, 2s, nullptr, &member).ok());
}

// Round 1's update of `blob`, sent under node id 12345 (not the member's).
UpdateNotice notice_under_another_id(const std::string& blob) {
  UpdateNotice n;
  n.id = fl::sha256_hex(blob);
  n.round = 1;
  n.term = 1;
  n.attempt = 1;
  n.samples = 10;
  n.node = 12345;
  return n;
}

TEST_F(SecureDataPlaneTest, AnUpdateIsAcceptedOnlyUnderTheSendersOwnId) {
  std::string blob = "update bytes";
  UpdateNotice n = notice_under_another_id(blob);
  SecureCall member = as(member_, server_key_.public_key);
  Status s = upload_update(address_, n, blob, 2s, nullptr, {}, &member);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the node it names"), std::string::npos) << s.message();
  n.node = crypto::node_id_of_key(member_.public_key);
  ASSERT_TRUE(upload_update(address_, n, blob, 2s, nullptr, {}, &member).ok());
  ASSERT_EQ(accepted_.size(), 1u);
  EXPECT_EQ(accepted_[0], n.node);
}

// In parts over a sealed stream: the parts are the sender's own (keyed by its authenticated id),
// and the update naming them is taken only under that id.
TEST_F(SecureDataPlaneTest, AnUpdateInPartsIsAcceptedOnlyUnderTheSendersOwnId) {
  std::string blob(300000, 'p');
  for (std::size_t i = 0; i < blob.size(); i += 5) blob[i] = static_cast<char>(i * 7);
  UpdateNotice n = notice_under_another_id(blob);
  SecureCall member = as(member_, server_key_.public_key);
  ResumableUpload o;
  o.part_bytes = 64u << 10;
  TransferStats st;
  Status s = upload_update_resumable(address_, n, blob, 2s, o, &st, {}, &member);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the node it names"), std::string::npos) << s.message();
  n.node = crypto::node_id_of_key(member_.public_key);
  ASSERT_TRUE(upload_update_resumable(address_, n, blob, 2s, o, &st, {}, &member).ok());
  ASSERT_EQ(accepted_.size(), 1u);
  EXPECT_EQ(accepted_[0], n.node);
  EXPECT_TRUE(store_.has(n.id));
  SecureCall stranger = as(stranger_, server_key_.public_key);
  EXPECT_FALSE(upload_update_resumable(address_, n, blob, 2s, o, nullptr, {}, &stranger).ok());
}

// Parts belong to the member that sent them: another member's update naming them finds none.
TEST_F(SecureDataPlaneTest, AnotherMemberCannotFinishAMembersParts) {
  std::string blob(300000, 'q');
  for (std::size_t i = 0; i < blob.size(); i += 3) blob[i] = static_cast<char>(i * 11);
  UpdateNotice n = notice_under_another_id(blob);
  n.node = crypto::node_id_of_key(member_.public_key);
  SecureCall member = as(member_, server_key_.public_key);
  ResumableUpload o;
  o.part_bytes = 64u << 10;
  // The member's upload is refused at its end (a notice under another id), leaving its parts whole.
  UpdateNotice wrong = n;
  wrong.node = 12345;
  ASSERT_FALSE(upload_update_resumable(address_, wrong, blob, 2s, o, nullptr, {}, &member).ok());
  // The other member names them under its own id: none of its own, refused; nothing handed over.
  SecureCall other = as(other_member_, server_key_.public_key);
  UpdateNotice theirs = n;
  theirs.node = crypto::node_id_of_key(other_member_.public_key);
  FetchSource src{address_, &other};
  msgpack::object_handle h;
  Status s = [&] {
    DataStream conn(src, std::chrono::steady_clock::now() + 2s);
    if (Status e = conn.open(); !e.ok()) return e;
    if (Status e = conn.send(frames::request("update", n.id, nullptr, &theirs, false, true)); !e.ok()) return e;
    return conn.receive(&h);
  }();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(is_true(map_field(h.get(), "ok")));
  EXPECT_NE(as_string(map_field(h.get(), "reason")).find("no upload"), std::string::npos);
  EXPECT_TRUE(accepted_.empty());
  EXPECT_FALSE(store_.has(n.id));
  // The member finishes its own from where they stand.
  ASSERT_TRUE(upload_update_resumable(address_, n, blob, 2s, o, nullptr, {}, &member).ok());
  ASSERT_EQ(accepted_.size(), 1u);
}

}  // namespace
}  // namespace fednode::net

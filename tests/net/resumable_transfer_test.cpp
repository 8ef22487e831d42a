// fetch_blob_ranged and upload_update_resumable (net/data_plane.h): a blob in ranges, from
// several holders at once, and an update in parts, each resumed after a connection is cut at
// 90 %; the bytes that crossed the network for nothing are counted by a proxy between client and
// server.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "../storage/temp_dir.h"
#include "fednode/fl/model_store.h"
#include "../../src/net/data_plane_frames.h"
#include "../../src/net/data_stream.h"
#include "../../src/net/partial_uploads.h"
#include "fednode/net/data_plane.h"
#include "fednode/util/msgpack_fields.h"

namespace fednode::net {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;

std::string random_blob(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Forwards connections to `upstream`; counts the bytes it hands the client; cuts the first
// connection once it has handed over `cut_after` bytes (0: never); hands over at most
// `bytes_per_ms` (0: as fast as it can), as a slow link would. With `cut_upstream` the cut
// counts the bytes it hands the server instead (an upload cut).
class CuttingProxy {
 public:
  CuttingProxy(std::uint16_t upstream, std::uint64_t cut_after, std::uint64_t bytes_per_ms = 0, bool cut_upstream = false)
      : upstream_(upstream), cut_after_(cut_after), bytes_per_ms_(bytes_per_ms), cut_upstream_(cut_upstream) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CuttingProxy() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::uint64_t to_client() const { return to_client_; }
  std::uint64_t to_server() const { return to_server_; }
  int connections() const { return connections_; }
  bool cut() const { return cut_done_; }

 private:
  struct Pair {
    tcp::socket client, server;
    std::array<char, 16384> up{}, down{};
    std::uint64_t handed = 0;
    bool cuttable = false, cut_up = false;
    std::uint64_t handed_up = 0;
    explicit Pair(asio::io_context& io) : client(io), server(io) {}
    void close() {
      std::error_code ec;
      client.close(ec);
      server.close(ec);
    }
  };
  void accept() {
    auto p = std::make_shared<Pair>(io_);
    acceptor_.async_accept(p->client, [this, p](const std::error_code& ec) {
      if (ec) return;
      p->cuttable = connections_++ == 0 && cut_after_ > 0;
      p->cut_up = cut_upstream_;
      std::error_code e;
      p->server.connect({asio::ip::make_address("127.0.0.1"), upstream_}, e);
      if (e) return p->close();
      pump_up(p);
      pump_down(p);
      accept();
    });
  }
  void pump_up(std::shared_ptr<Pair> p) {
    p->client.async_read_some(asio::buffer(p->up), [this, p](const std::error_code& ec, std::size_t n) {
      if (ec) return p->close();
      bool cut_now = false;
      if (p->cuttable && p->cut_up && p->handed_up + n >= cut_after_) {
        n = static_cast<std::size_t>(cut_after_ - p->handed_up);
        cut_now = true;
      }
      p->handed_up += n;
      to_server_ += n;
      asio::async_write(p->server, asio::buffer(p->up.data(), n), [this, p, cut_now](const std::error_code& e, std::size_t) {
        if (e || cut_now) {
          if (cut_now) cut_done_ = true;
          return p->close();
        }
        pump_up(p);
      });
    });
  }
  void pump_down(std::shared_ptr<Pair> p) {
    p->server.async_read_some(asio::buffer(p->down), [this, p](const std::error_code& ec, std::size_t n) {
      if (ec) return p->close();
      bool cut_now = false;
      if (p->cuttable && !p->cut_up && p->handed + n >= cut_after_) {
        n = static_cast<std::size_t>(cut_after_ - p->handed);
        cut_now = true;
      }
      p->handed += n;
      to_client_ += n;
      asio::async_write(p->client, asio::buffer(p->down.data(), n), [this, p, cut_now, n](const std::error_code& e, std::size_t) {
        if (e || cut_now) {
          if (cut_now) cut_done_ = true;
          return p->close();
        }
        if (bytes_per_ms_ == 0) return pump_down(p);
        auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::microseconds(n * 1000 / bytes_per_ms_));
        timer->async_wait([this, p, timer](const std::error_code&) { pump_down(p); });
      });
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::uint16_t upstream_;
  std::uint64_t cut_after_;
  std::uint64_t bytes_per_ms_;
  bool cut_upstream_;
  std::atomic<std::uint64_t> to_client_{0}, to_server_{0};
  std::atomic<int> connections_{0};
  std::atomic<bool> cut_done_{false};
  std::thread thread_;
};

// The blobs of another store with one byte changed, past every check: a holder that serves wrong
// bytes.
class CorruptStore : public BlobStore {
 public:
  explicit CorruptStore(BlobStore& inner) : inner_(inner) {}
  Status get_bytes(const std::string& id, std::string* out) const override {
    if (Status s = inner_.get_bytes(id, out); !s.ok()) return s;
    if (!out->empty()) (*out)[out->size() / 2] ^= 0x5a;
    return {};
  }
  Status put_bytes(std::string_view bytes, std::string* id) override { return inner_.put_bytes(bytes, id); }

 private:
  BlobStore& inner_;
};

// A server on an io_context and thread of its own, stopped and joined before it goes.
struct OwnServer {
  asio::io_context io;
  DataPlaneServer server;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard{asio::make_work_guard(io)};
  std::thread thread;
  explicit OwnServer(BlobStore& store) : server(io, store, 256u << 20) {
    EXPECT_TRUE(server.listen(PeerAddress{"127.0.0.1", 0}).ok());
    thread = std::thread([this] { io.run(); });
  }
  ~OwnServer() {
    asio::post(io, [this] { server.close(); });
    guard.reset();
    io.stop();
    thread.join();
  }
};

class RangedFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.init().ok());
    for (auto* s : {&a_, &b_}) ASSERT_TRUE(s->listen(PeerAddress{"127.0.0.1", 0}).ok());
    guard_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] {
      a_.close();
      b_.close();
    });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  std::string put(std::size_t n, unsigned seed) {
    std::string blob = random_blob(n, seed), id = fl::sha256_hex(blob);
    EXPECT_TRUE(push_blob(PeerAddress{"127.0.0.1", a_.port()}, id, blob, 10s).ok());
    return blob;
  }
  FetchSource at(std::uint16_t port) { return FetchSource{PeerAddress{"127.0.0.1", port}, nullptr}; }
  // A server's counters, read on its own thread.
  std::uint64_t sent_by(DataPlaneServer& server) {
    std::promise<std::uint64_t> p;
    asio::post(io_, [&] { p.set_value(server.counters().bytes_out); });
    return p.get_future().get();
  }

  testing::TempDir dir_;
  fl::ModelStore store_{dir_.sub("models")};
  asio::io_context io_;
  DataPlaneServer a_{io_, store_, 256u << 20}, b_{io_, store_, 256u << 20};  // two holders of the same blobs
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
};

TEST_F(RangedFetchTest, ABlobComesInRangesAndIsChecked) {
  std::string blob = put(3u << 20 | 12345, 1), back;
  TransferStats st;
  RangedFetch o;
  o.range_bytes = 256u << 10;
  Status s = fetch_blob_ranged({at(a_.port())}, fl::sha256_hex(blob), &back, 10s, o, &st);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, blob);
  EXPECT_EQ(st.messages_in, 14u);  // the size, 12 whole ranges and the tail
  EXPECT_LT(st.bytes_in, blob.size() + 14 * 64);
}

TEST_F(RangedFetchTest, TwoHoldersServeAtOnceAndOneWithoutTheBlobIsLeftOut) {
  std::string blob = put(16u << 20, 2), back;
  RangedFetch o;
  o.range_bytes = 128u << 10;
  o.in_flight = 2;
  // Each behind a link of 16 MB/s, so that neither can serve it all while the other connects.
  CuttingProxy link_a(a_.port(), 0, 16000), link_b(b_.port(), 0, 16000);
  std::uint64_t a0 = sent_by(a_), b0 = sent_by(b_);
  Status s = fetch_blob_ranged({at(link_a.port()), at(link_b.port())}, fl::sha256_hex(blob), &back, 20s, o);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, blob);
  std::uint64_t from_a = sent_by(a_) - a0, from_b = sent_by(b_) - b0;
  EXPECT_GT(from_a, blob.size() / 10) << from_a << " from a, " << from_b << " from b";
  EXPECT_GT(from_b, blob.size() / 10) << from_a << " from a, " << from_b << " from b";
  // A holder that lacks it (another store) and one that has it: the blob, from the second.
  testing::TempDir other_dir;
  fl::ModelStore empty{other_dir.sub("models")};
  ASSERT_TRUE(empty.init().ok());
  OwnServer bare_server(empty);
  DataPlaneServer& bare = bare_server.server;
  back.clear();
  s = fetch_blob_ranged({at(bare.port()), at(b_.port())}, fl::sha256_hex(blob), &back, 20s, o);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, blob);
  s = fetch_blob_ranged({at(bare.port())}, fl::sha256_hex(blob), &back, 5s, o);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("data plane 127.0.0.1:" + std::to_string(bare.port())), std::string::npos) << s.message();
}

// A slow holder's ranges are fetched again from a fast one once nothing else is missing: behind
// 100 KB/s, the 4 ranges of 256 KiB it takes would alone need 10 s, the whole fetch's bound here.
TEST_F(RangedFetchTest, ASlowHoldersRangesAreFetchedAgainFromAFastOne) {
  std::string blob = put(8u << 20, 6), back;
  CuttingProxy slow(a_.port(), 0, 100), fast(b_.port(), 0);
  RangedFetch o;
  o.range_bytes = 256u << 10;
  auto t0 = std::chrono::steady_clock::now();
  Status s = fetch_blob_ranged({at(slow.port()), at(fast.port())}, fl::sha256_hex(blob), &back, 5s, o);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, blob);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
}

// A holder that serves wrong bytes: the blob put together does not hash to its id, so each holder
// is asked alone, and the honest one's blob is taken; alone, the corrupt one is refused.
TEST_F(RangedFetchTest, AHolderServingWrongBytesIsLeftOutByTheHash) {
  std::string blob = put(2u << 20, 5), back;
  CorruptStore corrupt(store_);
  OwnServer liar(corrupt);
  RangedFetch o;
  o.range_bytes = 128u << 10;
  Status s = fetch_blob_ranged({at(liar.server.port()), at(b_.port())}, fl::sha256_hex(blob), &back, 10s, o);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, blob);
  s = fetch_blob_ranged({at(liar.server.port())}, fl::sha256_hex(blob), &back, 5s, o);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not hash to its id"), std::string::npos) << s.message();
}

// The figure: a transfer cut at 90 % resumes where it stopped; what the server sent for
// nothing (its answers, including those in flight when the cut came) stays under 5 % of the blob.
TEST_F(RangedFetchTest, ATransferCutAt90PercentResumesAndResendsUnder5Percent) {
  std::string blob = put(32u << 20, 3), back;
  CuttingProxy proxy(a_.port(), blob.size() * 9 / 10);
  std::uint64_t sent0 = sent_by(a_);
  TransferStats st;
  RangedFetch o;  // the defaults: 1 MiB ranges, 4 in flight
  o.range_bytes = 256u << 10;
  Status s = fetch_blob_ranged({at(proxy.port())}, fl::sha256_hex(blob), &back, 30s, o, &st);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, blob);
  EXPECT_TRUE(proxy.cut());
  EXPECT_EQ(proxy.connections(), 2);
  double size = static_cast<double>(blob.size());
  double resent = static_cast<double>(sent_by(a_) - sent0) - size;
  double handed_twice = static_cast<double>(proxy.to_client()) - size;
  EXPECT_LT(resent, 0.05 * size) << resent / (1 << 20) << " MiB resent of " << blob.size() / (1 << 20) << " MiB";
  EXPECT_GE(resent, handed_twice);
  std::printf("cut at 90 %% of %zu MiB: the server sent %.2f MiB more than the blob (%.2f %%), the client got %.2f MiB "
              "more (%.2f %%)\n",
              blob.size() >> 20, resent / (1 << 20), 100 * resent / size, handed_twice / (1 << 20), 100 * handed_twice / size);
}

TEST_F(RangedFetchTest, AWholeFetchWithoutRangesStillWorks) {
  std::string blob = put(100000, 4), back;
  ASSERT_TRUE(fetch_blob(PeerAddress{"127.0.0.1", b_.port()}, fl::sha256_hex(blob), &back, 5s).ok());
  EXPECT_EQ(back, blob);
}

// A resumable upload (upload_update_resumable): parts, then the update naming them.
class ResumableUploadTest : public RangedFetchTest {
 protected:
  UpdateNotice notice_of(const std::string& blob) {
    UpdateNotice n;
    n.id = fl::sha256_hex(blob);
    n.round = 5;
    n.term = 2;
    n.attempt = 1;
    n.node = 9;
    n.samples = 100;
    return n;
  }
  // Takes updates on server a_; the notices it took, read on the server's thread.
  void aggregate() {
    std::promise<void> set;
    asio::post(io_, [&] {
      a_.set_update_handler([this](const UpdateNotice& n) {
        std::lock_guard<std::mutex> lock(mu_);
        taken_.push_back(n);
        return std::string();
      });
      set.set_value();
    });
    set.get_future().get();
  }
  std::vector<UpdateNotice> taken() {
    std::lock_guard<std::mutex> lock(mu_);
    return taken_;
  }
  std::uint64_t received_by_a() {
    std::promise<std::uint64_t> p;
    asio::post(io_, [&] { p.set_value(a_.counters().bytes_in); });
    return p.get_future().get();
  }
  std::mutex mu_;
  std::vector<UpdateNotice> taken_;
};

TEST_F(ResumableUploadTest, AnUpdateGoesInPartsAndIsStoredAndHandedOver) {
  aggregate();
  std::string blob = random_blob((5u << 20) + 12345, 11);
  UpdateNotice n = notice_of(blob);
  TransferStats st;
  Status s = upload_update_resumable(PeerAddress{"127.0.0.1", a_.port()}, n, blob, 10s, {}, &st);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(taken().size(), 1u);
  EXPECT_EQ(taken()[0].id, n.id);
  EXPECT_EQ(taken()[0].samples, 100u);
  std::string back;
  ASSERT_TRUE(store_.get_bytes(n.id, &back).ok());
  EXPECT_EQ(back, blob);
  EXPECT_EQ(st.messages_out, 1u + 6u + 1u);  // where it stands, 6 parts, the update
}

TEST_F(ResumableUploadTest, AnUploadCutAt90PercentResumesAndResendsUnder5Percent) {
  aggregate();
  std::string blob = random_blob(32u << 20, 12);
  UpdateNotice n = notice_of(blob);
  CuttingProxy proxy(a_.port(), blob.size() * 9 / 10, 0, true);
  std::uint64_t in0 = received_by_a();
  TransferStats st;
  ResumableUpload o;
  o.part_bytes = 256u << 10;
  Status s = upload_update_resumable(PeerAddress{"127.0.0.1", proxy.port()}, n, blob, 30s, o, &st);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(proxy.cut());
  EXPECT_EQ(proxy.connections(), 2);
  ASSERT_EQ(taken().size(), 1u);
  std::string back;
  ASSERT_TRUE(store_.get_bytes(n.id, &back).ok());
  EXPECT_EQ(back, blob);
  double size = static_cast<double>(blob.size());
  double resent = static_cast<double>(proxy.to_server()) - size;
  EXPECT_LT(resent, 0.05 * size) << resent / (1 << 20) << " MiB resent of " << blob.size() / (1 << 20) << " MiB";
  // What the server read: the update, its frames and seals, and the parts cut in flight.
  EXPECT_LT(static_cast<double>(received_by_a() - in0), 1.05 * size);
  std::printf("upload cut at 90 %% of %zu MiB: %.2f MiB more than the update crossed (%.2f %%); the server read %.2f MiB\n",
              blob.size() >> 20, resent / (1 << 20), 100 * resent / size,
              static_cast<double>(received_by_a() - in0) / (1 << 20));
}

// A leader's push of a new model to a voter goes the same way.
TEST_F(ResumableUploadTest, APushInPartsCutAt90PercentResumes) {
  std::string blob = random_blob(8u << 20, 15);
  std::string id = fl::sha256_hex(blob);
  CuttingProxy proxy(b_.port(), blob.size() * 9 / 10, 0, true);
  ResumableUpload o;
  o.part_bytes = 64u << 10;  // a cut costs at most the 4 parts in flight: 3 % of 8 MiB
  Status s = push_blob_resumable(PeerAddress{"127.0.0.1", proxy.port()}, id, blob, 10s, o);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(proxy.cut());
  EXPECT_EQ(proxy.connections(), 2);
  std::string back;
  ASSERT_TRUE(store_.get_bytes(id, &back).ok());
  EXPECT_EQ(back, blob);
  EXPECT_LT(static_cast<double>(proxy.to_server()) - static_cast<double>(blob.size()), 0.05 * blob.size());
  // Parts naming another blob's id are not stored.
  std::string other = random_blob(3u << 20, 16);
  EXPECT_FALSE(push_blob_resumable(PeerAddress{"127.0.0.1", b_.port()}, fl::sha256_hex(other + "x"), other, 5s, o).ok());
  EXPECT_FALSE(store_.has(fl::sha256_hex(other + "x")));
  EXPECT_FALSE(store_.has(fl::sha256_hex(other)));
}

TEST_F(ResumableUploadTest, AnUpdateNamingPartsThatDidNotAllArriveIsRefused) {
  aggregate();
  std::string blob = random_blob(3u << 20, 13);
  UpdateNotice n = notice_of(blob);
  // Half of it in parts, then the update: refused by name, nothing handed over.
  PeerAddress a{"127.0.0.1", a_.port()};
  FetchSource src{a, nullptr};
  DataStream conn(src, std::chrono::steady_clock::now() + 5s);
  ASSERT_TRUE(conn.open().ok());
  ASSERT_TRUE(conn.send(frames::part_request(n.id, blob.size(), 0, std::string_view(blob).substr(0, blob.size() / 2))).ok());
  msgpack::object_handle h;
  ASSERT_TRUE(conn.receive(&h).ok());
  EXPECT_EQ(map_field(h.get(), "have")->via.u64, blob.size() / 2);
  // A part at another offset changes nothing; the answer says where the upload stands.
  ASSERT_TRUE(conn.send(frames::part_request(n.id, blob.size(), 7, "xyz")).ok());
  ASSERT_TRUE(conn.receive(&h).ok());
  EXPECT_EQ(map_field(h.get(), "have")->via.u64, blob.size() / 2);
  // Another size for the same upload is refused.
  ASSERT_TRUE(conn.send(frames::part_request(n.id, blob.size() + 1, blob.size() / 2, "x")).ok());
  ASSERT_TRUE(conn.receive(&h).ok());
  EXPECT_FALSE(is_true(map_field(h.get(), "ok")));
  EXPECT_NE(as_string(map_field(h.get(), "reason")).find("was started with"), std::string::npos);
  ASSERT_TRUE(conn.send(frames::request("update", n.id, nullptr, &n, false, true)).ok());
  ASSERT_TRUE(conn.receive(&h).ok());
  EXPECT_FALSE(is_true(map_field(h.get(), "ok")));
  EXPECT_NE(as_string(map_field(h.get(), "reason")).find("of its " + std::to_string(blob.size()) + " bytes"), std::string::npos)
      << as_string(map_field(h.get(), "reason"));
  EXPECT_TRUE(taken().empty());
  EXPECT_FALSE(store_.has(n.id));
  // The rest, from where it stands, through the resumable upload: it finishes.
  ASSERT_TRUE(upload_update_resumable(a, n, blob, 5s).ok());
  ASSERT_EQ(taken().size(), 1u);
}

TEST_F(ResumableUploadTest, PartsThatDoNotHashToTheirIdAreRefusedWhole) {
  aggregate();
  std::string blob = random_blob(3u << 20, 14);
  UpdateNotice n = notice_of(blob);
  n.id = fl::sha256_hex(blob + "x");  // another blob's id
  Status s = upload_update_resumable(PeerAddress{"127.0.0.1", a_.port()}, n, blob, 5s);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("refused"), std::string::npos) << s.message();
  EXPECT_TRUE(taken().empty());
}

// PartialUploads: bounded per sender and in all, idle uploads dropped.
TEST(PartialUploads, BoundedPerSenderAndDroppedWhenIdle) {
  PartialUploads p;
  auto t0 = PartialUploads::Clock::now();
  std::uint64_t have = 0;
  std::string id(64, 'a');
  for (int i = 0; i < 5; ++i) {
    std::string idi = id;
    idi[0] = static_cast<char>('a' + i);
    ASSERT_TRUE(p.add("node 1", idi, 10, 0, "12345", &have, t0 + std::chrono::seconds(i)).ok());
  }
  EXPECT_EQ(p.count(), PartialUploads::kPerSender);  // the oldest made room
  std::string data;
  EXPECT_FALSE(p.take("node 1", id, &data, t0 + std::chrono::seconds(6)).ok());  // 'a..': gone
  ASSERT_TRUE(p.add("node 2", id, 10, 0, "0123456789", &have, t0 + std::chrono::seconds(6)).ok());
  EXPECT_EQ(have, 10u);
  EXPECT_FALSE(p.take("node 1", id, &data, t0 + std::chrono::seconds(6)).ok());  // another sender's
  ASSERT_TRUE(p.take("node 2", id, &data, t0 + std::chrono::seconds(6)).ok());
  EXPECT_EQ(data, "0123456789");
  // Untouched for longer than kIdle: dropped.
  EXPECT_EQ(p.count(), PartialUploads::kPerSender);
  ASSERT_TRUE(p.add("node 3", id, 10, 0, "1", &have, t0 + std::chrono::seconds(10) + PartialUploads::kIdle).ok());
  EXPECT_EQ(p.count(), 1u);
  // Sizes out of bounds are refused; a part past what is held changes nothing.
  EXPECT_FALSE(p.add("node 3", id, 11, 1, "2", &have).ok());
  EXPECT_FALSE(p.add("node 4", id, 0, 0, "", &have).ok());
  EXPECT_FALSE(p.add("node 4", id, PartialUploads::kPerSenderBytes + 1, 0, "", &have).ok());
  // A sender's declared bytes are bounded: its next upload pushes out its oldest.
  std::string big1 = id, big2 = id;
  big1[1] = '1';
  big2[1] = '2';
  ASSERT_TRUE(p.add("node 5", big1, PartialUploads::kPerSenderBytes / 2 + 1, 0, "a", &have).ok());
  ASSERT_TRUE(p.add("node 5", big2, PartialUploads::kPerSenderBytes / 2 + 1, 0, "b", &have).ok());
  EXPECT_FALSE(p.take("node 5", big1, &data).ok());
  EXPECT_NE(p.take("node 5", big2, &data).message().find("holds 1 of its"), std::string::npos);
  ASSERT_TRUE(p.add("node 3", id, 10, 5, "zz", &have, t0 + std::chrono::seconds(11) + PartialUploads::kIdle).ok());
  EXPECT_EQ(have, 1u);
}

// In all: only an upload quiet for kQuiet makes room; with none, a new one is refused as busy.
TEST(PartialUploads, OnlyAQuietUploadMakesRoomElseANewOneIsBusy) {
  PartialUploads p;
  auto t0 = PartialUploads::Clock::now();
  std::uint64_t have = 0;
  auto id_of = [](int i) {
    std::string id(64, '0');
    std::string n = std::to_string(i);
    id.replace(0, n.size(), n);
    return id;
  };
  for (std::size_t i = 0; i < PartialUploads::kMaxUploads; ++i) {
    ASSERT_TRUE(p.add("node " + std::to_string(i), id_of(static_cast<int>(i)), 10, 0, "x", &have, t0).ok());
  }
  Status busy = p.add("node new", id_of(999), 10, 0, "x", &have, t0 + std::chrono::seconds(1));
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.message().rfind(std::string(PartialUploads::kBusy), 0), 0u) << busy.message();
  EXPECT_EQ(p.count(), PartialUploads::kMaxUploads);
  // Every other upload touched now but node 0's: node 0's, quiet, makes room.
  for (std::size_t i = 1; i < PartialUploads::kMaxUploads; ++i) {
    ASSERT_TRUE(p.add("node " + std::to_string(i), id_of(static_cast<int>(i)), 10, 1, "y", &have, t0 + PartialUploads::kQuiet).ok());
  }
  ASSERT_TRUE(p.add("node new", id_of(999), 10, 0, "x", &have, t0 + PartialUploads::kQuiet).ok());
  std::string data;
  EXPECT_FALSE(p.take("node 0", id_of(0), &data, t0 + PartialUploads::kQuiet).ok());
  // The sweep drops what is idle for kIdle, with no other call.
  p.sweep(t0 + PartialUploads::kQuiet + PartialUploads::kIdle + std::chrono::seconds(1));
  EXPECT_EQ(p.count(), 0u);
}

}  // namespace
}  // namespace fednode::net

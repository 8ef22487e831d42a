// fetch_blob_ranged (net/data_plane.h): a blob in ranges, from several holders at once, resumed
// after a connection is cut at 90 %; the bytes that crossed the network for nothing are counted
// by a proxy between client and server.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <optional>
#include <random>
#include <thread>

#include "../storage/temp_dir.h"
#include "fednode/fl/model_store.h"
#include "fednode/net/data_plane.h"

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
// `bytes_per_ms` (0: as fast as it can), as a slow link would.
class CuttingProxy {
 public:
  CuttingProxy(std::uint16_t upstream, std::uint64_t cut_after, std::uint64_t bytes_per_ms = 0)
      : upstream_(upstream), cut_after_(cut_after), bytes_per_ms_(bytes_per_ms) {
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
  int connections() const { return connections_; }
  bool cut() const { return cut_done_; }

 private:
  struct Pair {
    tcp::socket client, server;
    std::array<char, 16384> up{}, down{};
    std::uint64_t handed = 0;
    bool cuttable = false;
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
      asio::async_write(p->server, asio::buffer(p->up.data(), n), [this, p](const std::error_code& e, std::size_t) {
        if (e) return p->close();
        pump_up(p);
      });
    });
  }
  void pump_down(std::shared_ptr<Pair> p) {
    p->server.async_read_some(asio::buffer(p->down), [this, p](const std::error_code& ec, std::size_t n) {
      if (ec) return p->close();
      bool cut_now = false;
      if (p->cuttable && p->handed + n >= cut_after_) {
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
  std::atomic<std::uint64_t> to_client_{0};
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

}  // namespace
}  // namespace fednode::net

// The client channel's server against raw sockets: pipelined requests, clients that never read,
// idle and half-sent requests, connection caps, and running out of descriptors.
#include "fednode/net/client_server.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <msgpack.hpp>

#include <atomic>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "fednode/util/msgpack_fields.h"
#include "get_request.h"

namespace fednode::net {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;

class ClientServerTest : public ::testing::Test {
 protected:
  void start(ConnectionLimits limits, std::size_t answer_bytes = 0) {
    answer_bytes_ = answer_bytes;
    server_.emplace(io_, 1u << 20, [this](const msgpack::object&, const std::string&, const msgpack::object* id,
                                          ClientServer::Reply reply, ClientCaller, const std::string&) {
      ++handled_;
      Response r(1, id);
      r.pack().pack("pad");
      r.pack().pack(std::string(answer_bytes_, 'p'));
      r.finish();
      reply(r.bytes(), false);
    }, limits);
    ASSERT_TRUE(server_->listen(PeerAddress{"127.0.0.1", 0}).ok());
    guard_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] { server_->close(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  tcp::socket connect(const char* from = "127.0.0.1") {
    tcp::socket s(client_io_);
    s.open(tcp::v4());
    s.bind({asio::ip::make_address(from), 0});
    s.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    return s;
  }
  // Whether the server closed `s` within `wait` (bytes it sends first are skipped).
  static bool closed_within(tcp::socket& s, std::chrono::milliseconds wait) {
    s.non_blocking(true);
    char buf[4096];
    for (auto end = std::chrono::steady_clock::now() + wait; std::chrono::steady_clock::now() < end;) {
      std::error_code ec;
      s.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (ec) return true;
    }
    return false;
  }
  ChannelCounters counters() {
    std::promise<ChannelCounters> p;
    asio::post(io_, [&] { p.set_value(server_->counters()); });
    return p.get_future().get();
  }

  asio::io_context io_, client_io_;
  std::optional<ClientServer> server_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::atomic<std::uint64_t> handled_{0};
  std::size_t answer_bytes_ = 0;
};

// 100,000 requests arrive before the first answer; a handler that answers at once used to make
// every answer serve the next request one stack frame deeper, until the stack overflowed.
TEST_F(ClientServerTest, PipelinedRequestsAreAnsweredInOrderAtConstantStackDepth) {
  start({});
  constexpr std::uint64_t kRequests = 100000;
  std::string all;
  for (std::uint64_t i = 0; i < kRequests; ++i) all += get_request(i);
  tcp::socket s = connect();
  std::thread writer([&] { asio::write(s, asio::buffer(all)); });
  msgpack::unpacker answers;
  std::uint64_t next = 0;
  std::error_code ec;
  while (next < kRequests && !ec) {
    answers.reserve_buffer(65536);
    std::size_t n = s.read_some(asio::buffer(answers.buffer(), answers.buffer_capacity()), ec);
    answers.buffer_consumed(n);
    msgpack::object_handle h;
    while (answers.next(h)) {
      const msgpack::object* id = map_field(h.get(), "id");
      ASSERT_TRUE(id && id->type == msgpack::type::POSITIVE_INTEGER);
      ASSERT_EQ(id->via.u64, next) << "answers out of order";
      ++next;
    }
  }
  writer.join();
  EXPECT_EQ(next, kRequests) << ec.message();
}

// A client that sends and never reads: the server stops reading its requests once the answers
// waiting for it pass the queue bound, so it is the client's socket buffers that fill.
TEST_F(ClientServerTest, AClientThatNeverReadsCannotGrowTheServersQueue) {
  start({}, 64 * 1024);
  tcp::socket s = connect();
  s.non_blocking(true);
  std::string one = get_request(1), all;
  for (int i = 0; i < 10000; ++i) all += one;
  std::size_t sent = 0;
  for (auto end = std::chrono::steady_clock::now() + 2s; sent < all.size() && std::chrono::steady_clock::now() < end;) {
    std::error_code ec;
    sent += s.write_some(asio::buffer(all.data() + sent, all.size() - sent), ec);
    if (ec == asio::error::would_block) std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(300ms);
  // Kernel buffers on both sides hold some megabytes of answers; the queue adds at most 1 MiB.
  // Unbounded, all 10,000 requests (640 MB of answers) would have been served.
  EXPECT_LT(handled_.load(), 1000u);
  EXPECT_GT(handled_.load(), 0u);
}

TEST_F(ClientServerTest, AStreamOfNonMapsIsRefusedAndClosed) {
  start({});
  tcp::socket s = connect();
  // Nils, few enough that the server reads them all before it closes (unread bytes would turn
  // its close into a reset that may beat the answer).
  asio::write(s, asio::buffer(std::string(4096, '\xc0')));
  std::string got(4096, '\0');
  std::error_code ec;
  std::size_t n = s.read_some(asio::buffer(got), ec);
  ASSERT_FALSE(ec) << ec.message();
  got.resize(n);
  EXPECT_NE(got.find("request is not a map"), std::string::npos);
  EXPECT_TRUE(closed_within(s, 2000ms));
  EXPECT_EQ(handled_.load(), 0u);
}

TEST_F(ClientServerTest, IdleAndHalfSentConnectionsAreClosed) {
  start({16, 16, 200ms});
  tcp::socket silent = connect();
  tcp::socket half = connect();
  std::string req = get_request(7);
  asio::write(half, asio::buffer(req.data(), req.size() - 2));
  tcp::socket third = connect();
  EXPECT_TRUE(closed_within(silent, 3000ms));
  EXPECT_TRUE(closed_within(half, 3000ms));
  EXPECT_TRUE(closed_within(third, 3000ms));
  EXPECT_EQ(counters().idle_closed, 3u);
  // A connection that keeps asking stays open past the timeout.
  tcp::socket active = connect();
  for (int i = 0; i < 8; ++i) {
    asio::write(active, asio::buffer(get_request(i)));
    char buf[256];
    active.read_some(asio::buffer(buf));
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(handled_.load(), 8u);
}

TEST_F(ClientServerTest, ConnectionsPastTheCapsAreRefusedAndTheirPlacesComeBack) {
  start({3, 2, 60000ms});
  std::vector<tcp::socket> open;
  open.push_back(connect("127.0.0.1"));
  open.push_back(connect("127.0.0.1"));
  tcp::socket third_same = connect("127.0.0.1");
  EXPECT_TRUE(closed_within(third_same, 2000ms)) << "a third connection from one address passed a cap of 2";
  open.push_back(connect("127.0.0.2"));
  tcp::socket fourth = connect("127.0.0.3");
  EXPECT_TRUE(closed_within(fourth, 2000ms)) << "a fourth connection passed a cap of 3";
  EXPECT_EQ(counters().connections_refused, 2u);
  for (auto& s : open) {  // the admitted ones are served
    asio::write(s, asio::buffer(get_request(1)));
    char buf[256];
    EXPECT_GT(s.read_some(asio::buffer(buf)), 0u);
  }
  open[0].close();
  std::this_thread::sleep_for(100ms);
  tcp::socket again = connect("127.0.0.1");
  asio::write(again, asio::buffer(get_request(2)));
  char buf[256];
  std::error_code ec;
  EXPECT_GT(again.read_some(asio::buffer(buf), ec), 0u) << ec.message();
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Out of descriptors, accept fails at once for as long as the condition lasts. Retrying at once
// spun the control loop at 100 % CPU; the loop now waits 100 ms between tries, and serves again
// once descriptors are free.
TEST_F(ClientServerTest, RunningOutOfDescriptorsNeitherSpinsNorStopsTheServer) {
  start({});
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  std::vector<tcp::socket> clients;
  rlimit tight = saved;
  tight.rlim_cur = open_descriptors() + 8;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  for (int i = 0; i < 64; ++i) {
    std::error_code ec;
    tcp::socket s(client_io_);
    s.open(tcp::v4(), ec);
    if (ec) break;  // the client side ran out too
    s.connect({asio::ip::make_address("127.0.0.1"), server_->port()}, ec);
    if (!ec) clients.push_back(std::move(s));
  }
  std::this_thread::sleep_for(1000ms);
  std::uint64_t errors = 0;
  {
    std::promise<std::uint64_t> p;
    asio::post(io_, [&] { p.set_value(server_->accept_errors()); });
    errors = p.get_future().get();
  }
  clients.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_GE(errors, 1u) << "the test never ran the server out of descriptors";
  EXPECT_LE(errors, 30u) << "accept was retried without a pause";
  tcp::socket s = connect();
  asio::write(s, asio::buffer(get_request(3)));
  char buf[256];
  std::error_code ec;
  EXPECT_GT(s.read_some(asio::buffer(buf), ec), 0u) << ec.message();
}

}  // namespace
}  // namespace fednode::net

// Floods of connections and handshakes against the client channel in secure mode: the operator
// always gets in. Unproven connections take places of their own and the oldest is closed to make
// room (ConnectionGate); garbage handshakes run on the handshake worker, not the control loop;
// a plaintext client on loopback is served only to this node's user.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.hpp>

#include <atomic>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "fednode/net/client_connection.h"
#include "fednode/net/client_server.h"
#include "fednode/net/loopback_peer_uid.h"
#include "get_request.h"

namespace fednode::net {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using State = ConnectionGate::State;

crypto::NodeKey fresh_key() {
  crypto::NodeKey k;
  crypto_kx_keypair(k.public_key.bytes.data(), k.secret.data());
  return k;
}

asio::ip::address addr(const char* text) { return asio::ip::make_address(text); }

// ---- the gate alone ---------------------------------------------------------------------------

TEST(ConnectionGate, TheOldestUnprovenConnectionMakesRoomAndProvenOnesCountApart) {
  ConnectionLimits limits{3, 2, 60000ms, 3, 2, 5000ms};
  auto gate = std::make_shared<ConnectionGate>(limits);
  std::vector<int> evicted;
  auto watch = [&](const ConnectionGate::Ticket& t, int n) { gate->on_evict(t, [&evicted, n] { evicted.push_back(n); }); };
  auto a1 = gate->admit_unproven(addr("127.0.0.1"));
  watch(a1, 1);
  auto a2 = gate->admit_unproven(addr("127.0.0.1"));
  watch(a2, 2);
  auto a3 = gate->admit_unproven(addr("127.0.0.1"));  // a third from one address: a1 goes
  watch(a3, 3);
  EXPECT_EQ(evicted, std::vector<int>{1});
  EXPECT_EQ(a1->state, State::kEvicted);
  auto b1 = gate->admit_unproven(addr("127.0.0.2"));
  watch(b1, 4);
  auto c1 = gate->admit_unproven(addr("127.0.0.3"));  // a fourth in all: the oldest (a2) goes
  watch(c1, 5);
  EXPECT_EQ(evicted, (std::vector<int>{1, 2}));
  EXPECT_EQ(gate->unproven(), 3u);
  std::string why;
  EXPECT_FALSE(gate->prove(a1, false, &why)) << "an evicted connection cannot prove a key afterwards";
  // Proven connections leave the unproven places and count against the proven limits.
  ASSERT_TRUE(gate->prove(a3, false, &why)) << why;
  ASSERT_TRUE(gate->prove(b1, false, &why)) << why;
  EXPECT_EQ(gate->unproven(), 1u);
  auto d1 = gate->admit_unproven(addr("127.0.0.4"));
  auto d2 = gate->admit_unproven(addr("127.0.0.4"));
  ASSERT_TRUE(gate->prove(c1, false, &why)) << why;  // 3 proven: the most
  EXPECT_FALSE(gate->prove(d1, false, &why));
  EXPECT_NE(why.find("the most allowed"), std::string::npos) << why;
  EXPECT_TRUE(gate->prove(d2, true, &why)) << "an operator is never refused: " << why;
  // An evicted connection's watcher set late still hears of it.
  bool late = false;
  gate->on_evict(a1, [&] { late = true; });
  EXPECT_TRUE(late);
  // Places come back as tickets go.
  a3.reset();
  b1.reset();
  EXPECT_TRUE(gate->prove(d1, false, &why)) << why;
  EXPECT_EQ(gate->evicted(), 2u);
}

// ---- the client channel under floods ---------------------------------------------------------

class FloodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = std::make_shared<ClientChannelKeys>();
    keys->self = server_key_;
    keys->prologue = client_channel_prologue("c");
    keys->admit = [this](const crypto::PublicKey& k, ClientCaller* caller) {
      if (k == operator_key_.public_key) {
        *caller = ClientCaller::kOperator;
        return Status{};
      }
      return Status::error("not a member");
    };
    server_.emplace(io_, 1u << 20, [this](const msgpack::object&, const std::string&, const msgpack::object* id,
                                          ClientServer::Reply reply, ClientCaller caller, const std::string&) {
      if (caller == ClientCaller::kOperator) ++operator_requests_;
      if (caller == ClientCaller::kPlaintext) ++plaintext_requests_;
      Response r(1, id);
      r.pack().pack("type");
      r.pack().pack("ok");
      r.finish();
      reply(r.bytes(), false);
    }, ConnectionLimits{1024, 256, 60000ms, 256, 32, 5000ms});
    server_->set_keys(keys);
    ASSERT_TRUE(server_->listen(PeerAddress{"127.0.0.1", 0}).ok());
    guard_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_->close(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  // One sealed request as the operator; how long connecting, the handshake and the answer took.
  Status operator_call(std::chrono::milliseconds* took) {
    auto t0 = std::chrono::steady_clock::now();
    ClientConnection c;
    c.set_keys(ClientKeys{operator_key_, server_key_.public_key, client_channel_prologue("c")});
    if (Status s = c.connect(PeerAddress{"127.0.0.1", server_->port()}, 3000ms); !s.ok()) return s;
    msgpack::object_handle h;
    if (Status s = c.call(get_request(1), &h, 3000ms); !s.ok()) return s;
    *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    return {};
  }
  tcp::socket idle_connection(const std::string& from) {
    tcp::socket s(client_io_);
    s.open(tcp::v4());
    s.bind({addr(from.c_str()), 0});
    s.connect({addr("127.0.0.1"), server_->port()});
    return s;
  }

  crypto::NodeKey server_key_ = fresh_key(), operator_key_ = fresh_key();
  asio::io_context io_, client_io_;
  std::optional<ClientServer> server_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::atomic<int> operator_requests_{0}, plaintext_requests_{0};
};

// 3,000 idle connections from 12 loopback addresses (what locked the operator out: 1,024 were
// admitted and the rest, the operator's included, refused): the operator still gets in, at once.
TEST_F(FloodTest, IdleConnectionsFromManyAddressesNeverKeepTheOperatorOut) {
  struct rlimit rl {};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 7000) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 8192);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < 7000) GTEST_SKIP() << "needs 7,000 descriptors (ulimit -n), have " << rl.rlim_cur;
  std::vector<tcp::socket> flood;
  for (int i = 0; i < 3000; ++i) flood.push_back(idle_connection("127.0.0." + std::to_string(1 + i % 12)));
  std::chrono::milliseconds took{};
  Status s = operator_call(&took);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(operator_requests_.load(), 1);
  EXPECT_LT(took.count(), 1000) << "the operator waited behind the flood";
  EXPECT_LE(server_->unproven_connections(), 256u);
  EXPECT_GE(server_->evicted_connections(), 3000u - 256u);
  std::printf("operator answered in %lld ms beside 3,000 idle connections (%llu evicted)\n",
              static_cast<long long>(took.count()), static_cast<unsigned long long>(server_->evicted_connections()));
}

// Garbage handshakes as fast as one thread sends them, from other local addresses, either hanging
// up at once or holding the connection open (then each costs the node a Diffie-Hellman): the
// operator still gets in, and the garbage is refused by its seal, skipped, or dropped from the
// handshake queue before the operator's. (From the operator's own address, a flooder with the
// CPU to outpace the handshake worker can close the operator's connection now and then: the
// operator tries again.)
class HandshakeFloodTest : public FloodTest, public ::testing::WithParamInterface<bool> {};

TEST_P(HandshakeFloodTest, NeverKeepsTheOperatorOut) {
  const bool hold = GetParam();
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread flooder([&] {
    std::string garbage = std::string(kSecurePrefix) + std::string(crypto::kHandshakeRequestBytes, '\x5a');
    asio::io_context io;
    std::deque<tcp::socket> held;
    while (!stop) {
      std::error_code ec;
      tcp::socket s(io);
      s.open(tcp::v4(), ec);
      s.bind({addr(("127.0.0." + std::to_string(9 + sent % 8)).c_str()), 0}, ec);
      s.connect({addr("127.0.0.1"), server_->port()}, ec);
      if (ec) continue;
      asio::write(s, asio::buffer(garbage), ec);
      ++sent;
      if (hold) {
        held.push_back(std::move(s));
        if (held.size() > 400) held.pop_front();
      }
    }
  });
  while (sent < 200) std::this_thread::sleep_for(1ms);
  int ok = 0;
  for (int i = 0; i < 5; ++i) {
    std::chrono::milliseconds took{};
    Status s = operator_call(&took);
    ok += s.ok();
    if (!s.ok()) {
      std::printf("operator refused: %s (refused %llu, evicted %llu)\n", s.message().c_str(),
                  static_cast<unsigned long long>(server_->counters().connections_refused),
                  static_cast<unsigned long long>(server_->evicted_connections()));
    }
  }
  stop = true;
  flooder.join();
  EXPECT_EQ(ok, 5) << "the operator was refused during a handshake flood";
  (void)hold;
  // Each garbage handshake was refused by its seal, or skipped unchecked because its sender had
  // hung up (the flooder does not wait for answers).
  std::uint64_t failed = server_->counters().auth_failed, skipped = server_->handshakes_skipped();
  EXPECT_GT(failed + skipped + server_->counters().connections_refused, 100u);
  std::printf("%d garbage handshakes sent; %llu failed authentication, %llu skipped (sender gone or dropped)\n", sent.load(),
              static_cast<unsigned long long>(failed), static_cast<unsigned long long>(skipped));
}

INSTANTIATE_TEST_SUITE_P(HangingUpOrHolding, HandshakeFloodTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Holding" : "HangingUp");
                         });

// A first handshake message recorded from the operator and replayed: each replay gets an answer
// (IK's first message is replayable) but stays unproven, held to the handshake timeout and the
// unproven places, because only a first frame, which needs the handshake's ephemeral keys, proves
// a connection. Before, each replay counted as an operator's connection, past every limit.
TEST_F(FloodTest, ARecordedHandshakeReplayedNeverProvesAConnection) {
  crypto::HandshakeInitiator recorded(operator_key_, server_key_.public_key, client_channel_prologue("c"));
  std::string hello = std::string(kSecurePrefix) + recorded.request();
  std::vector<tcp::socket> replays;
  for (int i = 0; i < 20; ++i) {
    replays.push_back(idle_connection("127.0.0.5"));
    asio::write(replays.back(), asio::buffer(hello));
  }
  for (auto& s : replays) {
    std::string answer(crypto::kHandshakeResponseBytes, '\0');
    asio::read(s, asio::buffer(answer));  // answered, as IK must
  }
  EXPECT_EQ(server_->unproven_connections(), 20u) << "a replayed handshake proved its connection";
  EXPECT_EQ(operator_requests_.load(), 0);
  std::chrono::milliseconds took{};
  ASSERT_TRUE(operator_call(&took).ok());
  EXPECT_EQ(operator_requests_.load(), 1);
}

// A client of fednode 0.1 (its own handshake, prefix FNS1) is told why it is refused, in the
// plaintext error zatt's clients read, instead of failing a handshake it cannot understand.
TEST_F(FloodTest, AClientOfTheOldHandshakeIsToldToUpgrade) {
  tcp::socket s = idle_connection("127.0.0.1");
  asio::write(s, asio::buffer(std::string(kLegacySecurePrefix) + std::string(crypto::kHandshakeRequestBytes, '\x5a')));
  char buf[512];
  std::size_t n = s.read_some(asio::buffer(buf));
  auto h = msgpack::unpack(buf, n);
  EXPECT_EQ(as_string(map_field(h.get(), "type")), "error");
  EXPECT_NE(as_string(map_field(h.get(), "reason")).find("upgrade the client"), std::string::npos)
      << as_string(map_field(h.get(), "reason"));
  EXPECT_EQ(plaintext_requests_.load(), 0);
}

// zatt's plaintext protocol on loopback: served to this node's user, refused to another local
// user with the reason, also one that sends its request and closes at once (its socket then
// lingers in TIME_WAIT, which the kernel reports as root's: it must not pass for root).
TEST_F(FloodTest, PlaintextOnLoopbackIsServedOnlyToTheNodesUser) {
  {
    tcp::socket s = idle_connection("127.0.0.1");
    asio::write(s, asio::buffer(get_request(9)));
    char buf[256];
    std::size_t n = s.read_some(asio::buffer(buf));
    auto h = msgpack::unpack(buf, n);
    EXPECT_EQ(as_string(map_field(h.get(), "type")), "ok") << "this process's own user was refused";
  }
  ASSERT_EQ(plaintext_requests_.load(), 1);
  {
    tcp::socket s = idle_connection("127.0.0.1");
    auto uid = loopback_peer_uid(s.remote_endpoint(), s.local_endpoint());
    ASSERT_TRUE(uid.has_value()) << "sock_diag did not name the owner of a loopback socket";
    EXPECT_EQ(*uid, ::geteuid());
  }
  if (::geteuid() != 0) GTEST_SKIP() << "another user's connection needs root (setuid)";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::uint16_t port = server_->port();
  // The node is busy for a while: the child's quick connections are all closed (in TIME_WAIT)
  // before it reads the first of them.
  asio::post(io_, [] { std::this_thread::sleep_for(500ms); });
  std::this_thread::sleep_for(20ms);
  pid_t child = ::fork();
  if (child == 0) {  // another user: nobody
    ::close(fds[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    asio::io_context io;
    tcp::socket s(io);
    std::error_code ec;
    s.connect({addr("127.0.0.1"), port}, ec);
    if (ec) ::_exit(3);
    std::string req = get_request(5);
    for (int i = 0; i < 50; ++i) {  // send and close at once
      tcp::socket quick(io);
      quick.connect({addr("127.0.0.1"), port}, ec);
      if (!ec) asio::write(quick, asio::buffer(req), ec);
    }
    asio::write(s, asio::buffer(req), ec);
    std::string got;
    char buf[512];
    for (;;) {
      std::size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      got.append(buf, n);
    }
    (void)!::write(fds[1], got.data(), got.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string answer;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) answer.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_NE(answer.find("not uid 65534"), std::string::npos) << answer;
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(plaintext_requests_.load(), 1) << "another user's plaintext request was served";
  EXPECT_EQ(operator_requests_.load(), 0);
}

}  // namespace
}  // namespace fednode::net

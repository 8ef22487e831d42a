// The client protocol against a fake Raft: redirects, validation, writes answered when their
// entry applies (and only as success if the entry is still theirs), linearizable reads.
#include "fednode/app/client_service.h"

#include <gtest/gtest.h>

#include <msgpack.hpp>

#include <vector>

#include "fednode/app/membership.h"

namespace fednode {
namespace {

class FakeRaft : public ClientRaft {
 public:
  bool leader = true;
  raft::Index last = 10;
  raft::Term current_term = 3;
  std::vector<std::string> proposed;
  std::vector<raft::ConfChange> changes;
  std::vector<std::uint64_t> reads;
  raft::RequestStatus answer = raft::RequestStatus::kOk;
  std::string low_disk;  // refuses_writes

  bool is_leader() const override { return leader; }
  std::string refuses_writes() const override { return low_disk; }
  std::string key_of_leader;  // secure mode: named in redirects
  std::optional<PeerAddress> leader_address() const override { return PeerAddress{"10.0.0.9", 5009}; }
  std::string leader_key() const override { return key_of_leader; }
  raft::RequestStatus propose_key_value(const std::string& command) override {
    if (answer == raft::RequestStatus::kOk) proposed.push_back(command), ++last;
    return answer;
  }
  raft::RequestStatus propose_conf_change(const raft::ConfChange& change) override {
    if (answer == raft::RequestStatus::kOk) changes.push_back(change), ++last;
    return answer;
  }
  raft::RequestStatus request_transfer(raft::NodeId) override { return answer; }
  raft::RequestStatus read_index(std::uint64_t request) override {
    reads.push_back(request);
    return answer;
  }
  raft::Index last_index() const override { return last; }
  raft::Term term() const override { return current_term; }
  std::string status_page(const std::string& type, const msgpack::object*) override { return "page:" + type; }
  std::vector<raft::NodeId> voters{1, 2, 3};
  std::vector<raft::NodeId> voter_ids() const override { return voters; }
  std::string member_key(raft::NodeId id) const override { return id == 77 || id == 6009 ? "KEY77" : ""; }
  std::optional<raft::NodeId> member_at(const PeerAddress& address) const override {
    if (address.to_string() == "10.0.0.7:5007") return 77;
    return std::nullopt;
  }
  Status identify(const PeerAddress& address, const std::string& key, raft::NodeId* id,
                  std::string* member) const override {
    if (key.empty()) return Status::error("a new peer needs its public key");
    *id = 1000 + address.port;
    *member = address.to_string() + "=" + key;
    return {};
  }
};

struct Answers {
  std::vector<std::pair<std::string, bool>> got;
  net::ClientServer::Reply reply() {
    return [this](std::string bytes, bool close) { got.emplace_back(std::move(bytes), close); };
  }
  msgpack::object_handle last() const {
    return msgpack::unpack(got.back().first.data(), got.back().first.size());
  }
};

msgpack::object_handle request(const std::function<void(msgpack::packer<msgpack::sbuffer>&)>& fill, int fields) {
  static msgpack::sbuffer b;
  b.clear();
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(fields);
  fill(p);
  return msgpack::unpack(b.data(), b.size());
}

msgpack::object_handle append_request(const std::string& key, const std::string& value) {
  return request(
      [&](auto& p) {
        p.pack("type");
        p.pack("append");
        p.pack("data");
        p.pack_map(3);
        p.pack("action");
        p.pack("change");
        p.pack("key");
        p.pack(key);
        p.pack("value");
        p.pack(value);
      },
      2);
}

std::string field(const msgpack::object_handle& h, const char* key) {
  const auto& m = h.get();
  for (std::uint32_t i = 0; i < m.via.map.size; ++i) {
    const auto& kv = m.via.map.ptr[i];
    if (kv.key.as<std::string>() == key) {
      if (kv.val.type == msgpack::type::BOOLEAN) return kv.val.via.boolean ? "true" : "false";
      if (kv.val.type == msgpack::type::STR) return kv.val.as<std::string>();
      if (kv.val.type == msgpack::type::NIL) return "nil";
      if (kv.val.type == msgpack::type::ARRAY) return "array";
    }
  }
  return "";
}

class ClientServiceTest : public ::testing::Test {
 protected:
  FakeRaft raft_;
  KvStore kv_;
  ClientService service_{raft_, kv_, 1000};
  Answers answers_;
};

TEST_F(ClientServiceTest, AWriteIsAnsweredWhenItsEntryAppliesNotBefore) {
  auto req = append_request("k", "v");
  service_.handle(req.get(), "append", nullptr, answers_.reply());
  ASSERT_EQ(raft_.proposed.size(), 1u);
  EXPECT_TRUE(answers_.got.empty());
  service_.applied(10, 3);  // an earlier entry: not this write's
  EXPECT_TRUE(answers_.got.empty());
  service_.applied(11, 3);
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_EQ(field(answers_.last(), "type"), "result");
  EXPECT_EQ(field(answers_.last(), "success"), "true");
  EXPECT_EQ(service_.pending(), 0u);
}

// --max-kv-bytes: changes proposed and stored count; a change past the quota is refused with the
// reason, a delete always passes (it is how a full store is emptied), and applied deletes free room.
TEST(ClientServiceQuota, ChangesPastTheKeyValueQuotaAreRefusedDeletesPass) {
  FakeRaft raft;
  KvStore kv;
  ClientService service(raft, kv, 1000, 100);
  Answers answers;
  std::string value(40, 'x');
  for (int i = 0; i < 2; ++i) {  // 44 bytes of key and value each, proposed and not yet applied
    auto req = append_request("k" + std::to_string(i), value);
    service.handle(req.get(), "append", nullptr, answers.reply());
  }
  ASSERT_EQ(raft.proposed.size(), 2u);
  auto third = append_request("k2", value);
  service.handle(third.get(), "append", nullptr, answers.reply());
  ASSERT_EQ(raft.proposed.size(), 2u);
  ASSERT_EQ(answers.got.size(), 1u);
  EXPECT_EQ(field(answers.last(), "success"), "false");
  EXPECT_NE(field(answers.last(), "reason").find("--max-kv-bytes 100"), std::string::npos);
  // Applied, the two changes still count (now as stored bytes).
  for (std::size_t i = 0; i < raft.proposed.size(); ++i) {
    ASSERT_TRUE(kv.apply(raft.proposed[i]).ok());
    service.applied(11 + i, 3);
  }
  EXPECT_EQ(kv.bytes(), 88u);
  KvStore restored;
  ASSERT_TRUE(restored.restore(kv.snapshot()).ok());
  EXPECT_EQ(restored.bytes(), kv.bytes());
  service.handle(third.get(), "append", nullptr, answers.reply());
  EXPECT_EQ(raft.proposed.size(), 2u);
  // A delete is proposed whatever the quota; once applied the room is back.
  auto del = request(
      [](auto& p) {
        p.pack("type");
        p.pack("append");
        p.pack("data");
        p.pack_map(2);
        p.pack("action");
        p.pack("delete");
        p.pack("key");
        p.pack("k0");
      },
      2);
  service.handle(del.get(), "append", nullptr, answers.reply());
  ASSERT_EQ(raft.proposed.size(), 3u);
  ASSERT_TRUE(kv.apply(raft.proposed[2]).ok());
  service.applied(13, 3);
  service.handle(third.get(), "append", nullptr, answers.reply());
  EXPECT_EQ(raft.proposed.size(), 4u);
}

TEST_F(ClientServiceTest, AWriteWhoseIndexWasTakenByAnotherTermFails) {
  auto req = append_request("k", "v");
  service_.handle(req.get(), "append", nullptr, answers_.reply());
  service_.applied(11, 4);  // a new leader's entry at that index
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_EQ(field(answers_.last(), "success"), "false");
}

TEST_F(ClientServiceTest, AFollowerRedirectsToTheLeader) {
  raft_.leader = false;
  auto req = append_request("k", "v");
  service_.handle(req.get(), "append", nullptr, answers_.reply());
  EXPECT_TRUE(raft_.proposed.empty());
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_EQ(field(answers_.last(), "type"), "redirect");
  EXPECT_EQ(field(answers_.last(), "leader"), "array");
}

TEST_F(ClientServiceTest, ARedirectNamesTheLeadersKeyInSecureMode) {
  raft_.leader = false;
  raft_.key_of_leader = "LEADERKEY";
  auto req = append_request("k", "v");
  service_.handle(req.get(), "append", nullptr, answers_.reply());
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_EQ(field(answers_.last(), "type"), "redirect");
  EXPECT_EQ(field(answers_.last(), "leader"), "array");
  EXPECT_EQ(field(answers_.last(), "leader_key"), "LEADERKEY");
}

TEST_F(ClientServiceTest, ARefusedProposalIsAnsweredAtOnceWithTheReason) {
  raft_.answer = raft::RequestStatus::kOverloaded;
  auto req = append_request("k", "v");
  service_.handle(req.get(), "append", nullptr, answers_.reply());
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_EQ(field(answers_.last(), "success"), "false");
  EXPECT_NE(field(answers_.last(), "reason"), "");
}

// A leader whose disk is low refuses writes with its reason and still serves reads.
TEST_F(ClientServiceTest, ALeaderWithALowDiskRefusesWritesAndServesReads) {
  raft_.low_disk = "data dir /d has 3 MiB free, below --min-free-bytes 256 MiB: this node takes no writes";
  auto req = append_request("k", "v");
  service_.handle(req.get(), "append", nullptr, answers_.reply());
  EXPECT_TRUE(raft_.proposed.empty());
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_EQ(field(answers_.last(), "success"), "false");
  EXPECT_EQ(field(answers_.last(), "reason"), raft_.low_disk);
  auto get = request([](auto& p) { p.pack("type"), p.pack("get"), p.pack("key"), p.pack("k"); }, 2);
  service_.handle(get.get(), "get", nullptr, answers_.reply());
  EXPECT_EQ(raft_.reads.size(), 1u);  // a read goes on to be confirmed
  raft_.low_disk.clear();
  service_.handle(req.get(), "append", nullptr, answers_.reply());
  EXPECT_EQ(raft_.proposed.size(), 1u);
}

TEST_F(ClientServiceTest, MalformedRequestsAreRefusedAndCloseTheConnection) {
  auto no_data = request([](auto& p) { p.pack("type"), p.pack("append"); }, 1);
  service_.handle(no_data.get(), "append", nullptr, answers_.reply());
  auto big = append_request("k", std::string(2000, 'x'));
  service_.handle(big.get(), "append", nullptr, answers_.reply());
  auto bad_peer = request([](auto& p) { p.pack("action"), p.pack("add"), p.pack("port"), p.pack(0); }, 2);
  service_.handle(bad_peer.get(), "config", nullptr, answers_.reply());
  auto unknown = request([](auto& p) { p.pack("type"), p.pack("shutdown"); }, 1);
  service_.handle(unknown.get(), "shutdown", nullptr, answers_.reply());
  ASSERT_EQ(answers_.got.size(), 4u);
  for (const auto& [bytes, close] : answers_.got) EXPECT_TRUE(close) << bytes;
  EXPECT_TRUE(raft_.proposed.empty());
  EXPECT_TRUE(raft_.changes.empty());
}

TEST_F(ClientServiceTest, AReadIsServedOnceConfirmedAndApplied) {
  ASSERT_TRUE(kv_.apply(KvStore::change_command("k", "\xa1v")).ok());
  auto get = request([](auto& p) { p.pack("type"), p.pack("get"); }, 1);
  service_.handle(get.get(), "get", nullptr, answers_.reply());
  ASSERT_EQ(raft_.reads.size(), 1u);
  service_.serve_reads(100);
  EXPECT_TRUE(answers_.got.empty()) << "served before the leader confirmed it still leads";
  service_.read_confirmed(raft_.reads[0], 12);
  service_.serve_reads(11);
  EXPECT_TRUE(answers_.got.empty()) << "served before the state reached the read index";
  service_.serve_reads(12);
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_EQ(field(answers_.last(), "k"), "v");
}

TEST_F(ClientServiceTest, UnconfirmedReadsAreRedirectedWhenLeadershipIsLost) {
  auto get = request([](auto& p) { p.pack("type"), p.pack("get"); }, 1);
  service_.handle(get.get(), "get", nullptr, answers_.reply());
  service_.leadership_lost();
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_EQ(field(answers_.last(), "type"), "redirect");
  EXPECT_EQ(service_.pending(), 0u);
}

// A deposed leader answers its pending writes at once, saying their outcome is unknown, rather
// than leave the clients waiting for an entry it may never see applied.
TEST_F(ClientServiceTest, PendingWritesAreAnsweredOutcomeUnknownWhenLeadershipIsLost) {
  auto set = append_request("k", "v");
  service_.handle(set.get(), "append", nullptr, answers_.reply());
  service_.handle(set.get(), "append", nullptr, answers_.reply());
  ASSERT_EQ(raft_.proposed.size(), 2u);
  EXPECT_TRUE(answers_.got.empty());
  raft_.leader = false;
  service_.leadership_lost();
  ASSERT_EQ(answers_.got.size(), 2u);
  for (const auto& [bytes, close] : answers_.got) {
    auto h = msgpack::unpack(bytes.data(), bytes.size());
    EXPECT_EQ(field(h, "type"), "unknown") << "not a result: success: false would read as a definite failure";
    EXPECT_EQ(field(h, "success"), "") << "no success field";
    EXPECT_NE(field(h, "reason").find("outcome unknown"), std::string::npos) << field(h, "reason");
  }
  EXPECT_EQ(service_.pending(), 0u);
  service_.applied(11, 3);  // the entry commits after all: nothing is answered twice
  EXPECT_EQ(answers_.got.size(), 2u);
}

// --max-voters: past the cap a voter is refused (a learner is not), an existing voter is not.
TEST_F(ClientServiceTest, VotersBeyondTheCapAreRefusedLearnersAreNot) {
  ClientService capped(raft_, kv_, 60000, 0, 3);
  auto add = [&](bool learner, int port) {
    return request(
        [&](auto& p) {
          p.pack("type"), p.pack("config"), p.pack("action"), p.pack("add"), p.pack("address"), p.pack("10.0.0.5"),
              p.pack("port"), p.pack(port), p.pack("key"), p.pack("K");
          if (learner) p.pack("learner"), p.pack(true);
        },
        learner ? 6 : 5);
  };
  auto voter = add(false, 5005);
  capped.handle(voter.get(), "config", nullptr, answers_.reply());
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_NE(field(answers_.last(), "reason").find("keeps 3 voters"), std::string::npos) << field(answers_.last(), "reason");
  EXPECT_TRUE(raft_.changes.empty());
  auto learner = add(true, 5006);
  capped.handle(learner.get(), "config", nullptr, answers_.reply());
  ASSERT_EQ(raft_.changes.size(), 1u);
  EXPECT_EQ(raft_.changes[0].type, raft::ConfChangeType::kAddLearner);
  raft_.voters = {1, 2, 3, 1000 + 5007};  // already a voter (a repeated request): not refused
  auto again = add(false, 5007);
  capped.handle(again.get(), "config", nullptr, answers_.reply());
  EXPECT_EQ(raft_.changes.size(), 2u);
}

TEST_F(ClientServiceTest, MembershipChangesNameThePeerByItsAddress) {
  auto add = request(
      [](auto& p) {
        p.pack("action"), p.pack("add"), p.pack("address"), p.pack("10.0.0.5"), p.pack("port"), p.pack(5005);
        p.pack("learner"), p.pack(true), p.pack("key"), p.pack("KEY");
      },
      5);
  service_.handle(add.get(), "config", nullptr, answers_.reply());
  ASSERT_EQ(raft_.changes.size(), 1u);
  EXPECT_EQ(raft_.changes[0].type, raft::ConfChangeType::kAddLearner);
  EXPECT_EQ(raft_.changes[0].node, 6005u) << "the id comes from identify (the key in secure mode)";
  EXPECT_EQ(raft_.changes[0].context, "10.0.0.5:5005=KEY");
}

TEST_F(ClientServiceTest, AddingAPeerWithoutItsKeyIsRefusedAndRemovingNamesAMember) {
  auto add = request([](auto& p) { p.pack("action"), p.pack("add"), p.pack("address"), p.pack("10.0.0.5"), p.pack("port"), p.pack(5005); }, 3);
  service_.handle(add.get(), "config", nullptr, answers_.reply());
  ASSERT_EQ(answers_.got.size(), 1u);
  EXPECT_TRUE(answers_.got.back().second) << "an error answer";
  EXPECT_TRUE(raft_.changes.empty());
  auto stranger = request([](auto& p) { p.pack("action"), p.pack("delete"), p.pack("address"), p.pack("10.0.0.8"), p.pack("port"), p.pack(5008); }, 3);
  service_.handle(stranger.get(), "config", nullptr, answers_.reply());
  EXPECT_EQ(field(answers_.last(), "success"), "false");
  auto member = request([](auto& p) { p.pack("action"), p.pack("delete"), p.pack("address"), p.pack("10.0.0.7"), p.pack("port"), p.pack(5007); }, 3);
  service_.handle(member.get(), "config", nullptr, answers_.reply());
  ASSERT_EQ(raft_.changes.size(), 1u);
  EXPECT_EQ(raft_.changes[0].node, 77u);
  EXPECT_EQ(raft_.changes[0].type, raft::ConfChangeType::kRemove);
}

// --admit-key: a joiner may add itself as a learner and remove itself, nothing else.
TEST_F(ClientServiceTest, AJoinerMayAddItselfAsALearnerAndLeaveButNothingElse) {
  auto config = [](const char* action, int port, const char* key, bool learner) {
    return request(
        [&](auto& p) {
          p.pack("action"), p.pack(action), p.pack("address"), p.pack(port == 5007 ? "10.0.0.7" : "10.0.0.5");
          p.pack("port"), p.pack(port);
          if (*key) p.pack("key"), p.pack(key);
          if (learner) p.pack("learner"), p.pack(true);
        },
        3 + (*key ? 1 : 0) + (learner ? 1 : 0));
  };
  auto joiner = [&](const msgpack::object_handle& req, const char* type = "config") {
    service_.handle(req.get(), type, nullptr, answers_.reply(), net::ClientCaller::kJoiner, "KEY77");
    return field(answers_.last(), "reason");
  };
  EXPECT_NE(joiner(config("add", 5005, "OTHER", true)).find("only itself"), std::string::npos);
  EXPECT_NE(joiner(config("add", 5005, "KEY77", false)).find("only itself, as a learner"), std::string::npos);
  EXPECT_NE(joiner(config("delete", 5005, "", false)).find("no member"), std::string::npos);
  EXPECT_NE(joiner(append_request("k", "v"), "append").find("operator key"), std::string::npos);
  EXPECT_TRUE(raft_.changes.empty());
  EXPECT_TRUE(raft_.proposed.empty());
  joiner(config("add", 5005, "KEY77", true));
  ASSERT_EQ(raft_.changes.size(), 1u);
  EXPECT_EQ(raft_.changes[0].type, raft::ConfChangeType::kAddLearner);
  EXPECT_EQ(raft_.changes[0].context, "10.0.0.5:5005=KEY77");
  // 10.0.0.7:5007 is member 77, whose key is KEY77: it may leave; another joiner may not remove it.
  joiner(config("delete", 5007, "", false));
  ASSERT_EQ(raft_.changes.size(), 2u);
  EXPECT_EQ(raft_.changes[1].type, raft::ConfChangeType::kRemove);
  service_.handle(config("delete", 5007, "", false).get(), "config", nullptr, answers_.reply(),
                  net::ClientCaller::kJoiner, "SOMEONE-ELSE");
  EXPECT_NE(field(answers_.last(), "reason").find("only its own node"), std::string::npos);
  EXPECT_EQ(raft_.changes.size(), 2u);
  // Already a member (id 6009 from identify): success, nothing proposed, its role unchanged.
  joiner(config("add", 5009, "KEY77", true));
  EXPECT_EQ(field(answers_.last(), "success"), "true");
  EXPECT_EQ(raft_.changes.size(), 2u);
  // Any address already held by a member under another id is refused (the operator removes it).
  service_.handle(config("add", 5007, "NEWKEY", true).get(), "config", nullptr, answers_.reply());
  EXPECT_NE(field(answers_.last(), "reason").find("already a member with another key"), std::string::npos);
  EXPECT_EQ(raft_.changes.size(), 2u);
}

TEST_F(ClientServiceTest, StatusPagesComeFromTheDaemon) {
  auto d = request([](auto& p) { p.pack("type"), p.pack("diagnostic"); }, 1);
  service_.handle(d.get(), "diagnostic", nullptr, answers_.reply());
  service_.handle(d.get(), "fl_status", nullptr, answers_.reply());
  ASSERT_EQ(answers_.got.size(), 2u);
  EXPECT_EQ(answers_.got[0].first, "page:diagnostic");
  EXPECT_EQ(answers_.got[1].first, "page:fl_status");
}

}  // namespace
}  // namespace fednode

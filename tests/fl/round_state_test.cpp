// The FL part of the replicated state machine: which commands change the rounds and which are
// ignored, deterministically, on every node.
#include <gtest/gtest.h>

#include <zlib.h>

#include <cmath>
#include <functional>

#include "fednode/fl/round_state.h"
#include "fednode/util/msgpack_pack.h"

namespace fednode::fl {
namespace {

RoundMetrics metrics_of(std::uint64_t round, const std::string& model, double loss, double accuracy) {
  RoundMetrics m;
  m.round = round;
  m.model_id = model;
  m.test_loss = loss;
  m.test_accuracy = accuracy;
  return m;
}

const std::string kModel0(64, 'a'), kModel1(64, 'b'), kModel2(64, 'c');

msgpack::object_handle unpack(const std::string& bytes) { return msgpack::unpack(bytes.data(), bytes.size()); }

RoundEvent apply_cmd(RoundState& s, const std::string& command, std::string* why = nullptr) {
  RoundEvent e;
  std::string w;
  auto h = unpack(command);
  Status st = s.apply(h.get(), &e, &w);
  EXPECT_TRUE(st.ok()) << st.message();
  if (why) *why = w;
  return e;
}

RoundConfig config(std::uint64_t rounds = 3) {
  RoundConfig c;
  c.rounds = rounds;
  c.initial_model_id = kModel0;
  return c;
}

RoundStart start(std::uint64_t round, std::uint64_t term, std::uint64_t attempt, const std::string& base) {
  RoundStart s;
  s.round = round;
  s.term = term;
  s.attempt = attempt;
  s.base_model_id = base;
  s.participants = {2, 3, 4};
  s.aggregator = 1;
  return s;
}

RoundRecord commit(const RoundStart& s, const std::string& model) {
  RoundRecord r;
  r.round = s.round;
  r.term = s.term;
  r.attempt = s.attempt;
  r.model_id = model;
  r.base_model_id = s.base_model_id;
  for (auto [node, samples] : {std::pair<std::uint64_t, std::uint64_t>{2, 100}, {3, 50}}) {
    TrainerResult t;
    t.node = node;
    t.samples = samples;
    t.train_loss = 1.5;
    r.results.push_back(t);
  }
  r.test_accuracy = 0.4;
  return r;
}

TEST(RoundState, FirstCommittedConfigurationWins) {
  RoundState s;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_config(config(3))), RoundEvent::kConfig);
  std::string why;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_config(config(9)), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("already"), std::string::npos);
  EXPECT_EQ(s.config()->rounds, 3u);
  EXPECT_EQ(s.last_model_id(), kModel0);
}

TEST(RoundState, ConfigurationWithoutInitialModelIsIgnored) {
  RoundState s;
  RoundConfig c = config();
  c.initial_model_id = "not-a-model";
  EXPECT_EQ(apply_cmd(s, RoundState::encode_config(c)), RoundEvent::kIgnored);
  EXPECT_FALSE(s.config());
}

TEST(RoundState, ConfigurationNamingAnUnknownAggregatorIsIgnored) {
  RoundState s;
  RoundConfig c = config();
  c.aggregator = "bulyan";
  std::string why;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_config(c), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("'bulyan'"), std::string::npos) << why;
  c.aggregator = "median";
  EXPECT_EQ(apply_cmd(s, RoundState::encode_config(c)), RoundEvent::kConfig);
  EXPECT_EQ(s.config()->aggregator, "median");
}

TEST(RoundState, StartMustFollowTheLastCommittedRoundAndModel) {
  RoundState s;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_start(start(1, 2, 1, kModel0))), RoundEvent::kIgnored);  // no config yet
  apply_cmd(s, RoundState::encode_config(config()));
  EXPECT_EQ(apply_cmd(s, RoundState::encode_start(start(2, 2, 1, kModel0))), RoundEvent::kIgnored);  // skips round 1
  EXPECT_EQ(apply_cmd(s, RoundState::encode_start(start(1, 2, 1, kModel1))), RoundEvent::kIgnored);  // wrong base
  EXPECT_EQ(apply_cmd(s, RoundState::encode_start(start(1, 2, 1, kModel0))), RoundEvent::kStart);
  EXPECT_EQ(s.current()->round, 1u);
}

// A server optimiser's state is a chain: each commit must name the state of the previous one as
// its base and leave a new one; a commit that restarts or forks it is ignored on every node, and
// a stateless aggregator's commit carries none.
TEST(RoundState, ServerStateCommitsMustContinueTheCommittedState) {
  const std::string kState1(64, '1'), kState2(64, '2'), kOther(64, '9');
  RoundState s;
  RoundConfig c = config();
  c.aggregator = "fedadam";
  apply_cmd(s, RoundState::encode_config(c));
  RoundStart r1 = start(1, 2, 1, kModel0);
  apply_cmd(s, RoundState::encode_start(r1));
  RoundRecord stateless = commit(r1, kModel1);
  std::string why;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_commit(stateless), &why), RoundEvent::kIgnored);  // no state left
  EXPECT_NE(why.find("no valid server state"), std::string::npos) << why;
  RoundRecord c1 = commit(r1, kModel1);
  c1.server_state_id = kState1;
  ASSERT_EQ(apply_cmd(s, RoundState::encode_commit(c1)), RoundEvent::kCommit);
  EXPECT_EQ(s.last_server_state_id(), kState1);

  RoundStart r2 = start(2, 3, 1, kModel1);
  apply_cmd(s, RoundState::encode_start(r2));
  RoundRecord restarted = commit(r2, kModel2);
  restarted.server_state_id = kState2;  // continues "" (a fresh optimiser), not kState1
  EXPECT_EQ(apply_cmd(s, RoundState::encode_commit(restarted), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("continues server state"), std::string::npos) << why;
  RoundRecord forked = restarted;
  forked.base_state_id = kOther;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_commit(forked)), RoundEvent::kIgnored);
  RoundRecord c2 = restarted;
  c2.base_state_id = kState1;
  ASSERT_EQ(apply_cmd(s, RoundState::encode_commit(c2)), RoundEvent::kCommit);
  EXPECT_EQ(s.last_server_state_id(), kState2);

  RoundState plain;
  apply_cmd(plain, RoundState::encode_config(config()));
  apply_cmd(plain, RoundState::encode_start(r1));
  EXPECT_EQ(apply_cmd(plain, RoundState::encode_commit(c1), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("keeps no server state"), std::string::npos) << why;
  EXPECT_EQ(apply_cmd(plain, RoundState::encode_commit(stateless)), RoundEvent::kCommit);
}

// --keep-models: the models (and states) of all but the last K commits retire, the initial model
// with them once K rounds are committed; a model a kept commit names again is kept.
TEST(RoundState, RetiredBlobsAreThoseBeforeTheLastKCommits) {
  RoundState s;
  RoundConfig c = config(6);
  c.keep_models = 2;
  apply_cmd(s, RoundState::encode_config(c));
  std::vector<std::string> models = {std::string(64, '1'), std::string(64, '2'), std::string(64, '3'), kModel2};
  std::string base = kModel0;
  for (std::uint64_t r = 1; r <= 4; ++r) {
    RoundStart st = start(r, 2, r, base);
    apply_cmd(s, RoundState::encode_start(st));
    ASSERT_EQ(apply_cmd(s, RoundState::encode_commit(commit(st, models[r - 1]))), RoundEvent::kCommit);
    // Round 1 is evaluated late: its model stays until it is.
    if (r > 1) apply_cmd(s, RoundState::encode_metrics(metrics_of(r, models[r - 1], 0.5, 0.5)));
    base = models[r - 1];
    if (r == 1) {
      EXPECT_TRUE(retired_blobs(s).empty());
    } else if (r == 2) {
      EXPECT_EQ(retired_blobs(s), std::vector<std::string>{kModel0});
    }
  }
  EXPECT_EQ(retired_blobs(s), (std::vector<std::string>{kModel0, models[1]}));
  apply_cmd(s, RoundState::encode_metrics(metrics_of(1, models[0], 0.5, 0.5)));
  EXPECT_EQ(retired_blobs(s), (std::vector<std::string>{kModel0, models[0], models[1]}));
  // What the run still names: the last K commits' models, nothing retired, nothing else.
  EXPECT_EQ(named_blobs(s), (std::set<std::string>{models[2], models[3]}));
  RoundConfig keep_all = config(6);
  keep_all.keep_models = 0;
  RoundState none;
  apply_cmd(none, RoundState::encode_config(keep_all));
  EXPECT_TRUE(retired_blobs(none).empty());
  EXPECT_EQ(named_blobs(none), (std::set<std::string>{kModel0}));  // the initial model
}

TEST(RoundState, DeposedAggregatorsLateCommitCannotOverwriteTheRerun) {
  RoundState s;
  apply_cmd(s, RoundState::encode_config(config()));
  RoundStart old_start = start(1, 2, 1, kModel0);
  apply_cmd(s, RoundState::encode_start(old_start));
  RoundStart rerun = start(1, 3, 1, kModel0);  // new leader, term 3, runs round 1 again
  EXPECT_EQ(apply_cmd(s, RoundState::encode_start(rerun)), RoundEvent::kStart);
  EXPECT_EQ(apply_cmd(s, RoundState::encode_commit(commit(old_start, kModel1))), RoundEvent::kIgnored);
  EXPECT_EQ(s.last_round(), 0u);
  EXPECT_EQ(apply_cmd(s, RoundState::encode_commit(commit(rerun, kModel2))), RoundEvent::kCommit);
  EXPECT_EQ(s.last_round(), 1u);
  EXPECT_EQ(s.last_model_id(), kModel2);
  EXPECT_FALSE(s.current());
  EXPECT_EQ(s.committed()[0].samples(), 150u);
  // A second commit of the same round changes nothing.
  EXPECT_EQ(apply_cmd(s, RoundState::encode_commit(commit(rerun, kModel1))), RoundEvent::kIgnored);
  EXPECT_EQ(s.last_model_id(), kModel2);
}

TEST(RoundState, RunEndsAfterExactlyTheConfiguredRounds) {
  RoundState s;
  apply_cmd(s, RoundState::encode_config(config(2)));
  std::string model = kModel0;
  for (std::uint64_t r = 1; r <= 2; ++r) {
    auto st = start(r, 2, r, model);
    ASSERT_EQ(apply_cmd(s, RoundState::encode_start(st)), RoundEvent::kStart);
    model = std::string(64, static_cast<char>('0' + r));
    ASSERT_EQ(apply_cmd(s, RoundState::encode_commit(commit(st, model))), RoundEvent::kCommit);
  }
  EXPECT_TRUE(s.done());
  EXPECT_EQ(apply_cmd(s, RoundState::encode_start(start(3, 2, 3, model))), RoundEvent::kIgnored);
}

TEST(RoundState, MetricsFollowTheCommitOncePerRoundForItsModel) {
  RoundState s;
  apply_cmd(s, RoundState::encode_config(config(3)));
  RoundStart s1 = start(1, 2, 1, kModel0);
  apply_cmd(s, RoundState::encode_start(s1));
  RoundRecord r1 = commit(s1, kModel1);
  r1.test_accuracy = 0;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_commit(r1)), RoundEvent::kCommit);
  EXPECT_FALSE(s.committed().back().evaluated);
  EXPECT_EQ(s.first_unevaluated(), &s.committed().back());
  EXPECT_EQ(s.last_evaluated(), nullptr);
  std::string why;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(metrics_of(2, kModel1, 0.5, 0.8)), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("not committed"), std::string::npos) << why;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(metrics_of(1, kModel2, 0.5, 0.8)), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("not the committed one"), std::string::npos) << why;
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(metrics_of(1, kModel1, 0.5, NAN)), &why), RoundEvent::kIgnored);
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(metrics_of(1, kModel1, 0.5, 1.5)), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("outside 0-1"), std::string::npos) << why;
  // The parties' own evaluations: one each, from samples, finite.
  RoundMetrics twice = metrics_of(1, kModel1, 0.5, 0.8);
  twice.parties = {{7, 10, 0.3, 0.9}, {7, 20, 0.2, 0.8}};
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(twice), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("node 7 evaluated twice"), std::string::npos) << why;
  RoundMetrics empty = metrics_of(1, kModel1, 0.5, 0.8);
  empty.parties = {{7, 0, 0.3, 0.9}};
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(empty), &why), RoundEvent::kIgnored);
  RoundMetrics nan = metrics_of(1, kModel1, 0.5, 0.8);
  nan.parties = {{7, 10, NAN, 0.9}};
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(nan), &why), RoundEvent::kIgnored);
  // One party cannot take the average over: no accuracy above 1, no count beyond 2^32.
  RoundMetrics greedy = metrics_of(1, kModel1, 0.5, 0.8);
  greedy.parties = {{7, 10, 0.3, 1e300}};
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(greedy), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("accuracy above 1"), std::string::npos) << why;
  greedy.parties = {{7, std::uint64_t{1} << 63, 0.3, 0.9}};
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(greedy), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("test samples"), std::string::npos) << why;
  EXPECT_FALSE(s.committed().back().evaluated);
  RoundMetrics good = metrics_of(1, kModel1, 0.5, 0.8);
  good.parties = {{7, 10, 0.3, 0.9}, {9, 30, 0.1, 0.5}};
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(good)), RoundEvent::kMetrics);
  EXPECT_EQ(s.last_metrics(), &s.committed().back());
  EXPECT_EQ(s.committed().back().parties, good.parties);
  FederatedEval f = federated(s.committed().back().parties);
  EXPECT_EQ(f.samples, 40u);
  EXPECT_DOUBLE_EQ(f.metric, (10 * 0.9 + 30 * 0.5) / 40);
  EXPECT_DOUBLE_EQ(f.loss, (10 * 0.3 + 30 * 0.1) / 40);
  EXPECT_TRUE(s.committed().back().evaluated);
  EXPECT_EQ(s.committed().back().test_accuracy, 0.8);
  EXPECT_EQ(s.committed().back().test_loss, 0.5);
  EXPECT_EQ(s.first_unevaluated(), nullptr);
  EXPECT_EQ(s.last_evaluated(), &s.committed().back());
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(metrics_of(1, kModel1, 0.1, 0.9)), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("already evaluated"), std::string::npos) << why;
  EXPECT_EQ(s.committed().back().test_accuracy, 0.8);

  // A diverged model (the loss is no longer finite) is still a result.
  RoundStart s2 = start(2, 2, 2, kModel1);
  apply_cmd(s, RoundState::encode_start(s2));
  apply_cmd(s, RoundState::encode_commit(commit(s2, kModel2)));
  EXPECT_EQ(apply_cmd(s, RoundState::encode_metrics(metrics_of(2, kModel2, NAN, 0.1))), RoundEvent::kMetrics);
  EXPECT_TRUE(std::isnan(s.committed().back().test_loss));
}

// A log or snapshot written before metrics had their own command carried them in the commit:
// such commits count as evaluated (nobody evaluates them again).
TEST(RoundState, CommitsWrittenBeforeMetricsCommandsCountAsEvaluated) {
  RoundState s;
  apply_cmd(s, RoundState::encode_config(config(3)));
  RoundStart s1 = start(1, 2, 1, kModel0);
  apply_cmd(s, RoundState::encode_start(s1));
  RoundRecord r1 = commit(s1, kModel1);
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(2);
  p.pack("fl");
  p.pack("commit");
  p.pack("body");
  p.pack_map(6);
  p.pack("round"), p.pack(r1.round), p.pack("term"), p.pack(r1.term), p.pack("attempt"), p.pack(r1.attempt);
  p.pack("model_id"), p.pack(r1.model_id), p.pack("base_model_id"), p.pack(r1.base_model_id);
  p.pack("test_accuracy"), p.pack(0.4);
  EXPECT_EQ(apply_cmd(s, std::string(b.data(), b.size())), RoundEvent::kCommit);
  EXPECT_TRUE(s.committed().back().evaluated);
  EXPECT_TRUE(s.finished() == false && s.first_unevaluated() == nullptr);

  // An old snapshot: records without the field.
  msgpack::sbuffer snap;
  msgpack::packer<msgpack::sbuffer> q(snap);
  q.pack_map(3);
  q.pack("config"), q.pack(config(3)), q.pack("current"), q.pack_nil(), q.pack("committed");
  q.pack_array(1);
  q.pack_map(2);
  q.pack("round"), q.pack(1), q.pack("model_id"), q.pack(kModel1);
  auto h = unpack(std::string(snap.data(), snap.size()));
  RoundState restored;
  ASSERT_TRUE(restored.restore(h.get()).ok());
  EXPECT_TRUE(restored.committed().at(0).evaluated);
}

TEST(RoundState, SnapshotRoundTrip) {
  RoundState s;
  apply_cmd(s, RoundState::encode_config(config()));
  auto st = start(1, 2, 1, kModel0);
  apply_cmd(s, RoundState::encode_start(st));
  apply_cmd(s, RoundState::encode_commit(commit(st, kModel1)));
  apply_cmd(s, RoundState::encode_metrics(metrics_of(1, kModel1, 0.5, 0.625)));
  apply_cmd(s, RoundState::encode_start(start(2, 2, 2, kModel1)));
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  s.pack(p);
  RoundState t;
  auto h = msgpack::unpack(b.data(), b.size());
  ASSERT_TRUE(t.restore(h.get()).ok());
  EXPECT_EQ(t.config()->rounds, 3u);
  EXPECT_EQ(t.current()->round, 2u);
  ASSERT_EQ(t.committed().size(), 1u);
  EXPECT_EQ(t.committed()[0].model_id, kModel1);
  EXPECT_EQ(t.committed()[0].results.size(), 2u);
  EXPECT_TRUE(t.committed()[0].evaluated);
  EXPECT_EQ(t.committed()[0].test_accuracy, 0.625);
}

// Deflated commands (zbody) apply exactly as their maps do, and take less than half the bytes:
// the field names cost a back-reference into the dictionary, not their letters.
TEST(RoundState, DeflatedCommandsApplyLikeTheirMapsInLessThanHalfTheBytes) {
  RoundConfig c = config(3);
  c.command_encoding = "deflate";
  RoundState plain, deflated;
  ASSERT_EQ(apply_cmd(plain, RoundState::encode_config(config(3))), RoundEvent::kConfig);
  ASSERT_EQ(apply_cmd(deflated, RoundState::encode_config(c)), RoundEvent::kConfig);
  EXPECT_FALSE(plain.deflates_commands());
  EXPECT_TRUE(deflated.deflates_commands());
  RoundStart st = start(1, 2, 1, kModel0);
  RoundRecord rec = commit(st, kModel1);
  rec.participants = {0x1234567890abcdefull, 0x2234567890abcdefull, 0x3234567890abcdefull};
  RoundMetrics m = metrics_of(1, kModel1, 0.5, 0.625);
  std::size_t plain_bytes = 0, deflated_bytes = 0;
  for (bool z : {false, true}) {
    RoundState& s = z ? deflated : plain;
    std::string commands[] = {RoundState::encode_start(st, z), RoundState::encode_commit(rec, z),
                              RoundState::encode_metrics(m, z)};
    for (const auto& cmd : commands) {
      (z ? deflated_bytes : plain_bytes) += cmd.size();
      EXPECT_EQ(cmd.find(z ? "zbody" : "body") != std::string::npos, true);
    }
    EXPECT_EQ(apply_cmd(s, commands[0]), RoundEvent::kStart);
    EXPECT_EQ(apply_cmd(s, commands[1]), RoundEvent::kCommit);
    EXPECT_EQ(apply_cmd(s, commands[2]), RoundEvent::kMetrics);
  }
  EXPECT_LT(2 * deflated_bytes, plain_bytes) << deflated_bytes << " of " << plain_bytes;
  msgpack::sbuffer a, b;
  msgpack::packer<msgpack::sbuffer> pa(a), pb(b);
  plain.pack(pa);
  deflated.pack(pb);
  RoundState back;
  auto h = msgpack::unpack(b.data(), b.size());
  ASSERT_TRUE(back.restore(h.get()).ok());
  ASSERT_EQ(back.committed().size(), 1u);
  EXPECT_EQ(back.committed()[0].participants, rec.participants);
  EXPECT_EQ(back.committed()[0].test_accuracy, 0.625);
  EXPECT_EQ(plain.committed()[0].results.size(), back.committed()[0].results.size());
}

// A zbody that is not binary, is cut short, has bytes after its end, was made with another
// dictionary, inflates past the bound, or is not a msgpack map is an error naming zbody.
TEST(RoundState, DamagedDeflatedBodiesAreRefusedWithTheReason) {
  RoundState s;
  apply_cmd(s, RoundState::encode_config(config(3)));
  auto command_with = [](const std::function<void(msgpack::packer<msgpack::sbuffer>&)>& zbody) {
    msgpack::sbuffer b;
    msgpack::packer<msgpack::sbuffer> p(b);
    p.pack_map(2);
    p.pack("fl"), p.pack("start"), p.pack("zbody");
    zbody(p);
    return std::string(b.data(), b.size());
  };
  auto bin = [](const std::string& bytes) {
    return [bytes](msgpack::packer<msgpack::sbuffer>& p) { pack_bin(p, bytes); };
  };
  auto zbody_of = [](const std::string& command) {
    auto h = unpack(command);
    const auto* z = &h.get().via.map.ptr[1].val;
    return std::string(z->via.bin.ptr, z->via.bin.size);
  };
  std::string good = zbody_of(RoundState::encode_start(start(1, 2, 1, kModel0), true));
  auto deflate_plainly = [](const std::string& bytes) {  // a zlib stream without the dictionary
    uLongf n = compressBound(bytes.size());
    std::string out(n, '\0');
    compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size(), 9);
    out.resize(n);
    return out;
  };
  msgpack::sbuffer not_a_map;
  msgpack::pack(not_a_map, 7);
  struct Case {
    std::string command, words;
  } cases[] = {
      {command_with([](auto& p) { p.pack(7); }), "zbody is not binary"},
      {command_with(bin(good.substr(0, good.size() / 2))), "not a whole deflate stream"},
      {command_with(bin(good + "x")), "1 bytes after the stream's end"},
      {command_with(bin(std::string("\x78\xbb\x00\x00\x00\x01", 6) + good.substr(6))), "dictionary"},
      {command_with(bin(deflate_plainly(std::string(100000, '\x90')))), "inflates past 65536 bytes"},
      {command_with(bin(deflate_plainly(std::string(not_a_map.data(), not_a_map.size())))), "body (map"},
  };
  for (const auto& c : cases) {
    RoundEvent e;
    std::string why;
    auto h = unpack(c.command);
    Status st = s.apply(h.get(), &e, &why);
    ASSERT_FALSE(st.ok()) << c.words;
    EXPECT_NE(st.message().find(c.words), std::string::npos) << st.message();
    EXPECT_FALSE(s.current().has_value());
  }
  RoundConfig odd = config(3);
  odd.command_encoding = "brotli";
  RoundState t;
  std::string why;
  EXPECT_EQ(apply_cmd(t, RoundState::encode_config(odd), &why), RoundEvent::kIgnored);
  EXPECT_NE(why.find("unknown command encoding 'brotli'"), std::string::npos) << why;
}

TEST(RoundState, MalformedCommandsAreErrorsNotCrashes) {
  RoundState s;
  RoundEvent e;
  std::string why;
  for (const std::string& bad : {std::string("\x82\xa2" "fl\x01\xa4" "body\x80"),           // fl not a string
                                 std::string("\x82\xa2" "fl\xa6" "config\xa4" "body\x01"),  // body not a map
                                 std::string("\x82\xa2" "fl\xa4" "nope\xa4" "body\x80"),    // unknown kind
                                 std::string("\x82\xa2" "fl\xa5" "start\xa4" "body\x81\xa5" "round\xa1x")}) {
    auto h = unpack(bad);
    EXPECT_FALSE(s.apply(h.get(), &e, &why).ok());
  }
  auto garbage = unpack(std::string("\x93\x01\x02\x03"));
  EXPECT_FALSE(s.restore(garbage.get()).ok());
}

TEST(ChooseParticipants, AllOrAFractionDeterministically) {
  EXPECT_EQ(choose_participants({9, 3, 5, 3}, 1.0, 1, 1), (std::vector<std::uint64_t>{3, 5, 9}));
  auto half = choose_participants({1, 2, 3, 4, 5, 6}, 0.5, 7, 1);
  EXPECT_EQ(half.size(), 3u);
  EXPECT_TRUE(std::is_sorted(half.begin(), half.end()));
  EXPECT_EQ(half, choose_participants({6, 5, 4, 3, 2, 1}, 0.5, 7, 1));
  bool varies = false;
  for (std::uint64_t r = 2; r < 20; ++r) varies |= choose_participants({1, 2, 3, 4, 5, 6}, 0.5, 7, r) != half;
  EXPECT_TRUE(varies);
  EXPECT_EQ(choose_participants({4}, 0.1, 1, 1), (std::vector<std::uint64_t>{4}));
  EXPECT_TRUE(choose_participants({}, 1.0, 1, 1).empty());
  // --clients-per-round: exactly K of the live (all of them when fewer), whatever --fraction says.
  auto three = choose_participants({1, 2, 3, 4, 5, 6}, 0.5, 7, 1, 3);
  EXPECT_EQ(three.size(), 3u);
  EXPECT_EQ(choose_participants({1, 2, 3, 4, 5, 6}, 1.0, 7, 1, 4).size(), 4u);
  EXPECT_EQ(choose_participants({1, 2}, 0.5, 7, 1, 5), (std::vector<std::uint64_t>{1, 2}));
}

}  // namespace
}  // namespace fednode::fl

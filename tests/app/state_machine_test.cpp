#include "fednode/app/state_machine.h"

#include <gtest/gtest.h>

#include <msgpack.hpp>

namespace fednode {
namespace {

std::string kv(const std::string& command) { return StateMachine::tagged(StateMachine::Kind::kKeyValue, command); }
std::string round(const std::string& command) { return StateMachine::tagged(StateMachine::Kind::kRound, command); }

TEST(StateMachine, KeyValueAndRoundCommandsShareOneLogAndOneSnapshot) {
  StateMachine sm;
  fl::RoundEvent e;
  std::string why;
  ASSERT_TRUE(sm.apply(kv(KvStore::change_command("k", "\xa1v")), &e, &why).ok());
  EXPECT_EQ(e, fl::RoundEvent::kIgnored);
  fl::RoundConfig c;
  c.rounds = 2;
  c.initial_model_id = std::string(64, 'f');
  ASSERT_TRUE(sm.apply(round(fl::RoundState::encode_config(c)), &e, &why).ok());
  EXPECT_EQ(e, fl::RoundEvent::kConfig);
  sm.kv().members()[7] = "127.0.0.1:5000";

  StateMachine copy;
  ASSERT_TRUE(copy.restore(sm.snapshot()).ok());
  EXPECT_EQ(copy.kv().entries().at("k"), "\xa1v");
  EXPECT_EQ(copy.kv().members().at(7), "127.0.0.1:5000");
  ASSERT_TRUE(copy.rounds().config());
  EXPECT_EQ(copy.rounds().config()->rounds, 2u);
}

TEST(StateMachine, BadCommandsAndSnapshotsAreErrorsAndChangeNothing) {
  StateMachine sm;
  fl::RoundEvent e;
  std::string why;
  ASSERT_TRUE(sm.apply(kv(KvStore::change_command("k", "\x01")), &e, &why).ok());
  EXPECT_FALSE(sm.apply(kv("\xc1"), &e, &why).ok());                              // never-used msgpack byte
  EXPECT_FALSE(sm.apply(round("\x81\xa2" "fl\xa6" "commit"), &e, &why).ok());  // no body
  EXPECT_FALSE(sm.apply("", &e, &why).ok());
  EXPECT_FALSE(sm.apply(std::string("\x07") + KvStore::change_command("x", "\x01"), &e, &why).ok());  // unknown kind
  // An untagged entry (the log format before kinds) is refused, not guessed at.
  EXPECT_FALSE(sm.apply(KvStore::change_command("y", "\x01"), &e, &why).ok());
  EXPECT_FALSE(sm.restore("not a snapshot").ok());
  EXPECT_FALSE(sm.restore(std::string("\x92\x01\x02")).ok());
  EXPECT_EQ(sm.kv().entries().size(), 1u);
}

// The snapshot's format: [kv, rounds] is format 1; a trailing number up to kStateFormat is read,
// a later one refused with one line (a member of a later version may send its snapshot here).
TEST(StateMachine, SnapshotFormatsUpToItsOwnAreReadALaterOneRefused) {
  StateMachine sm;
  fl::RoundEvent e;
  std::string why;
  ASSERT_TRUE(sm.apply(kv(KvStore::change_command("k", "\xa1v")), &e, &why).ok());
  const std::string v1 = sm.snapshot();
  ASSERT_EQ(static_cast<unsigned char>(v1[0]), 0x92u);  // format 1 is written: a 2-array
  auto with_format = [&](std::string number) { return std::string("\x93") + v1.substr(1) + number; };
  StateMachine copy;
  ASSERT_TRUE(copy.restore(with_format("\x01")).ok());
  EXPECT_EQ(copy.kv().entries().at("k"), "\xa1v");
  Status later = copy.restore(with_format("\x02"));
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.message(),
            "snapshot: in state format 2, written by a later fednode; this one reads formats 1 to 1: upgrade this node");
  EXPECT_EQ(copy.restore(with_format(std::string(1, '\0'))).message(), "snapshot: its format is not a number from 1");
  EXPECT_FALSE(copy.restore(with_format("\xa1" "2")).ok());
  EXPECT_FALSE(copy.restore(std::string("\x94") + v1.substr(1) + "\x01\x01").ok());
  EXPECT_EQ(copy.kv().entries().at("k"), "\xa1v");  // a refused snapshot changes nothing
}

// A client's key-value write that also carries the fields of a round command ("fl", "body") is
// a key-value write: clients can never commit a model or restart a round.
TEST(StateMachine, ClientWriteCarryingRoundFieldsIsNeverARoundCommand) {
  StateMachine sm;
  fl::RoundEvent e;
  std::string why;
  fl::RoundConfig c;
  c.rounds = 3;
  c.initial_model_id = std::string(64, 'a');
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(5);
  p.pack("action");
  p.pack("change");
  p.pack("key");
  p.pack("k");
  p.pack("value");
  p.pack("v");
  p.pack("fl");
  p.pack("config");
  p.pack("body");
  p.pack(c);
  std::string smuggled(b.data(), b.size());
  ASSERT_TRUE(KvStore::validate(smuggled).ok()) << "the daemon accepts this map from a client";
  ASSERT_TRUE(sm.apply(kv(smuggled), &e, &why).ok());
  EXPECT_EQ(e, fl::RoundEvent::kIgnored);
  EXPECT_FALSE(sm.rounds().config()) << "a client write configured the run";
  EXPECT_EQ(sm.kv().entries().count("k"), 1u);
}

}  // namespace
}  // namespace fednode

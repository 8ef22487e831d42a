#include "fednode/app/state_machine.h"

#include <gtest/gtest.h>

namespace fednode {
namespace {

TEST(StateMachine, KeyValueAndRoundCommandsShareOneLogAndOneSnapshot) {
  StateMachine sm;
  fl::RoundEvent e;
  std::string why;
  ASSERT_TRUE(sm.apply(KvStore::change_command("k", "\xa1v"), &e, &why).ok());
  EXPECT_EQ(e, fl::RoundEvent::kIgnored);
  fl::RoundConfig c;
  c.rounds = 2;
  c.initial_model_id = std::string(64, 'f');
  ASSERT_TRUE(sm.apply(fl::RoundState::encode_config(c), &e, &why).ok());
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
  ASSERT_TRUE(sm.apply(KvStore::change_command("k", "\x01"), &e, &why).ok());
  EXPECT_FALSE(sm.apply("\xc1", &e, &why).ok());                          // never-used msgpack byte
  EXPECT_FALSE(sm.apply("\x81\xa2" "fl\xa6" "commit", &e, &why).ok());  // no body
  EXPECT_FALSE(sm.restore("not a snapshot").ok());
  EXPECT_FALSE(sm.restore(std::string("\x92\x01\x02")).ok());
  EXPECT_EQ(sm.kv().entries().size(), 1u);
}

}  // namespace
}  // namespace fednode

// --evict-after as a pure function of the leader's view and the time.
#include "fednode/app/learner_eviction.h"

#include <gtest/gtest.h>

namespace fednode {
namespace {

using std::chrono::seconds;
using Clock = LearnerEviction::Clock;

raft::FollowerStatus follower(raft::NodeId id, bool learner, bool active) {
  raft::FollowerStatus f;
  f.id = id;
  f.learner = learner;
  f.recent_active = active;
  return f;
}

TEST(LearnerEviction, ALearnerSilentForTheWholeSpanIsChosenOnceVotersNever) {
  LearnerEviction e(seconds(10));
  Clock::time_point t0{};
  // 1 and 2 are voters, 3 and 4 learners; everyone answers at first.
  std::vector<raft::FollowerStatus> all{follower(1, false, true), follower(3, true, true), follower(4, true, true)};
  EXPECT_FALSE(e.observe(t0, 5, all));
  // 3 and the voter 1 fall silent; 4 keeps answering.
  std::vector<raft::FollowerStatus> later{follower(1, false, false), follower(3, true, false), follower(4, true, true)};
  EXPECT_FALSE(e.observe(t0 + seconds(9), 5, later)) << "9 s of silence is not 10";
  EXPECT_EQ(e.silent_for(3, t0 + seconds(9)), seconds(9));
  auto chosen = e.observe(t0 + seconds(10), 5, later);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, 3u);
  EXPECT_FALSE(e.observe(t0 + seconds(11), 5, later)) << "its removal is under way";
  EXPECT_FALSE(e.observe(t0 + seconds(100), 5, {follower(1, false, false), follower(4, true, true)}))
      << "a voter is never evicted, however long it is silent";
}

TEST(LearnerEviction, TheLongestSilentGoesFirstAndAnAnswerResetsTheClock) {
  LearnerEviction e(seconds(10));
  Clock::time_point t0{};
  e.observe(t0, 1, {follower(3, true, true), follower(4, true, true)});
  e.observe(t0 + seconds(2), 1, {follower(3, true, false), follower(4, true, true)});
  e.observe(t0 + seconds(4), 1, {follower(3, true, false), follower(4, true, false)});
  // 3 was last heard at 0, 4 at 2: at 13 both are past 10 s; 3 is the longer silent.
  auto first = e.observe(t0 + seconds(13), 1, {follower(3, true, false), follower(4, true, false)});
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 3u);
  auto second = e.observe(t0 + seconds(13), 1, {follower(3, true, false), follower(4, true, false)});
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, 4u);
  // A learner that answers again starts over.
  LearnerEviction f(seconds(10));
  f.observe(t0, 1, {follower(5, true, true)});
  f.observe(t0 + seconds(8), 1, {follower(5, true, true)});
  EXPECT_FALSE(f.observe(t0 + seconds(17), 1, {follower(5, true, false)}));
  EXPECT_TRUE(f.observe(t0 + seconds(18), 1, {follower(5, true, false)}));
}

TEST(LearnerEviction, ANewTermOrANewLearnerStartsItsClockNow) {
  LearnerEviction e(seconds(10));
  Clock::time_point t0{};
  e.observe(t0, 1, {follower(3, true, true)});
  e.observe(t0 + seconds(1), 1, {follower(3, true, false)});
  // This node lost and regained the leadership: silence before the new term is not counted.
  EXPECT_FALSE(e.observe(t0 + seconds(12), 2, {follower(3, true, false)}));
  EXPECT_FALSE(e.observe(t0 + seconds(21), 2, {follower(3, true, false)}));
  EXPECT_TRUE(e.observe(t0 + seconds(22), 2, {follower(3, true, false)}));
  // A learner first seen silent is timed from when it was first seen.
  LearnerEviction f(seconds(10));
  EXPECT_FALSE(f.observe(t0 + seconds(50), 1, {follower(6, true, false)}));
  EXPECT_FALSE(f.observe(t0 + seconds(59), 1, {follower(6, true, false)}));
  EXPECT_TRUE(f.observe(t0 + seconds(60), 1, {follower(6, true, false)}));
}

}  // namespace
}  // namespace fednode

// The watch's frame from what the nodes answered (the live view itself runs under tmux in
// ctest FlWatchUnderTmux).
#include <gtest/gtest.h>

#include "fednode/ctl/ctl_watch.h"

namespace fednode {
namespace {

TEST(CtlWatch, FrameShowsMembersRoundAndAccuracy) {
  WatchFrame f;
  f.target = "127.0.0.1:5000";
  f.clock = "12:00:00";
  WatchMember leader{"127.0.0.1:5000", true, "Leader", "voter", 3, 120, 1500, 20, 2.5e6};
  WatchMember learner{"127.0.0.1:5001", true, "Follower", "learner", 3, 119, 900, 0, 0};
  WatchMember gone{"127.0.0.1:5002", false, "", "", 0, 0, 0, 0, 0};
  f.members = {leader, learner, gone};
  f.run = "10 rounds of cifar10-cnn on cifar10, median";
  f.rounds_planned = 10;
  f.rounds_committed = 2;
  f.accuracy = {{1, 0.2}, {2, 0.25}};
  f.round = 3;
  f.phase = "collecting";
  f.updates = 1;
  f.invited = 2;
  f.seconds = 4.25;
  f.aggregator = "127.0.0.1:5000";
  std::string s = render_watch(f);
  EXPECT_NE(s.find("127.0.0.1:5000         Leader     voter         3      120       1.5k         20       2.5M\n"),
            std::string::npos) << s;
  EXPECT_NE(s.find("127.0.0.1:5001         Follower   learner"), std::string::npos) << s;
  EXPECT_NE(s.find("127.0.0.1:5002         unreachable"), std::string::npos) << s;
  EXPECT_NE(s.find("round 3 of 10: collecting, 1 of 2 updates, 4.2 s (aggregator 127.0.0.1:5000)"), std::string::npos) << s;
  EXPECT_NE(s.find("accuracy:  r1 0.200  r2 0.250\n"), std::string::npos) << s;

  f.round.reset();
  f.rounds_committed = 10;
  EXPECT_NE(render_watch(f).find("10 of 10 rounds committed: evaluating"), std::string::npos);
  f.finished = true;
  EXPECT_NE(render_watch(f).find("10 of 10 rounds committed: run complete"), std::string::npos);
  f.run.clear();
  EXPECT_NE(render_watch(f).find("no training run configured"), std::string::npos);
  f.members.clear();
  EXPECT_NE(render_watch(f).find("no answer from 127.0.0.1:5000"), std::string::npos);
}

}  // namespace
}  // namespace fednode

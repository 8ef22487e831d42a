// The Raft core's scenarios as transcripts (tests/raft/testdata/*.txt): each step a command,
// then every message it caused, as delivered, and the state it left. Commands:
//   cluster voters=N [snapshot-entries=K] [max-message-bytes=B] [pre-vote=0|1]
//   campaign ID | tick ID [N] | propose ID DATA | transfer FROM TO
//   stabilize            deliver until the network is quiet, printing each message
//   isolate ID | heal    cut a node off from every other, or restore every link
//   status | log ID
#include <memory>
#include <sstream>
#include <stdexcept>

#include "test_cluster.h"
#include "transcript.h"

namespace fednode::raft::testing {
namespace {

std::string entry_text(const Entry& e) {
  std::string out = std::to_string(e.index) + "/" + std::to_string(e.term);
  if (e.type != EntryType::kNormal) return out + " conf-change";
  if (e.data.empty()) return out + " empty";
  return out + " \"" + e.data + "\"";
}

std::string message_text(const Message& m) {
  std::ostringstream o;
  o << m.from << "->" << m.to << " " << message_type_name(m.type) << " term=" << m.term;
  switch (m.type) {
    case MessageType::kVote:
    case MessageType::kPreVote:
      o << " last=" << m.index << "/" << m.log_term;
      if (m.context) o << " transfer";
      break;
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      o << (m.reject ? " rejected" : " granted");
      break;
    case MessageType::kAppend:
      o << " prev=" << m.index << "/" << m.log_term << " commit=" << m.commit << " entries=[";
      for (std::size_t i = 0; i < m.entries.size(); ++i) o << (i ? ", " : "") << entry_text(m.entries[i]);
      o << "]";
      break;
    case MessageType::kAppendResponse:
      if (m.reject) o << " rejected index=" << m.index << " hint=" << m.reject_hint << "/" << m.log_term;
      else o << " index=" << m.index;
      break;
    case MessageType::kHeartbeat:
      o << " commit=" << m.commit;
      if (m.context) o << " read=" << m.context;
      break;
    case MessageType::kHeartbeatResponse:
      if (m.context) o << " read=" << m.context;
      break;
    case MessageType::kSnapshotChunk:
      o << " snapshot=" << m.snapshot.index << "/" << m.snapshot.term << " offset=" << m.offset
        << " bytes=" << m.data.size() << (m.done ? " done" : "");
      break;
    case MessageType::kSnapshotChunkResponse:
      o << " snapshot=" << m.snapshot.index << "/" << m.snapshot.term << " offset=" << m.offset
        << (m.reject ? " rejected" : "");
      break;
    case MessageType::kTimeoutNow:
      break;
  }
  return o.str();
}

class RaftRig {
 public:
  std::string run(const transcript::Command& c) {
    if (c.name == "cluster") return make(c);
    if (!cluster_) throw std::runtime_error("no cluster yet: start with 'cluster voters=N'");
    std::ostringstream o;
    c.only({});
    if (c.name == "campaign") {
      cluster_->node(c.word_number(0)).campaign();
    } else if (c.name == "tick") {
      std::uint64_t n = c.words.size() > 1 ? c.word_number(1) : 1;
      for (std::uint64_t i = 0; i < n; ++i) cluster_->node(c.word_number(0)).tick();
    } else if (c.name == "propose") {
      if (c.words.size() < 2) throw std::runtime_error("propose ID DATA");
      o << request_status_name(cluster_->node(c.word_number(0)).propose(c.words[1])) << "\n";
    } else if (c.name == "transfer") {
      o << request_status_name(cluster_->node(c.word_number(0)).transfer_leadership(c.word_number(1))) << "\n";
    } else if (c.name == "stabilize") {
      stabilize(o);
    } else if (c.name == "isolate") {
      cluster_->isolate(c.word_number(0));
    } else if (c.name == "heal") {
      cluster_->heal();
    } else if (c.name == "status") {
      for (auto& [id, n] : cluster_->nodes()) {
        const Node& node = *n.node;
        o << id << " " << role_name(node.role()) << " term=" << node.term() << " leader=" << node.leader()
          << " commit=" << node.commit_index() << " applied=" << node.applied_index() << " log=" << node.first_index()
          << ".." << node.last_index() << " snapshot=" << n.storage->snapshot().meta.index << "\n";
      }
    } else if (c.name == "log") {
      Node& node = cluster_->node(c.word_number(0));
      for (const Entry& e : node.log_entries(node.first_index(), node.last_index() + 1)) o << entry_text(e) << "\n";
    } else {
      throw std::runtime_error("unknown command '" + c.name + "'");
    }
    return o.str();
  }

 private:
  std::string make(const transcript::Command& c) {
    c.only({"voters", "snapshot-entries", "max-message-bytes", "pre-vote"});
    std::uint64_t snapshot_entries = c.number("snapshot-entries", 0);
    std::uint64_t max_bytes = c.number("max-message-bytes", 0);
    bool pre_vote = c.number("pre-vote", 1) != 0;
    cluster_ = std::make_unique<TestCluster>(static_cast<int>(c.number("voters", 3)), [=](Config& config) {
      if (snapshot_entries) config.snapshot_entries = snapshot_entries;
      if (max_bytes) config.max_message_bytes = max_bytes;
      config.pre_vote = pre_vote;
    });
    return "";
  }

  void stabilize(std::ostringstream& o) {
    for (int round = 0; round < 1000; ++round) {
      auto msgs = cluster_->collect();
      if (msgs.empty()) return;
      for (const auto& m : msgs) {
        bool up = cluster_->nodes().count(m.to) && cluster_->link_up(m.from, m.to);
        o << message_text(m) << (up ? "" : "  (lost: link cut)") << "\n";
        if (up) cluster_->node(m.to).step(m);
      }
    }
    throw std::runtime_error("the network did not quieten in 1000 rounds of delivery");
  }

  std::unique_ptr<TestCluster> cluster_;
};

TEST(RaftTranscripts, EveryScenarioPrintsWhatItsFileSays) {
  transcript::run_every_file<RaftRig>(std::filesystem::path(FEDNODE_SOURCE_DIR) / "tests/raft/testdata");
}

}  // namespace
}  // namespace fednode::raft::testing

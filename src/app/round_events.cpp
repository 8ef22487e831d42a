#include "fednode/app/round_events.h"

#include <spdlog/spdlog.h>

namespace fednode {
namespace {

std::vector<std::string> names(const RaftHost& host, const std::vector<std::uint64_t>& ids) {
  std::vector<std::string> out;
  for (auto id : ids) out.push_back(host.address_of(id));
  return out;
}

}  // namespace

void write_applied_round_event(EventLog& events, const RaftHost& host, fl::RoundEvent event) {
  const fl::RoundState& rounds = host.rounds();
  switch (event) {
    case fl::RoundEvent::kIgnored:
      return;
    case fl::RoundEvent::kConfig: {
      const auto& c = *rounds.config();
      spdlog::info("run configuration committed: {} rounds, {} on {}, {} local epoch(s), lr {}", c.rounds, c.model,
                   c.dataset, c.local_epochs, c.lr);
      events.write("config", JsonLine()
                                 .add("rounds", c.rounds)
                                 .add("dataset", c.dataset)
                                 .add("model", c.model)
                                 .add("local_epochs", c.local_epochs)
                                 .add("lr", c.lr)
                                 .add("partition", c.partition)
                                 .add("min_clients", c.min_clients)
                                 .add("initial_model_id", c.initial_model_id));
      return;
    }
    case fl::RoundEvent::kStart: {
      const auto& s = *rounds.current();
      events.write("round_start", JsonLine()
                                      .add("round", s.round)
                                      .add("term", s.term)
                                      .add("attempt", s.attempt)
                                      .add("aggregator", host.address_of(s.aggregator))
                                      .add("participants", names(host, s.participants))
                                      .add("base_model_id", s.base_model_id));
      return;
    }
    case fl::RoundEvent::kCommit: {
      const auto& r = rounds.committed().back();
      std::vector<std::uint64_t> trained;
      for (const auto& t : r.results) trained.push_back(t.node);
      JsonLine line;
      line.add("round", r.round)
          .add("model_id", r.model_id)
          .add("aggregator", host.address_of(r.aggregator))
          .add("term", r.term)
          .add("participants", names(host, trained))
          .add("invited", std::uint64_t{r.participants.size()})
          .add("samples", r.samples())
          .add("train_loss", r.train_loss)
          .add("test_loss", r.test_loss)
          .add("test_accuracy", r.test_accuracy)
          .add("start_ms", r.start_ms)
          .add("end_ms", r.end_ms);
      host.add_traffic(&line);
      events.write("round_commit", line);
      spdlog::info("round {} committed: model {}, test accuracy {:.4f}, {} update(s)", r.round, r.model_id.substr(0, 12),
                   r.test_accuracy, r.results.size());
      if (rounds.done()) {
        spdlog::info("all {} rounds committed", rounds.config()->rounds);
        events.write("run_done", JsonLine().add("rounds", r.round).add("model_id", r.model_id));
      }
      return;
    }
  }
}

}  // namespace fednode

#include "fednode/app/round/round_events.h"

#include <spdlog/spdlog.h>

namespace fednode {
namespace {

std::vector<std::string> names(const RaftHost& host, const std::vector<std::uint64_t>& ids) {
  std::vector<std::string> out;
  for (auto id : ids) out.push_back(host.address_of(id));
  return out;
}

// Once every round is committed and evaluated (whichever of the two comes last).
void write_run_done(EventLog& events, const fl::RoundState& rounds) {
  if (!rounds.finished()) return;
  const auto& last = rounds.committed().back();
  spdlog::info("run complete: {} rounds, final test accuracy {:.4f}", last.round, last.test_accuracy);
  events.write("run_done", JsonLine()
                               .add("rounds", last.round)
                               .add("model_id", last.model_id)
                               .add("test_accuracy", last.test_accuracy));
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
          .add("start_ms", r.start_ms)
          .add("end_ms", r.end_ms);
      host.add_traffic(&line);
      events.write("round_commit", line);
      spdlog::info("round {} committed: model {}, {} update(s)", r.round, r.model_id.substr(0, 12), r.results.size());
      if (rounds.done()) spdlog::info("all {} rounds committed", rounds.config()->rounds);
      write_run_done(events, rounds);
      return;
    }
    case fl::RoundEvent::kMetrics: {
      const auto& r = *rounds.last_metrics();
      bool regression = rounds.config() && rounds.config()->task == "regression";
      JsonLine line;
      line.add("round", r.round).add("model_id", r.model_id).add("test_loss", r.test_loss);
      line.add(regression ? "test_mae" : "test_accuracy", regression ? r.test_mae : r.test_accuracy);
      line.add("test_samples", r.test_samples);
      std::string fed;
      if (!r.parties.empty()) {
        fl::FederatedEval f = fl::federated(r.parties);
        line.add("federated_loss", f.loss).add("federated_metric", f.metric).add("federated_samples", f.samples);
        std::string parties = "[";
        for (const auto& p : r.parties) {
          if (parties.size() > 1) parties += ',';
          parties += JsonLine()
                         .add("node", host.address_of(p.node))
                         .add("samples", p.samples)
                         .add("loss", p.loss)
                         .add("metric", p.metric)
                         .str();
        }
        line.add_raw("parties", parties + "]");
        fed = fmt::format("; federated {} {:.4f} over {} parties' {} test samples", regression ? "MAE" : "accuracy",
                          f.metric, r.parties.size(), f.samples);
      }
      events.write("round_evaluated", line);
      if (r.untested) {
        spdlog::info("round {} evaluated: model {}, no test split here{}", r.round, r.model_id.substr(0, 12), fed);
      } else if (regression) {
        spdlog::info("round {} evaluated: model {}, test MSE {:.4f}, MAE {:.4f}{}", r.round, r.model_id.substr(0, 12),
                     r.test_loss, r.test_mae, fed);
      } else {
        spdlog::info("round {} evaluated: model {}, test accuracy {:.4f}, test loss {:.4f}{}", r.round,
                     r.model_id.substr(0, 12), r.test_accuracy, r.test_loss, fed);
      }
      write_run_done(events, rounds);
      return;
    }
  }
}

}  // namespace fednode

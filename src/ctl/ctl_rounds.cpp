// `fednode ctl HOST:PORT rounds [--tsv] [--since N] [--evaluated]`: the committed rounds as the
// node at HOST:PORT has applied them (any node answers; no redirect). The test metrics follow a
// commit in their own entry: until then they show as "-"; --evaluated lists only rounds that have
// them. TSV columns: round, model id, aggregator, trainers, samples, train loss, test loss, test
// accuracy, start ms, end ms, held, base state, server state, federated loss, federated metric
// (accuracy or MAE), federated test samples.
#include <cstdio>
#include <map>
#include <msgpack.hpp>

#include "fednode/ctl/ctl_commands.h"
#include "fednode/ctl/ctl_calls.h"
#include "fednode/fl/round_state.h"
#include "fednode/net/client_connection.h"

namespace fednode {

int print_rounds(const PeerAddress& address, const std::vector<std::string>& flags) {
  bool tsv = false, evaluated_only = false;
  std::uint64_t since = 0;
  for (std::size_t i = 0; i < flags.size(); ++i) {
    if (flags[i] == "--tsv") {
      tsv = true;
    } else if (flags[i] == "--evaluated") {
      evaluated_only = true;
    } else if (flags[i] == "--since" && i + 1 < flags.size() &&
               flags[i + 1].find_first_not_of("0123456789") == std::string::npos && !flags[i + 1].empty()) {
      since = std::stoull(flags[++i]);
    } else {
      std::fprintf(stderr, "fednode ctl: rounds takes --tsv, --since N and --evaluated, not '%s'\n", flags[i].c_str());
      return 2;
    }
  }
  msgpack::object_handle h;
  if (Status s = ctl_ask(address, "fl_status", &h, std::chrono::milliseconds(5000)); !s.ok()) {
    std::fprintf(stderr, "fednode ctl: %s\n", s.message().c_str());
    return 1;
  }
  fl::RoundState rounds;
  std::map<std::uint64_t, std::string> members;
  std::vector<std::string> have;
  const msgpack::object* ro = net::map_field(h.get(), "rounds");
  if (!ro) {
    std::fprintf(stderr, "fednode ctl: %s: %s\n", address.to_string().c_str(),
                 net::as_string(net::map_field(h.get(), "reason")).c_str());
    return 1;
  }
  try {
    if (Status r = rounds.restore(*ro); !r.ok()) throw std::runtime_error(r.message());
    if (const auto* m = net::map_field(h.get(), "members")) m->convert(members);
    if (const auto* hv = net::map_field(h.get(), "have_models")) hv->convert(have);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fednode ctl: %s: bad fl_status answer: %s\n", address.to_string().c_str(), e.what());
    return 1;
  }
  auto name = [&](std::uint64_t id) {
    auto it = members.find(id);
    return it == members.end() ? std::string("?") : it->second;
  };
  if (!tsv) {
    if (!rounds.config()) {
      std::printf("no run configured yet\n");
      return 0;
    }
    const auto& cfg = *rounds.config();
    char prox[48] = "";
    if (cfg.proximal_mu > 0) std::snprintf(prox, sizeof prox, ", FedProx mu %g", cfg.proximal_mu);
    std::printf("run: %llu rounds, %s on %s, %d local epoch(s), lr %g, batch %d, %s partition, min clients %llu, "
                "aggregator %s%s\n",
                static_cast<unsigned long long>(cfg.rounds), cfg.model.c_str(), cfg.dataset.c_str(), cfg.local_epochs,
                cfg.lr, cfg.batch_size, cfg.partition.c_str(), static_cast<unsigned long long>(cfg.min_clients),
                cfg.aggregator.c_str(), prox);
    if (!cfg.model_sha256.empty()) {
      std::printf("model %s: TorchScript, sha256 %s, %s, optimizer %s, weights %s\n", cfg.model.c_str(),
                  cfg.model_sha256.c_str(), cfg.task.c_str(), cfg.optimizer.c_str(), cfg.model_layout.c_str());
    }
    if (cfg.dataset == "own") std::printf("data: each party's own (--data), %s\n", cfg.partition == "none" ? "whole" : cfg.partition.c_str());
    bool regression = cfg.task == "regression";
    std::printf("%5s  %-22s %8s %8s %10s %9s %9s %8s  %s\n", "round", "aggregator", "trainers", "samples", "train loss",
                regression ? "test mse" : "test acc", regression ? "fed mae" : "fed acc", "seconds", "model");
  }
  for (const auto& r : rounds.committed()) {
    if (r.round <= since || (evaluated_only && !r.evaluated)) continue;
    double seconds = r.end_ms >= r.start_ms ? static_cast<double>(r.end_ms - r.start_ms) / 1000.0 : 0;
    bool held = std::find(have.begin(), have.end(), r.model_id) != have.end();
    if (tsv) {
      std::string names;
      for (const auto& t : r.results) {
        if (!names.empty()) names += ',';
        names += name(t.node);
      }
      auto or_dash = [](const std::string& id) { return id.empty() ? "-" : id.c_str(); };
      char loss[32] = "-", acc[32] = "-";
      if (r.evaluated && !r.untested) {
        std::snprintf(loss, sizeof loss, "%.6f", r.test_loss);
        std::snprintf(acc, sizeof acc, "%.6f", r.test_accuracy);
      }
      // Federated evaluation (each party on its own test split): loss, metric (accuracy or MAE), samples.
      char fed[96] = "-\t-\t0";
      if (!r.parties.empty()) {
        fl::FederatedEval f = fl::federated(r.parties);
        std::snprintf(fed, sizeof fed, "%.6f\t%.6f\t%llu", f.loss, f.metric, static_cast<unsigned long long>(f.samples));
      }
      std::printf("%llu\t%s\t%s\t%s\t%llu\t%.6f\t%s\t%s\t%llu\t%llu\t%s\t%s\t%s\t%s\n", static_cast<unsigned long long>(r.round),
                  r.model_id.c_str(), name(r.aggregator).c_str(), names.c_str(),
                  static_cast<unsigned long long>(r.samples()), r.train_loss, loss, acc,
                  static_cast<unsigned long long>(r.start_ms), static_cast<unsigned long long>(r.end_ms),
                  held ? "have" : "missing", or_dash(r.base_state_id), or_dash(r.server_state_id), fed);
    } else {
      char acc[32] = "-", fed[32] = "-";
      if (r.evaluated && !r.untested) std::snprintf(acc, sizeof acc, "%.4f", rounds.config()->task == "regression" ? r.test_loss : r.test_accuracy);
      if (!r.parties.empty()) std::snprintf(fed, sizeof fed, "%.4f", fl::federated(r.parties).metric);
      std::printf("%5llu  %-22s %4zu/%-3zu %8llu %10.4f %9s %9s %8.2f  %.12s%s\n", static_cast<unsigned long long>(r.round),
                  name(r.aggregator).c_str(), r.results.size(), r.participants.size(),
                  static_cast<unsigned long long>(r.samples()), r.train_loss, acc, fed, seconds, r.model_id.c_str(),
                  held ? "" : " (not held here)");
    }
  }
  if (!tsv) {
    if (rounds.current()) {
      std::printf("round %llu running: aggregator %s, %zu participant(s)\n",
                  static_cast<unsigned long long>(rounds.current()->round), name(rounds.current()->aggregator).c_str(),
                  rounds.current()->participants.size());
    } else if (rounds.finished()) {
      std::printf("run complete\n");
    } else if (rounds.done()) {
      std::printf("all rounds committed; evaluating round %llu\n",
                  static_cast<unsigned long long>(rounds.first_unevaluated()->round));
    }
  }
  return 0;
}

}  // namespace fednode

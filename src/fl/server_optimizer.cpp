#include "fednode/fl/server_optimizer.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fednode::fl {
namespace {

const char* rule_name(ServerRule rule) {
  switch (rule) {
    case ServerRule::kFedAvgM: return "fedavgm";
    case ServerRule::kFedAdam: return "fedadam";
    case ServerRule::kFedYogi: return "fedyogi";
  }
  return "?";
}

std::vector<std::string> slots(ServerRule rule) {
  if (rule == ServerRule::kFedAvgM) return {"velocity"};
  return {"m", "v"};
}

// The state's parameters in canonical (name) order, as one vector of doubles per slot and model
// parameter: out[slot][parameter]. Zeros for the empty state.
Status read_state(ServerRule rule, const ModelWeights& global, const ModelWeights& state,
                  std::vector<std::vector<std::vector<double>>>* out) {
  std::vector<std::string> names = slots(rule);
  out->assign(names.size(), {});
  for (std::size_t s = 0; s < names.size(); ++s) {
    for (const auto& p : global.parameters) (*out)[s].emplace_back(p.values.size(), 0.0);
  }
  if (state.parameters.empty()) return {};
  if (state.parameters.size() != names.size() * global.parameters.size()) {
    return Status::error(std::string(rule_name(rule)) + ": the server state has " +
                         std::to_string(state.parameters.size()) + " tensors, the model needs " +
                         std::to_string(names.size() * global.parameters.size()));
  }
  for (std::size_t s = 0; s < names.size(); ++s) {
    for (std::size_t p = 0; p < global.parameters.size(); ++p) {
      std::string name = names[s] + "/" + global.parameters[p].name;
      auto it = std::find_if(state.parameters.begin(), state.parameters.end(),
                             [&](const Parameter& x) { return x.name == name; });
      if (it == state.parameters.end() || it->shape != global.parameters[p].shape ||
          it->values.size() != global.parameters[p].values.size()) {
        return Status::error(std::string(rule_name(rule)) + ": the server state has no tensor '" + name +
                             "' shaped like the model's");
      }
      std::copy(it->values.begin(), it->values.end(), (*out)[s][p].begin());
    }
  }
  return {};
}

ModelWeights write_state(ServerRule rule, const ModelWeights& global,
                         const std::vector<std::vector<std::vector<double>>>& state) {
  std::vector<std::string> names = slots(rule);
  ModelWeights out;
  for (std::size_t s = 0; s < names.size(); ++s) {
    for (std::size_t p = 0; p < global.parameters.size(); ++p) {
      Parameter x{names[s] + "/" + global.parameters[p].name, global.parameters[p].shape, {}};
      x.values.assign(state[s][p].begin(), state[s][p].end());  // double -> float32
      out.parameters.push_back(std::move(x));
    }
  }
  std::sort(out.parameters.begin(), out.parameters.end(),
            [](const Parameter& a, const Parameter& b) { return a.name < b.name; });
  return out;
}

}  // namespace

double default_server_lr(ServerRule rule) { return rule == ServerRule::kFedAvgM ? 1.0 : 0.01; }

Status server_step(const ServerOptimizer& opt, const ModelWeights& global, const ModelWeights& average,
                   const ModelWeights& state, ModelWeights* next, ModelWeights* next_state) {
  const char* name = rule_name(opt.rule);
  if (Status s = same_layout(global, average); !s.ok()) return Status::error(std::string(name) + ": " + s.message());
  std::vector<std::vector<std::vector<double>>> st;
  if (Status s = read_state(opt.rule, global, state, &st); !s.ok()) return s;
  ModelWeights out = global;
  for (std::size_t p = 0; p < out.parameters.size(); ++p) {
    const auto& g = global.parameters[p].values;
    const auto& a = average.parameters[p].values;
    auto& x = out.parameters[p].values;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (opt.rule == ServerRule::kFedAvgM) {
        double& v = st[0][p][i];
        v = opt.momentum * v + (static_cast<double>(g[i]) - a[i]);
        x[i] = static_cast<float>(g[i] - opt.lr * v);
        continue;
      }
      double d = static_cast<double>(a[i]) - g[i], d2 = d * d;
      double& m = st[0][p][i];
      double& v = st[1][p][i];
      m = opt.beta1 * m + (1 - opt.beta1) * d;
      if (opt.rule == ServerRule::kFedAdam) {
        v = opt.beta2 * v + (1 - opt.beta2) * d2;
      } else {
        double sign = (v - d2) > 0 ? 1.0 : ((v - d2) < 0 ? -1.0 : 0.0);
        v = v - (1 - opt.beta2) * d2 * sign;
      }
      x[i] = static_cast<float>(g[i] + opt.lr * m / (std::sqrt(v) + opt.tau));
    }
  }
  *next = std::move(out);
  *next_state = write_state(opt.rule, global, st);
  return {};
}

}  // namespace fednode::fl

#include "fednode/fl/fedavg.h"

#include <cmath>

namespace fednode::fl {

Status fedavg(const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  if (updates.empty()) return Status::error("fedavg: no updates");
  std::uint64_t total = 0;
  for (std::size_t u = 0; u < updates.size(); ++u) {
    if (Status s = same_layout(updates[0].weights, updates[u].weights); !s.ok()) {
      return Status::error("fedavg: update " + std::to_string(u) + ": " + s.message());
    }
    total += updates[u].samples;
  }
  if (total == 0) return Status::error("fedavg: updates carry zero samples in total");
  ModelWeights result = updates[0].weights;
  for (std::size_t p = 0; p < result.parameters.size(); ++p) {
    std::vector<double> acc(result.parameters[p].values.size(), 0.0);
    for (const auto& u : updates) {
      double w = static_cast<double>(u.samples) / static_cast<double>(total);
      const auto& v = u.weights.parameters[p].values;
      for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += w * v[i];
    }
    for (std::size_t i = 0; i < acc.size(); ++i) result.parameters[p].values[i] = static_cast<float>(acc[i]);
  }
  *out = std::move(result);
  return {};
}

Status FedAvgM::step(const ModelWeights& global, const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  ModelWeights avg;
  if (Status s = fedavg(updates, &avg); !s.ok()) return s;
  if (Status s = same_layout(global, avg); !s.ok()) return Status::error("fedavgm: " + s.message());
  if (velocity_.empty()) {
    for (const auto& p : global.parameters) velocity_.emplace_back(p.values.size(), 0.0);
  }
  ModelWeights next = global;
  for (std::size_t p = 0; p < next.parameters.size(); ++p) {
    auto& v = velocity_[p];
    for (std::size_t i = 0; i < v.size(); ++i) {
      double delta = static_cast<double>(global.parameters[p].values[i]) - avg.parameters[p].values[i];
      v[i] = momentum_ * v[i] + delta;
      next.parameters[p].values[i] = static_cast<float>(global.parameters[p].values[i] - lr_ * v[i]);
    }
  }
  *out = std::move(next);
  return {};
}

Status ServerAdaptive::step(const ModelWeights& global, const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  const char* name = rule_ == Rule::kAdam ? "fedadam" : "fedyogi";
  ModelWeights avg;
  if (Status s = fedavg(updates, &avg); !s.ok()) return s;
  if (Status s = same_layout(global, avg); !s.ok()) return Status::error(std::string(name) + ": " + s.message());
  if (m_.empty()) {
    for (const auto& p : global.parameters) {
      m_.emplace_back(p.values.size(), 0.0);
      v_.emplace_back(p.values.size(), 0.0);
    }
  }
  ModelWeights next = global;
  for (std::size_t p = 0; p < next.parameters.size(); ++p) {
    for (std::size_t i = 0; i < m_[p].size(); ++i) {
      double delta = static_cast<double>(avg.parameters[p].values[i]) - global.parameters[p].values[i];
      double d2 = delta * delta;
      m_[p][i] = beta1_ * m_[p][i] + (1 - beta1_) * delta;
      double& v = v_[p][i];
      if (rule_ == Rule::kAdam) {
        v = beta2_ * v + (1 - beta2_) * d2;
      } else {
        double sign = (v - d2) > 0 ? 1.0 : ((v - d2) < 0 ? -1.0 : 0.0);
        v = v - (1 - beta2_) * d2 * sign;
      }
      next.parameters[p].values[i] =
          static_cast<float>(global.parameters[p].values[i] + eta_ * m_[p][i] / (std::sqrt(v) + tau_));
    }
  }
  *out = std::move(next);
  return {};
}

}  // namespace fednode::fl

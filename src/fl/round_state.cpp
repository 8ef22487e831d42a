#include "fednode/fl/round_state.h"

#include "fednode/fl/robust_aggregation.h"
#include "fednode/fl/update_codec.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "command_deflate.h"
#include "fednode/fl/model_store.h"
#include "fednode/util/msgpack_fields.h"
#include "fednode/util/msgpack_limits.h"
#include "fednode/util/msgpack_pack.h"
#include "fednode/util/seeded_rng.h"

namespace fednode::fl {
namespace {

// The parties' figures: one entry per node, each within check_party's bounds.
std::string check_parties(const std::vector<PartyEval>& parties, const std::string& task) {
  if (parties.size() > 100000) return std::to_string(parties.size()) + " parties' evaluations";
  std::set<std::uint64_t> seen;
  for (const auto& p : parties) {
    if (!seen.insert(p.node).second) return "node " + std::to_string(p.node) + " evaluated twice";
    if (std::string bad = check_party(p, task); !bad.empty()) return bad;
  }
  return "";
}

template <typename T>
std::string encode(const char* kind, const T& body, bool deflate) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(2);
  p.pack("fl");
  p.pack(kind);
  if (deflate) {
    msgpack::sbuffer plain;
    msgpack::pack(plain, body);
    std::string z = deflate_command_body(std::string_view(plain.data(), plain.size()));
    if (z.size() < plain.size()) {
      p.pack("zbody");
      pack_bin(p, z);
      return std::string(b.data(), b.size());
    }
  }
  p.pack("body");
  p.pack(body);
  return std::string(b.data(), b.size());
}

}  // namespace

Status RoundState::command_body(const msgpack::object& command, msgpack::object_handle* holder,
                                const msgpack::object** body) {
  *body = map_field(command, "body");
  const msgpack::object* z = map_field(command, "zbody");
  if (*body || !z) return {};
  if (z->type != msgpack::type::BIN) return Status::error("FL command field zbody is not binary");
  std::string plain;
  if (Status s = inflate_command_body(std::string_view(z->via.bin.ptr, z->via.bin.size), &plain); !s.ok()) {
    return Status::error("FL command field zbody: " + s.message());
  }
  try {
    std::size_t offset = 0;
    *holder = bounded_unpack(plain.data(), plain.size(), offset);
    if (offset != plain.size()) return Status::error("FL command field zbody: bytes after the body");
  } catch (const std::exception& e) {
    return Status::error(std::string("FL command field zbody: not msgpack: ") + e.what());
  }
  *body = &holder->get();
  return {};
}

std::uint64_t RoundRecord::samples() const {
  std::uint64_t n = 0;
  for (const auto& r : results) n += r.samples;
  return n;
}

std::string RoundState::encode_config(const RoundConfig& c) { return encode("config", c, false); }
std::string RoundState::encode_start(const RoundStart& s, bool deflate) { return encode("start", s, deflate); }
std::string RoundState::encode_commit(const RoundRecord& r, bool deflate) { return encode("commit", r, deflate); }
std::string RoundState::encode_metrics(const RoundMetrics& m, bool deflate) { return encode("metrics", m, deflate); }

std::string check_party(const PartyEval& p, const std::string& task) {
  std::string who = "node " + std::to_string(p.node) + "'s evaluation";
  if (p.samples == 0 || p.samples > (std::uint64_t{1} << 32)) return who + " claims " + std::to_string(p.samples) + " test samples";
  if (!std::isfinite(p.loss) || p.loss < 0 || !std::isfinite(p.metric) || p.metric < 0) return who + " holds a negative or non-finite value";
  if (task != "regression" && p.metric > 1) return who + " claims an accuracy above 1";
  return "";
}

FederatedEval federated(const std::vector<PartyEval>& parties) {
  FederatedEval f;
  double loss = 0, metric = 0, samples = 0;  // in double: no sum of counts can wrap
  for (const auto& p : parties) {
    samples += static_cast<double>(p.samples);
    loss += p.loss * static_cast<double>(p.samples);
    metric += p.metric * static_cast<double>(p.samples);
  }
  if (samples > 0) {
    f.samples = static_cast<std::uint64_t>(samples);
    f.loss = loss / samples;
    f.metric = metric / samples;
  }
  return f;
}

const RoundRecord* RoundState::committed_round(std::uint64_t round) const {
  auto it = std::find_if(committed_.begin(), committed_.end(), [&](const RoundRecord& r) { return r.round == round; });
  return it == committed_.end() ? nullptr : &*it;
}

const RoundRecord* RoundState::first_unevaluated() const {
  for (const auto& r : committed_) {
    if (!r.evaluated) return &r;
  }
  return nullptr;
}

const RoundRecord* RoundState::last_evaluated() const {
  for (auto it = committed_.rbegin(); it != committed_.rend(); ++it) {
    if (it->evaluated) return &*it;
  }
  return nullptr;
}

bool RoundState::is_command(const msgpack::object& o) { return map_field(o, "fl") != nullptr; }

std::string RoundState::last_model_id() const {
  if (!committed_.empty()) return committed_.back().model_id;
  return config_ ? config_->initial_model_id : "";
}

// A commit must continue the server optimiser's state of the previous one, and leave one exactly
// when the aggregator keeps state: so no aggregator can restart or fork the optimiser.
std::string RoundState::state_mismatch(const RoundRecord& r) const {
  auto kind = parse_aggregator(config_->aggregator);
  bool stateful = kind && server_rule(*kind);
  if (!stateful) return r.server_state_id.empty() && r.base_state_id.empty() ? "" : config_->aggregator + " keeps no server state";
  if (r.base_state_id != last_server_state_id()) {
    return "it continues server state '" + r.base_state_id.substr(0, 12) + "', not the committed '" +
           last_server_state_id().substr(0, 12) + "'";
  }
  return ModelStore::valid_id(r.server_state_id) ? "" : "no valid server state id";
}

RoundEvent RoundState::apply_config(const msgpack::object& body, std::string* why) {
  RoundConfig c;
  body.convert(c);
  if (config_) {
    *why = "a run configuration is already committed";
  } else if (!ModelStore::valid_id(c.initial_model_id) || c.rounds == 0) {
    *why = "configuration without rounds or initial model";
  } else if (!parse_aggregator(c.aggregator)) {
    *why = "configuration names an unknown aggregator '" + c.aggregator + "'";
  } else if (!(c.server_lr >= 0 && c.server_momentum >= 0 && c.server_tau > 0 && c.proximal_mu >= 0) ||
             !std::isfinite(c.server_lr + c.server_momentum + c.server_tau + c.proximal_mu)) {
    *why = "configuration with a negative or non-finite server_lr, server_momentum, server_tau or proximal_mu";
  } else if (!parse_update_encoding(c.update_encoding)) {
    *why = "configuration names an unknown update encoding '" + c.update_encoding + "'";
  } else if (!c.command_encoding.empty() && c.command_encoding != "deflate") {
    *why = "configuration names an unknown command encoding '" + c.command_encoding + "'";
  } else {
    config_ = c;
    return RoundEvent::kConfig;
  }
  return RoundEvent::kIgnored;
}

RoundEvent RoundState::apply_start(const msgpack::object& body, std::string* why) {
  RoundStart s;
  body.convert(s);
  if (!config_) {
    *why = "round_start before the configuration";
  } else if (s.round != last_round() + 1 || s.round > config_->rounds) {
    *why = "round_start for round " + std::to_string(s.round) + " after round " + std::to_string(last_round());
  } else if (s.base_model_id != last_model_id()) {
    *why = "round_start base model " + s.base_model_id + " is not the last committed model";
  } else {
    current_ = s;
    return RoundEvent::kStart;
  }
  return RoundEvent::kIgnored;
}

RoundEvent RoundState::apply_commit(const msgpack::object& body, std::string* why) {
  RoundRecord r;
  body.convert(r);
  if (!map_field(body, "evaluated")) r.evaluated = true;  // written before metrics had their own command
  if (!current_ || current_->round != r.round || current_->term != r.term || current_->attempt != r.attempt) {
    *why = "round_commit for round " + std::to_string(r.round) + " does not match the current round_start";
  } else if (!ModelStore::valid_id(r.model_id)) {
    *why = "round_commit without a valid model id";
  } else if (std::string stateful = state_mismatch(r); !stateful.empty()) {
    *why = "round_commit for round " + std::to_string(r.round) + ": " + stateful;
  } else {
    committed_.push_back(std::move(r));
    current_.reset();
    return RoundEvent::kCommit;
  }
  return RoundEvent::kIgnored;
}

RoundEvent RoundState::apply_metrics(const msgpack::object& body, std::string* why) {
  RoundMetrics m;
  body.convert(m);
  auto it = std::find_if(committed_.begin(), committed_.end(),
                         [&](const RoundRecord& r) { return r.round == m.round; });
  if (it == committed_.end()) {
    *why = "metrics for round " + std::to_string(m.round) + ", which is not committed";
  } else if (it->model_id != m.model_id) {
    *why = "metrics for round " + std::to_string(m.round) + " name model " + m.model_id.substr(0, 12) +
           ", not the committed one";
  } else if (it->evaluated) {
    *why = "round " + std::to_string(m.round) + " is already evaluated";
  } else if (!(m.test_accuracy >= 0 && m.test_accuracy <= 1)) {  // a diverged model's loss may be NaN
    *why = "metrics for round " + std::to_string(m.round) + " with an accuracy outside 0-1";
  } else if (std::string bad = check_parties(m.parties, config_ ? config_->task : ""); !bad.empty()) {
    *why = "metrics for round " + std::to_string(m.round) + ": " + bad;
  } else {
    it->test_loss = m.test_loss;
    it->test_accuracy = m.test_accuracy;
    it->test_mae = m.test_mae;
    it->test_samples = m.test_samples;
    it->untested = m.untested;
    it->parties = m.parties;
    it->evaluated = true;
    last_metrics_ = static_cast<std::size_t>(it - committed_.begin());
    return RoundEvent::kMetrics;
  }
  return RoundEvent::kIgnored;
}

Status RoundState::apply(const msgpack::object& command, RoundEvent* event, std::string* why) {
  *event = RoundEvent::kIgnored;
  const msgpack::object* kind = map_field(command, "fl");
  msgpack::object_handle inflated;
  const msgpack::object* body = nullptr;
  if (Status s = command_body(command, &inflated, &body); !s.ok()) return s;
  if (!kind || kind->type != msgpack::type::STR || !body || body->type != msgpack::type::MAP) {
    return Status::error("FL command needs fields fl (string) and body (map, or zbody: a map deflated)");
  }
  std::string_view k(kind->via.str.ptr, kind->via.str.size);
  try {
    if (k == "config") *event = apply_config(*body, why);
    else if (k == "start") *event = apply_start(*body, why);
    else if (k == "commit") *event = apply_commit(*body, why);
    else if (k == "metrics") *event = apply_metrics(*body, why);
    else return Status::error("unknown FL command '" + std::string(k) + "'");
  } catch (const std::exception& e) {
    return Status::error("FL command '" + std::string(k) + "': " + e.what());
  }
  return {};
}

void RoundState::pack(msgpack::packer<msgpack::sbuffer>& p) const {
  p.pack_map(3);
  p.pack("config");
  if (config_) {
    p.pack(*config_);
  } else {
    p.pack_nil();
  }
  p.pack("current");
  if (current_) {
    p.pack(*current_);
  } else {
    p.pack_nil();
  }
  p.pack("committed");
  p.pack(committed_);
}

Status RoundState::restore(const msgpack::object& o) {
  try {
    std::optional<RoundConfig> config;
    std::optional<RoundStart> current;
    std::vector<RoundRecord> committed;
    const msgpack::object* c = map_field(o, "config");
    const msgpack::object* s = map_field(o, "current");
    const msgpack::object* r = map_field(o, "committed");
    if (!c || !s || !r) return Status::error("round state: missing config, current or committed");
    if (c->type != msgpack::type::NIL) config = c->as<RoundConfig>();
    if (s->type != msgpack::type::NIL) current = s->as<RoundStart>();
    r->convert(committed);
    if (r->type == msgpack::type::ARRAY) {
      for (std::uint32_t i = 0; i < r->via.array.size && i < committed.size(); ++i) {
        if (!map_field(r->via.array.ptr[i], "evaluated")) committed[i].evaluated = true;  // an older snapshot
      }
    }
    config_ = std::move(config);
    current_ = std::move(current);
    committed_ = std::move(committed);
    last_metrics_ = SIZE_MAX;
  } catch (const std::exception& e) {
    return Status::error(std::string("round state: ") + e.what());
  }
  return {};
}

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace fednode::fl

namespace fednode::fl {

std::set<std::string> named_blobs(const RoundState& rounds) {
  std::set<std::string> named;
  if (rounds.config()) named.insert(rounds.config()->initial_model_id);
  for (const auto& r : rounds.committed()) named.insert({r.model_id, r.server_state_id});
  if (rounds.current()) named.insert(rounds.current()->base_model_id);
  for (const auto& id : retired_blobs(rounds)) named.erase(id);
  named.erase("");
  return named;
}

std::vector<std::string> retired_blobs(const RoundState& rounds) {
  std::vector<std::string> out;
  if (!rounds.config() || rounds.config()->keep_models == 0) return out;
  const auto& done = rounds.committed();
  std::uint64_t keep = rounds.config()->keep_models;
  if (done.size() < keep) return out;
  std::size_t first_kept = done.size() - keep;
  std::set<std::string> kept;
  for (std::size_t i = first_kept; i < done.size(); ++i) kept.insert({done[i].model_id, done[i].server_state_id});
  for (std::size_t i = 0; i < first_kept; ++i) {
    if (!done[i].evaluated) kept.insert(done[i].model_id);  // the leader still evaluates it
  }
  auto retire = [&](const std::string& id) {
    if (!id.empty() && !kept.count(id)) out.push_back(id);
  };
  retire(rounds.config()->initial_model_id);
  for (std::size_t i = 0; i < first_kept; ++i) {
    retire(done[i].model_id);
    retire(done[i].server_state_id);
  }
  return out;
}

std::vector<std::uint64_t> choose_participants(std::vector<std::uint64_t> live, double fraction, std::uint64_t seed,
                                               std::uint64_t round, std::uint64_t clients_per_round) {
  std::sort(live.begin(), live.end());
  live.erase(std::unique(live.begin(), live.end()), live.end());
  if (live.empty()) return live;
  auto want = static_cast<std::size_t>(std::ceil(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(live.size())));
  if (clients_per_round > 0) want = static_cast<std::size_t>(std::min<std::uint64_t>(clients_per_round, live.size()));
  want = std::clamp<std::size_t>(want, 1, live.size());
  if (want < live.size()) {
    SeededRng rng(seed * 0x9E3779B97F4A7C15ull ^ (round + 1) * 0xBF58476D1CE4E5B9ull);
    for (std::size_t i = live.size(); i > 1; --i) std::swap(live[i - 1], live[rng.below(i)]);
    live.resize(want);
    std::sort(live.begin(), live.end());
  }
  return live;
}

}  // namespace fednode::fl

// `fednode ctl HOST:PORT export-model [ROUND|latest] --out FILE.pt`: the committed model of a
// round, fetched over the data plane from the node at HOST:PORT (or, if it no longer holds it,
// from the round's aggregator), checked against the model id in the replicated round record, and
// written as a PyTorch state dict (torch.load gives {parameter name: tensor}).
#include <cstdio>
#include <map>
#include <msgpack.hpp>

#include "fednode/ctl/ctl_commands.h"
#include "fednode/ctl/ctl_calls.h"
#include "fednode/fl/model_weights.h"
#include "fednode/fl/round_state.h"
#include "fednode/fl/trainer.h"
#include "fednode/util/file_io.h"

namespace fednode {
namespace {

constexpr auto kTimeout = std::chrono::milliseconds(10000);

// The data-plane address of the node at `client`: its host and the data port it reports.
std::optional<PeerAddress> data_address(const PeerAddress& client, std::string* why) {
  msgpack::object_handle h;
  if (Status s = ctl_ask(client, "diagnostic", &h, kTimeout); !s.ok()) {
    *why = s.message();
    return std::nullopt;
  }
  // A keyed group's data plane serves members' keys only: without one, say so now rather than
  // time out on a plaintext fetch.
  const auto* vol = net::map_field(h.get(), "volatile");
  const auto* keys = vol ? net::map_field(*vol, "cluster_keys") : nullptr;
  if (keys && keys->type == msgpack::type::MAP && keys->via.map.size > 0 && !ctl_has_key()) {
    *why = "export-model needs --key-file (an operator's key, or a member's node.key): the data plane of " +
           client.to_string() + " serves members' keys only";
    return std::nullopt;
  }
  const auto* port = net::map_field(h.get(), "data_port");
  if (!port || port->type != msgpack::type::POSITIVE_INTEGER || port->via.u64 == 0 || port->via.u64 > 65535) {
    *why = client.to_string() + " reported no data port";
    return std::nullopt;
  }
  return PeerAddress{client.host, static_cast<std::uint16_t>(port->via.u64)};
}

}  // namespace

int export_model(const PeerAddress& address, const std::vector<std::string>& flags) {
  std::string which = "latest", out, format, module_file;
  for (std::size_t i = 0; i < flags.size(); ++i) {
    if (flags[i] == "--out" && i + 1 < flags.size()) {
      out = flags[++i];
    } else if (flags[i] == "--format" && i + 1 < flags.size()) {
      format = flags[++i];
      if (format != "torchscript" && format != "state-dict") {
        std::fprintf(stderr, "fednode ctl: --format is torchscript or state-dict, not '%s'\n", format.c_str());
        return 2;
      }
    } else if (flags[i] == "--model" && i + 1 < flags.size()) {
      module_file = flags[++i];
    } else if (which == "latest" && (flags[i] == "latest" || (!flags[i].empty() && flags[i].size() <= 18 &&
                                                             flags[i].find_first_not_of("0123456789") == std::string::npos))) {
      which = flags[i];
    } else {
      std::fprintf(stderr, "fednode ctl: export-model takes [ROUND|latest] --out FILE.pt [--format torchscript|state-dict] "
                           "[--model FILE], not '%s'\n", flags[i].c_str());
      return 2;
    }
  }
  if (out.empty() || which.empty()) {
    std::fprintf(stderr, "fednode ctl: export-model needs --out FILE.pt\n");
    return 2;
  }
  msgpack::object_handle h;
  fl::RoundState rounds;
  std::map<std::uint64_t, std::string> members;
  if (Status s = ctl_ask(address, "fl_status", &h, kTimeout); !s.ok()) {
    std::fprintf(stderr, "fednode ctl: %s\n", s.message().c_str());
    return 1;
  }
  try {
    const auto* ro = net::map_field(h.get(), "rounds");
    if (!ro || !rounds.restore(*ro).ok()) throw std::runtime_error("no round state in the answer");
    if (const auto* m = net::map_field(h.get(), "members")) m->convert(members);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fednode ctl: %s: bad fl_status answer: %s\n", address.to_string().c_str(), e.what());
    return 1;
  }
  if (rounds.committed().empty()) {
    std::fprintf(stderr, "fednode ctl: %s has no committed round yet\n", address.to_string().c_str());
    return 1;
  }
  const fl::RoundConfig& run = *rounds.config();
  bool scripted = !run.model_sha256.empty();
  if (format.empty()) format = scripted ? "torchscript" : "state-dict";
  if (format == "torchscript") {
    if (!scripted) {
      std::fprintf(stderr, "fednode ctl: the run trains the built-in %s, not a TorchScript module: use --format state-dict\n",
                   run.model.c_str());
      return 2;
    }
    if (module_file.empty()) {
      std::fprintf(stderr, "fednode ctl: --format torchscript needs --model FILE, the run's module %s (sha256 %.16s...)\n",
                   run.model.c_str(), run.model_sha256.c_str());
      return 2;
    }
    std::string module_bytes;
    if (Status s = read_file(module_file, &module_bytes); !s.ok()) {
      std::fprintf(stderr, "fednode ctl: %s\n", s.message().c_str());
      return 2;
    }
    if (std::string h = fl::sha256_hex(module_bytes); h != run.model_sha256) {
      std::fprintf(stderr, "fednode ctl: %s has sha256 %.16s..., the run's model %s has %.16s...: not the run's module\n",
                   module_file.c_str(), h.c_str(), run.model.c_str(), run.model_sha256.c_str());
      return 2;
    }
  }
  const fl::RoundRecord* record = &rounds.committed().back();
  if (which != "latest") {
    std::uint64_t r = std::stoull(which);
    if (r == 0 || r > rounds.last_round()) {
      std::fprintf(stderr, "fednode ctl: round %s is not committed (rounds 1-%llu are)\n", which.c_str(),
                   static_cast<unsigned long long>(rounds.last_round()));
      return 1;
    }
    record = &rounds.committed()[r - 1];
  }
  // The node asked, then the round's aggregator (it made the model).
  std::vector<PeerAddress> sources = {address};
  std::string why;
  if (auto agg = members.find(record->aggregator); agg != members.end()) {
    if (auto a = parse_peer_address(agg->second, &why); a && a->to_string() != address.to_string()) sources.push_back(*a);
  }
  std::string bytes, errors;
  bool fetched = false;
  for (const auto& source : sources) {
    auto data = data_address(source, &why);
    if (!data && why.rfind("export-model needs --key-file", 0) == 0) {
      std::fprintf(stderr, "fednode ctl: %s\n", why.c_str());
      return 2;
    }
    if (!data) {
      errors += "; " + why;
      continue;
    }
    auto secure = ctl_data_call(source);
    Status s = net::fetch_blob(*data, record->model_id, &bytes, kTimeout, net::kDefaultMaxFrame, nullptr,
                               secure ? &*secure : nullptr);
    if (s.ok()) {
      fetched = true;
      break;
    }
    errors += "; " + source.to_string() + ": " + s.message();
  }
  if (!fetched) {
    std::fprintf(stderr,
                 "fednode ctl: model %.12s of round %llu could not be fetched%s (older rounds' models are deleted under "
                 "--keep-models; the data plane serves members' keys only)\n",
                 record->model_id.c_str(), static_cast<unsigned long long>(record->round), errors.c_str());
    return 1;
  }
  fl::ModelWeights w;
  if (fl::sha256_hex(bytes) != record->model_id) {  // fetch_blob checks too; the file must be the committed model
    std::fprintf(stderr, "fednode ctl: the fetched bytes do not hash to model %s\n", record->model_id.c_str());
    return 1;
  }
  if (Status s = fl::deserialize_weights(bytes, &w); !s.ok()) {
    std::fprintf(stderr, "fednode ctl: model %.12s: %s\n", record->model_id.c_str(), s.message().c_str());
    return 1;
  }
  Status written = format == "torchscript" ? fl::export_torchscript("torchscript:" + module_file, w, out)
                                           : fl::export_state_dict(w, out);
  if (Status s = written; !s.ok()) {
    std::fprintf(stderr, "fednode ctl: %s: %s\n", out.c_str(), s.message().c_str());
    return 1;
  }
  std::printf("round %llu model %s (%zu weights) -> %s (%s)\n", static_cast<unsigned long long>(record->round),
              record->model_id.c_str(), w.parameter_count(), out.c_str(), format.c_str());
  return 0;
}

}  // namespace fednode

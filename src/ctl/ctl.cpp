#include "fednode/ctl/ctl.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <msgpack.hpp>

#include "fednode/net/client_requests.h"
#include "fednode/ctl/ctl_commands.h"
#include "fednode/ctl/ctl_calls.h"
#include "fednode/ctl/ctl_watch.h"
#include "fednode/crypto/node_key.h"
#include "fednode/net/client_connection.h"

namespace fednode {

namespace {

constexpr auto kTimeout = std::chrono::milliseconds(5000);

}  // namespace


namespace {

void pack_str(msgpack::packer<msgpack::sbuffer>& p, const std::string& s) { p.pack(s); }

// `with_id`: the request carries an id, which zatt's answers echo beside their fields. A get's
// answer is the store itself, where a user's key "id" would collide with it: get sends none.
std::string request(const std::string& type, const std::vector<std::pair<std::string, std::string>>& strings,
                    const std::string& data_map = "", bool with_id = true) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(static_cast<std::uint32_t>((with_id ? 2 : 1) + strings.size() + (data_map.empty() ? 0 : 1)));
  p.pack("type");
  p.pack(type);
  if (with_id) {
    p.pack("id");
    p.pack(1);
  }
  for (const auto& [k, v] : strings) {
    pack_str(p, k);
    pack_str(p, v);
  }
  std::string out(b.data(), b.size());
  if (!data_map.empty()) {
    msgpack::sbuffer k;
    msgpack::pack(k, "data");
    out += std::string(k.data(), k.size()) + data_map;
  }
  return out;
}

std::string data(const std::string& action, const std::string& key, const std::string* value) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(value ? 3 : 2);
  p.pack("action");
  p.pack(action);
  p.pack("key");
  p.pack(key);
  if (value) {
    p.pack("value");
    p.pack(*value);
  }
  return std::string(b.data(), b.size());
}

// Sends `req` to `address`, following redirects (learning the keys they name).
Status call(PeerAddress address, const std::string& req, msgpack::object_handle* answer) {
  return call_leader(address, req, answer, kTimeout,
                     [](net::ClientConnection& c, const PeerAddress& at, const std::string& key) {
                       ctl_learn_key(at.to_string(), key);
                       return ctl_connect(c, at, kTimeout);
                     });
}

// One line per member: role, term, commit, applied, traffic per channel.
int print_cluster_status(const PeerAddress& first) {
  msgpack::object_handle seed;
  if (Status s = ctl_ask(first, "diagnostic", &seed, kTimeout); !s.ok()) {
    std::fprintf(stderr, "fednode ctl: %s\n", s.message().c_str());
    return 1;
  }
  std::vector<std::string> members = ctl_members_of(seed.get());
  std::vector<std::string> problems;  // members that cannot train, and why
  std::printf("%-22s %-19s %6s %8s %8s %12s %12s %12s %12s %12s %12s\n", "node", "role", "term", "commit", "applied",
              "raft in", "raft out", "client in", "client out", "data in", "data out");
  for (const auto& m : members) {
    std::string why;
    auto addr = parse_peer_address(m, &why);
    msgpack::object_handle h;
    if (!addr || !ctl_ask(*addr, "diagnostic", &h, std::chrono::milliseconds(1000)).ok()) {
      std::printf("%-22s %-19s\n", m.c_str(), "unreachable");
      continue;
    }
    const auto& o = h.get();
    std::string role = net::as_string(net::map_field(o, "status"));
    if (net::as_string(net::map_field(o, "membership")) == "learner") role += " (learner)";
    std::printf("%-22s %-19s %6llu %8llu %8llu %12llu %12llu %12llu %12llu %12llu %12llu\n", m.c_str(), role.c_str(),
                static_cast<unsigned long long>(ctl_u64_at(o, {"persist", "currentTerm"})),
                static_cast<unsigned long long>(ctl_u64_at(o, {"log", "commitIndex"})),
                static_cast<unsigned long long>(ctl_u64_at(o, {"log", "lastApplied"})),
                static_cast<unsigned long long>(ctl_u64_at(o, {"stats", "raft_udp", "bytes_in"})),
                static_cast<unsigned long long>(ctl_u64_at(o, {"stats", "raft_udp", "bytes_out"})),
                static_cast<unsigned long long>(ctl_u64_at(o, {"stats", "client_tcp", "bytes_in"})),
                static_cast<unsigned long long>(ctl_u64_at(o, {"stats", "client_tcp", "bytes_out"})),
                static_cast<unsigned long long>(ctl_u64_at(o, {"stats", "data_tcp", "bytes_in"})),
                static_cast<unsigned long long>(ctl_u64_at(o, {"stats", "data_tcp", "bytes_out"})));
    if (const auto* t = net::map_field(o, "training"); t && net::as_string(net::map_field(*t, "state")) == "failed") {
      problems.push_back(m + " cannot train: " + net::as_string(net::map_field(*t, "error")));
    }
  }
  for (const auto& p : problems) std::printf("%s\n", p.c_str());
  return 0;
}

}  // namespace

std::vector<std::string> split_option_values(const std::vector<std::string>& args) {
  static const char* const kWithValues[] = {"--key-file", "--server-key", "--cluster-id", "--key",  "--since",
                                            "--interval", "--count",      "--out",        "--format", "--model"};
  std::vector<std::string> out;
  for (const std::string& a : args) {
    auto eq = a.find('=');
    bool known = eq != std::string::npos &&
                 std::find(std::begin(kWithValues), std::end(kWithValues), a.substr(0, eq)) != std::end(kWithValues);
    if (known) {
      out.push_back(a.substr(0, eq));
      out.push_back(a.substr(eq + 1));
    } else {
      out.push_back(a);
    }
  }
  return out;
}

int run_ctl(const std::vector<std::string>& raw_args) {
  const std::vector<std::string> all_args = split_option_values(raw_args);
  // Options anywhere: --key-file F (an operator's key, or this node's), --server-key K,
  // --cluster-id ID (the prologue of the sealed channel).
  std::vector<std::string> args;
  std::string key_file;
  CtlKeys& keys = ctl_keys();
  for (std::size_t i = 0; i < all_args.size(); ++i) {
    const std::string& a = all_args[i];
    if ((a == "--key-file" || a == "--server-key" || a == "--cluster-id") && i + 1 < all_args.size()) {
      (a == "--key-file" ? key_file : a == "--server-key" ? keys.default_server : keys.cluster_id) = all_args[++i];
    } else {
      args.push_back(a);
    }
  }
  if (!key_file.empty()) {
    crypto::NodeKey k;
    if (Status s = crypto::load_key_file(key_file, &k); !s.ok()) {
      std::fprintf(stderr, "fednode ctl: %s\n", s.message().c_str());
      return 2;
    }
    keys.self = k;
    if (keys.default_server.empty()) keys.default_server = k.public_key.text();
  }
  auto usage_text = [](std::FILE* to) {
    std::fputs("usage: fednode ctl [--key-file F [--server-key K] [--cluster-id ID]] HOST:PORT get | set KEY VALUE | del KEY | status | diagnostic |\n"
               "                    add-peer H:P [--key KEY] [--learner] | remove-peer H:P | transfer-leader H:P |\n"
               "                    rounds [--tsv] [--since N] [--evaluated] | watch [--interval S] [--count N] |\n"
               "                    export-model [ROUND|latest] --out FILE.pt [--format torchscript|state-dict] [--model FILE]\n", to);
  };
  auto usage = [&] {
    usage_text(stderr);
    return 2;
  };
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    usage_text(stdout);
    return 0;
  }
  if (args.size() < 2) return usage();
  std::string why;
  auto address = parse_peer_address(args[0], &why);
  if (!address) {
    std::fprintf(stderr, "fednode ctl: %s\n", why.c_str());
    return 2;
  }
  const std::string& cmd = args[1];
  std::string req;
  if (cmd == "get" && args.size() == 2) {
    req = request("get", {}, "", false);
  } else if (cmd == "set" && args.size() == 4) {
    req = request("append", {}, data("change", args[2], &args[3]));
  } else if (cmd == "del" && args.size() == 3) {
    req = request("append", {}, data("delete", args[2], nullptr));
  } else if (cmd == "status" && args.size() == 2) {
    return print_cluster_status(*address);
  } else if (cmd == "rounds") {
    return print_rounds(*address, {args.begin() + 2, args.end()});
  } else if (cmd == "watch") {
    return run_watch(*address, {args.begin() + 2, args.end()});
  } else if (cmd == "export-model") {
    return export_model(*address, {args.begin() + 2, args.end()});
  } else if (cmd == "transfer-leader" && args.size() == 3) {
    auto peer = parse_peer_address(args[2], &why);
    if (!peer) {
      std::fprintf(stderr, "fednode ctl: %s\n", why.c_str());
      return 2;
    }
    req = peer_request("transfer", nullptr, *peer, false);
  } else if (cmd == "diagnostic" && args.size() == 2) {
    req = request("diagnostic", {});
  } else if ((cmd == "add-peer" || cmd == "remove-peer") && args.size() >= 3) {
    auto peer = parse_peer_address(args[2], &why);
    if (!peer) {
      std::fprintf(stderr, "fednode ctl: %s\n", why.c_str());
      return 2;
    }
    bool learner = false;
    std::string key;
    for (std::size_t i = 3; i < args.size(); ++i) {
      if (args[i] == "--learner" && cmd == "add-peer") {
        learner = true;
      } else if (args[i] == "--key" && cmd == "add-peer" && i + 1 < args.size()) {
        key = args[++i];
      } else {
        return usage();
      }
    }
    req = peer_request("config", cmd == "add-peer" ? "add" : "delete", *peer, learner, key);
  } else {
    return usage();
  }
  msgpack::object_handle answer;
  Status called = call(*address, req, &answer);
  if (called.ok()) called = ctl_check_answer(*address, answer.get());
  if (!called.ok()) {
    std::fprintf(stderr, "fednode ctl: %s\n", called.message().c_str());
    return 1;
  }
  const auto& o = answer.get();
  std::string type = net::as_string(net::map_field(o, "type"));
  if (type == "error") {
    std::fprintf(stderr, "fednode ctl: %s\n", net::as_string(net::map_field(o, "reason")).c_str());
    return 1;
  }
  if (type == "unknown") {  // the leader lost its leadership first: the write may still commit
    std::fprintf(stderr, "fednode ctl: %s\n", net::as_string(net::map_field(o, "reason")).c_str());
    return 3;
  }
  if (type == "result") {
    const auto* ok = net::map_field(o, "success");
    bool success = net::is_true(ok);
    std::printf("%s\n", success ? "ok" : ("failed: " + net::as_string(net::map_field(o, "reason"))).c_str());
    return success ? 0 : 1;
  }
  std::ostringstream text;
  text << o;
  std::printf("%s\n", text.str().c_str());
  return 0;
}

}  // namespace fednode

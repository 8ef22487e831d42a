#include "fednode/ctl/keygen.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fednode/crypto/node_key.h"

namespace fednode {

int run_keygen(const std::vector<std::string>& args) {
  std::string dir = ".";
  bool if_missing = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--out" && i + 1 < args.size()) {
      dir = args[++i];
    } else if (args[i] == "--if-missing") {
      if_missing = true;
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::puts("usage: fednode keygen [--out DIR] [--if-missing]\n"
                "Writes DIR/node.key (mode 0600) and prints the node's public key: give it to the other\n"
                "peers as HOST:PORT=KEY, and to `fednode ctl ... add-peer HOST:PORT --key KEY`.\n"
                "--if-missing: a key already there is kept (and checked), and its public key printed.");
      return 0;
    } else {
      std::fprintf(stderr, "fednode keygen: unexpected argument '%s' (usage: fednode keygen [--out DIR] [--if-missing])\n",
                   args[i].c_str());
      return 2;
    }
  }
  if (if_missing && std::filesystem::exists(dir + "/node.key")) {
    crypto::NodeKey existing;
    if (Status s = crypto::load_key_file(dir + "/node.key", &existing); !s.ok()) {
      std::fprintf(stderr, "fednode keygen: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("%s\n", existing.public_key.text().c_str());
    return 0;
  }
  std::error_code ec;
  bool made = std::filesystem::create_directories(dir, ec);
  if (made && !ec) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  if (ec) {
    std::fprintf(stderr, "fednode keygen: %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  crypto::PublicKey key;
  if (Status s = crypto::generate_key_file(dir + "/node.key", &key); !s.ok()) {
    std::fprintf(stderr, "fednode keygen: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "fednode keygen: wrote %s/node.key (keep it private; back it up)\n", dir.c_str());
  std::printf("%s\n", key.text().c_str());
  return 0;
}

}  // namespace fednode

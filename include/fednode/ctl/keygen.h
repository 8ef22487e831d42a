#pragma once
// `fednode keygen [--out DIR]`: writes DIR/node.key (mode 0600, DIR created 0700, an existing
// key never overwritten) and prints the node's public key, alone on stdout, for peers' configs.
#include <string>
#include <vector>

namespace fednode {

int run_keygen(const std::vector<std::string>& args);

}  // namespace fednode

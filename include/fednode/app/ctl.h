#pragma once
#include <string>
#include <vector>

namespace fednode {

// `fednode ctl HOST:PORT get|set K V|del K|status`: talks to a node over the client channel and
// follows redirects to the leader. Returns the exit code.
int run_ctl(const std::vector<std::string>& args);

}  // namespace fednode

#pragma once
// `fednode ctl`: parses its command line and runs one command; the subcommands live in
// ctl_commands.h and ctl_watch.h, the connection to nodes in ctl_calls.h.
#include <string>
#include <vector>

namespace fednode {

// `fednode ctl HOST:PORT get|set K V|del K|status`: talks to a node over the client channel and
// follows redirects to the leader. Returns the exit code.
int run_ctl(const std::vector<std::string>& args);
// `--option=VALUE` as `--option VALUE`, for ctl's options that take a value, so a value that
// starts with '-' (an older key) can be written either way.
std::vector<std::string> split_option_values(const std::vector<std::string>& args);

}  // namespace fednode

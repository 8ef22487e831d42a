#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "fednode/app/cli.h"
#include "fednode/ctl/ctl.h"
#include "fednode/ctl/keygen.h"
#include "fednode/app/peer_daemon.h"
#include "fednode/ctl/train_local.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "ctl") return fednode::run_ctl({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "keygen") return fednode::run_keygen({args.begin() + 1, args.end()});
  auto command = fednode::parse_cli(args);
  if (auto* exit = std::get_if<fednode::CliExit>(&command)) {
    std::fputs(exit->out.c_str(), stdout);
    std::fputs(exit->err.c_str(), stderr);
    return exit->code;
  }
  if (auto* train = std::get_if<fednode::TrainLocalOptions>(&command)) return fednode::run_train_local(*train);
  return fednode::run_peer(std::get<fednode::NodeOptions>(command));
}

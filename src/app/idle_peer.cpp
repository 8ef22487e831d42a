// The peer process until the cluster daemon lands: it sets up logging and the data directory,
// then waits for a signal on the control loop. Raft, networking and training are not wired yet.
#include <asio.hpp>

#include <filesystem>
#include <system_error>

#include "fednode/app/idle_peer.h"
#include "fednode/util/logging.h"

namespace fednode {

int run_peer(const NodeOptions& options) {
  init_logging(options.self.to_string(), options.log_level);
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data directory {}: {}", options.data_dir, ec.message());
    return 1;
  }
  spdlog::info("peer {} with {} other peer(s), data dir {}, data port {}", options.self.to_string(),
               options.peers.size(), options.data_dir, options.data_port);
  spdlog::warn("Raft, networking and training are not wired into the daemon yet; idling until "
               "SIGINT/SIGTERM");
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int signo) {
    spdlog::info("signal {} received, stopping", signo);
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace fednode

#include "fednode/net/loopback_peer_uid.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace fednode::net {
namespace {

constexpr std::uint8_t kTcpEstablished = 1;  // the kernel's TCP_ESTABLISHED

void put_address(const asio::ip::address& a, __be32* out) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    std::memcpy(out, b.data(), b.size());
  } else {
    auto b = a.to_v6().to_bytes();
    std::memcpy(out, b.data(), b.size());
  }
}

}  // namespace

std::optional<uid_t> loopback_peer_uid(const asio::ip::tcp::endpoint& local, const asio::ip::tcp::endpoint& remote) {
  if (local.address().is_v4() != remote.address().is_v4()) return std::nullopt;
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 req;
  } request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.req.sdiag_family = local.address().is_v4() ? AF_INET : AF_INET6;
  request.req.sdiag_protocol = IPPROTO_TCP;
  request.req.idiag_states = ~0u;
  // The client's socket: from its own end (our remote) to ours.
  request.req.id.idiag_sport = htons(remote.port());
  request.req.id.idiag_dport = htons(local.port());
  put_address(remote.address(), request.req.id.idiag_src);
  put_address(local.address(), request.req.id.idiag_dst);
  request.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  request.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  std::optional<uid_t> uid;
  if (::sendto(fd, &request, sizeof request, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) ==
      static_cast<ssize_t>(sizeof request)) {
    alignas(nlmsghdr) char buffer[8192];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); n > 0 && NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) break;  // NLMSG_ERROR: no such socket
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) break;
      const auto* msg = reinterpret_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      // Only a live, established socket with an owner: a client that closed at once leaves a
      // TIME_WAIT socket that the kernel reports as root's (uid 0, no inode).
      if (msg->idiag_state != kTcpEstablished || msg->idiag_inode == 0) break;
      if (msg->id.idiag_sport != request.req.id.idiag_sport || msg->id.idiag_dport != request.req.id.idiag_dport ||
          std::memcmp(msg->id.idiag_src, request.req.id.idiag_src, sizeof msg->id.idiag_src) != 0 ||
          std::memcmp(msg->id.idiag_dst, request.req.id.idiag_dst, sizeof msg->id.idiag_dst) != 0) {
        break;
      }
      uid = msg->idiag_uid;
      break;
    }
  }
  ::close(fd);
  return uid;
}

}  // namespace fednode::net

// fednode-delay-queue: delays the packets a testbed host sends, as netem would (netem is not
// built into these kernels). An iptables rule in the host's namespace hands every outgoing
// packet on eth0 to NFQUEUE queue N; this process holds each one for DELAY ms plus a uniformly
// drawn jitter in [-JITTER, +JITTER] ms, then lets it go. Packets leave in the order they came
// (a later packet never overtakes an earlier one, so jitter does not reorder TCP segments), the
// queue holds up to 65,536 packets and lets packets through rather than drop them when it is
// full (fail-open), and the rule's --queue-bypass lets traffic pass if this process is gone.
//   fednode-delay-queue --queue N --delay-ms D [--jitter-ms J] [--seed S]
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <sys/socket.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

struct Held {
  std::uint32_t id;
  Clock::time_point release;
};

struct Delayer {
  std::chrono::microseconds delay{0}, jitter{0};
  std::mt19937_64 rng;
  std::deque<Held> held;
  Clock::time_point last_release{};
  std::uint64_t packets = 0;

  Clock::time_point release_time() {
    auto d = delay;
    if (jitter.count() > 0) {
      std::uniform_int_distribution<long long> draw(-jitter.count(), jitter.count());
      d += std::chrono::microseconds(draw(rng));
      if (d.count() < 0) d = std::chrono::microseconds(0);
    }
    auto at = Clock::now() + d;
    if (at < last_release) at = last_release;  // in order: never before the packet ahead of it
    last_release = at;
    return at;
  }
};

int on_packet(nfq_q_handle*, nfgenmsg*, nfq_data* nfa, void* data) {
  auto* d = static_cast<Delayer*>(data);
  nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  d->held.push_back({ntohl(ph->packet_id), d->release_time()});
  ++d->packets;
  return 0;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "fednode-delay-queue: %s\nusage: fednode-delay-queue --queue N --delay-ms D [--jitter-ms J] [--seed S]\n",
               why.c_str());
  std::exit(2);
}

long long number(const char* flag, const char* text, long long max) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || !end || *end || v < 0 || v > max) usage(std::string(flag) + " '" + text + "' is not a number in 0.." + std::to_string(max));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  long long queue = -1, delay_ms = -1, jitter_ms = 0, seed = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(a + " needs a value");
    if (a == "--queue") queue = number("--queue", argv[++i], 65535);
    else if (a == "--delay-ms") delay_ms = number("--delay-ms", argv[++i], 10000);
    else if (a == "--jitter-ms") jitter_ms = number("--jitter-ms", argv[++i], 10000);
    else if (a == "--seed") seed = number("--seed", argv[++i], 1LL << 62);
    else usage("unknown option '" + a + "'");
  }
  if (queue < 0 || delay_ms < 0) usage("--queue and --delay-ms are required");

  Delayer d;
  d.delay = std::chrono::milliseconds(delay_ms);
  d.jitter = std::chrono::milliseconds(jitter_ms);
  d.rng.seed(static_cast<std::uint64_t>(seed));

  nfq_handle* h = nfq_open();
  if (!h) return std::perror("fednode-delay-queue: nfq_open"), 1;
  nfq_q_handle* qh = nfq_create_queue(h, static_cast<std::uint16_t>(queue), &on_packet, &d);
  if (!qh) {
    std::fprintf(stderr, "fednode-delay-queue: cannot bind queue %lld (another process holds it?)\n", queue);
    return 1;
  }
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) return std::perror("fednode-delay-queue: nfq_set_mode"), 1;
  nfq_set_queue_maxlen(qh, 65536);
  nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
  int fd = nfq_fd(h);
  int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  std::fprintf(stderr, "fednode-delay-queue: queue %lld, %lld ms +- %lld ms\n", queue, delay_ms, jitter_ms);

  alignas(8) static char buf[1 << 16];
  for (;;) {
    int timeout = -1;
    if (!d.held.empty()) {
      auto wait = std::chrono::duration_cast<std::chrono::microseconds>(d.held.front().release - Clock::now()).count();
      timeout = wait <= 0 ? 0 : static_cast<int>((wait + 999) / 1000);
    }
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, timeout);
    if (n < 0 && errno != EINTR) return std::perror("fednode-delay-queue: poll"), 1;
    if (n > 0 && (p.revents & POLLIN)) {
      for (;;) {
        ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got < 0) {
          if (errno == ENOBUFS) continue;  // the kernel dropped notifications; fail-open covers the packets
          break;
        }
        nfq_handle_packet(h, buf, static_cast<int>(got));
      }
    }
    auto now = Clock::now();
    while (!d.held.empty() && d.held.front().release <= now) {
      nfq_set_verdict(qh, d.held.front().id, NF_ACCEPT, 0, nullptr);
      d.held.pop_front();
    }
  }
}

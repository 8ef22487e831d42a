#include "fednode/ctl/ctl_watch.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <msgpack.hpp>
#include <thread>

#include "fednode/ctl/ctl_calls.h"
#include "fednode/fl/round_state.h"
#include "fednode/net/client_connection.h"

namespace fednode {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kAskTimeout = std::chrono::milliseconds(800);

std::string rate(double bytes_per_s) {
  char buf[32];
  if (bytes_per_s >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.1fM", bytes_per_s / 1e6);
  } else if (bytes_per_s >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1fk", bytes_per_s / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", bytes_per_s);
  }
  return buf;
}

std::uint64_t channel_bytes(const msgpack::object& diag, const char* channel) {
  return ctl_u64_at(diag, {"stats", channel, "bytes_in"}) + ctl_u64_at(diag, {"stats", channel, "bytes_out"});
}

struct Seen {
  Clock::time_point at;
  std::uint64_t raft = 0, client = 0, data = 0;
};

class Watcher {
 public:
  Watcher(PeerAddress target, double interval) : target_(std::move(target)), interval_(interval) {}

  WatchFrame frame() {
    WatchFrame f;
    f.target = target_.to_string();
    f.interval_s = interval_;
    std::time_t now = std::time(nullptr);
    char clock[16];
    std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&now));
    f.clock = clock;
    msgpack::object_handle seed;
    if (Status s = ctl_ask(target_, "diagnostic", &seed, kAskTimeout); !s.ok()) {
      f.no_answer = s.message();
      return f;
    }
    std::uint64_t leader = ctl_u64_at(seed.get(), {"volatile", "leaderId"});
    for (const auto& m : ctl_members_of(seed.get())) f.members.push_back(member(m));
    rounds(&f, leader);
    return f;
  }

 private:
  WatchMember member(const std::string& address) {
    WatchMember w;
    w.address = address;
    std::string why;
    auto addr = parse_peer_address(address, &why);
    msgpack::object_handle h;
    if (!addr || !ctl_ask(*addr, "diagnostic", &h, kAskTimeout).ok()) return w;
    const auto& o = h.get();
    w.reachable = true;
    w.role = net::as_string(net::map_field(o, "status"));
    w.membership = net::as_string(net::map_field(o, "membership"));
    w.term = ctl_u64_at(o, {"persist", "currentTerm"});
    w.commit = ctl_u64_at(o, {"log", "commitIndex"});
    Seen now{Clock::now(), channel_bytes(o, "raft_udp"), channel_bytes(o, "client_tcp"), channel_bytes(o, "data_tcp")};
    if (auto prev = seen_.find(address); prev != seen_.end()) {
      double dt = std::chrono::duration<double>(now.at - prev->second.at).count();
      auto per_s = [dt](std::uint64_t a, std::uint64_t b) { return dt > 0 && a >= b ? static_cast<double>(a - b) / dt : 0; };
      w.raft_bps = per_s(now.raft, prev->second.raft);
      w.client_bps = per_s(now.client, prev->second.client);
      w.data_bps = per_s(now.data, prev->second.data);
    }
    seen_[address] = now;
    return w;
  }

  // The run and the committed rounds from the target; the round under way from the leader.
  void rounds(WatchFrame* f, std::uint64_t leader) {
    msgpack::object_handle h;
    if (!ctl_ask(target_, "fl_status", &h, kAskTimeout).ok()) return;
    fl::RoundState state;
    std::map<std::uint64_t, std::string> names;
    try {
      const auto* ro = net::map_field(h.get(), "rounds");
      if (!ro || !state.restore(*ro).ok()) return;
      if (const auto* m = net::map_field(h.get(), "members")) m->convert(names);
    } catch (const std::exception&) {
      return;
    }
    if (!state.config()) return;
    const auto& c = *state.config();
    f->run = std::to_string(c.rounds) + " rounds of " + c.model + " on " + c.dataset + ", " + c.aggregator +
             (c.partition == "iid" ? "" : ", " + c.partition);
    f->rounds_planned = c.rounds;
    f->rounds_committed = state.last_round();
    for (const auto& r : state.committed()) {
      if (r.evaluated) f->accuracy.emplace_back(r.round, r.test_accuracy);
    }
    f->finished = state.finished();
    if (!state.current()) return;
    f->round = state.current()->round;
    f->invited = state.current()->participants.size();
    f->aggregator = names.count(state.current()->aggregator) ? names[state.current()->aggregator] : "?";
    f->phase = "training";
    std::string why;
    auto at = parse_peer_address(names.count(leader) ? names[leader] : "", &why);
    msgpack::object_handle lh;
    if (!at || !ctl_ask(*at, "fl_status", &lh, kAskTimeout).ok()) return;
    const auto* p = net::map_field(lh.get(), "progress");
    if (!p || ctl_u64_at(*p, {"round"}) != *f->round) return;
    f->phase = net::as_string(net::map_field(*p, "phase"));
    f->updates = ctl_u64_at(*p, {"updates"});
    f->invited = ctl_u64_at(*p, {"invited"});
    if (const auto* s = net::map_field(*p, "seconds"); s && s->type == msgpack::type::FLOAT64) f->seconds = s->via.f64;
  }

  PeerAddress target_;
  double interval_;
  std::map<std::string, Seen> seen_;
};

}  // namespace

std::string render_watch(const WatchFrame& f) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "fednode watch %s   %s   (every %.3g s, Ctrl-C quits)\n\n", f.target.c_str(),
                f.clock.c_str(), f.interval_s);
  out += line;
  if (f.members.empty()) return out + "no answer from " + f.target + (f.no_answer.empty() ? "" : ": " + f.no_answer) + "\n";
  std::snprintf(line, sizeof line, "%-22s %-10s %-8s %6s %8s %10s %10s %10s\n", "member", "role", "kind", "term", "commit",
                "raft B/s", "client B/s", "data B/s");
  out += line;
  for (const auto& m : f.members) {
    if (!m.reachable) {
      std::snprintf(line, sizeof line, "%-22s %-10s\n", m.address.c_str(), "unreachable");
    } else {
      std::snprintf(line, sizeof line, "%-22s %-10s %-8s %6llu %8llu %10s %10s %10s\n", m.address.c_str(), m.role.c_str(),
                    m.membership.c_str(), static_cast<unsigned long long>(m.term),
                    static_cast<unsigned long long>(m.commit), rate(m.raft_bps).c_str(), rate(m.client_bps).c_str(),
                    rate(m.data_bps).c_str());
    }
    out += line;
  }
  out += "\n";
  if (f.run.empty()) return out + "no training run configured\n";
  out += "run: " + f.run + "\n";
  if (f.round) {
    std::snprintf(line, sizeof line, "round %llu of %llu: %s, %llu of %llu updates, %.1f s (aggregator %s)\n",
                  static_cast<unsigned long long>(*f.round), static_cast<unsigned long long>(f.rounds_planned),
                  f.phase.c_str(), static_cast<unsigned long long>(f.updates), static_cast<unsigned long long>(f.invited),
                  f.seconds, f.aggregator.c_str());
    out += line;
  } else {
    std::snprintf(line, sizeof line, "%llu of %llu rounds committed%s\n", static_cast<unsigned long long>(f.rounds_committed),
                  static_cast<unsigned long long>(f.rounds_planned),
                  f.finished                             ? ": run complete"
                  : f.rounds_committed >= f.rounds_planned ? ": evaluating"
                                                           : "");
    out += line;
  }
  if (!f.accuracy.empty()) {
    out += "accuracy:";
    std::size_t from = f.accuracy.size() > 12 ? f.accuracy.size() - 12 : 0;  // the last 12 fit a line
    for (std::size_t i = from; i < f.accuracy.size(); ++i) {
      std::snprintf(line, sizeof line, "  r%llu %.3f", static_cast<unsigned long long>(f.accuracy[i].first),
                    f.accuracy[i].second);
      out += line;
    }
    out += "\n";
  }
  return out;
}

int run_watch(const PeerAddress& address, const std::vector<std::string>& flags) {
  double interval = 1;
  long count = 0;
  for (std::size_t i = 0; i < flags.size(); ++i) {
    bool has_value = i + 1 < flags.size();
    try {
      if (flags[i] == "--interval" && has_value) {
        interval = std::stod(flags[++i]);
      } else if (flags[i] == "--count" && has_value) {
        count = std::stol(flags[++i]);
      } else {
        throw std::invalid_argument(flags[i]);
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "fednode ctl: watch takes --interval SECONDS and --count N, not '%s'\n", flags[i].c_str());
      return 2;
    }
  }
  if (!(interval >= 0.1 && interval <= 3600) || count < 0) {
    std::fprintf(stderr, "fednode ctl: watch: --interval must be 0.1-3600 s and --count not negative\n");
    return 2;
  }
  bool tty = ::isatty(STDOUT_FILENO) == 1;
  Watcher w(address, interval);
  bool answered = false;
  std::string last_reason;
  for (long n = 0; count == 0 || n < count; ++n) {
    auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
    WatchFrame f = w.frame();
    answered |= f.no_answer.empty();
    last_reason = f.no_answer;
    std::string text = render_watch(f);
    std::fputs(tty ? "\x1b[H\x1b[2J" : (n > 0 ? "\n" : ""), stdout);  // redraw in place on a terminal
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (count != 0 && n + 1 == count) break;
    std::this_thread::sleep_until(next);
  }
  if (!answered) {  // only --count ends a watch: it must not pass for one that saw the node
    std::fprintf(stderr, "fednode ctl: watch: no answer from %s in %ld tries: %s\n", address.to_string().c_str(), count,
                 last_reason.c_str());
    return 1;
  }
  return 0;
}

}  // namespace fednode

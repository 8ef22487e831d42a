// fetch_blob_ranged: one blob in ranges, from several holders at once (net/data_plane.h).
// Each holder gets a thread with its own connection (and io_context): range requests are written
// ahead of their answers, `in_flight` at a time, and answers come back in order on that stream.
#include "fednode/net/data_plane.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "data_plane_frames.h"
#include "data_stream.h"
#include "fednode/util/blob_id.h"
#include "fednode/util/msgpack_fields.h"
#include "fednode/util/msgpack_limits.h"

namespace fednode::net {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// The ranges of one blob and who has them: missing, taken by a stream, or done.
class RangeTable {
 public:
  RangeTable(std::uint64_t size, std::size_t range_bytes, Clock::duration endgame_after)
      : size_(size), range_(range_bytes), state_((size + range_bytes - 1) / range_bytes, kMissing),
        taken_at_(state_.size()), data_(size, '\0'), endgame_after_(endgame_after) {}

  // The next missing range; with none missing, one another stream has taken and not brought
  // (not one of `mine`) for longer than endgame_after, or four times the typical range's time if
  // that is longer: a slow holder's ranges are then fetched again elsewhere, and whichever arrives
  // first is kept. (Asked again at once, a range would come as many times as there are holders
  // over the receiver's own link, which on a slow link is what is slow: a trainer behind 1 Mbit/s
  // got each model three times, and a push to it timed out behind them.)
  bool take(std::size_t* k, const std::deque<std::size_t>& mine = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    for (std::size_t i = 0; i < state_.size(); ++i) {
      if (state_[i] == kMissing) {
        state_[i] = kTaken;
        taken_at_[i] = now;
        *k = i;
        return true;
      }
    }
    Clock::duration patience = endgame_after_;
    if (!took_.empty()) {
      std::nth_element(took_.begin(), took_.begin() + static_cast<std::ptrdiff_t>(took_.size() / 2), took_.end());
      patience = std::max(patience, 4 * took_[took_.size() / 2]);
    }
    for (std::size_t n = 0; n < state_.size(); ++n) {
      std::size_t i = (next_again_ + n) % state_.size();
      if (state_[i] == kTaken && now - taken_at_[i] >= patience && std::find(mine.begin(), mine.end(), i) == mine.end()) {
        next_again_ = i + 1;
        *k = i;
        return true;
      }
    }
    return false;
  }
  void give_back(std::size_t k) {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_[k] == kTaken) state_[k] = kMissing;
  }
  std::uint64_t offset(std::size_t k) const { return k * range_; }
  std::uint64_t length(std::size_t k) const { return std::min<std::uint64_t>(range_, size_ - offset(k)); }
  std::uint64_t size() const { return size_; }
  void put(std::size_t k, std::string_view bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_[k] == kDone) return;
    data_.replace(offset(k), bytes.size(), bytes);
    took_.push_back(Clock::now() - taken_at_[k]);
    ++done_;
    state_[k] = kDone;
    if (done_ == state_.size()) complete_ = true;
  }
  // A whole blob from a holder that predates ranges (checked by the caller).
  void put_whole(std::string_view bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    data_.assign(bytes);
    std::fill(state_.begin(), state_.end(), kDone);
    done_ = state_.size();
    complete_ = true;
  }
  const std::atomic<bool>* completion() const { return &complete_; }
  bool complete() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_ == state_.size();
  }
  std::string take_data() { return std::move(data_); }

 private:
  enum : char { kMissing, kTaken, kDone };
  std::mutex mu_;
  std::uint64_t size_;
  std::size_t range_;
  std::vector<char> state_;
  std::vector<Clock::time_point> taken_at_;  // when each range was first taken
  std::vector<Clock::duration> took_;        // how long the ranges brought so far took
  std::string data_;
  Clock::duration endgame_after_;
  std::size_t done_ = 0;
  std::size_t next_again_ = 0;
  std::atomic<bool> complete_{false};
};

// A range answer: ok, for the range asked, of a blob of the size known. Else why not.
Status check_range(const msgpack::object& a, const RangeTable& table, std::size_t k, std::string* bytes) {
  if (!is_true(map_field(a, "ok"))) return Status::error(as_string(map_field(a, "reason")));
  const msgpack::object* offset = map_field(a, "offset");
  const msgpack::object* size = map_field(a, "size");
  *bytes = frames::bin_field(a, "data");
  if (!offset || offset->type != msgpack::type::POSITIVE_INTEGER || offset->via.u64 != table.offset(k) || !size ||
      size->type != msgpack::type::POSITIVE_INTEGER || size->via.u64 != table.size() || bytes->size() != table.length(k)) {
    return Status::error("an answer that is not the range asked for");
  }
  return {};
}

// One holder's part: ranges until none is missing, reconnecting after a cut. A holder that
// answers "no" (it lacks the blob) is not asked again.
void serve_ranges(const FetchSource& source, const std::string& id, RangeTable& table, const RangedFetch& options,
                  Clock::time_point deadline, std::unique_ptr<DataStream> conn, TransferStats* stats,
                  Status* last) {
  int failures = 0;
  while (!table.complete() && failures < options.attempts && Clock::now() < deadline) {
    if (!conn) {
      conn = std::make_unique<DataStream>(source, deadline, table.completion());
      if (Status s = conn->open(); !s.ok()) {
        *last = s;
        ++failures;
        stats->bytes_in += conn->stats.bytes_in, stats->bytes_out += conn->stats.bytes_out;
        conn.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
    }
    std::deque<std::size_t> flight;
    Status s;
    bool refused = false;
    for (;;) {
      std::size_t k = 0;
      while (s.ok() && flight.size() < options.in_flight && table.take(&k, flight)) {
        flight.push_back(k);
        s = conn->send(frames::range_request(id, table.offset(k), table.length(k)));
      }
      if (!s.ok() || flight.empty()) break;
      msgpack::object_handle h;
      if (s = conn->receive(&h, options.range_bytes + 4096); !s.ok()) break;
      std::string bytes;
      if (is_true(map_field(h.get(), "ok")) && !map_field(h.get(), "size")) {  // it predates ranges: the whole blob
        bytes = frames::bin_field(h.get(), "data");
        if (sha256_hex(bytes) == id) table.put_whole(bytes);
        s = conn->failed("answers with whole blobs (an older fednode)");
        refused = true;
        break;
      }
      if (s = check_range(h.get(), table, flight.front(), &bytes); !s.ok()) {
        refused = is_true(map_field(h.get(), "ok")) == false;
        s = conn->failed(s.message());
        break;
      }
      table.put(flight.front(), bytes);
      flight.pop_front();
    }
    for (std::size_t k : flight) table.give_back(k);
    if (s.ok()) {  // nothing left to take: the others hold the rest, and may yet give some back
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    *last = s;
    failures = refused ? options.attempts : failures + 1;
    stats->bytes_in += conn->stats.bytes_in, stats->bytes_out += conn->stats.bytes_out;
    stats->messages_in += conn->stats.messages_in, stats->messages_out += conn->stats.messages_out;
    conn.reset();
  }
  if (conn) {
    stats->bytes_in += conn->stats.bytes_in, stats->bytes_out += conn->stats.bytes_out;
    stats->messages_in += conn->stats.messages_in, stats->messages_out += conn->stats.messages_out;
  }
}

// On its own thread: nothing may escape it (std::terminate).
void serve_from(const FetchSource& source, const std::string& id, RangeTable& table, const RangedFetch& options,
                Clock::time_point deadline, std::unique_ptr<DataStream> conn, TransferStats* stats, Status* last) {
  try {
    serve_ranges(source, id, table, options, deadline, std::move(conn), stats, last);
  } catch (const std::exception& e) {
    *last = Status::error("data plane " + source.address.to_string() + ": " + e.what());
  }
}

// The fetch from all `sources` at once. *mixed: the ranges came together but not to the blob
// (one holder sent wrong bytes).
Status fetch_ranges(const std::vector<FetchSource>& sources, const std::string& id, std::string* data,
                    std::chrono::milliseconds per_source, Clock::time_point deadline, const RangedFetch& options,
                    TransferStats* stats, bool* is_delta, bool* mixed) {
  *mixed = false;
  TransferStats total;
  auto finish = [&](Status s) {
    if (stats) {
      stats->bytes_in += total.bytes_in, stats->bytes_out += total.bytes_out;
      stats->messages_in += total.messages_in, stats->messages_out += total.messages_out;
    }
    return s;
  };
  // The first holder that answers tells the size, or, predating ranges, gives the whole blob.
  Status last = Status::error("blob " + id.substr(0, 12) + " found on no holder");
  std::optional<RangeTable> table;
  std::unique_ptr<DataStream> first;
  std::size_t first_source = 0;
  for (; first_source < sources.size() && !table; ++first_source) {
    first = std::make_unique<DataStream>(sources[first_source], std::min(deadline, Clock::now() + per_source));
    msgpack::object_handle h;
    Status s = first->open();
    // One byte: the size, without holding the fetch to a slow holder's first range.
    if (s.ok()) s = first->send(frames::range_request(id, 0, 1, is_delta != nullptr));
    if (s.ok()) s = first->receive(&h);
    if (s.ok() && !is_true(map_field(h.get(), "ok"))) s = first->failed(as_string(map_field(h.get(), "reason")));
    total.bytes_in += first->stats.bytes_in, total.bytes_out += first->stats.bytes_out;
    total.messages_in += first->stats.messages_in, total.messages_out += first->stats.messages_out;
    first->stats = {};
    if (!s.ok()) {
      last = s;
      first.reset();
      continue;
    }
    if (is_delta) *is_delta = is_true(map_field(h.get(), "delta"));
    if (is_delta && *is_delta) {  // the caller rebuilds the blob and checks it
      *data = frames::bin_field(h.get(), "data");
      return finish({});
    }
    const msgpack::object* size = map_field(h.get(), "size");
    if (!size) {  // a holder that predates ranges: the whole blob
      *data = frames::bin_field(h.get(), "data");
      if (sha256_hex(*data) != id) return finish(first->failed("blob does not hash to " + id));
      return finish({});
    }
    if (size->type != msgpack::type::POSITIVE_INTEGER || size->via.u64 > kDefaultMaxFrame) {
      return finish(first->failed("an answer that claims a blob of " +
                                  (size->type == msgpack::type::POSITIVE_INTEGER ? std::to_string(size->via.u64) : "no") +
                                  " bytes (at most " + std::to_string(kDefaultMaxFrame) + ")"));
    }
    if (size->via.u64 == 0) {
      data->clear();
      return finish(sha256_hex(*data) == id ? Status{} : first->failed("an empty blob does not hash to " + id));
    }
    table.emplace(size->via.u64, options.range_bytes, options.endgame_after);
  }
  if (!table) return finish(last);
  --first_source;
  std::vector<TransferStats> per(sources.size());
  std::vector<Status> errors(sources.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    std::unique_ptr<DataStream> conn;
    if (i == first_source) {
      conn = std::move(first);
      conn->extend(deadline, table->completion());  // past the probe's own bound, to the fetch's
    }
    if (i < first_source) continue;  // it failed the first request already
    threads.emplace_back(serve_from, std::cref(sources[i]), std::cref(id), std::ref(*table), std::cref(options), deadline,
                         std::move(conn), &per[i], &errors[i]);
  }
  for (auto& t : threads) t.join();
  for (const auto& p : per) {
    total.bytes_in += p.bytes_in, total.bytes_out += p.bytes_out;
    total.messages_in += p.messages_in, total.messages_out += p.messages_out;
  }
  if (!table->complete()) {
    for (const auto& e : errors) {
      if (!e.ok()) last = e;
    }
    return finish(Status::error(last.message() + " (blob " + id.substr(0, 12) + " incomplete from " +
                                std::to_string(sources.size() - first_source) + " holder(s))"));
  }
  *data = table->take_data();
  if (sha256_hex(*data) != id) {
    *mixed = true;
    return finish(Status::error("blob " + id.substr(0, 12) + " put together from its holders does not hash to its id"));
  }
  return finish({});
}

}  // namespace

Status fetch_blob_ranged(const std::vector<FetchSource>& sources, const std::string& id, std::string* data,
                         std::chrono::milliseconds timeout, const RangedFetch& options, TransferStats* stats,
                         bool* is_delta) {
  if (sources.empty() || options.range_bytes == 0 || options.range_bytes > kMaxRange || options.in_flight == 0) {
    return Status::error("fetch_blob_ranged: no sources, or a range size or window out of bounds");
  }
  // Each holder gets `timeout`, as when they were tried one after another.
  const auto deadline = Clock::now() + timeout * static_cast<int>(sources.size());
  bool mixed = false;
  Status s = fetch_ranges(sources, id, data, timeout, deadline, options, stats, is_delta, &mixed);
  if (!mixed || sources.size() == 1) return s;
  // One holder sent wrong bytes: each alone, until one gives the blob.
  for (const auto& source : sources) {
    s = fetch_ranges({source}, id, data, timeout, Clock::now() + timeout, options, stats, nullptr, &mixed);
    if (s.ok()) return s;
  }
  return s;
}

}  // namespace fednode::net

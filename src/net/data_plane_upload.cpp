// upload_update_resumable and push_blob_resumable: a blob in parts that a cut connection does
// not send again (net/data_plane.h).
#include <deque>

#include "data_plane_frames.h"
#include "data_stream.h"
#include "partial_uploads.h"
#include "fednode/net/data_plane.h"
#include "fednode/util/msgpack_fields.h"

namespace fednode::net {
namespace {

using Clock = std::chrono::steady_clock;

struct Outcome {
  Status status;
  bool refused = false;  // the server answered, and said no: trying again would not help
  bool busy = false;     // ... for want of room for parts: the whole blob in one frame may go
  std::uint64_t reached = 0;  // the bytes the server held at the last answer
};

Outcome refused(const DataStream& conn, const msgpack::object& answer) {
  std::string reason = as_string(map_field(answer, "reason"));
  bool busy = reason.rfind(PartialUploads::kBusy, 0) == 0;
  return {conn.failed("refused: " + reason), true, busy};
}

// Where the server's upload stands: an answer {ok, have}.
Outcome have_of(DataStream& conn, std::uint64_t size, std::uint64_t* have) {
  msgpack::object_handle h;
  if (Status s = conn.receive(&h); !s.ok()) return {s};
  if (!is_true(map_field(h.get(), "ok"))) return refused(conn, h.get());
  const msgpack::object* o = map_field(h.get(), "have");
  if (!o || o->type != msgpack::type::POSITIVE_INTEGER || o->via.u64 > size) {
    return {conn.failed("a part's answer without the bytes the server holds (have)")};
  }
  *have = o->via.u64;
  return {};
}

// One attempt on an open stream: from where the server stands to the end, then `last_frame` (the
// update or push frame naming the parts). *reached: the bytes the server last said it held.
Outcome send_parts(DataStream& conn, const std::string& id, const std::string& data, const ResumableUpload& options,
                   const std::string& last_frame, std::uint64_t* reached) {
  const std::uint64_t size = data.size();
  std::uint64_t& have = *reached;
  // An empty part at the end asks where the upload stands, and starts nothing.
  if (Status s = conn.send(frames::part_request(id, size, size, {})); !s.ok()) return {s};
  if (Outcome o = have_of(conn, size, &have); !o.status.ok()) return o;
  for (int resyncs = 0; have < size; ++resyncs) {
    if (resyncs > 3) return {conn.failed("the server keeps dropping the upload (it holds " + std::to_string(have) + " bytes)")};
    std::uint64_t next = have;
    std::deque<std::uint64_t> ends;  // of the parts in flight, in order
    bool lost = false;
    while (next < size || !ends.empty()) {
      while (!lost && ends.size() < options.in_flight && next < size) {
        std::uint64_t n = std::min<std::uint64_t>(options.part_bytes, size - next);
        if (Status s = conn.send(frames::part_request(id, size, next, std::string_view(data).substr(next, n))); !s.ok()) return {s};
        next += n;
        ends.push_back(next);
      }
      if (ends.empty()) break;
      if (Outcome o = have_of(conn, size, &have); !o.status.ok()) return o;
      // The server dropped the upload (idle, or room made for another): the answers still in
      // flight are read, then the parts go again from where it stands.
      if (have != ends.front()) lost = true;
      ends.pop_front();
    }
    if (!lost) break;
  }
  if (Status s = conn.send(last_frame); !s.ok()) return {s};
  msgpack::object_handle h;
  if (Status s = conn.receive(&h); !s.ok()) return {s};
  if (!is_true(map_field(h.get(), "ok"))) return refused(conn, h.get());
  return {};
}

Status send_in_parts(const PeerAddress& server, const std::string& id, const std::string& data,
                     const std::string& last_frame, std::chrono::milliseconds timeout, const ResumableUpload& options, TransferStats* stats,
                     const std::function<bool()>& abandon, const SecureCall* secure) {
  FetchSource source{server, secure};
  Status last;
  std::uint64_t reached = 0, before = 0;
  for (int attempt = 0; attempt < std::max(1, options.attempts); ++attempt) {
    if (abandon && abandon()) return Status::error("data plane " + server.to_string() + ": abandoned");
    // An attempt that moved nothing (the server stopped, or cut off) ends the upload: trying
    // again would hold the caller another timeout for nothing.
    if (attempt > 1 && reached <= before) break;
    before = reached;
    DataStream conn(source, Clock::now() + timeout, nullptr, abandon);
    Outcome o{conn.open()};
    if (o.status.ok()) o = send_parts(conn, id, data, options, last_frame, &reached);
    if (stats) {
      stats->bytes_in += conn.stats.bytes_in;
      stats->bytes_out += conn.stats.bytes_out;
      stats->messages_in += conn.stats.messages_in;
      stats->messages_out += conn.stats.messages_out;
    }
    if (o.busy) return Status::error("busy");  // the caller sends the blob whole
    if (o.status.ok() || o.refused) return o.status;
    last = o.status;
  }
  return last;
}

ResumableUpload checked(ResumableUpload o) {
  o.part_bytes = std::max<std::size_t>(o.part_bytes, 1);
  o.in_flight = std::max<std::size_t>(o.in_flight, 1);
  return o;
}

}  // namespace

Status upload_update_resumable(const PeerAddress& server, const UpdateNotice& notice, const std::string& data,
                               std::chrono::milliseconds timeout, const ResumableUpload& options, TransferStats* stats,
                               const std::function<bool()>& abandon, const SecureCall* secure) {
  if (data.size() <= options.part_bytes) return upload_update(server, notice, data, timeout, stats, abandon, secure);
  Status s = send_in_parts(server, notice.id, data, frames::request("update", notice.id, nullptr, &notice, false, true),
                           timeout, checked(options), stats, abandon, secure);
  if (!s.ok() && s.message() == "busy") return upload_update(server, notice, data, timeout, stats, abandon, secure);
  return s;
}

Status push_blob_resumable(const PeerAddress& server, const std::string& id, const std::string& data,
                           std::chrono::milliseconds timeout, const ResumableUpload& options, TransferStats* stats,
                           const SecureCall* secure) {
  if (data.size() <= options.part_bytes) return push_blob(server, id, data, timeout, stats, secure);
  Status s = send_in_parts(server, id, data, frames::request("push", id, nullptr, nullptr, false, true), timeout,
                           checked(options), stats, {}, secure);
  if (!s.ok() && s.message() == "busy") return push_blob(server, id, data, timeout, stats, secure);
  return s;
}

}  // namespace fednode::net

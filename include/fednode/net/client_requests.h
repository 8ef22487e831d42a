#pragma once
// Requests of the client channel that more than one caller makes (ctl, a joining peer), and the
// loop that follows redirects to the leader.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "fednode/net/client_connection.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode {

// {type, id: 1, [action], address, port, [learner: true], [key]}: config and transfer requests.
std::string peer_request(const char* type, const char* action, const PeerAddress& peer, bool learner,
                         const std::string& key = "");

// {type: TYPE, id: 1}: the status requests any node answers (diagnostic, fl_status).
std::string status_request(const std::string& type);

// The members a diagnostic answer lists: HOST:PORT=KEY, or HOST:PORT where it names no key
// (--insecure). Empty when the answer has no member list.
std::vector<std::string> diagnostic_members(const msgpack::object& diagnostic);

// Opens `connection` to `address`; `key` is the key a redirect said the node holds ("" if none).
using ClientConnect = std::function<Status(net::ClientConnection& connection, const PeerAddress& address,
                                           const std::string& key)>;

// Sends `request` to `address` and follows up to 5 redirects; `answer` is the first answer that
// is not a redirect.
Status call_leader(PeerAddress address, const std::string& request, msgpack::object_handle* answer,
                   std::chrono::milliseconds timeout, const ClientConnect& connect);

}  // namespace fednode

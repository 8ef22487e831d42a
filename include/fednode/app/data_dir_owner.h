#pragma once
// Whose a data dir is, checked at start so that a dir of another group or node is refused with one
// line instead of serving as a silent non-member ("knows no leader yet" forever).
#include <string>

#include "fednode/util/status.h"

namespace fednode {

// DATA_DIR/cluster_id names the group the dir belongs to: written at the first start (and at the
// first start of a dir from before the file existed), refused when --cluster-id differs.
Status check_cluster_id(const std::string& data_dir, const std::string& cluster_id);

// A dir whose log names a membership without this node: refused unless the node asks to be added
// (--join). `members` is how many voters and learners the stored membership has.
Status check_member_of_stored_group(const std::string& data_dir, const std::string& self, bool member, bool join,
                                    std::size_t members);

}  // namespace fednode

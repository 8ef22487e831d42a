#pragma once
// The data dir's format version, in DATA_DIR/format ("fednode data dir format N"). Read first at
// every start, before anything is written to the dir:
//   - no file and no fednode files: a new dir, stamped with the current format;
//   - no file but fednode files (raft/, cluster_id, boot_epoch, models/): format 1, what fednode
//     0.1 wrote; migrated step by step to the current format, then stamped;
//   - an older format: migrated likewise; the current one: used as it is;
//   - a newer format (a later fednode wrote it) or a file that is not a format line: refused with
//     one line naming the file, so that an older binary never reads or rewrites what it does not
//     know (a downgrade needs the newer binary's own way back, or the backup of the dir).
// Formats (docs/upgrades.md keeps the table):
//   1  fednode 0.1: raft/ (log segments, hardstate, snapshot), models/, cluster_id, boot_epoch,
//      events.jsonl; no format file.
//   2  fednode 0.2: the same files and records, plus the format file.
#include <string>

#include "fednode/util/status.h"

namespace fednode {

inline constexpr int kDataDirFormat = 2;

struct DataDirFormat {
  int found = 0;     // the format the dir was in (0: a new dir)
  int now = 0;       // the format it is in after the check (kDataDirFormat unless refused)
  std::string done;  // what the migration did, for the log ("" when nothing was migrated)
};

// Reads DATA_DIR's format and writes nothing: *found is 0 for a new dir, else 1..kDataDirFormat;
// an error (one line naming the file) for a later format or a file that is not a format line.
// A node reads it before anything else, and migrates only once it knows the dir is its own
// (run_peer: the cluster id is checked between the two).
Status read_data_dir_format(const std::string& data_dir, int* found);
// Brings a dir in format `found` to kDataDirFormat step by step, then stamps it (creating the dir
// if it is missing). Each step is safe to run again: a crash before the stamp runs it again.
Status migrate_data_dir(const std::string& data_dir, int found, DataDirFormat* out);
// Both, one after the other.
Status open_data_dir_format(const std::string& data_dir, DataDirFormat* out);

// The first line of a format file for `format`.
std::string data_dir_format_line(int format);

}  // namespace fednode

// CSV with a header row (RFC 4180 quoting): every column but the label's is a numeric feature.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "fednode/fl/local_data.h"

namespace fednode::fl {
namespace {

// Splits one record into fields; `pos` moves past it (and its line end). Quoted fields may hold
// commas, doubled quotes and line breaks.
Status next_record(std::string_view text, std::size_t* pos, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  bool quoted = false, was_quoted = false;
  std::size_t i = *pos;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == '\r') {
      break;
    } else {
      field += c;
    }
  }
  if (quoted) return Status::error("a quoted field is not closed");
  fields->push_back(std::move(field));
  if (i < text.size() && text[i] == '\r') ++i;
  if (i < text.size() && text[i] == '\n') ++i;
  *pos = i;
  return {};
}

std::string trim(const std::string& s) {
  std::size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

bool parse_number(const std::string& raw, double* v) {
  std::string s = trim(raw);
  if (s.empty()) return false;
  const char* b = s.data() + (s[0] == '+' ? 1 : 0);
  auto r = std::from_chars(b, s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(*v) &&
         std::fabs(*v) <= 3.4e38;
}

}  // namespace

Status load_csv_text(std::string_view text, const std::string& name, Task task, const std::string& label_column,
                     Dataset* out) {
  *out = Dataset{};
  out->name = name;
  out->classes = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a byte-order mark
  std::size_t pos = 0;
  std::vector<std::string> header, fields;
  if (text.empty()) return Status::error(name + ": empty file (a CSV needs a header row and samples)");
  if (Status s = next_record(text, &pos, &header); !s.ok()) return Status::error(name + ": header row: " + s.message());
  for (auto& h : header) h = trim(h);
  std::size_t label = header.size() - 1;
  if (!label_column.empty()) {
    auto it = std::find(header.begin(), header.end(), label_column);
    if (it == header.end()) return Status::error(name + ": no column '" + label_column + "' in the header row");
    label = static_cast<std::size_t>(it - header.begin());
  }
  if (header.size() < 2) return Status::error(name + ": the header names " + std::to_string(header.size()) +
                                              " column; a CSV needs a label column and at least one feature");
  out->feature_shape = {static_cast<std::int64_t>(header.size() - 1)};
  if (task == Task::kRegression) out->target_width = 1;
  std::int64_t top = -1;
  for (std::size_t row = 2; pos < text.size(); ++row) {
    if (Status s = next_record(text, &pos, &fields); !s.ok()) return Status::error(name + ": row " + std::to_string(row) + ": " + s.message());
    if (fields.size() == 1 && trim(fields[0]).empty()) continue;  // a blank line
    if (fields.size() != header.size()) {
      return Status::error(name + ": row " + std::to_string(row) + " has " + std::to_string(fields.size()) +
                           " fields, the header " + std::to_string(header.size()));
    }
    for (std::size_t c = 0; c < fields.size(); ++c) {
      double v;
      if (!parse_number(fields[c], &v)) {
        return Status::error(name + ": row " + std::to_string(row) + ", column '" + header[c] + "': '" + fields[c] +
                             "' is not a finite number" + (c == label && task == Task::kClassification ? " (labels are class numbers 0, 1, ...)" : ""));
      }
      if (c != label) {
        out->features.push_back(static_cast<float>(v));
      } else if (task == Task::kRegression) {
        out->targets.push_back(static_cast<float>(v));
      } else {
        if (v < 0 || v != std::floor(v) || v > (1 << 24)) {
          return Status::error(name + ": row " + std::to_string(row) + ", column '" + header[c] + "': '" + trim(fields[c]) +
                               "' is not a class number 0, 1, ...");
        }
        top = std::max(top, static_cast<std::int64_t>(v));
        out->labels.push_back(static_cast<std::int32_t>(v));
      }
    }
  }
  if (out->size() == 0) return Status::error(name + ": no samples after the header row");
  out->classes = static_cast<int>(top + 1);
  return {};
}

}  // namespace fednode::fl

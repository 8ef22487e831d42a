#pragma once
// JsonLine: builds one JSON object, field by field, for JSON-lines event files and `ctl ... --json`.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fednode {

std::string json_quote(std::string_view s);  // "..." with JSON escapes

class JsonLine {
 public:
  JsonLine& add(std::string_view key, std::string_view value);
  JsonLine& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonLine& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  JsonLine& add(std::string_view key, double value);
  JsonLine& add(std::string_view key, std::uint64_t value);
  JsonLine& add(std::string_view key, std::int64_t value);
  JsonLine& add(std::string_view key, int value) { return add(key, static_cast<std::int64_t>(value)); }
  JsonLine& add(std::string_view key, bool value);
  JsonLine& add(std::string_view key, const std::vector<std::string>& values);
  JsonLine& add_raw(std::string_view key, std::string_view json);  // value already JSON
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_;
};

}  // namespace fednode

// JSON paths as merx prints them in problems and accepts in `--set` and `sweep.grid` keys:
//   training.lr   datasets[1].root   sweep.grid["regularizer.params.x"]   labels.map["happiness"]
// A key that is a plain identifier ([A-Za-z_][A-Za-z0-9_]*) is written `.key`, any other key as a JSON
// string in brackets, an array index as `[i]`. Parsing also accepts bare keys with other characters
// (`options.my-key`): anything but `.`, `[`, `]` and whitespace.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace merx::spec_internal {

struct PathSegment {
  bool is_index = false;
  std::string key;   // when !is_index
  size_t index = 0;  // when is_index
};
using JsonPath = std::vector<PathSegment>;

/// `parent` + key, e.g. ("training", "lr") -> "training.lr", ("", "name") -> "name",
/// ("sweep.grid", "a.b") -> `sweep.grid["a.b"]`.
std::string path_key(const std::string& parent, const std::string& key);
/// `parent` + index, e.g. ("datasets", 1) -> "datasets[1]".
std::string path_index(const std::string& parent, size_t index);
std::string format_path(const JsonPath& path);

/// Parses a path; nullopt with `error` set when malformed (empty, `..`, unclosed bracket, bad index).
std::optional<JsonPath> parse_path(const std::string& text, std::string& error);

/// True when `path` is `prefix` itself or lies below it (`training.lr` is within `training`,
/// `training.lrx` is not).
bool path_within(const std::string& path, const std::string& prefix);

}  // namespace merx::spec_internal

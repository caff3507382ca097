// A command-line argument that carries a JSON object (e.g. `--options '{"frame_gaps": 2}'`).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "merx/errors.h"

namespace merx::cli {

/// Parses `text` as a JSON object; "" gives {}. Throws UserError naming `flag` otherwise.
inline nlohmann::json json_object_arg(const std::string& flag, const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError(flag + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw UserError(flag + ": expected a JSON object such as '{\"frame_gaps\": 2}'");
  return j;
}

}  // namespace merx::cli

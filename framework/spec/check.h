// Internal building blocks of spec validation: findings with paths, JSON type checks, unknown-key checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "merx/params.h"

namespace merx::spec_internal {

using json = nlohmann::json;

/// A problem (or warning) at a formatted JSON path. `about_key` marks problems with the key itself (an
/// unknown name) rather than its value, so that sweep provenance can say `sweep.grid["x"]` rather than
/// `sweep.grid["x"][2]`.
struct Finding {
  std::string path;
  std::string message;
  bool about_key = false;
  bool warning = false;
};
using Findings = std::vector<Finding>;

inline void add_value(Findings& out, std::string path, std::string message) {
  out.push_back({std::move(path), std::move(message), false, false});
}
inline void add_key(Findings& out, std::string path, std::string message) {
  out.push_back({std::move(path), std::move(message), true, false});
}
inline void add_warning(Findings& out, std::string path, std::string message) {
  out.push_back({std::move(path), std::move(message), false, true});
}

/// "the number 3", "the string \"abc\"", "a list", "an object", "true", "null".
std::string describe(const json& v);
/// "expected <what>, got <describe(v)>".
std::string type_message(const std::string& what, const json& v);
/// `a`, `b`, `c`
std::string backquoted_list(const std::vector<std::string>& names);

/// Every key of `obj` not in `allowed` -> "`k` is not a <what>; did you mean `x`?" at path.k.
void check_keys(const json& obj, const std::string& path, const std::vector<std::string>& allowed,
                const std::string& what, Findings& out);

/// True when `v` is an object; else a type finding.
bool expect_object(const json& v, const std::string& path, Findings& out);

/// An integer, or a float with an integral value within int64 (JSON has one number type).
std::optional<int64_t> as_integer(const json& v);

/// A string field: nullopt (with a finding) when missing and required, or not a non-empty string.
std::optional<std::string> string_field(const json& obj, const std::string& key, const std::string& path,
                                        bool required, Findings& out);

/// Params check with key/value findings (params_check.h wraps it for Problems).
json check_params_into(const std::vector<ParamDecl>& decls, const json& given, const std::string& path,
                       const std::string& owner, Findings& out);

/// `value` cast to the declared type (Float -> double, Int -> int64); nullopt + reason when invalid.
std::optional<json> cast_value(const ParamDecl& decl, const json& value, std::string& reason);

/// Numbers as the messages print them (shortest round trip).
std::string number_text(double v);

}  // namespace merx::spec_internal

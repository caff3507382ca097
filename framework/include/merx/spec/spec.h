// Reading an experiment spec: the JSON file, `--set` overrides and `${VAR}` substitution, before
// validation (make_plan in merx/spec/plan.h validates and expands it). See docs/spec.md for the fields.
//
// Order of operations (each step sees the result of the previous one):
//   1. parse the file (strict JSON; a syntax error is a UserError "<file>:<line>:<col>: ..."; a key written
//      twice in one object is a problem at its path, since the last value would silently win)
//   2. apply every `--set path=value` in the order given
//   3. replace `${VAR}` / `${VAR:-default}` in every string value (keys are left alone)
// Problems found in steps 1-3 are collected and thrown together as merx::ValidationError.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace merx {

using json = nlohmann::json;

/// Looks up an environment variable: nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment (getenv).
EnvLookup process_environment();

/// A spec document ready for validation.
struct SpecSource {
  std::filesystem::path file;      // absolute path of the spec file; empty for a document built in memory
  std::filesystem::path base_dir;  // absolute folder that relative paths in the spec resolve against
                                   // (the spec file's folder)
  json document;                   // after --set and ${VAR}; not yet validated
  std::vector<std::string> sets;   // the --set arguments applied, in order (for the record)
};

/// Reads `file` and prepares it (steps 1-3 above).
/// `sets`: "path=value" strings. The path uses the problem-path syntax (`training.lr`, `datasets[1].root`,
/// `sweep.grid["backbone.params.features"]`); the value is parsed as JSON when it parses (`3`, `0.1`,
/// `true`, `[1,2]`, `{"a":1}`, `"3"`), otherwise taken as a string (`lodo`, `data/casme2`). Every
/// segment before the last must exist, except that the framework's own optional sections (`training`,
/// `recipe`, `labels`, `regularizer`, `augmenter`, `sweep`, and `params` / `options` inside their
/// owners) are created when absent; an array index may be one past the end to append.
/// Throws UserError when the file cannot be read or is not valid JSON; ValidationError with every problem
/// (bad --set, unset ${VAR} without default, duplicate keys, a document that is not an object).
SpecSource load_spec(const std::filesystem::path& file, const std::vector<std::string>& sets = {},
                     const EnvLookup& env = process_environment());

/// As load_spec, for a document already in memory (tests, tools); `base_dir` plays the spec folder's role
/// (made absolute). Throws ValidationError.
SpecSource spec_from_json(json document, const std::filesystem::path& base_dir,
                          const std::vector<std::string>& sets = {},
                          const EnvLookup& env = process_environment());

/// Canonical JSON text: object keys sorted (byte order), no whitespace, numbers with an integral value
/// written as integers (1.0 -> 1, -0.0 -> 0; up to 2^53), other numbers in shortest round-trip form
/// (0.1, 1e-05), strings as UTF-8 with JSON escapes. Key order and whitespace of the input do not matter.
/// Used for cell identities and the experiment's spec hash.
std::string canonical_json(const json& value);

/// SHA-256 (hex) of canonical_json(document): the experiment's spec hash.
std::string spec_hash(const SpecSource& spec);

/// The spec's `plugin_paths`, resolved against base_dir, keeping only entries that are strings naming an
/// existing folder (make_plan reports the others). Pass them to PluginRegistry::discover as extra_dirs
/// before calling make_plan.
std::vector<std::filesystem::path> spec_plugin_dirs(const SpecSource& spec);

}  // namespace merx

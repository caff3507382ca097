// Shared by the commands that take a SPEC (`validate`, `plan`, later `run`): read it, discover plugins
// (including the spec's plugin_paths) and make the plan.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "merx/spec/plan.h"

namespace merx::cli {

struct SpecArgs {
  std::string file;
  std::vector<std::string> sets;
};

/// Adds the SPEC positional and the repeatable `--set path=value` option.
void add_spec_args(CLI::App* cmd, SpecArgs& args);

/// load_spec + plugin discovery (+ plugin_paths) + make_plan. Throws UserError/ValidationError.
Plan plan_from_args(const SpecArgs& args);

}  // namespace merx::cli

// Runs the merx executable (or any shell command) and captures exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace merx::test {

struct RunResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `/bin/sh -c "<command>"` with stdout/stderr captured to temporary files.
inline RunResult run_shell(const std::string& command) {
  static int counter = 0;
  const auto dir = std::filesystem::temp_directory_path() / ("merx-run-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto out = dir / ("out" + std::to_string(counter));
  const auto err = dir / ("err" + std::to_string(counter++));
  const std::string full = "(" + command + ") >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(full.c_str());
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

/// Runs the built merx with the given (already shell-quoted) arguments.
inline RunResult run_merx(const std::string& args) { return run_shell(std::string("'") + MERX_EXE + "' " + args); }

}  // namespace merx::test

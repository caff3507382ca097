// Error types shared by every part of merx. The CLI maps them to exit codes:
//   UserError (and ValidationError) -> 2   (bad spec, bad arguments, bad plugin file, bad data)
//   anything else                   -> 1   (runtime failure)
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace merx {

/// A mistake in what the user supplied. The message names the file/row or JSON path concerned.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One problem found while validating, located by a JSON path such as `training.lr` or `datasets[1].root`
/// (empty path = the document as a whole).
struct Problem {
  std::string path;
  std::string message;
  std::string format() const { return path.empty() ? message : path + ": " + message; }
};

/// All problems found in one validation pass (validation never stops at the first one).
/// what() lists them one per line.
class ValidationError : public UserError {
 public:
  explicit ValidationError(std::vector<Problem> problems)
      : UserError(join(problems)), problems_(std::move(problems)) {}
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  static std::string join(const std::vector<Problem>& ps) {
    std::string s;
    for (const auto& p : ps) {
      if (!s.empty()) s += '\n';
      s += p.format();
    }
    return s;
  }
  std::vector<Problem> problems_;
};

}  // namespace merx

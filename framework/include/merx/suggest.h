// "Did you mean" suggestions for misspelt keys and names (in merx_core: used by spec and datasets).
#pragma once

#include <string>
#include <vector>

namespace merx {

/// Optimal-string-alignment edit distance (insertions, deletions, substitutions, adjacent swaps).
size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `word` when it is close enough to be a plausible typo (distance <= 1/3 of the
/// longer word, at least 1; ties go to the first candidate), else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

/// "; did you mean `x`?" or "" — ready to append to a message.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace merx

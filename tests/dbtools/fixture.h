// A small lodo study written straight through the Store API (no engine): experiment "study", variants
// "erm" and "brl" x seeds 1, 2 x targets casme2, samm, smic = 12 cells, each with metrics, confusion,
// predictions, curves and (every other cell) an artifact. Used by the merge, export and report tests.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "merx/store/store.h"

namespace merx::test {

inline const std::vector<std::string> kStudyClasses = {"negative", "positive", "surprise"};
inline const std::vector<std::string> kStudyTargets = {"casme2", "samm", "smic"};
inline const std::vector<std::string> kStudyVariants = {"erm", "brl"};
inline const std::vector<int> kStudySeeds = {1, 2};
inline constexpr std::size_t kStudyCells = 12;

/// Writes the cells i (plan order: variant, seed, target) for which mine(i) is true, with `host` as the
/// machine; groups get their pooled metrics (metrics::update_group_metrics) only when all their cells are in
/// this database, as `merx run --shard` does. `bump`: cells whose result is altered (uf1 + 0.01), for
/// conflict tests.
void write_study(Store& store, const std::function<bool(std::size_t)>& mine, const std::string& host,
                 const std::function<bool(std::size_t)>& bump = {});

/// Every row of every table of the database at `path` as text, ids and the given columns left out (for
/// "unchanged" and "equal" checks that do not go through the code under test).
std::string dump_tables(const std::string& path, const std::vector<std::string>& skip_columns = {});

}  // namespace merx::test

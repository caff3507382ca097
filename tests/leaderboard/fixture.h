// The leaderboard fixture: a results database written through the real Store API (write_finished_cell,
// then metrics::update_group_metrics, as the engine does), with numbers chosen so that every expected
// value can be computed by hand in the tests.
//
// lodo over datasets A, B, C; classes negative, positive. Test clips per target (negative, positive):
// A (6, 4), B (5, 5), C (3, 7). A cell's predictions: every negative clip right, the first k positive clips
// predicted negative — so its UF1 is uf1_k(n_neg, n_pos, k) below.
// Methods (backbone, regularizer, augmenter, variant): "erm" = (netA, none, none, erm), "brl" = (netA, brl,
// none, brl); each with two sweep points (#0 lr=0.01, #1 lr=0.001) x 3 seeds (1, 2, 3). Plus "oracle"
// = (netA, none, none, oracle), one point, 3 seeds, selection 'oracle' (never in the default leaderboard).
// Every cell: selection source_val (oracle: 'oracle'), chosen_epoch 2, curve source_val_uf1 (oracle:
// oracle_test_uf1) with the chosen score at epoch 2 and score - 0.1 at epochs 0, 1 and 3.
#pragma once

#include <array>
#include <string>

#include "merx/store/store.h"

namespace merx::test {

/// Hand formula: UF1 of n_neg negatives all right and k of n_pos positives predicted negative.
/// F1_neg = 2 n_neg / (2 n_neg + k) (FP = k), F1_pos = 2 (n_pos - k) / (2 (n_pos - k) + k) (FN = k).
double uf1_k(int n_neg, int n_pos, int k);

struct FixtureCell {
  int k;         // positives predicted negative
  double score;  // source-validation score at the chosen epoch
};

/// k and score per [method erm|brl|oracle][point][target A,B,C][seed 1,2,3]; used by the tests too.
extern const std::array<std::array<std::array<std::array<FixtureCell, 3>, 3>, 2>, 3> kFixture;
extern const std::array<std::array<int, 2>, 3> kCounts;  // test clips (negative, positive) of A, B, C

/// Writes the fixture into a new database at `path`. seeds = how many of the 3 seeds to write (a run with
/// fewer than 3 seeds is marked). with_oracle: also the oracle method.
void write_fixture(const std::string& path, int seeds = 3, bool with_oracle = true);

}  // namespace merx::test

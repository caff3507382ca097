// Paired two-sample tests for comparing two methods on matched runs (`merx db compare`): the paired t-test
// with its confidence interval, the Wilcoxon signed-rank test, and Holm's step-down correction.
//
// Inputs are two equally long lists a[i], b[i] of one metric (e.g. UF1 in [0, 1]) measured on the same
// unit i (a (target, seed) pair); every test works on the differences d[i] = a[i] - b[i]. Differences are
// compared exactly (no rounding), as SciPy does: a tie or a zero is a bit-equal double.
//
// Sources:
//   paired t: Student (1908); t = mean(d) / (sd(d) / sqrt(n)), sd with n - 1 in the denominator, df = n - 1,
//     two-sided p = 2 * P(T_df > |t|), interval mean(d) -/+ t_{df, (1 + confidence) / 2} * sd(d) / sqrt(n)
//     (Student's t quantile from Boost.Math). Equals scipy.stats.ttest_rel and its confidence_interval().
//   Wilcoxon signed-rank, two-sided (Wilcoxon 1945; Hollander, Wolfe & Chicken, Nonparametric Statistical
//     Methods, 3rd ed., §3.1): zero differences are dropped (Wilcoxon's zero method, SciPy
//     zero_method='wilcox'), the n remaining |d| are ranked with mid-ranks for ties, R+ / R- = rank sums of
//     the positive / negative differences, statistic T = min(R+, R-).
//       exact (n <= 25 and no tied |d|): null distribution of R+ = number of subsets of {1..n} with a given
//         sum over 2^n, counted by dynamic programming; p = min(1, 2 * min(P(R+ <= r), P(R+ >= r))), and 1
//         when r is the centre n(n+1)/4 (SciPy's method='exact').
//       otherwise the normal approximation with continuity correction and the tie correction of the
//         variance: mu = n(n+1)/4, sigma^2 = (n(n+1)(2n+1) - sum_ties (t^3 - t) / 2) / 24,
//         z = (T - mu - 0.5 sign(T - mu)) / sigma, p = 2 * P(Z > |z|) (SciPy's method='approx',
//         correction=True).
//     The choice of method is merx's (issue 7), not SciPy 1.10's 'auto', which takes the exact path up to
//     n = 50 even with ties (truncating mid-ranks).
//   Holm (1979): sort the m p-values ascending, p_adj(i) = max over j <= i of min(1, (m - j + 1) p(j)).
//
// Torch-free; pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace merx::stats {

/// Paired t-test of a against b (H0: mean difference 0).
struct PairedT {
  std::size_t n = 0;                      // number of pairs
  double mean_difference = 0;             // mean(a - b), in the metric's unit; 0 when n = 0
  std::optional<double> sd;               // sample standard deviation of a - b (n - 1 denominator); n >= 2
  std::optional<double> t;                // t statistic; +/-inf when sd = 0 and the mean is not 0
  std::optional<double> df;               // n - 1
  std::optional<double> p;                // two-sided p-value in [0, 1]
  std::optional<double> ci_low, ci_high;  // confidence interval of the mean difference
  std::string reason;                     // why t/p/interval are nullopt ("fewer than 2 pairs", ...)
};

/// Throws std::invalid_argument when a and b differ in length, a value is not finite, or confidence is
/// not in (0, 1). Fewer than 2 pairs, or all differences 0 (sd = 0 and mean 0): t, p and interval nullopt
/// with a reason (SciPy returns NaN there).
PairedT paired_t(const std::vector<double>& a, const std::vector<double>& b, double confidence = 0.95);

/// Two-sided Wilcoxon signed-rank test of a against b (H0: differences symmetric about 0).
struct Wilcoxon {
  std::size_t n_pairs = 0;  // pairs given
  std::size_t n_zero = 0;   // pairs with a zero difference (dropped)
  std::size_t n = 0;        // differences ranked = n_pairs - n_zero
  bool ties = false;        // some non-zero |d| are equal (mid-ranks used)
  bool exact = false;       // p from the exact null distribution (n <= 25 and no ties)
  double r_plus = 0;        // sum of the ranks of the positive differences
  double r_minus = 0;       // sum of the ranks of the negative differences
  double statistic = 0;     // T = min(R+, R-)
  std::optional<double> z;  // normal approximation only: the continuity-corrected z
  std::optional<double> p;  // two-sided p-value in [0, 1]; nullopt when n = 0
  std::string reason;       // why p is nullopt
};

/// Largest n for which the exact distribution is used (without ties).
inline constexpr std::size_t kWilcoxonExactMaxN = 25;

/// Throws std::invalid_argument when a and b differ in length or a value is not finite. n = 0 (no pairs, or
/// every difference 0): p nullopt with a reason.
Wilcoxon wilcoxon_signed_rank(const std::vector<double>& a, const std::vector<double>& b);

/// Null distribution of R+ for n untied, non-zero differences: element k = P(R+ = k), k = 0..n(n+1)/2.
/// Throws std::invalid_argument for n > 60 (counts would overflow 64 bits long before; use the normal
/// approximation).
std::vector<double> signed_rank_distribution(std::size_t n);

/// Holm-adjusted p-values, in the order given (each in [0, 1]). Throws std::invalid_argument for a value
/// outside [0, 1] or not finite.
std::vector<double> holm(const std::vector<double>& p);

}  // namespace merx::stats

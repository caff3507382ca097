// Paired t, Wilcoxon signed-rank and Holm (formulas and sources in merx/stats/stats.h).
#include "merx/stats/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

namespace merx::stats {
namespace {

std::vector<double> differences(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument("paired test: " + std::to_string(a.size()) + " values against " +
                                std::to_string(b.size()) + " (the lists must pair up)");
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i]))
      throw std::invalid_argument("paired test: value " + std::to_string(i) + " is not finite");
    d[i] = a[i] - b[i];
  }
  return d;
}

}  // namespace

PairedT paired_t(const std::vector<double>& a, const std::vector<double>& b, double confidence) {
  if (!(confidence > 0 && confidence < 1))
    throw std::invalid_argument("paired_t: confidence must be in (0, 1)");
  const std::vector<double> d = differences(a, b);
  PairedT r;
  r.n = d.size();
  if (r.n == 0) {
    r.reason = "no pairs";
    return r;
  }
  const double n = static_cast<double>(r.n);
  r.mean_difference = std::accumulate(d.begin(), d.end(), 0.0) / n;
  if (r.n < 2) {
    r.reason = "fewer than 2 pairs";
    return r;
  }
  double ss = 0;
  for (double x : d) ss += (x - r.mean_difference) * (x - r.mean_difference);
  const double sd = std::sqrt(ss / (n - 1));
  const double se = sd / std::sqrt(n);
  r.sd = sd;
  r.df = n - 1;
  if (se == 0) {
    if (r.mean_difference == 0) {
      r.reason = "every difference is 0";
      return r;
    }
    // Constant non-zero difference: infinitely significant, as SciPy's t = +/-inf, p = 0.
    r.t = std::copysign(INFINITY, r.mean_difference);
    r.p = 0.0;
    r.ci_low = r.ci_high = r.mean_difference;
    return r;
  }
  const boost::math::students_t dist(n - 1);
  const double t = r.mean_difference / se;
  r.t = t;
  r.p = std::min(1.0, 2 * boost::math::cdf(boost::math::complement(dist, std::fabs(t))));
  const double q = boost::math::quantile(boost::math::complement(dist, (1 - confidence) / 2));
  r.ci_low = r.mean_difference - q * se;
  r.ci_high = r.mean_difference + q * se;
  return r;
}

std::vector<double> signed_rank_distribution(std::size_t n) {
  if (n > 60) throw std::invalid_argument("signed_rank_distribution: n = " + std::to_string(n) + " > 60");
  const std::size_t max_sum = n * (n + 1) / 2;
  // counts[k] = subsets of {1..m} summing to k, built up m = 1..n (each rank is either positive or not).
  std::vector<uint64_t> counts(max_sum + 1, 0);
  counts[0] = 1;
  for (std::size_t m = 1; m <= n; ++m)
    for (std::size_t k = m * (m + 1) / 2; k >= m; --k) counts[k] += counts[k - m];
  std::vector<double> pmf(max_sum + 1);
  const double total = std::ldexp(1.0, static_cast<int>(n));
  for (std::size_t k = 0; k <= max_sum; ++k) pmf[k] = static_cast<double>(counts[k]) / total;
  return pmf;
}

Wilcoxon wilcoxon_signed_rank(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> all = differences(a, b);
  Wilcoxon w;
  w.n_pairs = all.size();
  std::vector<double> d;
  for (double x : all)
    if (x != 0) d.push_back(x);
  w.n = d.size();
  w.n_zero = w.n_pairs - w.n;
  if (w.n == 0) {
    w.reason = w.n_pairs == 0 ? "no pairs" : "every difference is 0";
    return w;
  }
  // Mid-ranks of |d|, and the tie term sum (t^3 - t) over groups of equal |d|.
  std::vector<std::size_t> order(w.n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t i, std::size_t j) { return std::fabs(d[i]) < std::fabs(d[j]); });
  std::vector<double> rank(w.n);
  double tie_term = 0;
  for (std::size_t i = 0; i < w.n;) {
    std::size_t j = i + 1;
    while (j < w.n && std::fabs(d[order[j]]) == std::fabs(d[order[i]])) ++j;
    const double mid = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // ranks i+1..j
    for (std::size_t k = i; k < j; ++k) rank[order[k]] = mid;
    const double t = static_cast<double>(j - i);
    if (j - i > 1) {
      w.ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  for (std::size_t i = 0; i < w.n; ++i) (d[i] > 0 ? w.r_plus : w.r_minus) += rank[i];
  w.statistic = std::min(w.r_plus, w.r_minus);
  const double n = static_cast<double>(w.n);
  w.exact = w.n <= kWilcoxonExactMaxN && !w.ties;
  if (w.exact) {
    const std::vector<double> pmf = signed_rank_distribution(w.n);
    const auto r = static_cast<std::size_t>(w.r_plus);  // an integer: untied ranks
    if (r == (pmf.size() - 1) / 2) {
      w.p = 1.0;  // r at the centre: P(R+ <= r) >= 1/2 and P(R+ >= r) >= 1/2 (SciPy's rule)
    } else {
      double below = 0, above = 0;
      for (std::size_t k = 0; k < pmf.size(); ++k) (k <= r ? below : above) += pmf[k];
      above += pmf[r];  // P(R+ >= r) includes r itself
      w.p = std::min(1.0, 2 * std::min(below, above));
    }
    return w;
  }
  const double mu = n * (n + 1) / 4;
  const double sigma = std::sqrt((n * (n + 1) * (2 * n + 1) - tie_term / 2) / 24);
  const double diff = w.statistic - mu;
  const double z = (diff - 0.5 * ((diff > 0) - (diff < 0))) / sigma;
  w.z = z;
  const boost::math::normal norm;
  w.p = std::min(1.0, 2 * boost::math::cdf(boost::math::complement(norm, std::fabs(z))));
  return w;
}

std::vector<double> holm(const std::vector<double>& p) {
  for (double x : p)
    if (!(x >= 0 && x <= 1))
      throw std::invalid_argument("holm: p-value " + std::to_string(x) + " not in [0, 1]");
  const std::size_t m = p.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return p[i] < p[j]; });
  std::vector<double> adj(m);
  double running = 0;
  for (std::size_t k = 0; k < m; ++k) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - k) * p[order[k]]));
    adj[order[k]] = running;
  }
  return adj;
}

}  // namespace merx::stats

// K-means for au_gan (methods.md §6 step 2): k-means++ seeding and Lloyd iterations on AU vectors.
// Header-only and torch-free so tests/augmenters can check it against scikit-learn directly. Not SDK.
//
// Data: n points of `dim` doubles, row-major [n, dim] (AU intensities 0..5 in au_gan). Centres [k, dim].
//   - kmeanspp_init: Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding", in
//     scikit-learn's greedy form (sklearn.cluster.kmeans_plusplus): the first centre uniformly, then each
//     next one the best (lowest total squared distance) of 2 + floor(ln k) candidates drawn with probability
//     proportional to the squared distance to the nearest centre so far. The random numbers come from the
//     given std::mt19937_64, so the centres differ from scikit-learn's (a different generator); the tests
//     compare lloyd() from the same initial centres.
//   - lloyd: Lloyd (1982) iterations until the assignments stop changing (scikit-learn's "strict
//     convergence", i.e. KMeans(init=centres, n_init=1, algorithm="lloyd", tol=0)) or max_iter. Ties go to
//     the lowest centre index (numpy argmin). An empty cluster takes the point farthest from its own centre
//     (scikit-learn relocates empty clusters the same way).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace merx::au_gan {

struct KMeansResult {
  size_t k = 0, dim = 0;
  std::vector<double> centres;  // [k, dim]
  std::vector<int> labels;      // [n] centre index of each point
  std::vector<int64_t> sizes;   // [k] points per centre
  int iterations = 0;           // Lloyd iterations run
  double inertia = 0;           // sum of squared distances to the assigned centre
};

inline double sq_dist(const double* a, const double* b, size_t dim) {
  double s = 0;
  for (size_t j = 0; j < dim; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

/// k-means++ initial centres [k, dim]. std::invalid_argument when k = 0, k > n or x.size() != n * dim.
inline std::vector<double> kmeanspp_init(const std::vector<double>& x, size_t n, size_t dim, size_t k,
                                         std::mt19937_64& rng) {
  if (x.size() != n * dim) throw std::invalid_argument("kmeans: data is not [n, dim]");
  if (k == 0 || k > n) throw std::invalid_argument("kmeans: need 1 <= k <= n");
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> centres;
  centres.reserve(k * dim);
  const size_t first = std::min(n - 1, static_cast<size_t>(unit(rng) * static_cast<double>(n)));
  centres.insert(centres.end(), x.begin() + first * dim, x.begin() + (first + 1) * dim);
  std::vector<double> closest(n);
  for (size_t i = 0; i < n; ++i) closest[i] = sq_dist(&x[i * dim], &x[first * dim], dim);
  const size_t trials = 2 + static_cast<size_t>(std::log(static_cast<double>(k)));
  for (size_t c = 1; c < k; ++c) {
    double total = 0;
    for (double d : closest) total += d;
    size_t best = 0;
    double best_pot = std::numeric_limits<double>::infinity();
    std::vector<double> best_closest;
    for (size_t t = 0; t < trials; ++t) {
      size_t cand = n - 1;
      if (total > 0) {  // draw proportional to the squared distance (the last point absorbs rounding)
        double r = unit(rng) * total, acc = 0;
        for (size_t i = 0; i < n; ++i) {
          acc += closest[i];
          if (r < acc) {
            cand = i;
            break;
          }
        }
      } else {  // every point sits on a centre already: any point
        cand = std::min(n - 1, static_cast<size_t>(unit(rng) * static_cast<double>(n)));
      }
      std::vector<double> cl(n);
      double pot = 0;
      for (size_t i = 0; i < n; ++i) {
        cl[i] = std::min(closest[i], sq_dist(&x[i * dim], &x[cand * dim], dim));
        pot += cl[i];
      }
      if (pot < best_pot) {
        best_pot = pot;
        best = cand;
        best_closest = std::move(cl);
      }
    }
    centres.insert(centres.end(), x.begin() + best * dim, x.begin() + (best + 1) * dim);
    closest = std::move(best_closest);
  }
  return centres;
}

/// Lloyd iterations from `centres` [k, dim] (see the top of the file).
inline KMeansResult lloyd(const std::vector<double>& x, size_t n, size_t dim, std::vector<double> centres,
                          int max_iter = 300) {
  if (x.size() != n * dim || dim == 0 || centres.empty() || centres.size() % dim != 0)
    throw std::invalid_argument("kmeans: data is not [n, dim] or centres are not [k, dim]");
  KMeansResult r;
  r.k = centres.size() / dim;
  r.dim = dim;
  r.centres = std::move(centres);
  r.labels.assign(n, -1);
  auto assign = [&](std::vector<int>& labels, std::vector<double>& dist) {
    for (size_t i = 0; i < n; ++i) {
      int best = 0;
      double bd = std::numeric_limits<double>::infinity();
      for (size_t c = 0; c < r.k; ++c) {
        const double d = sq_dist(&x[i * dim], &r.centres[c * dim], dim);
        if (d < bd) {
          bd = d;
          best = static_cast<int>(c);
        }
      }
      labels[i] = best;
      dist[i] = bd;
    }
  };
  std::vector<int> labels(n);
  std::vector<double> dist(n);
  for (r.iterations = 0; r.iterations < max_iter;) {
    assign(labels, dist);
    if (labels == r.labels) break;  // strict convergence: centres are already these labels' means
    r.labels = labels;
    ++r.iterations;
    std::vector<double> sum(r.k * dim, 0.0);
    std::vector<int64_t> count(r.k, 0);
    for (size_t i = 0; i < n; ++i) {
      ++count[static_cast<size_t>(labels[i])];
      for (size_t j = 0; j < dim; ++j) sum[static_cast<size_t>(labels[i]) * dim + j] += x[i * dim + j];
    }
    std::vector<bool> taken(n, false);
    for (size_t c = 0; c < r.k; ++c) {
      if (count[c] > 0) {
        for (size_t j = 0; j < dim; ++j)
          r.centres[c * dim + j] = sum[c * dim + j] / static_cast<double>(count[c]);
        continue;
      }
      size_t far = 0;  // empty cluster: the point farthest from its centre
      double fd = -1;
      for (size_t i = 0; i < n; ++i)
        if (!taken[i] && dist[i] > fd) {
          fd = dist[i];
          far = i;
        }
      taken[far] = true;
      std::copy(x.begin() + far * dim, x.begin() + (far + 1) * dim, r.centres.begin() + c * dim);
    }
  }
  assign(r.labels, dist);
  r.sizes.assign(r.k, 0);
  r.inertia = 0;
  for (size_t i = 0; i < n; ++i) {
    ++r.sizes[static_cast<size_t>(r.labels[i])];
    r.inertia += dist[i];
  }
  return r;
}

/// k-means++ then Lloyd with k' = min(k, n) (methods.md §6). std::invalid_argument for n = 0 or k = 0.
inline KMeansResult kmeans(const std::vector<double>& x, size_t n, size_t dim, size_t k, uint64_t seed) {
  if (n == 0 || k == 0) throw std::invalid_argument("kmeans: no points or k = 0");
  std::mt19937_64 rng(seed);
  const size_t kk = std::min(k, n);
  return lloyd(x, n, dim, kmeanspp_init(x, n, dim, kk, rng));
}

}  // namespace merx::au_gan

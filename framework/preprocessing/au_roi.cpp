// flow_roi AU estimator (merx/preprocessing/au_roi.h).
#include "merx/preprocessing/au_roi.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace merx::prep {
namespace {

// AU -> landmarks (0-based, iBUG 68: jaw 0-16, right brow 17-21, left brow 22-26, nose 27-35, right eye
// 36-41, left eye 42-47, outer lip 48-59, inner lip 60-67). merx's choice, after the FACS descriptions of
// where each AU moves the face.
const std::map<int, std::vector<int>>& regions() {
  static const std::map<int, std::vector<int>> r = {
      {1, {20, 21, 22, 23}},           // inner brow raiser: inner brow ends
      {2, {17, 18, 19, 24, 25, 26}},   // outer brow raiser: outer brows
      {4, {20, 21, 22, 23, 27}},       // brow lowerer: inner brows and glabella
      {5, {37, 38, 43, 44}},           // upper lid raiser: upper lids
      {6, {1, 2, 41, 15, 14, 46}},     // cheek raiser: cheeks under the eyes
      {7, {40, 41, 46, 47}},           // lid tightener: lower lids
      {9, {27, 28, 29, 31, 35}},       // nose wrinkler: nose bridge and wings
      {10, {50, 51, 52, 61, 62, 63}},  // upper lip raiser: upper lip
      {12, {48, 54}},                  // lip corner puller: lip corners
      {14, {48, 54, 4, 12}},           // dimpler: lip corners and beside them
      {15, {48, 54, 55, 59}},          // lip corner depressor: corners and lower lip sides
      {17, {7, 8, 9, 56, 57, 58}},     // chin raiser: chin and lower lip
  };
  return r;
}

}  // namespace

const std::vector<int>& flow_roi_aus() {
  static const std::vector<int> ids = [] {
    std::vector<int> v;
    for (const auto& [au, pts] : regions()) v.push_back(au);
    return v;
  }();
  return ids;
}

std::vector<float> flow_roi_magnitudes(const float* u, const float* v, int size,
                                       const std::vector<cv::Point2f>& landmarks, int crop_size,
                                       const std::vector<int>& au_ids) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> out(au_ids.size(), nan);
  if (landmarks.size() != 68 || size < 1 || crop_size < 1) return out;
  const double s = static_cast<double>(size) / crop_size;
  cv::Point2d re(0, 0), le(0, 0);
  for (int i = 36; i < 42; ++i) re += cv::Point2d(landmarks[i]) / 6.0;
  for (int i = 42; i < 48; ++i) le += cv::Point2d(landmarks[i]) / 6.0;
  const double r = std::max(1.0, 0.25 * std::hypot(re.x - le.x, re.y - le.y) * s);
  for (size_t a = 0; a < au_ids.size(); ++a) {
    const auto it = regions().find(au_ids[a]);
    if (it == regions().end()) continue;
    double sum = 0;
    int64_t n = 0;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        bool inside = false;
        for (int p : it->second) {
          const double dx = x + 0.5 - landmarks[p].x * s, dy = y + 0.5 - landmarks[p].y * s;
          if (dx * dx + dy * dy <= r * r) {
            inside = true;
            break;
          }
        }
        if (!inside) continue;
        const size_t i = static_cast<size_t>(y) * size + x;
        sum += std::hypot(static_cast<double>(u[i]), static_cast<double>(v[i]));
        ++n;
      }
    if (n > 0) out[a] = static_cast<float>(sum / n);  // a region wholly outside the grid stays NaN
  }
  return out;
}

double scale_flow_roi(std::vector<std::vector<float>>& rows) {
  std::vector<float> all;
  for (const auto& row : rows)
    for (float m : row)
      if (std::isfinite(m)) all.push_back(m);
  double q = 0;
  if (!all.empty()) {
    // 95th percentile, linear interpolation between order statistics (numpy's default).
    std::sort(all.begin(), all.end());
    const double pos = 0.95 * static_cast<double>(all.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, all.size() - 1);
    q = all[lo] + (pos - static_cast<double>(lo)) * (all[hi] - all[lo]);
  }
  for (auto& row : rows)
    for (float& m : row)
      if (std::isfinite(m)) m = q > 0 ? static_cast<float>(std::min(5.0, 5.0 * m / q)) : 0.0f;
  return q;
}

}  // namespace merx::prep

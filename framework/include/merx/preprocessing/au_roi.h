// The `flow_roi` AU estimator (methods.md §6 step 1, au_gan's au_source "flow_roi"): per AU, the mean
// optical- flow magnitude in that AU's landmark region, from the flow channels of a recipe's tensor and the
// onset landmarks preprocessing stores with it (PrepResult::landmarks, 68-point iBUG scheme, pixels of the F
// x F aligned crop). merx's own estimator, not a validated AU detector: it measures motion where an AU moves
// the face, so it tracks AU activity and confuses AUs that share a region (12 and 14, 15 and 17 partly).
//
// Region of an AU = the union of discs of radius r = max(1, 0.25 * d_eyes) pixels of the S x S grid around
// its landmarks (table in au_roi.cpp; 0-based iBUG indices), d_eyes = distance between the eye centres
// (means of points 36-41 and 42-47) scaled by S / F. Magnitude = sqrt(u^2 + v^2) in the tensor's units
// (pixels of the S x S grid for normalisation `none`).
//
// Scaling to 0..5 (scale_flow_roi): a = min(5, 5 * m / q), q = the 95th percentile of every finite
// magnitude of the given rows. The engine passes the rows a training run fits the augmenter on (the cell's
// training samples minus its validation split, engine/trainer.cpp), so the scale never looks at test or
// validation clips.
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core/types.hpp>

namespace merx::prep {

/// FACS numbers with a region: 1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17 (the 12-AU cross set).
const std::vector<int>& flow_roi_aus();

/// Mean flow magnitude per AU of `au_ids` over u, v [S, S] (row-major, channel planes of the tensor), with
/// `landmarks` in pixels of the F x F crop (crop_size = F). All NaN when there are not 68 landmarks; NaN for
/// an AU without a region. Returns [au_ids.size()] (pixels of the S x S grid per the tensor's units).
std::vector<float> flow_roi_magnitudes(const float* u, const float* v, int size,
                                       const std::vector<cv::Point2f>& landmarks, int crop_size,
                                       const std::vector<int>& au_ids);

/// Scales rows of magnitudes [N][A] in place to 0..5 (see the top of the file); NaN stays NaN. Returns q
/// (0 when no finite magnitude; then every finite value becomes 0).
double scale_flow_roi(std::vector<std::vector<float>>& rows);

}  // namespace merx::prep

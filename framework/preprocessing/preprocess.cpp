// The recipe pipeline: decode -> align (one transform per clip) -> flow -> strain -> resize -> normalise.
#include "merx/preprocessing/preprocess.h"

#include <cmath>
#include <memory>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "merx/preprocessing/stages.h"

namespace merx::prep {

Preprocessor::Preprocessor(RecipeConfig config, FaceModels models)
    : config_(std::move(config)), models_(std::move(models)) {
  config_.channels();            // throws for an unknown recipe
  FlowEstimator check(config_);  // throws for an unknown flow method
  cv::Mat probe(1, 1, CV_32FC1, 0.0f);
  normalise(probe, config_.normalisation);  // throws for an unknown normalisation
}

namespace {

// One flow object per thread and configuration, reused across samples (DualTVL1 allocation is not free).
FlowEstimator& thread_flow(const RecipeConfig& c) {
  thread_local std::string key;
  thread_local std::unique_ptr<FlowEstimator> flow;
  std::string k = c.flow + c.tvl1.to_json().dump() + c.farneback.to_json().dump();
  if (!flow || k != key) {
    flow = std::make_unique<FlowEstimator>(c);
    key = std::move(k);
  }
  return *flow;
}

}  // namespace

PrepResult Preprocessor::run_image(const cv::Mat& image, const std::string& what) const {
  if (image.empty()) throw PrepError(what + ": cannot be read as an image");
  if (image.depth() != CV_8U || image.channels() != 3)
    throw PrepError(what + ": has " + std::to_string(image.channels()) + " channel(s) of " +
                    (image.depth() == CV_8U    ? "8"
                     : image.depth() == CV_16U ? "16"
                                               : "non-8") +
                    " bits; expected 3 channels (u, v, strain) of 8 bits");
  const int S = config_.size;
  PrepResult r;
  r.channels = 3;
  r.size = S;
  r.note = "precomputed flow image";
  r.data.assign(static_cast<size_t>(3) * S * S, 0.0f);
  cv::Mat bgr[3];
  cv::split(image, bgr);  // OpenCV decodes into B, G, R order: bgr[0] is the PNG's blue samples
  // u, v, strain in the PNG's R, G, B (rgb) or B, G, R (bgr) channels.
  const int from[3] = {config_.channel_order == "rgb" ? 2 : 0, 1, config_.channel_order == "rgb" ? 0 : 2};
  const bool signed_scale = config_.scale == "signed";
  for (int c = 0; c < 3; ++c) {
    cv::Mat f, sized;
    // Affine byte -> float map first, then area averaging: the two commute, and no rounding to bytes.
    bgr[from[c]].convertTo(f, CV_32F, signed_scale ? 1.0 / 127.5 : 1.0 / 255.0, signed_scale ? -1.0 : 0.0);
    if (f.rows == S && f.cols == S)
      sized = f;
    else
      cv::resize(f, sized, cv::Size(S, S), 0, 0, cv::INTER_AREA);
    cv::Mat dst = r.channel(c);
    sized.copyTo(dst);
    normalise(dst, config_.normalisation);
  }
  for (float v : r.data)
    if (!std::isfinite(v)) throw PrepError(what + ": non-finite value in the output tensor");
  return r;
}

PrepResult Preprocessor::run_frames(const std::vector<cv::Mat>& frames, size_t apex_index, bool apex_missing,
                                    bool face_cropped) const {
  if (frames.empty()) throw PrepError("the clip has no frames");
  const int F = config_.flow_size, S = config_.size;
  PrepResult r;
  r.channels = config_.channels();
  r.size = S;
  r.onset_index = 0;

  // ---- alignment on the onset frame: one transform for the whole clip ----
  const cv::Mat& onset = frames[0];
  const cv::Mat onset_u8 = to_gray_u8(onset);
  cv::Mat M;
  std::vector<cv::Point2f> points;
  if (face_cropped) {
    M = centre_square(onset.size(), F);
    try {
      points = fit_landmarks(onset_u8, cv::Rect(0, 0, onset.cols, onset.rows), models_);
    } catch (const std::runtime_error&) {
      points.clear();  // no model: cropped corpora still get their tensor, without landmarks
      r.note = "landmark model unavailable";
    }
  } else {
    const auto det = detect_face(onset_u8, config_.detector, models_);
    if (det) {
      points = det->points;
      const auto [l, rr] = eye_centres(points);
      M = eye_alignment(l, rr, F, config_.eye_distance, config_.eye_height);
    } else {
      M = centre_square(onset.size(), F);
      r.face_fallback = true;
      r.note = "no face found: centre crop";
    }
  }
  if (!points.empty()) cv::transform(points, r.landmarks, M);

  auto crop = [&](size_t k) { return warp_crop(frames[k], M, F); };
  const cv::Mat onset_crop = crop(0);

  // ---- apex ----
  if (apex_missing) {
    r.apex_estimated = true;
    r.apex_index = 0;
    double best = -1;
    FlowEstimator& flow = thread_flow(config_);
    for (size_t k = 1; k < frames.size(); ++k) {
      const double m = mean_flow_magnitude(flow.compute(onset_crop, crop(k)));
      if (m > best) {  // first maximum wins
        best = m;
        r.apex_index = k;
      }
    }
  } else {
    if (apex_index >= frames.size()) throw PrepError("apex index beyond the clip's frames");
    r.apex_index = apex_index;
  }
  const cv::Mat apex_crop = r.apex_index == 0 ? onset_crop : crop(r.apex_index);

  // ---- channels ----
  r.data.assign(static_cast<size_t>(r.channels) * S * S, 0.0f);
  std::vector<cv::Mat> out;
  if (config_.uses_flow()) {
    if (r.apex_index == r.onset_index) {
      r.zero_flow = true;  // exact zeros, never NaN (normalisation of zeros stays zeros)
      r.note += std::string(r.note.empty() ? "" : "; ") + "onset = apex: zero flow";
    } else {
      const cv::Mat flow = thread_flow(config_).compute(onset_crop, apex_crop);
      cv::Mat uv[2];
      cv::split(flow, uv);
      const double scale = static_cast<double>(S) / F;
      out.push_back(resize_map(uv[0], S, scale));
      out.push_back(resize_map(uv[1], S, scale));
      if (config_.recipe == "flow_strain") out.push_back(resize_map(optical_strain(flow), S));
    }
  } else if (config_.recipe == "apex_gray") {
    out.push_back(resize_map(apex_crop, S));
  } else {  // onset_apex
    out.push_back(resize_map(onset_crop, S));
    out.push_back(resize_map(apex_crop, S));
  }
  for (size_t c = 0; c < out.size(); ++c) {
    cv::Mat dst = r.channel(static_cast<int>(c));
    out[c].copyTo(dst);
    normalise(dst, config_.normalisation);
  }
  for (float v : r.data)
    if (!std::isfinite(v)) throw PrepError("non-finite value in the output tensor");
  return r;
}

PrepResult Preprocessor::run(const SampleRecord& sample) const {
  if (config_.precomputed() != !sample.input_image.empty())  // the spec validator refuses such a pair
    throw PrepError(sample.key + (config_.precomputed()
                                      ? ": recipe flow_images needs a precomputed flow image (adapter "
                                        "flow_images); this sample has frames"
                                      : ": is a precomputed flow image (adapter flow_images); recipe " +
                                            config_.recipe + " needs frames (use the recipe flow_images)"));
  if (config_.precomputed()) {
    const auto& file = sample.input_image;
    return run_image(cv::imread(file.string(), cv::IMREAD_UNCHANGED),
                     sample.key + ": flow image " + file.string());
  }
  if (sample.frames.empty()) throw PrepError(sample.key + ": the clip has no frames");
  size_t apex = 0;
  const bool missing = sample.apex_missing || !sample.apex_index;
  if (!missing) apex = *sample.apex_index - sample.onset_index;
  std::vector<cv::Mat> frames;
  try {
    if (missing) {
      for (size_t k = sample.onset_index; k < sample.frames.size(); ++k)
        frames.push_back(read_gray(sample.frames[k]));
    } else {
      // Only the two frames the recipe needs; the others stay placeholders (never read).
      frames.resize(apex + 1);
      frames[0] = read_gray(sample.frames[sample.onset_index]);
      if (apex > 0) frames[apex] = read_gray(sample.frames[*sample.apex_index]);
    }
  } catch (const std::runtime_error& e) {
    throw PrepError(sample.key + ": " + e.what());
  }
  PrepResult r = run_frames(frames, apex, missing, sample.face_cropped);
  r.onset_index += sample.onset_index;
  r.apex_index += sample.onset_index;
  return r;
}

}  // namespace merx::prep
